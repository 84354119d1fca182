/* Rewards on hand-written completions: strict format against adversarial outputs (open-r1
 * #407), tag counting, language consistency with known proportions, length rewards,
 * accuracy through the tasks' verifiers, the weighted combination and its parser. Every
 * expected value below was counted by hand. */
#include <math.h>
#include <string.h>

#include "testutil.h"

static void test_format(void) {
    /* well formed */
    CHECK(tr_reward_format("<think> 2 + 2 is 4 </think> <answer> 4 </answer>") == 1);
    CHECK(tr_reward_format(" <think>\nx\n</think>\n<answer>\n4\n</answer>\n") == 1);
    CHECK(tr_reward_format("<think>a</think><answer>b</answer>") == 1);
    /* empty output, no tags, partial */
    CHECK(tr_reward_format("") == 0);
    CHECK(tr_reward_format(NULL) == 0);
    CHECK(tr_reward_format("   \n") == 0);
    CHECK(tr_reward_format("the answer is 4") == 0);
    CHECK(tr_reward_format("<think> x </think>") == 0);
    CHECK(tr_reward_format("<answer> 4 </answer>") == 0);
    CHECK(tr_reward_format("<think> x </think> <answer> 4") == 0);          /* unclosed */
    CHECK(tr_reward_format("<think> x <answer> 4 </answer>") == 0);         /* no </think> */
    /* adversarial: nesting */
    CHECK(tr_reward_format("<think> <think> x </think> </think> <answer> 4 </answer>") == 0);
    CHECK(tr_reward_format("<think> x <answer> 4 </answer> </think> <answer> 4 </answer>") == 0);
    CHECK(tr_reward_format("<think> x </think> <answer> <answer> 4 </answer> </answer>") == 0);
    /* wrong order */
    CHECK(tr_reward_format("<answer> 4 </answer> <think> x </think>") == 0);
    CHECK(tr_reward_format("</think> x <think> <answer> 4 </answer>") == 0);
    CHECK(tr_reward_format("<think> x </think> </answer> 4 <answer>") == 0);
    /* repeated answers */
    CHECK(tr_reward_format("<think> x </think> <answer> 4 </answer> <answer> 5 </answer>") == 0);
    CHECK(tr_reward_format("<think> x </think> <think> y </think> <answer> 4 </answer>") == 0);
    /* text after </answer>, before <think>, between </think> and <answer> */
    CHECK(tr_reward_format("<think> x </think> <answer> 4 </answer> and also 5") == 0);
    CHECK(tr_reward_format("Sure! <think> x </think> <answer> 4 </answer>") == 0);
    CHECK(tr_reward_format("<think> x </think> so <answer> 4 </answer>") == 0);
    /* empty thought or empty answer */
    CHECK(tr_reward_format("<think></think><answer>4</answer>") == 0);
    CHECK(tr_reward_format("<think> x </think><answer> \n </answer>") == 0);
    /* near-miss tags are not tags */
    CHECK(tr_reward_format("<think> x </think> <Answer> 4 </Answer>") == 0);
    CHECK(tr_reward_format("<think> x </thinking> <answer> 4 </answer>") == 0);
}

static void test_tags(void) {
    CHECK(tr_reward_tags("<think> x </think> <answer> 4 </answer>") == 1.0);
    CHECK(tr_reward_tags("") == 0);
    CHECK(tr_reward_tags(NULL) == 0);
    CHECK(tr_reward_tags("no tags at all") == 0);
    /* only the think pair, correctly placed: 2 tags */
    CHECK(tr_reward_tags("<think> x </think> 4") == 0.5);
    /* text before <think>: <think> misplaced, the 3 others fine */
    CHECK(tr_reward_tags("hi <think> x </think> <answer> 4 </answer>") == 0.75);
    /* text after </answer>: </answer> misplaced */
    CHECK(tr_reward_tags("<think> x </think> <answer> 4 </answer> more") == 0.75);
    /* repeated <answer> pair: both answer tags occur twice, score only the think pair */
    CHECK(tr_reward_tags("<think> x </think> <answer> 4 </answer> <answer> 5 </answer>") == 0.5);
    /* wrong order: answer block first. <think>: preceded by text -> 0; </think>: after
     * <think> but before neither answer tag -> 0; <answer> before </think> -> 0;
     * </answer>: before <think> and followed by text -> 0. */
    CHECK(tr_reward_tags("<answer> 4 </answer> <think> x </think>") == 0);
    /* swapped closing tags: </answer> before <answer> -> both answer tags out of order */
    CHECK(tr_reward_tags("<think> x </think> </answer> 4 <answer>") == 0.5);
    /* nested think: <think> and </think> twice -> only the answer pair counts */
    CHECK(tr_reward_tags("<think> <think> x </think> </think> <answer> 4 </answer>") == 0.5);
}

