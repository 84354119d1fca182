/* Tokenizer parity with Hugging Face's `tokenizers` library on the real Qwen2 tokenizer
 * (../shared/data/tokenizers/qwen2/: vocab.json, merges.txt, tokenizer_config.json).
 *
 * Strings (about 5,000): GSM8K test questions and worked answers, MATH-500 problems and
 * solutions, random Unicode (code points from many scripts, emoji, combining marks, odd
 * whitespace, unassigned planes), strings that Qwen2's NFC normalizer rewrites (letters with
 * 0-3 combining marks in any order, Vietnamese in decomposed form, Hangul jamo sequences,
 * singletons such as U+212B and CJK compatibility ideographs, composition exclusions, kana
 * with combining voiced marks), and chat-formatted strings with the added tokens
 * <|im_start|>, <|im_end|>, <|endoftext|> in them (whole, adjacent, glued to words, broken).
 * The oracle (tests/hf_tokenize.py in the .venv-hf venv) encodes them with
 * transformers.AutoTokenizer's backend, a tokenizers.Tokenizer, add_special_tokens=False;
 * tinyr1 encodes them with tr_tokenizer_encode(TR_ENC_ALLOW_SPECIAL), once from the
 * vocab.json + merges.txt folder and once from the tokenizer.json that the `tokenizers`
 * library itself wrote. The ids must be equal for every string. tr_text_nfc must also give
 * Python's unicodedata.normalize("NFC", s) for every string (the oracle sends it). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "testutil.h"

enum { CAT_GSM8K, CAT_MATH, CAT_RANDOM, CAT_NFC, CAT_SPECIAL, N_CAT };
static const char *cat_name[N_CAT] = {"GSM8K", "MATH-500", "random Unicode", "NFC rewrites",
                                      "special tokens"};

typedef struct {
    char **s;
    int *cat;
    int n, cap;
} strings;

static void add(strings *l, char *s, int cat) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->s = realloc(l->s, (size_t)l->cap * sizeof *l->s);
        l->cat = realloc(l->cat, (size_t)l->cap * sizeof *l->cat);
    }
    l->s[l->n] = s;
    l->cat[l->n++] = cat;
}

static char *sdup(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

static char *concat(int n, ...) {
    va_list ap;
    size_t len = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) len += strlen(va_arg(ap, const char *));
    va_end(ap);
    char *out = malloc(len + 1), *p = out;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        size_t k = strlen(s);
        memcpy(p, s, k);
        p += k;
    }
    va_end(ap);
    *p = '\0';
    return out;
}

/* Adds fields a and b of every line of a JSONL file (at most max lines). */
static int add_jsonl(strings *l, const char *file, const char *a, const char *b, int max, int cat) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TR_SHARED_DATA, file);
    tr_err err;
    size_t len;
    char *text = tr_read_file(path, &len, &err);
    CHECK_MSG(text != NULL, "%s", err.msg);
    if (!text) return 0;
    int rows = 0;
    for (char *line = text; *line && rows < max;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        if (j) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(j, b);
            if (cJSON_IsString(x)) add(l, sdup(x->valuestring), cat);
            if (cJSON_IsString(y)) add(l, sdup(y->valuestring), cat);
            rows++;
            cJSON_Delete(j);
        }
        if (!nl) break;
        line = nl + 1;
    }
    free(text);
    return rows;
}

