/* Tokenizer core: storage, hash maps, the byte-level alphabet, added tokens, the regex
 * pre-tokenizer and the vocabulary queries. */
#include <stdlib.h>
#include <string.h>

#include "text/tok_internal.h"

static const char pattern_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char pattern_qwen2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const char *const tr_default_specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>",
                                           "</think>",      "<answer>",     "</answer>"};
const int tr_n_default_specials = (int)(sizeof tr_default_specials / sizeof tr_default_specials[0]);

const char *tr_pretok_pattern(tr_pretok p) {
    switch (p) {
    case TR_PRETOK_NONE: return "";
    case TR_PRETOK_GPT2: return pattern_gpt2;
    case TR_PRETOK_QWEN2: return pattern_qwen2;
    case TR_PRETOK_CUSTOM: return NULL;
    }
    return NULL;
}

/* ---- id buffer ------------------------------------------------------------------ */
int tr_ids_push(tr_ids *ids, int32_t id, tr_err *err) {
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (!v) return tr_fail(err, "out of memory growing an id buffer to %zu ids", cap);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return 0;
}

void tr_ids_free(tr_ids *ids) {
    if (!ids) return;
    free(ids->v);
    ids->v = NULL;
    ids->n = ids->cap = 0;
}

/* ---- hashing -------------------------------------------------------------------- */
static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* ---- construction --------------------------------------------------------------- */
tr_tokenizer *tok_new(tr_tokenizer_kind kind, tr_err *err) {
    tr_tokenizer *tok = tr_calloc(1, sizeof *tok, err);
    if (!tok) return NULL;
    tok->kind = kind;
    tok->bos = tok->eos = tok->space_id = -1;
    for (int b = 0; b < 256; b++) tok->byte_id[b] = -1;
    tok->pretok = TR_PRETOK_NONE;
    return tok;
}

void tr_tokenizer_free(tr_tokenizer *tok) {
    if (!tok) return;
    free(tok->arena);
    free(tok->off);
    free(tok->len);
    free(tok->score);
    free(tok->attr);
    free(tok->byteval);
    free(tok->map.slot);
    free(tok->map.tag);
    free(tok->merges.key);
    free(tok->merges.rank);
    free(tok->merges.result);
    free(tok->merge_l);
    free(tok->merge_r);
    free(tok->added);
    free(tok->match_order);
    free(tok->pattern);
    if (tok->re) pcre2_code_free(tok->re);
    free(tok);
}

static int grow(void **p, size_t elem, size_t cap, tr_err *err) {
    void *q = realloc(*p, elem * (cap ? cap : 1));
    if (!q) return tr_fail(err, "out of memory (%zu x %zu bytes)", cap, elem);
    *p = q;
    return 0;
}

int32_t tok_append(tr_tokenizer *tok, const char *bytes, size_t len, float score, uint8_t attr,
                   tr_err *err) {
    if (len > UINT32_MAX / 2) return tr_fail(err, "token of %zu bytes is too long", len);
    if (tok->n_vocab >= INT32_MAX - 1) return tr_fail(err, "too many tokens");
    if (tok->n_vocab == tok->cap_vocab) {
        int32_t cap = tok->cap_vocab ? tok->cap_vocab * 2 : 512;
        if (cap < 0 || cap > INT32_MAX / 2) cap = INT32_MAX - 1;
        if (grow((void **)&tok->off, sizeof *tok->off, (size_t)cap, err) ||
            grow((void **)&tok->len, sizeof *tok->len, (size_t)cap, err) ||
            grow((void **)&tok->score, sizeof *tok->score, (size_t)cap, err) ||
            grow((void **)&tok->attr, sizeof *tok->attr, (size_t)cap, err) ||
            grow((void **)&tok->byteval, sizeof *tok->byteval, (size_t)cap, err))
            return -1;
        tok->cap_vocab = cap;
    }
    if (tok->arena_len + len + 1 > tok->arena_cap) {
        size_t cap = tok->arena_cap ? tok->arena_cap : 4096;
        while (cap < tok->arena_len + len + 1) cap *= 2;
        if (grow((void **)&tok->arena, 1, cap, err)) return -1;
        tok->arena_cap = cap;
    }
    int32_t id = tok->n_vocab++;
    if (len) memcpy(tok->arena + tok->arena_len, bytes, len);
    tok->off[id] = tok->arena_len;
    tok->len[id] = (uint32_t)len;
    tok->score[id] = score;
    tok->attr[id] = attr;
    tok->byteval[id] = -1;
    tok->arena_len += len;
    if (len > tok->max_len) tok->max_len = (uint32_t)len;
    return id;
}

