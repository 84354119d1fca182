/* Tokenizer files: tinyr1's own format, Hugging Face vocab.json + merges.txt (+
 * tokenizer_config.json), tokenizer.json, llama2.c tokenizer.bin; format detection. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/tok_internal.h"

#define TR1TOK_MAGIC "TR1TOKEN"
#define TR1TOK_VERSION 1u
#define TR1TOK_HEADER 64
enum { TR1TOK_ADD_BOS = 1, TR1TOK_DUMMY_PREFIX = 2, TR1TOK_NFC = 4 };

/* ---- little-endian reading with bounds --------------------------------------------- */
typedef struct rd {
    const unsigned char *p;
    size_t n, at;
} rd;

static int rd_u32(rd *r, uint32_t *v) {
    if (r->n - r->at < 4 || r->at > r->n) return -1;
    const unsigned char *q = r->p + r->at;
    *v = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    r->at += 4;
    return 0;
}

static int rd_i32(rd *r, int32_t *v) {
    uint32_t u;
    if (rd_u32(r, &u)) return -1;
    memcpy(v, &u, 4);
    return 0;
}

static int rd_f32(rd *r, float *v) {
    uint32_t u;
    if (rd_u32(r, &u)) return -1;
    memcpy(v, &u, 4);
    return 0;
}

