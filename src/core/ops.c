/* Kernels of the transformer; see include/tinyr1/ops.h for the conventions.
 * Legend: N rows (B*T), C input channels, OC output channels, H MLP width,
 * NH query heads, KVH key/value heads, HD head size. */
#include "tinyr1/ops.h"

#include "fastmath.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* Column blocks for reductions over rows: each thread owns a block of columns, so the sums
 * are race-free and summed in row order (reproducible) without per-thread partials. */
#define COL_BLOCK 64

/* Below this many multiply-adds a GEMM is not worth a parallel region. */
#define GEMM_SPLIT_MIN (1 << 18)

/* C[M, N] = alpha op(A) op(B) + beta C on every thread, then `bias` (if not NULL) added to each
 * row. Each thread computes its own block of rows of C (of columns when M is small) with a
 * single-threaded sgemm: OpenBLAS's own threading synchronises its threads several times
 * inside every GEMM (they spin in sched_yield while panels are packed), while independent
 * blocks need one barrier at the end. Inside a parallel region OpenBLAS runs on the calling
 * thread, so this is also safe to call from one. The partition depends only on the shapes
 * and the thread count, so results are bitwise reproducible at a thread count. */
static void sgemm_blocks(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
                         float alpha, const float *A, int lda, const float *B, int ldb,
                         float beta, float *C, int ldc, const float *bias) {
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if ((int64_t)M * N * K < GEMM_SPLIT_MIN) threads = 1;
    const int by_rows = M >= N || threads == 1, len = by_rows ? M : N;
#pragma omp parallel num_threads(threads)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int chunk = ((len + nt - 1) / nt + 15) / 16 * 16; /* whole micro-tiles per thread */
        int s = t * chunk, e = s + chunk < len ? s + chunk : len;
        if (s < e && by_rows) {
            const float *a = ta == CblasNoTrans ? A + (int64_t)s * lda : A + s;
            float *c = C + (int64_t)s * ldc;
            cblas_sgemm(CblasRowMajor, ta, tb, e - s, N, K, alpha, a, lda, B, ldb, beta, c, ldc);
            if (bias)
                for (int i = 0; i < e - s; i++)
                    for (int j = 0; j < N; j++) c[(int64_t)i * ldc + j] += bias[j];
        } else if (s < e) {
            const float *b = tb == CblasNoTrans ? B + s : B + (int64_t)s * ldb;
            cblas_sgemm(CblasRowMajor, ta, tb, M, e - s, K, alpha, A, lda, b, ldb, beta, C + s,
                        ldc);
            if (bias)
                for (int i = 0; i < M; i++)
                    for (int j = s; j < e; j++) C[(int64_t)i * ldc + j] += bias[j];
        }
    }
}

void tr_matmul_forward(float *out, const float *in, const float *w, const float *bias, int64_t N,
                       int C, int OC) {
    sgemm_blocks(CblasNoTrans, CblasTrans, (int)N, OC, C, 1.0f, in, C, w, C, 0.0f, out, OC, bias);
}

void tr_matmul_forward_naive(float *out, const float *in, const float *w, const float *bias,
                             int64_t N, int C, int OC) {
    for (int64_t n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) s += (double)in[n * C + c] * w[(int64_t)o * C + c];
            out[n * OC + o] = (float)s;
        }
}

void tr_matmul_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                        const float *w, int64_t N, int C, int OC) {
    if (din)
        sgemm_blocks(CblasNoTrans, CblasNoTrans, (int)N, C, OC, 1.0f, dout, OC, w, C, 1.0f, din,
                     C, NULL);
    if (dw)
        sgemm_blocks(CblasTrans, CblasNoTrans, OC, C, (int)N, 1.0f, dout, OC, in, C, 1.0f, dw, C,
                     NULL);
    if (dbias) {
        int nblocks = (OC + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            int o0 = blk * COL_BLOCK, o1 = o0 + COL_BLOCK < OC ? o0 + COL_BLOCK : OC;
            float acc[COL_BLOCK] = {0};
            for (int64_t n = 0; n < N; n++)
                for (int o = o0; o < o1; o++) acc[o - o0] += dout[n * OC + o];
            for (int o = o0; o < o1; o++) dbias[o] += acc[o - o0];
        }
    }
}

void tr_rmsnorm_forward(float *out, float *rstd, const float *in, const float *w, int64_t N, int C,
                        float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *x = in + n * C;
        float ss = tr_dot_lanes(x, x, C);
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        rstd[n] = r;
        float *y = out + n * C;
        for (int c = 0; c < C; c++) y[c] = x[c] * r * w[c];
    }
}

