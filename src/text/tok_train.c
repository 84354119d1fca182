/* Byte-level BPE training with incremental pair counts.
 *
 * 1. The corpus is split at the special tokens and pre-tokenized by the regex; identical
 *    pre-tokens ("words") are counted once with their frequency.
 * 2. Every adjacent symbol pair of every word is counted (count += word frequency). A pair
 *    table (hash map) holds each pair's count and a list of the words that contain it; a
 *    max-heap holds (count, pair) entries, lazily: an entry whose count is stale is pushed
 *    again with the current count when it reaches the top.
 * 3. Each merge rewrites only the words in the merged pair's list: the word's old pairs are
 *    subtracted, the pair is merged left to right, the new pairs are added. Only pairs that
 *    contain the new token can be new or grow, so only they are pushed on the heap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok_internal.h"

tr_bpe_train_params tr_bpe_train_default_params(void) {
    tr_bpe_train_params p = {0};
    p.vocab_size = 1000;
    p.specials = NULL;
    p.n_specials = -1;
    p.pretok = TR_PRETOK_GPT2;
    p.min_frequency = 2;
    return p;
}

/* ---- words ---------------------------------------------------------------------- */
typedef struct words {
    char *bytes; /* all distinct words back to back */
    size_t n_bytes, cap_bytes;
    int64_t *off;
    int32_t *len;
    int64_t *count;
    uint64_t *hash;
    int32_t n, cap;
    int32_t *slot; /* open addressing, -1 empty */
    uint64_t mask;
    int64_t total;
} words;

/* Grows the array `ptr` to `cap` elements; on failure keeps it as it was (still owned and
 * freed by its table) and clears `ok`. Parallel arrays grow together through it. */
#define GROW(ptr, cap, ok)                                                                 \
    do {                                                                                   \
        void *grown_ = realloc((ptr), (size_t)(cap) * sizeof *(ptr));                      \
        if (grown_)                                                                        \
            (ptr) = grown_;                                                                \
        else                                                                               \
            (ok) = 0;                                                                      \
    } while (0)

