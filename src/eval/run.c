/* tr_eval_run: prompts through the template, greedy and k sampled answers per problem
 * through the batched generator, verification, majority votes, samples.jsonl. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/eval.h"

tr_eval_params tr_eval_default_params(void) {
    tr_eval_params p;
    memset(&p, 0, sizeof p);
    p.k = 4;
    p.greedy = 1;
    p.sampler = tr_sampler_default_params();
    p.sampler.temperature = 0.6f;
    p.sampler.top_p = 0.95f;
    p.max_new_tokens = 1024;
    p.seed = 0;
    p.tpl = TR_TEMPLATE_R1ZERO;
    p.stop = "</answer>";
    p.slots = 16;
    p.weights = TR_INFER_AUTO;
    p.kv = TR_KV_F32;
    p.bootstrap_reps = 1000;
    return p;
}

static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t tr_eval_sample_seed(uint64_t seed, int64_t problem, int sample) {
    return mix(mix(mix(seed) ^ (uint64_t)problem) ^ (uint64_t)(int64_t)sample);
}

static const char *token_text(const void *ctx, int32_t prev, int32_t id, size_t *len) {
    return tr_tokenizer_token_bytes((const tr_tokenizer *)ctx, prev, id, len);
}

/* The response text of a result: its tokens without a final stop token. malloc'd. */
static char *response_text(const tr_tokenizer *tok, const tr_gen_result *r, tr_err *err) {
    size_t n = (size_t)r->n - (r->stop == TR_STOP_TOKEN ? 1 : 0), len = 0;
    char *text = NULL;
    if (tr_tokenizer_decode(tok, r->tokens, n, 0, &text, &len, err) != 0) return NULL;
    return text;
}

typedef struct {
    char *response;
    tr_verdict v;
    char canon[TR_ANSWER_CAP];
} sample_out;

static void write_sample(FILE *f, int64_t problem_index, int sample, const tr_problem *p,
                         const sample_out *s, const tr_gen_result *r, uint64_t seed, int voted) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "problem", (double)problem_index);
    if (sample < 0)
        cJSON_AddStringToObject(o, "kind", "greedy");
    else
        cJSON_AddStringToObject(o, "kind", "sample");
    cJSON_AddNumberToObject(o, "sample", sample);
    char seed_text[32];
    snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)seed);
    cJSON_AddStringToObject(o, "seed", seed_text); /* a string: 64 bits do not fit a double */
    cJSON_AddStringToObject(o, "prompt", p->prompt ? p->prompt : "");
    cJSON_AddStringToObject(o, "gold", p->answer ? p->answer : "");
    cJSON_AddStringToObject(o, "response", s->response ? s->response : "");
    cJSON_AddStringToObject(o, "extracted", s->v.extracted);
    cJSON_AddStringToObject(o, "canonical", s->canon);
    cJSON_AddBoolToObject(o, "correct", s->v.correct);
    cJSON_AddBoolToObject(o, "well_formed", s->v.well_formed);
    cJSON_AddNumberToObject(o, "score", s->v.score);
    if (s->v.reason[0]) cJSON_AddStringToObject(o, "reason", s->v.reason);
    cJSON_AddNumberToObject(o, "tokens", r->n);
    cJSON_AddStringToObject(o, "stop", tr_stop_reason_name(r->stop));
    if (sample >= 0) cJSON_AddBoolToObject(o, "majority", voted);
    double lp = 0;
    for (int i = 0; i < r->n; i++) lp += r->logprobs_model[i];
    cJSON_AddNumberToObject(o, "logprob_model", lp);
    char *line = cJSON_PrintUnformatted(o);
    if (line) fprintf(f, "%s\n", line);
    free(line);
    cJSON_Delete(o);
}

static void verify(const tr_task *t, const tr_problem *p, sample_out *s) {
    tr_task_verify(t, p, s->response ? s->response : "", &s->v);
    s->canon[0] = 0;
    if (s->v.well_formed && s->v.extracted[0])
        tr_answer_canonical(t, s->v.extracted, s->canon, sizeof s->canon);
}

