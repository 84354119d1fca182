/* tinyr1 — training objectives: functions from logits to a loss and a gradient on the logits.
 *
 * The model never knows which objective it serves (DESIGN.md, "the one central seam"):
 *   tokens -> model_forward -> logits[N, V] -> objective -> loss, dlogits[N, V] -> backward.
 * N is the number of positions (B*T flattened). Every objective takes per-position weights
 * (0 for prompt and padding positions) and a normalizer `norm`: the sum of weights over the
 * whole accumulated batch (all micro-batches, all ranks), so that the gradient does not
 * depend on how a batch is split. Losses returned are this micro-batch's contribution:
 * summing them over the micro-batches gives the loss of the whole batch.
 * dlogits is overwritten (not accumulated); it may alias logits.
 */
#ifndef TINYR1_OBJECTIVES_H
#define TINYR1_OBJECTIVES_H

#include <stdint.h>

#include "tinyr1/base.h"

/* Cross-entropy with per-position weights.
 *   loss = sum_n w_n * (logsumexp(z_n) - z_n[y_n]) / norm
 *   dlogits_n = w_n * (softmax(z_n) - onehot(y_n)) / norm
 * Positions with w_n == 0 get dlogits 0 and their target is not read (may be -1).
 * Returns -1 (with err) on a target outside [0, V) at a weighted position. */
int tr_ce_loss(float *dlogits, double *loss, const float *logits, const int32_t *targets,
               const float *weights, int64_t N, int V, double norm, tr_err *err);

#endif
