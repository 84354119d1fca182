/* GRPO loop: the generator's log-probs equal the training forward's (verl #2996), the
 * first update is on-policy (ratio 1, also at T != 1), determinism, exact resume through a
 * checkpoint, micro-batch invariance, mu/minibatch/beta paths, logits in chunks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static tr_err err;

static void make_model(tr_model *m, int vocab, uint64_t seed) {
    tr_config cfg = tr_config_default();
    cfg.vocab = vocab;
    cfg.dim = 32;
    cfg.n_layers = 2;
    cfg.n_heads = 4;
    cfg.n_kv_heads = 2;
    cfg.hidden_dim = 64;
    cfg.max_seq = 96;
    CHECK(tr_model_init(m, &cfg, &err) == 0);
    tr_model_init_random(m, seed, 0.2f); /* peaked enough that sampling is not uniform */
}

static void copy_model(tr_model *dst, const tr_model *src) {
    CHECK(tr_model_init(dst, &src->cfg, &err) == 0);
    memcpy(dst->params, src->params, src->table.total * sizeof(float));
}

/* Sampled tokens' log-probs: generator vs training forward + tr_token_logprobs. */
static void test_logprob_parity(float temperature) {
    tr_model m;
    make_model(&m, 300, 7);
    tr_infer *inf;
    CHECK(tr_infer_init(&inf, &m, 4, 0, &err) == 0);
    int32_t prompts[3][5] = {{1, 2, 3, 4, 5}, {9, 8, 7, 0, 0}, {42, 0, 0, 0, 0}};
    int plen[3] = {5, 3, 1};
    tr_gen_request reqs[3];
    for (int i = 0; i < 3; i++) reqs[i] = (tr_gen_request){prompts[i], plen[i], 100 + (uint64_t)i};
    tr_gen_params gp = tr_gen_default_params();
    gp.sampler.temperature = temperature;
    gp.max_new_tokens = 24;
    tr_gen_result res[3];
    CHECK(tr_generate(inf, reqs, 3, &gp, res, NULL, NULL, &err) == 0);
    tr_activations *acts;
    CHECK(tr_activations_init(&acts, &m.cfg, 1, 96, &err) == 0);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        int L = plen[i] + res[i].n;
        int32_t tokens[96], targets[96];
        for (int t = 0; t < L; t++)
            tokens[t] = t < plen[i] ? prompts[i][t] : res[i].tokens[t - plen[i]];
        for (int t = 0; t < L - 1; t++) targets[t] = tokens[t + 1];
        float *logits = tr_model_forward(&m, acts, tokens, 1, L - 1);
        float lp[96];
        CHECK(tr_token_logprobs(lp, NULL, logits, targets, NULL, L - 1, m.cfg.vocab, temperature,
                                &err) == 0);
        for (int j = 0; j < res[i].n; j++) {
            double gen = temperature == 1.0f ? res[i].logprobs_model[j] : res[i].logprobs[j];
            double d = fabs(lp[plen[i] - 1 + j] - gen);
            if (d > worst) worst = d;
        }
        tr_gen_result_free(&res[i]);
    }
    if (getenv("TR_VERBOSE")) fprintf(stderr, "T=%g worst %g\n", (double)temperature, worst);
    CHECK_MSG(worst <= 1e-5, "T=%g: max |logp_train - logp_gen| = %g", (double)temperature, worst);
    tr_activations_free(acts);
    tr_infer_free(inf);
    tr_model_free(&m);
}

static tr_tokenizer *make_tokenizer(void) {
    /* a corpus of worked additions, like the add task's solutions */
    char *text = malloc(200000);
    size_t n = 0;
    const tr_task *add = tr_task_find("add");
    for (int i = 0; i < 200; i++) {
        tr_problem p;
        if (tr_task_generate(add, 5, i, NULL, &p, &err) != 0) break;
        n += (size_t)snprintf(text + n, 200000 - n, "%s %s\n", p.prompt, p.completion);
        tr_problem_free(&p);
    }
    tr_bpe_train_params bp = tr_bpe_train_default_params();
    bp.vocab_size = 320;
    tr_tokenizer *tok = NULL;
    CHECK(tr_tokenizer_train(&tok, text, n, &bp, NULL, &err) == 0);
    free(text);
    return tok;
}