void tr_rmsnorm_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                         const float *rstd, int64_t N, int C) {
    /* y = x r w with r = (mean(x^2) + eps)^(-1/2), dr/dx_c = -r^3 x_c / C:
     * dx = r (dy*w) - r^3/C x sum_c(dy_c w_c x_c);   dw = sum_n dy x r */
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *x = in + n * C, *dy = dout + n * C;
        float r = rstd[n], dot = tr_dot3_lanes(dy, w, x, C);
        float k = r * r * r * dot / (float)C;
        float *dx = din + n * C;
        for (int c = 0; c < C; c++) dx[c] += r * dy[c] * w[c] - k * x[c];
    }
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        float acc[COL_BLOCK] = {0};
        for (int64_t n = 0; n < N; n++) {
            float r = rstd[n];
            for (int c = c0; c < c1; c++) acc[c - c0] += dout[n * C + c] * in[n * C + c] * r;
        }
        for (int c = c0; c < c1; c++) dw[c] += acc[c - c0];
    }
}

void tr_rope_tables(float *cos_t, float *sin_t, int max_seq, int HD, float theta) {
    int half = HD / 2;
    for (int p = 0; p < max_seq; p++)
        for (int i = 0; i < half; i++) {
            /* in double, so that long contexts keep exact angles */
            double freq = pow((double)theta, -2.0 * i / (double)HD);
            double a = (double)p * freq;
            cos_t[p * half + i] = (float)cos(a);
            sin_t[p * half + i] = (float)sin(a);
        }
}

static void rope_apply(float *x, const float *cos_t, const float *sin_t, int B, int T, int n_heads,
                       int HD, int64_t stride, int pos0, float sign) {
    int half = HD / 2;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *c = cos_t + (int64_t)(pos0 + t) * half;
            const float *s = sin_t + (int64_t)(pos0 + t) * half;
            float *row = x + ((int64_t)b * T + t) * stride;
            for (int h = 0; h < n_heads; h++) {
                float *v = row + h * HD;
                for (int i = 0; i < half; i++) {
                    float a = v[i], bb = v[i + half], si = sign * s[i];
                    v[i] = a * c[i] - bb * si;
                    v[i + half] = bb * c[i] + a * si;
                }
            }
        }
}

void tr_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int n_heads,
                     int HD, int64_t stride, int pos0) {
    rope_apply(x, cos_t, sin_t, B, T, n_heads, HD, stride, pos0, 1.0f);
}

void tr_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T,
                      int n_heads, int HD, int64_t stride, int pos0) {
    rope_apply(dx, cos_t, sin_t, B, T, n_heads, HD, stride, pos0, -1.0f);
}

/* Query rows are processed in blocks; a block of rows [i0, i1) only needs keys [0, i1), so
 * the GEMMs skip most of the masked upper triangle. */
#define ATT_BLOCK 64

void tr_attention_forward(float *out, float *probs, const float *qkv, int B, int T, int NH, int KVH,
                          int HD) {
    const int64_t S = (int64_t)(NH + 2 * KVH) * HD, QD = (int64_t)NH * HD;
    const int group = NH / KVH;
    const float scale = 1.0f / sqrtf((float)HD);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int g = h / group;
            const float *q = qkv + (int64_t)b * T * S + h * HD;
            const float *k = qkv + (int64_t)b * T * S + QD + g * HD;
            const float *v = qkv + (int64_t)b * T * S + QD + (int64_t)KVH * HD + g * HD;
            float *P = probs + ((int64_t)b * NH + h) * T * T;
            float *o = out + (int64_t)b * T * QD + h * HD;
            for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, m = i1 - i0;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, i1, HD, scale, q + i0 * S,
                            (int)S, k, (int)S, 0.0f, P + (int64_t)i0 * T, T);
                for (int i = i0; i < i1; i++) {
                    float *row = P + (int64_t)i * T;
                    float mx = tr_max_lanes(row, i + 1);
                    for (int j = 0; j <= i; j++) row[j] = tr_exp_fast(row[j] - mx);
                    float inv = 1.0f / tr_sum_lanes(row, i + 1);
                    for (int j = 0; j <= i; j++) row[j] *= inv;
                    for (int j = i + 1; j < T; j++) row[j] = 0.0f;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, HD, i1, 1.0f,
                            P + (int64_t)i0 * T, T, v, (int)S, 0.0f, o + i0 * QD, (int)QD);
            }
        }
}