/* ---- tinyr1 format ------------------------------------------------------------------ */
static int load_tinyr1(tr_tokenizer **out, const char *data, size_t len, const char *name,
                       tr_err *err) {
    rd r = {(const unsigned char *)data, len, 0};
    if (len < TR1TOK_HEADER || memcmp(data, TR1TOK_MAGIC, 8) != 0)
        return tr_fail(err, "%s: header: expected the magic \"" TR1TOK_MAGIC "\" and %d header bytes",
                       name, TR1TOK_HEADER);
    r.at = 8;
    uint32_t version, kind, pretok, n_vocab, n_merges, n_added, flags, pattern_len;
    int32_t bos, eos;
    rd_u32(&r, &version);
    rd_u32(&r, &kind);
    rd_u32(&r, &pretok);
    rd_u32(&r, &n_vocab);
    rd_u32(&r, &n_merges);
    rd_u32(&r, &n_added);
    rd_i32(&r, &bos);
    rd_i32(&r, &eos);
    rd_u32(&r, &flags);
    rd_u32(&r, &pattern_len);
    if (version != TR1TOK_VERSION)
        return tr_fail(err, "%s: version: got %u, expected %u", name, version, TR1TOK_VERSION);
    if (kind > TR_TOK_SCORED)
        return tr_fail(err, "%s: kind: got %u, expected 0 (byte-level BPE) or 1 (scored)", name, kind);
    if (pretok > TR_PRETOK_CUSTOM)
        return tr_fail(err, "%s: pretok: got %u, expected 0..3", name, pretok);
    if (flags & ~(uint32_t)(TR1TOK_ADD_BOS | TR1TOK_DUMMY_PREFIX | TR1TOK_NFC))
        return tr_fail(err, "%s: flags: got %u, expected a combination of 1 (add bos), 2 (dummy "
                            "prefix) and 4 (NFC normalizer)",
                       name, flags);
    if ((flags & TR1TOK_NFC) && kind != TR_TOK_BYTE_BPE)
        return tr_fail(err, "%s: flags: 4 (NFC normalizer) needs kind 0 (byte-level BPE)", name);
    if (n_vocab == 0 || n_vocab > (uint32_t)INT32_MAX / 2 || n_vocab > len / 12)
        return tr_fail(err, "%s: n_vocab: got %u, expected 1..%zu for a file of %zu bytes", name,
                       n_vocab, len / 12, len);
    if (n_merges > (uint32_t)INT32_MAX / 2 || n_merges > len / 12)
        return tr_fail(err, "%s: n_merges: got %u, expected at most %zu for a file of %zu bytes",
                       name, n_merges, len / 12, len);
    if (bos < -1 || bos >= (int32_t)n_vocab || eos < -1 || eos >= (int32_t)n_vocab)
        return tr_fail(err, "%s: bos/eos: got %d/%d, expected -1 or an id below %u", name, bos, eos,
                       n_vocab);
    if (pattern_len > len - TR1TOK_HEADER)
        return tr_fail(err, "%s: pattern_len: got %u, expected at most %zu", name, pattern_len,
                       len - TR1TOK_HEADER);
    r.at = TR1TOK_HEADER;
    char *pattern = malloc((size_t)pattern_len + 1);
    if (!pattern) return tr_fail(err, "%s: out of memory", name);
    memcpy(pattern, data + r.at, pattern_len);
    pattern[pattern_len] = '\0';
    r.at += pattern_len;
    tr_tokenizer *tok = tok_new((tr_tokenizer_kind)kind, err);
    if (!tok) {
        free(pattern);
        return -1;
    }
    if (strlen(pattern) != pattern_len) {
        tr_fail(err, "%s: pattern: contains a NUL byte", name);
        goto fail;
    }
    if (kind == TR_TOK_SCORED && pretok != TR_PRETOK_NONE) {
        tr_fail(err, "%s: pretok: got %u, expected 0 (scored tokenizers have no regex)", name, pretok);
        goto fail;
    }
    if (tok_set_pretok(tok, (tr_pretok)pretok, pretok == TR_PRETOK_CUSTOM ? pattern : NULL, err)) {
        tr_fail_context(err, "%s: pattern", name);
        goto fail;
    }
    uint32_t seen_added = 0;
    for (uint32_t i = 0; i < n_vocab; i++) {
        uint32_t plen, attr;
        float score;
        if (rd_u32(&r, &plen) || rd_u32(&r, &attr) || rd_f32(&r, &score) || plen > len - r.at) {
            tr_fail(err, "%s: token %u: record runs past the end of the file (%zu bytes)", name, i,
                    len);
            goto fail;
        }
        if (attr & ~(uint32_t)(TOK_ADDED | TOK_SPECIAL)) {
            tr_fail(err, "%s: token %u: attr %u, expected a combination of 1 (added) and 2 (special)",
                    name, i, attr);
            goto fail;
        }
        if (isnan(score)) { /* infinities are allowed, as in llama2.c files */
            tr_fail(err, "%s: token %u: score is NaN", name, i);
            goto fail;
        }
        if (tok_append(tok, data + r.at, plen, score, 0, err) < 0) goto fail;
        r.at += plen;
        if (attr & TOK_ADDED) {
            seen_added++;
            if (tok_mark_added(tok, (int32_t)i, (attr & TOK_SPECIAL) != 0, err)) {
                tr_fail_context(err, "%s: token %u", name, i);
                goto fail;
            }
        } else if (attr & TOK_SPECIAL) {
            tok->attr[i] |= TOK_SPECIAL;
        }
    }
    if (seen_added != n_added) {
        tr_fail(err, "%s: n_added: header says %u, the tokens marked added are %u", name, n_added,
                seen_added);
        goto fail;
    }
    if (tok_build_map(tok, err)) goto fail;
    for (uint32_t i = 0; i < n_merges; i++) {
        int32_t l, rr, res;
        if (rd_i32(&r, &l) || rd_i32(&r, &rr) || rd_i32(&r, &res)) {
            tr_fail(err, "%s: merge %u: runs past the end of the file", name, i);
            goto fail;
        }
        if (l < 0 || rr < 0 || res < 0 || l >= (int32_t)n_vocab || rr >= (int32_t)n_vocab ||
            res >= (int32_t)n_vocab) {
            tr_fail(err, "%s: merge %u: ids %d %d -> %d, expected ids below %u", name, i, l, rr, res,
                    n_vocab);
            goto fail;
        }
        if (tok->len[res] != tok->len[l] + tok->len[rr] ||
            memcmp(tok->arena + tok->off[res], tok->arena + tok->off[l], tok->len[l]) != 0 ||
            memcmp(tok->arena + tok->off[res] + tok->len[l], tok->arena + tok->off[rr], tok->len[rr]) != 0) {
            tr_fail(err, "%s: merge %u: token %d is not the concatenation of tokens %d and %d", name,
                    i, res, l, rr);
            goto fail;
        }
        if (tok_add_merge(tok, l, rr, res, err)) goto fail;
    }
    if (r.at != len) {
        tr_fail(err, "%s: %zu bytes after the last merge, expected the end of the file", name,
                len - r.at);
        goto fail;
    }
    tok->bos = bos;
    tok->eos = eos;
    tok->add_bos = (flags & TR1TOK_ADD_BOS) != 0;
    tok->dummy_prefix = (flags & TR1TOK_DUMMY_PREFIX) != 0;
    tok->norm = (flags & TR1TOK_NFC) ? TR_NORM_NFC : TR_NORM_NONE;
    if (tok_finish(tok, name, err)) goto fail;
    free(pattern);
    *out = tok;
    return 0;
fail:
    free(pattern);
    tr_tokenizer_free(tok);
    return -1;
}