static tr_grpo_config small_config(void) {
    tr_grpo_config c = tr_grpo_default_config();
    c.group = 4;
    c.prompts_per_step = 2;
    c.max_new = 12;
    c.micro_batch = 3;
    c.tpl = TR_TEMPLATE_NONE;
    c.seed = 11;
    CHECK(tr_reward_spec_parse(&c.rewards, "accuracy:1,tags:1,language:0.1", &err) == 0);
    return c;
}

static tr_lr_schedule sched(void) {
    tr_lr_schedule s = {TR_SCHEDULE_CONSTANT, 1e-2f, 1e-2f, 0, 100};
    return s;
}

static int same_params(const tr_model *a, const tr_model *b) {
    return memcmp(a->params, b->params, a->table.total * sizeof(float)) == 0;
}

static void test_steps(const tr_tokenizer *tok) {
    tr_grpo_source src;
    CHECK(tr_grpo_source_init(&src, "add", 3, 0, "en", &err) == 0);
    int V = tr_tokenizer_vocab_size(tok);
    tr_model base;
    make_model(&base, V, 3);
    tr_adamw_params ap = tr_adamw_default_params();

    /* A: three steps straight; ratio 1 at the on-policy update (mu = 1) */
    tr_model a;
    copy_model(&a, &base);
    tr_grpo ga;
    tr_grpo_config c = small_config();
    CHECK(tr_grpo_init(&ga, &a, NULL, tok, &c, ap, NULL, sched(), 1.0f, 0, &err) == 0);
    tr_train_state sa = {0};
    tr_grpo_step_stats s;
    double rewards_a[3];
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(tr_grpo_step(&ga, &src, &sa, &s, &err) == 0, "%s", err.msg);
        rewards_a[i] = s.reward_mean;
        if (getenv("TR_VERBOSE"))
            fprintf(stderr, "step %d: R %g+-%g zero %g updates %d ratio %.9f len %g gn %g\n", i,
                    s.reward_mean, s.reward_std, s.zero_std_frac, s.updates, s.obj.mean_ratio,
                    s.length_mean, s.grad_norm);
        CHECK(s.updates == 1 || s.zero_std_frac == 1);
        CHECK_MSG(fabs(s.obj.mean_ratio - 1) < 1e-5, "ratio %.9f", s.obj.mean_ratio);
        CHECK(s.obj.clip_low_frac == 0 && s.obj.clip_high_frac == 0);
        CHECK(s.length_mean > 0 && s.length_mean <= c.max_new);
        CHECK(s.gen_seconds >= 0 && s.train_seconds >= 0);
    }
    CHECK(sa.step == 3 && sa.data_cursor == 6);

    /* B: the same run again: bitwise the same weights (determinism) */
    tr_model b;
    copy_model(&b, &base);
    tr_grpo gb;
    CHECK(tr_grpo_init(&gb, &b, NULL, tok, &c, ap, NULL, sched(), 1.0f, 0, &err) == 0);
    tr_train_state sb = {0};
    for (int i = 0; i < 3; i++) {
        CHECK(tr_grpo_step(&gb, &src, &sb, &s, &err) == 0);
        CHECK(s.reward_mean == rewards_a[i]);
    }
    CHECK(same_params(&a, &b));
    tr_grpo_free(&gb);
    tr_model_free(&b);

    /* C: one step, checkpoint, load into a new run, two more steps: same as A */
    tr_model c1;
    copy_model(&c1, &base);
    tr_grpo gc1;
    CHECK(tr_grpo_init(&gc1, &c1, NULL, tok, &c, ap, NULL, sched(), 1.0f, 0, &err) == 0);
    tr_train_state sc = {0};
    CHECK(tr_grpo_step(&gc1, &src, &sc, &s, &err) == 0);
    char path[] = "/tmp/tinyr1_test_grpo_ckpt.bin";
    CHECK(tr_checkpoint_save(path, &c1, &gc1.trainer.opt, &sc, NULL, (tr_checkpoint_blob){0},
                             &err) == 0);
    tr_grpo_free(&gc1);
    tr_model_free(&c1);
    tr_model c2;
    tr_adamw restored;
    tr_checkpoint_info info;
    CHECK(tr_checkpoint_load(path, &c2, &restored, ap, &info, &err) == 0);
    tr_train_state sc2 = info.state;
    tr_checkpoint_info_free(&info);
    remove(path);
    tr_grpo gc2;
    CHECK(tr_grpo_init(&gc2, &c2, NULL, tok, &c, ap, &restored, sched(), 1.0f, 0, &err) == 0);
    for (int i = 1; i < 3; i++) {
        CHECK(tr_grpo_step(&gc2, &src, &sc2, &s, &err) == 0);
        CHECK(s.reward_mean == rewards_a[i]);
    }
    CHECK(same_params(&a, &c2));
    tr_grpo_free(&gc2);
    tr_model_free(&c2);
    tr_grpo_free(&ga);
    tr_model_free(&a);

    /* D: the micro-batch size does not change the update (normalisers of the mini-batch) */
    tr_model d1, d2;
    copy_model(&d1, &base);
    copy_model(&d2, &base);
    tr_grpo g1, g2;
    tr_grpo_config c8 = c;
    c8.micro_batch = 8;
    c8.loss.agg = TR_GRPO_AGG_DAPO;
    tr_grpo_config c2b = c8;
    c2b.micro_batch = 2;
    CHECK(tr_grpo_init(&g1, &d1, NULL, tok, &c8, ap, NULL, sched(), 0.0f, 0, &err) == 0);
    CHECK(tr_grpo_init(&g2, &d2, NULL, tok, &c2b, ap, NULL, sched(), 0.0f, 0, &err) == 0);
    tr_train_state s1 = {0}, s2 = {0};
    tr_grpo_step_stats st1, st2;
    CHECK(tr_grpo_step(&g1, &src, &s1, &st1, &err) == 0);
    CHECK(tr_grpo_step(&g2, &src, &s2, &st2, &err) == 0);
    CHECK(st1.reward_mean == st2.reward_mean);
    CHECK_CLOSE(st1.grad_norm, st2.grad_norm, 1e-4, 1e-7);
    CHECK(tu_max_rel_err(d1.params, d2.params, d1.table.total, 1e-3) < 1e-3);
    tr_grpo_free(&g1);
    tr_grpo_free(&g2);
    tr_model_free(&d1);
    tr_model_free(&d2);

    /* E: mu 2, two mini-batches, beta > 0 with a reference, T = 0.7, truncated masked */
    tr_model e, ref;
    copy_model(&e, &base);
    copy_model(&ref, &base);
    tr_grpo ge;
    tr_grpo_config ce = c;
    ce.mu = 2;
    ce.minibatches = 2;
    ce.loss.beta = 0.04;
    ce.temperature = 0.7f;
    CHECK(tr_grpo_init(&ge, &e, &ref, tok, &ce, ap, NULL, sched(), 1.0f, 0, &err) == 0);
    tr_train_state se = {0};
    CHECK_MSG(tr_grpo_step(&ge, &src, &se, &s, &err) == 0, "%s", err.msg);
    CHECK(s.updates <= 4);
    CHECK(s.obj.mean_kl >= 0 && isfinite(s.obj.mean_kl));
    CHECK(s.ref_seconds > 0);
    /* no mini-batch is updated twice before its first pass: some ratio stays 1 on average
     * only at the first update, so the mean over all updates is just finite here */
    CHECK(isfinite(s.obj.mean_ratio) && s.obj.mean_entropy > 0);
    tr_grpo_free(&ge);
    /* beta > 0 without a reference is refused */
    CHECK(tr_grpo_init(&ge, &e, NULL, tok, &ce, ap, NULL, sched(), 1.0f, 0, &err) != 0);
    /* all completions truncated and masked: the step runs, no update */
    tr_grpo_config cm = c;
    cm.mask_truncated = 1;
    cm.max_new = 2;
    CHECK(tr_grpo_init(&ge, &e, NULL, tok, &cm, ap, NULL, sched(), 1.0f, 0, &err) == 0);
    CHECK(tr_grpo_step(&ge, &src, &se, &s, &err) == 0);
    CHECK(s.truncated_frac < 1 || s.updates == 0);
    tr_grpo_free(&ge);

    /* evaluation runs and reports fractions */
    tr_grpo_config cv = c;
    CHECK(tr_grpo_init(&ge, &e, NULL, tok, &cv, ap, NULL, sched(), 1.0f, 0, &err) == 0);
    tr_problem probs[3];
    const tr_task *tasks[3];
    for (int i = 0; i < 3; i++)
        CHECK(tr_grpo_source_get(&src, (uint64_t)i, &probs[i], &tasks[i], &err) == 0);
    tr_grpo_eval_params ep = tr_grpo_eval_default_params();
    ep.k = 2;
    tr_grpo_eval_result er;
    CHECK(tr_grpo_evaluate(&ge, probs, tasks, 3, &ep, &er, &err) == 0);
    CHECK(er.n == 3 && er.k == 2 && er.pass1 >= 0 && er.pass1 <= 1 && er.length > 0);
    for (int i = 0; i < 3; i++) tr_problem_free(&probs[i]);
    tr_grpo_free(&ge);
    tr_model_free(&e);
    tr_model_free(&ref);
    tr_model_free(&base);
}

