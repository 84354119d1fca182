/* Encoding (byte-level BPE by merge rank; llama2.c scored merges) and decoding. */
#include <stdlib.h>
#include <string.h>

#include "text/tok_internal.h"

/* A symbol of the word being merged: a token id in a doubly linked list over positions. */
typedef struct sym {
    int32_t id, prev, next;
} sym;

/* A candidate merge of the adjacent symbols at positions l and r. Min-heap order: key
 * (merge rank, or -score), then the leftmost position. */
typedef struct cand {
    double key;
    int32_t l, r, lid, rid, result;
} cand;

typedef struct enc_ctx {
    const tr_tokenizer *tok;
    tr_ids *out;
    sym *syms;
    size_t cap_syms;
    cand *heap;
    size_t n_heap, cap_heap;
    char *buf; /* scored kind: concatenation of two pieces */
    size_t cap_buf;
} enc_ctx;

static int before(const cand *a, const cand *b) {
    return a->key < b->key || (a->key == b->key && a->l < b->l);
}

static int heap_push(enc_ctx *c, cand e, tr_err *err) {
    if (c->n_heap == c->cap_heap) {
        size_t cap = c->cap_heap ? c->cap_heap * 2 : 64;
        cand *h = realloc(c->heap, cap * sizeof *h);
        if (!h) return tr_fail(err, "out of memory in encode");
        c->heap = h;
        c->cap_heap = cap;
    }
    size_t i = c->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &c->heap[p])) break;
        c->heap[i] = c->heap[p];
        i = p;
    }
    c->heap[i] = e;
    return 0;
}

static cand heap_pop(enc_ctx *c) {
    cand top = c->heap[0], last = c->heap[--c->n_heap];
    size_t i = 0, n = c->n_heap;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= n) break;
        if (k + 1 < n && before(&c->heap[k + 1], &c->heap[k])) k++;
        if (!before(&c->heap[k], &last)) break;
        c->heap[i] = c->heap[k];
        i = k;
    }
    if (n) c->heap[i] = last;
    return top;
}

static int reserve_syms(enc_ctx *c, size_t n, tr_err *err) {
    if (n <= c->cap_syms) return 0;
    size_t cap = c->cap_syms ? c->cap_syms : 256;
    while (cap < n) cap *= 2;
    sym *s = realloc(c->syms, cap * sizeof *s);
    if (!s) return tr_fail(err, "out of memory in encode (%zu symbols)", n);
    c->syms = s;
    c->cap_syms = cap;
    return 0;
}

/* Pushes the merge candidate for the pair starting at position l, if there is one. */
static int try_pair(enc_ctx *c, int32_t l, tr_err *err) {
    const tr_tokenizer *tok = c->tok;
    int32_t r = c->syms[l].next;
    if (r < 0) return 0;
    int32_t lid = c->syms[l].id, rid = c->syms[r].id;
    cand e = {0, l, r, lid, rid, -1};
    if (tok->kind == TR_TOK_BYTE_BPE) {
        int32_t rank;
        if (!tok_pair_lookup(&tok->merges, lid, rid, &rank, &e.result)) return 0;
        e.key = rank;
    } else {
        size_t a = tok->len[lid], b = tok->len[rid];
        memcpy(c->buf, tok->arena + tok->off[lid], a);
        memcpy(c->buf + a, tok->arena + tok->off[rid], b);
        e.result = tok_find(tok, c->buf, a + b);
        /* run.c: best_score starts at -1e10 and only a strictly greater score wins */
        if (e.result < 0 || !(tok->score[e.result] > -1e10f)) return 0;
        e.key = -(double)tok->score[e.result];
    }
    return heap_push(c, e, err);
}

/* Merges the n symbols already in c->syms (linked 0..n-1) and appends the result. */
static int merge_and_emit(enc_ctx *c, int32_t n, tr_err *err) {
    c->n_heap = 0;
    for (int32_t i = 0; i + 1 < n; i++)
        if (try_pair(c, i, err)) return -1;
    while (c->n_heap) {
        cand e = heap_pop(c);
        sym *L = &c->syms[e.l];
        if (L->id != e.lid || L->next != e.r || c->syms[e.r].id != e.rid) continue; /* stale */
        sym *R = &c->syms[e.r];
        L->id = e.result;
        L->next = R->next;
        if (R->next >= 0) c->syms[R->next].prev = e.l;
        R->id = -1;
        R->next = R->prev = -1;
        if (L->prev >= 0 && try_pair(c, L->prev, err)) return -1;
        if (try_pair(c, e.l, err)) return -1;
    }
    for (int32_t i = 0; i >= 0 && n > 0; i = c->syms[i].next)
        if (tr_ids_push(c->out, c->syms[i].id, err)) return -1;
    return 0;
}

static int link_syms(enc_ctx *c, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        c->syms[i].prev = i - 1;
        c->syms[i].next = i + 1 < n ? i + 1 : -1;
    }
    return n;
}