/* ---- llama2.c tokenizer.bin --------------------------------------------------------- */
static int load_llama2c(tr_tokenizer **out, const char *data, size_t len, const char *name,
                        tr_err *err) {
    rd r = {(const unsigned char *)data, len, 0};
    int32_t max_len;
    if (rd_i32(&r, &max_len) || max_len < 1 || (size_t)max_len > len)
        return tr_fail(err, "%s: max_token_length: expected an int32 in 1..%zu (llama2.c tokenizer)",
                       name, len);
    tr_tokenizer *tok = tok_new(TR_TOK_SCORED, err);
    if (!tok) return -1;
    for (int32_t i = 0; r.at < len; i++) {
        float score;
        int32_t n;
        if (rd_f32(&r, &score) || rd_i32(&r, &n)) {
            tr_fail(err, "%s: token %d: expected a float32 score and an int32 length, the file ends",
                    name, i);
            goto fail;
        }
        if (n < 0 || n > max_len || (size_t)n > len - r.at) {
            tr_fail(err, "%s: token %d: length %d, expected 0..%d within the file", name, i, n,
                    max_len);
            goto fail;
        }
        if (isnan(score)) {
            tr_fail(err, "%s: token %d: score is NaN", name, i);
            goto fail;
        }
        if (tok_append(tok, data + r.at, (size_t)n, score, 0, err) < 0) goto fail;
        r.at += (size_t)n;
    }
    if (tok->n_vocab < 3) {
        tr_fail(err, "%s: %d tokens, expected at least 3 (<unk>, <s>, </s>)", name, tok->n_vocab);
        goto fail;
    }
    for (int i = 0; i < 3; i++) tok->attr[i] |= TOK_SPECIAL;
    tok->bos = 1;
    tok->eos = 2;
    tok->add_bos = 1;
    tok->dummy_prefix = 1;
    if (tok_finish(tok, name, err)) goto fail;
    *out = tok;
    return 0;
fail:
    tr_tokenizer_free(tok);
    return -1;
}

/* ---- JSON helpers ------------------------------------------------------------------- */
static cJSON *parse_json(const char *data, size_t len, const char *name, tr_err *err) {
    cJSON *j = cJSON_ParseWithLength(data, len);
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= data && at <= data + len ? (size_t)(at - data) : 0;
        tr_fail(err, "%s: invalid JSON near byte %zu", name, off);
    }
    return j;
}

static int json_id(const cJSON *v, int32_t *id) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < (double)(INT32_MAX / 2)) || d != floor(d)) return -1;
    *id = (int32_t)d;
    return 0;
}

/* A token named by a string or by {"content": "..."}; NULL if absent/null. */
static const char *json_token_text(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return c->valuestring;
    }
    return NULL;
}

/* Reads a vocab object {"token": id, ...} (byte-level alphabet) into tok in id order. */
static int read_vocab(tr_tokenizer *tok, const cJSON *vocab, const char *name, const char *field,
                      tr_err *err) {
    if (!cJSON_IsObject(vocab)) return tr_fail(err, "%s: %s: expected an object {token: id}", name, field);
    int n = cJSON_GetArraySize(vocab);
    if (n <= 0) return tr_fail(err, "%s: %s: empty, expected at least the 256 byte tokens", name, field);
    const cJSON **by_id = calloc((size_t)n, sizeof *by_id);
    size_t longest = 0;
    if (!by_id) return tr_fail(err, "%s: out of memory", name);
    int rc = -1;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int32_t id;
        if (json_id(e, &id) || id >= n) {
            tr_fail(err, "%s: %s: \"%.80s\": expected an integer id in 0..%d (the ids must be 0..n-1)",
                    name, field, e->string ? e->string : "", n - 1);
            goto done;
        }
        if (by_id[id]) {
            tr_fail(err, "%s: %s: id %d appears twice (\"%.80s\" and \"%.80s\")", name, field, id,
                    by_id[id]->string, e->string ? e->string : "");
            goto done;
        }
        by_id[id] = e;
        size_t k = e->string ? strlen(e->string) : 0;
        if (k > longest) longest = k;
    }
    char *buf = malloc(longest + 1);
    if (!buf) {
        tr_fail(err, "%s: out of memory", name);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const char *s = by_id[i]->string ? by_id[i]->string : "";
        size_t k = tok_unicode_to_bytes(s, strlen(s), buf);
        if (tok_append(tok, buf, k, 0.0f, 0, err) < 0) {
            free(buf);
            goto done;
        }
    }
    free(buf);
    rc = tok_build_map(tok, err);
done:
    free(by_id);
    return rc;
}

/* Adds/marks one added token (id, literal content) as tokenizer_config.json or
 * tokenizer.json's added_tokens give it. Ids must extend the vocabulary without gaps. */