/* Sum over samples of A_i * mean_t log pi(y_t) under model m: the surrogate a policy-gradient
 * step must increase. */
static double surrogate(const tr_model *m, tr_gen_result *res, tr_template_out *pro,
                        const float *adv, int N, int G) {
    tr_activations *acts;
    CHECK(tr_activations_init(&acts, &m->cfg, 1, m->cfg.max_seq, &err) == 0);
    double J = 0;
    for (int i = 0; i < N; i++) {
        int P0 = (int)pro[i / G].ids.n, L = P0 + res[i].n;
        int32_t tokens[128], targets[128];
        for (int t = 0; t < L; t++)
            tokens[t] = t < P0 ? pro[i / G].ids.v[t] : res[i].tokens[t - P0];
        for (int t = 0; t < L - 1; t++) targets[t] = tokens[t + 1];
        float *logits = tr_model_forward(m, acts, tokens, 1, L - 1);
        float lp[128];
        CHECK(tr_token_logprobs(lp, NULL, logits, targets, NULL, L - 1, m->cfg.vocab, 1.0, &err) ==
              0);
        double s = 0;
        for (int j = 0; j < res[i].n; j++) s += lp[P0 - 1 + j];
        J += adv[i] * s / res[i].n;
    }
    tr_activations_free(acts);
    return J;
}

