/* Inference-only kernels (include/tinyr1/gen.h, "kernels of the inference path"): the
 * matmul of the decode path on weights packed in panels (F32 or BF16), and single-threaded
 * row kernels (RMSNorm, RoPE, SwiGLU) for callers that already run inside a parallel region
 * (the shared kernels of ops.c open their own `omp parallel for`, which costs a nested
 * region per call there).
 *
 * Legend: R input rows, C input columns (the dot-product length), n output columns (weight
 * rows), P = TR_PANEL = 16 outputs per panel, MR rows and NP panels per register tile,
 * HD head size, H MLP width.
 *
 * The matmul is an outer product: for each input column k, the 16 weights of a panel
 * (one 64-byte line) are multiplied by the broadcast input of each of the tile's rows and
 * added to 2 x MR accumulator vectors. At MR = 6 that is 12 FMAs for 8 loads, with 12
 * independent chains (enough to cover the FMA latency). The weights stream from memory once
 * per call: panels outer, row tiles inner (the later row tiles read the panel from L1/L2).
 *
 * Batch invariance: every output element is ONE chain of fused multiply-adds over k = 0,
 * 1, ..., C - 1 from 0, then + bias, then added onto the output (accumulate), whatever R,
 * the tile it falls in, its lane or the column range asked for: results do not depend on
 * how a batch is composed or split. Small R uses tiles of several panels (1 x 4, 2 x 2,
 * 3 x 2) so that batch 1 still has 8 chains in flight; the order per element is the same.
 * The BF16 kernel performs exactly the F32 kernel's operations on the widened weights
 * (bf16 -> f32 is exact), so its results are bitwise those of the F32 kernel on the
 * BF16-rounded weights. */
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

/* tr_bf16_to_f32 (io.h), inlined here: the scalar kernels widen element by element */
static inline float bf16_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- packing ------------------------------------------------------------------------ */

size_t tr_panels_numel(int n, int C) {
    return (size_t)((n + TR_PANEL - 1) / TR_PANEL) * TR_PANEL * (size_t)C;
}

/* dst panels of w [n, C] with element conversion CONV(w[j * C + k]); parallel over panels
 * (one pass over the matrix, the loads of a panel's 16 rows run side by side). */
#define PACK(NAME, DT, ST, CONV)                                                                   \
    void NAME(DT *dst, const ST *w, int n, int C) {                                                \
        const int np = (n + TR_PANEL - 1) / TR_PANEL;                                              \
        _Pragma("omp parallel for schedule(static)") for (int p = 0; p < np; p++) {                \
            DT *d = dst + (size_t)p * TR_PANEL * C;                                                \
            for (int i = 0; i < TR_PANEL; i++) {                                                   \
                int j = p * TR_PANEL + i;                                                          \
                const ST *row = w + (size_t)j * C;                                                 \
                if (j < n)                                                                         \
                    for (int k = 0; k < C; k++) d[(size_t)k * TR_PANEL + i] = CONV(row[k]);        \
                else                                                                               \
                    for (int k = 0; k < C; k++) d[(size_t)k * TR_PANEL + i] = 0;                   \
            }                                                                                      \
        }                                                                                          \
    }
#define CONV_SAME(x) (x)
PACK(tr_panels_pack, float, float, CONV_SAME)
PACK(tr_panels_pack_bf16, uint16_t, float, tr_f32_to_bf16)
PACK(tr_panels_repack_bf16, uint16_t, uint16_t, CONV_SAME)

void tr_panels_row(float *dst, const tr_panels *w, int row) {
    const size_t base = (size_t)(row / TR_PANEL) * TR_PANEL * w->C + row % TR_PANEL;
    for (int k = 0; k < w->C; k++) {
        size_t i = base + (size_t)k * TR_PANEL;
        dst[k] = w->f32 ? w->f32[i] : bf16_f32(w->bf16[i]);
    }
}

/* ---- register tiles ------------------------------------------------------------------
 * A tile: rows in[0..MR) (stride ldi) against NP consecutive panels starting at P (panel
 * stride ps = 16 C). Its columns are c0 .. c0 + 16 NP relative to out's first column; only
 * those in [0, jn) are written (out[r * ldo + c], bias[c]). pf: the NP panels the schedule
 * reads next, prefetched line by line alongside (the hardware prefetchers stop at every
 * 4 KB page: without it the first row tile of each panel waits on memory). */