static int add_added(tr_tokenizer *tok, int32_t id, const char *content, int special,
                     const char *name, const char *field, tr_err *err) {
    size_t n = strlen(content);
    if (n == 0) return tr_fail(err, "%s: %s: id %d: empty content", name, field, id);
    if (id < tok->n_vocab) {
        if (tok->len[id] != n || memcmp(tok->arena + tok->off[id], content, n) != 0)
            return tr_fail(err, "%s: %s: id %d is \"%.80s\" but the vocabulary has another token there",
                           name, field, id, content);
    } else if (id == tok->n_vocab) {
        if (tok_append(tok, content, n, 0.0f, 0, err) < 0 || tok_map_insert(tok, id, err)) return -1;
    } else {
        return tr_fail(err, "%s: %s: id %d leaves a gap, expected the next id %d", name, field, id,
                       tok->n_vocab);
    }
    return tok_mark_added(tok, id, special, err);
}

typedef struct added_tok {
    int32_t id;
    int special;
    const char *content;
} added_tok;

static int cmp_added(const void *a, const void *b) {
    int32_t x = ((const added_tok *)a)->id, y = ((const added_tok *)b)->id;
    return x < y ? -1 : x > y;
}

static int add_sorted(tr_tokenizer *tok, added_tok *list, int n, const char *name,
                      const char *field, tr_err *err) {
    qsort(list, (size_t)n, sizeof *list, cmp_added);
    for (int i = 0; i < n; i++)
        if (add_added(tok, list[i].id, list[i].content, list[i].special, name, field, err)) return -1;
    return 0;
}

/* tokenizer_config.json: added_tokens_decoder, bos_token, eos_token, add_bos_token,
 * tokenizer_class (Qwen2Tokenizer selects the Qwen2 regex when *pretok is not fixed). */
static int apply_config(tr_tokenizer *tok, const char *data, size_t len, const char *name,
                        tr_pretok *pretok, tr_err *err) {
    cJSON *j = parse_json(data, len, name, err);
    if (!j) return -1;
    int rc = -1;
    added_tok *list = NULL;
    if (!cJSON_IsObject(j)) {
        tr_fail(err, "%s: expected a JSON object", name);
        goto done;
    }
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(j, "added_tokens_decoder");
    if (dec && !cJSON_IsNull(dec)) {
        if (!cJSON_IsObject(dec)) {
            tr_fail(err, "%s: added_tokens_decoder: expected an object {id: {content, special}}", name);
            goto done;
        }
        int n = cJSON_GetArraySize(dec), k = 0;
        list = calloc((size_t)n + 1, sizeof *list);
        if (!list) {
            tr_fail(err, "%s: out of memory", name);
            goto done;
        }
        for (const cJSON *e = dec->child; e; e = e->next) {
            char *end = NULL;
            long id = e->string ? strtol(e->string, &end, 10) : -1;
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "special");
            if (!e->string || !*e->string || *end || id < 0 || id >= INT32_MAX / 2 || !cJSON_IsString(c)) {
                tr_fail(err, "%s: added_tokens_decoder: \"%.40s\": expected an id key and a string content",
                        name, e->string ? e->string : "");
                goto done;
            }
            list[k++] = (added_tok){(int32_t)id, sp ? cJSON_IsTrue(sp) : 1, c->valuestring};
        }
        if (add_sorted(tok, list, k, name, "added_tokens_decoder", err)) goto done;
    }
    static const char *const roles[2] = {"bos_token", "eos_token"};
    for (int r = 0; r < 2; r++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, roles[r]);
        if (!v || cJSON_IsNull(v)) continue;
        const char *text = json_token_text(v);
        int32_t id = text ? tok_find(tok, text, strlen(text)) : -1;
        if (id < 0) {
            tr_fail(err, "%s: %s: expected the text of a token of the vocabulary", name, roles[r]);
            goto done;
        }
        if (r == 0) tok->bos = id;
        else tok->eos = id;
    }
    const cJSON *ab = cJSON_GetObjectItemCaseSensitive(j, "add_bos_token");
    if (ab) tok->add_bos = cJSON_IsTrue(ab);
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "tokenizer_class");
    if (pretok && cJSON_IsString(cls) && strncmp(cls->valuestring, "Qwen2", 5) == 0) {
        /* transformers' Qwen2Tokenizer normalises to NFC (and so does the tokenizers-library
         * Tokenizer that Qwen2TokenizerFast builds from these files) */
        *pretok = TR_PRETOK_QWEN2;
        tok->norm = TR_NORM_NFC;
    }
    rc = 0;
done:
    free(list);
    cJSON_Delete(j);
    return rc;
}