/* The step moves the policy the right way: the rollouts are regenerated independently
 * (same seeds, the pre-update model), rewarded and given advantages here, and the
 * advantage-weighted log-likelihood must rise after the update. */
static void test_direction(const tr_tokenizer *tok) {
    tr_grpo_source src;
    CHECK(tr_grpo_source_init(&src, "add", 3, 0, "en", &err) == 0);
    tr_model base, pol;
    make_model(&base, tr_tokenizer_vocab_size(tok), 5);
    copy_model(&pol, &base);
    tr_grpo_config c = small_config();
    c.group = 6;
    tr_grpo g;
    tr_lr_schedule s = {TR_SCHEDULE_CONSTANT, 1e-3f, 1e-3f, 0, 100};
    CHECK(tr_grpo_init(&g, &pol, NULL, tok, &c, tr_adamw_default_params(), NULL, s, 0.0f, 0,
                       &err) == 0);
    tr_train_state st = {0};
    tr_grpo_step_stats ss;
    CHECK(tr_grpo_step(&g, &src, &st, &ss, &err) == 0);
    const int P = c.prompts_per_step, G = c.group, N = P * G;
    tr_problem probs[8];
    const tr_task *tasks[8];
    tr_template_out pro[8];
    memset(pro, 0, sizeof pro);
    tr_gen_request reqs[64];
    tr_gen_result res[64];
    for (int p = 0; p < P; p++) {
        CHECK(tr_grpo_source_get(&src, (uint64_t)p, &probs[p], &tasks[p], &err) == 0);
        CHECK(tr_template_encode(tok, TR_TEMPLATE_NONE, NULL, probs[p].prompt, NULL, &pro[p],
                                 &err) == 0);
        for (int j = 0; j < G; j++)
            reqs[p * G + j] = (tr_gen_request){pro[p].ids.v, (int)pro[p].ids.n,
                                               tr_grpo_sample_seed(c.seed, 0, p, j)};
    }
    tr_infer *inf;
    CHECK(tr_infer_init(&inf, &base, N, 0, &err) == 0);
    tr_gen_params gp = tr_gen_default_params();
    gp.max_new_tokens = c.max_new;
    gp.stop_tokens[0] = tr_tokenizer_eos(tok);
    gp.n_stop_tokens = 1;
    CHECK(tr_generate(inf, reqs, N, &gp, res, NULL, NULL, &err) == 0);
    float rewards[64], adv[64];
    double mean = 0;
    for (int i = 0; i < N; i++) {
        int n = res[i].n - (res[i].stop == TR_STOP_TOKEN);
        char *text = NULL;
        size_t len;
        CHECK(tr_tokenizer_decode(tok, res[i].tokens, (size_t)n, 0, &text, &len, &err) == 0);
        tr_reward_spec spec = c.rewards;
        spec.max_len = c.max_new;
        tr_reward_input in = {tasks[i / G], &probs[i / G], text, res[i].n};
        double v[TR_MAX_REWARDS];
        rewards[i] = (float)tr_rewards_compute(&spec, &in, v, NULL);
        mean += rewards[i];
        free(text);
    }
    CHECK_CLOSE(mean / N, ss.reward_mean, 1e-9, 1e-9); /* the same rollouts */
    CHECK(tr_grpo_advantages(adv, NULL, rewards, P, G, TR_ADV_SCALE_GROUP, 1e-4, &err) == 0);
    double before = surrogate(&base, res, pro, adv, N, G),
           after = surrogate(&pol, res, pro, adv, N, G);
    if (getenv("TR_VERBOSE"))
        fprintf(stderr, "surrogate %g -> %g (zero-std %g)\n", before, after, ss.zero_std_frac);
    CHECK(ss.zero_std_frac < 1);
    CHECK_MSG(after > before, "surrogate %g -> %g", before, after);
    for (int i = 0; i < N; i++) tr_gen_result_free(&res[i]);
    for (int p = 0; p < P; p++) {
        tr_template_out_free(&pro[p]);
        tr_problem_free(&probs[p]);
    }
    tr_infer_free(inf);
    tr_grpo_free(&g);
    tr_model_free(&pol);
    tr_model_free(&base);
}

