/* Scores of a distilled student (NLL, KL to the teacher) and sampling of verified traces. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/distill.h"

/* log sum exp of x[0..V) in double */
static double lse(const float *x, int V) {
    float m = x[0];
    for (int i = 1; i < V; i++) m = x[i] > m ? x[i] : m;
    double s = 0;
    for (int i = 0; i < V; i++) s += exp((double)x[i] - m);
    return m + log(s);
}

int tr_distill_score(const tr_model *student, const tr_model *teacher, tr_sft_set *set, int B,
                     int T, int32_t pad, tr_distill_scores *out, tr_err *err) {
    memset(out, 0, sizeof *out);
    const int V = student->cfg.vocab;
    if (teacher && teacher->cfg.vocab < V)
        return tr_fail(err, "score: the teacher has %d vocabulary rows, the student %d",
                       teacher->cfg.vocab, V);
    if (T > student->cfg.max_seq || (teacher && T > teacher->cfg.max_seq))
        return tr_fail(err, "score: --seq %d exceeds a model's max_seq", T);
    tr_activations *sa = NULL, *ta = NULL;
    tr_batch b = {0};
    tr_seq *seqs = tr_calloc((size_t)B, sizeof *seqs, err);
    int rc = -1;
    /* logits in chunks of C positions (model.h), both models in step */
    const int Vt = teacher ? teacher->cfg.vocab : 0;
    const int64_t C = tr_logits_chunk_rows((int64_t)B * T, Vt > V ? Vt : V, 0);
    if (!seqs || tr_batch_alloc(&b, B, T, err) != 0 ||
        tr_activations_init_rows(&sa, &student->cfg, B, T, C, err) != 0 ||
        (teacher && tr_activations_init_rows(&ta, &teacher->cfg, B, T, C, err) != 0))
        goto done;
    double nll = 0, tnll = 0, kl = 0, w = 0;
    for (int64_t i0 = 0; i0 < set->n; i0 += B) {
        int n = (int)(set->n - i0 < B ? set->n - i0 : B);
        for (int r = 0; r < n; r++) {
            const tr_sft_example *e = &set->ex[i0 + r];
            seqs[r] = (tr_seq){e->ids, e->n_prompt, e->ids + e->n_prompt, e->n - e->n_prompt};
        }
        if (tr_batch_fill(&b, seqs, n, pad, TR_TRUNC_RIGHT, NULL, err) != 0) goto done;
        for (int64_t k = 0; k < (int64_t)B * T; k++)
            if (b.tokens[k] < 0 || b.tokens[k] >= V || (b.weights[k] != 0 && b.targets[k] >= V)) {
                tr_fail(err, "score: example %lld: a token is outside the vocabulary [0, %d)",
                        (long long)(i0 + k / T), V);
                goto done;
            }
        tr_model_forward_hidden(student, sa, b.tokens, B, T);
        if (teacher) tr_model_forward_hidden(teacher, ta, b.tokens, B, T);
        float *zs = tr_activations_logits(sa, NULL);
        float *zt = teacher ? tr_activations_logits(ta, NULL) : NULL;
        for (int64_t k = 0; k < (int64_t)B * T; k++) {
            const int64_t c0 = k / C * C; /* the chunk of row k */
            if (k == c0) {
                const int64_t nc = (int64_t)B * T - c0 < C ? (int64_t)B * T - c0 : C;
                tr_model_logits_rows(student, sa, zs, c0, nc);
                if (teacher) tr_model_logits_rows(teacher, ta, zt, c0, nc);
            }
            if (b.weights[k] == 0) continue;
            const float *z = zs + (k - c0) * V;
            double ls = lse(z, V);
            nll += b.weights[k] * (ls - z[b.targets[k]]);
            if (zt) {
                const float *u = zt + (k - c0) * Vt;
                double lt = lse(u, V), d = 0;
                for (int j = 0; j < V; j++) {
                    double lp = u[j] - lt;
                    if (lp > -745) d += exp(lp) * (lp - (z[j] - ls));
                }
                kl += b.weights[k] * d;
                tnll += b.weights[k] * (lt - u[b.targets[k]]);
            }
            w += b.weights[k];
        }
    }
    if (!(w > 0)) {
        tr_fail(err, "score: no completion token to score");
        goto done;
    }
    out->nll = nll / w;
    out->teacher_nll = tnll / w;
    out->kl = kl / w;
    out->tokens = (int64_t)w;
    rc = 0;
done:
    tr_activations_free(sa);
    tr_activations_free(ta);
    tr_batch_free(&b);
    free(seqs);
    return rc;
}

int tr_distill_stop_tokens(const tr_tokenizer *tok, int32_t *out, int cap) {
    int32_t c[3] = {tr_tokenizer_eos(tok), tr_tokenizer_token_id(tok, "<|im_end|>"),
                    tr_tokenizer_adds_bos(tok) ? tr_tokenizer_bos(tok) : -1};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (c[i] < 0 || n >= cap) continue;
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= out[j] == c[i];
        if (!dup) out[n++] = c[i];
    }
    return n;
}