typedef void (*tile_fn)(float *out, int64_t ldo, const float *in, int64_t ldi, const void *P,
                        int64_t ps, int C, const float *bias, int accumulate, int c0, int jn,
                        const char *pf);

/* The one way an output element is finished: s (+ bias), then onto out (accumulate). */
static inline void finish1(float *o, float s, const float *bias, int accumulate, int c) {
    if (bias) s += bias[c];
    o[c] = accumulate ? o[c] + s : s;
}

#if TR_OPSI_AVX2
static inline void ldp_f32(const void *P, int64_t i, __m256 *w) {
    const float *p = (const float *)P + i;
    w[0] = _mm256_loadu_ps(p);
    w[1] = _mm256_loadu_ps(p + 8);
}
/* 8 bf16 -> 8 f32: zero-extend to 32 bits, shift into the high half (exact). */
static inline __m256 ld8_bf16(const uint16_t *p) {
    __m256i a = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(a, 16));
}
static inline void ldp_bf16(const void *P, int64_t i, __m256 *w) {
    const uint16_t *p = (const uint16_t *)P + i;
    w[0] = ld8_bf16(p);
    w[1] = ld8_bf16(p + 8);
}

/* The sum of the 8 lanes, in the order ((v0+v1)+(v2+v3)) + ((v4+v5)+(v6+v7)): the order
 * in which hsum8x8 sums each of its vectors, so both give the same bits (attention scores). */
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

/* Columns c .. c + 8 of one row: vector ops where all 8 are wanted (the same per-element
 * operations as finish1), else finish1 lane by lane. */
static inline void finish8(float *o, __m256 s, const float *bias, int accumulate, int c, int jn) {
    if (c >= 0 && c + 8 <= jn) {
        if (bias) s = _mm256_add_ps(s, _mm256_loadu_ps(bias + c));
        if (accumulate) s = _mm256_add_ps(_mm256_loadu_ps(o + c), s);
        _mm256_storeu_ps(o + c, s);
        return;
    }
    float t[8];
    _mm256_storeu_ps(t, s);
    for (int l = 0; l < 8; l++)
        if (c + l >= 0 && c + l < jn) finish1(o, t[l], bias, accumulate, c + l);
}

#define TILE(NAME, LDP, ELEM, MR, NP)                                                              \
    static void NAME(float *out, int64_t ldo, const float *in, int64_t ldi, const void *P,         \
                     int64_t ps, int C, const float *bias, int accumulate, int c0, int jn,         \
                     const char *pf) {                                                             \
        __m256 acc[MR][2 * NP];                                                                    \
        for (int i = 0; i < MR; i++)                                                               \
            for (int v = 0; v < 2 * NP; v++) acc[i][v] = _mm256_setzero_ps();                      \
        for (int k = 0; k < C; k++) {                                                              \
            __m256 w[2 * NP];                                                                      \
            for (int p = 0; p < NP; p++) {                                                         \
                const int64_t at = p * ps + (int64_t)k * TR_PANEL;                                 \
                LDP(P, at, w + 2 * p);                                                             \
                if (NP == 1) /* (the multi-panel tiles of small R are load-bound: not there) */    \
                    _mm_prefetch(pf + at * ELEM, _MM_HINT_T0);                                     \
            }                                                                                      \
            for (int i = 0; i < MR; i++) {                                                         \
                __m256 x = _mm256_broadcast_ss(in + i * ldi + k);                                  \
                for (int v = 0; v < 2 * NP; v++) acc[i][v] = _mm256_fmadd_ps(x, w[v], acc[i][v]);  \
            }                                                                                      \
        }                                                                                          \
        /* through memory, in a fully unrolled loop: indexing acc in the (not unrolled)            \
         * finishing loop would make the compiler keep acc in memory inside the k loop */          \
        float res[MR][16 * NP];                                                                    \
        _Pragma("GCC unroll 24") for (int i = 0; i < MR; i++)                                      \
            _Pragma("GCC unroll 8") for (int v = 0; v < 2 * NP; v++)                               \
                _mm256_storeu_ps(res[i] + 8 * v, acc[i][v]);                                       \
        for (int i = 0; i < MR; i++)                                                               \
            for (int v = 0; v < 2 * NP; v++)                                                       \
                finish8(out + i * ldo, _mm256_loadu_ps(res[i] + 8 * v), bias, accumulate,          \
                        c0 + 8 * v, jn);                                                           \
    }
