/* Elementwise math shared by the training kernels (ops.c) and the inference kernels
 * (ops_infer.c): one exp for both, so that the KV-cache path and the training forward
 * compute the same softmax and SiLU. Private to src/core. */
#ifndef TINYR1_FASTMATH_H
#define TINYR1_FASTMATH_H

#include <stdint.h>
#include <string.h>

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
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* 1 / (1 + e^-x) */
static inline float tr_sigmoid_fast(float x) { return 1.0f / (1.0f + tr_exp_fast(-x)); }

#endif
