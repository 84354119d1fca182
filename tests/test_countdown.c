/* Countdown: the expression evaluator, the TinyZero scoring, and every solution of the real
 * TinyZero training file (which its publishers checked: each uses every number once and
 * hits the target). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int eval_ok(const char *e, const int64_t *nums, int n, int use_all, int64_t want_n,
                   int64_t want_d) {
    int64_t num = 0, den = 0;
    tr_err err;
    if (tr_countdown_eval(e, nums, n, use_all, &num, &den, &err) != 0) {
        fprintf(stderr, "eval(\"%s\") failed: %s\n", e, err.msg);
        return 0;
    }
    return num == want_n && den == want_d;
}

static int eval_fails(const char *e, const int64_t *nums, int n, int use_all, const char *reason) {
    int64_t num, den;
    tr_err err;
    err.msg[0] = 0;
    if (tr_countdown_eval(e, nums, n, use_all, &num, &den, &err) == 0) return 0;
    if (reason && !strstr(err.msg, reason)) {
        fprintf(stderr, "eval(\"%s\"): message \"%s\" lacks \"%s\"\n", e, err.msg, reason);
        return 0;
    }
    return 1;
}

static void test_eval(void) {
    const int64_t nums[] = {44, 19, 35};
    CHECK(eval_ok("44 + (19 + 35)", nums, 3, 1, 98, 1));
    CHECK(eval_ok("44+19*35", nums, 3, 0, 44 + 19 * 35, 1)); /* precedence */
    CHECK(eval_ok("(44 - 19) - 35", nums, 3, 0, -10, 1));
    CHECK(eval_ok("44 - 19 - 35", nums, 3, 0, -10, 1));      /* left associative */
    CHECK(eval_ok("44 / 19 / 35", nums, 3, 0, 44, 19 * 35)); /* exact fractions */
    CHECK(eval_ok("35 / (44 - 19)", nums, 3, 0, 7, 5));
    CHECK(eval_ok("-(44 - 35)", nums, 3, 0, -9, 1));          /* unary minus */
    CHECK(eval_ok(" 44 ", nums, 3, 0, 44, 1));                /* at most once: a subset */
    CHECK(eval_ok("44 \xC3\x97 19", nums, 3, 0, 44 * 19, 1)); /* the sign × */
    CHECK(eval_ok("(1/3)*3", NULL, 0, 0, 1, 1));
    const int64_t dup[] = {7, 3, 3};
    CHECK(eval_ok("7 * 3 - 3", dup, 3, 1, 18, 1)); /* listed twice: twice allowed */
    CHECK(eval_fails("7 * 3 - 3 + 3", dup, 3, 0, "more often"));
    CHECK(eval_fails("7 / (3 - 3)", dup, 3, 0, "division by zero"));
    CHECK(eval_fails("5 / (3 - 3)", NULL, 0, 0, "division by zero"));
    CHECK(eval_fails("44 + 44", nums, 3, 0, "uses 44 twice"));
    CHECK(eval_fails("44 + 20", nums, 3, 0, "20 is not one of the numbers"));
    CHECK(eval_fails("44 + 19", nums, 3, 1, "does not use 35"));
    CHECK(eval_fails("44 + 19.5", nums, 3, 0, "whole numbers"));
    CHECK(eval_fails("((44 + 19)", nums, 3, 0, "expected ')'"));
    CHECK(eval_fails("44 +", nums, 3, 0, "ends too early"));
    CHECK(eval_fails("44 19", nums, 3, 0, "unexpected"));
    CHECK(eval_fails("44 ** 19", nums, 3, 0, NULL));
    CHECK(eval_fails("44 + 19 = 63", nums, 3, 0, "unexpected '='"));
    CHECK(eval_fails("x + 1", NULL, 0, 0, "unexpected character 'x'"));
    CHECK(eval_fails("", nums, 3, 0, "ends too early"));
    CHECK(eval_fails("999999999999 * 999999999999", NULL, 0, 0, "overflow"));
    CHECK(eval_fails("1234567890123", NULL, 0, 0, "too long"));
    /* limits: depth and length */
    char deep[200];
    memset(deep, '(', 40);
    strcpy(deep + 40, "1");
    memset(deep + 41, ')', 40);
    deep[81] = 0;
    CHECK(eval_fails(deep, NULL, 0, 0, "nested too deeply"));
    char longe[400];
    memset(longe, ' ', sizeof longe);
    longe[0] = '1';
    longe[sizeof longe - 1] = 0;
    CHECK(eval_fails(longe, NULL, 0, 0, "longer than"));
    char many[200] = "1";
    for (int i = 0; i < 20; i++) strcat(many, "+1");
    CHECK(eval_fails(many, NULL, 0, 0, "too many numbers"));
}