/* Without a config: GPT-2's convention, <|endoftext|> is the special end token. */
static int default_specials(tr_tokenizer *tok, tr_err *err) {
    int32_t id = tok_find(tok, "<|endoftext|>", 13);
    if (id >= 0) {
        if (tok_mark_added(tok, id, 1, err)) return -1;
        if (tok->eos < 0) tok->eos = id;
    }
    return 0;
}

/* Resolves one merge given as two byte-level strings. */
static int add_merge_strings(tr_tokenizer *tok, const char *a, size_t na, const char *b, size_t nb,
                             char *buf, const char *name, size_t line, tr_err *err) {
    size_t ka = tok_unicode_to_bytes(a, na, buf);
    int32_t l = tok_find(tok, buf, ka);
    size_t kb = tok_unicode_to_bytes(b, nb, buf + ka);
    int32_t r = tok_find(tok, buf + ka, kb);
    int32_t res = tok_find(tok, buf, ka + kb);
    if (l < 0 || r < 0 || res < 0)
        return tr_fail(err, "%s:%zu: merge \"%.*s %.*s\": %s is not in the vocabulary", name, line,
                       (int)(na > 60 ? 60 : na), a, (int)(nb > 60 ? 60 : nb), b,
                       l < 0 ? "the left token" : r < 0 ? "the right token" : "the merged token");
    return tok_add_merge(tok, l, r, res, err);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int read_merges_txt(tr_tokenizer *tok, const char *data, size_t len, const char *name,
                           tr_err *err) {
    char *buf = malloc(len + 1);
    if (!buf) return tr_fail(err, "%s: out of memory", name);
    size_t line = 0, i = 0;
    int rc = -1;
    while (i < len) {
        size_t s = i, e;
        while (i < len && data[i] != '\n') i++;
        e = i;
        if (i < len) i++;
        line++;
        while (s < e && is_ws(data[s])) s++;
        while (e > s && is_ws(data[e - 1])) e--;
        if (s == e) continue;
        if (line == 1 && e - s >= 9 && memcmp(data + s, "#version:", 9) == 0) continue;
        const char *sp = memchr(data + s, ' ', e - s);
        if (!sp || sp == data + s || sp + 1 == data + e || memchr(sp + 1, ' ', (size_t)(data + e - sp - 1))) {
            tr_fail(err, "%s:%zu: expected two tokens separated by one space", name, line);
            goto done;
        }
        if (add_merge_strings(tok, data + s, (size_t)(sp - data - s), sp + 1,
                              (size_t)(data + e - sp - 1), buf, name, line, err))
            goto done;
    }
    rc = 0;
done:
    free(buf);
    return rc;
}

static int load_hf_vocab(tr_tokenizer **out, const tr_tokenizer_files *f, tr_err *err) {
    const char *name = f->name ? f->name : "vocab.json";
    const char *mname = f->merges_name ? f->merges_name : "merges.txt";
    const char *cname = f->config_name ? f->config_name : "tokenizer_config.json";
    if (!f->merges) return tr_fail(err, "%s: no merges.txt given with vocab.json", name);
    cJSON *j = parse_json(f->data, f->len, name, err);
    if (!j) return -1;
    tr_tokenizer *tok = tok_new(TR_TOK_BYTE_BPE, err);
    if (!tok) {
        cJSON_Delete(j);
        return -1;
    }
    tr_pretok pretok = TR_PRETOK_GPT2;
    int rc = read_vocab(tok, j, name, "vocab", err);
    cJSON_Delete(j);
    if (rc || read_merges_txt(tok, f->merges, f->merges_len, mname, err)) goto fail;
    if (f->config) {
        if (apply_config(tok, f->config, f->config_len, cname, &pretok, err)) goto fail;
    } else if (default_specials(tok, err)) {
        goto fail;
    }
    if (tok_set_pretok(tok, pretok, NULL, err) || tok_finish(tok, name, err)) goto fail;
    *out = tok;
    return 0;
fail:
    tr_tokenizer_free(tok);
    return -1;
}

/* tokenizer.json: pre_tokenizer -> pattern. */
static int json_pretok(const cJSON *pt, tr_pretok *p, const char **pattern, const char *name,
                       tr_err *err) {
    *p = TR_PRETOK_NONE;
    *pattern = NULL;
    if (!pt || cJSON_IsNull(pt)) return 0;
    const cJSON *list = pt, *one = pt;
    int n = 1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(pt, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "Sequence") == 0) {
        list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        if (!cJSON_IsArray(list))
            return tr_fail(err, "%s: pre_tokenizer.pretokenizers: expected an array", name);
        n = cJSON_GetArraySize(list);
        one = list->child;
    }
    for (int i = 0; i < n && one; i++, one = one->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(one, "type");
        if (!cJSON_IsString(t)) return tr_fail(err, "%s: pre_tokenizer: expected a \"type\"", name);
        if (strcmp(t->valuestring, "ByteLevel") == 0) {
            const cJSON *aps = cJSON_GetObjectItemCaseSensitive(one, "add_prefix_space");
            if (cJSON_IsTrue(aps))
                return tr_fail(err, "%s: pre_tokenizer: ByteLevel add_prefix_space=true is not supported",
                               name);
            const cJSON *ur = cJSON_GetObjectItemCaseSensitive(one, "use_regex");
            if (!ur || cJSON_IsTrue(ur)) {
                if (*p != TR_PRETOK_NONE)
                    return tr_fail(err, "%s: pre_tokenizer: expected one regex, found two", name);
                *p = TR_PRETOK_GPT2;
            }
        } else if (strcmp(t->valuestring, "Split") == 0) {
            const cJSON *pat = cJSON_GetObjectItemCaseSensitive(one, "pattern");
            const cJSON *re = pat ? cJSON_GetObjectItemCaseSensitive(pat, "Regex") : NULL;
            const cJSON *beh = cJSON_GetObjectItemCaseSensitive(one, "behavior");
            const cJSON *inv = cJSON_GetObjectItemCaseSensitive(one, "invert");
            if (!cJSON_IsString(re) || (beh && !(cJSON_IsString(beh) && strcmp(beh->valuestring, "Isolated") == 0)) ||
                cJSON_IsTrue(inv))
                return tr_fail(err, "%s: pre_tokenizer: Split: expected {\"pattern\": {\"Regex\": ...}, "
                                    "\"behavior\": \"Isolated\", \"invert\": false}",
                               name);
            if (*p != TR_PRETOK_NONE)
                return tr_fail(err, "%s: pre_tokenizer: expected one regex, found two", name);
            *p = TR_PRETOK_CUSTOM;
            *pattern = re->valuestring;
        } else {
            return tr_fail(err, "%s: pre_tokenizer: type \"%.40s\" is not supported (expected ByteLevel, "
                                "Split, Sequence)",
                           name, t->valuestring);
        }
    }
    return 0;
}

