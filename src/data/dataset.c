/* Dataset formats: detection, one row -> tr_example, whole-file loading. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/data.h"

const char *tr_ds_kind_name(tr_ds_kind kind) {
    switch (kind) {
    case TR_DS_MESSAGES:
        return "messages";
    case TR_DS_TEXT:
        return "text";
    case TR_DS_PC:
        return "prompt-completion";
    case TR_DS_COUNTDOWN:
        return "countdown";
    case TR_DS_PROBLEM:
        return "problem";
    case TR_DS_GSM8K:
        return "gsm8k";
    case TR_DS_UNKNOWN:
        break;
    }
    return "unknown";
}

static int has(const cJSON *row, const char *name) {
    return cJSON_GetObjectItemCaseSensitive(row, name) != NULL;
}

tr_ds_kind tr_ds_detect(const cJSON *row) {
    if (!cJSON_IsObject(row)) return TR_DS_UNKNOWN;
    if (has(row, "messages")) return TR_DS_MESSAGES;
    if (has(row, "text")) return TR_DS_TEXT;
    if (has(row, "prompt") && has(row, "completion")) return TR_DS_PC;
    if (has(row, "nums") && has(row, "target")) return TR_DS_COUNTDOWN;
    if (has(row, "problem") && has(row, "answer")) return TR_DS_PROBLEM;
    if (has(row, "question") && has(row, "answer")) return TR_DS_GSM8K;
    return TR_DS_UNKNOWN;
}

static char *dup_str(const char *s, tr_err *err) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d) {
        tr_fail(err, "out of memory");
        return NULL;
    }
    memcpy(d, s, n + 1);
    return d;
}

/* Copies the string field `name` into *dst. required: missing is an error. */
static int get_str(const cJSON *row, const char *name, int required, char **dst, const char *where,
                   tr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, name);
    if (!v || cJSON_IsNull(v)) {
        if (required) return tr_fail(err, "%s: missing field \"%s\"", where, name);
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return tr_fail(err, "%s: field \"%s\" must be a string", where, name);
    *dst = dup_str(v->valuestring, err);
    return *dst ? 0 : -1;
}

/* A string, or a number printed with %.15g (AMC answers are floats: 27.0 -> "27"). */
static int get_str_or_number(const cJSON *row, const char *name, int required, char **dst,
                             const char *where, tr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, name);
    if (v && cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble))
            return tr_fail(err, "%s: field \"%s\" is not finite", where, name);
        char buf[64];
        snprintf(buf, sizeof buf, "%.15g", v->valuedouble);
        *dst = dup_str(buf, err);
        return *dst ? 0 : -1;
    }
    return get_str(row, name, required, dst, where, err);
}

static int get_int(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d == floor(d)) || d < -1e15 || d > 1e15) return -1;
    *out = (int64_t)d;
    return 0;
}

static int get_nums(tr_example *ex, const cJSON *row, int required, const char *where,
                    tr_err *err) {
    const cJSON *nums = cJSON_GetObjectItemCaseSensitive(row, "nums");
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(row, "target");
    if (!nums && !target && !required) return 0;
    if (!cJSON_IsArray(nums))
        return tr_fail(err, "%s: field \"nums\" must be an array of integers", where);
    int n = cJSON_GetArraySize(nums);
    if (n < 1 || n > TR_MAX_NUMS)
        return tr_fail(err, "%s: field \"nums\" must hold 1 to %d integers, got %d", where,
                       TR_MAX_NUMS, n);
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, nums) {
        if (get_int(it, &ex->nums[i]) != 0)
            return tr_fail(err, "%s: field \"nums\"[%d] must be an integer", where, i);
        i++;
    }
    ex->n_nums = n;
    if (!target || get_int(target, &ex->target) != 0)
        return tr_fail(err, "%s: field \"target\" must be an integer", where);
    return 0;
}

