/* BPE training: a hand-worked example, a naive reference trainer (recount every pair after
 * every merge) on a synthetic corpus, special tokens, and the vocab.json/merges.txt export. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tinyr1/text.h"

/* "aaabdaaabac" (the textbook BPE example) is one GPT-2 pre-token. Pair counts: aa 4, ab 2,
 * bd da ba ac 1. Merge 1: (a,a) -> "aa", left to right: aa a b d aa a b a c. Now (aa,a) 2 and
 * (a,b) 2 tie; the smaller pair of ids wins: (97,98) < (256,97), so merge 2: "ab". Merge 3:
 * (aa,ab) 2 -> "aaab". Every other pair occurs once (< min_frequency 2): training stops. */
static void test_textbook(void) {
    tr_err err;
    tr_tokenizer *tok = NULL;
    tr_bpe_train_params p = tr_bpe_train_default_params();
    p.vocab_size = 300;
    const char *text = "aaabdaaabac";
    CHECK(tr_tokenizer_train(&tok, text, strlen(text), &p, NULL, &err) == 0);
    if (!tok) return;
    CHECK(tr_tokenizer_n_merges(tok) == 3);
    CHECK(tr_tokenizer_vocab_size(tok) == 256 + 3 + tr_n_default_specials);
    size_t n;
    const char *s = tr_tokenizer_piece(tok, 256, &n);
    CHECK(n == 2 && memcmp(s, "aa", 2) == 0);
    s = tr_tokenizer_piece(tok, 257, &n);
    CHECK(n == 2 && memcmp(s, "ab", 2) == 0);
    s = tr_tokenizer_piece(tok, 258, &n);
    CHECK(n == 4 && memcmp(s, "aaab", 4) == 0);
    /* encode: aaab d aaab a c = 258 'd' 258 'a' 'c' */
    tr_ids ids = {0};
    CHECK(tr_tokenizer_encode(tok, text, strlen(text), 0, &ids, &err) == 0);
    int32_t want[] = {258, 'd', 258, 'a', 'c'};
    CHECK(ids.n == 5 && memcmp(ids.v, want, sizeof want) == 0);
    tr_ids_free(&ids);
    /* specials sit at the end, in the documented order; eos = <|endoftext|> */
    for (int i = 0; i < tr_n_default_specials; i++) {
        int32_t id = tr_tokenizer_token_id(tok, tr_default_specials[i]);
        CHECK(id == 259 + i);
        CHECK(tr_tokenizer_is_special(tok, id));
    }
    CHECK(tr_tokenizer_eos(tok) == 259);
    CHECK(tr_tokenizer_bos(tok) == -1);
    tr_tokenizer_free(tok);
}

/* ---- naive reference trainer --------------------------------------------------------- */
#define MAXV 512
typedef struct nword {
    int32_t sym[64];
    int n;
    int64_t count;
} nword;