static const char *piece_of(const tr_tokenizer *tok, int32_t id) { return tok->arena + tok->off[id]; }

int32_t tok_find(const tr_tokenizer *tok, const char *bytes, size_t len) {
    if (!tok->map.slot) return -1;
    uint64_t h = hash_bytes(bytes, len), i = h & tok->map.mask;
    uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        int32_t id = tok->map.slot[i];
        if (id < 0) return -1;
        if (tok->map.tag[i] == tag && tok->len[id] == len && memcmp(piece_of(tok, id), bytes, len) == 0)
            return id;
        i = (i + 1) & tok->map.mask;
    }
}

static int map_put(tok_strmap *m, const tr_tokenizer *tok, int32_t id) {
    uint64_t h = hash_bytes(piece_of(tok, id), tok->len[id]), i = h & m->mask;
    uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        int32_t other = m->slot[i];
        if (other < 0) {
            m->slot[i] = id;
            m->tag[i] = tag;
            return 1;
        }
        if (m->tag[i] == tag && tok->len[other] == tok->len[id] &&
            memcmp(piece_of(tok, other), piece_of(tok, id), tok->len[id]) == 0)
            return 0; /* first id wins */
        i = (i + 1) & m->mask;
    }
}

static int map_resize(tr_tokenizer *tok, uint64_t want, tr_err *err) {
    uint64_t cap = 1024;
    while (cap < want * 2) cap *= 2;
    int32_t *slot = malloc(cap * sizeof *slot);
    uint32_t *tag = malloc(cap * sizeof *tag);
    if (!slot || !tag) {
        free(slot);
        free(tag);
        return tr_fail(err, "out of memory for a vocabulary map of %llu slots", (unsigned long long)cap);
    }
    memset(slot, 0xff, cap * sizeof *slot);
    tok_strmap m = {slot, tag, cap - 1};
    for (int32_t id = 0; id < tok->n_vocab; id++) map_put(&m, tok, id);
    free(tok->map.slot);
    free(tok->map.tag);
    tok->map = m;
    return 0;
}

int tok_build_map(tr_tokenizer *tok, tr_err *err) {
    return map_resize(tok, (uint64_t)tok->n_vocab + 16, err);
}

int tok_map_insert(tr_tokenizer *tok, int32_t id, tr_err *err) {
    if (!tok->map.slot || (uint64_t)tok->n_vocab * 2 > tok->map.mask)
        return map_resize(tok, (uint64_t)tok->n_vocab * 2, err);
    map_put(&tok->map, tok, id);
    return 0;
}

/* ---- merges --------------------------------------------------------------------- */
static int pairmap_resize(tok_pairmap *m, uint64_t cap, tr_err *err) {
    tok_pairmap n = {0};
    n.key = malloc(cap * sizeof *n.key);
    n.rank = malloc(cap * sizeof *n.rank);
    n.result = malloc(cap * sizeof *n.result);
    if (!n.key || !n.rank || !n.result) {
        free(n.key);
        free(n.rank);
        free(n.result);
        return tr_fail(err, "out of memory for a merge table of %llu slots", (unsigned long long)cap);
    }
    memset(n.key, 0xff, cap * sizeof *n.key);
    n.mask = cap - 1;
    n.count = m->count;
    for (uint64_t i = 0; m->key && i <= m->mask; i++) {
        if (m->key[i] == UINT64_MAX) continue;
        uint64_t j = hash_u64(m->key[i]) & n.mask;
        while (n.key[j] != UINT64_MAX) j = (j + 1) & n.mask;
        n.key[j] = m->key[i];
        n.rank[j] = m->rank[i];
        n.result[j] = m->result[i];
    }
    free(m->key);
    free(m->rank);
    free(m->result);
    *m = n;
    return 0;
}