int tr_gsm8k_final_answer(const char *answer, char *buf, size_t cap) {
    if (cap) buf[0] = 0;
    const char *p = NULL, *q = answer;
    while ((q = strstr(q, "####")) != NULL) p = q, q += 4;
    if (!p) return -1;
    p += 4;
    while (*p == ' ' || *p == '\t') p++;
    const char *e = p;
    while (*e && *e != '\n') e++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
    if (e == p || cap == 0) return -1;
    size_t n = (size_t)(e - p);
    if (n >= cap) n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return 0;
}

void tr_example_free(tr_example *ex) {
    free(ex->text);
    free(ex->prompt);
    free(ex->completion);
    free(ex->answer);
    free(ex->task);
    free(ex->lang);
    for (int i = 0; i < ex->n_messages; i++) {
        free(ex->messages[i].role);
        free(ex->messages[i].content);
    }
    free(ex->messages);
    memset(ex, 0, sizeof *ex);
}

static int messages_from_json(tr_example *ex, const cJSON *row, const char *where, tr_err *err) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(row, "messages");
    if (!cJSON_IsArray(m)) return tr_fail(err, "%s: field \"messages\" must be an array", where);
    int n = cJSON_GetArraySize(m);
    if (n == 0) return tr_fail(err, "%s: field \"messages\" is empty", where);
    ex->messages = calloc((size_t)n, sizeof *ex->messages);
    if (!ex->messages) return tr_fail(err, "%s: out of memory", where);
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, m) {
        char w[600];
        snprintf(w, sizeof w, "%s: messages[%d]", where, i);
        if (!cJSON_IsObject(it))
            return tr_fail(err, "%s must be an object with \"role\" and \"content\"", w);
        ex->n_messages = i + 1;
        if (get_str(it, "role", 1, &ex->messages[i].role, w, err) != 0) return -1;
        if (get_str(it, "content", 1, &ex->messages[i].content, w, err) != 0) return -1;
        if (!ex->messages[i].role[0]) return tr_fail(err, "%s: \"role\" is empty", w);
        i++;
    }
    return 0;
}

int tr_example_from_json(tr_example *ex, const cJSON *row, tr_ds_kind kind, const char *where,
                         tr_err *err) {
    int64_t line = ex->line;
    memset(ex, 0, sizeof *ex);
    ex->line = line;
    if (!where) where = "(row)";
    if (kind == TR_DS_UNKNOWN) kind = tr_ds_detect(row);
    ex->kind = kind;
    int rc = 0;
    switch (kind) {
    case TR_DS_MESSAGES:
        rc = messages_from_json(ex, row, where, err);
        break;
    case TR_DS_TEXT:
        rc = get_str(row, "text", 1, &ex->text, where, err);
        break;
    case TR_DS_PC:
        rc = get_str(row, "prompt", 1, &ex->prompt, where, err);
        if (!rc) rc = get_str(row, "completion", 1, &ex->completion, where, err);
        if (!rc) rc = get_str_or_number(row, "answer", 0, &ex->answer, where, err);
        if (!rc) rc = get_str(row, "task", 0, &ex->task, where, err);
        if (!rc) rc = get_str(row, "lang", 0, &ex->lang, where, err);
        if (!rc) rc = get_nums(ex, row, 0, where, err);
        break;
    case TR_DS_COUNTDOWN: {
        rc = get_nums(ex, row, 1, where, err);
        if (!rc) rc = get_str(row, "solution", 0, &ex->completion, where, err);
        char t[32];
        snprintf(t, sizeof t, "%lld", (long long)ex->target);
        if (!rc && !(ex->answer = dup_str(t, err))) rc = -1;
        break;
    }
    case TR_DS_PROBLEM:
        rc = get_str(row, "problem", 1, &ex->prompt, where, err);
        if (!rc) rc = get_str_or_number(row, "answer", 1, &ex->answer, where, err);
        if (!rc) rc = get_str(row, "solution", 0, &ex->completion, where, err);
        if (!rc && !ex->answer[0]) rc = tr_fail(err, "%s: field \"answer\" is empty", where);
        break;
    case TR_DS_GSM8K: {
        rc = get_str(row, "question", 1, &ex->prompt, where, err);
        if (!rc) rc = get_str(row, "answer", 1, &ex->completion, where, err);
        if (rc) break;
        char buf[256];
        if (tr_gsm8k_final_answer(ex->completion, buf, sizeof buf) != 0) {
            rc = tr_fail(err, "%s: field \"answer\" has no final \"#### N\" line", where);
            break;
        }
        if (!(ex->answer = dup_str(buf, err))) rc = -1;
        break;
    }
    case TR_DS_UNKNOWN:
        rc = tr_fail(
            err,
            "%s: unrecognised row: expected the fields of one dataset kind (text | "
            "prompt+completion | messages | nums+target | problem+answer | question+answer)",
            where);
        break;
    }
    if (rc) {
        tr_example_free(ex);
        ex->line = line;
    }
    return rc;
}

