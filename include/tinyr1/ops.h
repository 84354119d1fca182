/* tinyr1 — the kernels of the transformer, in forward/backward pairs.
 *
 * Conventions (as in llm.c):
 *   - outputs first, const inputs after; row-major; N = number of rows (positions, B*T).
 *   - every _backward ACCUMULATES (+=) into its gradient outputs (din, dweight, dbias):
 *     callers zero them when a fresh gradient is wanted. This makes residual branches and
 *     tied weights correct without special cases.
 *   - loops are OpenMP-parallel only where writes do not overlap; reductions over rows
 *     (dweight of a norm, dbias) use per-thread partial sums combined in thread order, so
 *     results are bitwise reproducible at a fixed thread count.
 *   - GEMMs go through cblas_sgemm (OpenBLAS, OpenMP build), one single-threaded call per
 *     thread on its own block of output rows (or columns): called outside our parallel
 *     regions they use all threads; called inside one they run on the calling thread.
 *   - exp in softmax and SiLU is a vectorised polynomial (src/core/fastmath.h, relative error
 *     below 2e-7), the same one the inference kernels use.
 * Each optimised kernel has a naive twin (suffix _naive) used only by the tests.
 */
#ifndef TINYR1_OPS_H
#define TINYR1_OPS_H

#include <stdint.h>

/* out[N, OC] = in[N, C] @ w[OC, C]^T (+ bias[OC] if not NULL) */
void tr_matmul_forward(float *out, const float *in, const float *w, const float *bias, int64_t N,
                       int C, int OC);
void tr_matmul_forward_naive(float *out, const float *in, const float *w, const float *bias,
                             int64_t N, int C, int OC);
/* din[N, C] += dout @ w;  dw[OC, C] += dout^T @ in;  dbias[OC] += colsum(dout).
 * Any of din, dw, dbias may be NULL (not wanted). */
void tr_matmul_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                        const float *w, int64_t N, int C, int OC);

/* RMSNorm: out = in * rstd * w, rstd[n] = 1 / sqrt(mean(in[n]^2) + eps) (saved for backward) */
void tr_rmsnorm_forward(float *out, float *rstd, const float *in, const float *w, int64_t N, int C,
                        float eps);
/* din += d/din, dw += d/dw, given the rstd saved by the forward */
void tr_rmsnorm_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                         const float *rstd, int64_t N, int C);

/* RoPE tables: cos/sin[pos * (HD/2) + i] = cos/sin(pos * theta^(-2i/HD)), pos < max_seq */
void tr_rope_tables(float *cos_t, float *sin_t, int max_seq, int HD, float theta);
/* In-place rotary embedding ("rotate half": dimension i pairs with i + HD/2) of n_heads heads
 * of size HD stored at x[(b*T + t) * stride + h*HD]. pos0 offsets the positions
 * (position of token t is pos0 + t). */
void tr_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int n_heads,
                     int HD, int64_t stride, int pos0);
/* The gradient of a rotation is the inverse rotation (in place, on dx). */
void tr_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T,
                      int n_heads, int HD, int64_t stride, int pos0);

/* Causal self-attention with grouped-query heads.
 * qkv[(b*T+t) * S + ...]: the query of head h at column h*HD, the key of kv-head g at
 * column NH*HD + g*HD, its value at NH*HD + KVH*HD + g*HD (S = (NH + 2 KVH) * HD).
 * out[(b*T+t) * NH*HD + h*HD]; probs[B, NH, T, T] (softmax rows; saved for backward).
 * Query head h uses kv-head h / (NH / KVH); scale 1/sqrt(HD). */
void tr_attention_forward(float *out, float *probs, const float *qkv, int B, int T, int NH, int KVH,
                          int HD);
void tr_attention_forward_naive(float *out, float *probs, const float *qkv, int B, int T, int NH,
                                int KVH, int HD);
/* dqkv += gradient w.r.t. qkv. `scratch` holds omp_get_max_threads() * T * T floats.
 * probs is overwritten (used as workspace). */
void tr_attention_backward(float *dqkv, float *probs, float *scratch, const float *dout,
                           const float *qkv, int B, int T, int NH, int KVH, int HD);

/* SwiGLU: gu[N, 2H] holds gate (columns 0..H-1) and up (H..2H-1); out[N,H] = silu(gate)*up */
void tr_swiglu_forward(float *out, const float *gu, int64_t N, int H);
/* dgu += gradient w.r.t. [gate, up] */
void tr_swiglu_backward(float *dgu, const float *dout, const float *gu, int64_t N, int H);

/* out[n] = embed[tokens[n]] (tokens already validated to be in [0, V)) */
void tr_embedding_forward(float *out, const int32_t *tokens, const float *embed, int64_t N, int C);
/* dembed[tokens[n]] += dout[n] */
void tr_embedding_backward(float *dembed, const float *dout, const int32_t *tokens, int64_t N,
                           int C);

/* y += x (residual) */
void tr_add_inplace(float *y, const float *x, int64_t n);

#endif
