/* The offline top-K teacher cache (include/tinyr1/distill.h has the file layout). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tinyr1/distill.h"
#include "tinyr1/io.h"

#define KDC_MAGIC "TR1KDCAC"
#define KDC_VERSION 1u
#define KDC_HEADER 128u
#define FNV_INIT 0xcbf29ce484222325ULL

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static void put_id(uint8_t *p, uint32_t id, int nb) {
    for (int i = 0; i < nb; i++) p[i] = (uint8_t)(id >> (8 * i));
}
static uint32_t get_id(const uint8_t *p, int nb) {
    uint32_t v = 0;
    for (int i = 0; i < nb; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

const char *tr_kdc_dtype_name(tr_kdc_dtype dt) {
    switch (dt) {
    case TR_KDC_F32:
        return "f32";
    case TR_KDC_F16:
        return "f16";
    case TR_KDC_BF16:
        return "bf16";
    }
    return "?";
}

int tr_kdc_dtype_parse(tr_kdc_dtype *dt, const char *name, tr_err *err) {
    if (strcmp(name, "f32") == 0)
        *dt = TR_KDC_F32;
    else if (strcmp(name, "f16") == 0)
        *dt = TR_KDC_F16;
    else if (strcmp(name, "bf16") == 0)
        *dt = TR_KDC_BF16;
    else
        return tr_fail(err, "cache dtype '%s': expected f32, f16 or bf16", name);
    return 0;
}

static size_t dtype_bytes(tr_kdc_dtype dt) {
    return dt == TR_KDC_F32 ? 4 : 2;
}

uint16_t tr_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ex = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (ex == 0xffu) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0));
    int e = (int)ex - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u); /* overflow: inf */
    if (e <= 0) {                                   /* subnormal or zero */
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* may carry into the exponent */
    return (uint16_t)h;
}

static void put_lp(uint8_t *p, float v, tr_kdc_dtype dt) {
    if (dt == TR_KDC_F32) {
        uint32_t x;
        memcpy(&x, &v, 4);
        put_u32(p, x);
    } else {
        uint16_t h = dt == TR_KDC_F16 ? tr_f32_to_f16(v) : tr_f32_to_bf16(v);
        p[0] = (uint8_t)h;
        p[1] = (uint8_t)(h >> 8);
    }
}

static float get_lp(const uint8_t *p, tr_kdc_dtype dt) {
    if (dt == TR_KDC_F32) {
        uint32_t x = get_u32(p);
        float f;
        memcpy(&f, &x, 4);
        return f;
    }
    uint16_t h = (uint16_t)(p[0] | (p[1] << 8));
    return dt == TR_KDC_F16 ? tr_f16_to_f32(h) : tr_bf16_to_f32(h);
}

tr_kd_cache_params tr_kd_cache_default_params(void) {
    tr_kd_cache_params p = {
        .K = 8, .temperature = 1.0, .dtype = TR_KDC_F16, .max_len = 0, .batch = 8, .dist = NULL};
    return p;
}

static int id_bytes_for(int V) {
    return V <= 65536 ? 2 : (V <= (1 << 24) ? 3 : 4);
}

/* First trained position of an example with P prompt tokens. */
static int64_t first_pos(int64_t P) {
    return (P > 1 ? P : 1) - 1;
}
static int64_t n_pos(int64_t n, int64_t P) {
    int64_t c = n - (P > 1 ? P : 1);
    return c > 0 ? c : 0;
}

/* Examples as cut to max_len tokens: (n, P). */
static void cut(const tr_sft_example *e, int max_len, int64_t *n, int64_t *P) {
    *n = e->n < max_len ? e->n : max_len;
    *P = e->n_prompt < *n ? e->n_prompt : *n;
}

