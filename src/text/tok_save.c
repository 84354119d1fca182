/* Writing tokenizers: tinyr1's own format and Hugging Face vocab.json + merges.txt. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok_internal.h"

/* tinyr1 tokenizer file, version 1 (little-endian; docs/tokenizer.md):
 *   header (64 bytes): "TR1TOKEN", u32 version, u32 kind, u32 pretok, u32 n_vocab,
 *     u32 n_merges, u32 n_added, i32 bos, i32 eos, u32 flags (1 add_bos, 2 dummy prefix, 4 NFC),
 *     u32 pattern_len, 16 reserved zero bytes
 *   pattern: pattern_len bytes (the regex source, no NUL)
 *   n_vocab tokens: u32 len, u32 attr (1 added, 2 special), f32 score, len bytes
 *   n_merges merges in rank order: i32 left, i32 right, i32 result */
typedef struct wbuf {
    char *p;
    size_t n, cap;
    int failed;
} wbuf;

static void put(wbuf *w, const void *src, size_t n) {
    if (w->failed) return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 1 << 16;
        while (cap < w->n + n) cap *= 2;
        char *q = realloc(w->p, cap);
        if (!q) {
            w->failed = 1;
            return;
        }
        w->p = q;
        w->cap = cap;
    }
    memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void put_u32(wbuf *w, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(w, b, 4);
}

static void put_i32(wbuf *w, int32_t v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(w, u);
}

int tr_tokenizer_serialize(const tr_tokenizer *tok, char **data, size_t *len, tr_err *err) {
    wbuf w = {0};
    const char *pattern = tok->pattern ? tok->pattern : "";
    uint32_t flags = (tok->add_bos ? 1u : 0u) | (tok->dummy_prefix ? 2u : 0u) |
                     (tok->norm == TR_NORM_NFC ? 4u : 0u);
    put(&w, "TR1TOKEN", 8);
    put_u32(&w, 1);
    put_u32(&w, (uint32_t)tok->kind);
    put_u32(&w, (uint32_t)tok->pretok);
    put_u32(&w, (uint32_t)tok->n_vocab);
    put_u32(&w, (uint32_t)tok->n_merges);
    put_u32(&w, (uint32_t)tok->n_added);
    put_i32(&w, tok->bos);
    put_i32(&w, tok->eos);
    put_u32(&w, flags);
    put_u32(&w, (uint32_t)strlen(pattern));
    for (int i = 0; i < 4; i++) put_u32(&w, 0);
    put(&w, pattern, strlen(pattern));
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint32_t score;
        memcpy(&score, &tok->score[id], 4);
        put_u32(&w, tok->len[id]);
        put_u32(&w, tok->attr[id] & (TOK_ADDED | TOK_SPECIAL));
        put_u32(&w, score);
        put(&w, tok->arena + tok->off[id], tok->len[id]);
    }
    for (int32_t r = 0; r < tok->n_merges; r++) {
        int32_t rank, result;
        tok_pair_lookup(&tok->merges, tok->merge_l[r], tok->merge_r[r], &rank, &result);
        put_i32(&w, tok->merge_l[r]);
        put_i32(&w, tok->merge_r[r]);
        put_i32(&w, result);
    }
    if (w.failed) {
        free(w.p);
        return tr_fail(err, "out of memory serialising a tokenizer");
    }
    *data = w.p;
    *len = w.n;
    return 0;
}

int tr_tokenizer_save(const tr_tokenizer *tok, const char *path, tr_err *err) {
    char *data;
    size_t len;
    if (tr_tokenizer_serialize(tok, &data, &len, err)) return -1;
    int rc = tr_write_file_atomic(path, data, len, err);
    free(data);
    return rc;
}

static int write_text(const char *dir, const char *file, const char *text, size_t len, tr_err *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return tr_fail(err, "%s: path too long", dir);
    return tr_write_file_atomic(path, text, len, err);
}

