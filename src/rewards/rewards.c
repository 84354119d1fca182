/* Rule-based rewards and their weighted combination (include/tinyr1/rewards.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/rewards.h"

enum { TAG_THINK, TAG_THINK_END, TAG_ANSWER, TAG_ANSWER_END };
static const char *const tag_text[4] = {"<think>", "</think>", "<answer>", "</answer>"};

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static int only_space(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_space(s[i])) return 0;
    return 1;
}

/* Occurrences of each tag: count and first position. */
static void count_tags(const char *s, int count[4], size_t first[4]) {
    for (int k = 0; k < 4; k++) {
        count[k] = 0;
        first[k] = 0;
        size_t n = strlen(tag_text[k]);
        for (const char *p = strstr(s, tag_text[k]); p; p = strstr(p + n, tag_text[k])) {
            if (count[k]++ == 0) first[k] = (size_t)(p - s);
        }
    }
}

double tr_reward_format(const char *c) {
    if (!c) return 0;
    int count[4];
    size_t pos[4];
    count_tags(c, count, pos);
    for (int k = 0; k < 4; k++)
        if (count[k] != 1) return 0;
    for (int k = 1; k < 4; k++)
        if (pos[k] <= pos[k - 1]) return 0;
    size_t len = strlen(c);
    size_t end_think = pos[TAG_THINK] + strlen(tag_text[TAG_THINK]);
    size_t end_cot = pos[TAG_THINK_END];
    size_t after_cot = end_cot + strlen(tag_text[TAG_THINK_END]);
    size_t begin_ans = pos[TAG_ANSWER] + strlen(tag_text[TAG_ANSWER]);
    size_t after_ans = pos[TAG_ANSWER_END] + strlen(tag_text[TAG_ANSWER_END]);
    if (!only_space(c, pos[TAG_THINK])) return 0;                          /* text before */
    if (only_space(c + end_think, end_cot - end_think)) return 0;          /* empty thought */
    if (!only_space(c + after_cot, pos[TAG_ANSWER] - after_cot)) return 0; /* text between */
    if (only_space(c + begin_ans, pos[TAG_ANSWER_END] - begin_ans)) return 0; /* no answer */
    if (!only_space(c + after_ans, len - after_ans)) return 0;             /* text after */
    return 1;
}

double tr_reward_tags(const char *c) {
    if (!c) return 0;
    int count[4];
    size_t pos[4];
    count_tags(c, count, pos);
    size_t len = strlen(c);
    double r = 0;
    for (int k = 0; k < 4; k++) {
        if (count[k] != 1) continue;
        int ok = 1;
        for (int j = 0; j < 4 && ok; j++) {
            if (j == k || count[j] != 1) continue;
            if ((j < k && pos[j] >= pos[k]) || (j > k && pos[j] <= pos[k])) ok = 0;
        }
        if (k == TAG_THINK && !only_space(c, pos[k])) ok = 0;
        if (k == TAG_ANSWER_END) {
            size_t after = pos[k] + strlen(tag_text[k]);
            if (!only_space(c + after, len - after)) ok = 0;
        }
        r += ok ? 0.25 : 0;
    }
    return r;
}

void tr_chain_of_thought(const char *c, size_t *begin, size_t *len) {
    *begin = 0;
    *len = c ? strlen(c) : 0;
    if (!c) return;
    const char *open = strstr(c, tag_text[TAG_THINK]);
    if (!open) return;
    const char *start = open + strlen(tag_text[TAG_THINK]);
    const char *close = strstr(start, tag_text[TAG_THINK_END]);
    if (!close) return;
    *begin = (size_t)(start - c);
    *len = (size_t)(close - start);
}

double tr_reward_language(const char *prompt, const char *completion) {
    tr_script target = tr_text_script(prompt);
    if (target == TR_SCRIPT_NONE || !completion) return 0;
    size_t b, n;
    tr_chain_of_thought(completion, &b, &n);
    int64_t counts[TR_SCRIPT_COUNT];
    int64_t total = tr_script_word_counts(completion + b, n, counts);
    return total > 0 ? (double)counts[target] / (double)total : 0;
}

double tr_reward_overlong(int64_t n, int64_t max_len, int64_t cache) {
    if (cache <= 0 || cache > max_len) cache = max_len;
    if (cache <= 0) return 0;
    if (n <= max_len - cache) return 0;
    if (n <= max_len) return (double)(max_len - cache - n) / (double)cache;
    return -1;
}

