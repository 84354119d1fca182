/* The task registry: lookup by name, generation, rows -> problems, verification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks_internal.h"

typedef enum { CHECK_NUMERIC, CHECK_MATH, CHECK_COUNTDOWN } check_kind;

typedef int (*gen_fn)(uint64_t seed, int64_t index, int difficulty, const char *lang,
                      tr_problem *out, tr_err *err);

struct tr_task {
    const char *name;
    const char *alias;
    const char *summary;
    const char *langs;        /* comma-separated */
    const char *default_file; /* relative to the shared data folder */
    gen_fn gen;
    int default_difficulty;
    check_kind check;
};

static const tr_task registry[] = {
    {"add", NULL, "multi-digit addition, worked column by column with carries", "en", NULL,
     tr_tk_add_generate, 2, CHECK_NUMERIC},
    {"mul", NULL, "multi-digit multiplication, worked with partial products", "en", NULL,
     tr_tk_mul_generate, 2, CHECK_NUMERIC},
    {"countdown", NULL, "reach a target with + - * / over given numbers (TinyZero scoring)", "en",
     "countdown/test.jsonl", tr_tk_countdown_generate, 1, CHECK_COUNTDOWN},
    {"wordprob", NULL, "multi-step word problems from templates, English and Chinese", "en,zh",
     NULL, tr_tk_wordprob_generate, 2, CHECK_NUMERIC},
    {"gsm8k", NULL, "GSM8K grade-school math (real set; answer after ####)", "en",
     "gsm8k/test.jsonl", NULL, 0, CHECK_NUMERIC},
    {"math", "math500", "MATH-500 competition problems (real set; LaTeX answers)", "en",
     "math500/test.jsonl", NULL, 0, CHECK_MATH},
    {"aime", "aime24", "AIME 2024 (real set; integer answers)", "en", "aime24/test.jsonl", NULL, 0,
     CHECK_NUMERIC},
    {"amc", "amc23", "AMC 2023 (real set; numeric answers)", "en", "amc23/test.jsonl", NULL, 0,
     CHECK_NUMERIC},
};
#define N_TASKS ((int)(sizeof registry / sizeof registry[0]))

const tr_task *tr_task_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < N_TASKS; i++)
        if (strcmp(registry[i].name, name) == 0 ||
            (registry[i].alias && strcmp(registry[i].alias, name) == 0))
            return &registry[i];
    return NULL;
}

int tr_task_count(void) {
    return N_TASKS;
}
const tr_task *tr_task_at(int i) {
    return i >= 0 && i < N_TASKS ? &registry[i] : NULL;
}
const char *tr_task_name(const tr_task *t) {
    return t->name;
}
const char *tr_task_summary(const tr_task *t) {
    return t->summary;
}
int tr_task_can_generate(const tr_task *t) {
    return t->gen != NULL;
}
const char *tr_task_default_file(const tr_task *t) {
    return t->default_file;
}

