/* safetensors: a reader that trusts nothing and a streaming, atomic writer.
 *
 * File: [u64 LE header length N][N bytes JSON][data section]. Every tensor entry is
 * {"dtype": str, "shape": [int...], "data_offsets": [begin, end]}, offsets relative to the
 * data section. The reader checks, in order: the file holds the 8-byte length; N within the
 * file and under TR_ST_MAX_HEADER; the header is one JSON object followed only by
 * whitespace; each entry is an object with exactly those three keys; dtype known; shape a
 * list of at most TR_ST_MAX_DIMS non-negative integers whose product times the dtype size
 * does not overflow; end - begin equals that byte count; the range lies inside the data
 * section; no two ranges overlap (checked after sorting by begin); names unique;
 * __metadata__ an object of string values.
 *
 * Byte order: the format is little-endian and so is every host tinyr1 targets (x86-64,
 * aarch64); data is copied as is.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/sbuf.h"
#include "tinyr1/io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tinyr1's file formats assume a little-endian host"
#endif

/* ---- dtypes -------------------------------------------------------------------- */
static const struct {
    const char *name;
    size_t size;
} dtype_table[TR_DT_COUNT] = {
    [TR_DT_BOOL] = {"BOOL", 1},       [TR_DT_U8] = {"U8", 1},           [TR_DT_I8] = {"I8", 1},
    [TR_DT_F8_E5M2] = {"F8_E5M2", 1}, [TR_DT_F8_E4M3] = {"F8_E4M3", 1}, [TR_DT_I16] = {"I16", 2},
    [TR_DT_U16] = {"U16", 2},         [TR_DT_F16] = {"F16", 2},         [TR_DT_BF16] = {"BF16", 2},
    [TR_DT_I32] = {"I32", 4},         [TR_DT_U32] = {"U32", 4},         [TR_DT_F32] = {"F32", 4},
    [TR_DT_F64] = {"F64", 8},         [TR_DT_I64] = {"I64", 8},         [TR_DT_U64] = {"U64", 8},
};

const char *tr_dtype_name(tr_dtype dt) {
    return (unsigned)dt < TR_DT_COUNT ? dtype_table[dt].name : "?";
}

size_t tr_dtype_size(tr_dtype dt) {
    return (unsigned)dt < TR_DT_COUNT ? dtype_table[dt].size : 0;
}

int tr_dtype_parse(const char *name, tr_dtype *dt) {
    for (int i = 0; i < TR_DT_COUNT; i++)
        if (strcmp(name, dtype_table[i].name) == 0) {
            *dt = (tr_dtype)i;
            return 0;
        }
    return -1;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float tr_bf16_to_f32(uint16_t h) {
    return bits_f32((uint32_t)h << 16);
}

uint16_t tr_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even; overflow -> inf */
    return (uint16_t)(u >> 16);
}

float tr_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13)); /* inf / NaN */
    if (exp == 0) {                                                      /* zero / subnormal */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* ---- reader -------------------------------------------------------------------- */
struct tr_safetensors {
    char *path;
    const uint8_t *bytes; /* the whole file */
    size_t len;
    void *map;           /* mmap'd region (munmap on close) or NULL */
    void *owned;         /* read() buffer (free on close) or NULL */
    const uint8_t *data; /* data section */
    size_t data_len;
    tr_st_tensor *tensors;
    int n;
    int *by_name; /* tensor indices sorted by name */
    char **meta_keys, **meta_values;
    int n_meta;
};

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void tr_st_close(tr_safetensors *st) {
    if (!st) return;
    if (st->map) munmap(st->map, st->len);
    free(st->owned);
    for (int i = 0; i < st->n; i++) free((char *)st->tensors[i].name);
    free(st->tensors);
    free(st->by_name);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    free(st->path);
    free(st);
}

/* A JSON number that is an exact integer in [0, 2^53]; returns -1 otherwise. */
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

/* As json_uint, but tells a negative integer apart (for the shape message). */
static int json_dim(const cJSON *j, int64_t *out) {
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= -9007199254740992.0) || d > 9007199254740992.0 || d != floor(d)) return -1;
    *out = (int64_t)d;
    return 0;
}

