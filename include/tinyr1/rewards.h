/* tinyr1 — rule-based rewards for reinforcement learning (GRPO): each a function of
 * (problem, completion text) returning a number; a run combines them with weights.
 *
 * The completion is the text the model wrote after the prompt (the chat template's
 * "Assistant:" part excluded), without its end token. Every reward is total: malformed
 * tags, empty output, invalid UTF-8 or a missing answer give a low score (normally 0),
 * never an error, so a bad sample can never stop a run.
 *
 *   name       range             what (details at each function)
 *   accuracy   {0, 1}            the task's verifier on the extracted answer
 *                                (countdown: TinyZero's 1 / 0.1 / 0 unless binary)
 *   format     {0, 1}            strict R1 format <think> C </think> <answer> A </answer>
 *   tags       {0, .25, .5, .75, 1}  0.25 per correctly placed tag (softer format)
 *   language   [0, 1]            share of the chain of thought's words written in the
 *                                prompt's script (R1's language-consistency reward)
 *   overlong   [-1, 0]           DAPO's soft overlong punishment
 *   cosine     [-1, 1]           length-scaled correctness (Yeo et al. 2025)
 *
 * A reward specification is text: "accuracy:1,format:0.5,language:0.5" (a name alone
 * means weight 1); the total is sum_k w_k r_k.
 */
#ifndef TINYR1_REWARDS_H
#define TINYR1_REWARDS_H

#include <stddef.h>
#include <stdint.h>

#include "tinyr1/base.h"
#include "tinyr1/tasks.h"

/* ---- scripts (language detection by Unicode script) ------------------------------ */

typedef enum tr_script {
    TR_SCRIPT_NONE = 0, /* digits, punctuation, symbols, spaces, marks: not a word */
    TR_SCRIPT_LATIN,
    TR_SCRIPT_GREEK,
    TR_SCRIPT_CYRILLIC,
    TR_SCRIPT_ARMENIAN,
    TR_SCRIPT_HEBREW,
    TR_SCRIPT_ARABIC,
    TR_SCRIPT_DEVANAGARI,
    TR_SCRIPT_THAI,
    TR_SCRIPT_HANGUL,
    TR_SCRIPT_KANA, /* Hiragana and Katakana */
    TR_SCRIPT_HAN,  /* CJK ideographs (Chinese; also Japanese kanji) */
    TR_SCRIPT_COUNT
} tr_script;

/* "none", "latin", "greek", "cyrillic", "armenian", "hebrew", "arabic", "devanagari",
 * "thai", "hangul", "kana", "han". */
const char *tr_script_name(tr_script s);
/* The script of one code point; TR_SCRIPT_NONE for anything that is not a letter of a
 * listed script (ASCII digits, punctuation, math signs such as U+00D7 and U+00F7,
 * CJK punctuation U+3000-U+303F, full-width digits, ...). */
tr_script tr_script_of(uint32_t cp);

/* Word counts by script. Words are:
 *   - Han and Kana: each character is one word (these scripts do not separate words
 *     with spaces, so a character is the unit that can be counted);
 *   - every other script: a maximal run of letters of that script (a change of script
 *     ends a word: "abcабв" is one Latin and one Cyrillic word).
 * Everything of TR_SCRIPT_NONE (numbers, symbols, spaces) separates words and is not
 * counted. Invalid UTF-8 bytes count as TR_SCRIPT_NONE. The tags <think>, </think>,
 * <answer>, </answer> are skipped. counts[TR_SCRIPT_COUNT]; returns the total number of
 * words (counts[0] is always 0). len: bytes of text. */
int64_t tr_script_word_counts(const char *text, size_t len, int64_t *counts);
/* The script with the most words in text (ties: the lower enum value); TR_SCRIPT_NONE if
 * the text has no word. */
tr_script tr_text_script(const char *text);

/* ---- the rewards ---------------------------------------------------------------------- */

/* Strict R1 format: 1 if the completion is, after leading/trailing whitespace,
 *   "<think>" C "</think>" W "<answer>" A "</answer>"
 * where W is whitespace only, C and A each hold at least one non-space character and none
 * of the four tags (so no nesting, no repetition, no other order), and nothing but
 * whitespace follows </answer>; else 0. */
double tr_reward_format(const char *completion);

/* Tag counting: 0.25 for each of <think>, </think>, <answer>, </answer> that is correctly
 * placed. A tag is correctly placed when it occurs exactly once and every other tag that
 * also occurs exactly once lies on its proper side (in the order think, /think, answer,
 * /answer); additionally <think> must be preceded only by whitespace and </answer>
 * followed only by whitespace. */