static void test_against_naive(void) {
    /* corpus: words over a-f of Zipf-like frequency, separated by single spaces, so the
     * GPT-2 pre-tokens are the first word and then " word" for each following one. */
    tr_rng rng;
    tr_rng_seed(&rng, 7);
    enum { N_TYPES = 300, N_TOKENS = 20000 };
    char types[N_TYPES][12];
    for (int t = 0; t < N_TYPES; t++) {
        int len = 1 + (int)tr_rng_below(&rng, 9);
        for (int k = 0; k < len; k++) types[t][k] = (char)('a' + tr_rng_below(&rng, 6));
        types[t][len] = '\0';
    }
    char *text = malloc(N_TOKENS * 12 + 1);
    size_t len = 0;
    nword *words = calloc(2 * N_TYPES, sizeof *words);
    int n_words = 0;
    for (int i = 0; i < N_TOKENS; i++) {
        int t = (int)(tr_rng_below(&rng, N_TYPES) * tr_rng_below(&rng, N_TYPES) / N_TYPES);
        char w[16];
        int wl = 0;
        if (i > 0) w[wl++] = ' ';
        for (const char *c = types[t]; *c; c++) w[wl++] = *c;
        memcpy(text + len, w, (size_t)wl);
        len += (size_t)wl;
        int found = -1;
        for (int k = 0; k < n_words && found < 0; k++) {
            if (words[k].n != wl) continue;
            int same = 1;
            for (int j = 0; j < wl; j++) same &= words[k].sym[j] == (unsigned char)w[j];
            if (same) found = k;
        }
        if (found < 0) {
            found = n_words++;
            words[found].n = wl;
            for (int j = 0; j < wl; j++) words[found].sym[j] = (unsigned char)w[j];
        }
        words[found].count++;
    }
    /* naive: recount all pairs, take the most frequent (ties: smaller left id, then smaller
     * right id), merge it left to right everywhere; a piece seen before keeps its id. */
    static int64_t cnt[MAXV][MAXV];
    char pieces[MAXV][64];
    int plen[MAXV], nv = 256, n_merges = 0;
    for (int b = 0; b < 256; b++) {
        pieces[b][0] = (char)b;
        plen[b] = 1;
    }
    const int vocab = 256 + 150;
    while (nv < vocab) {
        memset(cnt, 0, sizeof cnt);
        for (int k = 0; k < n_words; k++)
            for (int j = 0; j + 1 < words[k].n; j++) cnt[words[k].sym[j]][words[k].sym[j + 1]] += words[k].count;
        int ba = -1, bb = -1;
        int64_t best = 0;
        for (int a = 0; a < nv; a++)
            for (int b = 0; b < nv; b++)
                if (cnt[a][b] > best) {
                    best = cnt[a][b];
                    ba = a;
                    bb = b;
                }
        if (best < 2) break;
        char np[64];
        int nl = plen[ba] + plen[bb];
        memcpy(np, pieces[ba], (size_t)plen[ba]);
        memcpy(np + plen[ba], pieces[bb], (size_t)plen[bb]);
        int c = -1;
        for (int v = 0; v < nv && c < 0; v++)
            if (plen[v] == nl && memcmp(pieces[v], np, (size_t)nl) == 0) c = v;
        if (c < 0) {
            c = nv++;
            memcpy(pieces[c], np, (size_t)nl);
            plen[c] = nl;
        }
        n_merges++;
        for (int k = 0; k < n_words; k++) {
            int o = 0;
            for (int j = 0; j < words[k].n;) {
                if (j + 1 < words[k].n && words[k].sym[j] == ba && words[k].sym[j + 1] == bb) {
                    words[k].sym[o++] = c;
                    j += 2;
                } else {
                    words[k].sym[o++] = words[k].sym[j++];
                }
            }
            words[k].n = o;
        }
    }
    tr_err err;
    tr_tokenizer *tok = NULL;
    tr_bpe_train_params p = tr_bpe_train_default_params();
    p.vocab_size = vocab;
    p.n_specials = 0;
    p.specials = tr_default_specials;
    tr_bpe_train_stats st;
    CHECK(tr_tokenizer_train(&tok, text, len, &p, &st, &err) == 0);
    if (tok) {
        CHECK_MSG(tr_tokenizer_vocab_size(tok) == nv, "%d vs naive %d", tr_tokenizer_vocab_size(tok), nv);
        CHECK(tr_tokenizer_n_merges(tok) == n_merges);
        CHECK(st.n_words == N_TOKENS && st.n_unique_words == n_words);
        int same = 1;
        for (int v = 256; v < nv && v < tr_tokenizer_vocab_size(tok); v++) {
            size_t n;
            const char *s = tr_tokenizer_piece(tok, v, &n);
            if ((int)n != plen[v] || memcmp(s, pieces[v], n) != 0) {
                fprintf(stderr, "token %d: \"%.*s\" vs naive \"%.*s\"\n", v, (int)n, s, plen[v], pieces[v]);
                same = 0;
                break;
            }
        }
        CHECK(same);
        /* encoding the training text round-trips and compresses */
        tr_ids ids = {0};
        CHECK(tr_tokenizer_encode(tok, text, len, 0, &ids, &err) == 0);
        CHECK(ids.n < len / 2);
        char *back;
        size_t blen;
        CHECK(tr_tokenizer_decode(tok, ids.v, ids.n, 0, &back, &blen, &err) == 0);
        CHECK(blen == len && memcmp(back, text, len) == 0);
        free(back);
        tr_ids_free(&ids);
    }
    tr_tokenizer_free(tok);
    free(words);
    free(text);
}

