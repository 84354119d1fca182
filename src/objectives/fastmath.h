/* Private to src/objectives: a branch-free exp(x) in double that loops can vectorise.
 *
 * glibc's exp is scalar (it is vectorised only under -ffast-math), and the objectives call
 * it once or twice per vocabulary entry per position, which dominated their cost. This one
 * is the textbook method: x = k ln2 + r with k = round(x / ln2) (Cody-Waite split of ln2,
 * |r| <= ln2/2), e^r by its Taylor polynomial to degree 13 (truncation < 2e-17 relative),
 * and 2^k built in the exponent bits. Relative error against glibc's exp is below 1e-15
 * on [-708, 709] (tests/test_kd.c checks it). x < -708.39 (including -inf) gives 0 instead
 * of a subnormal (below 1e-307, irrelevant to a softmax); x > 709 (including +inf) and NaN
 * are clamped, not propagated: callers pass x = logit - max <= 0, and a NaN logit still
 * makes the loss NaN through the log-probabilities.
 * Only multiplies, adds and 64-bit integer masks and shifts: vectorises with SSE2/AVX2. */
#ifndef TINYR1_OBJECTIVES_FASTMATH_H
#define TINYR1_OBJECTIVES_FASTMATH_H

#include <stdint.h>

typedef union tr_fast_bits {
    double d;
    uint64_t u;
    int64_t i;
} tr_fast_bits;

static inline double tr_fast_exp(double x) {
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    /* The range checks compare bit patterns as integers: GCC will not if-convert
     * floating-point compares under the default -ftrapping-math, and a branch stops the
     * loop from vectorising. As unsigned, a negative double is below -708.39 (the smallest
     * normal result) iff its bits are greater (this includes -inf); as signed, a double is
     * above 709 iff its bits are greater. Union punning: defined in C11, and unlike memcpy
     * it leaves no address-taken locals to stop `omp simd` loops. */
    tr_fast_bits lo, hi, v;
    lo.d = -708.3964185322641;
    hi.d = 709.0;
    v.d = x;
    /* all-ones masks and bitwise selects (ternaries here are not if-converted) */
    const uint64_t below = -(uint64_t)(v.u > lo.u), above = -(uint64_t)(v.i > hi.i);
    v.u = (v.u & ~below) | (lo.u & below);
    v.u = (v.u & ~above) | (hi.u & above);
    const double xc = v.d;
    double kd = xc * log2e + shifter; /* the low mantissa bits of kd hold k */
    double k = kd - shifter;
    double r = (xc - k * ln2_hi) - k * ln2_lo;
    double p = 1.0 / 6227020800.0; /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    tr_fast_bits sc, y;
    sc.d = kd;
    sc.u = (sc.u + 1023u) << 52; /* (k + 1023) in the exponent field, k in [-1022, 1023] */
    y.d = p * sc.d;
    y.u &= ~below; /* 0 below the range */
    return y.d;
}

/* max(x, lo) for lo < 0, branch-free (same unsigned-bits compare): maps -inf to lo, so
 * 0 * (log-prob) terms stay 0 instead of NaN without a floating-point select. */
static inline double tr_fast_floor(double x, double lo) {
    tr_fast_bits v, l;
    v.d = x;
    l.d = lo;
    const uint64_t below = -(uint64_t)(v.u > l.u);
    v.u = (v.u & ~below) | (l.u & below);
    return v.d;
}

#endif