int tok_pair_lookup(const tok_pairmap *m, int32_t l, int32_t r, int32_t *rank, int32_t *result) {
    if (!m->key) return 0;
    uint64_t k = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    uint64_t i = hash_u64(k) & m->mask;
    for (;;) {
        if (m->key[i] == UINT64_MAX) return 0;
        if (m->key[i] == k) {
            *rank = m->rank[i];
            *result = m->result[i];
            return 1;
        }
        i = (i + 1) & m->mask;
    }
}

int tok_add_merge(tr_tokenizer *tok, int32_t l, int32_t r, int32_t result, tr_err *err) {
    tok_pairmap *m = &tok->merges;
    if (!m->key || (m->count + 1) * 2 > m->mask + 1)
        if (pairmap_resize(m, m->key ? (m->mask + 1) * 2 : 1024, err)) return -1;
    if (tok->n_merges == tok->cap_merges) {
        int32_t cap = tok->cap_merges ? tok->cap_merges * 2 : 1024;
        if (grow((void **)&tok->merge_l, sizeof(int32_t), (size_t)cap, err) ||
            grow((void **)&tok->merge_r, sizeof(int32_t), (size_t)cap, err))
            return -1;
        tok->cap_merges = cap;
    }
    int32_t rank = tok->n_merges;
    tok->merge_l[rank] = l;
    tok->merge_r[rank] = r;
    tok->n_merges++;
    uint64_t k = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    uint64_t i = hash_u64(k) & m->mask;
    while (m->key[i] != UINT64_MAX) {
        if (m->key[i] == k) return 0; /* a repeated pair keeps its first (lower) rank */
        i = (i + 1) & m->mask;
    }
    m->key[i] = k;
    m->rank[i] = rank;
    m->result[i] = result;
    m->count++;
    return 0;
}

/* ---- added tokens --------------------------------------------------------------- */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int tok_mark_added(tr_tokenizer *tok, int32_t id, int special, tr_err *err) {
    if (id < 0 || id >= tok->n_vocab) return tr_fail(err, "added token id %d out of range", id);
    if (tok->len[id] == 0) return tr_fail(err, "added token %d is empty", id);
    if (special) tok->attr[id] |= TOK_SPECIAL;
    if (tok->attr[id] & TOK_ADDED) return 0;
    tok->attr[id] |= TOK_ADDED;
    if (tok->n_added == tok->cap_added) {
        int cap = tok->cap_added ? tok->cap_added * 2 : 16;
        if (grow((void **)&tok->added, sizeof(int32_t), (size_t)cap, err) ||
            grow((void **)&tok->match_order, sizeof(int32_t), (size_t)cap, err))
            return -1;
        tok->cap_added = cap;
    }
    tok->added[tok->n_added++] = id;
    tok->added_first[(unsigned char)piece_of(tok, id)[0]] = 1;
    tok->added_dirty = 1;
    return 0;
}

int tok_sort_added(tr_tokenizer *tok, tr_err *err) {
    if (!tok->added_dirty) return 0;
    int n = tok->n_added;
    uint64_t *key = tr_calloc((size_t)n, sizeof *key, err);
    if (!key) return -1;
    /* added: by id. match_order: longest first, then by id (key = (~len, id)). */
    for (int i = 0; i < n; i++) key[i] = (uint32_t)tok->added[i];
    qsort(key, (size_t)n, sizeof *key, cmp_u64);
    for (int i = 0; i < n; i++) tok->added[i] = (int32_t)key[i];
    for (int i = 0; i < n; i++)
        key[i] = (uint64_t)(UINT32_MAX - tok->len[tok->added[i]]) << 32 | (uint32_t)tok->added[i];
    qsort(key, (size_t)n, sizeof *key, cmp_u64);
    for (int i = 0; i < n; i++) tok->match_order[i] = (int32_t)(key[i] & 0xffffffffu);
    free(key);
    tok->added_dirty = 0;
    return 0;
}

