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
