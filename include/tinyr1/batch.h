/* tinyr1 — a training batch: B sequences of T positions, right-padded.
 *
 * tokens[b*T + t]  input token at position t
 * targets[b*T + t] the token the model should predict at t (normally tokens[t+1]); -1 where
 *                  there is none (padding, last position)
 * weights[b*T + t] loss weight of that prediction: 1 for trained tokens, 0 for prompt and
 *                  padding positions (completion-only loss), or any non-negative weight.
 * The objective normalises by the sum of weights over the whole accumulated batch.
 */
#ifndef TINYR1_BATCH_H
#define TINYR1_BATCH_H

#include <stdint.h>

#include "tinyr1/base.h"

typedef struct tr_batch {
    int B, T;
    int32_t *tokens;
    int32_t *targets;
    float *weights;
    int32_t *lengths; /* [B]: real (unpadded) length of each sequence */
} tr_batch;

int tr_batch_alloc(tr_batch *batch, int B, int T, tr_err *err);
void tr_batch_free(tr_batch *batch);
/* Sum of weights (the number of trained tokens when weights are 0/1). */
double tr_batch_weight_sum(const tr_batch *batch);

#endif