#else
static inline float ldp_f32(const void *P, int64_t i) {
    return ((const float *)P)[i];
}
static inline float ldp_bf16(const void *P, int64_t i) {
    return bf16_f32(((const uint16_t *)P)[i]);
}
#define TILE(NAME, LDP, ELEM, MR, NP)                                                              \
    static void NAME(float *out, int64_t ldo, const float *in, int64_t ldi, const void *P,         \
                     int64_t ps, int C, const float *bias, int accumulate, int c0, int jn,         \
                     const char *pf) {                                                             \
        float acc[MR][TR_PANEL * NP] = {{0}};                                                      \
        (void)pf;                                                                                  \
        for (int k = 0; k < C; k++)                                                                \
            for (int i = 0; i < MR; i++) {                                                         \
                float x = in[i * ldi + k];                                                         \
                for (int v = 0; v < TR_PANEL * NP; v++)                                            \
                    acc[i][v] = tr_madd(                                                           \
                        x, LDP(P, v / TR_PANEL * ps + (int64_t)k * TR_PANEL + v % TR_PANEL),       \
                        acc[i][v]);                                                                \
            }                                                                                      \
        for (int i = 0; i < MR; i++)                                                               \
            for (int v = 0; v < TR_PANEL * NP; v++)                                                \
                if (c0 + v >= 0 && c0 + v < jn)                                                    \
                    finish1(out + i * ldo, acc[i][v], bias, accumulate, c0 + v);                   \
    }
#endif

