/* Elementwise math shared by the training kernels (ops.c), the inference kernels
 * (ops_infer.c) and the cross-entropy (objectives/ce.c): one exp for all, so that the
 * KV-cache path and the training forward compute the same softmax and SiLU. Private to the
 * library (not installed). */
#ifndef TINYR1_FASTMATH_H
#define TINYR1_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* a * b + c, fused into one instruction (one rounding) where the target has FMA; ISO C
 * mode does not contract `a * b + c` by itself. Without FMA, fmaf would be a slow libm
 * call, so the plain expression is used. */
static inline float tr_madd(float a, float b, float c) {
#if defined(__FMA__)
    return fmaf(a, b, c);
#else
    return a * b + c;
#endif
}

/* e^x without a libm call, so that loops over it vectorise (libm's expf is scalar and was
 * a tenth of a training step). x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact
 * product), e^r by Cephes' degree-6 minimax polynomial (relative error < 2e-7), 2^n built
 * in the exponent bits. Inputs are clamped to [-87, 88], where e^x is a normal float. */
static inline float tr_exp_fast(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* n = floor(x log2(e) + 1/2) by truncation of a positive number (floorf does not
     * vectorise); the clamp keeps the sum inside (0, 256) */
    int32_t n = (int32_t)(x * 1.44269504088896341f + 128.5f) - 128;
    float nf = (float)n;
    float r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
    /* Estrin's scheme with fused multiply-adds: the same polynomial as Horner's rule in a
     * chain of 4 dependent operations instead of 12 (loops over this are latency-bound:
     * 1.5x faster) */
    float r2 = r * r, r4 = r2 * r2;
    float p01 = tr_madd(1.6666665459e-1f, r, 5.0000001201e-1f);
    float p23 = tr_madd(8.3334519073e-3f, r, 4.1665795894e-2f);
    float p45 = tr_madd(1.9875691500e-4f, r, 1.3981999507e-3f);
    float p = tr_madd(r4, p45, tr_madd(r2, p23, p01));
    p = tr_madd(p, r2, r + 1.0f);
    int32_t bits = (n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Reductions in eight interleaved lanes: vectorised, and still one fixed order of
 * operations (reproducible), unlike a compiler reassociating under -ffast-math. A plain
 * `s += x[i]` loop is one chain of dependent additions, latency-bound: these are several
 * times faster on rows of a few hundred. */
static inline float tr_sum_lanes(const float *x, int n) {
    float acc[8] = {0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) acc[k] += x[j + k];
    for (; j < n; j++) acc[j & 7] += x[j];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static inline float tr_max_lanes(const float *x, int n) {
    float acc[8];
    for (int k = 0; k < 8; k++) acc[k] = x[0];
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) acc[k] = x[j + k] > acc[k] ? x[j + k] : acc[k];
    for (; j < n; j++) acc[0] = x[j] > acc[0] ? x[j] : acc[0];
    float m = acc[0];
    for (int k = 1; k < 8; k++) m = acc[k] > m ? acc[k] : m;
    return m;
}

/* sum_i a[i] b[i] */
static inline float tr_dot_lanes(const float *a, const float *b, int n) {
    float acc[8] = {0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) acc[k] = tr_madd(a[j + k], b[j + k], acc[k]);
    for (; j < n; j++) acc[j & 7] = tr_madd(a[j], b[j], acc[j & 7]);
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* sum_i a[i] b[i] c[i] */
static inline float tr_dot3_lanes(const float *a, const float *b, const float *c, int n) {
    float acc[8] = {0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) acc[k] = tr_madd(a[j + k] * b[j + k], c[j + k], acc[k]);
    for (; j < n; j++) acc[j & 7] = tr_madd(a[j] * b[j], c[j], acc[j & 7]);
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* 1 / (1 + e^-x) */
static inline float tr_sigmoid_fast(float x) { return 1.0f / (1.0f + tr_exp_fast(-x)); }

#endif
