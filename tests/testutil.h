/* Minimal test helpers: a test program counts failures and exits non-zero if any. */
#ifndef TINYR1_TESTUTIL_H
#define TINYR1_TESTUTIL_H

#include <stdio.h>

#include "tinyr1.h"

extern int tu_failures;
extern int tu_checks;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        tu_checks++;                                                                      \
        if (!(cond)) {                                                                    \
            tu_failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
        }                                                                                 \
    } while (0)

#define CHECK_MSG(cond, ...)                                                              \
    do {                                                                                  \
        tu_checks++;                                                                      \
        if (!(cond)) {                                                                    \
            tu_failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
        }                                                                                 \
    } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, rtol, atol) CHECK_MSG(tu_close((a), (b), (rtol), (atol)), "%.9g vs %.9g", (double)(a), (double)(b))

int tu_close(double a, double b, double rtol, double atol);
/* Max over i of |a-b| / max(|b|, floor): a relative error that ignores tiny entries. */
double tu_max_rel_err(const float *a, const float *b, size_t n, double floor);
/* max_i |a_i - b_i| / max(1, max_i |b_i|): an error relative to the scale of the whole
 * reference (logits), INFINITY if any difference is NaN. */
double tu_scaled_err(const float *a, const float *b, size_t n);
/* Prints "N passed, M failed" and returns the exit code. */
int tu_finish(const char *name);

#endif