double tr_reward_tags(const char *completion);

/* The chain of thought: the text between the first <think> and the first </think> after
 * it; without such a pair, the whole completion. Sets *begin and *len. */
void tr_chain_of_thought(const char *completion, size_t *begin, size_t *len);

/* Language consistency (DeepSeek-R1, section 2.3.3): the target script is the prompt's
 * dominant script (tr_text_script); the reward is
 *     words of the chain of thought in the target script / all its words
 * (word counts as tr_script_word_counts). 0 if the prompt or the chain of thought has no
 * word (nothing to measure: a failed reward scores 0). */
double tr_reward_language(const char *prompt, const char *completion);

/* DAPO's soft overlong punishment (Yu et al. 2025, eq. 13) on the completion's length in
 * tokens n, the generation budget max_len and the buffer cache (0 < cache <= max_len):
 *     0                               n <= max_len - cache
 *     (max_len - cache - n) / cache   max_len - cache < n <= max_len
 *     -1                              n > max_len                                       */
double tr_reward_overlong(int64_t n, int64_t max_len, int64_t cache);

/* Cosine length-scaled correctness (Yeo et al. 2025, "Demystifying Long Chain-of-Thought
 * Reasoning in LLMs"): with p = min(n / max_len, 1) and c = cos(pi p),
 *     correct: r = min_correct + 0.5 (max_correct - min_correct)(1 + c)   short -> max_correct
 *     wrong:   r = max_wrong  + 0.5 (min_wrong  - max_wrong )(1 + c)      short -> min_wrong
 * so short correct answers earn most and short wrong ones lose most. */
typedef struct tr_cosine_params {
    double min_correct, max_correct; /* default 0.5, 1.0 */
    double min_wrong, max_wrong;     /* default -1.0, -0.5 */
} tr_cosine_params;
double tr_reward_cosine(int correct, int64_t n, int64_t max_len, const tr_cosine_params *p);

/* ---- a weighted set of rewards -------------------------------------------------------- */

typedef enum tr_reward_kind {
    TR_REWARD_ACCURACY = 0,
    TR_REWARD_FORMAT,
    TR_REWARD_TAGS,
    TR_REWARD_LANGUAGE,
    TR_REWARD_OVERLONG,
    TR_REWARD_COSINE,
    TR_REWARD_KIND_COUNT
} tr_reward_kind;

/* "accuracy", "format", "tags", "language", "overlong", "cosine"; parse returns -1 if
 * unknown. */
const char *tr_reward_kind_name(tr_reward_kind k);
int tr_reward_kind_parse(tr_reward_kind *k, const char *name);

#define TR_MAX_REWARDS 8

typedef struct tr_reward_spec {
    int n;
    tr_reward_kind kind[TR_MAX_REWARDS];
    double weight[TR_MAX_REWARDS];
    /* parameters */
    int accuracy_binary;     /* 1: accuracy is 1/0 for countdown too (default 0: 1/0.1/0) */
    int64_t max_len;         /* generation budget in tokens (overlong, cosine) */
    int64_t overlong_buffer; /* DAPO's L_cache; 0: max_len / 4 */
    tr_cosine_params cosine;
} tr_reward_spec;

/* Parses "name[:weight],..." (weights finite; a name at most once; at most TR_MAX_REWARDS)
 * into spec->n, kind, weight; sets the parameters to their defaults (max_len 0: set it
 * before use when overlong or cosine is used). */
int tr_reward_spec_parse(tr_reward_spec *spec, const char *text, tr_err *err);
/* Writes "accuracy:1,format:0.5" into buf. */
void tr_reward_spec_format(const tr_reward_spec *spec, char *buf, size_t cap);

/* What the rewards look at for one sample. */
typedef struct tr_reward_input {
    const tr_task *task;       /* the verifier */
    const tr_problem *problem; /* its prompt (language) and gold answer */
    const char *completion;    /* the model's text (NULL is read as "") */
    int64_t n_tokens;          /* completion length in tokens (overlong, cosine) */
} tr_reward_input;

/* Computes every component of spec (values[spec->n], unweighted) and returns the weighted
 * total. verdict (may be NULL) receives the verifier's verdict (run once). Never fails. */
double tr_rewards_compute(const tr_reward_spec *spec, const tr_reward_input *in, double *values,
                          tr_verdict *verdict);

#endif