typedef struct {
    const tr_st_tensor *t;
    int index;
} sort_item;

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const sort_item *)a)->t->name, ((const sort_item *)b)->t->name);
}

static int cmp_begin(const void *a, const void *b) {
    const tr_st_tensor *x = ((const sort_item *)a)->t, *y = ((const sort_item *)b)->t;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int parse_metadata(tr_safetensors *st, const cJSON *meta, tr_err *err) {
    if (!cJSON_IsObject(meta))
        return tr_fail(err, "%s: __metadata__ must be an object of string values", st->path);
    int n = cJSON_GetArraySize(meta);
    st->meta_keys = calloc((size_t)n + 1, sizeof(char *));
    st->meta_values = calloc((size_t)n + 1, sizeof(char *));
    if (!st->meta_keys || !st->meta_values) return tr_fail(err, "%s: out of memory", st->path);
    for (const cJSON *kv = meta->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv) || !kv->valuestring)
            return tr_fail(err,
                           "%s: __metadata__ must map strings to strings; key '%s' has a "
                           "non-string value",
                           st->path, kv->string ? kv->string : "");
        for (int i = 0; i < st->n_meta; i++)
            if (strcmp(st->meta_keys[i], kv->string) == 0)
                return tr_fail(err, "%s: __metadata__ has the key '%s' twice", st->path,
                               kv->string);
        st->meta_keys[st->n_meta] = dup_str(kv->string);
        st->meta_values[st->n_meta] = dup_str(kv->valuestring);
        st->n_meta++;
        if (!st->meta_keys[st->n_meta - 1] || !st->meta_values[st->n_meta - 1])
            return tr_fail(err, "%s: out of memory", st->path);
    }
    return 0;
}