int tr_eval_score_problem(const tr_task *t, const tr_problem *p, const char *const *responses,
                          const int *lengths, int k, const char *greedy_response,
                          tr_eval_problem *out, tr_verdict *verdicts, int *maj_index, tr_err *err) {
    memset(out, 0, sizeof *out);
    out->greedy_correct = -1;
    out->n_samples = k;
    if (maj_index) *maj_index = -1;
    if (k < 1) return tr_fail(err, "eval: a problem needs at least one sample");
    sample_out *so = tr_calloc((size_t)k, sizeof *so, err);
    const char **canon = tr_calloc((size_t)k, sizeof *canon, err);
    if (!so || !canon) {
        free(so);
        free((void *)canon);
        return -1;
    }
    double len = 0;
    for (int j = 0; j < k; j++) {
        so[j].response = (char *)responses[j];
        verify(t, p, &so[j]);
        out->n_correct += so[j].v.correct ? 1 : 0;
        out->n_well_formed += so[j].v.well_formed ? 1 : 0;
        len += lengths ? lengths[j] : 0;
        canon[j] = so[j].canon;
        if (verdicts) verdicts[j] = so[j].v;
    }
    out->mean_length = len / k;
    int win = tr_majority_vote(canon, k, NULL);
    out->maj_correct = win >= 0 && so[win].v.correct;
    if (maj_index) *maj_index = win;
    if (greedy_response) {
        sample_out g = {.response = (char *)greedy_response};
        verify(t, p, &g);
        out->greedy_correct = g.v.correct ? 1 : 0;
    }
    free(so);
    free((void *)canon);
    return 0;
}

/* One process's evaluation of problems[0..n) (tr_eval_run without the sharding). */
/* Problem i's prompt through the template into *out (the caller frees it). */
static int encode_prompt(const tr_tokenizer *tok, const tr_eval_params *ep,
                         const tr_problem *problems, int i, tr_template_out *out, tr_err *err) {
    const char *prompt = problems[i].prompt ? problems[i].prompt : "";
    if (tr_template_encode(tok, ep->tpl, ep->system, prompt, NULL, out, err) != 0)
        return tr_fail_context(err, "eval: problem %d", i);
    return 0;
}