/* A hand-made group: one prompt, four completions of distinct tokens, rewards [1, 0, 0, 0].
 * Advantages by hand: mean 0.25, sample std 0.5, so (1 - 0.25) / (0.5 + 1e-4) and
 * -0.25 / (0.5 + 1e-4). One on-policy GRPO update (tr_grpo_loss through the trainer, at
 * T = 0.7, the completion positions laid out as tr_grpo_step lays them out) must raise the
 * rewarded completion's log-probability and lower each of the three others. */
typedef struct {
    const float *adv, *old;
    tr_grpo_params p;
} hand_ctx;

static int hand_fn(void *vctx, float *logits, int64_t r0, int64_t n, int V, const tr_batch *b,
                   int micro, double norm, tr_objective_out *out, tr_err *e) {
    (void)micro, (void)norm;
    hand_ctx *h = vctx;
    return tr_grpo_loss_rows(logits, &out->loss, NULL, logits, r0, n, b->targets, b->weights,
                             h->adv, h->old, NULL, b->B, b->T, V, &h->p, e);
}

/* Per-position log softmax(z/T)[target] of a batch (0 where the weight is 0). */
static void batch_logprobs(tr_model *m, const tr_batch *b, float temp, float *lp) {
    tr_activations *acts;
    CHECK(tr_activations_init(&acts, &m->cfg, b->B, b->T, &err) == 0);
    float *logits = tr_model_forward(m, acts, b->tokens, b->B, b->T);
    CHECK(tr_token_logprobs(lp, NULL, logits, b->targets, b->weights, (int64_t)b->B * b->T,
                            m->cfg.vocab, temp, &err) == 0);
    tr_activations_free(acts);
}

/* Each row's completion log-probability. */
static void seq_logprobs(tr_model *m, const tr_batch *b, float temp, double out[4]) {
    float lp[4 * 16];
    batch_logprobs(m, b, temp, lp);
    for (int r = 0; r < b->B; r++) {
        out[r] = 0;
        for (int t = 0; t < b->T; t++) out[r] += b->weights[r * b->T + t] * lp[r * b->T + t];
    }
}