static int parse_tensor(tr_safetensors *st, const cJSON *e, tr_st_tensor *t, tr_err *err) {
    const char *p = st->path, *nm = t->name;
    if (!cJSON_IsObject(e)) return tr_fail(err, "%s: tensor '%s': entry must be an object", p, nm);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *f = e->child; f; f = f->next) {
        const cJSON **slot = strcmp(f->string, "dtype") == 0          ? &dtype
                             : strcmp(f->string, "shape") == 0        ? &shape
                             : strcmp(f->string, "data_offsets") == 0 ? &offs
                                                                      : NULL;
        if (!slot)
            return tr_fail(err,
                           "%s: tensor '%s': unknown field '%s' (expected dtype, shape, "
                           "data_offsets)",
                           p, nm, f->string);
        if (*slot) return tr_fail(err, "%s: tensor '%s': field '%s' given twice", p, nm, f->string);
        *slot = f;
    }
    if (!cJSON_IsString(dtype))
        return tr_fail(err, "%s: tensor '%s': missing or non-string \"dtype\"", p, nm);
    if (tr_dtype_parse(dtype->valuestring, &t->dtype) != 0)
        return tr_fail(err,
                       "%s: tensor '%s': unknown dtype '%.32s' (expected F64, F32, F16, BF16, "
                       "I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2)",
                       p, nm, dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return tr_fail(err, "%s: tensor '%s': missing or non-list \"shape\"", p, nm);
    int nd = cJSON_GetArraySize(shape);
    if (nd > TR_ST_MAX_DIMS)
        return tr_fail(err, "%s: tensor '%s': %d dimensions, at most %d supported", p, nm, nd,
                       TR_ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    int overflow = 0;
    int k = 0;
    for (const cJSON *d = shape->child; d; d = d->next, k++) {
        int64_t v;
        if (json_dim(d, &v) != 0)
            return tr_fail(err, "%s: tensor '%s': shape[%d] is not an integer within +-2^53", p, nm,
                           k);
        if (v < 0)
            return tr_fail(err, "%s: tensor '%s': shape[%d] = %lld is negative", p, nm, k,
                           (long long)v);
        t->shape[k] = v;
        if (v != 0 && numel > (uint64_t)INT64_MAX / (uint64_t)v)
            overflow = 1;
        else
            numel *= (uint64_t)v;
    }
    size_t esize = tr_dtype_size(t->dtype);
    if (!overflow && numel > (uint64_t)INT64_MAX / esize) overflow = 1;
    if (overflow)
        return tr_fail(err, "%s: tensor '%s': the shape's element count overflows 64 bits", p, nm);
    /* any overflow above would have been caught; a zero dim makes the product 0 */
    for (k = 0; k < nd; k++)
        if (t->shape[k] == 0) numel = 0;
    t->numel = (int64_t)numel;
    uint64_t nbytes = numel * esize;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return tr_fail(err, "%s: tensor '%s': \"data_offsets\" must be a list [begin, end]", p, nm);
    uint64_t b, en;
    if (json_uint(offs->child, &b) != 0 || json_uint(offs->child->next, &en) != 0)
        return tr_fail(err, "%s: tensor '%s': data_offsets must be non-negative integers", p, nm);
    if (en < b)
        return tr_fail(err, "%s: tensor '%s': data_offsets [%llu, %llu] end before begin", p, nm,
                       (unsigned long long)b, (unsigned long long)en);
    if (en - b != nbytes)
        return tr_fail(err,
                       "%s: tensor '%s': data_offsets [%llu, %llu] span %llu bytes but dtype %s "
                       "x shape needs %llu",
                       p, nm, (unsigned long long)b, (unsigned long long)en,
                       (unsigned long long)(en - b), tr_dtype_name(t->dtype),
                       (unsigned long long)nbytes);
    if (en > (uint64_t)st->data_len)
        return tr_fail(err,
                       "%s: tensor '%s': data_offsets [%llu, %llu] beyond the data section "
                       "(%zu bytes)",
                       p, nm, (unsigned long long)b, (unsigned long long)en, st->data_len);
    t->begin = (size_t)b;
    t->end = (size_t)en;
    t->nbytes = (size_t)nbytes;
    t->data = st->data + t->begin;
    return 0;
}

static int parse_header(tr_safetensors *st, tr_err *err) {
    const char *p = st->path;
    if (st->len < 8)
        return tr_fail(err,
                       "%s: %zu bytes, too short for a safetensors file (8-byte header "
                       "length expected)",
                       p, st->len);
    uint64_t hlen;
    memcpy(&hlen, st->bytes, 8);
    if (hlen > st->len - 8)
        return tr_fail(err, "%s: header length %llu runs beyond the end of the file (%zu bytes)", p,
                       (unsigned long long)hlen, st->len);
    if (hlen > TR_ST_MAX_HEADER)
        return tr_fail(err, "%s: header length %llu exceeds the %llu-byte cap", p,
                       (unsigned long long)hlen, (unsigned long long)TR_ST_MAX_HEADER);
    if (hlen < 2)
        return tr_fail(err, "%s: header of %llu bytes cannot hold a JSON object", p,
                       (unsigned long long)hlen);
    const char *hdr = (const char *)st->bytes + 8;
    st->data = st->bytes + 8 + hlen;
    st->data_len = st->len - 8 - (size_t)hlen;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= hdr && at <= hdr + hlen ? (long)(at - hdr) : -1;
        return tr_fail(err, "%s: header is not valid JSON (near byte %ld of the header)", p, off);
    }
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        tr_fail(err, "%s: header must be a JSON object", p);
        goto done;
    }
    for (const char *q = end; q && q < hdr + hlen; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            tr_fail(err, "%s: unexpected bytes after the header's JSON object (byte %ld)", p,
                    (long)(q - hdr));
            goto done;
        }
    int n_entries = cJSON_GetArraySize(root);
    st->tensors = calloc((size_t)n_entries + 1, sizeof *st->tensors);
    st->by_name = calloc((size_t)n_entries + 1, sizeof *st->by_name);
    if (!st->tensors || !st->by_name) {
        tr_fail(err, "%s: out of memory", p);
        goto done;
    }
    int seen_meta = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (seen_meta++) {
                tr_fail(err, "%s: duplicate key '__metadata__'", p);
                goto done;
            }
            if (parse_metadata(st, e, err) != 0) goto done;
            continue;
        }
        tr_st_tensor *t = &st->tensors[st->n];
        t->name = dup_str(e->string);
        if (!t->name) {
            tr_fail(err, "%s: out of memory", p);
            goto done;
        }
        st->n++;
        if (t->name[0] == '\0') {
            tr_fail(err, "%s: a tensor has an empty name", p);
            goto done;
        }
        if (parse_tensor(st, e, t, err) != 0) goto done;
    }
    sort_item *items = calloc((size_t)st->n + 1, sizeof *items);
    if (!items) {
        tr_fail(err, "%s: out of memory", p);
        goto done;
    }
    for (int i = 0; i < st->n; i++) items[i] = (sort_item){&st->tensors[i], i};
    qsort(items, (size_t)st->n, sizeof *items, cmp_name);
    for (int i = 0; i + 1 < st->n; i++)
        if (strcmp(items[i].t->name, items[i + 1].t->name) == 0) {
            tr_fail(err, "%s: tensor '%s' appears twice in the header", p, items[i].t->name);
            free(items);
            goto done;
        }
    for (int i = 0; i < st->n; i++) st->by_name[i] = items[i].index;
    qsort(items, (size_t)st->n, sizeof *items, cmp_begin);
    /* empty ranges overlap nothing; `last` is the non-empty range reaching furthest */
    const tr_st_tensor *last = NULL;
    for (int i = 0; i < st->n; i++) {
        const tr_st_tensor *b = items[i].t;
        if (b->nbytes == 0) continue;
        if (last && b->begin < last->end) {
            tr_fail(err, "%s: tensors '%s' [%zu, %zu] and '%s' [%zu, %zu] overlap", p, last->name,
                    last->begin, last->end, b->name, b->begin, b->end);
            free(items);
            goto done;
        }
        if (!last || b->end > last->end) last = b;
    }
    free(items);
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

