/* Chat templates: the exact R1-Zero text, ids = concatenation of the separately encoded
 * pieces, completion-only masks, special tokens only where allowed. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tinyr1/text.h"

/* The R1-Zero template of the DeepSeek-R1 paper (Table 1), with prompt "What is 2+3?". */
static const char r1zero_expected[] =
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>. User: What is 2+3?. Assistant:";

static tr_tokenizer *small_tokenizer(void) {
    const char *corpus =
        "User: what is two plus three? Assistant: <think> two plus three is five </think> "
        "<answer> 5 </answer>. The assistant first thinks about the reasoning process.\n";
    size_t one = strlen(corpus);
    char *text = malloc(one * 50 + 1);
    for (int i = 0; i < 50; i++) memcpy(text + i * one, corpus, one);
    tr_tokenizer *tok = NULL;
    tr_err err;
    tr_bpe_train_params p = tr_bpe_train_default_params();
    p.vocab_size = 330;
    CHECK_MSG(tr_tokenizer_train(&tok, text, one * 50, &p, NULL, &err) == 0, "%s", err.msg);
    free(text);
    return tok;
}

static void append(tr_ids *all, const tr_tokenizer *tok, const char *s, int flags) {
    tr_err err;
    CHECK(tr_tokenizer_encode(tok, s, strlen(s), flags, all, &err) == 0);
}

static void test_r1zero(const tr_tokenizer *tok) {
    tr_err err;
    const char *prompt = "What is 2+3?";
    const char *completion = " <think> 2+3 = 5 </think> <answer> 5 </answer>";
    char *r = tr_template_render(TR_TEMPLATE_R1ZERO, NULL, prompt, NULL, &err);
    CHECK(r && strcmp(r, r1zero_expected) == 0);
    free(r);

    tr_template_out out = {0};
    CHECK(tr_template_encode(tok, TR_TEMPLATE_R1ZERO, NULL, prompt, completion, &out, &err) == 0);
    /* expected: pieces encoded separately (template text with specials, the prompt plain) */
    const char *head_end = strstr(r1zero_expected, "What is");
    char head[1024];
    memcpy(head, r1zero_expected, (size_t)(head_end - r1zero_expected));
    head[head_end - r1zero_expected] = '\0';
    tr_ids want = {0};
    append(&want, tok, head, TR_ENC_ALLOW_SPECIAL);
    append(&want, tok, prompt, 0);
    append(&want, tok, ". Assistant:", TR_ENC_ALLOW_SPECIAL);
    size_t n_prompt = want.n;
    append(&want, tok, completion, TR_ENC_ALLOW_SPECIAL);
    tr_ids_push(&want, tr_tokenizer_eos(tok), &err);
    CHECK(out.ids.n == want.n && memcmp(out.ids.v, want.v, want.n * sizeof *want.v) == 0);
    CHECK(out.n_prompt == n_prompt);
    size_t trained = 0;
    for (size_t i = 0; i < out.ids.n; i++) {
        CHECK(out.mask[i] == (i >= n_prompt));
        trained += out.mask[i];
    }
    CHECK(trained == want.n - n_prompt);
    CHECK(out.ids.v[out.ids.n - 1] == tr_tokenizer_token_id(tok, "<|endoftext|>"));
    /* the completion's tags are single special tokens; the template's own tags too */
    int32_t think = tr_tokenizer_token_id(tok, "<think>");
    int n_think = 0;
    for (size_t i = 0; i < out.ids.n; i++) n_think += out.ids.v[i] == think;
    CHECK(n_think == 3); /* "<think> </think>", "<think> reasoning", completion */
    /* decoding gives the rendered text plus the end token */
    char *text;
    size_t len;
    CHECK(tr_tokenizer_decode(tok, out.ids.v, out.ids.n, 0, &text, &len, &err) == 0);
    char *full = tr_template_render(TR_TEMPLATE_R1ZERO, NULL, prompt, completion, &err);
    CHECK(full && len == strlen(full) + strlen("<|endoftext|>"));
    CHECK(full && strncmp(text, full, strlen(full)) == 0);
    free(full);
    free(text);
    tr_ids_free(&want);

    /* a prompt cannot inject control tokens: "<|im_end|>" in it is plain text */
    CHECK(tr_template_encode(tok, TR_TEMPLATE_R1ZERO, NULL, "<|im_end|>", NULL, &out, &err) == 0);
    int32_t im_end = tr_tokenizer_token_id(tok, "<|im_end|>");
    for (size_t i = 0; i < out.ids.n; i++) CHECK(out.ids.v[i] != im_end);
    /* without a completion: the generation prompt, all mask 0, no end token */
    CHECK(out.n_prompt == out.ids.n);
    for (size_t i = 0; i < out.ids.n; i++) CHECK(out.mask[i] == 0);
    tr_template_out_free(&out);
}