/* tokenizer.json: normalizer -> tr_normalizer. null, {"type": "NFC"}, or a Sequence of those;
 * anything else is refused (encoding would silently differ from the reference). */
static int json_normalizer(const cJSON *nz, tr_normalizer *out, const char *name, tr_err *err) {
    *out = TR_NORM_NONE;
    if (!nz || cJSON_IsNull(nz)) return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(nz, "type");
    if (!cJSON_IsString(type))
        return tr_fail(err, "%s: normalizer: expected null or an object with a \"type\"", name);
    if (strcmp(type->valuestring, "NFC") == 0) {
        *out = TR_NORM_NFC;
        return 0;
    }
    if (strcmp(type->valuestring, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(nz, "normalizers");
        if (!cJSON_IsArray(list))
            return tr_fail(err, "%s: normalizer.normalizers: expected an array", name);
        int i = 0;
        for (const cJSON *one = list->child; one; one = one->next, i++) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(one, "type");
            if (!cJSON_IsString(t) || strcmp(t->valuestring, "NFC") != 0)
                return tr_fail(err, "%s: normalizer.normalizers[%d]: type \"%.40s\" is not "
                                    "supported (tinyr1 implements NFC only)",
                               name, i, cJSON_IsString(t) ? t->valuestring : "?");
            *out = TR_NORM_NFC;
        }
        return 0;
    }
    return tr_fail(err, "%s: normalizer: type \"%.40s\" is not supported (tinyr1 implements NFC "
                        "only; expected null, {\"type\": \"NFC\"} or a Sequence of NFC)",
                   name, type->valuestring);
}