static uint64_t hash_example(uint64_t h, int64_t n, int64_t P, const int32_t *ids, int nb) {
    uint8_t b[8];
    put_u32(b, (uint32_t)n);
    put_u32(b + 4, (uint32_t)P);
    h = fnv1a(h, b, 8);
    for (int64_t i = 0; i < n; i++) {
        put_id(b, (uint32_t)ids[i], nb);
        h = fnv1a(h, b, (size_t)nb);
    }
    return h;
}

uint64_t tr_kd_cache_hash_set(const tr_sft_set *set, int max_len) {
    /* ids are hashed as 4 bytes here and in the file's check, whatever the stored width */
    uint64_t h = FNV_INIT;
    for (int64_t i = 0; i < set->n; i++) {
        int64_t n, P;
        cut(&set->ex[i], max_len, &n, &P);
        h = hash_example(h, n, P, set->ex[i].ids, 4);
    }
    return h;
}

typedef struct {
    FILE *f;
    uint64_t sum;
    const char *path;
} wr;

/* Ranks other than 0 have no file (w->f NULL): their writes are no-ops. */
static int wr_bytes(wr *w, const void *p, size_t n, tr_err *err) {
    if (!w->f) return 0;
    if (n && fwrite(p, 1, n, w->f) != n)
        return tr_fail(err, "%s: write failed: %s", w->path, strerror(errno));
    w->sum = fnv1a(w->sum, p, n);
    return 0;
}

