/* tinyr1 — evaluation as DeepSeek-R1 reports it: k samples per problem (temperature 0.6,
 * top-p 0.95 by default), each verified by the task's rule-based verifier, summarised as
 *
 *   greedy     accuracy of one greedy (temperature 0) answer per problem;
 *   pass@1     per problem the fraction of its k samples that are correct, averaged over
 *              problems (R1's "pass@1 over k samples");
 *   pass@k     Chen et al. (2021)'s unbiased estimator per problem with n samples, c correct:
 *                  pass@k = 1 - C(n - c, k) / C(n, k)   (= 1 when n - c < k),
 *              computed as 1 - prod_{i = n-c+1}^{n} (1 - k / i) (no large binomials),
 *              averaged over problems;
 *   maj@k      majority vote ("cons@k" in the R1 paper): the canonical forms of the k
 *              extracted answers (tr_answer_canonical) vote; samples without an answer do not
 *              vote; TIES go to the answer whose first vote came first (the lowest sample
 *              index), as Python's Counter.most_common does; the problem counts as solved
 *              when the sample that cast that first vote is correct; no vote at all = wrong;
 *   mean length  generated tokens per sample (a stop token included), mean over problems of
 *              the per-problem mean;
 *   well-formed  the fraction of samples from which an answer could be extracted.
 *
 * 95% confidence intervals: Wilson's score interval for the greedy accuracy (a plain
 * binomial over problems); a percentile bootstrap over PROBLEMS for every other figure (the k
 * samples of one problem are correlated, so problems are the independent unit): B resamples
 * of the problems with replacement (fixed seed), the interval [q(alpha/2), q(1 - alpha/2)]
 * of the B resampled means, q(u) = sorted[floor(u (B - 1))] (lower) and
 * sorted[ceil(u (B - 1))] (upper).
 *
 * The statistics are pure functions (tested against hand computations); tr_eval_run wires
 * them to generation (gen.h) and the tasks (tasks.h).
 */
#ifndef TINYR1_EVAL_H
#define TINYR1_EVAL_H

#include <stdint.h>
#include <stdio.h>

#include "tinyr1/base.h"
#include "tinyr1/dist.h"
#include "tinyr1/gen.h"
#include "tinyr1/model.h"
#include "tinyr1/tasks.h"
#include "tinyr1/text.h"

/* ---- pure statistics ---------------------------------------------------------------- */

/* Unbiased pass@k for n samples of which c are correct (0 <= c <= n, 1 <= k <= n); NAN for
 * arguments outside those ranges. */
double tr_pass_at_k(int n, int c, int k);

/* Majority vote over n answers (canonical forms; NULL or "" = no answer, no vote). Returns
 * the index of the first sample holding the winning answer (ties: the answer whose first
 * vote comes first), or -1 when nobody voted. *votes (may be NULL) receives the winner's
 * vote count (0 when -1). */
int tr_majority_vote(const char *const *answers, int n, int *votes);

/* Wilson score interval for `successes` out of n trials at normal quantile z (1.96 for
 * 95%). n = 0 gives [0, 1]. */
void tr_wilson_interval(double successes, double n, double z, double *lo, double *hi);

/* Percentile bootstrap interval of the mean of values[0..n) at level (0.95): `reps`
 * resamples drawn with tr_rng seeded by seed. Returns 0, -1 for n < 1 or reps < 2 (or no
 * memory). */
int tr_bootstrap_mean_ci(const double *values, int n, int reps, uint64_t seed, double level,
                         double *lo, double *hi, tr_err *err);

/* ---- per problem, and the summary --------------------------------------------------- */

typedef struct tr_eval_problem {
    int n_samples; /* k */
    int n_correct; /* c */
    int n_well_formed;
    int maj_correct;    /* 1 if the majority answer is correct */
    int greedy_correct; /* 1 / 0, or -1 when no greedy sample was drawn */
    double mean_length; /* mean generated tokens of the k samples */
} tr_eval_problem;

typedef struct tr_eval_ci {
    double value, lo, hi;
} tr_eval_ci;

#define TR_EVAL_MAX_PASS_AT 12

