/* Fuzzes every tokenizer loader. Input: byte 0 picks the format (mod 4: tinyr1, tokenizer.json,
 * vocab.json + merges.txt, llama2.c .bin); the rest is the file, or for the JSON formats
 * several files separated by the bytes 0x01 0x02 (vocab.json, merges.txt, tokenizer_config.json;
 * tokenizer.json, tokenizer_config.json). A tokenizer that loads must encode, decode
 * (byte-level: exactly back), serialise and load again from its own serialisation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/text.h"

static void must(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_tokenizer_load: %s\n", what);
        abort();
    }
}

static void exercise(const tr_tokenizer *tok) {
    static const char *const texts[] = {"Hello world! <|endoftext|> caf\xc3\xa9 123  \n\n x",
                                        "<think>a</think><answer>4</answer>", "\xff\xfe\x80 a",
                                        ""};
    tr_err err;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        for (int flags = 0; flags < 2; flags++) {
            tr_ids ids = {0};
            size_t n = strlen(texts[i]);
            if (tr_tokenizer_encode(tok, texts[i], n, flags ? TR_ENC_ALLOW_SPECIAL : 0, &ids, &err) == 0) {
                char *text = NULL;
                size_t len = 0;
                must(tr_tokenizer_decode(tok, ids.v, ids.n, 0, &text, &len, &err) == 0, "decode failed");
                if (tr_tokenizer_kind_of(tok) == TR_TOK_BYTE_BPE)
                    must(len == n && memcmp(text, texts[i], n) == 0, "byte-level round trip");
                free(text);
            }
            tr_ids_free(&ids);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *parts[3] = {0};
    size_t lens[3] = {0};
    int n = 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (n < 3) {
        const char *q = p;
        while (q + 1 < end && !(q[0] == 1 && q[1] == 2)) q++;
        if (q + 1 >= end) q = end;
        parts[n] = p;
        lens[n++] = (size_t)(q - p);
        if (q == end) break;
        p = q + 2;
    }
    tr_tokenizer_files f = {0};
    f.data = parts[0];
    f.len = lens[0];
    switch (data[0] % 4) {
    case 0: f.format = TR_TOKFMT_TINYR1; break;
    case 1:
        f.format = TR_TOKFMT_HF_JSON;
        f.config = parts[1];
        f.config_len = lens[1];
        break;
    case 2:
        f.format = TR_TOKFMT_HF_VOCAB;
        f.merges = parts[1] ? parts[1] : "";
        f.merges_len = lens[1];
        f.config = parts[2];
        f.config_len = lens[2];
        break;
    default: f.format = TR_TOKFMT_LLAMA2C; break;
    }
    tr_tokenizer *tok = NULL;
    tr_err err;
    if (tr_tokenizer_load_files(&tok, &f, &err) != 0) {
        must(tok == NULL, "failed load returned a tokenizer");
        must(strlen(err.msg) > 0, "failed load without a message");
        return 0;
    }
    exercise(tok);
    char *blob;
    size_t blen;
    must(tr_tokenizer_serialize(tok, &blob, &blen, &err) == 0, "serialize");
    tr_tokenizer *again = NULL;
    tr_tokenizer_files g = {.format = TR_TOKFMT_TINYR1, .data = blob, .len = blen};
    if (tr_tokenizer_load_files(&again, &g, &err) != 0) {
        fprintf(stderr, "reload: %s\n", err.msg);
        must(0, "a serialised tokenizer does not load");
    }
    must(tr_tokenizer_vocab_size(again) == tr_tokenizer_vocab_size(tok), "reload: vocab size");
    exercise(again);
    tr_tokenizer_free(again);
    free(blob);
    tr_tokenizer_free(tok);
    return 0;
}