double tr_reward_cosine(int correct, int64_t n, int64_t max_len, const tr_cosine_params *p) {
    double progress = max_len > 0 ? (double)n / (double)max_len : 1;
    if (progress > 1) progress = 1;
    if (progress < 0) progress = 0;
    double c = cos(3.14159265358979323846 * progress);
    double lo = correct ? p->min_correct : p->max_wrong;
    double hi = correct ? p->max_correct : p->min_wrong;
    return lo + 0.5 * (hi - lo) * (1 + c);
}

static const char *const kind_names[TR_REWARD_KIND_COUNT] = {"accuracy", "format",   "tags",
                                                              "language", "overlong", "cosine"};

const char *tr_reward_kind_name(tr_reward_kind k) {
    return (unsigned)k < TR_REWARD_KIND_COUNT ? kind_names[k] : "?";
}

int tr_reward_kind_parse(tr_reward_kind *k, const char *name) {
    for (int i = 0; i < TR_REWARD_KIND_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *k = (tr_reward_kind)i;
            return 0;
        }
    return -1;
}

int tr_reward_spec_parse(tr_reward_spec *spec, const char *text, tr_err *err) {
    memset(spec, 0, sizeof *spec);
    spec->cosine = (tr_cosine_params){0.5, 1.0, -1.0, -0.5};
    if (!text || !*text) return tr_fail(err, "rewards: empty specification; expected e.g. "
                                             "\"accuracy:1,format:0.5\"");
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[64];
        if (n == 0 || n >= sizeof item)
            return tr_fail(err, "rewards: bad item in \"%s\"; expected name[:weight],...", text);
        memcpy(item, p, n);
        item[n] = '\0';
        char *colon = strchr(item, ':');
        double w = 1;
        if (colon) {
            *colon = '\0';
            char *e;
            w = strtod(colon + 1, &e);
            if (e == colon + 1 || *e || !isfinite(w))
                return tr_fail(err, "rewards: weight of \"%s\" is not a finite number", item);
        }
        tr_reward_kind k;
        if (tr_reward_kind_parse(&k, item) != 0)
            return tr_fail(err, "rewards: unknown reward \"%s\"; expected accuracy, format, tags, "
                                "language, overlong or cosine", item);
        for (int i = 0; i < spec->n; i++)
            if (spec->kind[i] == k) return tr_fail(err, "rewards: \"%s\" given twice", item);
        if (spec->n == TR_MAX_REWARDS)
            return tr_fail(err, "rewards: more than %d rewards", TR_MAX_REWARDS);
        spec->kind[spec->n] = k;
        spec->weight[spec->n] = w;
        spec->n++;
        p += n;
        if (*p == ',') {
            p++;
            if (!*p) return tr_fail(err, "rewards: trailing comma in \"%s\"", text);
        }
    }
    return 0;
}

void tr_reward_spec_format(const tr_reward_spec *spec, char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (int i = 0; i < spec->n && n < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s:%g", i ? "," : "",
                         tr_reward_kind_name(spec->kind[i]), spec->weight[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
}

double tr_rewards_compute(const tr_reward_spec *spec, const tr_reward_input *in, double *values,
                          tr_verdict *verdict) {
    const char *c = in->completion ? in->completion : "";
    tr_verdict v;
    int verified = 0;
    double total = 0;
    for (int i = 0; i < spec->n; i++) {
        double r = 0;
        tr_reward_kind k = spec->kind[i];
        if ((k == TR_REWARD_ACCURACY || k == TR_REWARD_COSINE) && !verified) {
            tr_task_verify(in->task, in->problem, c, &v);
            verified = 1;
        }
        switch (k) {
        case TR_REWARD_ACCURACY:
            r = spec->accuracy_binary ? (v.correct ? 1 : 0) : v.score;
            break;
        case TR_REWARD_FORMAT: r = tr_reward_format(c); break;
        case TR_REWARD_TAGS: r = tr_reward_tags(c); break;
        case TR_REWARD_LANGUAGE: r = tr_reward_language(in->problem->prompt, c); break;
        case TR_REWARD_OVERLONG:
            r = tr_reward_overlong(in->n_tokens, spec->max_len,
                                   spec->overlong_buffer > 0 ? spec->overlong_buffer
                                                             : spec->max_len / 4);
            break;
        case TR_REWARD_COSINE:
            r = tr_reward_cosine(v.correct, in->n_tokens, spec->max_len, &spec->cosine);
            break;
        default: break;
        }
        if (!isfinite(r)) r = 0;
        values[i] = r;
        total += spec->weight[i] * r;
    }
    if (verdict) {
        if (!verified) tr_task_verify(in->task, in->problem, c, &v);
        *verdict = v;
    }
    return total;
}