int tok_split_added(const tr_tokenizer *tok, const char *text, size_t len, tok_seg_fn seg,
                    void *ctx, tr_err *err) {
    size_t start = 0, i = 0;
    while (i < len) {
        if (tok->added_first[(unsigned char)text[i]]) {
            int32_t hit = -1;
            for (int k = 0; k < tok->n_added; k++) {
                int32_t id = tok->match_order[k];
                size_t n = tok->len[id];
                if (n <= len - i && memcmp(text + i, piece_of(tok, id), n) == 0) {
                    hit = id;
                    break;
                }
            }
            if (hit >= 0) {
                if (i > start && seg(text + start, i - start, -1, ctx, err)) return -1;
                if (seg(NULL, 0, hit, ctx, err)) return -1;
                i += tok->len[hit];
                start = i;
                continue;
            }
        }
        i++;
    }
    if (len > start) return seg(text + start, len - start, -1, ctx, err);
    return 0;
}

/* ---- the regex pre-tokenizer ---------------------------------------------------- */
/* Unicode White_Space, which \s means in the regex engines the reference tokenizers use
 * (Python regex, Rust/Oniguruma). PCRE2 also counts U+180E (MONGOLIAN VOWEL SEPARATOR, a
 * space before Unicode 6.3) as \s, so \s and \S are spelled out before compiling. */
#define WS_CLASS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* Rewrites \s -> [WS] and \S -> [^WS] outside classes, \s -> WS inside classes (a \S inside a
 * class is left alone). Returns a malloc'd string or NULL. */
static char *rewrite_spaces(const char *pat) {
    size_t n = strlen(pat), ws = strlen(WS_CLASS);
    char *out = malloc(n * (ws + 4) + 1);
    if (!out) return NULL;
    size_t o = 0;
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            char d = pat[i + 1];
            if (d == 's' || (d == 'S' && !in_class)) {
                if (!in_class) out[o++] = '[';
                if (d == 'S') out[o++] = '^';
                memcpy(out + o, WS_CLASS, ws);
                o += ws;
                if (!in_class) out[o++] = ']';
            } else {
                out[o++] = c;
                out[o++] = d;
            }
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            out[o++] = c;
            if (i + 1 < n && pat[i + 1] == '^') out[o++] = pat[++i];
            if (i + 1 < n && pat[i + 1] == ']') out[o++] = pat[++i]; /* a literal ] first */
            continue;
        }
        if (c == ']' && in_class) in_class = 0;
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

int tok_set_pretok(tr_tokenizer *tok, tr_pretok p, const char *pattern, tr_err *err) {
    if (!pattern) pattern = tr_pretok_pattern(p);
    if (!pattern) return tr_fail(err, "pre-tokenizer: no pattern given");
    if (p == TR_PRETOK_CUSTOM) {
        if (strcmp(pattern, pattern_gpt2) == 0) p = TR_PRETOK_GPT2;
        else if (strcmp(pattern, pattern_qwen2) == 0) p = TR_PRETOK_QWEN2;
    }
    size_t n = strlen(pattern);
    char *copy = malloc(n + 1);
    if (!copy) return tr_fail(err, "out of memory");
    memcpy(copy, pattern, n + 1);
    pcre2_code *re = NULL;
    if (p != TR_PRETOK_NONE) {
        int code;
        PCRE2_SIZE at;
        char *src = rewrite_spaces(pattern);
        if (!src) {
            free(copy);
            return tr_fail(err, "out of memory");
        }
        re = pcre2_compile((PCRE2_SPTR)src, strlen(src), PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
        free(src);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof msg);
            free(copy);
            return tr_fail(err, "pre-tokenizer regex: %s at offset %zu; expected a PCRE2 pattern",
                           (const char *)msg, (size_t)at);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if absent */
    }
    free(tok->pattern);
    if (tok->re) pcre2_code_free(tok->re);
    tok->pattern = copy;
    tok->re = re;
    tok->pretok = p;
    return 0;
}

