/* Task generators: for 1,000 seeds each, the worked solution verifies, a wrong answer does
 * not, every "a op b = c" step in the chain of thought is true arithmetic (checked here
 * with plain integer arithmetic), the answers of add and mul match the prompt, the
 * languages do not mix, and generation is deterministic. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define N_SEEDS 1000

/* Reads an unsigned integer at *p; returns 1 on success and advances. */
static int read_num(const char **p, long long *v) {
    const char *s = *p;
    if (*s < '0' || *s > '9') return 0;
    *v = 0;
    while (*s >= '0' && *s <= '9') *v = *v * 10 + (*s++ - '0');
    *p = s;
    return 1;
}

/* Reads an operator among + - * × ÷ surrounded by single spaces. */
static int read_op(const char **p, char *op) {
    const char *s = *p;
    if (*s++ != ' ') return 0;
    if (*s == '+' || *s == '-' || *s == '*') {
        *op = *s++;
    } else if ((unsigned char)s[0] == 0xC3 && (unsigned char)s[1] == 0x97) {
        *op = '*';
        s += 2;
    } else if ((unsigned char)s[0] == 0xC3 && (unsigned char)s[1] == 0xB7) {
        *op = '/';
        s += 2;
    } else {
        return 0;
    }
    if (*s++ != ' ') return 0;
    *p = s;
    return 1;
}

/* Checks every "A op B [op C] = R" in text with integer arithmetic; returns the number of
 * steps found, -1 on a false one. */
static int check_steps(const char *text) {
    int steps = 0;
    for (const char *p = text; *p; p++) {
        if (p > text && p[-1] >= '0' && p[-1] <= '9') continue; /* start of a number only */
        /* ... and not the right operand of an operator ("7 * 2 + 1": start at 7 only) */
        if (p - text >= 2 && p[-1] == ' ' &&
            (strchr("+-*=", p[-2]) != NULL || (unsigned char)p[-2] == 0x97 ||
             (unsigned char)p[-2] == 0xB7))
            continue;
        const char *s = p;
        long long acc, v;
        char op;
        if (!read_num(&s, &acc)) continue;
        int terms = 0;
        while (read_op(&s, &op) && read_num(&s, &v)) {
            /* left to right is right here: the generators never mix + with * in one step */
            acc = op == '+'   ? acc + v
                  : op == '-' ? acc - v
                  : op == '*' ? acc * v
                              : (v ? acc / v : -1);
            terms++;
        }
        long long r;
        if (terms && strncmp(s, " = ", 3) == 0) {
            s += 3;
            if (!read_num(&s, &r)) continue;
            if (r != acc) {
                fprintf(stderr, "false step near \"%.60s\": computed %lld\n", p, acc);
                return -1;
            }
            steps++;
        }
    }
    return steps;
}

/* The text between <think> and </think>. */
static void think_part(const char *completion, char *buf, size_t cap) {
    const char *a = strstr(completion, "<think>"), *b = strstr(completion, "</think>");
    buf[0] = 0;
    if (!a || !b || b < a) return;
    a += 7;
    size_t n = (size_t)(b - a) < cap - 1 ? (size_t)(b - a) : cap - 1;
    memcpy(buf, a, n);
    buf[n] = 0;
}

static int has_ascii_letter(const char *s) {
    for (; *s; s++)
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) return 1;
    return 0;
}

static int has_cjk(const char *s) {
    for (const unsigned char *u = (const unsigned char *)s; *u; u++)
        if (*u >= 0xE3 && *u <= 0xEF) return 1; /* lead bytes of U+3000..U+FFFF */
    return 0;
}