/* Byte-level BPE of one pre-token. */
static int encode_word(const char *word, size_t len, void *ctx, tr_err *err) {
    enc_ctx *c = ctx;
    const tr_tokenizer *tok = c->tok;
    if (len == 1) return tr_ids_push(c->out, tok->byte_id[(unsigned char)word[0]], err);
    if (len > INT32_MAX / 2) return tr_fail(err, "encode: a pre-token of %zu bytes is too long", len);
    if (reserve_syms(c, len, err)) return -1;
    for (size_t i = 0; i < len; i++) c->syms[i].id = tok->byte_id[(unsigned char)word[i]];
    return merge_and_emit(c, link_syms(c, (int32_t)len), err);
}

/* llama2.c run.c encode() of one plain segment: dummy prefix, one symbol per UTF-8
 * character (up to 4 bytes, run.c's grouping), byte fallback, then merges by score. */
static int encode_scored(enc_ctx *c, const char *text, size_t len, int prefix, tr_err *err) {
    const tr_tokenizer *tok = c->tok;
    if (len > INT32_MAX / 8) return tr_fail(err, "encode: text of %zu bytes is too long", len);
    if (reserve_syms(c, len + 1, err)) return -1;
    int32_t n = 0;
    if (prefix && len > 0 && tok->space_id >= 0) c->syms[n++].id = tok->space_id;
    const unsigned char *s = (const unsigned char *)text;
    size_t start = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) run = 0;
        if (run == 0) start = i;
        run++;
        unsigned next = i + 1 < len ? s[i + 1] : 0;
        if ((next & 0xC0) == 0x80 && run < 4) continue;
        int32_t id = tok_find(tok, text + start, run);
        if (id >= 0) {
            c->syms[n++].id = id;
        } else {
            for (size_t k = start; k < start + run; k++) {
                int32_t b = tok->byte_id[s[k]];
                if (b < 0)
                    return tr_fail(err, "encode: byte 0x%02X has no <0x%02X> token in the vocabulary",
                                   s[k], s[k]);
                c->syms[n++].id = b;
            }
        }
        run = 0;
    }
    return merge_and_emit(c, link_syms(c, n), err);
}

typedef struct seg_ctx {
    enc_ctx *enc;
    pcre2_match_data *md;
    int prefix; /* scored kind: dummy prefix still to add */
} seg_ctx;

static int encode_segment(const char *text, size_t len, int32_t id, void *ctx, tr_err *err) {
    seg_ctx *s = ctx;
    if (id >= 0) {
        s->prefix = 0;
        return tr_ids_push(s->enc->out, id, err);
    }
    if (s->enc->tok->kind == TR_TOK_SCORED) {
        int prefix = s->prefix;
        s->prefix = 0;
        return encode_scored(s->enc, text, len, prefix, err);
    }
    if (s->enc->tok->norm == TR_NORM_NFC && tok_nfc_may_change(text, len)) {
        char *nfc;
        size_t n;
        if (tr_text_nfc(text, len, &nfc, &n, err)) return -1;
        int rc = tok_pretokenize(s->enc->tok, s->md, nfc, n, encode_word, s->enc, err);
        free(nfc);
        return rc;
    }
    return tok_pretokenize(s->enc->tok, s->md, text, len, encode_word, s->enc, err);
}

int tr_tokenizer_encode(const tr_tokenizer *tok, const char *text, size_t len, int flags,
                        tr_ids *ids, tr_err *err) {
    size_t n0 = ids->n;
    enc_ctx c = {.tok = tok, .out = ids};
    seg_ctx s = {.enc = &c, .prefix = tok->dummy_prefix && !(flags & TR_ENC_NO_PREFIX)};
    int rc = -1;
    if (tok->kind == TR_TOK_SCORED) {
        c.cap_buf = 2 * (size_t)tok->max_len + 8;
        c.buf = malloc(c.cap_buf);
        if (!c.buf) {
            tr_fail(err, "out of memory in encode");
            goto done;
        }
    }
    if (tok->re) {
        s.md = pcre2_match_data_create_from_pattern(tok->re, NULL);
        if (!s.md) {
            tr_fail(err, "out of memory in encode (regex match data)");
            goto done;
        }
    }
    if (flags & TR_ENC_BOS) {
        if (tok->bos < 0) {
            tr_fail(err, "encode: this tokenizer has no bos token");
            goto done;
        }
        if (tr_ids_push(ids, tok->bos, err)) goto done;
    }
    if (flags & TR_ENC_ALLOW_SPECIAL) {
        if (tok_split_added(tok, text, len, encode_segment, &s, err)) goto done;
    } else if (len > 0 && encode_segment(text, len, -1, &s, err)) {
        goto done;
    }
    if (flags & TR_ENC_EOS) {
        if (tok->eos < 0) {
            tr_fail(err, "encode: this tokenizer has no eos token");
            goto done;
        }
        if (tr_ids_push(ids, tok->eos, err)) goto done;
    }
    rc = 0;
done:
    if (rc) ids->n = n0;
    if (s.md) pcre2_match_data_free(s.md);
    free(c.syms);
    free(c.heap);
    free(c.buf);
    return rc;
}