static int load_hf_json(tr_tokenizer **out, const tr_tokenizer_files *f, tr_err *err) {
    const char *name = f->name ? f->name : "tokenizer.json";
    const char *cname = f->config_name ? f->config_name : "tokenizer_config.json";
    cJSON *j = parse_json(f->data, f->len, name, err);
    if (!j) return -1;
    tr_tokenizer *tok = tok_new(TR_TOK_BYTE_BPE, err);
    added_tok *list = NULL;
    char *buf = NULL;
    if (!tok) goto fail;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (!cJSON_IsObject(model)) {
        tr_fail(err, "%s: model: expected an object", name);
        goto fail;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "BPE") == 0)) {
        tr_fail(err, "%s: model.type: expected \"BPE\"", name);
        goto fail;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"))) {
        tr_fail(err, "%s: model.byte_fallback: true (SentencePiece-style BPE) is not supported; "
                     "expected a byte-level BPE",
                name);
        goto fail;
    }
    if (read_vocab(tok, cJSON_GetObjectItemCaseSensitive(model, "vocab"), name, "model.vocab", err))
        goto fail;
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsArray(merges)) {
        tr_fail(err, "%s: model.merges: expected an array", name);
        goto fail;
    }
    size_t longest = 1, line = 0;
    for (const cJSON *m = merges->child; m; m = m->next) {
        if (cJSON_IsString(m)) {
            size_t k = strlen(m->valuestring);
            if (k > longest) longest = k;
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) {
            size_t k = strlen(m->child->valuestring) + strlen(m->child->next->valuestring);
            if (k > longest) longest = k;
        } else {
            tr_fail(err, "%s: model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"]", name, line);
            goto fail;
        }
        line++;
    }
    buf = malloc(longest + 1);
    if (!buf) {
        tr_fail(err, "%s: out of memory", name);
        goto fail;
    }
    char field[4200];
    snprintf(field, sizeof field, "%s: model.merges", name);
    line = 0;
    for (const cJSON *m = merges->child; m; m = m->next, line++) {
        const char *a, *b;
        size_t na, nb;
        if (cJSON_IsString(m)) {
            a = m->valuestring;
            const char *sp = strchr(a, ' ');
            if (!sp || sp == a || !sp[1] || strchr(sp + 1, ' ')) {
                tr_fail(err, "%s: model.merges[%zu]: expected two tokens separated by one space", name, line);
                goto fail;
            }
            na = (size_t)(sp - a);
            b = sp + 1;
            nb = strlen(b);
        } else {
            a = m->child->valuestring;
            b = m->child->next->valuestring;
            na = strlen(a);
            nb = strlen(b);
        }
        if (add_merge_strings(tok, a, na, b, nb, buf, field, line, err)) goto fail;
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
    if (added && !cJSON_IsNull(added)) {
        if (!cJSON_IsArray(added)) {
            tr_fail(err, "%s: added_tokens: expected an array", name);
            goto fail;
        }
        int n = cJSON_GetArraySize(added), k = 0;
        list = calloc((size_t)n + 1, sizeof *list);
        if (!list) {
            tr_fail(err, "%s: out of memory", name);
            goto fail;
        }
        for (const cJSON *e = added->child; e; e = e->next, k++) {
            int32_t id;
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "special");
            if (json_id(cJSON_GetObjectItemCaseSensitive(e, "id"), &id) || !cJSON_IsString(c)) {
                tr_fail(err, "%s: added_tokens[%d]: expected {\"id\": N, \"content\": \"...\"}", name, k);
                goto fail;
            }
            list[k] = (added_tok){id, sp ? cJSON_IsTrue(sp) : 1, c->valuestring};
        }
        if (add_sorted(tok, list, k, name, "added_tokens", err)) goto fail;
    }
    tr_pretok pretok;
    const char *pattern;
    if (json_pretok(cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer"), &pretok, &pattern, name, err))
        goto fail;
    if (tok_set_pretok(tok, pretok, pattern, err)) {
        tr_fail_context(err, "%s: pre_tokenizer", name);
        goto fail;
    }
    if (json_normalizer(cJSON_GetObjectItemCaseSensitive(j, "normalizer"), &tok->norm, name, err))
        goto fail;
    if (f->config) {
        if (apply_config(tok, f->config, f->config_len, cname, NULL, err)) goto fail;
    } else if (tok->eos < 0) {
        int32_t id = tok_find(tok, "<|endoftext|>", 13);
        if (id >= 0) tok->eos = id;
    }
    if (tok_finish(tok, name, err)) goto fail;
    free(list);
    free(buf);
    cJSON_Delete(j);
    *out = tok;
    return 0;
fail:
    free(list);
    free(buf);
    cJSON_Delete(j);
    tr_tokenizer_free(tok);
    return -1;
}

/* ---- dispatch ----------------------------------------------------------------------- */
static int looks_json(const char *data, size_t len) {
    size_t i = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < len && is_ws(data[i])) i++;
    return i < len && data[i] == '{';
}