/* Length of the valid UTF-8 character at s (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF: the same rules PCRE2 checks), or 0. */
static size_t utf8_char(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;
        if (c == 0xED && s[1] > 0x9F) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] > 0x8F) return 0;
        return 4;
    }
    return 0;
}

size_t tok_utf8_valid_prefix(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_char(s + i, n - i);
        if (!k) break;
        i += k;
    }
    return i;
}

static int regex_run(const tr_tokenizer *tok, pcre2_match_data *md, const char *run, size_t n,
                     tok_word_fn fn, void *ctx, tr_err *err) {
    size_t off = 0, gap = 0;
    while (off < n) {
        int rc = pcre2_match(tok->re, (PCRE2_SPTR)run, n, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return tr_fail(err, "pre-tokenizer regex failed at byte %zu: %s", off,
                           (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (e <= s) { /* empty match: step over one character, which joins the gap */
            off = s + utf8_char((const unsigned char *)run + s, n - s);
            continue;
        }
        if (s > gap && fn(run + gap, s - gap, ctx, err)) return -1;
        if (fn(run + s, e - s, ctx, err)) return -1;
        gap = off = e;
    }
    if (n > gap) return fn(run + gap, n - gap, ctx, err);
    return 0;
}

int tok_pretokenize(const tr_tokenizer *tok, pcre2_match_data *md, const char *text, size_t len,
                    tok_word_fn fn, void *ctx, tr_err *err) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        size_t j = i + tok_utf8_valid_prefix(s + i, len - i);
        if (j > i) {
            if (tok->re) {
                if (regex_run(tok, md, text + i, j - i, fn, ctx, err)) return -1;
            } else if (fn(text + i, j - i, ctx, err)) {
                return -1;
            }
        }
        if (j < len) { /* an invalid byte is a word of its own */
            if (fn(text + j, 1, ctx, err)) return -1;
            j++;
        }
        i = j;
    }
    return 0;
}

/* ---- GPT-2 byte-to-unicode alphabet ---------------------------------------------- */
/* Printable Latin-1 bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) stand for themselves; the other
 * 68 bytes map, in byte order, to U+0100, U+0101, ... (so ' ' is U+0120 'Ġ'). */
void tok_byte_to_unicode(int cp_of_byte[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp_of_byte[b] = keep ? b : 256 + n++;
    }
}

static int byte_of_cp(int cp) {
    if ((cp >= '!' && cp <= '~') || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return cp;
    /* the 68 other bytes, in order: 0x00-0x20 -> U+0100.., 0x7F-0xA0 -> U+0121.., 0xAD -> U+0143 */
    if (cp >= 256 && cp <= 256 + 32) return cp - 256;
    if (cp >= 289 && cp <= 289 + 33) return 0x7F + (cp - 289);
    if (cp == 323) return 0xAD;
    return -1;
}

size_t tok_unicode_to_bytes(const char *s, size_t len, char *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t k = utf8_char(u + i, len - i);
        int cp = -1;
        if (k == 1) cp = u[i];
        else if (k == 2) cp = (u[i] & 0x1F) << 6 | (u[i + 1] & 0x3F);
        int b = k ? byte_of_cp(cp) : -1;
        if (b >= 0) {
            out[o++] = (char)b;
            i += k;
        } else { /* outside the alphabet: keep the bytes as they are */
            size_t n = k ? k : 1;
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
    }
    return o;
}

size_t tok_bytes_to_unicode(const char *s, size_t len, char *out) {
    int cp[256];
    tok_byte_to_unicode(cp);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = cp[(unsigned char)s[i]];
        if (c < 0x80) {
            out[o++] = (char)c;
        } else {
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    return o;
}

/* ---- finishing a load ------------------------------------------------------------ */
static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int tok_finish(tr_tokenizer *tok, const char *name, tr_err *err) {
    if (!tok->map.slot && tok_build_map(tok, err)) return -1;
    if (tok_sort_added(tok, err)) return -1;
    for (int b = 0; b < 256; b++) tok->byte_id[b] = -1;
    if (tok->kind == TR_TOK_SCORED) {
        for (int32_t id = 0; id < tok->n_vocab; id++) {
            const char *p = piece_of(tok, id);
            if (tok->len[id] == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>' &&
                hexval(p[3]) >= 0 && hexval(p[4]) >= 0) {
                int b = hexval(p[3]) * 16 + hexval(p[4]);
                tok->byteval[id] = (int16_t)b;
                tok->attr[id] |= TOK_BYTE;
                if (tok->byte_id[b] < 0) tok->byte_id[b] = id;
            }
        }
        tok->space_id = tok_find(tok, " ", 1);
        return 0;
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        tok->byte_id[b] = tok_find(tok, &c, 1);
        if (tok->byte_id[b] < 0)
            return tr_fail(err, "%s: vocab: no token for byte 0x%02X; expected all 256 bytes "
                                "(byte-level BPE)",
                           name, b);
    }
    return 0;
}

/* ---- queries -------------------------------------------------------------------- */
tr_tokenizer_kind tr_tokenizer_kind_of(const tr_tokenizer *tok) { return tok->kind; }
int32_t tr_tokenizer_vocab_size(const tr_tokenizer *tok) { return tok->n_vocab; }
int32_t tr_tokenizer_bos(const tr_tokenizer *tok) { return tok->bos; }
int32_t tr_tokenizer_eos(const tr_tokenizer *tok) { return tok->eos; }
int tr_tokenizer_adds_bos(const tr_tokenizer *tok) { return tok->add_bos && tok->bos >= 0; }
int tr_tokenizer_n_added(const tr_tokenizer *tok) { return tok->n_added; }
int32_t tr_tokenizer_n_merges(const tr_tokenizer *tok) { return tok->n_merges; }
tr_pretok tr_tokenizer_pretok(const tr_tokenizer *tok) { return tok->pretok; }
const char *tr_tokenizer_pattern(const tr_tokenizer *tok) { return tok->pattern ? tok->pattern : ""; }

int32_t tr_tokenizer_added(const tr_tokenizer *tok, int i) {
    return i >= 0 && i < tok->n_added ? tok->added[i] : -1;
}

int tr_tokenizer_is_special(const tr_tokenizer *tok, int32_t id) {
    return id >= 0 && id < tok->n_vocab && (tok->attr[id] & TOK_SPECIAL) != 0;
}

int32_t tr_tokenizer_token_id(const tr_tokenizer *tok, const char *text) {
    return tok_find(tok, text, strlen(text));
}

const char *tr_tokenizer_piece(const tr_tokenizer *tok, int32_t id, size_t *len) {
    if (id < 0 || id >= tok->n_vocab) return NULL;
    if (len) *len = tok->len[id];
    return piece_of(tok, id);
}

int tr_tokenizer_add_special(tr_tokenizer *tok, const char *text, int32_t *id_out, tr_err *err) {
    size_t n = strlen(text);
    if (n == 0) return tr_fail(err, "add_special: empty token text");
    int32_t id = tok_find(tok, text, n);
    if (id < 0) {
        id = tok_append(tok, text, n, 0.0f, 0, err);
        if (id < 0 || tok_map_insert(tok, id, err)) return -1;
    }
    if (tok_mark_added(tok, id, 1, err) || tok_sort_added(tok, err)) return -1;
    if (id_out) *id_out = id;
    return 0;
}