/* ---- decoding ------------------------------------------------------------------- */
static const unsigned char all_bytes[256] = {
#define B4(x) x, x + 1, x + 2, x + 3
#define B16(x) B4(x), B4(x + 4), B4(x + 8), B4(x + 12)
#define B64(x) B16(x), B16(x + 16), B16(x + 32), B16(x + 48)
    B64(0), B64(64), B64(128), B64(192)
#undef B4
#undef B16
#undef B64
};

const char *tr_tokenizer_token_bytes(const tr_tokenizer *tok, int32_t prev, int32_t id,
                                     size_t *len) {
    if (id < 0 || id >= tok->n_vocab) return NULL;
    const char *p = tok->arena + tok->off[id];
    size_t n = tok->len[id];
    if (tok->kind == TR_TOK_SCORED) {
        if (prev >= 0 && prev == tok->bos && n > 0 && p[0] == ' ') { /* run.c: strip after BOS */
            p++;
            n--;
        }
        if (tok->byteval[id] >= 0) {
            p = (const char *)&all_bytes[tok->byteval[id]];
            n = 1;
        }
    }
    *len = n;
    return p;
}

int tr_tokenizer_decode(const tr_tokenizer *tok, const int32_t *ids, size_t n, int flags,
                        char **text, size_t *len, tr_err *err) {
    *text = NULL;
    size_t cap = 1; /* a piece never grows in decoding (a <0xNN> piece gives one byte) */
    for (size_t k = 0; k < n; k++) {
        if (ids[k] < 0 || ids[k] >= tok->n_vocab)
            return tr_fail(err, "decode: token %zu: id %d out of range [0, %d)", k, ids[k],
                           tok->n_vocab);
        cap += tok->len[ids[k]];
    }
    char *out = malloc(cap);
    if (!out) return tr_fail(err, "out of memory decoding %zu tokens", n);
    size_t total = 0;
    int32_t prev = -1;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (!((flags & TR_DEC_SKIP_SPECIAL) && (tok->attr[id] & TOK_SPECIAL))) {
            size_t k = 0;
            const char *p = tr_tokenizer_token_bytes(tok, prev, id, &k);
            memcpy(out + total, p, k);
            total += k;
        }
        prev = id;
    }
    out[total] = '\0';
    *text = out;
    if (len) *len = total;
    return 0;
}

/* ---- streaming decoder ---------------------------------------------------------- */
/* Number of bytes at the end of s[0..n) that start a valid UTF-8 character still missing
 * bytes (0 if the end is complete or can never complete). */
static int incomplete_tail(const unsigned char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned c = s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation: look further back */
        size_t need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (need <= back) return 0;
        if (back >= 2) {
            unsigned d = s[n - back + 1];
            if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d > 0x9F) || (c == 0xF0 && d < 0x90) ||
                (c == 0xF4 && d > 0x8F))
                return 0;
        }
        return (int)back;
    }
    return 0;
}

int tr_decoder_init(tr_decoder *dec, const tr_tokenizer *tok, int flags, tr_err *err) {
    memset(dec, 0, sizeof *dec);
    dec->tok = tok;
    dec->flags = flags;
    dec->prev = -1;
    dec->cap = (size_t)tok->max_len + 8;
    dec->buf = malloc(dec->cap);
    if (!dec->buf) return tr_fail(err, "out of memory for a decoder");
    return 0;
}

int tr_decoder_push(tr_decoder *dec, int32_t id, const char **out, size_t *len, tr_err *err) {
    const tr_tokenizer *tok = dec->tok;
    *out = dec->buf;
    *len = 0;
    if (id < 0 || id >= tok->n_vocab)
        return tr_fail(err, "decode: id %d out of range [0, %d)", id, tok->n_vocab);
    int32_t prev = dec->prev;
    dec->prev = id;
    if ((dec->flags & TR_DEC_SKIP_SPECIAL) && (tok->attr[id] & TOK_SPECIAL)) return 0;
    size_t k = 0;
    const char *p = tr_tokenizer_token_bytes(tok, prev, id, &k);
    if (k + 8 > dec->cap) { /* the vocabulary grew (tr_tokenizer_add_special) */
        char *b = realloc(dec->buf, k + 8);
        if (!b) return tr_fail(err, "out of memory in the decoder");
        dec->buf = b;
        dec->cap = k + 8;
        *out = b;
    }
    size_t n = (size_t)dec->n_pending;
    memcpy(dec->buf, dec->pending, n);
    memcpy(dec->buf + n, p, k);
    n += k;
    int hold = incomplete_tail((const unsigned char *)dec->buf, n);
    memcpy(dec->pending, dec->buf + n - (size_t)hold, (size_t)hold);
    dec->n_pending = hold;
    *len = n - (size_t)hold;
    return 0;
}

void tr_decoder_flush(tr_decoder *dec, const char **out, size_t *len) {
    memcpy(dec->buf, dec->pending, (size_t)dec->n_pending);
    *out = dec->buf;
    *len = (size_t)dec->n_pending;
    dec->n_pending = 0;
}

void tr_decoder_free(tr_decoder *dec) {
    if (!dec) return;
    free(dec->buf);
    dec->buf = NULL;
}