int tr_tokenizer_save_hf(const tr_tokenizer *tok, const char *dir, tr_err *err) {
    if (tok->kind != TR_TOK_BYTE_BPE)
        return tr_fail(err, "save_hf: only byte-level BPE tokenizers have a vocab.json form");
    if (tok->pretok == TR_PRETOK_CUSTOM)
        return tr_fail(err, "save_hf: a custom pre-tokenizer regex has no vocab.json form; "
                            "use tinyr1's format");
    if (tr_mkdirs(dir, err)) return -1;
    char *buf = malloc(2 * (size_t)tok->max_len + 2);
    cJSON *vocab = cJSON_CreateObject(), *cfg = cJSON_CreateObject(), *dec = cJSON_CreateObject();
    char *text = NULL;
    wbuf m = {0};
    int rc = -1;
    if (!buf || !vocab || !cfg || !dec) {
        tr_fail(err, "out of memory");
        goto done;
    }
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        size_t k = tok_bytes_to_unicode(tok->arena + tok->off[id], tok->len[id], buf);
        buf[k] = '\0';
        if (cJSON_GetObjectItemCaseSensitive(vocab, buf)) continue; /* a duplicate piece */
        cJSON_AddNumberToObject(vocab, buf, id);
    }
    text = cJSON_PrintUnformatted(vocab);
    if (!text || write_text(dir, "vocab.json", text, strlen(text), err)) goto done_text;
    free(text);
    text = NULL;
    put(&m, "#version: 0.2\n", 14);
    for (int32_t r = 0; r < tok->n_merges; r++) {
        int32_t l = tok->merge_l[r], rr = tok->merge_r[r];
        size_t k = tok_bytes_to_unicode(tok->arena + tok->off[l], tok->len[l], buf);
        put(&m, buf, k);
        put(&m, " ", 1);
        k = tok_bytes_to_unicode(tok->arena + tok->off[rr], tok->len[rr], buf);
        put(&m, buf, k);
        put(&m, "\n", 1);
    }
    if (m.failed) {
        tr_fail(err, "out of memory");
        goto done;
    }
    if (write_text(dir, "merges.txt", m.p ? m.p : "", m.n, err)) goto done;
    cJSON_AddStringToObject(cfg, "tokenizer_class",
                            tok->pretok == TR_PRETOK_QWEN2 ? "Qwen2Tokenizer" : "GPT2Tokenizer");
    cJSON_AddBoolToObject(cfg, "add_prefix_space", 0);
    cJSON_AddBoolToObject(cfg, "add_bos_token", tok->add_bos);
    for (int i = 0; i < tok->n_added; i++) {
        int32_t id = tok->added[i];
        char key[16], *content = malloc((size_t)tok->len[id] + 1);
        cJSON *e = cJSON_CreateObject();
        if (!content || !e) {
            free(content);
            cJSON_Delete(e);
            tr_fail(err, "out of memory");
            goto done;
        }
        memcpy(content, tok->arena + tok->off[id], tok->len[id]);
        content[tok->len[id]] = '\0';
        cJSON_AddStringToObject(e, "content", content);
        cJSON_AddBoolToObject(e, "special", (tok->attr[id] & TOK_SPECIAL) != 0);
        snprintf(key, sizeof key, "%d", id);
        cJSON_AddItemToObject(dec, key, e);
        free(content);
    }
    cJSON_AddItemToObject(cfg, "added_tokens_decoder", dec);
    dec = NULL;
    for (int r = 0; r < 2; r++) {
        int32_t id = r == 0 ? tok->bos : tok->eos;
        const char *key = r == 0 ? "bos_token" : "eos_token";
        if (id < 0) {
            cJSON_AddNullToObject(cfg, key);
            continue;
        }
        memcpy(buf, tok->arena + tok->off[id], tok->len[id]);
        buf[tok->len[id]] = '\0';
        cJSON_AddStringToObject(cfg, key, buf);
    }
    text = cJSON_Print(cfg);
    if (!text || write_text(dir, "tokenizer_config.json", text, strlen(text), err)) goto done_text;
    rc = 0;
    goto done;
done_text:
    if (!text) tr_fail(err, "out of memory printing JSON");
done:
    free(text);
    free(m.p);
    free(buf);
    cJSON_Delete(vocab);
    cJSON_Delete(cfg);
    cJSON_Delete(dec);
    return rc;
}
