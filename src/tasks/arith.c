/* add and mul: multi-digit arithmetic with digit-by-digit worked solutions. */
#include <stdio.h>
#include <string.h>

#include "tasks_internal.h"

static const char *const column_names[] = {"ones",
                                           "tens",
                                           "hundreds",
                                           "thousands",
                                           "ten thousands",
                                           "hundred thousands",
                                           "millions",
                                           "ten millions",
                                           "hundred millions",
                                           "billions",
                                           "ten billions",
                                           "hundred billions",
                                           "trillions",
                                           "ten trillions",
                                           "hundred trillions",
                                           "quadrillions",
                                           "ten quadrillions",
                                           "hundred quadrillions",
                                           "quintillions"};
#define N_COLUMNS ((int)(sizeof column_names / sizeof column_names[0]))

static int n_digits(uint64_t v) {
    int n = 1;
    while (v >= 10) v /= 10, n++;
    return n;
}

static uint64_t digit_at(uint64_t v, int k) {
    while (k-- > 0) v /= 10;
    return v % 10;
}

/* A random number of exactly `digits` digits (leading digit nonzero). */
static uint64_t random_digits(tr_rng *rng, int digits) {
    uint64_t v = 1 + tr_rng_below(rng, 9);
    for (int i = 1; i < digits; i++) v = v * 10 + tr_rng_below(rng, 10);
    return v;
}

/* Column addition of a + b, one line per column (verbose) or one clause per column. */
static void add_columns(tr_sb *b, uint64_t x, uint64_t y, int verbose) {
    int n = n_digits(x) > n_digits(y) ? n_digits(x) : n_digits(y);
    uint64_t carry = 0;
    for (int k = 0; k < n; k++) {
        uint64_t dx = k < n_digits(x) ? digit_at(x, k) : 0,
                 dy = k < n_digits(y) ? digit_at(y, k) : 0;
        int has_x = k < n_digits(x), has_y = k < n_digits(y);
        uint64_t s = dx + dy + carry;
        if (verbose)
            tr_sb_printf(b, "%s: ", k < N_COLUMNS ? column_names[k] : "next column");
        else if (k)
            tr_sb_put(b, "; ");
        int terms = 0;
        if (has_x) tr_sb_printf(b, "%llu", (unsigned long long)dx), terms++;
        if (has_y) tr_sb_printf(b, "%s%llu", terms ? " + " : "", (unsigned long long)dy), terms++;
        if (carry)
            tr_sb_printf(b, "%s%llu", terms ? " + " : "", (unsigned long long)carry), terms++;
        tr_sb_printf(b, " = %llu", (unsigned long long)s);
        if (s >= 10 || verbose)
            tr_sb_printf(b, ", write %llu, carry %llu", (unsigned long long)(s % 10),
                         (unsigned long long)(s / 10));
        if (verbose) tr_sb_put(b, ".\n");
        carry = s / 10;
    }
    if (carry) {
        if (verbose)
            tr_sb_printf(b, "The last carry %llu becomes the leading digit.\n",
                         (unsigned long long)carry);
        else
            tr_sb_printf(b, "; the carry %llu leads", (unsigned long long)carry);
    }
}

int tr_tk_add_generate(uint64_t seed, int64_t index, int difficulty, const char *lang,
                       tr_problem *out, tr_err *err) {
    tr_rng rng;
    tr_tk_problem_rng(&rng, "add", seed, index);
    int maxd = tr_tk_clamp(difficulty, 1, 10) + 1;
    int da = maxd > 1 ? maxd - 1 + (int)tr_rng_below(&rng, 2) : 1;
    int db = 1 + (int)tr_rng_below(&rng, (uint64_t)maxd);
    uint64_t a = random_digits(&rng, da), b = random_digits(&rng, db);
    if (tr_rng_below(&rng, 2)) {
        uint64_t t = a;
        a = b;
        b = t;
    }
    uint64_t sum = a + b;
    tr_sb q = {0}, cot = {0}, ans = {0};
    tr_sb_printf(&q, "What is %llu + %llu?", (unsigned long long)a, (unsigned long long)b);
    tr_sb_printf(&cot, "Add %llu and %llu column by column, starting from the ones.\n",
                 (unsigned long long)a, (unsigned long long)b);
    add_columns(&cot, a, b, 1);
    tr_sb_printf(&cot,
                 "Reading the written digits from the highest column down: %llu + %llu = %llu.",
                 (unsigned long long)a, (unsigned long long)b, (unsigned long long)sum);
    tr_sb_printf(&ans, "%llu", (unsigned long long)sum);
    memset(out, 0, sizeof *out);
    out->seed = seed;
    out->index = index;
    out->difficulty = difficulty;
    return tr_tk_problem_finish(out, "add", lang, tr_sb_take(&q), tr_sb_take(&ans),
                                tr_sb_take(&cot), err);
}