static void test_hand_group(void) {
    enum { G = 4, T = 8 };
    const float temp = 0.7f;
    tr_model m;
    make_model(&m, 64, 9);
    int32_t prompt[4] = {1, 2, 3, 4};
    int32_t comp[G][5] = {
        {10, 11, 12, 13, 0}, {20, 21, 22, 23, 0}, {30, 31, 32, 33, 0}, {40, 41, 42, 43, 0}};
    tr_seq seqs[G];
    for (int i = 0; i < G; i++) seqs[i] = (tr_seq){prompt, 4, comp[i], 5};
    tr_batch b;
    CHECK(tr_batch_alloc(&b, G, T, &err) == 0);
    CHECK(tr_batch_fill(&b, seqs, G, 0, TR_TRUNC_ERROR, NULL, &err) == 0);
    float rewards[G] = {1, 0, 0, 0}, a[G];
    CHECK(tr_grpo_advantages(a, NULL, rewards, 1, G, TR_ADV_SCALE_GROUP, 1e-4, &err) == 0);
    CHECK_CLOSE(a[0], 0.75 / 0.5001, 1e-6, 1e-6);
    for (int i = 1; i < G; i++) CHECK_CLOSE(a[i], -0.25 / 0.5001, 1e-6, 1e-6);
    /* per position: the completion's targets (positions 3..7) carry their sample's advantage */
    float adv[G * T] = {0}, old[G * T] = {0};
    int n_w = 0;
    for (int r = 0; r < G; r++)
        for (int t = 0; t < T; t++) {
            int w = b.weights[r * T + t] > 0;
            CHECK(w == (t >= 3)); /* the prompt's own tokens are not trained */
            if (w) adv[r * T + t] = a[r], n_w++;
            if (w) CHECK(b.targets[r * T + t] == comp[r][t - 3]);
        }
    CHECK(n_w == G * 5);
    double before[G], after[G];
    seq_logprobs(&m, &b, temp, before);
    batch_logprobs(&m, &b, temp, old); /* the old log-probs: on-policy, ratio 1 */
    hand_ctx h = {adv, old, tr_grpo_default_params()};
    h.p.temperature = temp;
    h.p.num_sequences = G;
    tr_objective obj = {.fn = hand_fn, .ctx = &h};
    tr_trainer tr;
    tr_lr_schedule s = {TR_SCHEDULE_CONSTANT, 1e-3f, 1e-3f, 0, 100};
    CHECK(tr_trainer_init(&tr, &m, tr_adamw_default_params(), NULL, s, 1.0f, G, T,
                          tr_dist_single(), &err) == 0);
    tr_step_stats ss;
    CHECK_MSG(tr_trainer_step(&tr, &b, 1, &obj, &ss, &err) == 0, "%s", err.msg);
    seq_logprobs(&m, &b, temp, after);
    if (getenv("TR_VERBOSE"))
        for (int i = 0; i < G; i++)
            fprintf(stderr, "hand group: sample %d (A %+.3f) log-prob %.5f -> %.5f\n", i,
                    (double)a[i], before[i], after[i]);
    CHECK_MSG(after[0] > before[0], "rewarded sample: %g -> %g", before[0], after[0]);
    for (int i = 1; i < G; i++)
        CHECK_MSG(after[i] < before[i], "unrewarded sample %d: %g -> %g", i, before[i], after[i]);
    tr_trainer_free(&tr);
    tr_batch_free(&b);
    tr_model_free(&m);
}