static uint64_t hash_word(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    h ^= h >> 31;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

static int words_rehash(words *w, tr_err *err) {
    uint64_t cap = w->slot ? (w->mask + 1) * 2 : 1 << 16;
    int32_t *slot = malloc(cap * sizeof *slot);
    if (!slot) return tr_fail(err, "train: out of memory (word table)");
    memset(slot, 0xff, cap * sizeof *slot);
    for (int32_t i = 0; i < w->n; i++) {
        uint64_t j = w->hash[i] & (cap - 1);
        while (slot[j] >= 0) j = (j + 1) & (cap - 1);
        slot[j] = i;
    }
    free(w->slot);
    w->slot = slot;
    w->mask = cap - 1;
    return 0;
}

static int add_word(const char *s, size_t n, void *ctx, tr_err *err) {
    words *w = ctx;
    w->total++;
    if (n > INT32_MAX / 2) return tr_fail(err, "train: a pre-token of %zu bytes is too long", n);
    uint64_t h = hash_word(s, n), j = h & w->mask;
    for (;;) {
        int32_t i = w->slot[j];
        if (i < 0) break;
        if (w->hash[i] == h && (size_t)w->len[i] == n && memcmp(w->bytes + w->off[i], s, n) == 0) {
            w->count[i]++;
            return 0;
        }
        j = (j + 1) & w->mask;
    }
    if (w->n == w->cap) {
        int32_t cap = w->cap ? w->cap * 2 : 1 << 15;
        int ok = 1;
        GROW(w->off, cap, ok);
        GROW(w->len, cap, ok);
        GROW(w->count, cap, ok);
        GROW(w->hash, cap, ok);
        if (!ok) return tr_fail(err, "train: out of memory (words)");
        w->cap = cap;
    }
    if (w->n_bytes + n > w->cap_bytes) {
        size_t cap = w->cap_bytes ? w->cap_bytes * 2 : 1 << 20;
        while (cap < w->n_bytes + n) cap *= 2;
        char *b = realloc(w->bytes, cap);
        if (!b) return tr_fail(err, "train: out of memory (word bytes)");
        w->bytes = b;
        w->cap_bytes = cap;
    }
    int32_t i = w->n++;
    memcpy(w->bytes + w->n_bytes, s, n);
    w->off[i] = (int64_t)w->n_bytes;
    w->len[i] = (int32_t)n;
    w->count[i] = 1;
    w->hash[i] = h;
    w->n_bytes += n;
    w->slot[j] = i;
    if ((uint64_t)w->n * 2 > w->mask) return words_rehash(w, err);
    return 0;
}

typedef struct count_ctx {
    const tr_tokenizer *tok; /* holds the regex */
    pcre2_match_data *md;
    words *w;
} count_ctx;

static int count_segment(const char *text, size_t len, int32_t id, void *ctx, tr_err *err) {
    count_ctx *c = ctx;
    if (id >= 0) return 0; /* a special token: never learned */
    return tok_pretokenize(c->tok, c->md, text, len, add_word, c->w, err);
}

/* ---- pairs ---------------------------------------------------------------------- */
typedef struct occ {
    int32_t word, next;
} occ;

typedef struct pairs {
    uint64_t *key; /* [n] pair key l<<32|r */
    int64_t *count;
    int32_t *head, *last_word, *stamp;
    int32_t n, cap;
    int32_t *slot; /* open addressing over pair indices */
    uint64_t mask;
    occ *pool;
    int64_t n_pool, cap_pool;
} pairs;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static int pairs_rehash(pairs *p, tr_err *err) {
    uint64_t cap = p->slot ? (p->mask + 1) * 2 : 1 << 16;
    int32_t *slot = malloc(cap * sizeof *slot);
    if (!slot) return tr_fail(err, "train: out of memory (pair table)");
    memset(slot, 0xff, cap * sizeof *slot);
    for (int32_t i = 0; i < p->n; i++) {
        uint64_t j = mix64(p->key[i]) & (cap - 1);
        while (slot[j] >= 0) j = (j + 1) & (cap - 1);
        slot[j] = i;
    }
    free(p->slot);
    p->slot = slot;
    p->mask = cap - 1;
    return 0;
}

/* Index of pair key k, created with count 0 if absent; -1 on out of memory. */
static int32_t pair_get(pairs *p, uint64_t k, tr_err *err) {
    uint64_t j = mix64(k) & p->mask;
    for (;;) {
        int32_t i = p->slot[j];
        if (i < 0) break;
        if (p->key[i] == k) return i;
        j = (j + 1) & p->mask;
    }
    if (p->n == p->cap) {
        int32_t cap = p->cap ? p->cap * 2 : 1 << 16;
        int ok = 1;
        GROW(p->key, cap, ok);
        GROW(p->count, cap, ok);
        GROW(p->head, cap, ok);
        GROW(p->last_word, cap, ok);
        GROW(p->stamp, cap, ok);
        if (!ok) {
            tr_fail(err, "train: out of memory (pairs)");
            return -1;
        }
        p->cap = cap;
    }
    int32_t i = p->n++;
    p->key[i] = k;
    p->count[i] = 0;
    p->head[i] = -1;
    p->last_word[i] = -1;
    p->stamp[i] = -1;
    p->slot[j] = i;
    if ((uint64_t)p->n * 2 > p->mask && pairs_rehash(p, err)) return -1;
    return i;
}

static int32_t pair_find(const pairs *p, uint64_t k) {
    uint64_t j = mix64(k) & p->mask;
    for (;;) {
        int32_t i = p->slot[j];
        if (i < 0 || p->key[i] == k) return i;
        j = (j + 1) & p->mask;
    }
}

static int add_occ(pairs *p, int32_t pi, int32_t word, tr_err *err) {
    if (p->last_word[pi] == word) return 0;
    if (p->n_pool == p->cap_pool) {
        int64_t cap = p->cap_pool ? p->cap_pool * 2 : 1 << 20;
        occ *pool = realloc(p->pool, (size_t)cap * sizeof *pool);
        if (!pool) return tr_fail(err, "train: out of memory (pair occurrences)");
        p->pool = pool;
        p->cap_pool = cap;
    }
    if (p->n_pool >= INT32_MAX) return tr_fail(err, "train: too many pair occurrences");
    p->pool[p->n_pool] = (occ){word, p->head[pi]};
    p->head[pi] = (int32_t)p->n_pool++;
    p->last_word[pi] = word;
    return 0;
}

static uint64_t pkey(int32_t l, int32_t r) { return (uint64_t)(uint32_t)l << 32 | (uint32_t)r; }

/* ---- the max-heap of (count, pair) ------------------------------------------------- */
typedef struct hent {
    int64_t count;
    uint64_t key;
} hent;

typedef struct heap {
    hent *h;
    size_t n, cap;
} heap;

static int higher(const hent *a, const hent *b) {
    return a->count > b->count || (a->count == b->count && a->key < b->key);
}

static int heap_push(heap *h, hent e, tr_err *err) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1 << 16;
        hent *q = realloc(h->h, cap * sizeof *q);
        if (!q) return tr_fail(err, "train: out of memory (heap)");
        h->h = q;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && higher(&e, &h->h[(i - 1) / 2])) {
        h->h[i] = h->h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->h[i] = e;
    return 0;
}

