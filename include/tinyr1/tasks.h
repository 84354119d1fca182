/* tinyr1 — reasoning tasks: seeded problem generators with worked solutions, the real
 * benchmark sets, answer extraction, an answer-equivalence checker and per-task verifiers.
 *
 * A task is looked up by name in a registry (tr_task_find). Synthetic tasks generate
 * problem i for seed s deterministically (the same (task, seed, index, difficulty) give the
 * same problem on every machine, independent of the language and of other problems, so an
 * English and a Chinese problem with the same index are translations of each other). Real
 * sets (gsm8k, math, aime, amc, and countdown's TinyZero file) are loaded from JSONL.
 *
 *   task       generator  languages  answer                 verifier
 *   add        yes        en         integer                numeric equivalence
 *   mul        yes        en         integer                numeric equivalence
 *   countdown  yes        en         expression             exact rational evaluation
 *   wordprob   yes        en, zh     integer                numeric equivalence
 *   gsm8k      file       en         number (#### N)        numeric equivalence
 *   math       file       en         LaTeX (MATH-500)       LaTeX equivalence
 *   aime       file       en         integer 0-999          numeric equivalence
 *   amc        file       en         number                 numeric equivalence
 *
 * Completion format. Worked solutions are written as
 *     <think> CHAIN OF THOUGHT </think> <answer> ANSWER </answer>
 * and a response's answer is extracted (tr_answer_extract) from, in this order:
 *   1. the last <answer> ... </answer> pair (its content; if that content holds a \boxed,
 *      the boxed part);
 *   2. the last \boxed{...} (balanced braces), \boxed X (one token) or \fbox{...};
 *   3. the text after the last "####" up to the end of its line.
 *
 * Verdicts: correct = the extracted answer is equivalent to the gold answer (countdown: the
 * expression is valid, uses only the listed numbers, each at most once (all of them
 * exactly once when the problem says so) and evaluates exactly to the target);
 * well_formed = an answer was extracted (countdown: an <answer> tag or boxed answer was
 * found, even if the expression is invalid); score = 1 when correct, else 0 — except
 * countdown, which uses TinyZero's scoring: 1.0 correct, 0.1 well-formed but wrong,
 * 0 no answer.
 */
#ifndef TINYR1_TASKS_H
#define TINYR1_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "tinyr1/base.h"
#include "tinyr1/data.h"

/* ---- problems ------------------------------------------------------------------ */

typedef struct tr_problem {
    char task[32];    /* registry name of the task */
    char lang[8];     /* "en" or "zh": the language of prompt and completion */
    char *prompt;     /* the question (no chat template), owned */
    char *answer;     /* the gold answer, owned (countdown: a correct expression for
                         generated problems, the target as text for file rows) */
    char *completion; /* worked solution in the completion format, owned; NULL when the
                         source has none (e.g. AMC rows) */
    /* countdown only */
    int n_nums;
    int64_t nums[TR_MAX_NUMS];
    int64_t target;
    int use_all; /* 1: the expression must use every number exactly once */
    /* provenance */
    uint64_t seed;  /* generator seed (0 for file rows) */
    int64_t index;  /* problem index (file rows: the row number, from 0) */
    int difficulty; /* resolved difficulty used by the generator (0 for file rows) */
} tr_problem;

void tr_problem_free(tr_problem *p);
void tr_problems_free(tr_problem *p, int64_t n);

typedef struct tr_task_params {
    int difficulty;   /* 0: the task's default; else 1..10 (clamped), meaning per task:
                         add: operands of up to D+1 digits (default 2: up to 3 digits)
                         mul: first operand up to D+1 digits, second up to (D+1)/2+1
                              (default 2: 3-digit by 2-digit)
                         countdown: D+2 numbers (max 6), numbers in 1..99 (default 1: 3)
                         wordprob: magnitude of the numbers and the number of steps
                              (default 2) */
    const char *lang; /* "en" (default, also for NULL) or "zh"; a task without the
                         language fails with a message */
} tr_task_params;

tr_task_params tr_task_default_params(void);

/* ---- verdicts ------------------------------------------------------------------ */