static void run_task(const char *name, const char *lang, int difficulty, int n) {
    const tr_task *t = tr_task_find(name);
    CHECK(t != NULL);
    if (!t) return;
    tr_task_params tp = tr_task_default_params();
    tp.lang = lang;
    tp.difficulty = difficulty;
    int ok = 0, wrong_rejected = 0, steps_ok = 0, lang_ok = 0, answer_ok = 0, deterministic = 0;
    static char think[1 << 16];
    for (int i = 0; i < n; i++) {
        tr_problem p, p2;
        tr_err err;
        uint64_t seed = 1000 + (uint64_t)i * 7919;
        if (tr_task_generate(t, seed, i, &tp, &p, &err) != 0) {
            CHECK_MSG(0, "%s seed %llu: %s", name, (unsigned long long)seed, err.msg);
            continue;
        }
        tr_verdict v;
        tr_task_verify(t, &p, p.completion, &v);
        if (v.correct && v.well_formed && v.score == 1.0 && v.source == TR_ANS_TAG)
            ok++;
        else
            fprintf(stderr, "%s/%s seed %llu: not verified (%s): %s\n", name, lang,
                    (unsigned long long)seed, v.reason, p.completion);
        /* a wrong answer (countdown: the expression plus one) */
        char resp[600];
        if (strcmp(name, "countdown") == 0)
            snprintf(resp, sizeof resp, "<answer> %s + 1 </answer>", p.answer);
        else
            snprintf(resp, sizeof resp, "<answer> %lld </answer>", atoll(p.answer) + 1);
        tr_task_verify(t, &p, resp, &v);
        wrong_rejected += !v.correct;
        /* the arithmetic of the chain of thought */
        think_part(p.completion, think, sizeof think);
        int steps = check_steps(think);
        steps_ok += steps > 0;
        /* language */
        int clean = strcmp(p.lang, "zh") == 0
                        ? !has_ascii_letter(think) && !has_ascii_letter(p.prompt)
                        : !has_cjk(think) && !has_cjk(p.prompt);
        if (!clean)
            fprintf(stderr, "%s/%s: mixed languages: %s\n%s\n", name, lang, p.prompt, think);
        lang_ok += clean && strcmp(p.lang, lang) == 0;
        /* the gold answer against the prompt, computed here */
        unsigned long long a, b;
        if (strcmp(name, "add") == 0 && sscanf(p.prompt, "What is %llu + %llu?", &a, &b) == 2)
            answer_ok += strtoull(p.answer, NULL, 10) == a + b;
        else if (strcmp(name, "mul") == 0 && sscanf(p.prompt, "What is %llu * %llu?", &a, &b) == 2)
            answer_ok += strtoull(p.answer, NULL, 10) == a * b;
        else if (strcmp(name, "countdown") == 0) {
            int64_t num, den;
            answer_ok += tr_countdown_eval(p.answer, p.nums, p.n_nums, 1, &num, &den, &err) == 0 &&
                         den == 1 && num == p.target && p.target >= 10;
        } else
            answer_ok += atoll(p.answer) >= 0;
        /* deterministic */
        if (tr_task_generate(t, seed, i, &tp, &p2, &err) == 0) {
            deterministic +=
                strcmp(p.prompt, p2.prompt) == 0 && strcmp(p.completion, p2.completion) == 0;
            tr_problem_free(&p2);
        }
        tr_problem_free(&p);
    }
    printf("%-9s %s d=%d: %d/%d verified, %d wrong rejected, %d with checked steps, %d "
           "language-clean, "
           "%d answers checked, %d deterministic\n",
           name, lang, difficulty, ok, n, wrong_rejected, steps_ok, lang_ok, answer_ok,
           deterministic);
    CHECK(ok == n);
    CHECK(wrong_rejected == n);
    CHECK(steps_ok == n);
    CHECK(lang_ok == n);
    CHECK(answer_ok == n);
    CHECK(deterministic == n);
}

