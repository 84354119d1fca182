/* Answer extraction and the equivalence checker: hand-written pairs, and the real
 * MATH-500 / GSM8K / AIME / AMC files as independent ground truth. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void check_pair(const char *a, const char *b, int expect) {
    int got = tr_answer_equiv(a, b), back = tr_answer_equiv(b, a);
    CHECK_MSG(got == expect, "equiv(\"%s\", \"%s\") = %d, expected %d", a, b, got, expect);
    CHECK_MSG(back == got, "equiv is not symmetric on \"%s\", \"%s\"", a, b);
}

static void test_pairs(void) {
    /* true pairs (from the brief and from MATH's conventions) */
    const char *eq[][2] = {
        {"1/2", "\\frac12"},
        {"\\frac12", "0.5"},
        {"1/2", "0.5"},
        {"1,000", "1000"},
        {"\\text{5 cm}", "5"},
        {"(1,2)", "\\left(1, 2\\right)"},
        {"\\dfrac{3}{4}", "0.75"},
        {"\\tfrac{3}{4}", "3/4"},
        {"-\\frac{1}{2}", "\\frac{-1}{2}"},
        {"-0.5", "-\\frac12"},
        {"+7", "7"},
        {"025", "25"},
        {"27.0", "27"},
        {"90^\\circ", "90"},
        {"90^{\\circ}", "90"},
        {"50\\%", "50"},
        {"\\$18.90", "18.9"},
        {"10,\\!080", "10080"},
        {"x=5", "5"},
        {"x = \\frac{1}{2}", "0.5"},
        {"\\sqrt2", "\\sqrt{2}"},
        {"11\\sqrt2", "11 \\sqrt{2}"},
        {"{5}", "5"},
        {"3\\frac{1}{2}", "3.5"},
        {"1\\frac{4}{5}", "\\frac95"},
        {"\\left[1, 2\\right)", "[1,2)"},
        {"\\{1,2\\}", "\\{2,1\\}"},
        {"1, -2", "-2,1"},
        {"\\text{(C)}", "C"},
        {"(C)", "C"},
        {"\\text{Evelyn}", "evelyn"},
        {"\\boxed{5}", "5"},
        {"2\\sqrt{2}", "\\sqrt{8}"},
        {"\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"},
        {"10^{3}", "1000"},
        {"2^{-1}", "0.5"},
        {"\\sqrt[3]{27}", "3"},
        {"5 \\text{ dollars}", "5"},
        {"18 dollars", "18"},
        {"864 \\mbox{ inches}^2", "864"},
        {"5.", "5"},
        {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac\\pi2)"},
        {"(0,9) \\cup (9,36)", "(0,9)\\cup(9,36)"},
        {"\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}",
         "\\begin{pmatrix}-\\frac13\\\\\\frac23\\end{pmatrix}"},
        {"x \\in [-2,7]", "[-2, 7]"},
        {"6 - 5i", "6-5i"},
        {"x^2+1", "x^{2} + 1"},
        {"\\pi r^2", "\\pi r^{2}"},
        {"3\\cdot 4", "12"},
        {"2 \\times 3", "6"},
        {"12345678901234567890", "12,345,678,901,234,567,890"},
        {"\u221212", "-12"},
        {"0.333", "\\frac{333}{1000}"},
    };
    for (size_t i = 0; i < sizeof eq / sizeof eq[0]; i++) check_pair(eq[i][0], eq[i][1], 1);
    /* near misses */
    const char *ne[][2] = {
        {"5", "6"},
        {"-3", "3"},
        {"(1,2)", "(2,1)"},
        {"1/2", "2"},
        {"0.5", "0.05"},
        {"\\frac12", "\\frac21"},
        {"[1,2)", "[1,2]"},
        {"(1,2)", "1,2"},
        {"1.414", "\\sqrt2"},
        {"\\frac13", "0.333333"},
        {"100", "1000"},
        {"x+1", "x-1"},
        {"\\sqrt{2}", "\\sqrt{3}"},
        {"3x", "3"},
        {"2k+2", "2k"},
        {"(1,2,3)", "(1,2)"},
        {"\\{1,2\\}", "\\{1,3\\}"},
        {"12345678901234567890", "12345678901234567891"},
        {"\\pi", "3.14159"},
        {"", "5"},
        {"5", ""},
        {"C", "D"},
        {"1,000", "1"},
        {"-\\frac{1}{2}", "\\frac{1}{2}"},
        {"0", "-1"},
    };
    for (size_t i = 0; i < sizeof ne / sizeof ne[0]; i++) check_pair(ne[i][0], ne[i][1], 0);
    /* canonical forms agree exactly for exact equivalents (what maj@k relies on) */
    const char *same[][2] = {{"1/2", "\\frac12"},        {"0.5", "\\dfrac{1}{2}"},
                             {"1,000", "1000"},          {"(1,2)", "\\left(1, 2\\right)"},
                             {"\\{1,2\\}", "\\{2,1\\}"}, {"x=5", "5"}};
    const tr_task *math = tr_task_find("math");
    CHECK(math != NULL);
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        char a[256], b[256];
        CHECK(tr_answer_canonical(math, same[i][0], a, sizeof a) == 0);
        CHECK(tr_answer_canonical(math, same[i][1], b, sizeof b) == 0);
        CHECK_MSG(strcmp(a, b) == 0, "canonical(\"%s\") = \"%s\" but canonical(\"%s\") = \"%s\"",
                  same[i][0], a, same[i][1], b);
    }
    char c[64];
    CHECK(tr_answer_canonical(math, "\\frac{6}{4}", c, sizeof c) == 0 && strcmp(c, "3/2") == 0);
    CHECK(tr_answer_canonical(math, "\\frac{6}{4}", c, 3) == -1 && strlen(c) == 2);
    CHECK(tr_answer_canonical(tr_task_find("countdown"), " (1 + 2) * 3 ", c, sizeof c) == 0 &&
          strcmp(c, "(1+2)*3") == 0);
}