static void test_scripts(void) {
    CHECK(tr_script_of('a') == TR_SCRIPT_LATIN);
    CHECK(tr_script_of('Z') == TR_SCRIPT_LATIN);
    CHECK(tr_script_of('7') == TR_SCRIPT_NONE);
    CHECK(tr_script_of(0xD7) == TR_SCRIPT_NONE);   /* × */
    CHECK(tr_script_of(0xF7) == TR_SCRIPT_NONE);   /* ÷ */
    CHECK(tr_script_of(0xE9) == TR_SCRIPT_LATIN);  /* é */
    CHECK(tr_script_of(0x4E00) == TR_SCRIPT_HAN);  /* 一 */
    CHECK(tr_script_of(0x3002) == TR_SCRIPT_NONE); /* 。 */
    CHECK(tr_script_of(0xFF0C) == TR_SCRIPT_NONE); /* ， */
    CHECK(tr_script_of(0x0436) == TR_SCRIPT_CYRILLIC); /* ж */
    CHECK(tr_script_of(0x03B1) == TR_SCRIPT_GREEK);    /* α */
    CHECK(tr_script_of(0x3042) == TR_SCRIPT_KANA);     /* あ */
    CHECK(tr_script_of(0xAC00) == TR_SCRIPT_HANGUL);   /* 가 */
    int64_t c[TR_SCRIPT_COUNT];
    /* "Jack is 84 years old" -> 4 Latin words (84 does not count) */
    CHECK(tr_script_word_counts("Jack is 84 years old.", 21, c) == 4 && c[TR_SCRIPT_LATIN] == 4);
    /* 小军今年21岁 -> 5 Han characters */
    const char *zh = "小军今年21岁";
    CHECK(tr_script_word_counts(zh, strlen(zh), c) == 5 && c[TR_SCRIPT_HAN] == 5);
    /* a script change ends a word: "abcжзи" = 1 Latin + 1 Cyrillic */
    const char *mix = "abcжзи";
    CHECK(tr_script_word_counts(mix, strlen(mix), c) == 2 && c[TR_SCRIPT_LATIN] == 1 &&
          c[TR_SCRIPT_CYRILLIC] == 1);
    /* tags are skipped: <think> hello </think> -> 1 word */
    const char *t = "<think> hello </think>";
    CHECK(tr_script_word_counts(t, strlen(t), c) == 1);
    /* invalid UTF-8 bytes count as nothing and separate words */
    const char bad[] = "ab\xff\xfe" "cd\xe4\xb8";
    CHECK(tr_script_word_counts(bad, sizeof bad - 1, c) == 2 && c[TR_SCRIPT_LATIN] == 2);
    CHECK(tr_script_word_counts("", 0, c) == 0);
    CHECK(tr_script_word_counts("12 + 3 = 15 !", 13, c) == 0);
    CHECK(tr_text_script("What is 23 + 96?") == TR_SCRIPT_LATIN);
    CHECK(tr_text_script("小燕烤了7盘饼干，每盘17块。") == TR_SCRIPT_HAN);
    CHECK(tr_text_script("42") == TR_SCRIPT_NONE);
}

