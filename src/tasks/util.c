/* Small helpers for the tasks: checked fractions, problem set-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks_internal.h"

char *tr_tk_strdup(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

int tr_tk_clamp(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- checked fractions ---------------------------------------------------------------- */

static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* a*b without overflow; INT64_MIN is never produced or accepted. */
static int mul_ok(int64_t a, int64_t b, int64_t *r) {
    if (a == INT64_MIN || b == INT64_MIN) return -1;
    if (a == 0 || b == 0) {
        *r = 0;
        return 0;
    }
    int64_t aa = a < 0 ? -a : a, bb = b < 0 ? -b : b;
    if (aa > INT64_MAX / bb) return -1;
    *r = a * b;
    return 0;
}

static int add_ok(int64_t a, int64_t b, int64_t *r) {
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < -INT64_MAX - b)) return -1;
    *r = a + b;
    return 0;
}

int tr_tk_q_make(int64_t n, int64_t d, tr_tk_q *out) {
    if (d == 0 || n == INT64_MIN || d == INT64_MIN) return -1;
    if (d < 0) {
        n = -n;
        d = -d;
    }
    int64_t g = gcd64(n, d);
    if (g > 1) {
        n /= g;
        d /= g;
    }
    out->n = n;
    out->d = d;
    return 0;
}

int tr_tk_q_add(tr_tk_q a, tr_tk_q b, tr_tk_q *out) {
    int64_t g = gcd64(a.d, b.d);
    int64_t x, y, n, d;
    if (mul_ok(a.n, b.d / g, &x) || mul_ok(b.n, a.d / g, &y) || add_ok(x, y, &n) ||
        mul_ok(a.d / g, b.d, &d))
        return -1;
    return tr_tk_q_make(n, d, out);
}

int tr_tk_q_sub(tr_tk_q a, tr_tk_q b, tr_tk_q *out) {
    b.n = -b.n;
    return tr_tk_q_add(a, b, out);
}

int tr_tk_q_mul(tr_tk_q a, tr_tk_q b, tr_tk_q *out) {
    /* cross-reduce first so that results that fit are found */
    int64_t g1 = gcd64(a.n, b.d), g2 = gcd64(b.n, a.d);
    if (g1 == 0) g1 = 1;
    if (g2 == 0) g2 = 1;
    int64_t n, d;
    if (mul_ok(a.n / g1, b.n / g2, &n) || mul_ok(a.d / g2, b.d / g1, &d)) return -1;
    return tr_tk_q_make(n, d, out);
}

int tr_tk_q_div(tr_tk_q a, tr_tk_q b, tr_tk_q *out) {
    if (b.n == 0) return -1;
    tr_tk_q inv = {b.d, b.n};
    if (inv.d < 0) {
        inv.n = -inv.n;
        inv.d = -inv.d;
    }
    return tr_tk_q_mul(a, inv, out);
}

/* ---- problems ------------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

void tr_tk_problem_rng(tr_rng *rng, const char *task, uint64_t seed, int64_t index) {
    /* splitmix-style mixing of the three inputs; tr_rng_seed mixes again */
    uint64_t x = seed * 0x9E3779B97F4A7C15ull ^ fnv1a(task);
    x ^= (uint64_t)index * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
    x ^= x >> 31;
    tr_rng_seed(rng, x);
}

int tr_tk_problem_finish(tr_problem *p, const char *task, const char *lang, char *prompt,
                         char *answer, char *cot, tr_err *err) {
    if (!prompt || !answer || !cot) {
        free(prompt);
        free(answer);
        free(cot);
        return tr_fail(err, "%s: out of memory", task);
    }
    snprintf(p->task, sizeof p->task, "%s", task);
    snprintf(p->lang, sizeof p->lang, "%s", lang);
    p->prompt = prompt;
    p->answer = answer;
    tr_sb b = {0};
    tr_sb_printf(&b, "<think> %s </think> <answer> %s </answer>", cot, answer);
    free(cot);
    p->completion = tr_sb_take(&b);
    if (!p->completion) return tr_fail(err, "%s: out of memory", task);
    return 0;
}
