/* Supervised (prompt, completion) data: include/tinyr1/sft.h. */
#include <stdlib.h>
#include <string.h>

#include "tinyr1/sft.h"

int tr_sft_set_add(tr_sft_set *set, const tr_tokenizer *tok, tr_template_kind tpl,
                   const char *system, const char *prompt, const char *completion,
                   tr_err *err) {
    tr_template_out out = {0};
    if (tr_template_encode(tok, tpl, system, prompt, completion, &out, err) != 0) return -1;
    if (set->n == set->cap) {
        int64_t cap = set->cap ? set->cap * 2 : 256;
        tr_sft_example *ex = realloc(set->ex, (size_t)cap * sizeof *ex);
        if (!ex) {
            tr_template_out_free(&out);
            return tr_fail(err, "out of memory growing the example set");
        }
        set->ex = ex;
        set->cap = cap;
    }
    tr_sft_example *e = &set->ex[set->n++];
    e->ids = out.ids.v; /* ownership moves to the set */
    e->n = (int64_t)out.ids.n;
    e->n_prompt = (int64_t)out.n_prompt;
    out.ids.v = NULL;
    tr_template_out_free(&out);
    set->n_tokens += e->n;
    set->n_trained += e->n - e->n_prompt;
    set->perm_epoch = -1; /* the set changed: any cached permutation is stale */
    return 0;
}

/* The prompt of a messages row: the user turns before the last assistant turn. */
static int add_messages(tr_sft_set *set, const tr_tokenizer *tok, tr_template_kind tpl,
                        const tr_example *ex, int64_t *skipped, tr_err *err) {
    int last = -1;
    for (int i = 0; i < ex->n_messages; i++)
        if (strcmp(ex->messages[i].role, "assistant") == 0) last = i;
    if (last < 0) {
        (*skipped)++;
        return 0;
    }
    const char *system = NULL;
    size_t len = 1;
    for (int i = 0; i < last; i++) len += strlen(ex->messages[i].content) + 2;
    char *prompt = malloc(len);
    if (!prompt) return tr_fail(err, "out of memory");
    prompt[0] = '\0';
    for (int i = 0; i < last; i++) {
        if (strcmp(ex->messages[i].role, "system") == 0) {
            system = ex->messages[i].content;
            continue;
        }
        if (prompt[0]) strcat(prompt, "\n\n");
        strcat(prompt, ex->messages[i].content);
    }
    int rc = tr_sft_set_add(set, tok, tpl, system, prompt, ex->messages[last].content, err);
    free(prompt);
    return rc;
}

int tr_sft_set_add_dataset(tr_sft_set *set, const tr_tokenizer *tok, tr_template_kind tpl,
                           const tr_dataset *ds, int64_t *skipped, tr_err *err) {
    int64_t skip = 0;
    const tr_task *countdown = tr_task_find("countdown");
    for (int64_t i = 0; i < ds->n; i++) {
        const tr_example *ex = &ds->ex[i];
        int rc = 0;
        if (ex->kind == TR_DS_MESSAGES) {
            rc = add_messages(set, tok, tpl, ex, &skip, err);
        } else if (ex->kind == TR_DS_COUNTDOWN || ex->kind == TR_DS_GSM8K ||
                   ex->kind == TR_DS_PROBLEM) {
            /* through the task, which writes the prompt and the completion format */
            const tr_task *t = ex->kind == TR_DS_COUNTDOWN ? countdown
                               : ex->kind == TR_DS_GSM8K  ? tr_task_find("gsm8k")
                                                          : tr_task_find("math");
            tr_problem p;
            memset(&p, 0, sizeof p);
            rc = tr_task_problem_from_row(t, ex, NULL, NULL, &p, err);
            if (rc == 0 && p.completion)
                rc = tr_sft_set_add(set, tok, tpl, NULL, p.prompt, p.completion, err);
            else if (rc == 0)
                skip++;
            tr_problem_free(&p);
        } else if (ex->prompt && ex->completion) {
            rc = tr_sft_set_add(set, tok, tpl, NULL, ex->prompt, ex->completion, err);
        } else {
            skip++;
        }
        if (rc != 0) return tr_fail_context(err, "row at line %lld", (long long)ex->line);
    }
    if (skipped) *skipped = skip;
    return 0;
}

