/* Fuzzes encode/decode on two fixed tokenizers: a byte-level BPE trained (once) on a small
 * built-in corpus with the default specials, and a llama2.c-style scored vocabulary built in
 * memory. Input: byte 0 = encode flags, the rest = text (any bytes). Checks: decode(encode(s))
 * == s, and the streaming decoder's output concatenates to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/text.h"

static void must(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_tokenizer_encode: %s\n", what);
        abort();
    }
}

static tr_tokenizer *bpe, *scored;

static void put_piece(char **buf, size_t *n, float score, const char *s, size_t len) {
    *buf = realloc(*buf, *n + 8 + len);
    int32_t l = (int32_t)len;
    memcpy(*buf + *n, &score, 4);
    memcpy(*buf + *n + 4, &l, 4);
    memcpy(*buf + *n + 8, s, len);
    *n += 8 + len;
}

static void setup(void) {
    tr_err err;
    const char *corpus =
        "The quick brown fox jumps over the lazy dog. <think> 12 + 30 = 42 </think> <answer> 42 "
        "</answer>\nCaf\xc3\xa9 na\xc3\xafve \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80   tabs\tand\r\nlines "
        "it's they'll we've I'm   ";
    size_t one = strlen(corpus);
    char *text = malloc(one * 20);
    for (int i = 0; i < 20; i++) memcpy(text + i * one, corpus, one);
    tr_bpe_train_params p = tr_bpe_train_default_params();
    p.vocab_size = 420;
    must(tr_tokenizer_train(&bpe, text, one * 20, &p, NULL, &err) == 0, err.msg);
    free(text);
    /* llama2.c layout: int32 max_token_length, then (float score, int32 len, bytes) */
    static const char *const pieces[] = {" ", "e", "t", "h", "a", "o", " t", "he", " the", "th",
                                         "an", " a", "and", " and", "\xc3\xa9", "\xe4\xb8\xad", "n", "d"};
    char *buf = malloc(4);
    size_t n = 4;
    int32_t max_len = 16;
    memcpy(buf, &max_len, 4);
    put_piece(&buf, &n, 0.0f, "<unk>", 5);
    put_piece(&buf, &n, 0.0f, "\n<s>\n", 5);
    put_piece(&buf, &n, 0.0f, "\n</s>\n", 6);
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        put_piece(&buf, &n, 0.0f, s, 6);
    }
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        put_piece(&buf, &n, -(float)i, pieces[i], strlen(pieces[i]));
    tr_tokenizer_files f = {.format = TR_TOKFMT_LLAMA2C, .data = buf, .len = n};
    must(tr_tokenizer_load_files(&scored, &f, &err) == 0, err.msg);
    free(buf);
}

/* dflags: decode flags (the scored vocabulary skips its bos/eos; the byte-level one decodes
 * everything, so an eos comes back as "<|endoftext|>"). */
static void check(const tr_tokenizer *tok, const char *text, size_t n, int flags, int dflags) {
    tr_err err;
    tr_ids ids = {0};
    must(tr_tokenizer_encode(tok, text, n, flags, &ids, &err) == 0, err.msg);
    char *back = NULL;
    size_t len = 0;
    must(tr_tokenizer_decode(tok, ids.v, ids.n, dflags, &back, &len, &err) == 0, err.msg);
    size_t extra = (flags & TR_ENC_EOS) && !dflags ? strlen("<|endoftext|>") : 0;
    must(len == n + extra && memcmp(back, text, n) == 0, "round trip");
    must(extra == 0 || memcmp(back + n, "<|endoftext|>", extra) == 0, "eos text");
    tr_decoder dec;
    must(tr_decoder_init(&dec, tok, dflags, &err) == 0, "decoder init");
    size_t at = 0;
    for (size_t i = 0; i < ids.n; i++) {
        const char *out;
        size_t k;
        must(tr_decoder_push(&dec, ids.v[i], &out, &k, &err) == 0, "decoder push");
        must(at + k <= len && memcmp(back + at, out, k) == 0, "streaming decode differs");
        at += k;
    }
    const char *out;
    size_t k;
    tr_decoder_flush(&dec, &out, &k);
    must(at + k == len && memcmp(back + at, out, k) == 0, "streaming decode flush");
    tr_decoder_free(&dec);
    free(back);
    tr_ids_free(&ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!bpe) setup();
    if (size < 1) return 0;
    int flags = data[0] & (TR_ENC_ALLOW_SPECIAL | TR_ENC_EOS);
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    check(bpe, text, n, flags, 0);
    /* scored kind: with BOS the dummy-prefix space is dropped again in decoding */
    check(scored, text, n, TR_ENC_BOS | (flags & TR_ENC_EOS), TR_DEC_SKIP_SPECIAL);
    return 0;
}