int tr_tk_mul_generate(uint64_t seed, int64_t index, int difficulty, const char *lang,
                       tr_problem *out, tr_err *err) {
    tr_rng rng;
    tr_tk_problem_rng(&rng, "mul", seed, index);
    int d = tr_tk_clamp(difficulty, 1, 10);
    int maxa = d + 1, maxb = (d + 1) / 2 + 1;
    int da = maxa > 1 ? maxa - 1 + (int)tr_rng_below(&rng, 2) : 1;
    int db = 1 + (int)tr_rng_below(&rng, (uint64_t)maxb);
    uint64_t a = random_digits(&rng, da), b = random_digits(&rng, db);
    uint64_t prod = a * b;
    tr_sb q = {0}, cot = {0}, ans = {0};
    tr_sb_printf(&q, "What is %llu * %llu?", (unsigned long long)a, (unsigned long long)b);
    tr_sb_printf(&cot,
                 "Multiply %llu by each digit of %llu, starting from the ones, then add the "
                 "partial products.\n",
                 (unsigned long long)a, (unsigned long long)b);
    uint64_t partials[20];
    int np = 0;
    uint64_t shift = 1;
    for (int k = 0; k < n_digits(b); k++, shift *= 10) {
        uint64_t m = digit_at(b, k);
        tr_sb_printf(&cot, "%llu * %llu (%s digit): ", (unsigned long long)a, (unsigned long long)m,
                     k < N_COLUMNS ? column_names[k] : "next");
        if (m == 0) {
            tr_sb_put(&cot, "the digit is 0, so this partial product is 0.\n");
            continue;
        }
        uint64_t carry = 0;
        for (int j = 0; j < n_digits(a); j++) {
            uint64_t da_j = digit_at(a, j), p = da_j * m + carry;
            if (j) tr_sb_put(&cot, "; ");
            if (carry)
                tr_sb_printf(&cot, "%llu * %llu + %llu = %llu", (unsigned long long)da_j,
                             (unsigned long long)m, (unsigned long long)carry,
                             (unsigned long long)p);
            else
                tr_sb_printf(&cot, "%llu * %llu = %llu", (unsigned long long)da_j,
                             (unsigned long long)m, (unsigned long long)p);
            tr_sb_printf(&cot, ", write %llu, carry %llu", (unsigned long long)(p % 10),
                         (unsigned long long)(p / 10));
            carry = p / 10;
        }
        if (carry) tr_sb_printf(&cot, "; the carry %llu leads", (unsigned long long)carry);
        uint64_t part = a * m;
        if (k == 0)
            tr_sb_printf(&cot, ". Partial product: %llu.\n", (unsigned long long)part);
        else
            tr_sb_printf(&cot, ". That is %llu, shifted %d place%s: %llu.\n",
                         (unsigned long long)part, k, k == 1 ? "" : "s",
                         (unsigned long long)(part * shift));
        partials[np++] = part * shift;
    }
    if (np == 0) {
        tr_sb_put(&cot, "Every partial product is 0.\n");
    } else if (np == 1) {
        tr_sb_printf(&cot, "There is one partial product, so the product is %llu.\n",
                     (unsigned long long)partials[0]);
    } else {
        uint64_t run = partials[0];
        tr_sb_put(&cot, "Add the partial products column by column.\n");
        for (int i = 1; i < np; i++) {
            tr_sb_printf(&cot, "%llu + %llu: ", (unsigned long long)run,
                         (unsigned long long)partials[i]);
            add_columns(&cot, run, partials[i], 0);
            run += partials[i];
            tr_sb_printf(&cot, ". Sum: %llu.\n", (unsigned long long)run);
        }
    }
    tr_sb_printf(&cot, "So %llu * %llu = %llu.", (unsigned long long)a, (unsigned long long)b,
                 (unsigned long long)prod);
    tr_sb_printf(&ans, "%llu", (unsigned long long)prod);
    memset(out, 0, sizeof *out);
    out->seed = seed;
    out->index = index;
    out->difficulty = difficulty;
    return tr_tk_problem_finish(out, "mul", lang, tr_sb_take(&q), tr_sb_take(&ans),
                                tr_sb_take(&cot), err);
}