int tr_sft_set_add_problems(tr_sft_set *set, const tr_tokenizer *tok, tr_template_kind tpl,
                            const tr_problem *problems, int64_t n, tr_err *err) {
    for (int64_t i = 0; i < n; i++)
        if (problems[i].completion &&
            tr_sft_set_add(set, tok, tpl, NULL, problems[i].prompt, problems[i].completion,
                           err) != 0)
            return -1;
    return 0;
}

int tr_sft_set_add_tasks(tr_sft_set *set, const tr_tokenizer *tok, tr_template_kind tpl,
                         const char *tasks, int64_t n, uint64_t seed, int64_t first_index,
                         const tr_task_params *params, tr_err *err) {
    char list[512], *save = NULL;
    snprintf(list, sizeof list, "%s", tasks);
    for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        const tr_task *t = tr_task_find(name);
        if (!t) return tr_fail(err, "unknown task '%s' (see 'tinyr1 data gen --help')", name);
        if (!tr_task_can_generate(t))
            return tr_fail(err, "task '%s' is a fixed set, not a generator: give its file "
                                "with --data",
                           name);
        for (int64_t i = 0; i < n; i++) {
            tr_problem p;
            if (tr_task_generate(t, seed, first_index + i, params, &p, err) != 0) return -1;
            int rc = tr_sft_set_add(set, tok, tpl, NULL, p.prompt, p.completion, err);
            tr_problem_free(&p);
            if (rc != 0) return -1;
        }
    }
    return 0;
}

void tr_sft_set_free(tr_sft_set *set) {
    for (int64_t i = 0; i < set->n; i++) free(set->ex[i].ids);
    free(set->ex);
    free(set->perm);
    memset(set, 0, sizeof *set);
}

int64_t tr_sft_set_index(tr_sft_set *set, uint64_t c, const tr_rng *base) {
    int64_t n = set->n, epoch = (int64_t)(c / (uint64_t)n);
    if (!set->perm || set->perm_epoch != epoch) {
        if (!set->perm) set->perm = malloc((size_t)n * sizeof *set->perm);
        if (!set->perm) return (int64_t)(c % (uint64_t)n); /* no memory: in order */
        tr_rng r = *base;
        /* decorrelate epochs: fold the epoch into the state, then burn a few draws */
        r.s[0] ^= 0x9e3779b97f4a7c15ULL * (uint64_t)(epoch + 1);
        for (int k = 0; k < 4; k++) tr_rng_next(&r);
        for (int64_t i = 0; i < n; i++) set->perm[i] = i;
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)tr_rng_below(&r, (uint64_t)i + 1);
            int64_t t = set->perm[i];
            set->perm[i] = set->perm[j];
            set->perm[j] = t;
        }
        set->perm_epoch = epoch;
    }
    return set->perm[c % (uint64_t)n];
}

int tr_sft_set_fill(tr_sft_set *set, tr_batch *batch, uint64_t *cursor, const tr_rng *base,
                    int32_t pad_id, tr_trunc trunc, tr_batch_fill_stats *stats, tr_err *err) {
    if (set->n == 0) return tr_fail(err, "the example set is empty");
    tr_seq seqs[batch->B];
    for (int b = 0; b < batch->B; b++) {
        const tr_sft_example *e = &set->ex[tr_sft_set_index(set, (*cursor)++, base)];
        seqs[b] = (tr_seq){e->ids, e->n_prompt, e->ids + e->n_prompt, e->n - e->n_prompt};
    }
    return tr_batch_fill(batch, seqs, batch->B, pad_id, trunc, stats, err);
}