static int finish_open(tr_safetensors *st, tr_safetensors **out, tr_err *err) {
    if (parse_header(st, err) != 0) {
        tr_st_close(st);
        return -1;
    }
    *out = st;
    return 0;
}

int tr_st_open_memory(tr_safetensors **out, const void *data, size_t len, const char *label,
                      tr_err *err) {
    *out = NULL;
    tr_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = dup_str(label ? label : "<memory>"))) {
        free(st);
        return tr_fail(err, "%s: out of memory", label ? label : "<memory>");
    }
    st->bytes = data;
    st->len = len;
    return finish_open(st, out, err);
}

int tr_st_open(tr_safetensors **out, const char *path, tr_err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tr_fail(err, "%s: not a regular file", path);
    }
    tr_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = dup_str(path))) {
        free(st);
        close(fd);
        return tr_fail(err, "%s: out of memory", path);
    }
    st->len = (size_t)sb.st_size;
    if (st->len > 0) {
        void *m = mmap(NULL, st->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            st->map = m;
            st->bytes = m;
        }
    }
    if (!st->map && st->len > 0) { /* fallback: read() the whole file */
        st->owned = malloc(st->len);
        size_t got = 0;
        while (st->owned && got < st->len) {
            ssize_t r = read(fd, (char *)st->owned + got, st->len - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (!st->owned || got != st->len) {
            close(fd);
            tr_fail(err, "%s: %s", path, st->owned ? "short read" : "out of memory");
            tr_st_close(st);
            return -1;
        }
        st->bytes = st->owned;
    }
    close(fd);
    return finish_open(st, out, err);
}

int tr_st_count(const tr_safetensors *st) {
    return st->n;
}

const tr_st_tensor *tr_st_get(const tr_safetensors *st, int i) {
    return i >= 0 && i < st->n ? &st->tensors[i] : NULL;
}

const tr_st_tensor *tr_st_find(const tr_safetensors *st, const char *name) {
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const tr_st_tensor *t = &st->tensors[st->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *tr_st_metadata(const tr_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

int tr_st_metadata_count(const tr_safetensors *st) {
    return st->n_meta;
}

int tr_st_metadata_at(const tr_safetensors *st, int i, const char **key, const char **value) {
    if (i < 0 || i >= st->n_meta) return -1;
    *key = st->meta_keys[i];
    *value = st->meta_values[i];
    return 0;
}

const char *tr_st_path(const tr_safetensors *st) {
    return st->path;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

int tr_st_to_f32(const tr_safetensors *st, const tr_st_tensor *t, float *out, int ndim,
                 const int64_t *shape, tr_err *err) {
    if (shape) {
        int same = ndim == t->ndim;
        for (int i = 0; same && i < ndim; i++) same = shape[i] == t->shape[i];
        if (!same) {
            char a[160], b[160];
            shape_str(a, sizeof a, t->ndim, t->shape);
            shape_str(b, sizeof b, ndim, shape);
            return tr_fail(err, "%s: tensor '%s': shape %s, expected %s", st->path, t->name, a, b);
        }
    }
    const uint8_t *src = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case TR_DT_F32:
        memcpy(out, src, n * 4);
        break;
    case TR_DT_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = tr_bf16_to_f32(h);
        }
        break;
    case TR_DT_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = tr_f16_to_f32(h);
        }
        break;
    case TR_DT_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            out[i] = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
        }
        break;
    default:
        return tr_fail(err,
                       "%s: tensor '%s': dtype %s cannot be converted to float32 (expected "
                       "F32, F16, BF16 or F64)",
                       st->path, t->name, tr_dtype_name(t->dtype));
    }
    return 0;
}

/* ---- writer -------------------------------------------------------------------- */
/* A JSON string literal: quotes, backslashes and control bytes escaped; UTF-8 passes. */
static void sb_json_string(tr_sb *b, const char *s) {
    tr_sb_putn(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            tr_sb_putn(b, esc, 2);
        } else if (*c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            tr_sb_putn(b, esc, 6);
        } else {
            tr_sb_putn(b, (const char *)c, 1);
        }
    }
    tr_sb_putn(b, "\"", 1);
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_write_args(const char *path, const tr_st_write_tensor *ts, int n, uint64_t *nbytes,
                            tr_err *err) {
    for (int i = 0; i < n; i++) {
        const tr_st_write_tensor *t = &ts[i];
        if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0)
            return tr_fail(err, "%s: tensor %d: name must be non-empty and not __metadata__", path,
                           i);
        if (tr_dtype_size(t->dtype) == 0)
            return tr_fail(err, "%s: tensor '%s': invalid dtype", path, t->name);
        if (t->ndim < 0 || t->ndim > TR_ST_MAX_DIMS || (t->ndim > 0 && !t->shape))
            return tr_fail(err, "%s: tensor '%s': ndim %d out of range [0, %d]", path, t->name,
                           t->ndim, TR_ST_MAX_DIMS);
        uint64_t numel = 1;
        for (int k = 0; k < t->ndim; k++) {
            if (t->shape[k] < 0)
                return tr_fail(err, "%s: tensor '%s': negative dimension", path, t->name);
            if (t->shape[k] && numel > (uint64_t)INT64_MAX / 8 / (uint64_t)t->shape[k])
                return tr_fail(err, "%s: tensor '%s': shape overflows", path, t->name);
            numel *= (uint64_t)t->shape[k];
        }
        nbytes[i] = numel * tr_dtype_size(t->dtype);
        if (!t->data && !t->f32) return tr_fail(err, "%s: tensor '%s': no data", path, t->name);
        if (!t->data && t->dtype != TR_DT_F32 && t->dtype != TR_DT_BF16 && t->dtype != TR_DT_F64)
            return tr_fail(err, "%s: tensor '%s': float32 source needs dtype F32, BF16 or F64",
                           path, t->name);
    }
    const char **names = calloc((size_t)n + 1, sizeof *names);
    if (!names) return tr_fail(err, "%s: out of memory", path);
    for (int i = 0; i < n; i++) names[i] = ts[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_cstr);
    for (int i = 0; i + 1 < n; i++)
        if (strcmp(names[i], names[i + 1]) == 0) {
            tr_fail(err, "%s: tensor name '%s' given twice", path, names[i]);
            free(names);
            return -1;
        }
    free(names);
    return 0;
}