tr_dataset_params tr_dataset_default_params(void) {
    tr_dataset_params p;
    memset(&p, 0, sizeof p);
    return p;
}

void tr_dataset_free(tr_dataset *ds) {
    for (int64_t i = 0; i < ds->n; i++) tr_example_free(&ds->ex[i]);
    free(ds->ex);
    memset(ds, 0, sizeof *ds);
}

int tr_dataset_load(tr_dataset *ds, const char *path, const tr_dataset_params *p, tr_err *err) {
    tr_dataset_params def = tr_dataset_default_params();
    if (!p) p = &def;
    memset(ds, 0, sizeof *ds);
    ds->kind = p->kind;
    tr_jsonl r;
    if (tr_jsonl_open(&r, path, p->max_line, p->skip_bad, err) != 0) return -1;
    int rc = 0;
    int64_t bad_fields = 0;
    for (;;) {
        if (p->limit > 0 && ds->n >= p->limit) break;
        cJSON *row = NULL;
        int got = tr_jsonl_next(&r, &row, err);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0) break;
        char where[600];
        snprintf(where, sizeof where, "%s:%lld", r.path, (long long)r.line_no);
        tr_ds_kind k = ds->kind;
        if (k == TR_DS_UNKNOWN) k = tr_ds_detect(row);
        if (ds->n == ds->cap) {
            int64_t cap = ds->cap ? ds->cap * 2 : 256;
            tr_example *ex = realloc(ds->ex, (size_t)cap * sizeof *ex);
            if (!ex) {
                cJSON_Delete(row);
                rc = tr_fail(err, "%s: out of memory", where);
                break;
            }
            ds->ex = ex;
            ds->cap = cap;
        }
        tr_example *ex = &ds->ex[ds->n];
        memset(ex, 0, sizeof *ex);
        ex->line = r.line_no;
        tr_err row_err;
        int ok = tr_example_from_json(ex, row, k, where, &row_err);
        cJSON_Delete(row);
        if (ok != 0) {
            if (!p->skip_bad) {
                rc = tr_fail(err, "%s", row_err.msg);
                break;
            }
            if (bad_fields == 0 && r.n_bad == 0)
                snprintf(ds->first_bad, sizeof ds->first_bad, "%s", row_err.msg);
            bad_fields++;
            continue;
        }
        if (ds->kind == TR_DS_UNKNOWN) ds->kind = k;
        ds->n++;
    }
    if (rc == 0 && r.n_bad && !ds->first_bad[0])
        snprintf(ds->first_bad, sizeof ds->first_bad, "%s", r.first_bad);
    ds->n_bad = r.n_bad + bad_fields;
    if (rc == 0 && ds->n == 0) rc = tr_fail(err, "%s: no valid rows", r.path);
    tr_jsonl_close(&r);
    if (rc != 0) tr_dataset_free(ds);
    return rc;
}