typedef enum {
    TR_ANS_NONE = 0, /* nothing found */
    TR_ANS_TAG,      /* <answer> ... </answer> */
    TR_ANS_BOXED,    /* \boxed{...}, \boxed X, \fbox{...} */
    TR_ANS_HASH,     /* #### N */
} tr_answer_source;

#define TR_ANSWER_CAP 512

typedef struct tr_verdict {
    int correct;                   /* 1: the answer is right */
    int well_formed;               /* 1: an answer was found (see the top of this file) */
    double score;                  /* 1 / 0, countdown 1 / 0.1 / 0 */
    tr_answer_source source;       /* where the answer was found */
    char extracted[TR_ANSWER_CAP]; /* the extracted answer, trimmed ("" if none; cut to
                                      TR_ANSWER_CAP-1 bytes) */
    char reason[160];              /* why it is wrong, for samples and debugging
                                      ("no answer found", "uses 7 twice", ...); "" if right */
} tr_verdict;

/* ---- the registry -------------------------------------------------------------- */

typedef struct tr_task tr_task; /* an entry of the static registry; never freed */

/* By name ("add", "mul", "countdown", "wordprob", "gsm8k", "math", "aime", "amc"; also the
 * aliases "math500", "aime24", "amc23"). NULL if unknown. */
const tr_task *tr_task_find(const char *name);
int tr_task_count(void);
const tr_task *tr_task_at(int i); /* 0 <= i < tr_task_count() */
const char *tr_task_name(const tr_task *t);
const char *tr_task_summary(const tr_task *t);
/* 1 if the task has a generator (synthetic tasks). */
int tr_task_can_generate(const tr_task *t);
/* 1 if the generator writes problems in lang ("en", "zh"). */
int tr_task_has_lang(const tr_task *t, const char *lang);
/* Default file of a real set, relative to the shared data folder ("gsm8k/test.jsonl",
 * "math500/test.jsonl", "countdown/test.jsonl", ...); NULL for add, mul, wordprob. */
const char *tr_task_default_file(const tr_task *t);

/* Generates problem `index` of the task for `seed` (p may be NULL: defaults). out is
 * overwritten (free it with tr_problem_free). Fails for tasks without a generator and
 * for unsupported languages. */
int tr_task_generate(const tr_task *t, uint64_t seed, int64_t index, const tr_task_params *p,
                     tr_problem *out, tr_err *err);

/* Makes a problem of this task from a dataset row. answer_field selects the gold answer's
 * source field in the raw row when it is not the default (NULL: the kind's default, see
 * tr_example; a gold text holding "####" is cut to what follows it); the raw row is needed
 * only then and may otherwise be NULL. countdown rows need nums and target (their gold
 * answer defaults to the target). A row without a prompt gets "". The worked solution is
 * put in the completion format: GSM8K's answer without its <<...>> annotations and
 * "####" line, MATH's solution, and TinyZero's solution (with "<think> " prepended) each
 * become "<think> ... </think> <answer> GOLD </answer>"-shaped completions. Fails, with
 * "line N: ..." from ex->line, when there is no gold answer. */
int tr_task_problem_from_row(const tr_task *t, const tr_example *ex, const cJSON *row,
                             const char *answer_field, tr_problem *out, tr_err *err);

/* Loads every row of a JSONL file as problems of the task (p: dataset reading options,
 * NULL for defaults). *out is an array of *n problems (free with tr_problems_free). */
int tr_task_load(const tr_task *t, const char *path, const tr_dataset_params *p, tr_problem **out,
                 int64_t *n, tr_err *err);

/* Checks a response (the completion text a model wrote) against the problem with the
 * task's verifier. Never fails: an unparsable response is simply not correct. */
void tr_task_verify(const tr_task *t, const tr_problem *p, const char *response, tr_verdict *v);

/* Canonical form of an extracted answer, for majority votes: equivalent answers of the
 * task give the same string (see tr_answer_canonical_math; countdown: the expression
 * with all spaces removed). Returns 0, -1 if buf is too small (buf then holds a
 * NUL-terminated prefix). */
int tr_answer_canonical(const tr_task *t, const char *answer, char *buf, size_t cap);

/* ---- answers: extraction and equivalence --------------------------------------- */

