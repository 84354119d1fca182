/* Evaluation statistics against hand computations: pass@k (binomial ratios by hand and by
 * brute-force enumeration of subsets), majority votes with ties, Wilson intervals (textbook
 * values), the bootstrap, and a whole summary. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tinyr1/eval.h"

/* pass@k by enumeration: the fraction of k-subsets of n samples (c correct = the first c)
 * that contain a correct sample. */
static double pass_at_k_brute(int n, int c, int k) {
    long total = 0, hit = 0;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        int bits = 0;
        for (unsigned m = mask; m; m >>= 1) bits += m & 1;
        if (bits != k) continue;
        total++;
        hit += (mask & ((1u << c) - 1)) != 0;
    }
    return (double)hit / total;
}

static void test_pass_at_k(void) {
    CHECK_CLOSE(tr_pass_at_k(5, 2, 2), 1.0 - 3.0 / 10.0, 1e-12, 1e-12);    /* 1 - C(3,2)/C(5,2) */
    CHECK_CLOSE(tr_pass_at_k(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-12, 1e-12); /* 1 - C(7,5)/C(10,5) */
    CHECK(tr_pass_at_k(4, 0, 2) == 0.0);
    CHECK(tr_pass_at_k(4, 4, 2) == 1.0);
    CHECK(tr_pass_at_k(3, 2, 2) == 1.0); /* n - c = 1 < k */
    CHECK_CLOSE(tr_pass_at_k(16, 5, 1), 5.0 / 16.0, 1e-12, 1e-12);
    for (int n = 1; n <= 10; n++)
        for (int c = 0; c <= n; c++)
            for (int k = 1; k <= n; k++)
                CHECK_CLOSE(tr_pass_at_k(n, c, k), pass_at_k_brute(n, c, k), 1e-12, 1e-12);
    CHECK(isnan(tr_pass_at_k(4, 5, 1)));
    CHECK(isnan(tr_pass_at_k(4, 1, 5)));
    CHECK(isnan(tr_pass_at_k(4, 1, 0)));
}

static void test_majority(void) {
    int votes;
    const char *a[] = {"5", "3", "5", "3", "7"}; /* tie 2-2: "5" voted first */
    CHECK(tr_majority_vote(a, 5, &votes) == 0 && votes == 2);
    const char *b[] = {"3", "5", "5", "3", "7"}; /* tie: "3" first */
    CHECK(tr_majority_vote(b, 5, &votes) == 0 && votes == 2);
    const char *c[] = {"7", "3", "5", "5", "3", "5"}; /* "5" wins 3 to 2 */
    CHECK(tr_majority_vote(c, 6, &votes) == 2 && votes == 3);
    const char *d[] = {"", "3", NULL, "4", "4"}; /* no-answers do not vote */
    CHECK(tr_majority_vote(d, 5, &votes) == 3 && votes == 2);
    const char *e[] = {"", NULL, ""};
    CHECK(tr_majority_vote(e, 3, &votes) == -1 && votes == 0);
    const char *f[] = {"a", "b", "c"}; /* three-way tie of singletons: the first */
    CHECK(tr_majority_vote(f, 3, &votes) == 0 && votes == 1);
    CHECK(tr_majority_vote(f, 0, NULL) == -1);
}

static void test_wilson_bootstrap(void) {
    double lo, hi;
    /* 8 of 10 at 95%: (0.4902, 0.9433) (textbook value, e.g. Newcombe 1998 table) */
    tr_wilson_interval(8, 10, 1.959963984540054, &lo, &hi);
    CHECK_CLOSE(lo, 0.4902, 0, 1e-4);
    CHECK_CLOSE(hi, 0.9433, 0, 1e-4);
    /* 0 of 10: lower bound 0, upper z^2 / (n + z^2) = 3.8415 / 13.8415 = 0.2775 */
    tr_wilson_interval(0, 10, 1.959963984540054, &lo, &hi);
    CHECK(lo == 0.0);
    CHECK_CLOSE(hi, 0.27754, 0, 1e-4);
    tr_wilson_interval(0, 0, 1.96, &lo, &hi);
    CHECK(lo == 0 && hi == 1);

    tr_err err;
    double v[400];
    for (int i = 0; i < 400; i++) v[i] = 0.25;
    CHECK(tr_bootstrap_mean_ci(v, 400, 200, 1, 0.95, &lo, &hi, &err) == 0);
    CHECK(lo == 0.25 && hi == 0.25);
    /* half ones: the interval is about 0.5 +- 1.96 sqrt(0.25/400) = 0.5 +- 0.049 */
    for (int i = 0; i < 400; i++) v[i] = i % 2;
    CHECK(tr_bootstrap_mean_ci(v, 400, 2000, 7, 0.95, &lo, &hi, &err) == 0);
    CHECK_MSG(lo > 0.44 && lo < 0.465 && hi > 0.535 && hi < 0.56, "[%g, %g]", lo, hi);
    double lo2, hi2;
    CHECK(tr_bootstrap_mean_ci(v, 400, 2000, 7, 0.95, &lo2, &hi2, &err) == 0);
    CHECK(lo == lo2 && hi == hi2); /* a fixed seed reproduces */
    CHECK(tr_bootstrap_mean_ci(v, 0, 10, 1, 0.95, &lo, &hi, &err) == -1);
}

static void test_summary(void) {
    /* 4 problems, k = 4:
     *   p0: 4/4 correct, maj right, greedy right, lengths 10
     *   p1: 1/4, maj wrong, greedy wrong, 20
     *   p2: 0/4, maj wrong, greedy wrong, 30, 2 well-formed
     *   p3: 2/4, maj right, greedy right, 40 */
    tr_eval_problem p[4] = {
        {4, 4, 4, 1, 1, 10.0},
        {4, 1, 4, 0, 0, 20.0},
        {4, 0, 2, 0, 0, 30.0},
        {4, 2, 4, 1, 1, 40.0},
    };
    tr_eval_summary s;
    tr_err err;
    CHECK(tr_eval_summarize(p, 4, 500, 3, &s, &err) == 0);
    CHECK(s.n_problems == 4 && s.k == 4 && s.has_greedy);
    CHECK_CLOSE(s.greedy.value, 0.5, 0, 1e-12);
    CHECK_CLOSE(s.pass1.value, (1.0 + 0.25 + 0 + 0.5) / 4, 0, 1e-12);
    /* pass@4 with n = 4: 1 if any correct: 3/4 */
    CHECK_CLOSE(s.pass_k.value, 0.75, 0, 1e-12);
    CHECK_CLOSE(s.maj_k.value, 0.5, 0, 1e-12);
    CHECK_CLOSE(s.mean_length.value, 25.0, 0, 1e-12);
    CHECK_CLOSE(s.well_formed.value, (1 + 1 + 0.5 + 1) / 4.0, 0, 1e-12);
    /* pass@1, pass@2, pass@4; pass@2 per problem: 1, 1 - C(3,2)/C(4,2) = 0.5, 0,
     * 1 - C(2,2)/C(4,2) = 5/6 */
    CHECK(s.n_pass_at == 3 && s.pass_at_k[0] == 1 && s.pass_at_k[1] == 2 && s.pass_at_k[2] == 4);
    CHECK_CLOSE(s.pass_at[1], (1 + 0.5 + 0 + 5.0 / 6) / 4, 0, 1e-12);
    CHECK(s.pass1.lo <= s.pass1.value && s.pass1.value <= s.pass1.hi);
    CHECK(s.greedy.lo < 0.5 && s.greedy.hi > 0.5);
    /* k = 3 lists pass@1, pass@2, pass@3 */
    for (int i = 0; i < 4; i++)
        p[i].n_samples = 3, p[i].n_correct = p[i].n_correct > 3 ? 3 : p[i].n_correct;
    CHECK(tr_eval_summarize(p, 4, 100, 3, &s, &err) == 0);
    CHECK(s.n_pass_at == 3 && s.pass_at_k[2] == 3);
    p[0].n_correct = 5;
    CHECK(tr_eval_summarize(p, 4, 100, 3, &s, &err) == -1);
}

/* Scoring one problem with the real verifier and canonical answers: responses written by
 * hand around the gold answer of a generated "add" problem. */
static void test_score_problem(void) {
    const tr_task *t = tr_task_find("add");
    CHECK(t != NULL);
    if (!t) return;
    tr_problem p;
    tr_err err;
    CHECK(tr_task_generate(t, 5, 3, NULL, &p, &err) == 0);
    long gold = atol(p.answer);
    char right[128], right_spaced[128], wrong[128], wrong2[128];
    snprintf(right, sizeof right, "<think> adding </think> <answer>%ld</answer>", gold);
    snprintf(right_spaced, sizeof right_spaced, "<think>x</think><answer> %ld </answer>", gold);
    snprintf(wrong, sizeof wrong, "<think> oops </think> <answer>%ld</answer>", gold + 1);
    snprintf(wrong2, sizeof wrong2, "<think> oops </think> <answer>%ld</answer>", gold + 2);
    const char *none = "I do not know";
    tr_eval_problem st;
    tr_verdict v[5];
    int win;
    /* 2 right (equivalent answers vote together), 1 wrong, 1 without an answer */
    const char *r1[4] = {wrong, right, none, right_spaced};
    int lens[4] = {10, 20, 30, 40};
    CHECK(tr_eval_score_problem(t, &p, r1, lens, 4, right, &st, v, &win, &err) == 0);
    CHECK(st.n_samples == 4 && st.n_correct == 2 && st.n_well_formed == 3);
    CHECK(st.maj_correct == 1 && win == 1 && st.greedy_correct == 1);
    CHECK(st.mean_length == 25.0);
    CHECK(v[0].correct == 0 && v[1].correct == 1 && v[2].well_formed == 0);
    /* a 1-1 tie between a wrong and a right answer: the first vote (wrong) wins */
    const char *r2[3] = {wrong, none, right};
    CHECK(tr_eval_score_problem(t, &p, r2, NULL, 3, NULL, &st, NULL, &win, &err) == 0);
    CHECK(st.n_correct == 1 && st.maj_correct == 0 && win == 0 && st.greedy_correct == -1);
    /* the same tie the other way round */
    const char *r3[3] = {right, wrong, none};
    CHECK(tr_eval_score_problem(t, &p, r3, NULL, 3, wrong, &st, NULL, &win, &err) == 0);
    CHECK(st.maj_correct == 1 && win == 0 && st.greedy_correct == 0);
    /* two wrong answers outvote one right one */
    const char *r4[3] = {right, wrong2, wrong2};
    CHECK(tr_eval_score_problem(t, &p, r4, NULL, 3, NULL, &st, NULL, &win, &err) == 0);
    CHECK(st.n_correct == 1 && st.maj_correct == 0 && win == 1);
    /* nobody answers: no vote, maj wrong */
    const char *r5[2] = {none, none};
    CHECK(tr_eval_score_problem(t, &p, r5, NULL, 2, NULL, &st, NULL, &win, &err) == 0);
    CHECK(win == -1 && st.maj_correct == 0 && st.n_well_formed == 0);
    tr_problem_free(&p);
}

int main(void) {
    test_score_problem();
    test_pass_at_k();
    test_majority();
    test_wilson_bootstrap();
    test_summary();
    return tu_finish("test_eval_stats");
}
