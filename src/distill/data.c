/* The distillation batch source: dataset examples or, with probability lambda, prompts
 * completed by the student (on-policy distillation, GKD). */
#include <stdlib.h>
#include <string.h>

#include "tinyr1/distill.h"

int tr_distill_data_init(tr_distill_data *d, tr_sft_set *set, int32_t pad, tr_trunc trunc,
                         int n_micro, int B, int T, double lambda, const tr_model *student,
                         const tr_gen_params *gen, tr_err *err) {
    memset(d, 0, sizeof *d);
    if (!(lambda >= 0 && lambda <= 1))
        return tr_fail(err, "distill: lambda %g, expected in [0, 1]", lambda);
    if (n_micro <= 0 || B <= 0 || T <= 0)
        return tr_fail(err, "distill: bad batch shape %d x %d x %d", n_micro, B, T);
    if (set->n <= 0) return tr_fail(err, "distill: no examples");
    d->set = set;
    d->pad = pad;
    d->trunc = trunc;
    d->n_micro = n_micro;
    d->B = B;
    d->T = T;
    d->lambda = lambda;
    d->student = student;
    d->rank = 0;
    d->world = 1;
    d->rows = tr_calloc((size_t)n_micro * (size_t)B, sizeof *d->rows, err);
    if (!d->rows) return -1;
    if (lambda > 0) {
        if (!student || !gen) {
            tr_distill_data_free(d);
            return tr_fail(err, "distill: on-policy batches need the student and sampling "
                                "parameters");
        }
        d->gen = *gen;
        int cap = T + 1 < student->cfg.max_seq ? T + 1 : student->cfg.max_seq;
        /* the slot's context is the budget: a sample stops when prompt + sample fill it */
        d->gen.max_new_tokens = cap;
        if (tr_infer_init(&d->infer, student, B, cap, err) != 0) {
            tr_distill_data_free(d);
            return -1;
        }
    }
    return 0;
}

void tr_distill_data_free(tr_distill_data *d) {
    free(d->rows);
    if (d->infer) tr_infer_free(d->infer);
    memset(d, 0, sizeof *d);
}

static int on_policy(tr_distill_data *d, tr_batch *b, tr_train_state *st, const int64_t *rows,
                     tr_err *err) {
    const int B = b->B;
    const int cap = tr_infer_max_seq(d->infer);
    tr_gen_request *reqs = tr_calloc((size_t)B, sizeof *reqs, err);
    tr_gen_result *res = tr_calloc((size_t)B, sizeof *res, err);
    tr_seq *seqs = tr_calloc((size_t)B, sizeof *seqs, err);
    int rc = -1;
    if (!reqs || !res || !seqs) goto done;
    for (int r = 0; r < B; r++) {
        const tr_sft_example *e = &d->set->ex[rows[r]];
        int64_t P = e->n_prompt > 0 ? e->n_prompt : 1; /* at least one token (e.g. bos) */
        if (P > e->n) P = e->n;
        if (P > cap - 1) P = cap - 1;
        reqs[r] = (tr_gen_request){e->ids, (int)P, tr_rng_next(&st->rng)};
    }
    /* only this process's rows are sampled (the others hold their prompt: never trained
     * here); sequences are seeded per row, so the samples do not depend on the split */
    int64_t lo = 0, hi = B;
    if (d->world > 1) tr_dist_range(B, d->rank, d->world, &lo, &hi);
    /* the student changed since the last batch: refresh the context's copy of its weights */
    if (tr_infer_sync(d->infer, err) != 0 ||
        tr_generate(d->infer, reqs + lo, (int)(hi - lo), &d->gen, res + lo, NULL, NULL, err) != 0)
        goto done;
    for (int r = 0; r < B; r++) {
        seqs[r] = (tr_seq){reqs[r].prompt, reqs[r].prompt_len, res[r].tokens, res[r].n};
        d->n_sampled_tokens += res[r].n;
    }
    rc = tr_batch_fill(b, seqs, B, d->pad, TR_TRUNC_RIGHT, NULL, err);
done:
    if (res)
        for (int r = 0; r < B; r++) tr_gen_result_free(&res[r]);
    free(reqs);
    free(res);
    free(seqs);
    return rc;
}

int tr_distill_next_batch(void *ctx, tr_batch *b, tr_train_state *st, tr_err *err) {
    tr_distill_data *d = ctx;
    if (b->B > d->B) return tr_fail(err, "distill: batch of %d rows, expected <= %d", b->B, d->B);
    const int micro = (int)(d->calls % d->n_micro);
    d->calls++;
    d->n_batches++;
    int64_t *rows = d->rows + (size_t)micro * d->B;
    for (int r = 0; r < b->B; r++)
        rows[r] = tr_sft_set_index(d->set, st->data_cursor + (uint64_t)r, &st->data_rng);
    int sample = d->lambda > 0 && tr_rng_uniform_double(&st->rng) < d->lambda;
    if (!sample)
        return tr_sft_set_fill(d->set, b, &st->data_cursor, &st->data_rng, d->pad, d->trunc, NULL,
                               err);
    st->data_cursor += (uint64_t)b->B;
    d->n_onpolicy++;
    int rc = on_policy(d, b, st, rows, err);
    for (int r = 0; r < b->B; r++) rows[r] = -1; /* no cached teacher for a sample */
    return rc;
}