static int put_utf8(char *p, uint32_t c) {
    if (c < 0x80) {
        p[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        p[0] = (char)(0xC0 | (c >> 6));
        p[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        p[0] = (char)(0xE0 | (c >> 12));
        p[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        p[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    p[0] = (char)(0xF0 | (c >> 18));
    p[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    p[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    p[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* One random code point, drawn from a mix of ranges (never a surrogate or NUL). */
static uint32_t random_cp(tr_rng *r) {
    static const uint32_t ranges[][2] = {
        {0x20, 0x7E},        {0x20, 0x7E},
        {0x30, 0x39}, /* ASCII, digits */
        {0xA0, 0xFF},        {0x100, 0x24F},
        {0x370, 0x3FF}, /* Latin-1, Latin ext, Greek */
        {0x400, 0x4FF},      {0x590, 0x5FF},
        {0x600, 0x6FF}, /* Cyrillic, Hebrew, Arabic */
        {0x900, 0x97F},      {0xE00, 0xE7F},
        {0x300, 0x36F}, /* Devanagari, Thai, combining */
        {0x2000, 0x206F},    {0x2200, 0x22FF},
        {0x3000, 0x303F}, /* punctuation/spaces, math, CJK punct */
        {0x3040, 0x30FF},    {0x4E00, 0x9FFF},
        {0xAC00, 0xD7A3}, /* kana, CJK, Hangul */
        {0xFF00, 0xFFEF},    {0x1F300, 0x1FAFF},
        {0x10000, 0x10FFFF},                     /* fullwidth, emoji, anything */
        {0x0660, 0x0669},    {0x1D400, 0x1D7FF}, /* Arabic digits, math letters */
    };
    static const uint32_t spaces[] = {' ',  ' ',    '\t',   '\n',   '\r',   0x0B,   0x0C,   0x85,
                                      0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x3000, 0x200B, 0x180E};
    const int nr = (int)(sizeof ranges / sizeof ranges[0]);
    if (tr_rng_below(r, 6) == 0) return spaces[tr_rng_below(r, sizeof spaces / sizeof spaces[0])];
    for (;;) {
        const uint32_t *g = ranges[tr_rng_below(r, (uint64_t)nr)];
        uint32_t c = g[0] + (uint32_t)tr_rng_below(r, g[1] - g[0] + 1);
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        return c;
    }
}

/* A code point of a piece that NFC rewrites or must leave alone, or of what surrounds it. */
static uint32_t nfc_cp(tr_rng *r) {
    static const uint32_t marks[] = {
        0x300, 0x301, 0x302, 0x303, 0x304, 0x306, 0x307, 0x308, 0x309, 0x30A, 0x30B, 0x30C,
        0x30F, 0x311, 0x313, 0x314, 0x31B, 0x323, 0x324, 0x325, 0x327, 0x328, 0x32D, 0x330,
        0x331, 0x338, 0x342, 0x345, 0x5B0, 0x5B7, 0x5BC, 0x93C, 0x951, 0x3099, 0x309A, 0x20D7};
    static const uint32_t singles[] = {
        0x212A, 0x212B, 0x2126, 0x340, 0x341, 0x343, 0x344, 0x374, 0x37E, 0x387, 0x1F71,
        0x2000, 0x2001, 0x958, 0x95D, 0x95F, 0xFB1D, 0xFB2A, 0x2ADC, 0xF900, 0xFA10, 0x2F800,
        0x1E9B, 0x0CCA, 0x0DDA, 0x1B3B, 0x3094, 0x30F7, 0xC5, 0xE9, 0x1EC7, 0xAC01, 0xD7A3};
    static const char base[] = "aeiouyAEIOUYcgnszkwxCGNSZ";
    switch (tr_rng_below(r, 8)) {
    case 0:
    case 1: return (uint32_t)base[tr_rng_below(r, sizeof base - 1)];
    case 2:
    case 3: return marks[tr_rng_below(r, sizeof marks / sizeof marks[0])];
    case 4: return singles[tr_rng_below(r, sizeof singles / sizeof singles[0])];
    case 5: return 0x1100 + (uint32_t)tr_rng_below(r, 0x100); /* jamo L, V, T and old jamo */
    case 6: return 0x3041 + (uint32_t)tr_rng_below(r, 0x5E);  /* kana */
    default: return 0x370 + (uint32_t)tr_rng_below(r, 0x90);  /* Greek, Cyrillic */
    }
}

/* Text that NFC rewrites: mostly base + marks, jamo L V T runs, singletons, spaces. */
static char *nfc_string(tr_rng *r) {
    int n = 1 + (int)tr_rng_below(r, 24);
    char *s = malloc((size_t)n * 4 * 4 + 1), *p = s;
    for (int i = 0; i < n; i++) {
        uint64_t k = tr_rng_below(r, 6);
        if (k == 0) { /* a Hangul syllable spelled as conjoining jamo */
            p += put_utf8(p, 0x1100 + (uint32_t)tr_rng_below(r, 19));
            p += put_utf8(p, 0x1161 + (uint32_t)tr_rng_below(r, 21));
            if (tr_rng_below(r, 2)) p += put_utf8(p, 0x11A8 + (uint32_t)tr_rng_below(r, 27));
        } else if (k == 1) {
            p += put_utf8(p, ' ');
        } else {
            p += put_utf8(p, nfc_cp(r));
        }
    }
    *p = '\0';
    return s;
}

static char *random_string(tr_rng *r) {
    int n = 1 + (int)tr_rng_below(r, 40);
    char *s = malloc((size_t)n * 4 + 1), *p = s;
    for (int i = 0; i < n; i++) p += put_utf8(p, random_cp(r));
    *p = '\0';
    return s;
}

static int write_jsonl(const strings *l, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int i = 0; i < l->n; i++) {
        cJSON *j = cJSON_CreateString(l->s[i]);
        char *t = cJSON_PrintUnformatted(j);
        fprintf(f, "%s\n", t);
        free(t);
        cJSON_Delete(j);
    }
    return fclose(f);
}

static void print_escaped(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", stderr);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
}

/* 1 if tok encodes text to exactly ref[0..n) (the oracle's int32 ids, unaligned); *first
 * receives the first differing position. mine receives the ids (caller frees). */
static int encode_equals(const tr_tokenizer *tok, const char *text, const char *ref, int64_t n,
                         tr_ids *mine, size_t *first) {
    tr_err err;
    *first = 0;
    if (tr_tokenizer_encode(tok, text, strlen(text), TR_ENC_ALLOW_SPECIAL, mine, &err) != 0) {
        fprintf(stderr, "encode failed: %s\n", err.msg);
        return 0;
    }
    for (size_t k = 0; k < mine->n && (int64_t)k < n; k++) {
        int32_t r;
        memcpy(&r, ref + 4 * k, 4);
        if (r != mine->v[k]) {
            *first = k;
            return 0;
        }
    }
    *first = mine->n < (size_t)n ? mine->n : (size_t)n;
    return (int64_t)mine->n == n;
}

static void report_row(FILE *report, int i, const char *text, const tr_ids *mine, const char *ref,
                       int64_t n) {
    cJSON *j = cJSON_CreateObject(), *a;
    cJSON_AddNumberToObject(j, "i", i);
    cJSON_AddStringToObject(j, "text", text);
    a = cJSON_AddArrayToObject(j, "tinyr1");
    for (size_t k = 0; k < mine->n; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(mine->v[k]));
    a = cJSON_AddArrayToObject(j, "tokenizers");
    for (int64_t k = 0; k < n; k++) {
        int32_t r;
        memcpy(&r, ref + 4 * k, 4);
        cJSON_AddItemToArray(a, cJSON_CreateNumber(r));
    }
    char *t = cJSON_PrintUnformatted(j);
    fprintf(report, "%s\n", t);
    free(t);
    cJSON_Delete(j);
}

/* Encodes every string with tok (which must apply NFC itself) and compares with the oracle.
 * Returns the number of mismatches. */
static int compare_all(const tr_tokenizer *tok, const strings *l, const tr_safetensors *out,
                       const cJSON *nfc, const char *label, FILE *report) {
    const tr_st_tensor *ids = tr_st_find(out, "ids"), *off = tr_st_find(out, "offsets");
    CHECK(ids && off && ids->dtype == TR_DT_I32 && off->dtype == TR_DT_I64 &&
          off->numel == l->n + 1);
    if (!ids || !off || off->numel != l->n + 1) return l->n;
    int bad[N_CAT] = {0}, total[N_CAT] = {0}, shown = 0, n_nfc = 0;
    CHECK(tr_tokenizer_normalizer(tok) == TR_NORM_NFC);
    int64_t n_ids = 0;
    for (int i = 0; i < l->n; i++) {
        int64_t b, e;
        memcpy(&b, (const char *)off->data + 8 * i, 8);
        memcpy(&e, (const char *)off->data + 8 * (i + 1), 8);
        const char *ref = (const char *)ids->data + 4 * b;
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        const cJSON *alt = cJSON_GetObjectItemCaseSensitive(nfc, key);
        n_nfc += alt != NULL;
        tr_ids mine = {0};
        size_t first;
        int ok = encode_equals(tok, l->s[i], ref, e - b, &mine, &first);
        total[l->cat[i]]++;
        n_ids += e - b;
        if (!ok) {
            bad[l->cat[i]]++;
            if (report) report_row(report, i, l->s[i], &mine, ref, e - b);
            if (shown++ < 5) {
                fprintf(stderr,
                        "%s: string %d (%s) differs (tinyr1 %zu ids, tokenizers %lld, "
                        "first difference at %zu): \"",
                        label, i, cat_name[l->cat[i]], mine.n, (long long)(e - b), first);
                print_escaped(l->s[i]);
                fprintf(stderr, "\"\n");
            }
        }
        tr_ids_free(&mine);
    }
    int all_bad = 0;
    printf("%s:\n", label);
    for (int c = 0; c < N_CAT; c++) {
        printf("  %-15s %4d/%4d strings equal\n", cat_name[c], total[c] - bad[c], total[c]);
        all_bad += bad[c];
    }
    printf("  (%lld ids in all; %d strings are changed by NFC)\n", (long long)n_ids, n_nfc);
    CHECK_MSG(all_bad == 0, "%s: %d strings encode differently", label, all_bad);
    return all_bad;
}

/* tr_text_nfc against Python's unicodedata (the oracle's "nfc": index -> NFC form, for the
 * strings that NFC changes; the others must come back unchanged). */
static void check_nfc(const strings *l, const cJSON *nfc) {
    int bad = 0, changed = 0;
    for (int i = 0; i < l->n; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        const cJSON *alt = cJSON_GetObjectItemCaseSensitive(nfc, key);
        const char *want = cJSON_IsString(alt) ? alt->valuestring : l->s[i];
        changed += cJSON_IsString(alt);
        char *got = NULL;
        size_t n = 0;
        tr_err err;
        if (tr_text_nfc(l->s[i], strlen(l->s[i]), &got, &n, &err) != 0 || n != strlen(want) ||
            memcmp(got, want, n) != 0) {
            if (bad++ < 5) {
                fprintf(stderr, "tr_text_nfc differs from unicodedata on string %d: \"", i);
                print_escaped(l->s[i]);
                fprintf(stderr, "\"\n");
            }
        }
        free(got);
    }
    printf("tr_text_nfc: %d/%d strings equal to Python's unicodedata NFC (%d changed by NFC)\n",
           l->n - bad, l->n, changed);
    CHECK_MSG(bad == 0, "tr_text_nfc: %d strings differ from unicodedata", bad);
    CHECK(changed >= 900);
}

int main(void) {
    char python[1024];
    const char *env = getenv("TR_HF_PYTHON");
    snprintf(python, sizeof python, "%s", env ? env : TR_TESTS_DIR "/../.venv-hf/bin/python");
    if (access(python, X_OK) != 0) {
        fprintf(stderr, "parity_hf_tokenizer: no oracle at %s: run scripts/install-deps.sh\n",
                python);
        return 1;
    }
    strings l = {0};
    int gsm = add_jsonl(&l, "gsm8k/test.jsonl", "question", "answer", 1 << 30, CAT_GSM8K);
    int math = add_jsonl(&l, "math500/test.jsonl", "problem", "solution", 1 << 30, CAT_MATH);
    CHECK(gsm == 1319 && math == 500);
    tr_rng rng;
    tr_rng_seed(&rng, 2024);
    for (int i = 0; i < 1000; i++) add(&l, random_string(&rng), CAT_RANDOM);
    static const char *decomposed[] = {
        "Tie\u0302\u0301ng Vie\u0323\u0302t co\u0301 da\u0302\u0301u", /* Vietnamese, NFD */
        "Tiê\u0301ng Viê\u0323t",          /* half composed */
        "Ti\u1EBFng Vi\u1EC7t c\u00F3 d\u1EA5u", /* NFC already */
        "a\u0302\u0323 a\u0323\u0302 \u1EAD", /* mark order: both give U+1EAD */
        "e\u0301", "e\u0301\u0301", "\u00E9\u0301", "cafe\u0301 na\u0308i\u0308ve",
        "\u1100\u1161\u11A8 \u1112\u1161\u11AB\u1100\u1173\u11AF", /* jamo: 각 한글 */
        "\uAC00\u11A8 \u1100\uAC00",                 /* LV + T composes; L + LV does not */
        "\u212B \u2126 \u212A \u037E \u0387 \u1F71", /* singletons */
        "\u0915\u093C \u0958",                        /* composition exclusion */
        "\u304B\u3099 \u30CF\u309A \uFF76\uFF9E",  /* kana + voiced marks; half-width stays */
        "\u05D1\u05BC \uFB31 A\u030A\u0301", "\u0301leading mark",
        "\u1E9B\u0323", "q\u0307\u0323", "\u0338=\u2260 <\u0338",
        "\uF900\uFA10\U0002F800",
    };
    for (size_t i = 0; i < sizeof decomposed / sizeof decomposed[0]; i++)
        add(&l, sdup(decomposed[i]), CAT_NFC);
    for (int i = 0; i < 1000; i++) add(&l, nfc_string(&rng), CAT_NFC);
    static const char *sp[] = {"<|im_start|>", "<|im_end|>", "<|endoftext|>"};
    static const char *edge[] = {
        "<|im_start|><|im_end|><|endoftext|>",
        " <|im_end|> ",
        "abc<|endoftext|>def",
        "<|im_start|",
        "<|im_start|>>",
        "<<|im_end|>",
        "<|IM_START|>",
        "<| im_end |>",
        "\n\n<|im_start|>\n\n",
        "<|endoftext|><|endoftext|>",
        "x<|im_start|>user",
        "<|im_start|>",
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) add(&l, sdup(edge[i]), CAT_SPECIAL);
    for (int i = 0; i < 400; i++) { /* chat-formatted GSM8K pairs, and random text with specials */
        if (i % 2 == 0) {
            int q = 2 * (int)tr_rng_below(&rng, (uint64_t)gsm);
            add(&l,
                concat(7, "<|im_start|>user\n", l.s[q], "<|im_end|>\n<|im_start|>assistant\n",
                       l.s[q + 1], "<|im_end|>", sp[tr_rng_below(&rng, 3)], "\n"),
                CAT_SPECIAL);
        } else {
            char *a = random_string(&rng), *b = random_string(&rng);
            add(&l, concat(3, a, sp[tr_rng_below(&rng, 3)], b), CAT_SPECIAL);
            free(a);
            free(b);
        }
    }

    char work[] = "/tmp/tinyr1_hf_tok_XXXXXX";
    CHECK(mkdtemp(work) != NULL);
    char in[600], out_path[600], json_dir[600], qwen[512], cmd[4096];
    snprintf(in, sizeof in, "%s/strings.jsonl", work);
    snprintf(out_path, sizeof out_path, "%s/ids.safetensors", work);
    snprintf(json_dir, sizeof json_dir, "%s/json", work);
    snprintf(qwen, sizeof qwen, "%s/tokenizers/qwen2", TR_SHARED_DATA);
    CHECK(write_jsonl(&l, in) == 0);
    snprintf(cmd, sizeof cmd, "%s %s/hf_tokenize.py %s %s %s %s", python, TR_TESTS_DIR, qwen, in,
             out_path, json_dir);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "the tokenizers oracle failed: %s", cmd);
    tr_err err;
    tr_safetensors *out = NULL;
    if (rc == 0 && tr_st_open(&out, out_path, &err) == 0) {
        printf("oracle: %s, tokenizers %s; %d strings\n", tr_st_metadata(out, "tokenizer"),
               tr_st_metadata(out, "tokenizers"), l.n);
        const char *nm = tr_st_metadata(out, "nfc");
        cJSON *nfc = nm ? cJSON_Parse(nm) : NULL;
        CHECK(cJSON_IsObject(nfc));
        printf("oracle normalizer: %s\n", tr_st_metadata(out, "normalizer"));
        if (cJSON_IsObject(nfc)) check_nfc(&l, nfc);
        tr_tokenizer *tok = NULL;
        CHECK_MSG(tr_tokenizer_load(&tok, qwen, &err) == 0, "%s", err.msg);
        char rp[700];
        snprintf(rp, sizeof rp, "%s/mismatches.jsonl", work);
        FILE *report = fopen(rp, "w");
        if (tok && compare_all(tok, &l, out, nfc, "qwen2 vocab.json + merges.txt", report))
            fprintf(stderr, "mismatches (text, both id lists): %s\n", rp);
        if (report) fclose(report);
        tr_tokenizer_free(tok);
        tok = NULL;
        char tj[700];
        snprintf(tj, sizeof tj, "%s/tokenizer.json", json_dir);
        CHECK_MSG(tr_tokenizer_load(&tok, tj, &err) == 0, "%s", err.msg);
        if (tok)
            compare_all(tok, &l, out, nfc, "qwen2 tokenizer.json (written by tokenizers)", NULL);
        tr_tokenizer_free(tok);
        cJSON_Delete(nfc);
        tr_st_close(out);
    } else if (rc == 0) {
        CHECK_MSG(0, "%s", err.msg);
    }
    if (tu_failures == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", work);
        CHECK(system(cmd) == 0);
    }
    for (int i = 0; i < l.n; i++) free(l.s[i]);
    free(l.s);
    free(l.cat);
    return tu_finish("parity_hf_tokenizer");
}