int tr_task_has_lang(const tr_task *t, const char *lang) {
    if (!lang || !*lang) return 0;
    size_t n = strlen(lang);
    for (const char *p = t->langs; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, lang, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

tr_task_params tr_task_default_params(void) {
    tr_task_params p = {0, "en"};
    return p;
}

void tr_problem_free(tr_problem *p) {
    if (!p) return;
    free(p->prompt);
    free(p->answer);
    free(p->completion);
    memset(p, 0, sizeof *p);
}

void tr_problems_free(tr_problem *p, int64_t n) {
    if (!p) return;
    for (int64_t i = 0; i < n; i++) tr_problem_free(&p[i]);
    free(p);
}

int tr_task_generate(const tr_task *t, uint64_t seed, int64_t index, const tr_task_params *p,
                     tr_problem *out, tr_err *err) {
    memset(out, 0, sizeof *out);
    tr_task_params def = tr_task_default_params();
    if (!p) p = &def;
    if (!t->gen)
        return tr_fail(err,
                       "task %s has no generator: it is a real set, load it with tr_task_load "
                       "(default file %s)",
                       t->name, t->default_file ? t->default_file : "-");
    const char *lang = p->lang && *p->lang ? p->lang : "en";
    if (!tr_task_has_lang(t, lang))
        return tr_fail(err, "task %s has no '%s' problems (languages: %s)", t->name, lang,
                       t->langs);
    if (index < 0)
        return tr_fail(err, "task %s: problem index must be >= 0, got %lld", t->name,
                       (long long)index);
    int d = p->difficulty > 0 ? p->difficulty : t->default_difficulty;
    d = tr_tk_clamp(d, 1, 10);
    if (t->gen(seed, index, d, lang, out, err) != 0) {
        tr_problem_free(out);
        return -1;
    }
    return 0;
}

/* ---- rows -> problems ---------------------------------------------------------------- */

/* GSM8K's worked answer without its <<...>> calculator annotations and "#### N" line. */
static char *gsm8k_reasoning(const char *answer) {
    tr_sb b = {0};
    const char *end = strstr(answer, "####");
    const char *e = end ? end : answer + strlen(answer);
    for (const char *p = answer; p < e;) {
        if (p[0] == '<' && p[1] == '<') {
            const char *q = strstr(p, ">>");
            if (q && q < e) {
                p = q + 2;
                continue;
            }
        }
        tr_sb_putc(&b, *p++);
    }
    while (b.len > 0 && (b.s[b.len - 1] == '\n' || b.s[b.len - 1] == ' ')) b.s[--b.len] = 0;
    return tr_sb_take(&b);
}

static char *wrap_completion(const char *reasoning, const char *answer) {
    tr_sb b = {0};
    tr_sb_printf(&b, "<think> %s </think> <answer> %s </answer>", reasoning, answer);
    return tr_sb_take(&b);
}

int tr_task_problem_from_row(const tr_task *t, const tr_example *ex, const cJSON *row,
                             const char *answer_field, tr_problem *out, tr_err *err) {
    memset(out, 0, sizeof *out);
    char where[64];
    snprintf(where, sizeof where, "line %lld", (long long)ex->line);
    snprintf(out->task, sizeof out->task, "%s", t->name);
    snprintf(out->lang, sizeof out->lang, "%s", ex->lang && *ex->lang ? ex->lang : "en");
    out->index = -1;
    if (t->check == CHECK_COUNTDOWN) {
        if (ex->n_nums == 0)
            return tr_fail(err, "%s: a countdown row needs \"nums\" and \"target\"", where);
        out->n_nums = ex->n_nums;
        memcpy(out->nums, ex->nums, sizeof ex->nums);
        out->target = ex->target;
    }
    /* the gold answer */
    char gold[TR_ANSWER_CAP] = "";
    if (answer_field && *answer_field) {
        const cJSON *v = row ? cJSON_GetObjectItemCaseSensitive(row, answer_field) : NULL;
        if (cJSON_IsString(v) && v->valuestring)
            snprintf(gold, sizeof gold, "%s", v->valuestring);
        else if (cJSON_IsNumber(v))
            snprintf(gold, sizeof gold, "%.15g", v->valuedouble);
        else if (t->check != CHECK_COUNTDOWN)
            return tr_fail(
                err, "%s: field \"%s\" (the gold answer) is missing or not a string or number",
                where, answer_field);
    } else if (ex->answer) {
        snprintf(gold, sizeof gold, "%s", ex->answer);
    }
    if (strstr(gold, "####")) {
        char fin[TR_ANSWER_CAP];
        if (tr_gsm8k_final_answer(gold, fin, sizeof fin) == 0)
            snprintf(gold, sizeof gold, "%s", fin);
    }
    if (!gold[0] && t->check == CHECK_COUNTDOWN)
        snprintf(gold, sizeof gold, "%lld", (long long)out->target);
    if (!gold[0]) return tr_fail(err, "%s: the row has no gold answer", where);
    out->answer = tr_tk_strdup(gold);
    /* the prompt */
    if (ex->prompt)
        out->prompt = tr_tk_strdup(ex->prompt);
    else if (t->check == CHECK_COUNTDOWN)
        out->prompt = tr_tk_countdown_prompt(out->nums, out->n_nums, out->target, 0);
    else if (ex->text)
        out->prompt = tr_tk_strdup(ex->text);
    else
        out->prompt = tr_tk_strdup(""); /* scoring needs no prompt */
    /* the worked solution, in the completion format */
    if (ex->completion) {
        switch (ex->kind) {
        case TR_DS_GSM8K: {
            char *r = gsm8k_reasoning(ex->completion);
            out->completion = r ? wrap_completion(r, out->answer) : NULL;
            free(r);
            break;
        }
        case TR_DS_PROBLEM:
            out->completion = wrap_completion(ex->completion, out->answer);
            break;
        case TR_DS_COUNTDOWN: {
            /* TinyZero solutions end with "</think>\n<answer> EXPR </answer>" and the
             * opening tag is in their prompt */
            tr_sb b = {0};
            if (!strstr(ex->completion, "<think>")) tr_sb_put(&b, "<think> ");
            tr_sb_put(&b, ex->completion);
            out->completion = tr_sb_take(&b);
            break;
        }
        default:
            out->completion = tr_tk_strdup(ex->completion);
            break;
        }
    }
    if (!out->answer || !out->prompt || (ex->completion && !out->completion)) {
        tr_problem_free(out);
        return tr_fail(err, "%s: out of memory", where);
    }
    return 0;
}

int tr_task_load(const tr_task *t, const char *path, const tr_dataset_params *p, tr_problem **out,
                 int64_t *n, tr_err *err) {
    *out = NULL;
    *n = 0;
    tr_dataset ds;
    if (tr_dataset_load(&ds, path, p, err) != 0) return -1;
    tr_problem *probs = calloc((size_t)ds.n, sizeof *probs);
    if (!probs) {
        tr_dataset_free(&ds);
        return tr_fail(err, "%s: out of memory", path);
    }
    int64_t k = 0;
    for (int64_t i = 0; i < ds.n; i++) {
        tr_err e;
        if (tr_task_problem_from_row(t, &ds.ex[i], NULL, NULL, &probs[k], &e) != 0) {
            if (p && p->skip_bad) continue;
            tr_fail(err, "%s:%lld: %s", path, (long long)ds.ex[i].line, e.msg);
            tr_problems_free(probs, k);
            tr_dataset_free(&ds);
            return -1;
        }
        probs[k].index = i;
        k++;
    }
    tr_dataset_free(&ds);
    *out = probs;
    *n = k;
    return 0;
}

/* ---- verification --------------------------------------------------------------------- */

void tr_task_verify(const tr_task *t, const tr_problem *p, const char *response, tr_verdict *v) {
    memset(v, 0, sizeof *v);
    if (!response) response = "";
    if (t->check == CHECK_COUNTDOWN) {
        tr_tk_countdown_verify(p->nums, p->n_nums, p->target, p->use_all, response, v);
        return;
    }
    v->source = tr_answer_extract(response, v->extracted, sizeof v->extracted);
    if (v->source == TR_ANS_NONE) {
        snprintf(v->reason, sizeof v->reason, "no answer found");
        return;
    }
    v->well_formed = 1;
    v->correct = p->answer && tr_answer_equiv(v->extracted, p->answer);
    v->score = v->correct ? 1.0 : 0.0;
    if (!v->correct)
        snprintf(v->reason, sizeof v->reason, "answer is not equivalent to the gold answer");
}

int tr_answer_canonical(const tr_task *t, const char *answer, char *buf, size_t cap) {
    if (!answer) answer = "";
    if (t && t->check == CHECK_COUNTDOWN) {
        size_t k = 0;
        for (const char *p = answer; *p; p++) {
            if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') continue;
            if (k + 1 >= cap) {
                if (cap) buf[k] = 0;
                return -1;
            }
            buf[k++] = *p;
        }
        if (cap) buf[k] = 0;
        return cap ? 0 : -1;
    }
    return tr_answer_canonical_math(answer, buf, cap);
}