int tr_tokenizer_load_files(tr_tokenizer **tok, const tr_tokenizer_files *files, tr_err *err) {
    *tok = NULL;
    tr_tokenizer_files f = *files;
    const char *name = f.name ? f.name : "tokenizer";
    if (!f.data) return tr_fail(err, "%s: no data", name);
    if (f.format == TR_TOKFMT_AUTO) {
        if (f.len >= 8 && memcmp(f.data, TR1TOK_MAGIC, 8) == 0) f.format = TR_TOKFMT_TINYR1;
        else if (looks_json(f.data, f.len)) f.format = f.merges ? TR_TOKFMT_HF_VOCAB : TR_TOKFMT_HF_JSON;
        else f.format = TR_TOKFMT_LLAMA2C;
    }
    switch (f.format) {
    case TR_TOKFMT_TINYR1: return load_tinyr1(tok, f.data, f.len, name, err);
    case TR_TOKFMT_LLAMA2C: return load_llama2c(tok, f.data, f.len, name, err);
    case TR_TOKFMT_HF_VOCAB: return load_hf_vocab(tok, &f, err);
    case TR_TOKFMT_HF_JSON: return load_hf_json(tok, &f, err);
    case TR_TOKFMT_AUTO: break;
    }
    return tr_fail(err, "%s: unknown tokenizer format %d", name, (int)f.format);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int join(char *out, size_t cap, const char *dir, const char *file) {
    size_t a = strlen(dir), b = strlen(file);
    if (a + b + 2 > cap) return 0;
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, file, b + 1);
    return 1;
}

int tr_tokenizer_load(tr_tokenizer **tok, const char *path, tr_err *err) {
    *tok = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return tr_fail(err, "%s: no such file or folder", path);
    char dir[4096], main_path[4096], merges_path[4096], config_path[4096];
    tr_tokenizer_format fmt = TR_TOKFMT_AUTO;
    merges_path[0] = config_path[0] = '\0';
    if (strlen(path) >= sizeof dir - 32) return tr_fail(err, "%s: path too long", path);
    if (S_ISDIR(st.st_mode)) {
        memcpy(dir, path, strlen(path) + 1);
        static const char *const mains[][2] = {{"tokenizer.tr1", NULL},
                                               {"tokenizer.json", NULL},
                                               {"vocab.json", "merges.txt"},
                                               {"encoder.json", "vocab.bpe"},
                                               {"tokenizer.bin", NULL}};
        int found = 0;
        for (size_t i = 0; i < sizeof mains / sizeof mains[0] && !found; i++) {
            join(main_path, sizeof main_path, dir, mains[i][0]);
            if (!is_file(main_path)) continue;
            if (mains[i][1]) {
                join(merges_path, sizeof merges_path, dir, mains[i][1]);
                if (!is_file(merges_path)) continue;
                fmt = TR_TOKFMT_HF_VOCAB;
            }
            found = 1;
        }
        if (!found)
            return tr_fail(err, "%s: no tokenizer found; expected tokenizer.tr1, tokenizer.json, "
                                "vocab.json + merges.txt, encoder.json + vocab.bpe or tokenizer.bin",
                           path);
    } else {
        memcpy(main_path, path, strlen(path) + 1);
        memcpy(dir, path, strlen(path) + 1);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : path;
        if (slash) *slash = '\0';
        else memcpy(dir, ".", 2);
        if (strcmp(base, "vocab.json") == 0 || strcmp(base, "encoder.json") == 0) {
            fmt = TR_TOKFMT_HF_VOCAB;
            join(merges_path, sizeof merges_path, dir, base[0] == 'v' ? "merges.txt" : "vocab.bpe");
            if (!is_file(merges_path)) join(merges_path, sizeof merges_path, dir, base[0] == 'v' ? "vocab.bpe" : "merges.txt");
            if (!is_file(merges_path))
                return tr_fail(err, "%s: expected merges.txt (or vocab.bpe) in the same folder", path);
        }
    }
    size_t len = 0, mlen = 0, clen = 0;
    char *data = tr_read_file(main_path, &len, err), *merges = NULL, *config = NULL;
    if (!data) return -1;
    if (fmt == TR_TOKFMT_AUTO && looks_json(data, len)) fmt = TR_TOKFMT_HF_JSON;
    if (fmt == TR_TOKFMT_HF_VOCAB) {
        merges = tr_read_file(merges_path, &mlen, err);
        if (!merges) {
            free(data);
            return -1;
        }
    }
    if (fmt == TR_TOKFMT_HF_VOCAB || fmt == TR_TOKFMT_HF_JSON) {
        join(config_path, sizeof config_path, dir, "tokenizer_config.json");
        if (is_file(config_path)) {
            config = tr_read_file(config_path, &clen, err);
            if (!config) {
                free(data);
                free(merges);
                return -1;
            }
        }
    }
    tr_tokenizer_files f = {fmt, data, len, merges, mlen, config, clen, main_path, merges_path,
                            config_path};
    int rc = tr_tokenizer_load_files(tok, &f, err);
    free(data);
    free(merges);
    free(config);
    return rc;
}