/* tiles[MR][NP]: 6..1 rows of one panel; 1, 2 and 3 rows of several */
#define TILES(T, LDP, ELEM)                                                                        \
    TILE(T##_6x1, LDP, ELEM, 6, 1)                                                                 \
    TILE(T##_5x1, LDP, ELEM, 5, 1)                                                                 \
    TILE(T##_4x1, LDP, ELEM, 4, 1)                                                                 \
    TILE(T##_3x1, LDP, ELEM, 3, 1)                                                                 \
    TILE(T##_2x1, LDP, ELEM, 2, 1)                                                                 \
    TILE(T##_1x1, LDP, ELEM, 1, 1)                                                                 \
    TILE(T##_3x2, LDP, ELEM, 3, 2)                                                                 \
    TILE(T##_2x2, LDP, ELEM, 2, 2)                                                                 \
    TILE(T##_1x4, LDP, ELEM, 1, 4)                                                                 \
    static const tile_fn T##_tiles[7][5] = {[1] = {[1] = T##_1x1, [4] = T##_1x4},                  \
                                            [2] = {[1] = T##_2x1, [2] = T##_2x2},                  \
                                            [3] = {[1] = T##_3x1, [2] = T##_3x2},                  \
                                            [4] = {[1] = T##_4x1},                                 \
                                            [5] = {[1] = T##_5x1},                                 \
                                            [6] = {[1] = T##_6x1}};
TILES(f32, ldp_f32, 4)
TILES(bf16, ldp_bf16, 2)

/* The schedule. R >= 4: panel by panel, every row tile (of up to 6 rows) against it while
 * it is in L1. R < 4: one tile over several panels at a time (too few rows for enough
 * independent chains on one panel), then the last panels one by one. */
static void panel_matmul(const tile_fn tiles[7][5], float *out, int64_t ldo, const float *in,
                         int64_t ldi, int R, const void *P, size_t elem, int C, int j0, int j1,
                         const float *bias, int accumulate) {
    const int64_t ps = (int64_t)TR_PANEL * C;
    const int jn = j1 - j0;
    int p = j0 / TR_PANEL;
    const int pe = (j1 + TR_PANEL - 1) / TR_PANEL;
#define PANEL_AT(q) ((const char *)P + (size_t)(q) * (size_t)ps * elem)
/* what to prefetch while reading panels [q, q + n): the next n, or these at the end */
#define NEXT_AT(q, n) PANEL_AT((q) + 2 * (n) <= pe ? (q) + (n) : (q))
    if (R >= 4) {
        /* ceil(R / 6) row tiles of as even sizes as can be (16 rows: 6, 5, 5, not 6, 6, 4:
         * a 4-row tile has 8 chains of FMAs in flight, too few to hide their latency) */
        const int n_tiles = (R + 5) / 6, small = R / n_tiles, n_big = R % n_tiles;
        for (; p < pe; p++) {
            const int c0 = p * TR_PANEL - j0;
            for (int i = 0, r = 0; i < n_tiles; i++) {
                const int mr = small + (i < n_big);
                tiles[mr][1](out + r * ldo, ldo, in + r * ldi, ldi, PANEL_AT(p), ps, C, bias,
                             accumulate, c0, jn, NEXT_AT(p, 1));
                r += mr;
            }
        }
        return;
    }
    if (R <= 0) return;
    const int np = R == 1 ? 4 : 2;
    for (; p + np <= pe; p += np)
        tiles[R][np](out, ldo, in, ldi, PANEL_AT(p), ps, C, bias, accumulate, p * TR_PANEL - j0, jn,
                     NEXT_AT(p, np));
    for (; p < pe; p++)
        tiles[R][1](out, ldo, in, ldi, PANEL_AT(p), ps, C, bias, accumulate, p * TR_PANEL - j0, jn,
                    NEXT_AT(p, 1));
#undef NEXT_AT
#undef PANEL_AT
}

void tr_infer_matmul(float *out, int64_t ldo, const float *in, int64_t ldi, int R,
                     const tr_panels *w, int j0, int j1, const float *bias, int accumulate) {
    if (j1 <= j0) return;
    if (w->f32)
        panel_matmul(f32_tiles, out, ldo, in, ldi, R, w->f32, sizeof(float), w->C, j0, j1, bias,
                     accumulate);
    else
        panel_matmul(bf16_tiles, out, ldo, in, ldi, R, w->bf16, sizeof(uint16_t), w->C, j0, j1,
                     bias, accumulate);
}

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
        const float *c = cos_t + (int64_t)(pos0 + t) * half,
                    *s = sin_t + (int64_t)(pos0 + t) * half;
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

/* ---- attention of the query heads of one kv-head over its cache --------------------
 * G query heads share one kv-head (grouped-query attention): every key and value row is
 * read from memory once for all G (at a long context the cache, not the weights, is what a
 * decode step reads most). Per head the operations are those of one head alone. The
 * kernels are written once (attend_kernels.h) and instantiated for F32 and BF16 caches. */

#define KV_T float
#define KV_SUF f32
#define KV_LD1(p) (*(p))
#if TR_OPSI_AVX2
#define KV_LD8(p) _mm256_loadu_ps(p)
#endif
#include "attend_kernels.h"
#undef KV_T
#undef KV_SUF
#undef KV_LD1
#undef KV_LD8

#define KV_T uint16_t
#define KV_SUF bf16
#define KV_LD1(p) bf16_f32(*(p))
#if TR_OPSI_AVX2
#define KV_LD8(p) ld8_bf16(p)
#endif
#include "attend_kernels.h"
#undef KV_T
#undef KV_SUF
#undef KV_LD1
#undef KV_LD8

/* The same SiLU as ops.c's tr_swiglu_forward (fastmath.h), so that the KV-cache path
 * matches the training forward */
void tr_infer_swiglu_rows(float *out, int64_t ldo, const float *gu, int R, int H) {
    for (int r = 0; r < R; r++) {
        const float *g = gu + (int64_t)r * 2 * H, *u = g + H;
        float *o = out + (int64_t)r * ldo;
        for (int i = 0; i < H; i++) o[i] = g[i] * tr_sigmoid_fast(g[i]) * u[i];
    }
}

/* In place: sc[t] = softmax(sc[0..n))[t], with the exp and the reductions of the training
 * kernel (fastmath.h: vectorised, one fixed order). */
static void softmax_inplace(float *sc, int n) {
    float mx = tr_max_lanes(sc, n);
    for (int t = 0; t < n; t++) sc[t] = tr_exp_fast(sc[t] - mx);
    float inv = 1.0f / tr_sum_lanes(sc, n);
    for (int t = 0; t < n; t++) sc[t] *= inv;
}

void tr_infer_attend(float *o, const float *q, int G, const float *K, const float *V, int n, int HD,
                     float scale, float *sc) {
    scores_f32(sc, n, q, G, K, n, HD, scale);
    for (int g = 0; g < G; g++) softmax_inplace(sc + (size_t)g * n, n);
    weighted_sum_f32(o, sc, n, G, V, n, HD);
}

void tr_infer_attend_bf16(float *o, const float *q, int G, const uint16_t *K, const uint16_t *V,
                          int n, int HD, float scale, float *sc) {
    scores_bf16(sc, n, q, G, K, n, HD, scale);
    for (int g = 0; g < G; g++) softmax_inplace(sc + (size_t)g * n, n);
    weighted_sum_bf16(o, sc, n, G, V, n, HD);
}
