#include "tinyr1/batch.h"

#include <stdlib.h>
#include <string.h>

int tr_batch_alloc(tr_batch *b, int B, int T, tr_err *err) {
    memset(b, 0, sizeof *b);
    if (B <= 0 || T <= 0) return tr_fail(err, "batch: B and T must be positive, got %d x %d", B, T);
    size_t n = (size_t)B * (size_t)T;
    b->tokens = tr_calloc(n, sizeof *b->tokens, err);
    b->targets = tr_calloc(n, sizeof *b->targets, err);
    b->weights = tr_calloc(n, sizeof *b->weights, err);
    b->lengths = tr_calloc((size_t)B, sizeof *b->lengths, err);
    if (!b->tokens || !b->targets || !b->weights || !b->lengths) {
        tr_batch_free(b);
        return -1;
    }
    b->B = B;
    b->T = T;
    for (size_t i = 0; i < n; i++) b->targets[i] = -1;
    return 0;
}

void tr_batch_free(tr_batch *b) {
    free(b->tokens);
    free(b->targets);
    free(b->weights);
    free(b->lengths);
    memset(b, 0, sizeof *b);
}

double tr_batch_weight_sum(const tr_batch *b) {
    double s = 0;
    for (size_t i = 0; i < (size_t)b->B * (size_t)b->T; i++) s += b->weights[i];
    return s;
}

static void clear_row(tr_batch *b, int row, int32_t pad_id) {
    size_t o = (size_t)row * (size_t)b->T;
    for (int t = 0; t < b->T; t++) {
        b->tokens[o + t] = pad_id;
        b->targets[o + t] = -1;
        b->weights[o + t] = 0;
    }
    b->lengths[row] = 0;
}

/* Token i of prompt ++ completion. */
static int32_t seq_at(const tr_seq *s, int64_t i) {
    return i < s->n_prompt ? s->prompt[i] : s->completion[i - s->n_prompt];
}

int tr_batch_fill(tr_batch *b, const tr_seq *seqs, int n, int32_t pad_id, tr_trunc trunc,
                  tr_batch_fill_stats *stats, tr_err *err) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (n < 0 || n > b->B)
        return tr_fail(err, "batch: %d examples do not fit in a batch of B=%d", n, b->B);
    const int64_t T = b->T, cap = T + 1;
    for (int r = 0; r < b->B; r++) {
        clear_row(b, r, pad_id);
        if (r >= n) continue;
        const tr_seq *s = &seqs[r];
        if (s->n_prompt < 0 || s->n_completion < 0 || (s->n_prompt && !s->prompt) ||
            (s->n_completion && !s->completion))
            return tr_fail(err, "batch: example %d has a negative length or a NULL id array", r);
        int64_t L = s->n_prompt + s->n_completion, off = 0, keep = L;
        if (L > cap) {
            if (trunc == TR_TRUNC_ERROR)
                return tr_fail(err,
                               "batch: example %d has %lld tokens (prompt %lld + completion %lld), "
                               "more than T+1 = %lld; raise T or choose a truncation rule",
                               r, (long long)L, (long long)s->n_prompt, (long long)s->n_completion,
                               (long long)cap);
            keep = cap;
            if (trunc == TR_TRUNC_LEFT) off = L - cap;
            if (stats) {
                stats->n_truncated++;
                stats->n_dropped += L - cap;
            }
        }
        size_t o = (size_t)r * (size_t)T;
        int64_t n_in = keep < T ? keep : T;
        for (int64_t t = 0; t < n_in; t++) b->tokens[o + t] = seq_at(s, off + t);
        for (int64_t t = 0; t + 1 < keep; t++) {
            b->targets[o + t] = seq_at(s, off + t + 1);
            float w = (off + t + 1 >= s->n_prompt) ? 1.0f : 0.0f;
            b->weights[o + t] = w;
            if (stats && w > 0) stats->n_trained++;
        }
        b->lengths[r] = (int32_t)n_in;
    }
    return 0;
}

int64_t tr_batch_fill_stream(tr_batch *b, const int32_t *ids, int64_t n_ids, int64_t start,
                             int32_t pad_id) {
    const int64_t T = b->T;
    int64_t consumed = 0;
    for (int r = 0; r < b->B; r++) {
        clear_row(b, r, pad_id);
        int64_t s0 = start + (int64_t)r * T;
        if (start < 0 || s0 >= n_ids - 1) continue;
        int64_t avail = n_ids - s0; /* ids from s0 on, >= 2 */
        int64_t keep = avail < T + 1 ? avail : T + 1;
        size_t o = (size_t)r * (size_t)T;
        int64_t n_in = keep < T ? keep : T;
        for (int64_t t = 0; t < n_in; t++) b->tokens[o + t] = ids[s0 + t];
        for (int64_t t = 0; t + 1 < keep; t++) {
            b->targets[o + t] = ids[s0 + t + 1];
            b->weights[o + t] = 1.0f;
        }
        b->lengths[r] = (int32_t)n_in;
        consumed += keep - 1;
    }
    return consumed;
}