/* Special tokens in the corpus are separators, never learned; encode keeps them whole. */
static void test_specials_and_export(void) {
    tr_err err;
    size_t n = 0;
    char *text = malloc(200000);
    for (int i = 0; i < 2000; i++)
        n += (size_t)sprintf(text + n, "<think> step %d then more </think><answer>%d</answer>\n", i, i * 7);
    tr_tokenizer *tok = NULL;
    tr_bpe_train_params p = tr_bpe_train_default_params();
    p.vocab_size = 400;
    CHECK(tr_tokenizer_train(&tok, text, n, &p, NULL, &err) == 0);
    if (!tok) {
        free(text);
        return;
    }
    CHECK(tr_tokenizer_vocab_size(tok) == 400);
    for (int32_t id = 256; id < 400 - tr_n_default_specials; id++) {
        size_t k;
        const char *s = tr_tokenizer_piece(tok, id, &k);
        CHECK(memchr(s, '<', k) == NULL); /* nothing learned from inside a special */
    }
    const char *line = "<think> step 5 then more </think><answer>35</answer>";
    tr_ids ids = {0};
    CHECK(tr_tokenizer_encode(tok, line, strlen(line), TR_ENC_ALLOW_SPECIAL, &ids, &err) == 0);
    CHECK(ids.n > 0 && ids.v[0] == tr_tokenizer_token_id(tok, "<think>"));
    CHECK(ids.v[ids.n - 1] == tr_tokenizer_token_id(tok, "</answer>"));
    /* the HF export loads back (through the vocab.json path) with identical encodings */
    char dir[] = "/tmp/tinyr1_test_tok_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK(tr_tokenizer_save_hf(tok, dir, &err) == 0);
    tr_tokenizer *back = NULL;
    CHECK_MSG(tr_tokenizer_load(&back, dir, &err) == 0, "%s", err.msg);
    if (back) {
        CHECK(tr_tokenizer_vocab_size(back) == 400);
        CHECK(tr_tokenizer_n_added(back) == tr_n_default_specials);
        CHECK(tr_tokenizer_eos(back) == tr_tokenizer_eos(tok));
        tr_ids again = {0};
        CHECK(tr_tokenizer_encode(back, line, strlen(line), TR_ENC_ALLOW_SPECIAL, &again, &err) == 0);
        CHECK(again.n == ids.n && memcmp(again.v, ids.v, ids.n * sizeof *ids.v) == 0);
        tr_ids_free(&again);
    }
    tr_tokenizer_free(back);
    /* and so does tinyr1's own format, from a path */
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.tr1", dir);
    CHECK(tr_tokenizer_save(tok, path, &err) == 0);
    CHECK(tr_tokenizer_load(&back, dir, &err) == 0); /* the folder prefers tokenizer.tr1 */
    if (back) CHECK(tr_tokenizer_n_merges(back) == tr_tokenizer_n_merges(tok));
    tr_tokenizer_free(back);
    const char *files[] = {"vocab.json", "merges.txt", "tokenizer_config.json", "tokenizer.tr1"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    remove(dir);
    tr_ids_free(&ids);
    tr_tokenizer_free(tok);
    free(text);
}

static void test_bad_params(void) {
    tr_err err;
    tr_tokenizer *tok = NULL;
    tr_bpe_train_params p = tr_bpe_train_default_params();
    p.vocab_size = 100;
    CHECK(tr_tokenizer_train(&tok, "abc", 3, &p, NULL, &err) == -1 && tok == NULL);
    CHECK(strstr(err.msg, "vocab_size") != NULL);
    const char *dup[] = {"<a>", "<a>"};
    p = tr_bpe_train_default_params();
    p.specials = dup;
    p.n_specials = 2;
    CHECK(tr_tokenizer_train(&tok, "abc", 3, &p, NULL, &err) == -1);
}

int main(void) {
    test_textbook();
    test_against_naive();
    test_specials_and_export();
    test_bad_params();
    return tu_finish("tokenizer_train");
}
