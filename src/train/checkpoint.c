/* Checkpoints: format in include/tinyr1/train.h. */
#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/config_json.h"
#include "tinyr1/train.h"

#define MAGIC "TINYR1CK"
#define VERSION 1u
#define PREFIX 64
#define ALIGN 64

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

typedef struct {
    const char *name;
    const char *dtype;
    int ndim;
    int64_t shape[2];
    const void *data;
    size_t bytes;
} entry;

static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get_u32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

/* 64-bit values go into JSON as decimal strings (doubles cannot hold them exactly). */
static void add_u64(cJSON *o, const char *k, uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    cJSON_AddStringToObject(o, k, buf);
}
static void add_rng(cJSON *o, const char *k, const tr_rng *r) {
    cJSON *a = cJSON_AddArrayToObject(o, k);
    for (int i = 0; i < 4; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, r->s[i]);
        cJSON_AddItemToArray(a, cJSON_CreateString(buf));
    }
}

int tr_checkpoint_save(const char *path, const tr_model *m, const tr_adamw *opt,
                       const tr_train_state *st, const char *meta_json,
                       tr_checkpoint_blob tokenizer, tr_err *err) {
    size_t n_entries = (size_t)m->table.n_tensors + (opt ? 2 : 0) + (tokenizer.data ? 1 : 0);
    entry *e = tr_calloc(n_entries, sizeof *e, err);
    if (!e) return -1;
    size_t k = 0;
    for (int i = 0; i < m->table.n_tensors; i++, k++) {
        const tr_tensor_info *t = &m->table.tensors[i];
        e[k] = (entry){t->name, "F32", t->ndim, {t->shape[0], t->shape[1]},
                       m->params + t->offset, t->numel * sizeof(float)};
    }
    if (opt) {
        e[k++] = (entry){"optimizer.m", "F32", 1, {(int64_t)opt->n, 0}, opt->m, opt->n * 4};
        e[k++] = (entry){"optimizer.v", "F32", 1, {(int64_t)opt->n, 0}, opt->v, opt->n * 4};
    }
    if (tokenizer.data)
        e[k++] = (entry){"tokenizer", "U8", 1, {(int64_t)tokenizer.len, 0}, tokenizer.data,
                         tokenizer.len};

    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "config", tr_config_to_json(&m->cfg));
    cJSON *state = cJSON_AddObjectToObject(root, "state");
    add_u64(state, "step", (uint64_t)st->step);
    add_rng(state, "rng", &st->rng);
    add_u64(state, "data_cursor", st->data_cursor);
    add_rng(state, "data_rng", &st->data_rng);
    cJSON_AddNumberToObject(state, "tokens", st->tokens);
    cJSON_AddNumberToObject(state, "elapsed", st->elapsed);
    if (opt) add_u64(state, "optimizer_t", (uint64_t)opt->t);
    cJSON *meta = meta_json ? cJSON_Parse(meta_json) : NULL;
    cJSON_AddItemToObject(root, "meta", meta ? meta : cJSON_CreateObject());
    cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
    size_t offset = 0;
    uint64_t checksum = FNV_INIT;
    for (size_t i = 0; i < n_entries; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", e[i].name);
        cJSON_AddStringToObject(t, "dtype", e[i].dtype);
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; d < e[i].ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e[i].shape[d]));
        cJSON_AddNumberToObject(t, "offset", (double)offset);
        cJSON_AddNumberToObject(t, "bytes", (double)e[i].bytes);
        cJSON_AddItemToArray(tensors, t);
        offset = align_up(offset + e[i].bytes);
    }
    size_t data_len = offset;
    char *header = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!header) {
        free(e);
        return tr_fail(err, "%s: out of memory building the header", path);
    }
    size_t header_len = strlen(header);
    size_t data_offset = align_up(PREFIX + header_len);

    tr_atomic_file af;
    if (tr_atomic_open(&af, path, err) != 0) {
        free(header);
        free(e);
        return -1;
    }
    FILE *f = af.f;
    /* the checksum goes in the prefix, so it is computed first (one pass over memory) */
    static const unsigned char zeros[ALIGN] = {0};
    for (size_t i = 0, off = 0; i < n_entries; i++) {
        checksum = fnv1a(checksum, e[i].data, e[i].bytes);
        size_t pad = align_up(off + e[i].bytes) - (off + e[i].bytes);
        checksum = fnv1a(checksum, zeros, pad);
        off = align_up(off + e[i].bytes);
    }
    unsigned char prefix[PREFIX] = {0};
    memcpy(prefix, MAGIC, 8);
    put_u32(prefix + 8, VERSION);
    put_u32(prefix + 12, (uint32_t)header_len);
    put_u64(prefix + 16, data_offset);
    put_u64(prefix + 24, data_len);
    put_u64(prefix + 32, checksum);
    int ok = fwrite(prefix, 1, PREFIX, f) == PREFIX;
    ok = ok && fwrite(header, 1, header_len, f) == header_len;
    ok = ok && fwrite(zeros, 1, data_offset - PREFIX - header_len, f) ==
                   data_offset - PREFIX - header_len;
    for (size_t i = 0, off = 0; ok && i < n_entries; i++) {
        ok = fwrite(e[i].data, 1, e[i].bytes, f) == e[i].bytes;
        size_t pad = align_up(off + e[i].bytes) - (off + e[i].bytes);
        ok = ok && fwrite(zeros, 1, pad, f) == pad;
        off = align_up(off + e[i].bytes);
    }
    free(header);
    free(e);
    return tr_atomic_commit(&af, ok, err);
}