static void test_score(void) {
    const int64_t nums[] = {44, 19, 35};
    CHECK(tr_countdown_score("<think> ok </think> <answer> 44 + (19 + 35) </answer>", nums, 3, 98,
                             0) == 1.0);
    CHECK(tr_countdown_score("<answer> 44 + 19 + 35 </answer>", nums, 3, 97, 0) ==
          0.1); /* wrong target */
    CHECK(tr_countdown_score("<answer> 44 + 44 </answer>", nums, 3, 88, 0) == 0.1); /* used twice */
    CHECK(tr_countdown_score("<answer> 44 + 19 + 35 = 98 </answer>", nums, 3, 98, 0) == 0.1);
    CHECK(tr_countdown_score("<answer></answer>", nums, 3, 98, 0) == 0.0);
    CHECK(tr_countdown_score("44 + (19 + 35)", nums, 3, 98, 0) == 0.0); /* no tag */
    CHECK(tr_countdown_score(NULL, nums, 3, 98, 0) == 0.0);
}

/* Every TinyZero solution verifies; corrupted ones do not. */
static void test_train_file(void) {
    const tr_task *t = tr_task_find("countdown");
    tr_problem *p = NULL;
    int64_t n = 0;
    tr_err err;
    CHECK_MSG(tr_task_load(t, TR_SHARED_DATA "/countdown/train.jsonl", NULL, &p, &n, &err) == 0,
              "%s", err.msg);
    CHECK(n == 10240);
    int correct = 0, strict = 0, bad_twice = 0, bad_target = 0, bad_foreign = 0, bad_div0 = 0;
    for (int64_t i = 0; i < n; i++) {
        tr_verdict v;
        tr_task_verify(t, &p[i], p[i].completion, &v);
        if (v.correct && v.score == 1.0)
            correct++;
        else
            printf("countdown row %lld: %s (%s)\n", (long long)i, v.reason, v.extracted);
        /* the same solution under the stricter "every number exactly once" rule */
        p[i].use_all = 1;
        tr_task_verify(t, &p[i], p[i].completion, &v);
        strict += v.correct;
        p[i].use_all = 0;
        char expr[TR_ANSWER_CAP], resp[1024];
        tr_answer_extract(p[i].completion, expr, sizeof expr);
        long long a = (long long)p[i].nums[0];
        /* a number used twice (the value is unchanged) */
        snprintf(resp, sizeof resp, "<answer> %s - %lld + %lld </answer>", expr, a, a);
        tr_task_verify(t, &p[i], resp, &v);
        bad_twice += !v.correct && v.score == 0.1;
        /* a wrong target */
        p[i].target += 1;
        snprintf(resp, sizeof resp, "<answer> %s </answer>", expr);
        tr_task_verify(t, &p[i], resp, &v);
        bad_target += !v.correct && v.score == 0.1;
        p[i].target -= 1;
        /* a number not in the list (0 is never listed; the value is unchanged) */
        snprintf(resp, sizeof resp, "<answer> %s + 0 </answer>", expr);
        tr_task_verify(t, &p[i], resp, &v);
        bad_foreign += !v.correct && strstr(v.reason, "not one of the numbers") != NULL;
        /* division by zero: x / (a - a), with two more copies of a in the list so that
         * only the division is wrong */
        tr_problem q = p[i];
        if (q.n_nums + 2 <= TR_MAX_NUMS) {
            q.nums[q.n_nums++] = q.nums[0];
            q.nums[q.n_nums++] = q.nums[0];
            snprintf(resp, sizeof resp, "<answer> (%s) / (%lld - %lld) </answer>", expr, a, a);
            tr_task_verify(t, &q, resp, &v);
            bad_div0 += !v.correct && strstr(v.reason, "division by zero") != NULL;
        }
    }
    printf(
        "countdown train: %d of %lld solutions correct (%d under use-all); corrupted and rejected: "
        "twice %d, target %d, foreign %d, div0 %d\n",
        correct, (long long)n, strict, bad_twice, bad_target, bad_foreign, bad_div0);
    CHECK(correct == 10240);
    CHECK(strict == 10240);
    CHECK(bad_twice == 10240);
    CHECK(bad_target == 10240);
    CHECK(bad_foreign == 10240);
    CHECK(bad_div0 == 10240);
    /* the raw "solution" field also verifies (no leading <think>) */
    tr_dataset ds;
    if (tr_dataset_load(&ds, TR_SHARED_DATA "/countdown/test.jsonl", NULL, &err) == 0) {
        int ok = 0;
        for (int64_t i = 0; i < ds.n; i++)
            ok += tr_countdown_score(ds.ex[i].completion, ds.ex[i].nums, ds.ex[i].n_nums,
                                     ds.ex[i].target, 1) == 1.0;
        CHECK(ok == ds.n && ds.n == 1024);
        tr_dataset_free(&ds);
    }
    tr_problems_free(p, n);
}

int main(void) {
    test_eval();
    test_score();
    test_train_file();
    return tu_finish("test_countdown");
}
