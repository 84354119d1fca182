/* Countdown: reach a target with + - * / over a list of numbers, each used at most once.
 * The verifier is a recursive-descent parser over exact fractions (no eval). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks_internal.h"

#define CD_MAX_LEN 256
#define CD_MAX_DEPTH 32
#define CD_MAX_NUMBERS 16

typedef struct cd_parser {
    const char *s, *p;
    int depth, n_numbers;
    const int64_t *nums;
    int n_nums;
    int used[TR_MAX_NUMS];
    int check_nums;
    char msg[160];
} cd_parser;

static int cd_error(cd_parser *ps, const char *fmt, const char *arg) {
    if (!ps->msg[0]) snprintf(ps->msg, sizeof ps->msg, fmt, arg, (int)(ps->p - ps->s) + 1);
    return -1;
}

static void skip_space(cd_parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

/* Returns the operator at p ('+', '-', '*', '/' or 0), accepting the UTF-8 signs × and ÷;
 * *len gets its byte length. */
static char peek_op(const char *p, int *len) {
    *len = 1;
    if (*p == '+' || *p == '-' || *p == '*' || *p == '/') return *p;
    if ((unsigned char)p[0] == 0xC3 && (unsigned char)p[1] == 0x97) return *len = 2, '*';
    if ((unsigned char)p[0] == 0xC3 && (unsigned char)p[1] == 0xB7) return *len = 2, '/';
    if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x88 && (unsigned char)p[2] == 0x92)
        return *len = 3, '-'; /* U+2212 minus sign */
    return 0;
}

static int use_number(cd_parser *ps, int64_t v) {
    if (++ps->n_numbers > CD_MAX_NUMBERS)
        return cd_error(ps, "too many numbers%s (at column %d)", "");
    if (!ps->check_nums) return 0;
    int listed = 0;
    for (int i = 0; i < ps->n_nums; i++) {
        if (ps->nums[i] != v) continue;
        listed++;
        if (!ps->used[i]) {
            ps->used[i] = 1;
            return 0;
        }
    }
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    if (!listed) return cd_error(ps, "%s is not one of the numbers (column %d)", num);
    if (listed == 1) return cd_error(ps, "uses %s twice (column %d)", num);
    return cd_error(ps, "uses %s more often than it is listed (column %d)", num);
}

static int parse_expr(cd_parser *ps, tr_tk_q *out);

static int parse_factor(cd_parser *ps, tr_tk_q *out) {
    skip_space(ps);
    if (++ps->depth > CD_MAX_DEPTH) return cd_error(ps, "nested too deeply%s (column %d)", "");
    int len, rc = 0;
    char op = peek_op(ps->p, &len);
    if (op == '-' || op == '+') {
        ps->p += len;
        tr_tk_q v;
        rc = parse_factor(ps, &v);
        if (!rc) {
            if (op == '-') v.n = -v.n;
            *out = v;
        }
    } else if (*ps->p == '(') {
        ps->p++;
        rc = parse_expr(ps, out);
        skip_space(ps);
        if (!rc && *ps->p != ')') rc = cd_error(ps, "expected ')'%s at column %d", "");
        if (!rc) ps->p++;
    } else if (*ps->p >= '0' && *ps->p <= '9') {
        int64_t v = 0;
        int digits = 0;
        while (*ps->p >= '0' && *ps->p <= '9') {
            if (++digits > 12) return cd_error(ps, "number too long%s (column %d)", "");
            v = v * 10 + (*ps->p - '0');
            ps->p++;
        }
        if (*ps->p == '.' || *ps->p == ',')
            return cd_error(ps, "only whole numbers are allowed%s (column %d)", "");
        rc = use_number(ps, v);
        if (!rc) tr_tk_q_make(v, 1, out);
    } else if (*ps->p == 0) {
        rc = cd_error(ps, "expression ends too early%s (column %d)", "");
    } else {
        char c[8];
        snprintf(c, sizeof c, "%c", *ps->p >= 32 && *ps->p < 127 ? *ps->p : '?');
        rc = cd_error(ps, "unexpected character '%s' at column %d", c);
    }
    ps->depth--;
    return rc;
}

static int parse_term(cd_parser *ps, tr_tk_q *out) {
    tr_tk_q acc;
    if (parse_factor(ps, &acc)) return -1;
    for (;;) {
        skip_space(ps);
        int len;
        char op = peek_op(ps->p, &len);
        if (op != '*' && op != '/') break;
        ps->p += len;
        tr_tk_q rhs;
        if (parse_factor(ps, &rhs)) return -1;
        if (op == '/' && rhs.n == 0)
            return cd_error(ps, "division by zero%s (before column %d)", "");
        if ((op == '*' ? tr_tk_q_mul(acc, rhs, &acc) : tr_tk_q_div(acc, rhs, &acc)) != 0)
            return cd_error(ps, "arithmetic overflow%s (before column %d)", "");
    }
    *out = acc;
    return 0;
}