static int eval_local(const tr_model *m, const tr_tokenizer *tok, const tr_task *t,
                      const tr_problem *problems, int n, const tr_eval_params *ep,
                      tr_eval_problem *per_problem, tr_eval_summary *summary, tr_err *err) {
    if (n < 1) return tr_fail(err, "eval: no problems");
    if (ep->k < 1 || ep->slots < 1 || ep->max_new_tokens < 1)
        return tr_fail(err, "eval: k (%d), slots (%d) and max_new_tokens (%d) must be >= 1", ep->k,
                       ep->slots, ep->max_new_tokens);
    const int k = ep->k, G = ep->greedy ? 1 : 0;
    /* problems per round: about 256 sequences' results in memory at a time */
    int chunk = 256 / (k + G);
    if (chunk < 1) chunk = 1;
    if (chunk > n) chunk = n;
    const int per_round = chunk * (k + G);

    tr_gen_params gp = tr_gen_default_params();
    gp.max_new_tokens = ep->max_new_tokens;
    int32_t eos = tr_tokenizer_eos(tok);
    if (eos >= 0) gp.stop_tokens[gp.n_stop_tokens++] = eos;
    if (ep->tpl == TR_TEMPLATE_CHAT) {
        int32_t im_end = tr_tokenizer_token_id(tok, "<|im_end|>");
        if (im_end >= 0 && im_end != eos) gp.stop_tokens[gp.n_stop_tokens++] = im_end;
    }
    if (ep->stop && ep->stop[0]) {
        gp.stop_strings[gp.n_stop_strings++] = ep->stop;
        gp.token_text = token_text;
        gp.token_text_ctx = tok;
    }
    tr_gen_params greedy_p = gp;
    greedy_p.sampler = tr_sampler_default_params();
    greedy_p.sampler.temperature = 0.0f;
    gp.sampler = ep->sampler;

    int rc = 0;
    tr_infer *ctx = NULL;
    tr_template_out *prompts = tr_calloc((size_t)chunk, sizeof *prompts, err);
    tr_gen_request *reqs = tr_calloc((size_t)per_round, sizeof *reqs, err);
    tr_gen_result *res = tr_calloc((size_t)per_round, sizeof *res, err);
    sample_out *so = tr_calloc((size_t)per_round, sizeof *so, err);
    const char **texts = tr_calloc((size_t)k, sizeof *texts, err);
    int *lens = tr_calloc((size_t)k, sizeof *lens, err);
    tr_eval_problem *pp = per_problem ? per_problem : tr_calloc((size_t)n, sizeof *pp, err);
    if (!prompts || !reqs || !res || !so || !texts || !lens || !pp) {
        rc = -1;
        goto done;
    }
    /* the cache holds the longest prompt and its completion (tr_gen_max_seq), not the
     * model's whole context: prompts are encoded once here to measure them (and to refuse
     * one that does not fit before anything is generated) */
    int64_t longest = 0;
    for (int i = 0; i < n; i++) {
        if (encode_prompt(tok, ep, problems, i, &prompts[0], err) != 0) {
            rc = -1;
            goto done;
        }
        size_t len = prompts[0].ids.n;
        tr_template_out_free(&prompts[0]);
        if ((int64_t)len >= m->cfg.max_seq) {
            rc = tr_fail(err,
                         "eval: problem %d: prompt of %zu tokens leaves no room in the model's "
                         "context of %d",
                         i, len, m->cfg.max_seq);
            goto done;
        }
        if ((int64_t)len > longest) longest = (int64_t)len;
    }
    int slots = ep->slots < per_round ? ep->slots : per_round;
    if (tr_infer_init(&ctx, m, slots, tr_gen_max_seq(m, longest, ep->max_new_tokens), err) != 0 ||
        tr_infer_set_weights(ctx, ep->weights, err) != 0 ||
        tr_infer_set_kv(ctx, ep->kv, err) != 0) {
        rc = -1;
        goto done;
    }
    double t0 = tr_now(), gen_tokens = 0;
    for (int first = 0; first < n; first += chunk) {
        int nc = n - first < chunk ? n - first : chunk;
        for (int i = 0; i < nc; i++)
            if (encode_prompt(tok, ep, problems, first + i, &prompts[i], err) != 0) {
                rc = -1;
                goto done;
            }
        /* greedy answers, then the k samples of every problem of the round */
        int ng = 0;
        if (G) {
            for (int i = 0; i < nc; i++) {
                reqs[i] =
                    (tr_gen_request){prompts[i].ids.v, (int)prompts[i].ids.n,
                                     tr_eval_sample_seed(ep->seed, problems[first + i].index, -1)};
            }
            ng = nc;
            if (tr_generate(ctx, reqs, nc, &greedy_p, res, NULL, NULL, err) != 0) {
                rc = tr_fail_context(err, "eval: greedy answers");
                goto done;
            }
        }
        for (int i = 0; i < nc; i++)
            for (int j = 0; j < k; j++)
                reqs[ng + i * k + j] =
                    (tr_gen_request){prompts[i].ids.v, (int)prompts[i].ids.n,
                                     tr_eval_sample_seed(ep->seed, problems[first + i].index, j)};
        if (tr_generate(ctx, reqs + ng, nc * k, &gp, res + ng, NULL, NULL, err) != 0) {
            rc = tr_fail_context(err, "eval: samples");
            goto done;
        }
        /* decode, then verify and vote (tr_eval_score_problem), then record */
        for (int q = 0; q < ng + nc * k; q++)
            if (!(so[q].response = response_text(tok, &res[q], err))) {
                rc = -1;
                goto done;
            }
        for (int i = 0; i < nc; i++) {
            const tr_problem *p = &problems[first + i];
            int win;
            for (int j = 0; j < k; j++) {
                texts[j] = so[ng + i * k + j].response;
                lens[j] = res[ng + i * k + j].n;
                gen_tokens += res[ng + i * k + j].n;
            }
            if (G) gen_tokens += res[i].n;
            if (tr_eval_score_problem(t, p, texts, lens, k, G ? so[i].response : NULL,
                                      &pp[first + i], NULL, &win, err) != 0) {
                rc = -1;
                goto done;
            }
            if (ep->samples) {
                /* the verdicts again, for the record (verification is cheap) */
                if (G) verify(t, p, &so[i]);
                for (int j = 0; j < k; j++) verify(t, p, &so[ng + i * k + j]);
                if (G)
                    write_sample(ep->samples, p->index, -1, p, &so[i], &res[i],
                                 tr_eval_sample_seed(ep->seed, p->index, -1), 0);
                const char *wc = win >= 0 ? so[ng + i * k + win].canon : NULL;
                for (int j = 0; j < k; j++) {
                    int q = ng + i * k + j;
                    write_sample(ep->samples, p->index, j, p, &so[q], &res[q], reqs[q].seed,
                                 wc && strcmp(so[q].canon, wc) == 0);
                }
            }
        }
        if (ep->verbose) {
            int done_n = first + nc, ok = 0, tot = 0;
            for (int i = 0; i < done_n; i++) ok += pp[i].n_correct, tot += pp[i].n_samples;
            fprintf(stderr, "eval: %d/%d problems, pass@1 so far %.3f, %.0f tokens/s\n", done_n, n,
                    (double)ok / tot, gen_tokens / (tr_now() - t0));
        }
        for (int q = 0; q < ng + nc * k; q++) {
            free(so[q].response);
            so[q].response = NULL;
            tr_gen_result_free(&res[q]);
        }
        for (int i = 0; i < nc; i++) tr_template_out_free(&prompts[i]);
    }
    if (ep->samples) fflush(ep->samples);
    if (summary &&
        tr_eval_summarize(pp, n, ep->bootstrap_reps, ep->seed ^ 0xB007, summary, err) != 0)
        rc = -1;

done:
    if (so)
        for (int q = 0; q < per_round; q++) free(so[q].response);
    if (res)
        for (int q = 0; q < per_round; q++) tr_gen_result_free(&res[q]);
    if (prompts)
        for (int i = 0; i < chunk; i++) tr_template_out_free(&prompts[i]);
    free(prompts);
    free(reqs);
    free(res);
    free(so);
    free((void *)texts);
    free(lens);
    if (!per_problem) free(pp);
    tr_infer_free(ctx);
    return rc;
}