static hent heap_pop(heap *h) {
    hent top = h->h[0], last = h->h[--h->n];
    size_t i = 0;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= h->n) break;
        if (k + 1 < h->n && higher(&h->h[k + 1], &h->h[k])) k++;
        if (!higher(&h->h[k], &last)) break;
        h->h[i] = h->h[k];
        i = k;
    }
    if (h->n) h->h[i] = last;
    return top;
}

/* ---- training ------------------------------------------------------------------- */
typedef struct trainer {
    words w;
    int32_t *sym; /* symbols of all words, at the words' byte offsets */
    int32_t *nsym;
    int32_t *wstamp;
    pairs p;
    heap h;
    int32_t *fresh; /* pairs created or grown by the current merge */
    int32_t n_fresh, cap_fresh;
} trainer;

static void trainer_free(trainer *t) {
    free(t->w.bytes);
    free(t->w.off);
    free(t->w.len);
    free(t->w.count);
    free(t->w.hash);
    free(t->w.slot);
    free(t->sym);
    free(t->nsym);
    free(t->wstamp);
    free(t->p.key);
    free(t->p.count);
    free(t->p.head);
    free(t->p.last_word);
    free(t->p.stamp);
    free(t->p.slot);
    free(t->p.pool);
    free(t->h.h);
    free(t->fresh);
}

static int note_fresh(trainer *t, int32_t pi, int32_t iter, tr_err *err) {
    if (t->p.stamp[pi] == iter) return 0;
    t->p.stamp[pi] = iter;
    if (t->n_fresh == t->cap_fresh) {
        int32_t cap = t->cap_fresh ? t->cap_fresh * 2 : 1024;
        int32_t *f = realloc(t->fresh, (size_t)cap * sizeof *f);
        if (!f) return tr_fail(err, "train: out of memory");
        t->fresh = f;
        t->cap_fresh = cap;
    }
    t->fresh[t->n_fresh++] = pi;
    return 0;
}

/* Applies merge (a, b) -> c to word wi; iter stamps the pairs pushed afterwards. */
static int merge_word(trainer *t, int32_t wi, int32_t a, int32_t b, int32_t c, int32_t iter,
                      tr_err *err) {
    int32_t *s = t->sym + t->w.off[wi];
    int32_t n = t->nsym[wi];
    int64_t f = t->w.count[wi];
    int found = 0;
    for (int32_t i = 0; i + 1 < n && !found; i++) found = s[i] == a && s[i + 1] == b;
    if (!found) return 0; /* a stale occurrence */
    for (int32_t i = 0; i + 1 < n; i++) t->p.count[pair_find(&t->p, pkey(s[i], s[i + 1]))] -= f;
    int32_t j = 0;
    for (int32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[j++] = c;
            i += 2;
        } else {
            s[j++] = s[i++];
        }
    }
    t->nsym[wi] = n = j;
    for (int32_t i = 0; i + 1 < n; i++) {
        int32_t pi = pair_get(&t->p, pkey(s[i], s[i + 1]), err);
        if (pi < 0) return -1;
        t->p.count[pi] += f;
        if (s[i] == c || s[i + 1] == c) {
            if (add_occ(&t->p, pi, wi, err) || note_fresh(t, pi, iter, err)) return -1;
        }
    }
    return 0;
}