static int parse_expr(cd_parser *ps, tr_tk_q *out) {
    tr_tk_q acc;
    if (++ps->depth > CD_MAX_DEPTH) return cd_error(ps, "nested too deeply%s (column %d)", "");
    if (parse_term(ps, &acc)) return -1;
    for (;;) {
        skip_space(ps);
        int len;
        char op = peek_op(ps->p, &len);
        if (op != '+' && op != '-') break;
        ps->p += len;
        tr_tk_q rhs;
        if (parse_term(ps, &rhs)) return -1;
        if ((op == '+' ? tr_tk_q_add(acc, rhs, &acc) : tr_tk_q_sub(acc, rhs, &acc)) != 0)
            return cd_error(ps, "arithmetic overflow%s (before column %d)", "");
    }
    ps->depth--;
    *out = acc;
    return 0;
}

int tr_countdown_eval(const char *expr, const int64_t *nums, int n_nums, int use_all, int64_t *num,
                      int64_t *den, tr_err *err) {
    if (!expr) return tr_fail(err, "no expression");
    size_t len = strnlen(expr, CD_MAX_LEN + 1);
    if (len > CD_MAX_LEN) return tr_fail(err, "expression longer than %d bytes", CD_MAX_LEN);
    if (n_nums < 0 || n_nums > TR_MAX_NUMS || (n_nums && !nums))
        return tr_fail(err, "bad number list (%d numbers)", n_nums);
    cd_parser ps;
    memset(&ps, 0, sizeof ps);
    ps.s = ps.p = expr;
    ps.nums = nums;
    ps.n_nums = n_nums;
    ps.check_nums = nums != NULL;
    tr_tk_q v;
    if (parse_expr(&ps, &v) != 0) return tr_fail(err, "%s", ps.msg);
    skip_space(&ps);
    if (*ps.p) {
        char c[8];
        snprintf(c, sizeof c, "%c", *ps.p >= 32 && *ps.p < 127 ? *ps.p : '?');
        return tr_fail(err, "unexpected '%s' at column %d", c, (int)(ps.p - expr) + 1);
    }
    if (use_all && ps.check_nums)
        for (int i = 0; i < n_nums; i++)
            if (!ps.used[i]) return tr_fail(err, "does not use %lld", (long long)nums[i]);
    *num = v.n;
    *den = v.d;
    return 0;
}

/* The verdict for a countdown problem (also used by the registry). */
void tr_tk_countdown_verify(const int64_t *nums, int n_nums, int64_t target, int use_all,
                            const char *response, tr_verdict *v) {
    memset(v, 0, sizeof *v);
    v->source = tr_answer_extract(response ? response : "", v->extracted, sizeof v->extracted);
    if (v->source == TR_ANS_NONE) {
        snprintf(v->reason, sizeof v->reason, "no answer found");
        return;
    }
    v->well_formed = 1;
    v->score = 0.1;
    int64_t n, d;
    tr_err e;
    if (tr_countdown_eval(v->extracted, nums, n_nums, use_all, &n, &d, &e) != 0) {
        snprintf(v->reason, sizeof v->reason, "%.150s", e.msg);
        return;
    }
    if (d != 1 || n != target) {
        if (d == 1)
            snprintf(v->reason, sizeof v->reason, "evaluates to %lld, not %lld", (long long)n,
                     (long long)target);
        else
            snprintf(v->reason, sizeof v->reason, "evaluates to %lld/%lld, not %lld", (long long)n,
                     (long long)d, (long long)target);
        return;
    }
    v->correct = 1;
    v->score = 1.0;
}

double tr_countdown_score(const char *response, const int64_t *nums, int n_nums, int64_t target,
                          int use_all) {
    tr_verdict v;
    tr_tk_countdown_verify(nums, n_nums, target, use_all, response, &v);
    return v.score;
}

/* ---- generator ------------------------------------------------------------------------ */

char *tr_tk_countdown_prompt(const int64_t *nums, int n, int64_t target, int use_all) {
    tr_sb b = {0};
    tr_sb_put(&b, "Using the numbers [");
    for (int i = 0; i < n; i++) tr_sb_printf(&b, "%s%lld", i ? ", " : "", (long long)nums[i]);
    tr_sb_printf(&b,
                 "], write an expression that equals %lld. You may use + - * / and "
                 "parentheses, and each number %s.",
                 (long long)target, use_all ? "exactly once" : "at most once");
    return tr_sb_take(&b);
}