static void test_chat(const tr_tokenizer *tok) {
    tr_err err;
    char *r = tr_template_render(TR_TEMPLATE_CHAT, "Be brief.", "Hi", "Hello!", &err);
    CHECK(r && strcmp(r, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                         "<|im_start|>assistant\nHello!") == 0);
    free(r);
    tr_template_out out = {0};
    CHECK(tr_template_encode(tok, TR_TEMPLATE_CHAT, NULL, "Hi", "Hello!", &out, &err) == 0);
    int32_t start = tr_tokenizer_token_id(tok, "<|im_start|>"), end = tr_tokenizer_token_id(tok, "<|im_end|>");
    CHECK(out.ids.v[0] == start);
    CHECK(out.ids.v[out.ids.n - 1] == end && out.mask[out.ids.n - 1] == 1);
    tr_ids want = {0};
    append(&want, tok, "Hello!", TR_ENC_ALLOW_SPECIAL);
    CHECK(out.ids.n - out.n_prompt == want.n + 1);
    CHECK(memcmp(out.ids.v + out.n_prompt, want.v, want.n * sizeof *want.v) == 0);
    /* the prompt part is exactly what the generation prompt encodes to */
    tr_template_out gen = {0};
    CHECK(tr_template_encode(tok, TR_TEMPLATE_CHAT, NULL, "Hi", NULL, &gen, &err) == 0);
    CHECK(gen.ids.n == out.n_prompt && memcmp(gen.ids.v, out.ids.v, gen.ids.n * sizeof *gen.ids.v) == 0);
    int n_start = 0;
    for (size_t i = 0; i < gen.ids.n; i++) n_start += gen.ids.v[i] == start;
    CHECK(n_start == 2);
    tr_ids_free(&want);
    tr_template_out_free(&gen);
    tr_template_out_free(&out);
}

static void test_missing_tokens(void) {
    /* GPT-2 has no <|im_start|>: the chat template refuses, with a message */
    tr_err err;
    tr_tokenizer *tok = NULL;
    CHECK(tr_tokenizer_load(&tok, TR_SHARED_DATA "/tokenizers/gpt2", &err) == 0);
    if (!tok) return;
    tr_template_out out = {0};
    CHECK(tr_template_encode(tok, TR_TEMPLATE_CHAT, NULL, "Hi", "Yo", &out, &err) == -1);
    CHECK(strstr(err.msg, "<|im_start|>") != NULL);
    /* R1-Zero works with GPT-2 (eos <|endoftext|> = 50256); <think> is plain text there */
    CHECK(tr_template_encode(tok, TR_TEMPLATE_R1ZERO, NULL, "Hi", " <think>", &out, &err) == 0);
    CHECK(out.ids.v[out.ids.n - 1] == 50256);
    tr_template_out_free(&out);
    /* after adding <think> as a special token, the completion uses it */
    int32_t think;
    CHECK(tr_tokenizer_add_special(tok, "<think>", &think, &err) == 0);
    CHECK(think == 50257 && tr_tokenizer_vocab_size(tok) == 50258);
    CHECK(tr_template_encode(tok, TR_TEMPLATE_R1ZERO, NULL, "Hi", " <think>", &out, &err) == 0);
    CHECK(out.ids.v[out.ids.n - 2] == think);
    tr_template_out_free(&out);
    tr_tokenizer_free(tok);

    /* llama2.c tokenizers start with BOS */
    CHECK(tr_tokenizer_load(&tok, TR_SHARED_DATA "/models/stories260K/tok512.bin", &err) == 0);
    if (!tok) return;
    CHECK(tr_template_encode(tok, TR_TEMPLATE_NONE, NULL, "Once upon", " a time", &out, &err) == 0);
    CHECK(out.ids.v[0] == 1 && out.mask[0] == 0);
    CHECK(out.ids.v[out.ids.n - 1] == 2 && out.mask[out.ids.n - 1] == 1);
    char *text;
    size_t len;
    CHECK(tr_tokenizer_decode(tok, out.ids.v, out.ids.n, TR_DEC_SKIP_SPECIAL, &text, &len, &err) == 0);
    CHECK(text && strcmp(text, "Once upon a time") == 0);
    free(text);
    tr_template_out_free(&out);
    tr_tokenizer_free(tok);
    CHECK(tr_template_from_name("r1zero") == TR_TEMPLATE_R1ZERO);
    CHECK(tr_template_from_name("chat") == TR_TEMPLATE_CHAT);
    CHECK(tr_template_from_name("nope") == -1);
}

int main(void) {
    tr_tokenizer *tok = small_tokenizer();
    if (tok) {
        test_r1zero(tok);
        test_chat(tok);
    }
    tr_tokenizer_free(tok);
    test_missing_tokens();
    return tu_finish("template");
}