int tr_tokenizer_train(tr_tokenizer **out, const char *text, size_t len,
                       const tr_bpe_train_params *params, tr_bpe_train_stats *stats, tr_err *err) {
    *out = NULL;
    tr_bpe_train_params prm = params ? *params : tr_bpe_train_default_params();
    const char *const *specials = prm.specials ? prm.specials : tr_default_specials;
    int n_specials = prm.specials ? prm.n_specials : tr_n_default_specials;
    if (n_specials < 0) n_specials = 0;
    if (prm.pretok != TR_PRETOK_GPT2 && prm.pretok != TR_PRETOK_QWEN2)
        return tr_fail(err, "train: pretok: expected GPT2 or QWEN2");
    if (prm.vocab_size < 256 + n_specials || prm.vocab_size > (1 << 24))
        return tr_fail(err, "train: vocab_size %d: expected 256 bytes + %d specials .. 16777216",
                       prm.vocab_size, n_specials);
    if (prm.min_frequency < 1) prm.min_frequency = 1;
    double t0 = tr_now();
    trainer t = {0};
    tr_tokenizer *tok = tok_new(TR_TOK_BYTE_BPE, err), *sp = tok_new(TR_TOK_BYTE_BPE, err);
    count_ctx cc = {0};
    int rc = -1;
    if (!tok || !sp) goto done;
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        if (tok_append(tok, &c, 1, 0.0f, 0, err) < 0) goto done;
    }
    if (tok_build_map(tok, err) || tok_set_pretok(tok, prm.pretok, NULL, err)) goto done;
    for (int i = 0; i < n_specials; i++) {
        size_t n = specials[i] ? strlen(specials[i]) : 0;
        if (n == 0) {
            tr_fail(err, "train: special token %d is empty", i);
            goto done;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(specials[k], specials[i]) == 0) {
                tr_fail(err, "train: special token \"%s\" is given twice", specials[i]);
                goto done;
            }
        int32_t id = tok_append(sp, specials[i], n, 0.0f, 0, err);
        if (id < 0 || tok_mark_added(sp, id, 1, err)) goto done;
    }
    if (tok_sort_added(sp, err)) goto done;

    /* 1. words with counts */
    cc.tok = tok;
    cc.w = &t.w;
    cc.md = pcre2_match_data_create_from_pattern(tok->re, NULL);
    if (!cc.md || words_rehash(&t.w, err)) {
        if (!cc.md) tr_fail(err, "train: out of memory (regex)");
        goto done;
    }
    if (tok_split_added(sp, text, len, count_segment, &cc, err)) goto done;
    double t1 = tr_now();
    if (prm.verbose)
        fprintf(stderr, "train: %lld words, %d distinct, %.2f s\n", (long long)t.w.total, t.w.n, t1 - t0);

    /* 2. symbols and initial pair counts */
    t.sym = malloc((t.w.n_bytes ? t.w.n_bytes : 1) * sizeof *t.sym);
    t.nsym = malloc(((size_t)t.w.n + 1) * sizeof *t.nsym);
    t.wstamp = malloc(((size_t)t.w.n + 1) * sizeof *t.wstamp);
    if (!t.sym || !t.nsym || !t.wstamp || pairs_rehash(&t.p, err)) {
        tr_fail(err, "train: out of memory (symbols)");
        goto done;
    }
    for (size_t i = 0; i < t.w.n_bytes; i++) t.sym[i] = (unsigned char)t.w.bytes[i];
    for (int32_t wi = 0; wi < t.w.n; wi++) {
        t.nsym[wi] = t.w.len[wi];
        t.wstamp[wi] = -1;
        const int32_t *s = t.sym + t.w.off[wi];
        for (int32_t i = 0; i + 1 < t.w.len[wi]; i++) {
            int32_t pi = pair_get(&t.p, pkey(s[i], s[i + 1]), err);
            if (pi < 0 || add_occ(&t.p, pi, wi, err)) goto done;
            t.p.count[pi] += t.w.count[wi];
        }
    }
    for (int32_t pi = 0; pi < t.p.n; pi++)
        if (heap_push(&t.h, (hent){t.p.count[pi], t.p.key[pi]}, err)) goto done;

    /* 3. merges */
    int32_t target = prm.vocab_size - n_specials;
    int32_t iter = 0;
    while (tok->n_vocab < target && t.h.n > 0) {
        hent e = heap_pop(&t.h);
        int32_t pi = pair_find(&t.p, e.key);
        int64_t now = t.p.count[pi];
        if (now != e.count) { /* stale: counts only fall for pairs without the newest token */
            if (now > 0 && heap_push(&t.h, (hent){now, e.key}, err)) goto done;
            continue;
        }
        if (now < prm.min_frequency) break;
        int32_t a = (int32_t)(e.key >> 32), b = (int32_t)(e.key & 0xffffffffu);
        char buf[2 * 4096];
        size_t na = tok->len[a], nb = tok->len[b];
        char *piece = na + nb <= sizeof buf ? buf : malloc(na + nb);
        if (!piece) {
            tr_fail(err, "train: out of memory");
            goto done;
        }
        memcpy(piece, tok->arena + tok->off[a], na);
        memcpy(piece + na, tok->arena + tok->off[b], nb);
        int32_t c = tok_find(tok, piece, na + nb);
        if (c < 0) {
            c = tok_append(tok, piece, na + nb, 0.0f, 0, err);
            if (c < 0 || tok_map_insert(tok, c, err)) {
                if (piece != buf) free(piece);
                goto done;
            }
        }
        if (piece != buf) free(piece);
        if (tok_add_merge(tok, a, b, c, err)) goto done;
        t.n_fresh = 0;
        for (int32_t o = t.p.head[pi]; o >= 0; o = t.p.pool[o].next) {
            int32_t wi = t.p.pool[o].word;
            if (t.wstamp[wi] == iter) continue;
            t.wstamp[wi] = iter;
            if (merge_word(&t, wi, a, b, c, iter, err)) goto done;
        }
        for (int32_t k = 0; k < t.n_fresh; k++) {
            int32_t q = t.fresh[k];
            if (t.p.count[q] > 0 && heap_push(&t.h, (hent){t.p.count[q], t.p.key[q]}, err)) goto done;
        }
        iter++;
        if (prm.verbose && (iter % 1000 == 0))
            fprintf(stderr, "train: %d merges, vocabulary %d\n", iter, tok->n_vocab);
    }
    double t2 = tr_now();

    /* 4. the special tokens at the end */
    for (int i = 0; i < n_specials; i++) {
        int32_t id;
        if (tr_tokenizer_add_special(tok, specials[i], &id, err)) goto done;
        if (strcmp(specials[i], "<|endoftext|>") == 0) tok->eos = id;
    }
    if (tok_finish(tok, "train", err)) goto done;
    if (stats) {
        stats->n_words = t.w.total;
        stats->n_unique_words = t.w.n;
        stats->n_merges = tok->n_merges;
        stats->seconds_pretokenize = t1 - t0;
        stats->seconds_merge = t2 - t1;
    }
    if (prm.verbose)
        fprintf(stderr, "train: %d merges, vocabulary %d, merging %.2f s\n", tok->n_merges,
                tok->n_vocab, t2 - t1);
    *out = tok;
    tok = NULL;
    rc = 0;
done:
    if (cc.md) pcre2_match_data_free(cc.md);
    trainer_free(&t);
    tr_tokenizer_free(tok);
    tr_tokenizer_free(sp);
    return rc;
}