static void test_extract(void) {
    char buf[128];
    CHECK(tr_answer_extract("<think> 2+2 </think> <answer> 4 </answer>", buf, sizeof buf) ==
          TR_ANS_TAG);
    CHECK(strcmp(buf, "4") == 0);
    /* the tag wins over an earlier box; the last complete tag wins */
    CHECK(tr_answer_extract("\\boxed{3} <answer>1</answer> <answer> 7 </answer>", buf,
                            sizeof buf) == TR_ANS_TAG);
    CHECK(strcmp(buf, "7") == 0);
    /* a box inside the tag gives its content */
    CHECK(tr_answer_extract("<answer> $\\boxed{\\frac{1}{2}}$ </answer>", buf, sizeof buf) ==
          TR_ANS_TAG);
    CHECK(strcmp(buf, "\\frac{1}{2}") == 0);
    /* an unclosed tag falls back to the box, then ####; balanced braces */
    CHECK(tr_answer_extract("<answer> 5 so \\boxed{\\frac{a}{b}} done", buf, sizeof buf) ==
          TR_ANS_BOXED);
    CHECK(strcmp(buf, "\\frac{a}{b}") == 0);
    CHECK(tr_answer_extract("first \\boxed{1} then \\boxed{2}.", buf, sizeof buf) == TR_ANS_BOXED);
    CHECK(strcmp(buf, "2") == 0);
    CHECK(tr_answer_extract("so \\boxed 7 is it", buf, sizeof buf) == TR_ANS_BOXED &&
          strcmp(buf, "7") == 0);
    CHECK(tr_answer_extract("so $\\boxed 7$", buf, sizeof buf) == TR_ANS_BOXED &&
          strcmp(buf, "7") == 0);
    CHECK(tr_answer_extract("\\fbox{12}", buf, sizeof buf) == TR_ANS_BOXED &&
          strcmp(buf, "12") == 0);
    CHECK(tr_answer_extract("\\boxed{\\{1,2\\}}", buf, sizeof buf) == TR_ANS_BOXED &&
          strcmp(buf, "\\{1,2\\}") == 0);
    CHECK(tr_answer_extract("unbalanced \\boxed{12 and #### 9", buf, sizeof buf) == TR_ANS_HASH);
    CHECK(strcmp(buf, "9") == 0);
    CHECK(tr_answer_extract("He pays 3 * 6 = 18.\n#### 18\n", buf, sizeof buf) == TR_ANS_HASH &&
          strcmp(buf, "18") == 0);
    CHECK(tr_answer_extract("The answer is 5.", buf, sizeof buf) == TR_ANS_NONE && buf[0] == 0);
    CHECK(tr_answer_extract("<answer>   </answer>", buf, sizeof buf) == TR_ANS_NONE);
    CHECK(tr_answer_extract("", buf, sizeof buf) == TR_ANS_NONE);
    /* truncation to the buffer */
    char small[4];
    CHECK(tr_answer_extract("<answer>123456</answer>", small, sizeof small) == TR_ANS_TAG &&
          strcmp(small, "123") == 0);
    CHECK(tr_answer_last_boxed("a \\boxed{x^{2}} b", buf, sizeof buf) == 0 &&
          strcmp(buf, "x^{2}") == 0);
    CHECK(tr_answer_last_boxed("none", buf, sizeof buf) == -1);
}