int tr_is_checkpoint(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[8];
    int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, MAGIC, 8) == 0;
    fclose(f);
    return ok;
}

static int json_u64(const cJSON *o, const char *key, uint64_t *out, const char *path, tr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    char *end = NULL;
    if (!cJSON_IsString(v) || !*v->valuestring ||
        (*out = strtoull(v->valuestring, &end, 10), *end != '\0'))
        return tr_fail(err, "%s: header field state.%s: expected a decimal string", path, key);
    return 0;
}
static int json_rng(const cJSON *o, const char *key, tr_rng *r, const char *path, tr_err *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 4)
        return tr_fail(err, "%s: header field state.%s: expected 4 decimal strings", path, key);
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        char *end = NULL;
        if (!cJSON_IsString(v) || (r->s[i] = strtoull(v->valuestring, &end, 10), *end))
            return tr_fail(err, "%s: header field state.%s[%d]: expected a decimal string",
                           path, key, i);
    }
    return 0;
}

int tr_checkpoint_load(const char *path, tr_model *m, tr_adamw *opt, tr_adamw_params p,
                       tr_checkpoint_info *info, tr_err *err) {
    memset(info, 0, sizeof *info);
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f) return tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    int rc = -1;
    char *header = NULL;
    cJSON *root = NULL;
    unsigned char *data = NULL, *seen = NULL; /* seen: per parameter tensor */
    unsigned char prefix[PREFIX];
    fseek(f, 0, SEEK_END);
    long file_size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (file_size < PREFIX || fread(prefix, 1, PREFIX, f) != PREFIX) {
        tr_fail(err, "%s: truncated: %ld bytes, shorter than the %d-byte prefix", path, file_size, PREFIX);
        goto done;
    }
    if (memcmp(prefix, MAGIC, 8) != 0) {
        tr_fail(err, "%s: not a tinyr1 checkpoint (magic is not \"" MAGIC "\")", path);
        goto done;
    }
    uint32_t version = get_u32(prefix + 8), header_len = get_u32(prefix + 12);
    uint64_t data_offset = get_u64(prefix + 16), data_len = get_u64(prefix + 24);
    uint64_t checksum = get_u64(prefix + 32);
    if (version != VERSION) {
        tr_fail(err, "%s: format version %u, this build reads version %u", path, version, VERSION);
        goto done;
    }
    if ((uint64_t)PREFIX + header_len > data_offset || data_offset % ALIGN ||
        data_offset > (uint64_t)file_size || data_len != (uint64_t)file_size - data_offset) {
        tr_fail(err, "%s: truncated or corrupt: header says %u header bytes and %" PRIu64
                     " data bytes at %" PRIu64 ", the file has %ld bytes",
                path, header_len, data_len, data_offset, file_size);
        goto done;
    }
    header = malloc((size_t)header_len + 1);
    data = malloc(data_len ? data_len : 1);
    if (!header || !data) {
        tr_fail(err, "%s: out of memory", path);
        goto done;
    }
    if (fread(header, 1, header_len, f) != header_len ||
        fseek(f, (long)data_offset, SEEK_SET) != 0 || fread(data, 1, data_len, f) != data_len) {
        tr_fail(err, "%s: read error", path);
        goto done;
    }
    header[header_len] = '\0';
    if (fnv1a(FNV_INIT, data, data_len) != checksum) {
        tr_fail(err, "%s: checksum mismatch: the data section is corrupt", path);
        goto done;
    }
    root = cJSON_Parse(header);
    if (!root) {
        tr_fail(err, "%s: header is not valid JSON", path);
        goto done;
    }
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(root, "state");
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(root, "tensors");
    if (!cJSON_IsObject(cj) || !cJSON_IsObject(sj) || !cJSON_IsArray(tj)) {
        tr_fail(err, "%s: header needs objects \"config\", \"state\" and an array \"tensors\"", path);
        goto done;
    }
    tr_config c = {0};
    if (tr_config_from_json(cj, &c, 1, path, err) != 0) goto done;
    /* refuse absurd sizes before allocating: 2^34 floats = 64 GiB */
    if (tr_config_validate(&c, err) != 0) {
        tr_fail_context(err, "%s", path);
        goto done;
    }
    if (tr_config_num_params(&c) > ((size_t)1 << 34)) {
        tr_fail(err, "%s: config describes %zu parameters, more than this build loads", path,
                tr_config_num_params(&c));
        goto done;
    }
    /* every parameter is stored as F32 in the data section: check before allocating */
    if (tr_config_num_params(&c) > data_len / sizeof(float)) {
        tr_fail(err,
                "%s: config describes %zu parameters (%zu bytes of F32), but the data section "
                "holds %" PRIu64 " bytes",
                path, tr_config_num_params(&c), tr_config_num_params(&c) * sizeof(float), data_len);
        goto done;
    }
    uint64_t step = 0, cursor = 0, opt_t = 0;
    if (json_u64(sj, "step", &step, path, err) || json_rng(sj, "rng", &info->state.rng, path, err) ||
        json_u64(sj, "data_cursor", &cursor, path, err) ||
        json_rng(sj, "data_rng", &info->state.data_rng, path, err))
        goto done;
    info->state.step = (int64_t)step;
    info->state.data_cursor = cursor;
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(sj, "tokens");
    const cJSON *el = cJSON_GetObjectItemCaseSensitive(sj, "elapsed");
    info->state.tokens = cJSON_IsNumber(tok) ? tok->valuedouble : 0;
    info->state.elapsed = cJSON_IsNumber(el) ? el->valuedouble : 0;
    if (cJSON_GetObjectItemCaseSensitive(sj, "optimizer_t") &&
        json_u64(sj, "optimizer_t", &opt_t, path, err))
        goto done;
    if (tr_model_init(m, &c, err) != 0) goto done;
    info->cfg = m->cfg;
    seen = tr_calloc((size_t)m->table.n_tensors, 1, err);
    if (!seen) goto done;
    int found_params = 0;
    const unsigned char *opt_m = NULL, *opt_v = NULL;
    const cJSON *t;
    cJSON_ArrayForEach(t, tj) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "offset");
        const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(t, "bytes");
        if (!cJSON_IsString(name) || !cJSON_IsString(dtype) || !cJSON_IsNumber(off) ||
            !cJSON_IsNumber(bytes) || off->valuedouble < 0 || bytes->valuedouble < 0 ||
            off->valuedouble != floor(off->valuedouble) ||
            bytes->valuedouble != floor(bytes->valuedouble)) {
            tr_fail(err, "%s: a tensor entry lacks name/dtype/offset/bytes (non-negative integers)",
                    path);
            goto done;
        }
        /* compared as doubles first: a value past 2^64 cannot be converted */
        if (off->valuedouble > (double)data_len || bytes->valuedouble > (double)data_len) {
            tr_fail(err, "%s: tensor %s: bytes [%g, +%g) outside the %" PRIu64 "-byte data section",
                    path, name->valuestring, off->valuedouble, bytes->valuedouble, data_len);
            goto done;
        }
        uint64_t o = (uint64_t)off->valuedouble, n = (uint64_t)bytes->valuedouble;
        if (o > data_len || n > data_len - o) {
            tr_fail(err, "%s: tensor %s: bytes [%" PRIu64 ", +%" PRIu64 ") outside the %" PRIu64
                         "-byte data section",
                    path, name->valuestring, o, n, data_len);
            goto done;
        }
        const char *nm = name->valuestring;
        int idx = tr_param_table_find(&m->table, nm);
        const unsigned char **opt_at = strcmp(nm, "optimizer.m") == 0   ? &opt_m
                                       : strcmp(nm, "optimizer.v") == 0 ? &opt_v
                                                                        : NULL;
        /* a second entry would overwrite the first (or leak it): a corrupt header */
        int twice = idx >= 0   ? seen[idx]
                    : opt_at ? *opt_at != NULL
                             : strcmp(nm, "tokenizer") == 0 && info->tokenizer != NULL;
        if (twice) {
            tr_fail(err, "%s: tensor %s listed twice", path, nm);
            goto done;
        }
        if (idx >= 0) {
            const tr_tensor_info *ti = &m->table.tensors[idx];
            if (strcmp(dtype->valuestring, "F32") != 0 || n != ti->numel * sizeof(float)) {
                tr_fail(err, "%s: tensor %s: expected F32 with %zu bytes, found %s with %" PRIu64,
                        path, nm, ti->numel * sizeof(float), dtype->valuestring, n);
                goto done;
            }
            seen[idx] = 1;
            memcpy(m->params + ti->offset, data + o, n);
            found_params++;
        } else if (opt_at) {
            if (n != m->table.total * sizeof(float)) {
                tr_fail(err, "%s: tensor %s: expected %zu bytes, found %" PRIu64, path, nm,
                        m->table.total * sizeof(float), n);
                goto done;
            }
            *opt_at = data + o;
        } else if (strcmp(nm, "tokenizer") == 0) {
            info->tokenizer = malloc(n ? n : 1);
            if (!info->tokenizer) {
                tr_fail(err, "%s: out of memory", path);
                goto done;
            }
            memcpy(info->tokenizer, data + o, n);
            info->tokenizer_len = n;
        } else {
            tr_fail(err, "%s: unknown tensor '%s' for this config", path, nm);
            goto done;
        }
    }
    if (found_params != m->table.n_tensors) {
        tr_fail(err, "%s: %d of the config's %d parameter tensors are present", path, found_params,
                m->table.n_tensors);
        goto done;
    }
    info->has_optimizer = opt_m && opt_v;
    if (opt && info->has_optimizer) {
        if (tr_adamw_init(opt, &m->table, p, err) != 0) goto done;
        memcpy(opt->m, opt_m, m->table.total * sizeof(float));
        memcpy(opt->v, opt_v, m->table.total * sizeof(float));
        opt->t = (int64_t)opt_t;
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
    if (meta) info->meta_json = cJSON_PrintUnformatted(meta);
    rc = 0;
done:
    fclose(f);
    free(header);
    free(data);
    free(seen);
    cJSON_Delete(root);
    if (rc != 0) {
        tr_model_free(m);
        tr_checkpoint_info_free(info);
    }
    return rc;
}

void tr_checkpoint_info_free(tr_checkpoint_info *info) {
    free(info->meta_json);
    free(info->tokenizer);
    info->meta_json = NULL;
    info->tokenizer = NULL;
}
