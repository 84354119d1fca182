#include "tinyr1/base.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tr_fail(tr_err *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int tr_fail_context(tr_err *err, const char *fmt, ...) {
    if (!err) return -1;
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n + 2 < sizeof err->msg) {
        size_t used = (size_t)n, room = sizeof err->msg - used;
        memcpy(err->msg + used, ": ", 2);
        memcpy(err->msg + used + 2, old, room - 2);
        err->msg[sizeof err->msg - 1] = '\0';
    }
    return -1;
}

void *tr_calloc(size_t count, size_t size, tr_err *err) {
    if (count == 0 || size == 0) count = size = 1;
    void *p = calloc(count, size);
    if (!p) tr_fail(err, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *tr_aligned_alloc(size_t bytes, tr_err *err) {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void *p = NULL;
    if (posix_memalign(&p, 64, rounded) != 0) {
        tr_fail(err, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void tr_rng_seed(tr_rng *rng, uint64_t seed) {
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tr_rng_next(tr_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float tr_rng_uniform(tr_rng *rng) { return (float)(tr_rng_next(rng) >> 40) * (1.0f / 16777216.0f); }

double tr_rng_uniform_double(tr_rng *rng) {
    return (double)(tr_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t tr_rng_below(tr_rng *rng, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t x;
    do x = tr_rng_next(rng);
    while (x >= limit);
    return x % n;
}

float tr_rng_normal(tr_rng *rng) {
    double u1 = tr_rng_uniform_double(rng), u2 = tr_rng_uniform_double(rng);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

double tr_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *tr_read_file(const char *path, size_t *len, tr_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        cap *= 2;
        char *bigger = realloc(buf, cap + 1);
        if (!bigger) free(buf);
        buf = bigger;
    }
    int read_error = ferror(f);
    fclose(f);
    if (!buf) {
        tr_fail(err, "%s: out of memory reading the file", path);
        return NULL;
    }
    if (read_error) {
        free(buf);
        tr_fail(err, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int tr_atomic_open(tr_atomic_file *af, const char *path, tr_err *err) {
    af->f = NULL;
    if (strlen(path) >= sizeof af->path) return tr_fail(err, "%s: path too long", path);
    memcpy(af->path, path, strlen(path) + 1);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp", path);
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return tr_fail(err, "%s: cannot create: %s", af->tmp, strerror(errno));
    return 0;
}

int tr_atomic_commit(tr_atomic_file *af, int ok, tr_err *err) {
    int good = ok && !ferror(af->f) && fflush(af->f) == 0 && fsync(fileno(af->f)) == 0;
    int saved = errno;
    if (fclose(af->f) != 0 && good) {
        good = 0;
        saved = errno;
    }
    af->f = NULL;
    if (!good) {
        remove(af->tmp);
        return tr_fail(err, "%s: write failed (%s); the previous file is untouched", af->path,
                       strerror(saved ? saved : EIO));
    }
    if (rename(af->tmp, af->path) != 0) {
        saved = errno;
        remove(af->tmp);
        return tr_fail(err, "%s: rename failed: %s", af->path, strerror(saved));
    }
    return 0;
}

void tr_atomic_abort(tr_atomic_file *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    remove(af->tmp);
}

int tr_write_file_atomic(const char *path, const void *data, size_t len, tr_err *err) {
    tr_atomic_file af;
    if (tr_atomic_open(&af, path, err) != 0) return -1;
    return tr_atomic_commit(&af, fwrite(data, 1, len, af.f) == len, err);
}

int tr_mkdirs(const char *path, tr_err *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0) return 0;
    if (n >= sizeof buf) return tr_fail(err, "%s: path too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return tr_fail(err, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    return 0;
}

void tr_set_threads(int n) {
    if (n > 0) omp_set_num_threads(n);
}

int tr_get_threads(void) { return omp_get_max_threads(); }