static void test_misc(void) {
    tr_grpo_source src;
    CHECK(tr_grpo_source_init(&src, "add,countdown", 1, 0, NULL, &err) == 0 && src.n_tasks == 2);
    CHECK(tr_grpo_source_init(&src, "gsm8k", 1, 0, NULL, &err) != 0); /* no generator */
    CHECK(tr_grpo_source_init(&src, "add", 1, 0, "zh", &err) != 0);   /* no Chinese add */
    CHECK(tr_grpo_source_init(&src, "nope", 1, 0, NULL, &err) != 0);
    CHECK(tr_grpo_source_init(&src, "wordprob", 1, 0, "zh", &err) == 0);
    tr_problem p;
    const tr_task *t;
    CHECK(tr_grpo_source_get(&src, 4, &p, &t, &err) == 0 && strcmp(p.lang, "zh") == 0);
    tr_problem_free(&p);
    /* a prompt pool: cursor c gives problem (c / n_tasks) % pool of task c % n_tasks */
    CHECK(tr_grpo_source_init(&src, "add,countdown", 1, 0, NULL, &err) == 0);
    src.pool = 2;
    tr_problem q[6];
    for (int i = 0; i < 6; i++) CHECK(tr_grpo_source_get(&src, (uint64_t)i, &q[i], &t, &err) == 0);
    CHECK(strcmp(q[0].prompt, q[4].prompt) == 0 && strcmp(q[1].prompt, q[5].prompt) == 0);
    CHECK(strcmp(q[0].prompt, q[2].prompt) != 0 && strcmp(q[0].task, "add") == 0);
    CHECK(strcmp(q[1].task, "countdown") == 0 && strcmp(q[5].task, "countdown") == 0);
    src.pool = 0;
    tr_problem q4;
    CHECK(tr_grpo_source_get(&src, 4, &q4, &t, &err) == 0 && strcmp(q4.prompt, q[0].prompt) != 0);
    tr_problem_free(&q4);
    for (int i = 0; i < 6; i++) tr_problem_free(&q[i]);
    /* seeds: distinct for neighbouring (step, prompt, sample), stable */
    uint64_t a = tr_grpo_sample_seed(1, 0, 0, 0), b = tr_grpo_sample_seed(1, 0, 0, 1);
    uint64_t c = tr_grpo_sample_seed(1, 0, 1, 0), d = tr_grpo_sample_seed(1, 1, 0, 0);
    CHECK(a != b && a != c && a != d && b != c && c != d);
    CHECK(a == tr_grpo_sample_seed(1, 0, 0, 0));
}

/* Logits in chunks of 3 positions (the policy update and the reference log-probs, model.h)
 * give the step of one chunk: the same rollouts, and loss, KL to the reference, ratios and
 * the update equal up to float rounding. */
static void test_chunked(const tr_tokenizer *tok) {
    tr_grpo_source src;
    CHECK(tr_grpo_source_init(&src, "add", 3, 0, "en", &err) == 0);
    tr_model base, ref, pol[2];
    make_model(&base, tr_tokenizer_vocab_size(tok), 3);
    make_model(&ref, tr_tokenizer_vocab_size(tok), 4); /* another model: the KL is not 0 */
    tr_grpo_step_stats s[2];
    for (int i = 0; i < 2; i++) {
        copy_model(&pol[i], &base);
        tr_grpo_config c = small_config();
        c.loss.beta = 0.05;
        c.logits_chunk = i == 0 ? 0 : 3;
        tr_grpo g;
        CHECK(tr_grpo_init(&g, &pol[i], &ref, tok, &c, tr_adamw_default_params(), NULL, sched(),
                           1.0f, 0, &err) == 0);
        CHECK(i == 0 ? g.trainer.logits_chunk > 3 : g.trainer.logits_chunk == 3);
        tr_train_state st = {0};
        CHECK_MSG(tr_grpo_step(&g, &src, &st, &s[i], &err) == 0, "%s", err.msg);
        tr_grpo_free(&g);
    }
    CHECK(s[0].reward_mean == s[1].reward_mean && s[0].gen_tokens == s[1].gen_tokens);
    CHECK(s[0].obj.kl_sum > 0);
    CHECK_CLOSE(s[1].obj.kl_sum, s[0].obj.kl_sum, 1e-5, 1e-9);
    CHECK_CLOSE(s[1].obj.ratio_sum, s[0].obj.ratio_sum, 1e-6, 1e-9);
    CHECK_CLOSE(s[1].loss, s[0].loss, 1e-5, 1e-9);
    CHECK_CLOSE(s[1].grad_norm, s[0].grad_norm, 1e-5, 1e-9);
    CHECK(tu_max_rel_err(pol[1].params, pol[0].params, base.table.total, 1e-3) < 1e-3);
    for (int i = 0; i < 2; i++) tr_model_free(&pol[i]);
    tr_model_free(&base);
    tr_model_free(&ref);
}

int main(void) {
    tr_set_threads(2);
    test_logprob_parity(1.0f);
    test_logprob_parity(0.7f);
    test_misc();
    test_hand_group();
    tr_tokenizer *tok = make_tokenizer();
    if (tok) {
        test_steps(tok);
        test_direction(tok);
        test_chunked(tok);
        tr_tokenizer_free(tok);
    }
    return tu_finish("grpo");
}