/* Problem i is the same problem in English and Chinese: same answer, same numbers. */
static void test_parallel_languages(void) {
    const tr_task *t = tr_task_find("wordprob");
    tr_task_params en = tr_task_default_params(), zh = en;
    zh.lang = "zh";
    int same = 0;
    for (int i = 0; i < 200; i++) {
        tr_problem a, b;
        tr_err err;
        if (tr_task_generate(t, 7, i, &en, &a, &err) || tr_task_generate(t, 7, i, &zh, &b, &err)) {
            CHECK(0);
            continue;
        }
        /* the digits of the prompts, in order, match (the word order is the same) */
        char da[256] = "", db[256] = "";
        size_t na = 0, nb = 0;
        for (const char *s = a.prompt; *s && na < 255; s++)
            if (*s >= '0' && *s <= '9')
                da[na++] = *s;
            else if (na && da[na - 1] != ',')
                da[na++] = ',';
        for (const char *s = b.prompt; *s && nb < 255; s++)
            if (*s >= '0' && *s <= '9')
                db[nb++] = *s;
            else if (nb && db[nb - 1] != ',')
                db[nb++] = ',';
        while (na && da[na - 1] == ',') na--;
        while (nb && db[nb - 1] == ',') nb--;
        da[na] = db[nb] = 0;
        same += strcmp(a.answer, b.answer) == 0 && strcmp(da, db) == 0;
        tr_problem_free(&a);
        tr_problem_free(&b);
    }
    CHECK_MSG(same == 200, "%d of 200 parallel", same);
}

static void test_registry(void) {
    CHECK(tr_task_count() >= 8);
    for (int i = 0; i < tr_task_count(); i++)
        CHECK(tr_task_find(tr_task_name(tr_task_at(i))) == tr_task_at(i));
    CHECK(tr_task_find("nope") == NULL);
    CHECK(tr_task_find("math500") == tr_task_find("math"));
    CHECK(tr_task_has_lang(tr_task_find("wordprob"), "zh"));
    CHECK(!tr_task_has_lang(tr_task_find("add"), "zh"));
    tr_problem p;
    tr_err err;
    tr_task_params zh = {0, "zh"};
    CHECK(tr_task_generate(tr_task_find("add"), 1, 0, &zh, &p, &err) == -1 &&
          strstr(err.msg, "no 'zh'"));
    CHECK(tr_task_generate(tr_task_find("gsm8k"), 1, 0, NULL, &p, &err) == -1 &&
          strstr(err.msg, "no generator"));
    CHECK(strcmp(tr_task_default_file(tr_task_find("gsm8k")), "gsm8k/test.jsonl") == 0);
    /* the difficulty knob: more digits */
    tr_task_params d1 = {1, "en"}, d6 = {6, "en"};
    size_t len1 = 0, len6 = 0;
    for (int i = 0; i < 50; i++) {
        if (tr_task_generate(tr_task_find("add"), 3, i, &d1, &p, &err) == 0)
            len1 += strlen(p.answer), tr_problem_free(&p);
        if (tr_task_generate(tr_task_find("add"), 3, i, &d6, &p, &err) == 0)
            len6 += strlen(p.answer), tr_problem_free(&p);
    }
    CHECK(len6 > 2 * len1);
    /* countdown: difficulty d gives d+2 numbers */
    tr_task_params c3 = {3, "en"};
    CHECK(tr_task_generate(tr_task_find("countdown"), 3, 0, &c3, &p, &err) == 0 && p.n_nums == 5);
    tr_problem_free(&p);
}

int main(void) {
    run_task("add", "en", 0, N_SEEDS);
    run_task("mul", "en", 0, N_SEEDS);
    run_task("countdown", "en", 0, N_SEEDS);
    run_task("wordprob", "en", 0, N_SEEDS);
    run_task("wordprob", "zh", 0, N_SEEDS);
    /* other difficulties, fewer seeds */
    for (int d = 1; d <= 10; d += 3) {
        run_task("add", "en", d, 100);
        run_task("mul", "en", d, 100);
        run_task("countdown", "en", d, 100);
        run_task("wordprob", "en", d, 100);
        run_task("wordprob", "zh", d, 100);
    }
    test_parallel_languages();
    test_registry();
    return tu_finish("test_tasks");
}