static void test_language(void) {
    const char *zh_prompt = "小刚今年21岁。9年后小芳多少岁？";
    const char *en_prompt = "Ben is 21 years old. How old will Mia be in 9 years?";
    /* all Chinese thought: 1 */
    CHECK(tr_reward_language(zh_prompt, "<think> 小军今年84岁。 </think> <answer> 18 </answer>") == 1);
    /* mixed: Han 一 共 有 块 饼 干 (6) + Latin "There are" "cookies" (3) -> 6/9 */
    CHECK_CLOSE(tr_reward_language(zh_prompt, "<think> There are 一共有 119块饼干 cookies </think>"
                                              "<answer> 18 </answer>"),
                6.0 / 9.0, 0, 1e-12);
    /* the same thought against an English prompt: 3/9 */
    CHECK_CLOSE(tr_reward_language(en_prompt, "<think> There are 一共有 119块饼干 cookies </think>"
                                              "<answer> 18 </answer>"),
                3.0 / 9.0, 0, 1e-12);
    /* only the thought counts: the answer's words are outside it. Thought: "Jack is 84"
     * -> 2 Latin; answer Chinese. English prompt -> 1. */
    CHECK(tr_reward_language(en_prompt, "<think> Jack is 84 </think> <answer> 十八 </answer>") == 1);
    /* no think block: the whole completion is read; 3 Latin + 2 Han -> 2/5 for zh */
    CHECK_CLOSE(tr_reward_language(zh_prompt, "the answer is 十八"), 2.0 / 5.0, 0, 1e-12);
    /* unclosed think: whole completion ("think" tag skipped) -> Latin 2 of 2 for en */
    CHECK(tr_reward_language(en_prompt, "<think> so then") == 1);
    /* a thought of numbers only, empty output, prompt without words -> 0 */
    CHECK(tr_reward_language(zh_prompt, "<think> 7 × 17 = 119 </think> <answer> 18 </answer>") == 0);
    CHECK(tr_reward_language(zh_prompt, "") == 0);
    CHECK(tr_reward_language(zh_prompt, NULL) == 0);
    CHECK(tr_reward_language("12 + 3", "<think> twelve </think>") == 0);
    size_t b, n;
    tr_chain_of_thought("xx<think>abc</think>yy", &b, &n);
    CHECK(b == 9 && n == 3);
}

static void test_length(void) {
    /* DAPO: max 100, cache 20: <= 80 -> 0, 90 -> -0.5, 100 -> -1, 101 -> -1 */
    CHECK(tr_reward_overlong(10, 100, 20) == 0);
    CHECK(tr_reward_overlong(80, 100, 20) == 0);
    CHECK_CLOSE(tr_reward_overlong(90, 100, 20), -0.5, 0, 1e-12);
    CHECK_CLOSE(tr_reward_overlong(100, 100, 20), -1.0, 0, 1e-12);
    CHECK(tr_reward_overlong(101, 100, 20) == -1);
    tr_cosine_params p = {0.5, 1.0, -1.0, -0.5};
    /* n = 0: cos 0 = 1 -> correct 1.0, wrong -1.0; n = max: cos pi = -1 -> 0.5 / -0.5;
     * n = max/2: cos(pi/2) = 0 -> midpoints 0.75 / -0.75 */
    CHECK_CLOSE(tr_reward_cosine(1, 0, 100, &p), 1.0, 0, 1e-12);
    CHECK_CLOSE(tr_reward_cosine(0, 0, 100, &p), -1.0, 0, 1e-12);
    CHECK_CLOSE(tr_reward_cosine(1, 100, 100, &p), 0.5, 0, 1e-12);
    CHECK_CLOSE(tr_reward_cosine(0, 100, 100, &p), -0.5, 0, 1e-12);
    CHECK_CLOSE(tr_reward_cosine(1, 50, 100, &p), 0.75, 0, 1e-12);
    CHECK_CLOSE(tr_reward_cosine(0, 50, 100, &p), -0.75, 0, 1e-12);
    CHECK_CLOSE(tr_reward_cosine(1, 500, 100, &p), 0.5, 0, 1e-12); /* clipped at max */
}

