/* Inference-only kernels (include/tinyr1/gen.h, "kernels of the inference path"): the
 * matmul of the decode path with F32 or BF16 weights, and single-threaded row kernels
 * (RMSNorm, RoPE, SwiGLU) for callers that already run inside a parallel region (the
 * shared kernels of ops.c open their own `omp parallel for`, which costs a nested region
 * per call there).
 *
 * Legend: R input rows, C input columns (the dot-product length), n output columns (weight
 * rows), HD head size, H MLP width.
 *
 * Batch invariance: every output element is computed by one fixed sequence of operations
 * (8 FMA lanes over the columns, the lanes summed in one order, then the leftover columns
 * one by one) whatever R, n or the element's place in its tile. The BF16 kernel performs
 * exactly the F32 kernel's operations on the widened weights (bf16 -> f32 is exact), so
 * its results are bitwise those of the F32 kernel on the BF16-rounded weights. */
#include <math.h>
#include <string.h>

#include "fastmath.h"
#include "tinyr1/gen.h"
#include "tinyr1/io.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define TR_OPSI_AVX2 1
#else
#define TR_OPSI_AVX2 0
#endif

static inline float bf16_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float ld_f32(const float *p) {
    return *p;
}
static inline float ld_bf16(const uint16_t *p) {
    return bf16_f32(*p);
}

