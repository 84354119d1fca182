/* Internals shared by the files of src/tasks/ (not public API). */
#ifndef TINYR1_TASKS_INTERNAL_H
#define TINYR1_TASKS_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sbuf.h"
#include "tinyr1/base.h"
#include "tinyr1/tasks.h"

/* ---- exact fractions over int64 with overflow checks ------------------------------- */
typedef struct tr_tk_q {
    int64_t n, d; /* d > 0, gcd(|n|, d) = 1 */
} tr_tk_q;

/* Each returns 0, or -1 on overflow (or division by zero for div). */
int tr_tk_q_make(int64_t n, int64_t d, tr_tk_q *out);
int tr_tk_q_add(tr_tk_q a, tr_tk_q b, tr_tk_q *out);
int tr_tk_q_sub(tr_tk_q a, tr_tk_q b, tr_tk_q *out);
int tr_tk_q_mul(tr_tk_q a, tr_tk_q b, tr_tk_q *out);
int tr_tk_q_div(tr_tk_q a, tr_tk_q b, tr_tk_q *out);

/* ---- problem helpers --------------------------------------------------------------- */
/* An RNG for problem `index` of `task` under `seed` (independent of the language). */
void tr_tk_problem_rng(tr_rng *rng, const char *task, uint64_t seed, int64_t index);
/* Sets task, lang, seed, index, difficulty; takes ownership of prompt, answer and cot and
 * writes completion = "<think> COT </think> <answer> ANSWER </answer>". Returns 0 or -1. */
int tr_tk_problem_finish(tr_problem *p, const char *task, const char *lang, char *prompt,
                         char *answer, char *cot, tr_err *err);
char *tr_tk_strdup(const char *s);
int tr_tk_clamp(int v, int lo, int hi);

/* ---- the task implementations (one file each) ------------------------------------- */
int tr_tk_add_generate(uint64_t seed, int64_t index, int difficulty, const char *lang,
                       tr_problem *out, tr_err *err);
int tr_tk_mul_generate(uint64_t seed, int64_t index, int difficulty, const char *lang,
                       tr_problem *out, tr_err *err);
int tr_tk_countdown_generate(uint64_t seed, int64_t index, int difficulty, const char *lang,
                             tr_problem *out, tr_err *err);
int tr_tk_wordprob_generate(uint64_t seed, int64_t index, int difficulty, const char *lang,
                            tr_problem *out, tr_err *err);
/* The countdown verdict for a response (TinyZero scoring). */
void tr_tk_countdown_verify(const int64_t *nums, int n_nums, int64_t target, int use_all,
                            const char *response, tr_verdict *v);
/* The countdown prompt for a number list and target. Owned by the caller. */
char *tr_tk_countdown_prompt(const int64_t *nums, int n, int64_t target, int use_all);

#endif
