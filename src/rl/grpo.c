/* GRPO: rollouts, rewards, advantages and the policy update (include/tinyr1/grpo.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "tinyr1/cost.h"
#include "tinyr1/grpo.h"

/* ---- prompts --------------------------------------------------------------------------- */

int tr_grpo_source_init(tr_grpo_source *s, const char *tasks, uint64_t seed, int difficulty,
                        const char *lang, tr_err *err) {
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->difficulty = difficulty;
    snprintf(s->lang, sizeof s->lang, "%s", lang ? lang : "en");
    if (!tasks || !*tasks) return tr_fail(err, "grpo: no task given; expected e.g. \"add\"");
    const char *p = tasks;
    while (*p) {
        size_t n = strcspn(p, ",");
        char name[32];
        if (n == 0 || n >= sizeof name) return tr_fail(err, "grpo: bad task list \"%s\"", tasks);
        memcpy(name, p, n);
        name[n] = '\0';
        const tr_task *t = tr_task_find(name);
        if (!t) return tr_fail(err, "grpo: unknown task \"%s\"", name);
        if (!tr_task_can_generate(t))
            return tr_fail(err,
                           "grpo: task \"%s\" has no generator; expected add, mul, "
                           "countdown or wordprob",
                           name);
        if (!tr_task_has_lang(t, s->lang))
            return tr_fail(err, "grpo: task \"%s\" has no problems in language \"%s\"", name,
                           s->lang);
        if (s->n_tasks == TR_GRPO_MAX_TASKS)
            return tr_fail(err, "grpo: more than %d tasks", TR_GRPO_MAX_TASKS);
        s->tasks[s->n_tasks++] = t;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

int tr_grpo_source_get(const tr_grpo_source *s, uint64_t c, tr_problem *out, const tr_task **task,
                       tr_err *err) {
    const tr_task *t = s->tasks[c % (uint64_t)s->n_tasks];
    tr_task_params tp = tr_task_default_params();
    tp.difficulty = s->difficulty;
    tp.lang = s->lang;
    *task = t;
    uint64_t i = c / (uint64_t)s->n_tasks;
    if (s->pool > 0) i %= s->pool;
    return tr_task_generate(t, s->seed, (int64_t)i, &tp, out, err);
}

/* ---- configuration ----------------------------------------------------------------------- */

tr_grpo_config tr_grpo_default_config(void) {
    tr_grpo_config c;
    memset(&c, 0, sizeof c);
    c.group = 8;
    c.prompts_per_step = 8;
    c.max_new = 128;
    c.temperature = 1.0f;
    c.tpl = TR_TEMPLATE_R1ZERO;
    c.mu = 1;
    c.minibatches = 1;
    c.micro_batch = 16;
    c.loss = tr_grpo_default_params();
    c.adv_scale = TR_ADV_SCALE_GROUP;
    c.adv_eps = 1e-4;
    c.seed = 1;
    c.dist = tr_dist_single();
    tr_err err;
    tr_reward_spec_parse(&c.rewards, "accuracy:1,format:0.5", &err);
    return c;
}

tr_grpo_eval_params tr_grpo_eval_default_params(void) {
    tr_grpo_eval_params p = {
        .k = 4, .temperature = 0.6f, .top_p = 0.95f, .max_new = 0, .seed = 12345};
    return p;
}

uint64_t tr_grpo_sample_seed(uint64_t seed, int64_t step, int p, int j) {
    /* splitmix64 finaliser over the four numbers, chained */
    uint64_t v[4] = {seed, (uint64_t)step, (uint64_t)(uint32_t)p, (uint64_t)(uint32_t)j};
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 4; i++) {
        h ^= v[i] + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
        h ^= h >> 30;
        h *= 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 27;
        h *= 0x94D049BB133111EBULL;
        h ^= h >> 31;
    }
    return h;
}

int tr_grpo_init(tr_grpo *g, tr_model *policy, const tr_model *ref, const tr_tokenizer *tok,
                 const tr_grpo_config *cfg, tr_adamw_params opt, tr_adamw *restored,
                 tr_lr_schedule schedule, float grad_clip, int max_seq, tr_err *err) {
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    const tr_grpo_config *c = cfg;
    if (c->group < 2) return tr_fail(err, "grpo: group size %d; expected >= 2", c->group);
    if (c->prompts_per_step < 1 || c->max_new < 1 || c->mu < 1 || c->micro_batch < 1)
        return tr_fail(err, "grpo: prompts per step, max new tokens, mu and micro-batch must "
                            "be positive");
    if (c->minibatches < 1 || c->prompts_per_step % c->minibatches != 0)
        return tr_fail(err, "grpo: %d mini-batches do not divide %d prompts per step",
                       c->minibatches, c->prompts_per_step);
    if (!(c->temperature > 0) || !isfinite(c->temperature))
        return tr_fail(err, "grpo: temperature %g; expected > 0 (the loss divides by it)",
                       (double)c->temperature);
    if (c->loss.beta > 0 && !ref)
        return tr_fail(err, "grpo: beta %g > 0 needs a reference model", c->loss.beta);
    if (c->rewards.n < 1) return tr_fail(err, "grpo: no reward");
    if (!tok) return tr_fail(err, "grpo: a tokenizer is required");
    if (ref && (ref->cfg.vocab != policy->cfg.vocab))
        return tr_fail(err,
                       "grpo: the reference model's vocabulary (%d) differs from the "
                       "policy's (%d)",
                       ref->cfg.vocab, policy->cfg.vocab);
    g->ref = ref;
    g->tok = tok;
    if (max_seq <= 0 || max_seq > policy->cfg.max_seq) max_seq = policy->cfg.max_seq;
    int32_t eos = tr_tokenizer_eos(tok), im_end = tr_tokenizer_token_id(tok, "<|im_end|>");
    if (c->tpl == TR_TEMPLATE_CHAT && im_end >= 0) g->stop_tokens[g->n_stop++] = im_end;
    if (eos >= 0) g->stop_tokens[g->n_stop++] = eos;
    if (g->n_stop == 0)
        return tr_fail(err, "grpo: the tokenizer has no end-of-sequence token to stop on");
    g->pad = eos >= 0 ? eos : 0;
    if (c->dist.world < 1 || c->dist.rank < 0 || c->dist.rank >= c->dist.world)
        return tr_fail(err, "grpo: rank %d of %d processes", c->dist.rank, c->dist.world);
    if (c->prompts_per_step % (c->minibatches * c->dist.world) != 0)
        return tr_fail(err,
                       "grpo: %d prompts per step must be a multiple of %d mini-batches x %d "
                       "processes (a group never spans processes)",
                       c->prompts_per_step, c->minibatches, c->dist.world);
    int slots = c->prompts_per_step / c->dist.world * c->group;
    if (tr_infer_init(&g->infer, policy, slots, max_seq, err) != 0) return -1;
    if (tr_trainer_init(&g->trainer, policy, opt, restored, schedule, grad_clip, c->micro_batch,
                        max_seq, c->dist, err) != 0 ||
        (c->logits_chunk > 0 &&
         tr_trainer_set_logits_chunk(&g->trainer, c->logits_chunk, err) != 0)) {
        tr_trainer_free(&g->trainer);
        tr_infer_free(g->infer);
        g->infer = NULL;
        return -1;
    }
    return 0;
}

void tr_grpo_free(tr_grpo *g) {
    tr_infer_free(g->infer);
    tr_trainer_free(&g->trainer);
    memset(g, 0, sizeof *g);
}

/* ---- the objective ----------------------------------------------------------------------
 * Per-position arrays live next to the micro-batches; a mini-batch is a run of
 * micro-batches [first, first + count) with its own normalisers. */
typedef struct {
    tr_batch *micro;
    float **adv, **old, **ref; /* per micro-batch, [B*T] each */
    tr_grpo_params params;     /* with this mini-batch's normalisers */
    int first;
    tr_grpo_stats stats; /* merged over every call */
} grpo_obj_ctx;

static int grpo_obj_fn(void *vctx, float *logits, int64_t r0, int64_t n, int V, const tr_batch *b,
                       int micro, double norm, tr_objective_out *out, tr_err *err) {
    (void)norm;
    grpo_obj_ctx *c = vctx;
    int i = c->first + micro;
    tr_grpo_stats s;
    if (tr_grpo_loss_rows(logits, &out->loss, &s, logits, r0, n, b->targets, b->weights, c->adv[i],
                          c->old[i], c->ref ? c->ref[i] : NULL, b->B, b->T, V, &c->params,
                          err) != 0)
        return -1;
    tr_grpo_stats_merge(&c->stats, &s);
    return 0;
}

/* The trainer's normaliser (used for its "no weighted token" check and the step's weight):
 * the number of completion tokens. */
static double grpo_obj_norm(void *vctx, const tr_batch *micro, int n_micro) {
    (void)vctx;
    double s = 0;
    for (int i = 0; i < n_micro; i++) s += tr_batch_weight_sum(&micro[i]);
    return s;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* Decodes a completion without the end token that stopped it. Ids the tokenizer does not
 * have (a model's padding rows) are dropped: such a sample is scored on the rest. */
static char *decode_completion(const tr_grpo *g, const tr_gen_result *r, tr_err *err) {
    int n = r->n;
    if (r->stop == TR_STOP_TOKEN && n > 0) n--;
    int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
    if (!ids) {
        tr_fail(err, "grpo: out of memory decoding a completion");
        return NULL;
    }
    int32_t V = tr_tokenizer_vocab_size(g->tok);
    size_t m = 0;
    for (int i = 0; i < n; i++)
        if (r->tokens[i] >= 0 && r->tokens[i] < V) ids[m++] = r->tokens[i];
    char *text = NULL;
    size_t len;
    int rc = tr_tokenizer_decode(g->tok, ids, m, 0, &text, &len, err);
    free(ids);
    return rc == 0 ? text : NULL;
}

static void mean_std(const double *x, int n, double *mean, double *std) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n > 0 ? n : 1;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = n > 1 ? sqrt(v / (n - 1)) : 0;
}

/* Encoded prompts of a set of problems. */
static int encode_prompts(const tr_grpo *g, const tr_problem *probs, int n, tr_template_out *outs,
                          tr_err *err) {
    int max_seq = tr_infer_max_seq(g->infer);
    for (int i = 0; i < n; i++) {
        if (tr_template_encode(g->tok, g->cfg.tpl, g->cfg.system, probs[i].prompt, NULL, &outs[i],
                               err) != 0)
            return -1;
        if ((int)outs[i].ids.n + 1 >= max_seq)
            return tr_fail(err,
                           "grpo: prompt of %zu tokens leaves no room to generate within "
                           "%d positions",
                           outs[i].ids.n, max_seq);
    }
    return 0;
}

/* ---- sharding across ranks -------------------------------------------------------------
 * With W ranks, each mini-batch's Pm = P / M prompts are split into W runs of Pr = Pm / W
 * whole groups: rank R holds prompts mb Pm + R Pr + q (q < Pr) of every mini-batch mb, in
 * that order (its "local" prompts lp = mb Pr + q). Rollouts are seeded by the GLOBAL prompt
 * index, so a group's samples do not depend on which rank draws them. */
static int global_prompt(const tr_grpo *g, int lp) {
    const int P = g->cfg.prompts_per_step, W = g->cfg.dist.world;
    const int Pm = P / g->cfg.minibatches, Pr = Pm / W;
    return (lp / Pr) * Pm + g->cfg.dist.rank * Pr + lp % Pr;
}

/* What every sample contributes to the step's statistics: gathered from all ranks so that
 * batch-level figures (and batch-scaled advantages) are those of one process. */
typedef struct {
    double total, comp[TR_MAX_REWARDS];
    double correct, truncated, length, seq_len;
} sample_rec;

/* Gathers each rank's records (local order) onto every rank in global sample order. */
static int gather_records(const tr_grpo *g, const sample_rec *local, int n_local, sample_rec *all,
                          tr_err *err) {
    const tr_dist *d = &g->cfg.dist;
    const int G = g->cfg.group, P = g->cfg.prompts_per_step, W = d->world;
    const int Pm = P / g->cfg.minibatches, Pr = Pm / W;
    void *buf = NULL;
    size_t bytes = 0;
    if (tr_dist_gatherv(d, local, (size_t)n_local * sizeof *local, &buf, &bytes, NULL, err) != 0)
        return -1;
    if (d->rank == 0) {
        if (bytes != (size_t)P * G * sizeof *local) {
            free(buf);
            return tr_fail(err, "grpo: gathered %zu bytes of rollout records, expected %zu", bytes,
                           (size_t)P * G * sizeof *local);
        }
        const sample_rec *rec = buf;
        for (int r = 0; r < W; r++)
            for (int lp = 0; lp < P / W; lp++) {
                int gp = (lp / Pr) * Pm + r * Pr + lp % Pr;
                memcpy(all + (size_t)gp * G, rec + ((size_t)r * (P / W) + lp) * G,
                       (size_t)G * sizeof *rec);
            }
    }
    free(buf);
    return tr_dist_broadcast(d, all, (size_t)P * G * sizeof *all, err);
}

/* Sums a set of doubles over the ranks (statistics that are plain sums). */
static int sum_stats(const tr_grpo *g, tr_grpo_stats *st, tr_err *err) {
    double v[6] = {st->tokens,       st->kl_sum,        st->ratio_sum,
                   st->clip_low_sum, st->clip_high_sum, st->entropy_sum};
    if (tr_dist_allreduce_sum_f64(&g->cfg.dist, v, 6, err) != 0) return -1;
    tr_grpo_stats sum = {.tokens = v[0],
                         .kl_sum = v[1],
                         .ratio_sum = v[2],
                         .clip_low_sum = v[3],
                         .clip_high_sum = v[4],
                         .entropy_sum = v[5]};
    memset(st, 0, sizeof *st);
    tr_grpo_stats_merge(st, &sum);
    return 0;
}

/* ---- one step ------------------------------------------------------------------------------- */

int tr_grpo_step(tr_grpo *g, const tr_grpo_source *src, tr_train_state *st, tr_grpo_step_stats *out,
                 tr_err *err) {
    const tr_grpo_config *c = &g->cfg;
    tr_model *m = g->trainer.model;
    const int W = c->dist.world;
    /* global P x G rollouts; this rank holds Pl prompts, Nl samples */
    const int P = c->prompts_per_step, G = c->group, N = P * G, V = m->cfg.vocab;
    const int Pl = P / W, Nl = Pl * G;
    const double T = c->temperature;
    memset(out, 0, sizeof *out);
    int rc = -1;
    tr_problem *probs = tr_calloc((size_t)Pl, sizeof *probs, err);
    const tr_task **tasks = tr_calloc((size_t)Pl, sizeof *tasks, err);
    tr_template_out *pro = tr_calloc((size_t)Pl, sizeof *pro, err);
    tr_gen_request *reqs = tr_calloc((size_t)Nl, sizeof *reqs, err);
    tr_gen_result *res = tr_calloc((size_t)Nl, sizeof *res, err);
    float *rewards = tr_calloc((size_t)N, sizeof *rewards, err);
    float *adv_all = tr_calloc((size_t)N, sizeof *adv_all, err);
    double *comp = tr_calloc((size_t)N * TR_MAX_REWARDS, sizeof *comp, err);
    double *totals = tr_calloc((size_t)N, sizeof *totals, err);
    sample_rec *mine = tr_calloc((size_t)Nl, sizeof *mine, err);
    sample_rec *all = tr_calloc((size_t)N, sizeof *all, err);
    tr_seq *seqs = tr_calloc((size_t)Nl, sizeof *seqs, err);
    int n_micro_max = Nl; /* upper bound */
    tr_batch *micro = tr_calloc((size_t)n_micro_max, sizeof *micro, err);
    float **adv = tr_calloc((size_t)n_micro_max, sizeof *adv, err);
    float **old = tr_calloc((size_t)n_micro_max, sizeof *old, err);
    float **ref = tr_calloc((size_t)n_micro_max, sizeof *ref, err);
    int *mb_first = tr_calloc((size_t)c->minibatches + 1, sizeof *mb_first, err);
    int n_micro = 0;
    if (!probs || !tasks || !pro || !reqs || !res || !rewards || !adv_all || !comp || !totals ||
        !mine || !all || !seqs || !micro || !adv || !old || !ref || !mb_first)
        goto done;

    /* 1. prompts (this rank's groups) */
    for (int p = 0; p < Pl; p++)
        if (tr_grpo_source_get(src, st->data_cursor + (uint64_t)global_prompt(g, p), &probs[p],
                               &tasks[p], err) != 0)
            goto done;
    if (encode_prompts(g, probs, Pl, pro, err) != 0) goto done;

    /* 2. rollouts */
    double t0 = tr_now();
    for (int p = 0; p < Pl; p++)
        for (int j = 0; j < G; j++) {
            tr_gen_request *r = &reqs[p * G + j];
            r->prompt = pro[p].ids.v;
            r->prompt_len = (int)pro[p].ids.n;
            r->seed = tr_grpo_sample_seed(c->seed, st->step, global_prompt(g, p), j);
        }
    tr_gen_params gp = tr_gen_default_params();
    gp.sampler.temperature = c->temperature;
    gp.max_new_tokens = c->max_new;
    for (int i = 0; i < g->n_stop; i++) gp.stop_tokens[i] = g->stop_tokens[i];
    gp.n_stop_tokens = g->n_stop;
    /* the context samples from its own packed copy of the weights: bring it up to the
     * policy the last step trained */
    if (tr_infer_sync(g->infer, err) != 0 ||
        tr_generate(g->infer, reqs, Nl, &gp, res, NULL, NULL, err) != 0)
        goto done;
    out->gen_seconds = tr_now() - t0;

    /* 3. rewards where the group lives; then every rank sees every sample's record */
    t0 = tr_now();
    for (int i = 0; i < Nl; i++) {
        int p = i / G;
        char *text = decode_completion(g, &res[i], err);
        if (!text) goto done;
        tr_reward_spec spec = c->rewards;
        if (spec.max_len <= 0) spec.max_len = c->max_new;
        tr_reward_input in = {tasks[p], &probs[p], text, res[i].n};
        tr_verdict v;
        mine[i].total = tr_rewards_compute(&spec, &in, mine[i].comp, &v);
        free(text);
        mine[i].correct = v.correct;
        mine[i].truncated = res[i].stop != TR_STOP_TOKEN;
        mine[i].length = res[i].n;
        mine[i].seq_len = (double)pro[p].ids.n + res[i].n;
        out->gen_flops += tr_flops_generate(&m->cfg, 1, (int64_t)pro[p].ids.n, res[i].n);
    }
    if (gather_records(g, mine, Nl, all, err) != 0) goto done;
    int n_correct = 0, n_trunc = 0, Tmax = 1;
    double len_sum = 0;
    for (int i = 0; i < N; i++) {
        totals[i] = all[i].total;
        rewards[i] = (float)totals[i];
        memcpy(comp + (size_t)i * TR_MAX_REWARDS, all[i].comp, sizeof all[i].comp);
        n_correct += all[i].correct != 0;
        n_trunc += all[i].truncated != 0;
        len_sum += all[i].length;
        out->gen_tokens += all[i].length;
        if ((int)all[i].seq_len - 1 > Tmax) Tmax = (int)all[i].seq_len - 1;
    }
    if (tr_grpo_advantages(adv_all, &out->zero_std_frac, rewards, P, G, c->adv_scale, c->adv_eps,
                           err) != 0)
        goto done;
    mean_std(totals, N, &out->reward_mean, &out->reward_std);
    for (int k = 0; k < c->rewards.n; k++) {
        double mk = 0, vk = 0;
        for (int i = 0; i < N; i++) mk += comp[(size_t)i * TR_MAX_REWARDS + k];
        mk /= N;
        for (int i = 0; i < N; i++) {
            double d = comp[(size_t)i * TR_MAX_REWARDS + k] - mk;
            vk += d * d;
        }
        out->comp_mean[k] = mk;
        out->comp_std[k] = N > 1 ? sqrt(vk / (N - 1)) : 0;
    }
    out->accuracy = (double)n_correct / N;
    out->truncated_frac = (double)n_trunc / N;
    out->length_mean = len_sum / N;
    out->reward_seconds = tr_now() - t0;

    /* 4. this rank's rollout batch: micro-batches within its part of each mini-batch, padded
     * to the longest sequence of the whole step (the same shapes as one process) */
    for (int i = 0; i < Nl; i++)
        seqs[i] = (tr_seq){pro[i / G].ids.v, (int64_t)pro[i / G].ids.n, res[i].tokens, res[i].n};
    const int per_mb = Nl / c->minibatches;
    for (int mb = 0; mb < c->minibatches; mb++) {
        mb_first[mb] = n_micro;
        for (int s0 = mb * per_mb; s0 < (mb + 1) * per_mb; s0 += c->micro_batch) {
            int B = (mb + 1) * per_mb - s0;
            if (B > c->micro_batch) B = c->micro_batch;
            tr_batch *b = &micro[n_micro];
            if (tr_batch_alloc(b, B, Tmax, err) != 0) goto done;
            size_t BT = (size_t)B * Tmax;
            adv[n_micro] = tr_calloc(BT, sizeof(float), err);
            old[n_micro] = tr_calloc(BT, sizeof(float), err);
            if (c->loss.beta > 0) ref[n_micro] = tr_calloc(BT, sizeof(float), err);
            n_micro++;
            if (!adv[n_micro - 1] || !old[n_micro - 1] || (c->loss.beta > 0 && !ref[n_micro - 1]))
                goto done;
            if (tr_batch_fill(b, seqs + s0, B, g->pad, TR_TRUNC_ERROR, NULL, err) != 0) goto done;
            for (int r = 0; r < B; r++) {
                int i = s0 + r;
                float a = adv_all[global_prompt(g, i / G) * G + i % G];
                int64_t P0 = (int64_t)pro[i / G].ids.n;
                int masked = c->mask_truncated && res[i].stop != TR_STOP_TOKEN;
                for (int t = 0; t < Tmax; t++) {
                    size_t n = (size_t)r * Tmax + t;
                    int64_t j = t - (P0 - 1); /* completion token index of the target */
                    if (masked) b->weights[n] = 0;
                    if (b->weights[n] > 0 && j >= 0 && j < res[i].n) {
                        adv[n_micro - 1][n] = a;
                        old[n_micro - 1][n] =
                            T == 1.0 ? res[i].logprobs_model[j] : res[i].logprobs[j];
                    }
                }
            }
        }
    }
    mb_first[c->minibatches] = n_micro;

    /* 5. reference log-probs (no gradient), with the trainer's activation arena */
    if (c->loss.beta > 0) {
        t0 = tr_now();
        for (int i = 0; i < n_micro; i++) {
            tr_batch *b = &micro[i];
            if (!tr_model_forward_hidden(g->ref, g->trainer.acts, b->tokens, b->B, b->T)) {
                tr_fail(err, "grpo: reference forward: batch %d x %d too large", b->B, b->T);
                goto done;
            }
            /* its logits in the trainer's chunks of positions (model.h) */
            const int64_t NB = (int64_t)b->B * b->T;
            int64_t C;
            float *logits = tr_activations_logits(g->trainer.acts, &C);
            for (int64_t r0 = 0; r0 < NB; r0 += C) {
                const int64_t n = NB - r0 < C ? NB - r0 : C;
                tr_model_logits_rows(g->ref, g->trainer.acts, logits, r0, n);
                if (tr_token_logprobs(ref[i] + r0, NULL, logits, b->targets + r0, b->weights + r0,
                                      n, V, T, err) != 0)
                    goto done;
            }
            out->ref_flops += tr_flops_forward(&g->ref->cfg, b->B, b->T);
        }
        out->ref_seconds = tr_now() - t0;
    }

    /* 6. policy update: mu passes x minibatches optimizer steps; the normalisers are the
     * whole mini-batch's (all ranks) and the trainer sums the gradients across ranks */
    t0 = tr_now();
    grpo_obj_ctx octx = {
        .micro = micro, .adv = adv, .old = old, .ref = c->loss.beta > 0 ? ref : NULL};
    tr_objective obj = {
        .fn = grpo_obj_fn, .ctx = &octx, .part_names = {NULL}, .norm = grpo_obj_norm};
    for (int pass = 0; pass < c->mu; pass++) {
        for (int mb = 0; mb < c->minibatches; mb++) {
            int first = mb_first[mb], count = mb_first[mb + 1] - first;
            /* weighted tokens, sequences, positions: summed over the ranks; FLOPs: this
             * rank's own (as gen_flops and ref_flops) */
            double sums[3] = {0, 0, 0}, mb_flops = 0;
            for (int i = first; i < first + count; i++) {
                sums[0] += tr_batch_weight_sum(&micro[i]);
                sums[1] += micro[i].B;
                sums[2] += (double)micro[i].B * micro[i].T;
                mb_flops += tr_flops_train_step(&m->cfg, micro[i].B, micro[i].T);
            }
            if (tr_dist_allreduce_sum_f64(&c->dist, sums, 3, err) != 0) goto done;
            out->train_tokens += sums[2];
            if (!(sums[0] > 0)) continue; /* every completion masked: nothing to learn */
            out->train_flops += mb_flops;
            octx.first = first;
            octx.params = c->loss;
            octx.params.temperature = T;
            octx.params.num_sequences = (int64_t)sums[1];
            octx.params.num_tokens = sums[0];
            octx.params.max_completion_len = c->max_new;
            tr_step_stats ss;
            if (tr_trainer_step(&g->trainer, micro + first, count, &obj, &ss, err) != 0) goto done;
            out->loss = ss.loss;
            out->grad_norm = ss.grad_norm;
            out->lr = ss.lr;
            out->comm_seconds += ss.comm_seconds;
            out->comm_bytes += ss.comm_bytes;
            out->updates++;
        }
    }
    out->obj = octx.stats;
    if (sum_stats(g, &out->obj, err) != 0) goto done;
    out->train_seconds = tr_now() - t0;
    st->step++;
    st->data_cursor += (uint64_t)P;
    st->tokens += out->train_tokens;
    st->elapsed += out->gen_seconds + out->reward_seconds + out->ref_seconds + out->train_seconds;
    rc = 0;
done:
    for (int i = 0; i < n_micro_max && micro; i++) {
        tr_batch_free(&micro[i]);
        if (adv) free(adv[i]);
        if (old) free(old[i]);
        if (ref) free(ref[i]);
    }
    if (res)
        for (int i = 0; i < Nl; i++) tr_gen_result_free(&res[i]);
    if (pro)
        for (int p = 0; p < Pl; p++) tr_template_out_free(&pro[p]);
    tr_problems_free(probs, Pl);
    free(tasks), free(pro), free(reqs), free(res), free(rewards), free(adv_all), free(comp);
    free(totals), free(mine), free(all), free(seqs), free(micro), free(adv), free(old), free(ref);
    free(mb_first);
    return rc;
}

/* ---- evaluation -------------------------------------------------------------------------- */

int tr_grpo_evaluate(tr_grpo *g, const tr_problem *problems, const tr_task *const *tasks, int n,
                     const tr_grpo_eval_params *p, tr_grpo_eval_result *out, tr_err *err) {
    memset(out, 0, sizeof *out);
    if (n <= 0) return 0;
    double t0 = tr_now();
    /* this rank's problems [lo, hi); sample seeds use the global problem index */
    const tr_dist *d = &g->cfg.dist;
    int64_t lo64, hi64;
    tr_dist_range(n, d->rank, d->world, &lo64, &hi64);
    const int lo = (int)lo64, nl = (int)(hi64 - lo64);
    int k = p->temperature > 0 ? (p->k > 0 ? p->k : 1) : 1;
    int N = nl * k, rc = -1;
    /* with several ranks the sample lines go through memory to rank 0, in problem order */
    char *lines = NULL;
    size_t lines_len = 0;
    FILE *samples = p->samples;
    if (d->world > 1 && p->n_samples > 0) {
        samples = open_memstream(&lines, &lines_len);
        if (!samples) return tr_fail(err, "grpo: eval: cannot open a memory stream");
    }
    tr_template_out *pro = tr_calloc((size_t)(nl > 0 ? nl : 1), sizeof *pro, err);
    tr_gen_request *reqs = tr_calloc((size_t)(N > 0 ? N : 1), sizeof *reqs, err);
    tr_gen_result *res = tr_calloc((size_t)(N > 0 ? N : 1), sizeof *res, err);
    double sums[4] = {0, 0, 0, 0}; /* pass1, format, language, length */
    if (!pro || !reqs || !res) goto done;
    if (encode_prompts(g, problems + lo, nl, pro, err) != 0) goto done;
    for (int i = 0; i < N; i++) {
        reqs[i].prompt = pro[i / k].ids.v;
        reqs[i].prompt_len = (int)pro[i / k].ids.n;
        reqs[i].seed = tr_grpo_sample_seed(p->seed, -1, lo + i / k, i % k);
    }
    tr_gen_params gp = tr_gen_default_params();
    gp.sampler.temperature = p->temperature;
    gp.sampler.top_p = p->temperature > 0 ? p->top_p : 1.0f;
    gp.max_new_tokens = p->max_new > 0 ? p->max_new : g->cfg.max_new;
    for (int i = 0; i < g->n_stop; i++) gp.stop_tokens[i] = g->stop_tokens[i];
    gp.n_stop_tokens = g->n_stop;
    if (N > 0 && (tr_infer_sync(g->infer, err) != 0 ||
                  tr_generate(g->infer, reqs, N, &gp, res, NULL, NULL, err) != 0))
        goto done;
    for (int i = 0; i < N; i++) {
        const int q = lo + i / k; /* the global problem */
        char *text = decode_completion(g, &res[i], err);
        if (!text) goto done;
        tr_verdict v;
        tr_task_verify(tasks[q], &problems[q], text, &v);
        sums[0] += v.correct;
        sums[1] += tr_reward_format(text);
        sums[2] += tr_reward_language(problems[q].prompt, text);
        sums[3] += res[i].n;
        if (samples && q < p->n_samples) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "step", (double)p->step);
            cJSON_AddStringToObject(o, "task", problems[q].task);
            cJSON_AddStringToObject(o, "prompt", problems[q].prompt);
            cJSON_AddStringToObject(o, "completion", text);
            cJSON_AddStringToObject(o, "gold", problems[q].answer);
            cJSON_AddStringToObject(o, "extracted", v.extracted);
            cJSON_AddBoolToObject(o, "correct", v.correct);
            cJSON_AddStringToObject(o, "stop", tr_stop_reason_name(res[i].stop));
            char *js = cJSON_PrintUnformatted(o);
            if (js) fprintf(samples, "%s\n", js);
            free(js);
            cJSON_Delete(o);
        }
        free(text);
    }
    if (tr_dist_allreduce_sum_f64(d, sums, 4, err) != 0) goto done;
    if (samples != p->samples) {
        fclose(samples);
        samples = NULL;
        void *all = NULL;
        size_t all_len = 0;
        if (tr_dist_gatherv(d, lines, lines_len, &all, &all_len, NULL, err) != 0) goto done;
        if (p->samples && all_len) fwrite(all, 1, all_len, p->samples);
        free(all);
    }
    const double Ntot = (double)n * k;
    out->pass1 = sums[0] / Ntot;
    out->format = sums[1] / Ntot;
    out->language = sums[2] / Ntot;
    out->length = sums[3] / Ntot;
    out->n = n;
    out->k = k;
    out->seconds = tr_now() - t0;
    rc = 0;
done:
    if (samples && samples != p->samples) fclose(samples);
    free(lines);
    if (res)
        for (int i = 0; i < N; i++) tr_gen_result_free(&res[i]);
    if (pro)
        for (int i = 0; i < nl; i++) tr_template_out_free(&pro[i]);
    free(pro), free(reqs), free(res);
    return rc;
}