void tr_attention_forward_naive(float *out, float *probs, const float *qkv, int B, int T, int NH,
                                int KVH, int HD) {
    const int64_t S = (int64_t)(NH + 2 * KVH) * HD, QD = (int64_t)NH * HD;
    const double scale = 1.0 / sqrt((double)HD);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int g = h / (NH / KVH);
            float *P = probs + ((int64_t)b * NH + h) * T * T;
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((int64_t)b * T + i) * S + h * HD;
                double mx = -INFINITY, sum = 0, sc[T];
                for (int j = 0; j <= i; j++) {
                    const float *k = qkv + ((int64_t)b * T + j) * S + QD + g * HD;
                    double d = 0;
                    for (int c = 0; c < HD; c++) d += (double)q[c] * k[c];
                    sc[j] = d * scale;
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int j = 0; j <= i; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int j = 0; j < T; j++) P[(int64_t)i * T + j] = j <= i ? (float)(sc[j] / sum) : 0;
                for (int c = 0; c < HD; c++) {
                    double acc = 0;
                    for (int j = 0; j <= i; j++)
                        acc += sc[j] / sum *
                               qkv[((int64_t)b * T + j) * S + QD + (int64_t)KVH * HD + g * HD + c];
                    out[((int64_t)b * T + i) * QD + h * HD + c] = (float)acc;
                }
            }
        }
}

void tr_attention_backward(float *dqkv, float *probs, float *scratch, const float *dout,
                           const float *qkv, int B, int T, int NH, int KVH, int HD) {
    const int64_t S = (int64_t)(NH + 2 * KVH) * HD, QD = (int64_t)NH * HD;
    const int group = NH / KVH;
    const float scale = 1.0f / sqrtf((float)HD);
    /* One task per (batch, kv-head): all query heads that share a key/value head are handled
     * by the same thread, so dK and dV are written by exactly one thread. */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < KVH; g++) {
            float *dP = scratch + (int64_t)omp_get_thread_num() * T * T;
            const float *base = qkv + (int64_t)b * T * S;
            const float *k = base + QD + g * HD, *v = base + QD + (int64_t)KVH * HD + g * HD;
            float *dbase = dqkv + (int64_t)b * T * S;
            float *dk = dbase + QD + g * HD, *dv = dbase + QD + (int64_t)KVH * HD + g * HD;
            for (int h = g * group; h < (g + 1) * group; h++) {
                const float *q = base + h * HD;
                float *dq = dbase + h * HD;
                const float *dO = dout + (int64_t)b * T * QD + h * HD;
                float *P = probs + ((int64_t)b * NH + h) * T * T;
                for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                    int i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, m = i1 - i0;
                    float *Pb = P + (int64_t)i0 * T, *dPb = dP + (int64_t)i0 * T;
                    /* dP = dO V^T;  dV += P^T dO */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, i1, HD, 1.0f,
                                dO + i0 * QD, (int)QD, v, (int)S, 0.0f, dPb, T);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i1, HD, m, 1.0f, Pb, T,
                                dO + i0 * QD, (int)QD, 1.0f, dv, (int)S);
                    /* softmax backward: dS = P (dP - sum_j dP P) * scale, written over P */
                    for (int i = i0; i < i1; i++) {
                        float *p = P + (int64_t)i * T, *dp = dP + (int64_t)i * T;
                        float dot = tr_dot_lanes(p, dp, i + 1);
                        for (int j = 0; j <= i; j++) p[j] = p[j] * (dp[j] - dot) * scale;
                    }
                    /* dQ += dS K;  dK += dS^T Q  (dS is zero above the diagonal) */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, HD, i1, 1.0f, Pb, T,
                                k, (int)S, 1.0f, dq + i0 * S, (int)S);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i1, HD, m, 1.0f, Pb, T,
                                q + i0 * S, (int)S, 1.0f, dk, (int)S);
                }
            }
        }
}

void tr_swiglu_forward(float *out, const float *gu, int64_t N, int H) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *g = gu + n * 2 * H, *u = g + H;
        float *o = out + n * H;
        for (int i = 0; i < H; i++) o[i] = g[i] * tr_sigmoid_fast(g[i]) * u[i];
    }
}

void tr_swiglu_backward(float *dgu, const float *dout, const float *gu, int64_t N, int H) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *g = gu + n * 2 * H, *u = g + H, *d = dout + n * H;
        float *dg = dgu + n * 2 * H, *du = dg + H;
        for (int i = 0; i < H; i++) {
            float s = tr_sigmoid_fast(g[i]), silu = g[i] * s;
            du[i] += d[i] * silu;
            dg[i] += d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
        }
    }
}

void tr_embedding_forward(float *out, const int32_t *tokens, const float *embed, int64_t N, int C) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        memcpy(out + n * C, embed + (int64_t)tokens[n] * C, (size_t)C * sizeof(float));
}

void tr_embedding_backward(float *dembed, const float *dout, const int32_t *tokens, int64_t N,
                           int C) {
    /* The same token may appear many times, so rows cannot be split between threads; each
     * thread owns a block of columns instead and adds the rows in order (reproducible). */
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (N * C > 65536)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        for (int64_t n = 0; n < N; n++) {
            float *d = dembed + (int64_t)tokens[n] * C;
            const float *g = dout + n * C;
            for (int c = c0; c < c1; c++) d[c] += g[c];
        }
    }
}

void tr_add_inplace(float *y, const float *x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}