#if TR_OPSI_AVX2
static inline __m256 ldv_f32(const float *p) {
    return _mm256_loadu_ps(p);
}
/* 8 bf16 -> 8 f32: zero-extend to 32 bits, shift into the high half. */
static inline __m256 ldv_bf16(const uint16_t *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* The sum of the 8 lanes, in the order ((v0+v1)+(v2+v3)) + ((v4+v5)+(v6+v7)): the order
 * in which hsum8x8 sums each of its vectors, so both give the same bits. */
static inline float hsum8(__m256 v) {
    __m256 h = _mm256_hadd_ps(v, v);
    h = _mm256_hadd_ps(h, h);
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

/* The horizontal sums of 8 vectors, as one vector (p[0]'s sum in lane 0, ...). */
static inline __m256 hsum8x8(const __m256 *p) {
    __m256 a = _mm256_hadd_ps(p[0], p[1]), b = _mm256_hadd_ps(p[2], p[3]);
    __m256 c = _mm256_hadd_ps(p[4], p[5]), d = _mm256_hadd_ps(p[6], p[7]);
    a = _mm256_hadd_ps(a, b);
    c = _mm256_hadd_ps(c, d);
    return _mm256_add_ps(_mm256_permute2f128_ps(a, c, 0x20), _mm256_permute2f128_ps(a, c, 0x31));
}

/* An RB x OB tile: rows in[0..RB) (stride ldi) against weight rows w[0..OB) (stride C) of
 * element type WT (loaded by LDV / LD). The one way a dot product is finished: the 8 lanes
 * summed (hsum8's order), then the columns past the last multiple of 8 added one by one. */
#define TILE(NAME, WT, LDV, LD, RB, OB)                                                            \
    static void NAME(float *out, int64_t ldo, const float *in, int64_t ldi, const WT *w, int C,    \
                     const float *bias, int accumulate) {                                          \
        __m256 acc[RB][OB];                                                                        \
        for (int i = 0; i < RB; i++)                                                               \
            for (int j = 0; j < OB; j++) acc[i][j] = _mm256_setzero_ps();                          \
        int c = 0;                                                                                 \
        for (; c + 8 <= C; c += 8) {                                                               \
            __m256 wv[OB];                                                                         \
            for (int j = 0; j < OB; j++) wv[j] = LDV(w + (int64_t)j * C + c);                      \
            for (int i = 0; i < RB; i++) {                                                         \
                __m256 xv = _mm256_loadu_ps(in + i * ldi + c);                                     \
                for (int j = 0; j < OB; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);    \
            }                                                                                      \
        }                                                                                          \
        float sums[RB][OB];                                                                        \
        if (RB * OB == 8) { /* eight lane sums at once, in hsum8's order */                        \
            _mm256_storeu_ps(&sums[0][0], hsum8x8(&acc[0][0]));                                    \
        } else {                                                                                   \
            for (int i = 0; i < RB; i++)                                                           \
                for (int j = 0; j < OB; j++) sums[i][j] = hsum8(acc[i][j]);                        \
        }                                                                                          \
        for (int i = 0; i < RB; i++)                                                               \
            for (int j = 0; j < OB; j++) {                                                         \
                const float *x = in + i * ldi;                                                     \
                const WT *wr = w + (int64_t)j * C;                                                 \
                float s = sums[i][j];                                                              \
                for (int k = c; k < C; k++) s += x[k] * LD(wr + k);                                \
                if (bias) s += bias[j];                                                            \
                float *o = out + i * ldo + j;                                                      \
                *o = accumulate ? *o + s : s;                                                      \
            }                                                                                      \
    }
#else
#define TILE(NAME, WT, LDV, LD, RB, OB)                                                            \
    static void NAME(float *out, int64_t ldo, const float *in, int64_t ldi, const WT *w, int C,    \
                     const float *bias, int accumulate) {                                          \
        for (int i = 0; i < RB; i++)                                                               \
            for (int j = 0; j < OB; j++) {                                                         \
                const float *x = in + i * ldi;                                                     \
                const WT *wr = w + (int64_t)j * C;                                                 \
                float s = 0.0f;                                                                    \
                for (int k = 0; k < C; k++) s += x[k] * LD(wr + k);                                \
                if (bias) s += bias[j];                                                            \
                float *o = out + i * ldo + j;                                                      \
                *o = accumulate ? *o + s : s;                                                      \
            }                                                                                      \
    }
#endif

/* The tile schedule, one body for both weight types: for R >= 4 two weight rows at a time
 * against every input row (4 at a time): the weight rows stay in L1 while the inputs are
 * reused from L1/L2, so each weight is read from memory once per call. For R = 1..3
 * (matrix-vector) eight weight rows per pass. */
#define MATMUL(NAME, WT, T42, T12, T18, T11)                                                       \
    void NAME(float *out, int64_t ldo, const float *in, int64_t ldi, int R, const WT *w,           \
              const float *bias, int C, int n, int accumulate) {                                   \
        int j = 0;                                                                                 \
        if (R >= 4) {                                                                              \
            for (; j + 2 <= n; j += 2) {                                                           \
                const WT *wj = w + (int64_t)j * C;                                                 \
                const float *bj = bias ? bias + j : NULL;                                          \
                int r = 0;                                                                         \
                for (; r + 4 <= R; r += 4)                                                         \
                    T42(out + r * ldo + j, ldo, in + r * ldi, ldi, wj, C, bj, accumulate);         \
                for (; r < R; r++)                                                                 \
                    T12(out + r * ldo + j, ldo, in + r * ldi, ldi, wj, C, bj, accumulate);         \
            }                                                                                      \
        } else {                                                                                   \
            for (; j + 8 <= n; j += 8)                                                             \
                for (int r = 0; r < R; r++)                                                        \
                    T18(out + r * ldo + j, ldo, in + r * ldi, ldi, w + (int64_t)j * C, C,          \
                        bias ? bias + j : NULL, accumulate);                                       \
        }                                                                                          \
        for (; j < n; j++)                                                                         \
            for (int r = 0; r < R; r++)                                                            \
                T11(out + r * ldo + j, ldo, in + r * ldi, ldi, w + (int64_t)j * C, C,              \
                    bias ? bias + j : NULL, accumulate);                                           \
    }

TILE(f32_4x2, float, ldv_f32, ld_f32, 4, 2)
TILE(f32_1x2, float, ldv_f32, ld_f32, 1, 2)
TILE(f32_1x8, float, ldv_f32, ld_f32, 1, 8)
TILE(f32_1x1, float, ldv_f32, ld_f32, 1, 1)
TILE(bf16_4x2, uint16_t, ldv_bf16, ld_bf16, 4, 2)
TILE(bf16_1x2, uint16_t, ldv_bf16, ld_bf16, 1, 2)
TILE(bf16_1x8, uint16_t, ldv_bf16, ld_bf16, 1, 8)
TILE(bf16_1x1, uint16_t, ldv_bf16, ld_bf16, 1, 1)

MATMUL(tr_infer_matmul, float, f32_4x2, f32_1x2, f32_1x8, f32_1x1)
MATMUL(tr_infer_matmul_bf16, uint16_t, bf16_4x2, bf16_1x2, bf16_1x8, bf16_1x1)

void tr_bf16_round_to(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = tr_f32_to_bf16(src[i]);
}

void tr_bf16_widen(float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_f32(src[i]);
}

int tr_f32_is_bf16(const float *x, size_t n) {
    const uint32_t *u = (const uint32_t *)(const void *)x;
    uint32_t any = 0;
    for (size_t i = 0; i < n; i++) any |= u[i] & 0xffffu;
    return any == 0;
}

/* ---- row kernels (single-threaded twins of ops.c's, same operations in the same order) */

void tr_infer_rmsnorm_rows(float *out, const float *in, const float *w, int R, int C, float eps) {
    for (int r = 0; r < R; r++) {
        const float *x = in + (int64_t)r * C;
        float ss = tr_dot_lanes(x, x, C);
        float rs = 1.0f / sqrtf(ss / (float)C + eps);
        float *y = out + (int64_t)r * C;
        for (int c = 0; c < C; c++) y[c] = x[c] * rs * w[c];
    }
}

void tr_infer_rope_rows(float *x, const float *cos_t, const float *sin_t, int T, int n_heads,
                        int HD, int64_t stride, int pos0) {
    const int half = HD / 2;
    for (int t = 0; t < T; t++) {
        const float *c = cos_t + (int64_t)(pos0 + t) * half, *s = sin_t + (int64_t)(pos0 + t) * half;
        float *row = x + (int64_t)t * stride;
        for (int h = 0; h < n_heads; h++) {
            float *v = row + (int64_t)h * HD;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}


/* ---- attention of one query row over cached keys and values ------------------------ */

/* sc[t] = scale * q . K[t] for t < n (K rows of HD floats). */
static void scores(float *sc, const float *q, const float *K, int n, int HD, float scale) {
    int t = 0;
#if TR_OPSI_AVX2
    if (HD % 8 == 0) {
        const __m256 vs = _mm256_set1_ps(scale);
        for (; t + 8 <= n; t += 8) {
            /* eight keys at once, each q vector loaded once (per key: the same operations
             * as the single-key loop below) */
            const float *k = K + (size_t)t * HD;
            __m256 p[8], qv = _mm256_loadu_ps(q);
            for (int u = 0; u < 8; u++) p[u] = _mm256_mul_ps(qv, _mm256_loadu_ps(k + u * HD));
            for (int i = 8; i < HD; i += 8) {
                qv = _mm256_loadu_ps(q + i);
                for (int u = 0; u < 8; u++)
                    p[u] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + u * HD + i), p[u]);
            }
            _mm256_storeu_ps(sc + t, _mm256_mul_ps(hsum8x8(p), vs));
        }
        for (; t < n; t++) {
            const float *k = K + (size_t)t * HD;
            __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(q), _mm256_loadu_ps(k));
            for (int i = 8; i < HD; i += 8)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), acc);
            sc[t] = hsum8(acc) * scale;
        }
        return;
    }