/* Extracts the final answer from a response (rules at the top of this file), trims
 * spaces and a trailing '.', and copies it into buf (cut to cap-1 bytes). Returns the
 * source, TR_ANS_NONE (buf = "") when nothing was found or the found answer is empty. */
tr_answer_source tr_answer_extract(const char *text, char *buf, size_t cap);

/* The content of the last \boxed{...} / \boxed X / \fbox{...} in text. Returns 0, -1 if
 * there is none (or its braces are unbalanced). */
int tr_answer_last_boxed(const char *text, char *buf, size_t cap);

/* Canonical form of a math answer (LaTeX or plain). Rules, applied in order:
 *  - spacing and sizing removed: whitespace, \! \, \; \: \quad \qquad ~, \left \right,
 *    \displaystyle; \dfrac \tfrac -> \frac, \dbinom \tbinom -> \binom;
 *  - decorations removed: $ and \$, \% and %, ^\circ ^{\circ} \circ and the degree sign;
 *    \text{} \textbf{} \mbox{} \mathrm{} \mathbf{} \textit{} are unwrapped;
 *  - units removed: a trailing \text{...}/\mbox{...} part (with an optional ^2/^3) or
 *    trailing words of 2+ letters after a space, when something precedes them
 *    ("5 \text{cm}^2" -> "5", "18 dollars" -> "18");
 *  - a leading "x =" or "x \in" with a one-letter left side is dropped ("x=5" -> "5");
 *  - braces: one-token arguments are braced (\sqrt2 -> \sqrt{2}, \frac12 -> \frac{1}{2},
 *    x^2 -> x^{2}), braces around a single token elsewhere are dropped;
 *  - numbers: an expression made of numbers (integers, decimals, thousands separators
 *    "1,000", fractions \frac a/b, mixed numbers "1\frac{4}{5}" = 9/5, + - * / ^ \cdot
 *    \times \div, parentheses, \sqrt, \pi) is evaluated: exactly as a reduced fraction
 *    "n/d" ("n" for integers; integers of any length stay exact) when it is rational,
 *    else to a double written as "~%.10g";
 *  - structures, element by element: tuples and intervals "(a,b)", "[a,b)" keep their
 *    brackets and order; sets "\{a,b\}" and bare lists "a, b" are sorted; unions split
 *    on \cup; pmatrix/bmatrix/matrix become "matrix(row;row)";
 *  - a choice letter "(C)" becomes "C"; an answer of plain words is lower-cased.
 * Returns 0, -1 if buf is too small or the answer is longer than 4,096 bytes (buf then
 * holds the input, trimmed, cut to cap-1 bytes). */
int tr_answer_canonical_math(const char *answer, char *buf, size_t cap);

/* 1 if two answers are equivalent: their canonical forms are equal, or, element by
 * element, both evaluate to numbers with at least one of them irrational (\sqrt, \pi)
 * and |a-b| <= 1e-9 * max(|a|,|b|). Exact numbers are compared exactly: 0.5 vs 0.05,
 * 1/2 vs 2 are not equivalent; 1/2, \frac12, 0.5 are. */
int tr_answer_equiv(const char *a, const char *b);

/* ---- countdown ----------------------------------------------------------------- */

/* Evaluates a countdown expression exactly: integers, + - * /, unary minus, parentheses,
 * spaces; at most 256 bytes, nesting depth 32, 16 numbers. Every number must be one of
 * nums (each listed copy usable once; all of them when use_all). Division by zero,
 * overflow of 64-bit fractions, other characters and bad syntax are errors.
 * On success *num and *den (den > 0, reduced) hold the value and 0 is returned; on failure
 * -1 with the reason in err ("uses 7 twice", "division by zero", ...). nums may be NULL
 * (n_nums 0) to evaluate without the number rule. */
int tr_countdown_eval(const char *expr, const int64_t *nums, int n_nums, int use_all, int64_t *num,
                      int64_t *den, tr_err *err);

/* TinyZero's countdown score of a full response: 1.0 if the answer evaluates to target
 * under the rules above, 0.1 if an answer was found but is wrong, 0 if none was found. */
double tr_countdown_score(const char *response, const int64_t *nums, int n_nums, int64_t target,
                          int use_all);

#endif