typedef struct tr_eval_summary {
    int n_problems, k;
    int has_greedy;
    tr_eval_ci greedy; /* Wilson */
    tr_eval_ci pass1;  /* bootstrap over problems */
    tr_eval_ci pass_k; /* k = the samples per problem (the smallest n_samples) */
    tr_eval_ci maj_k;
    tr_eval_ci mean_length;
    tr_eval_ci well_formed;
    /* pass@j for j = 1, 2, 4, 8, ... up to k (and k itself), point estimates */
    int n_pass_at;
    int pass_at_k[TR_EVAL_MAX_PASS_AT];
    double pass_at[TR_EVAL_MAX_PASS_AT];
} tr_eval_summary;

/* Summarises n problems (each with n_samples >= 1). Bootstrap: `reps` resamples (1000 is
 * usual) with `seed`; level 0.95. */
int tr_eval_summarize(const tr_eval_problem *probs, int n, int reps, uint64_t seed,
                      tr_eval_summary *out, tr_err *err);

/* The summary as one JSON object (the numbers of --json; see docs/generate.md), written to
 * f with a trailing newline. extra_json: an object's members to prepend ("\"task\": \"add\""),
 * or NULL. */
void tr_eval_summary_json(FILE *f, const tr_eval_summary *s, const char *extra_json);

/* Scores one problem from the texts of its k sampled responses (lengths[j]: generated
 * tokens of sample j, or NULL) and an optional greedy response (NULL: none): each is checked
 * with tr_task_verify, the canonical forms of the extracted answers (tr_answer_canonical)
 * vote. verdicts (may be NULL) receives the k verdicts; *maj_index (may be NULL) the sample
 * whose answer won (-1: no vote). Returns 0, -1 without memory. */
int tr_eval_score_problem(const tr_task *t, const tr_problem *p, const char *const *responses,
                          const int *lengths, int k, const char *greedy_response,
                          tr_eval_problem *out, tr_verdict *verdicts, int *maj_index, tr_err *err);

/* ---- running an evaluation --------------------------------------------------------- */

typedef struct tr_eval_params {
    int k;                     /* samples per problem (>= 1) */
    int greedy;                /* 1: also one greedy answer per problem */
    tr_sampler_params sampler; /* for the k samples (R1: temperature 0.6, top-p 0.95) */
    int max_new_tokens;
    uint64_t seed;            /* sample j of problem i is seeded by tr_eval_sample_seed */
    tr_template_kind tpl;     /* the prompt template */
    const char *system;       /* system message (chat template), or NULL */
    const char *stop;         /* an extra stop string (e.g. "</answer>"), or NULL */
    int slots;                /* sequences decoded at once */
    tr_infer_weights weights; /* how decoding holds the weights (TR_INFER_AUTO by default) */
    tr_infer_kv kv;           /* the KV cache's element type (TR_KV_F32 by default) */
    int bootstrap_reps;       /* 1000 */
    FILE *samples;            /* samples.jsonl: one object per sample, or NULL */
    int verbose;              /* progress on stderr */
    /* NULL (default) or one process: all problems here. Else rank r evaluates the
       contiguous share tr_dist_range(n, r, world) of the problems; rank 0 gathers the
       per-problem results and the sample lines (same order, same bytes as one process;
       only rank 0's `samples` is written) and every rank returns the same results and
       summary. Every rank must call tr_eval_run (it is collective). */
    const tr_dist *dist;
} tr_eval_params;

/* k 4, greedy on, temperature 0.6, top-p 0.95, 1024 new tokens, seed 0, r1zero template,
 * stop "</answer>", 16 slots, weights auto, F32 KV cache, 1000 bootstrap resamples. */
tr_eval_params tr_eval_default_params(void);

/* The seed of sample j of problem i (greedy: j = -1), a hash of (seed, i, j). */
uint64_t tr_eval_sample_seed(uint64_t seed, int64_t problem, int sample);

/* Evaluates the model on problems[0..n) of task t: builds each prompt with the template,
 * generates (greedy and k samples, batched through `slots` sequences), decodes each
 * response (the final stop token left out), verifies it (tr_task_verify), writes each
 * sample to params->samples and fills per_problem (may be NULL; else [n]) and summary.
 * Stop tokens: the tokenizer's eos and, for the chat template, <|im_end|>. */
int tr_eval_run(const tr_model *m, const tr_tokenizer *tok, const tr_task *t,
                const tr_problem *problems, int n, const tr_eval_params *params,
                tr_eval_problem *per_problem, tr_eval_summary *summary, tr_err *err);

#endif