#endif
    for (; t < n; t++) {
        const float *k = K + (size_t)t * HD;
        float s = 0.0f;
        for (int i = 0; i < HD; i++) s += q[i] * k[i];
        sc[t] = s * scale;
    }
}

#if TR_OPSI_AVX2
/* acc[0..NV) += sum_t p[t] V[t][c0 + 8i ..] for NV vectors of one 32-column block. */
#define WSUM(NV)                                                                                   \
    do {                                                                                           \
        __m256 acc[NV];                                                                            \
        for (int i = 0; i < NV; i++) acc[i] = _mm256_setzero_ps();                                 \
        for (int t = 0; t < n; t++) {                                                              \
            const float *v = V + (size_t)t * HD + c0;                                              \
            __m256 pt = _mm256_broadcast_ss(p + t);                                                \
            for (int i = 0; i < NV; i++)                                                           \
                acc[i] = _mm256_fmadd_ps(pt, _mm256_loadu_ps(v + 8 * i), acc[i]);                  \
        }                                                                                          \
        for (int i = 0; i < NV; i++) _mm256_storeu_ps(o + c0 + 8 * i, acc[i]);                     \
    } while (0)
#endif

/* o[HD] = sum_t p[t] V[t] for t < n. */
static void weighted_sum(float *o, const float *p, const float *V, int n, int HD) {
#if TR_OPSI_AVX2
    if (HD % 8 == 0) {
        for (int c0 = 0; c0 < HD; c0 += 32) {
            switch ((HD - c0) / 8) {
            case 1:
                WSUM(1);
                break;
            case 2:
                WSUM(2);
                break;
            case 3:
                WSUM(3);
                break;
            default:
                WSUM(4);
                break;
            }
        }
        return;
    }
#endif
    memset(o, 0, (size_t)HD * sizeof(float));
    for (int t = 0; t < n; t++)
        for (int i = 0; i < HD; i++) o[i] += p[t] * V[(size_t)t * HD + i];
}

/* The same SiLU as ops.c's tr_swiglu_forward (fastmath.h), so that the KV-cache path
 * matches the training forward */
void tr_infer_swiglu_rows(float *out, int64_t ldo, const float *gu, int R, int H) {
    for (int r = 0; r < R; r++) {
        const float *g = gu + (int64_t)r * 2 * H, *u = g + H;
        float *o = out + (int64_t)r * ldo;
        for (int i = 0; i < H; i++) o[i] = g[i] * tr_sigmoid_fast(g[i]) * u[i];
    }
}

/* In place: sc[t] = softmax(sc[0..n))[t], with the exp of the training kernel. */
static void softmax_inplace(float *sc, int n) {
    float mx = sc[0];
    for (int t = 1; t < n; t++) mx = sc[t] > mx ? sc[t] : mx;
    for (int t = 0; t < n; t++) sc[t] = tr_exp_fast(sc[t] - mx);
    float sum = 0.0f;
    for (int t = 0; t < n; t++) sum += sc[t];
    float inv = 1.0f / sum;
    for (int t = 0; t < n; t++) sc[t] *= inv;
}

void tr_infer_attend(float *o, const float *q, const float *K, const float *V, int n, int HD,
                     float scale, float *sc) {
    scores(sc, q, K, n, HD, scale);
    softmax_inplace(sc, n);
    weighted_sum(o, sc, V, n, HD);
}