int tr_eval_run(const tr_model *m, const tr_tokenizer *tok, const tr_task *t,
                const tr_problem *problems, int n, const tr_eval_params *ep,
                tr_eval_problem *per_problem, tr_eval_summary *summary, tr_err *err) {
    const tr_dist *d = ep->dist;
    if (!d || d->world <= 1)
        return eval_local(m, tok, t, problems, n, ep, per_problem, summary, err);
    if (n < 1) return tr_fail(err, "eval: no problems");
    /* this rank's problems [lo, hi); samples are seeded by the problem's own index, so the
     * answers do not depend on the split; the sample lines go through memory to rank 0 */
    int64_t lo, hi;
    tr_dist_range(n, d->rank, d->world, &lo, &hi);
    const int nl = (int)(hi - lo);
    tr_eval_params lp = *ep;
    lp.dist = NULL;
    lp.verbose = ep->verbose && d->rank == 0;
    char *lines = NULL;
    size_t lines_len = 0;
    lp.samples = ep->samples || d->rank != 0 ? open_memstream(&lines, &lines_len) : NULL;
    if ((ep->samples || d->rank != 0) && !lp.samples)
        return tr_fail(err, "eval: cannot open a memory stream");
    tr_eval_problem *mine = tr_calloc((size_t)(nl > 0 ? nl : 1), sizeof *mine, err);
    tr_eval_problem *all = per_problem ? per_problem : tr_calloc((size_t)n, sizeof *all, err);
    void *got = NULL, *text = NULL;
    size_t got_len = 0, text_len = 0;
    int rc = -1;
    if (!mine || !all) goto done;
    if (nl > 0 && eval_local(m, tok, t, problems + lo, nl, &lp, mine, NULL, err) != 0) goto done;
    if (lp.samples) {
        fclose(lp.samples);
        lp.samples = NULL;
    }
    /* rank 0 gathers the per-problem results and the sample lines in problem order, then
     * every rank gets the results (so that all return the same summary) */
    if (tr_dist_gatherv(d, mine, (size_t)nl * sizeof *mine, &got, &got_len, NULL, err) != 0 ||
        tr_dist_gatherv(d, lines, lines_len, &text, &text_len, NULL, err) != 0)
        goto done;
    if (d->rank == 0) {
        if (got_len != (size_t)n * sizeof *all) {
            tr_fail(err, "eval: gathered %zu bytes of results, expected %zu", got_len,
                    (size_t)n * sizeof *all);
            goto done;
        }
        memcpy(all, got, got_len);
        if (ep->samples && text_len) {
            fwrite(text, 1, text_len, ep->samples);
            fflush(ep->samples);
        }
    }
    if (tr_dist_broadcast(d, all, (size_t)n * sizeof *all, err) != 0) goto done;
    if (summary &&
        tr_eval_summarize(all, n, ep->bootstrap_reps, ep->seed ^ 0xB007, summary, err) != 0)
        goto done;
    rc = 0;
done:
    if (lp.samples) fclose(lp.samples);
    free(lines);
    free(got);
    free(text);
    free(mine);
    if (all != per_problem) free(all);
    return rc;
}
