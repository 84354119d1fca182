/* Internals of the tokenizer, shared by the files of src/text/ (not installed). */
#ifndef TINYR1_TOK_INTERNAL_H
#define TINYR1_TOK_INTERNAL_H

#include <pcre2.h>
#include <stdint.h>

#include "tinyr1/text.h"

enum {
    TOK_ADDED = 1,   /* matched whole before pre-tokenization */
    TOK_SPECIAL = 2, /* control token (skipped by TR_DEC_SKIP_SPECIAL) */
    TOK_BYTE = 4,    /* scored kind: a <0xNN> byte-fallback token */
};

/* Open-addressing hash set of token ids keyed by the tokens' bytes. */
typedef struct tok_strmap {
    int32_t *slot; /* -1 = empty */
    uint32_t *tag; /* high bits of the hash of the slot's token (skips most compares) */
    uint64_t mask;
} tok_strmap;

/* Open-addressing map (left id, right id) -> (rank, result id). */
typedef struct tok_pairmap {
    uint64_t *key; /* UINT64_MAX = empty */
    int32_t *rank, *result;
    uint64_t mask, count;
} tok_pairmap;

struct tr_tokenizer {
    tr_tokenizer_kind kind;
    int32_t n_vocab, cap_vocab;
    char *arena; /* all pieces, back to back */
    size_t arena_len, arena_cap;
    uint64_t *off;    /* [cap_vocab] piece offset in arena */
    uint32_t *len;    /* [cap_vocab] piece length */
    float *score;     /* [cap_vocab] scored kind: merge score; 0 otherwise */
    uint8_t *attr;    /* [cap_vocab] TOK_* flags */
    int16_t *byteval; /* [cap_vocab] scored kind: byte of a <0xNN> token, else -1 */
    int32_t byte_id[256]; /* id of the single-byte token (byte-level) or <0xNN> (scored); -1 */
    uint32_t max_len;     /* longest piece */
    tok_strmap map;
    tok_pairmap merges;
    int32_t n_merges, cap_merges;
    int32_t *merge_l, *merge_r; /* [n_merges] by rank (for saving) */
    int32_t *added;             /* ids of added tokens, by id */
    int n_added, cap_added;
    int32_t *match_order;       /* added ids sorted by length, longest first */
    uint8_t added_first[256];   /* 1 if some added token starts with this byte */
    int added_dirty;            /* match_order needs tok_sort_added */
    int32_t bos, eos;
    int add_bos, dummy_prefix;
    int32_t space_id; /* scored kind: the " " token used as dummy prefix, -1 if absent */
    tr_pretok pretok;
    tr_normalizer norm;
    char *pattern;
    pcre2_code *re;
};

/* ---- tok_core.c ----------------------------------------------------------------- */
tr_tokenizer *tok_new(tr_tokenizer_kind kind, tr_err *err);
/* Appends a token; returns its id or -1. Does not touch the string map. */
int32_t tok_append(tr_tokenizer *tok, const char *bytes, size_t len, float score, uint8_t attr,
                   tr_err *err);
/* Builds the string map from scratch (after all tokens are appended). First id wins. */
int tok_build_map(tr_tokenizer *tok, tr_err *err);
int32_t tok_find(const tr_tokenizer *tok, const char *bytes, size_t len);
int tok_map_insert(tr_tokenizer *tok, int32_t id, tr_err *err);
/* Adds merge (l, r) -> result with the next rank; duplicate pairs keep the first rank. */
int tok_add_merge(tr_tokenizer *tok, int32_t l, int32_t r, int32_t result, tr_err *err);
int tok_pair_lookup(const tok_pairmap *m, int32_t l, int32_t r, int32_t *rank, int32_t *result);
/* Marks an added token (special: also a control token); call tok_sort_added after a batch. */
int tok_mark_added(tr_tokenizer *tok, int32_t id, int special, tr_err *err);
int tok_sort_added(tr_tokenizer *tok, tr_err *err);
/* Sets the regex (NULL pattern = the known source of p) and compiles it. */
int tok_set_pretok(tr_tokenizer *tok, tr_pretok p, const char *pattern, tr_err *err);
/* Fills byte_id / byteval and checks the byte alphabet is complete (byte-level). */
int tok_finish(tr_tokenizer *tok, const char *name, tr_err *err);

/* Calls fn(word, len, ctx) for each pre-token of text[0..len) (byte-level rules: regex on
 * valid UTF-8 runs, invalid bytes alone). md: match data made from re. */
typedef int (*tok_word_fn)(const char *word, size_t len, void *ctx, tr_err *err);
int tok_pretokenize(const tr_tokenizer *tok, pcre2_match_data *md, const char *text, size_t len,
                    tok_word_fn fn, void *ctx, tr_err *err);
/* Length of the valid UTF-8 prefix of s[0..n) that ends at a character boundary. */
size_t tok_utf8_valid_prefix(const unsigned char *s, size_t n);
/* Splits text at added tokens: calls seg(text, len, -1) for plain text and seg(NULL, 0, id)
 * for an added token. */
typedef int (*tok_seg_fn)(const char *text, size_t len, int32_t id, void *ctx, tr_err *err);
int tok_split_added(const tr_tokenizer *tok, const char *text, size_t len, tok_seg_fn seg,
                    void *ctx, tr_err *err);

/* ---- tok_norm.c ----------------------------------------------------------------- */
/* 0 when text[0..len) is NFC for sure (no byte >= 0xCC, i.e. no code point >= U+0300). */
int tok_nfc_may_change(const char *text, size_t len);

/* GPT-2 byte <-> unicode alphabet. */
void tok_byte_to_unicode(int cp_of_byte[256]);
/* Converts a vocab.json string (byte-level alphabet) to raw bytes in out (cap >= len);
 * characters outside the alphabet are kept as their UTF-8 bytes. Returns the length. */
size_t tok_unicode_to_bytes(const char *s, size_t len, char *out);
/* Appends the byte-level alphabet form of raw bytes to out (cap >= 2 * len). Returns length. */
size_t tok_bytes_to_unicode(const char *s, size_t len, char *out);

#endif
