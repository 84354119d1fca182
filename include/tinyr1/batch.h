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
/* ---- filling a batch from tokenized examples -------------------------------------
 * One example is a prompt (not trained) followed by a completion (trained). The caller
 * appends the end token (EOS / <|im_end|>) to the completion, so it is trained too. Plain
 * ids (pretraining text) are an example with n_prompt = 0: every token but the first is
 * trained.
 *
 * With s = prompt ++ completion (L tokens, P of them prompt) placed in row b:
 *   tokens[b,t]  = s[t]               for t < min(L, T), pad_id after
 *   targets[b,t] = s[t+1]             for t < min(L, T+1) - 1, -1 after
 *   weights[b,t] = 1 if t+1 >= P      (the target is a completion token), else 0;
 *                  0 wherever targets is -1
 *   lengths[b]   = min(L, T)
 * A row of T positions holds up to T+1 tokens (the last one only as a target).
 *
 * Truncation, when L > T+1:
 *   TR_TRUNC_RIGHT  keep the first T+1 tokens: the end of the completion (with its end
 *                   token) is not trained. The default.
 *   TR_TRUNC_LEFT   keep the last T+1 tokens: the completion's end is kept and the prompt
 *                   loses its beginning (if the completion alone is longer than T+1, its
 *                   beginning is lost too). P above is then counted in the kept window.
 *   TR_TRUNC_ERROR  fail with a message naming the example.
 */
typedef struct tr_seq {
    const int32_t *prompt; /* n_prompt ids (NULL allowed when n_prompt is 0) */
    int64_t n_prompt;
    const int32_t *completion; /* n_completion ids, the end token included */
    int64_t n_completion;
} tr_seq;

typedef enum { TR_TRUNC_RIGHT = 0, TR_TRUNC_LEFT = 1, TR_TRUNC_ERROR = 2 } tr_trunc;

typedef struct tr_batch_fill_stats {
    int n_truncated;   /* examples that did not fit in T+1 tokens */
    int64_t n_dropped; /* tokens dropped by truncation */
    int64_t n_trained; /* positions with weight 1 */
} tr_batch_fill_stats;

/* Fills an allocated batch with n <= B examples (rows n..B-1 become all padding: length 0,
 * targets -1, weights 0). stats may be NULL. Ids are copied as they are (no vocabulary
 * check here). Returns 0, or -1 (n > B, negative lengths, or TR_TRUNC_ERROR on a long
 * example). */
int tr_batch_fill(tr_batch *batch, const tr_seq *seqs, int n, int32_t pad_id, tr_trunc trunc,
                  tr_batch_fill_stats *stats, tr_err *err);

/* Fills the batch from a token stream for pretraining: row r takes the T+1 ids starting at
 * ids[start + r*T] (consecutive rows overlap by one id, so every id after the first is a
 * target exactly once); all weights 1. A row running past n_ids is padded; rows that
 * would start at or past n_ids - 1 are empty. Returns the number of ids consumed
 * (min(B*T, n_ids - start - 1), 0 when fewer than 2 ids are left): the next call's start
 * is start + that. */
int64_t tr_batch_fill_stream(tr_batch *batch, const int32_t *ids, int64_t n_ids, int64_t start,
                             int32_t pad_id);

#endif