/* The last \boxed{} of each MATH-500 solution against its "answer" field. */
static void test_math500(void) {
    tr_dataset ds;
    tr_err err;
    CHECK_MSG(tr_dataset_load(&ds, TR_SHARED_DATA "/math500/test.jsonl", NULL, &err) == 0, "%s",
              err.msg);
    if (ds.n == 0) return;
    CHECK(ds.kind == TR_DS_PROBLEM);
    CHECK(ds.n == 500);
    int ok = 0, self = 0, wrong_neighbour = 0;
    for (int64_t i = 0; i < ds.n; i++) {
        char boxed[1024];
        int found = tr_answer_last_boxed(ds.ex[i].completion, boxed, sizeof boxed) == 0;
        if (found && tr_answer_equiv(boxed, ds.ex[i].answer))
            ok++;
        else
            printf("math500 line %lld: boxed \"%s\" vs answer \"%s\"\n", (long long)ds.ex[i].line,
                   found ? boxed : "(none)", ds.ex[i].answer);
        self += tr_answer_equiv(ds.ex[i].answer, ds.ex[i].answer);
        /* a negative control: the next problem's answer should differ (unless it is the same) */
        const char *next = ds.ex[(i + 1) % ds.n].answer;
        char c1[1024], c2[1024];
        tr_answer_canonical_math(ds.ex[i].answer, c1, sizeof c1);
        tr_answer_canonical_math(next, c2, sizeof c2);
        if (tr_answer_equiv(ds.ex[i].answer, next) != (strcmp(c1, c2) == 0)) wrong_neighbour++;
    }
    printf("math500: %d of %lld boxed answers equivalent to the answer field\n", ok,
           (long long)ds.n);
    CHECK(ok >= 495);
    CHECK(self == 500);
    CHECK_MSG(wrong_neighbour == 0, "%d neighbour pairs where equiv and canonical disagree",
              wrong_neighbour);
    tr_dataset_free(&ds);
}

/* Every GSM8K test row's "#### N" parses as a number. */
static void test_gsm8k(void) {
    tr_dataset ds;
    tr_err err;
    CHECK_MSG(tr_dataset_load(&ds, TR_SHARED_DATA "/gsm8k/test.jsonl", NULL, &err) == 0, "%s",
              err.msg);
    if (ds.n == 0) return;
    CHECK(ds.kind == TR_DS_GSM8K);
    CHECK(ds.n == 1319);
    int parsed = 0;
    const tr_task *t = tr_task_find("gsm8k");
    for (int64_t i = 0; i < ds.n; i++) {
        char canon[256];
        /* a number canonicalizes to digits, '-' and '/' only */
        int num = tr_answer_canonical(t, ds.ex[i].answer, canon, sizeof canon) == 0 && canon[0];
        for (const char *p = canon; num && *p; p++)
            if (!((*p >= '0' && *p <= '9') || *p == '-' || *p == '/')) num = 0;
        if (num)
            parsed++;
        else
            printf("gsm8k line %lld: \"%s\" does not parse (%s)\n", (long long)ds.ex[i].line,
                   ds.ex[i].answer, canon);
        /* the converted worked solution verifies against its own gold answer */
        tr_problem p;
        if (tr_task_problem_from_row(t, &ds.ex[i], NULL, NULL, &p, &err) == 0) {
            tr_verdict v;
            tr_task_verify(t, &p, p.completion, &v);
            CHECK_MSG(v.correct, "gsm8k line %lld: %s", (long long)ds.ex[i].line, v.reason);
            CHECK(strstr(p.completion, "<<") == NULL);
            tr_problem_free(&p);
        }
    }
    printf("gsm8k: %d of %lld final answers parse\n", parsed, (long long)ds.n);
    CHECK(parsed == 1319);
    /* "1,000"-style answers: the thousands separator is ignored */
    CHECK(tr_answer_equiv("1,450,000", "1450000"));
    tr_dataset_free(&ds);
}

static void test_aime_amc(void) {
    tr_problem *p = NULL;
    int64_t n = 0;
    tr_err err;
    const tr_task *aime = tr_task_find("aime24"), *amc = tr_task_find("amc");
    CHECK(aime && amc && aime == tr_task_find("aime"));
    CHECK_MSG(tr_task_load(aime, TR_SHARED_DATA "/aime24/test.jsonl", NULL, &p, &n, &err) == 0,
              "%s", err.msg);
    CHECK(n == 30);
    for (int64_t i = 0; i < n; i++) {
        /* "025" is 25: an answer without leading zeros is correct */
        char resp[64];
        snprintf(resp, sizeof resp, "<answer> %d </answer>", atoi(p[i].answer));
        tr_verdict v;
        tr_task_verify(aime, &p[i], resp, &v);
        CHECK_MSG(v.correct, "aime %lld: %s vs %s", (long long)i, resp, p[i].answer);
        snprintf(resp, sizeof resp, "\\boxed{%d}", atoi(p[i].answer) + 1);
        tr_task_verify(aime, &p[i], resp, &v);
        CHECK(!v.correct && v.well_formed && v.score == 0);
    }
    tr_problems_free(p, n);
    CHECK_MSG(tr_task_load(amc, TR_SHARED_DATA "/amc23/test.jsonl", NULL, &p, &n, &err) == 0, "%s",
              err.msg);
    CHECK(n == 40);
    if (n == 40) {
        CHECK(strcmp(p[0].answer, "27") == 0); /* 27.0 in the file */
        tr_verdict v;
        tr_task_verify(amc, &p[0], "<answer>27</answer>", &v);
        CHECK(v.correct && v.score == 1.0);
        tr_task_verify(amc, &p[0], "<answer>27.0</answer>", &v);
        CHECK(v.correct);
    }
    tr_problems_free(p, n);
}

int main(void) {
    test_pairs();
    test_extract();
    test_math500();
    test_gsm8k();
    test_aime_amc();
    return tu_finish("test_answers");
}
