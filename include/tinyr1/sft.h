/* tinyr1 — supervised data: (prompt, completion) pairs tokenized through a chat template,
 * served in shuffled epochs. Used by SFT, sequence-level distillation, the KD commands
 * and the pipeline's cold-start and rejection-sampling stages.
 *
 * Order: the examples of epoch e are visited in a permutation drawn from (base RNG, e)
 * (Fisher-Yates), so the example at global position c (c = e * n + i) is a pure function
 * of the base RNG and c. The training state stores c as its data cursor and resumes
 * exactly. */
#ifndef TINYR1_SFT_H
#define TINYR1_SFT_H

#include <stdint.h>

#include "tinyr1/base.h"
#include "tinyr1/batch.h"
#include "tinyr1/data.h"
#include "tinyr1/tasks.h"
#include "tinyr1/text.h"

typedef struct tr_sft_example {
    int32_t *ids;      /* prompt ids then completion ids (the end token included) */
    int64_t n_prompt, n;
} tr_sft_example;

typedef struct tr_sft_set {
    tr_sft_example *ex;
    int64_t n, cap;
    int64_t n_tokens, n_trained; /* totals over the set */
    /* the permutation of the epoch last used (a cache; recomputed when the epoch changes) */
    int64_t *perm;
    int64_t perm_epoch;
} tr_sft_set;

/* Tokenizes one pair with the template (tr_template_encode) and appends it. */
int tr_sft_set_add(tr_sft_set *set, const tr_tokenizer *tok, tr_template_kind tpl,
                   const char *system, const char *prompt, const char *completion,
                   tr_err *err);
/* Appends every usable row of a dataset: prompt-completion rows, messages (the last
 * assistant turn is the completion, the user turns before it the prompt), GSM8K, MATH-style
 * problems with a solution, Countdown rows (through the countdown task's prompt) - rows
 * without a completion are skipped and counted in *skipped. */
int tr_sft_set_add_dataset(tr_sft_set *set, const tr_tokenizer *tok, tr_template_kind tpl,
                           const tr_dataset *ds, int64_t *skipped, tr_err *err);
/* Appends problems' prompts and worked completions (problems without one are skipped). */
int tr_sft_set_add_problems(tr_sft_set *set, const tr_tokenizer *tok, tr_template_kind tpl,
                            const tr_problem *problems, int64_t n, tr_err *err);
/* Generates n problems of each task in the comma-separated list (synthetic tasks only:
 * add, mul, countdown, wordprob) with `seed` (problem indices first_index .. +n) and
 * appends their worked solutions. */
int tr_sft_set_add_tasks(tr_sft_set *set, const tr_tokenizer *tok, tr_template_kind tpl,
                         const char *tasks, int64_t n, uint64_t seed, int64_t first_index,
                         const tr_task_params *params, tr_err *err);
void tr_sft_set_free(tr_sft_set *set);

/* Fills an allocated batch with the next B examples from global position *cursor
 * (advanced by B), in the epoch order drawn from base. Long examples are cut as `trunc`
 * says (tr_batch_fill). */
int tr_sft_set_fill(tr_sft_set *set, tr_batch *batch, uint64_t *cursor, const tr_rng *base,
                    int32_t pad_id, tr_trunc trunc, tr_batch_fill_stats *stats, tr_err *err);
/* Index of the example at global position c. */
int64_t tr_sft_set_index(tr_sft_set *set, uint64_t c, const tr_rng *base);

#endif
