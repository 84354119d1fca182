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

/* ---- a token stream for pretraining ---------------------------------------------------
 * All documents' tokens concatenated (each followed by an end-of-text id). A batch takes
 * B random windows of T+1 tokens: tokens = window[0..T), targets = window[1..T], all
 * weights 1. The window starts come from the data RNG, so the sequence of batches is a
 * pure function of (seed, step): checkpoints store the RNG and resume exactly. */
typedef struct tr_token_stream {
    int32_t *ids;
    size_t n;
} tr_token_stream;

/* Takes ownership of ids (malloc'd). Needs n >= 2. */
int tr_token_stream_init(tr_token_stream *s, int32_t *ids, size_t n, tr_err *err);
void tr_token_stream_free(tr_token_stream *s);
/* Fills batch (B x T already allocated) from windows chosen with rng. T + 1 <= n. */
void tr_token_stream_sample(const tr_token_stream *s, tr_batch *batch, tr_rng *rng);

#endif