char *tr_distill_decode(const tr_tokenizer *tok, int32_t prev, const int32_t *ids, int n,
                        const int32_t *stops, int n_stops, tr_err *err) {
    if (n > 0)
        for (int j = 0; j < n_stops; j++)
            if (ids[n - 1] == stops[j]) {
                n--;
                break;
            }
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    if (!s) {
        tr_fail(err, "decode: out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        size_t k = 0;
        const char *p = tr_tokenizer_token_bytes(tok, prev, ids[i], &k);
        if (!p) {
            free(s);
            tr_fail(err, "decode: token %d outside the tokenizer's vocabulary", ids[i]);
            return NULL;
        }
        if (len + k + 1 > cap) {
            while (len + k + 1 > cap) cap *= 2;
            char *q = realloc(s, cap);
            if (!q) {
                free(s);
                tr_fail(err, "decode: out of memory");
                return NULL;
            }
            s = q;
        }
        memcpy(s + len, p, k);
        len += k;
        prev = ids[i];
    }
    s[len] = '\0';
    return s;
}

void tr_distill_traces_free(tr_distill_trace *t, int64_t n) {
    if (!t) return;
    for (int64_t i = 0; i < n; i++) free(t[i].text);
    free(t);
}

int tr_distill_sample(const tr_model *model, const tr_tokenizer *tok, tr_template_kind tpl,
                      const tr_task *task, const tr_problem *problems, int64_t n_problems,
                      int n_per_prompt, const tr_gen_params *p, uint64_t seed, int max_slots,
                      tr_distill_trace **out, tr_err *err) {
    *out = NULL;
    if (n_problems <= 0 || n_per_prompt <= 0)
        return tr_fail(err, "sample: %lld problems x %d samples: nothing to do",
                       (long long)n_problems, n_per_prompt);
    const int64_t n = n_problems * n_per_prompt;
    if (n > (1 << 30)) return tr_fail(err, "sample: too many samples (%lld)", (long long)n);
    tr_gen_params gp = *p;
    int32_t stops[3];
    int ns = tr_distill_stop_tokens(tok, stops, 3);
    for (int i = 0; i < ns && gp.n_stop_tokens < TR_GEN_MAX_STOP; i++) {
        int dup = 0;
        for (int j = 0; j < gp.n_stop_tokens; j++) dup |= gp.stop_tokens[j] == stops[i];
        if (!dup) gp.stop_tokens[gp.n_stop_tokens++] = stops[i];
    }
    tr_template_out *prompts = tr_calloc((size_t)n_problems, sizeof *prompts, err);
    tr_gen_request *reqs = tr_calloc((size_t)n, sizeof *reqs, err);
    tr_gen_result *res = tr_calloc((size_t)n, sizeof *res, err);
    tr_distill_trace *tr = tr_calloc((size_t)n, sizeof *tr, err);
    tr_infer *inf = NULL;
    int rc = -1;
    if (!prompts || !reqs || !res || !tr) goto done;
    int64_t longest = 0;
    for (int64_t i = 0; i < n_problems; i++) {
        if (tr_template_encode(tok, tpl, NULL, problems[i].prompt, NULL, &prompts[i], err) != 0)
            goto done;
        longest = (int64_t)prompts[i].ids.n > longest ? (int64_t)prompts[i].ids.n : longest;
        if (prompts[i].ids.n == 0 || (int)prompts[i].ids.n >= model->cfg.max_seq) {
            tr_fail(err, "sample: problem %lld: its prompt has %zu tokens; expected 1..%d",
                    (long long)i, prompts[i].ids.n, model->cfg.max_seq - 1);
            goto done;
        }
        for (int j = 0; j < n_per_prompt; j++) {
            int64_t k = i * n_per_prompt + j;
            reqs[k] = (tr_gen_request){prompts[i].ids.v, (int)prompts[i].ids.n, seed + (uint64_t)k};
        }
    }
    if (tr_infer_init(&inf, model, max_slots > 0 ? max_slots : 16,
                      tr_gen_max_seq(model, longest, gp.max_new_tokens), err) != 0)
        goto done;
    if (tr_generate(inf, reqs, (int)n, &gp, res, NULL, NULL, err) != 0) goto done;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = k / n_per_prompt;
        tr[k].problem = i;
        tr[k].n_tokens = res[k].n;
        tr[k].text = tr_distill_decode(tok, reqs[k].prompt[reqs[k].prompt_len - 1], res[k].tokens,
                                       res[k].n, gp.stop_tokens, gp.n_stop_tokens, err);
        if (!tr[k].text) goto done;
        if (task)
            tr_task_verify(task, &problems[i], tr[k].text, &tr[k].verdict);
        else
            tr[k].verdict.correct = tr[k].verdict.well_formed = 1;
    }
    *out = tr;
    tr = NULL;
    rc = 0;
done:
    if (prompts)
        for (int64_t i = 0; i < n_problems; i++) tr_template_out_free(&prompts[i]);
    free(prompts);
    if (res)
        for (int64_t k = 0; k < n; k++) tr_gen_result_free(&res[k]);
    free(res);
    free(reqs);
    tr_distill_traces_free(tr, n);
    if (inf) tr_infer_free(inf);
    return rc;
}