typedef struct cd_item {
    int64_t v;
    char expr[160];
    int leaf;
} cd_item;

static void wrap(char *dst, size_t cap, const cd_item *it) {
    if (it->leaf)
        snprintf(dst, cap, "%.120s", it->expr);
    else
        snprintf(dst, cap, "(%.120s)", it->expr);
}

/* One random tree over all items; returns 0 if every step gave a positive integer. */
static int build_tree(tr_rng *rng, cd_item *items, int n, tr_sb *cot) {
    while (n > 1) {
        int i = (int)tr_rng_below(rng, (uint64_t)n), j = (int)tr_rng_below(rng, (uint64_t)n - 1);
        if (j >= i) j++;
        cd_item a = items[i], b = items[j];
        if (a.v < b.v) {
            cd_item t = a;
            a = b;
            b = t;
        }
        /* ops valid for (a, b) with a >= b: keep every intermediate a positive integer */
        char ops[4];
        int n_ops = 0;
        ops[n_ops++] = '+';
        if (a.v > b.v) ops[n_ops++] = '-';
        if (a.v * b.v <= 2000) ops[n_ops++] = '*';
        if (b.v > 1 && a.v % b.v == 0) ops[n_ops++] = '/';
        char op = ops[tr_rng_below(rng, (uint64_t)n_ops)];
        int64_t r = op == '+'   ? a.v + b.v
                    : op == '-' ? a.v - b.v
                    : op == '*' ? a.v * b.v
                                : a.v / b.v;
        cd_item c;
        char sa[128], sb[128];
        wrap(sa, sizeof sa, &a);
        wrap(sb, sizeof sb, &b);
        c.v = r;
        c.leaf = 0;
        snprintf(c.expr, sizeof c.expr, "%.75s %c %.75s", sa, op, sb);
        tr_sb_printf(cot, "%lld %c %lld = %lld.", (long long)a.v, op, (long long)b.v, (long long)r);
        /* remove i and j, append c */
        int hi = i > j ? i : j, lo = i > j ? j : i;
        items[hi] = items[n - 1];
        items[lo] = items[n - 2];
        items[n - 2] = c;
        n--;
        if (n > 1) {
            tr_sb_put(cot, " Left:");
            for (int k = 0; k < n; k++)
                tr_sb_printf(cot, "%s %lld", k ? "," : "", (long long)items[k].v);
            tr_sb_put(cot, ".\n");
        } else {
            tr_sb_put(cot, "\n");
        }
    }
    return 0;
}

int tr_tk_countdown_generate(uint64_t seed, int64_t index, int difficulty, const char *lang,
                             tr_problem *out, tr_err *err) {
    tr_rng rng;
    tr_tk_problem_rng(&rng, "countdown", seed, index);
    int n = tr_tk_clamp(difficulty + 2, 3, 6);
    int64_t tmin = 10, tmax = difficulty <= 2 ? 100 : 1000;
    for (int attempt = 0; attempt < 10000; attempt++) {
        int64_t nums[TR_MAX_NUMS];
        cd_item items[TR_MAX_NUMS];
        for (int i = 0; i < n; i++) {
            nums[i] = 1 + (int64_t)tr_rng_below(&rng, 99);
            items[i].v = nums[i];
            items[i].leaf = 1;
            snprintf(items[i].expr, sizeof items[i].expr, "%lld", (long long)nums[i]);
        }
        tr_sb cot = {0};
        tr_sb_put(&cot, "Numbers:");
        for (int i = 0; i < n; i++) tr_sb_printf(&cot, "%s %lld", i ? "," : "", (long long)nums[i]);
        tr_sb_put(&cot, ". Combine two numbers at a time until one number is left.\n");
        build_tree(&rng, items, n, &cot);
        int64_t target = items[0].v;
        if (target < tmin || target > tmax) {
            tr_sb_free(&cot);
            continue;
        }
        tr_sb_printf(&cot,
                     "That is the target %lld, using every number once. The expression is %s.",
                     (long long)target, items[0].expr);
        memset(out, 0, sizeof *out);
        out->n_nums = n;
        memcpy(out->nums, nums, sizeof nums[0] * (size_t)n);
        out->target = target;
        out->use_all = 0;
        out->seed = seed;
        out->index = index;
        out->difficulty = difficulty;
        /* the answer of a countdown problem is its expression */
        return tr_tk_problem_finish(out, "countdown", lang,
                                    tr_tk_countdown_prompt(nums, n, target, 0),
                                    tr_tk_strdup(items[0].expr), tr_sb_take(&cot), err);
    }
    return tr_fail(err, "countdown: no problem found for seed %llu index %lld",
                   (unsigned long long)seed, (long long)index);
}