static void test_spec_and_accuracy(void) {
    tr_err err;
    tr_reward_spec s;
    CHECK(tr_reward_spec_parse(&s, "accuracy:1,format:0.5,language:0.25", &err) == 0);
    CHECK(s.n == 3 && s.kind[0] == TR_REWARD_ACCURACY && s.weight[1] == 0.5 &&
          s.kind[2] == TR_REWARD_LANGUAGE && s.weight[2] == 0.25);
    char buf[128];
    tr_reward_spec_format(&s, buf, sizeof buf);
    CHECK(strcmp(buf, "accuracy:1,format:0.5,language:0.25") == 0);
    CHECK(tr_reward_spec_parse(&s, "tags", &err) == 0 && s.n == 1 && s.weight[0] == 1);
    CHECK(tr_reward_spec_parse(&s, "accuracy,accuracy", &err) != 0);
    CHECK(tr_reward_spec_parse(&s, "speed:1", &err) != 0);
    CHECK(tr_reward_spec_parse(&s, "accuracy:x", &err) != 0);
    CHECK(tr_reward_spec_parse(&s, "accuracy:1,", &err) != 0);
    CHECK(tr_reward_spec_parse(&s, "", &err) != 0);
    CHECK(tr_reward_spec_parse(&s, "accuracy:nan", &err) != 0);

    /* add: "What is 23 + 96?" = 119 */
    const tr_task *add = tr_task_find("add");
    tr_problem p;
    CHECK(add && tr_task_generate(add, 1, 0, NULL, &p, &err) == 0);
    CHECK(tr_reward_spec_parse(&s, "accuracy:1,format:0.5,tags:0.1", &err) == 0);
    double v[TR_MAX_REWARDS];
    char right[64], wrong[64];
    snprintf(right, sizeof right, "<think> ok </think> <answer> %s </answer>", p.answer);
    snprintf(wrong, sizeof wrong, "<think> ok </think> <answer> %s1 </answer>", p.answer);
    tr_reward_input in = {add, &p, right, 10};
    tr_verdict vd;
    CHECK_CLOSE(tr_rewards_compute(&s, &in, v, &vd), 1 + 0.5 + 0.1, 0, 1e-12);
    CHECK(v[0] == 1 && v[1] == 1 && v[2] == 1 && vd.correct);
    in.completion = wrong;
    CHECK_CLOSE(tr_rewards_compute(&s, &in, v, &vd), 0.5 + 0.1, 0, 1e-12);
    CHECK(v[0] == 0 && !vd.correct);
    /* unparseable / empty output: every component 0, no crash */
    in.completion = "";
    CHECK(tr_rewards_compute(&s, &in, v, &vd) == 0);
    in.completion = NULL;
    CHECK(tr_rewards_compute(&s, &in, v, NULL) == 0);
    in.completion = "\xff\xfe<answer><think>";
    CHECK(tr_rewards_compute(&s, &in, v, NULL) == 0);
    tr_problem_free(&p);

    /* countdown: TinyZero's 1 / 0.1 / 0, or 1 / 0 with accuracy_binary */
    const tr_task *cd = tr_task_find("countdown");
    CHECK(cd && tr_task_generate(cd, 1, 0, NULL, &p, &err) == 0);
    CHECK(tr_reward_spec_parse(&s, "accuracy", &err) == 0);
    char ans[128];
    snprintf(ans, sizeof ans, "<think> t </think> <answer> %s </answer>", p.answer);
    in = (tr_reward_input){cd, &p, ans, 10};
    CHECK(tr_rewards_compute(&s, &in, v, NULL) == 1);
    in.completion = "<think> t </think> <answer> 1 + 1 </answer>";
    CHECK_CLOSE(tr_rewards_compute(&s, &in, v, NULL), 0.1, 0, 1e-12);
    s.accuracy_binary = 1;
    CHECK(tr_rewards_compute(&s, &in, v, NULL) == 0);
    in.completion = "no answer";
    s.accuracy_binary = 0;
    CHECK(tr_rewards_compute(&s, &in, v, NULL) == 0);
    tr_problem_free(&p);

    /* length components through the spec; wordprob in Chinese with the language reward */
    const tr_task *wp = tr_task_find("wordprob");
    tr_task_params tp = tr_task_default_params();
    tp.lang = "zh";
    CHECK(wp && tr_task_generate(wp, 1, 0, &tp, &p, &err) == 0);
    CHECK(tr_reward_spec_parse(&s, "language:2,overlong:1,cosine:1", &err) == 0);
    s.max_len = 100;
    s.overlong_buffer = 20;
    /* 5 Han + 2 Latin words in the thought -> 5/7; 90 tokens -> overlong -0.5;
     * wrong answer at 90/100 -> cosine -1 + 0.5*0.5*(1+cos(0.9 pi)) */
    in = (tr_reward_input){wp, &p, "<think> 一共有 cookies 饼干 left </think> <answer> -1 </answer>", 90};
    double want = 2 * 5.0 / 7.0 - 0.5 + (-0.5 + 0.5 * (-1.0 + 0.5) * (1 + cos(0.9 * 3.14159265358979323846)));
    CHECK_CLOSE(tr_rewards_compute(&s, &in, v, NULL), want, 0, 1e-12);
    CHECK_CLOSE(v[0], 5.0 / 7.0, 0, 1e-12);
    CHECK_CLOSE(v[1], -0.5, 0, 1e-12);
    tr_problem_free(&p);
}

int main(void) {
    test_format();
    test_tags();
    test_scripts();
    test_language();
    test_length();
    test_spec_and_accuracy();
    return tu_finish("rewards");
}