int tr_kd_cache_write(const char *path, const tr_model *teacher, int V, const tr_sft_set *set,
                      const tr_kd_cache_params *p, int64_t *bytes,
                      void (*progress)(void *ctx, int64_t done, int64_t total), void *progress_ctx,
                      tr_err *err) {
    const int Vt = teacher->cfg.vocab;
    int max_len = p->max_len > 0 ? p->max_len : teacher->cfg.max_seq;
    if (V <= 0 || V > Vt)
        return tr_fail(err, "kd cache: V = %d, expected 1..%d (the teacher's rows)", V, Vt);
    if (p->K < 1 || p->K > V) return tr_fail(err, "kd cache: K = %d, expected 1..%d", p->K, V);
    if (!(p->temperature > 0) || !isfinite(p->temperature))
        return tr_fail(err, "kd cache: temperature %g, expected > 0", p->temperature);
    if (max_len < 2 || max_len > teacher->cfg.max_seq + 1)
        return tr_fail(err, "kd cache: max_len %d, expected 2..%d (the teacher's max_seq + 1)",
                       max_len, teacher->cfg.max_seq + 1);
    if (set->n <= 0) return tr_fail(err, "kd cache: no examples");
    if (p->dtype != TR_KDC_F32 && p->dtype != TR_KDC_F16 && p->dtype != TR_KDC_BF16)
        return tr_fail(err, "kd cache: unknown dtype %d", (int)p->dtype);
    const tr_dist one = tr_dist_single(), *dist = p->dist ? p->dist : &one;
    const int writer = dist->rank == 0; /* the other ranks only compute records */
    const int K = p->K, nb = id_bytes_for(V), B = p->batch > 0 ? p->batch : 8;
    const size_t lpb = dtype_bytes(p->dtype);
    const size_t rec = (size_t)K * (size_t)nb + (size_t)(K + 1) * lpb;
    int64_t n_tokens = 0, n_positions = 0;
    for (int64_t i = 0; i < set->n; i++) {
        int64_t n, P;
        cut(&set->ex[i], max_len, &n, &P);
        for (int64_t t = 0; t < n; t++)
            if (set->ex[i].ids[t] < 0 || set->ex[i].ids[t] >= V)
                return tr_fail(err, "kd cache: example %lld: token %d outside [0, %d)",
                               (long long)i, set->ex[i].ids[t], V);
        n_tokens += n;
        n_positions += n_pos(n, P);
    }
    /* The forward runs T = max_len - 1 positions at most (the last token is only a target). */
    const int Tmax = max_len - 1;
    tr_activations *acts = NULL;
    int32_t *tok = NULL, *ids = NULL;
    float *lps = NULL, *rest = NULL;
    uint8_t *recbuf = NULL;
    tr_atomic_file af = {0};
    if (writer && tr_atomic_open(&af, path, err) != 0) return -1;
    const char *tmp = af.tmp;
    wr w = {af.f, FNV_INIT, tmp};
    int rc = -1;
    const int64_t chunk = p->logits_chunk > 0
                              ? p->logits_chunk
                              : tr_logits_chunk_rows((int64_t)B * Tmax, Vt, 0);
    if (tr_activations_init_rows(&acts, &teacher->cfg, B, Tmax, chunk, err) != 0) goto done;
    tok = tr_calloc((size_t)B * (size_t)Tmax, sizeof *tok, err);
    ids = tr_calloc((size_t)Tmax * (size_t)K, sizeof *ids, err);
    lps = tr_calloc((size_t)Tmax * (size_t)K, sizeof *lps, err);
    rest = tr_calloc((size_t)Tmax, sizeof *rest, err);
    recbuf = tr_calloc((size_t)B * (size_t)Tmax, rec, err);
    if (!tok || !ids || !lps || !rest || !recbuf) goto done;
    uint8_t hdr[KDC_HEADER] = {0};
    if (writer && fwrite(hdr, 1, sizeof hdr, w.f) != sizeof hdr) {
        tr_fail(err, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    uint64_t seq_hash = FNV_INIT;
    for (int64_t i = 0; i < set->n; i++) {
        int64_t n, P;
        cut(&set->ex[i], max_len, &n, &P);
        uint8_t b[8];
        put_u32(b, (uint32_t)n);
        put_u32(b + 4, (uint32_t)P);
        if (wr_bytes(&w, b, 8, err) != 0) goto done;
    }
    for (int64_t i = 0; i < set->n; i++) {
        int64_t n, P;
        cut(&set->ex[i], max_len, &n, &P);
        seq_hash = hash_example(seq_hash, n, P, set->ex[i].ids, 4);
        for (int64_t t = 0; t < n; t++) {
            uint8_t b[4];
            put_id(b, (uint32_t)set->ex[i].ids[t], nb);
            if (wr_bytes(&w, b, (size_t)nb, err) != 0) goto done;
        }
    }
    /* Batch b of B examples (in index order) is scored by rank b % W; in each round of W
     * batches rank 0 gathers the records in rank order = batch order and writes them, so
     * the file is the one a single process writes, byte for byte. */
    const int64_t n_batches = (set->n + B - 1) / B;
    for (int64_t round = 0; round * dist->world < n_batches; round++) {
        const int64_t bi = round * dist->world + dist->rank, i0 = bi * B;
        size_t used = 0; /* bytes of records in recbuf */
        const int nb_rows = bi < n_batches ? (int)(set->n - i0 < B ? set->n - i0 : B) : 0;
        int T = 1;
        for (int r = 0; r < nb_rows; r++) {
            int64_t n, P;
            cut(&set->ex[i0 + r], max_len, &n, &P);
            if (n - 1 > T) T = (int)(n - 1);
        }
        for (int r = 0; r < nb_rows; r++) {
            int64_t n, P;
            cut(&set->ex[i0 + r], max_len, &n, &P);
            for (int t = 0; t < T; t++) tok[(size_t)r * T + t] = t < n ? set->ex[i0 + r].ids[t] : 0;
        }
        /* the teacher's logits in chunks of positions (model.h): rows [c0, c0 + nc) of the
         * nb_rows x T batch; each example's trained positions inside the chunk become its
         * next records (chunks go in row order, so records stay in example, position order) */
        if (nb_rows && !tr_model_forward_hidden(teacher, acts, tok, nb_rows, T)) {
            tr_fail(err, "kd cache: batch %d x %d larger than the arena", nb_rows, T);
            goto done;
        }
        int64_t C;
        float *logits = tr_activations_logits(acts, &C);
        for (int64_t c0 = 0; c0 < (int64_t)nb_rows * T; c0 += C) {
            const int64_t nc = (int64_t)nb_rows * T - c0 < C ? (int64_t)nb_rows * T - c0 : C;
            tr_model_logits_rows(teacher, acts, logits, c0, nc);
            for (int64_t r = c0 / T; r <= (c0 + nc - 1) / T; r++) {
                int64_t n, P;
                cut(&set->ex[i0 + r], max_len, &n, &P);
                int64_t a = r * T + first_pos(P), b = a + n_pos(n, P);
                a = a > c0 ? a : c0;
                b = b < c0 + nc ? b : c0 + nc;
                if (a >= b) continue;
                const int64_t np = b - a;
                if (tr_kd_topk_from_logits(ids, lps, rest, logits + (size_t)(a - c0) * Vt, np, Vt,
                                           V, K, p->temperature, err) != 0) {
                    tr_fail_context(err, "kd cache: example %lld", (long long)(i0 + r));
                    goto done;
                }
                for (int64_t k = 0; k < np; k++) {
                    uint8_t *q = recbuf + used + k * rec;
                    for (int j = 0; j < K; j++) put_id(q + j * nb, (uint32_t)ids[k * K + j], nb);
                    q += (size_t)K * nb;
                    for (int j = 0; j < K; j++) put_lp(q + j * lpb, lps[k * K + j], p->dtype);
                    put_lp(q + (size_t)K * lpb, rest[k], p->dtype);
                }
                used += (size_t)np * rec;
            }
        }
        if (dist->world == 1) {
            if (wr_bytes(&w, recbuf, used, err) != 0) goto done;
        } else {
            void *all = NULL;
            size_t all_len = 0;
            if (tr_dist_gatherv(dist, recbuf, used, &all, &all_len, NULL, err) != 0) goto done;
            int wrc = wr_bytes(&w, all, all_len, err);
            free(all);
            if (wrc != 0) goto done;
        }
        int64_t done_n = (round + 1) * dist->world * B;
        if (progress) progress(progress_ctx, done_n < set->n ? done_n : set->n, set->n);
    }
    if (bytes)
        *bytes = (int64_t)KDC_HEADER + 8 * set->n + n_tokens * nb + n_positions * (int64_t)rec;
    if (!writer) {
        rc = 0;
        goto done;
    }
    memcpy(hdr, KDC_MAGIC, 8);
    put_u32(hdr + 8, KDC_VERSION);
    put_u32(hdr + 12, KDC_HEADER);
    put_u32(hdr + 16, (uint32_t)K);
    put_u32(hdr + 20, (uint32_t)V);
    put_u32(hdr + 24, (uint32_t)nb);
    put_u32(hdr + 28, (uint32_t)p->dtype);
    uint64_t tbits;
    memcpy(&tbits, &p->temperature, 8);
    put_u64(hdr + 32, tbits);
    put_u64(hdr + 40, (uint64_t)set->n);
    put_u64(hdr + 48, (uint64_t)n_tokens);
    put_u64(hdr + 56, (uint64_t)n_positions);
    put_u32(hdr + 64, (uint32_t)max_len);
    put_u64(hdr + 72, seq_hash);
    put_u64(hdr + 80, w.sum);
    if (fseek(w.f, 0, SEEK_SET) != 0 || fwrite(hdr, 1, sizeof hdr, w.f) != sizeof hdr) {
        tr_fail(err, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (writer && rc == 0) rc = tr_atomic_commit(&af, 1, err); /* fsync, rename over path */
    else if (writer) tr_atomic_abort(&af);
    tr_activations_free(acts);
    free(tok);
    free(ids);
    free(lps);
    free(rest);
    free(recbuf);
    return rc;
}

void tr_kd_cache_close(tr_kd_cache *c) {
    if (c->base) {
        if (c->mapped)
            munmap((void *)c->base, c->file_bytes);
        else
            free((void *)c->base);
    }
    free(c->tok_off);
    free(c->pos_off);
    memset(c, 0, sizeof *c);
}

/* a * b + c without overflow past 2^62; -1 when it would */
static int64_t mul_add(int64_t a, int64_t b, int64_t c) {
    const int64_t lim = (int64_t)1 << 62;
    if (a < 0 || b < 0 || c < 0) return -1;
    if (a != 0 && b > (lim - c) / a) return -1;
    return a * b + c;
}

int tr_kd_cache_open(tr_kd_cache *c, const char *path, tr_err *err) {
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tr_fail(err, "%s: not a regular file", path);
    }
    c->file_bytes = (size_t)sb.st_size;
    if (c->file_bytes < KDC_HEADER) {
        close(fd);
        return tr_fail(err, "%s: %zu bytes, too short for a KD cache header (%u bytes)", path,
                       c->file_bytes, KDC_HEADER);
    }
    void *m = mmap(NULL, c->file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
        c->base = m;
        c->mapped = 1;
    } else {
        uint8_t *buf = malloc(c->file_bytes);
        size_t got = 0;
        while (buf && got < c->file_bytes) {
            ssize_t r = read(fd, buf + got, c->file_bytes - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (!buf || got != c->file_bytes) {
            free(buf);
            close(fd);
            memset(c, 0, sizeof *c);
            return tr_fail(err, "%s: cannot read", path);
        }
        c->base = buf;
    }
    close(fd);
    const uint8_t *h = c->base;
    int rc = -1;
    if (memcmp(h, KDC_MAGIC, 8) != 0) {
        tr_fail(err,
                "%s: not a tinyr1 KD cache (magic %s expected; make one with "
                "`tinyr1 distill cache`)",
                path, KDC_MAGIC);
        goto fail;
    }
    uint32_t version = get_u32(h + 8), hb = get_u32(h + 12);
    if (version != KDC_VERSION) {
        tr_fail(err, "%s: format version %u, this program reads version %u", path, version,
                KDC_VERSION);
        goto fail;
    }
    if (hb != KDC_HEADER) {
        tr_fail(err, "%s: header bytes %u, expected %u", path, hb, KDC_HEADER);
        goto fail;
    }
    uint32_t K = get_u32(h + 16), V = get_u32(h + 20), nb = get_u32(h + 24), dt = get_u32(h + 28);
    uint64_t tbits = get_u64(h + 32);
    memcpy(&c->temperature, &tbits, 8);
    uint64_t n_ex = get_u64(h + 40), n_tok = get_u64(h + 48), n_posn = get_u64(h + 56);
    uint32_t max_len = get_u32(h + 64), res0 = get_u32(h + 68);
    c->seq_hash = get_u64(h + 72);
    c->checksum = get_u64(h + 80);
    for (int i = 88; i < (int)KDC_HEADER; i++)
        if (h[i]) {
            tr_fail(err, "%s: reserved header byte %d is %u, expected 0", path, i, h[i]);
            goto fail;
        }
    if (res0) {
        tr_fail(err, "%s: reserved field at offset 68 is %u, expected 0", path, res0);
        goto fail;
    }
    if (V < 1 || V > (1u << 30)) {
        tr_fail(err, "%s: V = %u, expected 1..2^30", path, V);
        goto fail;
    }
    if (K < 1 || K > V) {
        tr_fail(err, "%s: K = %u, expected 1..V (%u)", path, K, V);
        goto fail;
    }
    if ((int)nb != id_bytes_for((int)V)) {
        tr_fail(err, "%s: id bytes %u, expected %d for V = %u", path, nb, id_bytes_for((int)V), V);
        goto fail;
    }
    if (dt > TR_KDC_BF16) {
        tr_fail(err, "%s: log-prob dtype %u, expected 0 (f32), 1 (f16) or 2 (bf16)", path, dt);
        goto fail;
    }
    if (!(c->temperature > 0) || !isfinite(c->temperature)) {
        tr_fail(err, "%s: temperature %g, expected a finite number > 0", path, c->temperature);
        goto fail;
    }
    if (max_len < 2 || max_len > (1u << 24)) {
        tr_fail(err, "%s: max_len %u, expected 2..2^24", path, max_len);
        goto fail;
    }
    if (n_ex < 1 || n_ex > ((uint64_t)1 << 40) || n_tok > ((uint64_t)1 << 50) || n_posn > n_tok) {
        tr_fail(err,
                "%s: counts n_examples %llu, n_tokens %llu, n_positions %llu are not "
                "consistent",
                path, (unsigned long long)n_ex, (unsigned long long)n_tok,
                (unsigned long long)n_posn);
        goto fail;
    }
    c->K = (int)K;
    c->V = (int)V;
    c->id_bytes = (int)nb;
    c->dtype = (tr_kdc_dtype)dt;
    c->n_examples = (int64_t)n_ex;
    c->n_tokens = (int64_t)n_tok;
    c->n_positions = (int64_t)n_posn;
    c->max_len = (int)max_len;
    c->record_bytes = (size_t)K * nb + (size_t)(K + 1) * dtype_bytes(c->dtype);
    int64_t want = mul_add(c->n_examples, 8, KDC_HEADER);
    if (want >= 0) want = mul_add(c->n_tokens, nb, want);
    if (want >= 0) want = mul_add(c->n_positions, (int64_t)c->record_bytes, want);
    if (want < 0 || (uint64_t)want != (uint64_t)c->file_bytes) {
        tr_fail(err, "%s: %zu bytes, but the header describes %lld (truncated or corrupt)", path,
                c->file_bytes, (long long)want);
        goto fail;
    }
    if (fnv1a(FNV_INIT, h + KDC_HEADER, c->file_bytes - KDC_HEADER) != c->checksum) {
        tr_fail(err, "%s: checksum mismatch: the data is corrupt", path);
        goto fail;
    }
    c->table = h + KDC_HEADER;
    c->tokens = c->table + 8 * c->n_examples;
    c->entries = c->tokens + (size_t)c->n_tokens * nb;
    c->tok_off = malloc((size_t)c->n_examples * sizeof *c->tok_off);
    c->pos_off = malloc((size_t)c->n_examples * sizeof *c->pos_off);
    if (!c->tok_off || !c->pos_off) {
        tr_fail(err, "%s: out of memory", path);
        goto fail;
    }
    int64_t tsum = 0, psum = 0;
    uint64_t hash = FNV_INIT;
    for (int64_t i = 0; i < c->n_examples; i++) {
        int64_t n = get_u32(c->table + 8 * i), P = get_u32(c->table + 8 * i + 4);
        if (n < 1 || n > c->max_len || P > n) {
            tr_fail(err,
                    "%s: example %lld: %lld tokens and %lld prompt tokens, expected "
                    "1 <= n <= max_len (%d) and prompt <= n",
                    path, (long long)i, (long long)n, (long long)P, c->max_len);
            goto fail;
        }
        if (tsum + n > c->n_tokens) {
            tr_fail(err, "%s: example %lld runs past n_tokens %lld", path, (long long)i,
                    (long long)c->n_tokens);
            goto fail;
        }
        c->tok_off[i] = tsum;
        c->pos_off[i] = psum;
        uint8_t b[8];
        put_u32(b, (uint32_t)n);
        put_u32(b + 4, (uint32_t)P);
        hash = fnv1a(hash, b, 8);
        for (int64_t t = 0; t < n; t++) {
            uint32_t id = get_id(c->tokens + (size_t)(tsum + t) * nb, (int)nb);
            if (id >= V) {
                tr_fail(err, "%s: example %lld, token %lld: id %u outside [0, %u)", path,
                        (long long)i, (long long)t, id, V);
                goto fail;
            }
            put_id(b, id, 4);
            hash = fnv1a(hash, b, 4);
        }
        tsum += n;
        psum += n_pos(n, P);
    }
    if (tsum != c->n_tokens || psum != c->n_positions) {
        tr_fail(err,
                "%s: the examples hold %lld tokens and %lld positions, the header says "
                "%lld and %lld",
                path, (long long)tsum, (long long)psum, (long long)c->n_tokens,
                (long long)c->n_positions);
        goto fail;
    }
    if (hash != c->seq_hash) {
        tr_fail(err, "%s: sequence hash mismatch", path);
        goto fail;
    }
    rc = 0;
fail:
    if (rc != 0) tr_kd_cache_close(c);
    return rc;
}

int tr_kd_cache_to_set(const tr_kd_cache *c, tr_sft_set *set, tr_err *err) {
    for (int64_t i = 0; i < c->n_examples; i++) {
        int64_t n = get_u32(c->table + 8 * i), P = get_u32(c->table + 8 * i + 4);
        if (set->n == set->cap) {
            int64_t cap = set->cap ? set->cap * 2 : 256;
            tr_sft_example *ex = realloc(set->ex, (size_t)cap * sizeof *ex);
            if (!ex) return tr_fail(err, "out of memory");
            set->ex = ex;
            set->cap = cap;
        }
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        if (!ids) return tr_fail(err, "out of memory");
        for (int64_t t = 0; t < n; t++)
            ids[t] =
                (int32_t)get_id(c->tokens + (size_t)(c->tok_off[i] + t) * c->id_bytes, c->id_bytes);
        set->ex[set->n++] = (tr_sft_example){ids, P, n};
        set->n_tokens += n;
        set->n_trained += n - P;
    }
    set->perm_epoch = -1;
    return 0;
}

int tr_kd_cache_rows(const tr_kd_cache *c, int64_t ex, int64_t t0, int64_t n, int32_t *ids,
                     float *logprobs, float *rest, tr_err *err) {
    if (ex < 0 || ex >= c->n_examples)
        return tr_fail(err, "%s: example %lld outside [0, %lld)", c->path, (long long)ex,
                       (long long)c->n_examples);
    int64_t len = get_u32(c->table + 8 * ex), P = get_u32(c->table + 8 * ex + 4);
    int64_t f = first_pos(P), np = n_pos(len, P);
    if (n < 0 || t0 < f || t0 + n > f + np)
        return tr_fail(err,
                       "%s: example %lld: positions %lld..%lld are not all trained "
                       "positions (%lld..%lld)",
                       c->path, (long long)ex, (long long)t0, (long long)(t0 + n - 1), (long long)f,
                       (long long)(f + np - 1));
    const int K = c->K, nb = c->id_bytes;
    const size_t lpb = dtype_bytes(c->dtype);
    const uint8_t *q0 = c->entries + (size_t)(c->pos_off[ex] + (t0 - f)) * c->record_bytes;
    for (int64_t k = 0; k < n; k++) {
        const uint8_t *q = q0 + (size_t)k * c->record_bytes;
        for (int j = 0; j < K; j++) {
            uint32_t id = get_id(q + (size_t)j * nb, nb);
            if (id >= (uint32_t)c->V)
                return tr_fail(err, "%s: example %lld, position %lld: id %u outside [0, %d)",
                               c->path, (long long)ex, (long long)(t0 + k), id, c->V);
            ids[k * K + j] = (int32_t)id;
        }
        q += (size_t)K * nb;
        for (int j = 0; j < K; j++) logprobs[k * K + j] = get_lp(q + (size_t)j * lpb, c->dtype);
        rest[k] = get_lp(q + (size_t)K * lpb, c->dtype);
    }
    return 0;
}