static int write_tensor_data(FILE *f, const tr_st_write_tensor *t, uint64_t nbytes) {
    if (t->data) return fwrite(t->data, 1, (size_t)nbytes, f) == (size_t)nbytes ? 0 : -1;
    size_t esize = tr_dtype_size(t->dtype), numel = (size_t)(nbytes / esize);
    enum { CHUNK = 16384 };
    unsigned char buf[CHUNK * 8];
    for (size_t i = 0; i < numel; i += CHUNK) {
        size_t m = numel - i < CHUNK ? numel - i : CHUNK;
        const float *x = t->f32 + i;
        for (size_t j = 0; j < m; j++) {
            if (t->dtype == TR_DT_F32)
                memcpy(buf + 4 * j, &x[j], 4);
            else if (t->dtype == TR_DT_BF16) {
                uint16_t h = tr_f32_to_bf16(x[j]);
                memcpy(buf + 2 * j, &h, 2);
            } else {
                double d = x[j];
                memcpy(buf + 8 * j, &d, 8);
            }
        }
        if (fwrite(buf, esize, m, f) != m) return -1;
    }
    return 0;
}

int tr_st_write(const char *path, const tr_st_write_tensor *ts, int n, const char *const *mk,
                const char *const *mv, int n_meta, tr_err *err) {
    if (n < 0 || n_meta < 0) return tr_fail(err, "%s: negative tensor or metadata count", path);
    uint64_t *nbytes = calloc((size_t)n + 1, sizeof *nbytes);
    if (!nbytes) return tr_fail(err, "%s: out of memory", path);
    if (check_write_args(path, ts, n, nbytes, err) != 0) {
        free(nbytes);
        return -1;
    }
    tr_sb h = {0};
    char num[64];
    tr_sb_put(&h, "{");
    if (n_meta > 0) {
        tr_sb_put(&h, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) tr_sb_put(&h, ",");
            sb_json_string(&h, mk[i]);
            tr_sb_put(&h, ":");
            sb_json_string(&h, mv[i]);
        }
        tr_sb_put(&h, "}");
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const tr_st_write_tensor *t = &ts[i];
        if (i || n_meta > 0) tr_sb_put(&h, ",");
        sb_json_string(&h, t->name);
        tr_sb_put(&h, ":{\"dtype\":\"");
        tr_sb_put(&h, tr_dtype_name(t->dtype));
        tr_sb_put(&h, "\",\"shape\":[");
        for (int k = 0; k < t->ndim; k++) {
            snprintf(num, sizeof num, "%s%lld", k ? "," : "", (long long)t->shape[k]);
            tr_sb_put(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + nbytes[i]));
        tr_sb_put(&h, num);
        off += nbytes[i];
    }
    tr_sb_put(&h, "}");
    while (!h.oom && (8 + h.len) % 8 != 0) tr_sb_put(&h, " ");
    if (h.oom) {
        free(h.s);
        free(nbytes);
        return tr_fail(err, "%s: out of memory building the header", path);
    }
    tr_atomic_file af;
    if (tr_atomic_open(&af, path, err) != 0) {
        free(h.s);
        free(nbytes);
        return -1;
    }
    uint64_t hlen = h.len;
    int ok = fwrite(&hlen, 8, 1, af.f) == 1 && fwrite(h.s, 1, h.len, af.f) == h.len;
    for (int i = 0; ok && i < n; i++) ok = write_tensor_data(af.f, &ts[i], nbytes[i]) == 0;
    free(h.s);
    free(nbytes);
    return tr_atomic_commit(&af, ok, err);
}
