/* tinyr1 — basics shared by every module: errors, random numbers, time, allocation.
 *
 * Error convention (no module aborts on user input, none calls exit):
 *   a function that can fail returns int: 0 on success, -1 on failure, and fills the
 *   caller's tr_err with one line naming the file, line or field and what was expected.
 *   tr_fail() formats that message and returns -1, so `return tr_fail(err, "...")` reads
 *   naturally. A NULL err is allowed and simply discards the message.
 */
#ifndef TINYR1_BASE_H
#define TINYR1_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TR_VERSION "0.1.0"

typedef struct tr_err {
    char msg[1024];
} tr_err;

#if defined(__GNUC__)
#define TR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TR_PRINTF(a, b)
#endif

/* Formats the message into err (if not NULL) and returns -1. */
int tr_fail(tr_err *err, const char *fmt, ...) TR_PRINTF(2, 3);
/* Prepends "prefix: " to an existing message (adds context on the way up); returns -1. */
int tr_fail_context(tr_err *err, const char *fmt, ...) TR_PRINTF(2, 3);

/* Allocation that reports failure through err; memory is zeroed. Free with free(). */
void *tr_calloc(size_t count, size_t size, tr_err *err);
/* 64-byte aligned allocation (zeroed), for the parameter and activation buffers. */
void *tr_aligned_alloc(size_t bytes, tr_err *err);

/* ---- random numbers -------------------------------------------------------------
 * xoshiro256** seeded through splitmix64: fast, good quality, and its whole state is
 * four words, so checkpoints can store it and a resumed run continues the same stream. */
typedef struct tr_rng {
    uint64_t s[4];
} tr_rng;

void tr_rng_seed(tr_rng *rng, uint64_t seed);
uint64_t tr_rng_next(tr_rng *rng);
/* Uniform in [0, 1) with 24 random bits (float) or 53 (double). */
float tr_rng_uniform(tr_rng *rng);
double tr_rng_uniform_double(tr_rng *rng);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t tr_rng_below(tr_rng *rng, uint64_t n);
/* Standard normal (Box-Muller, one value per call). */
float tr_rng_normal(tr_rng *rng);

/* ---- time ---------------------------------------------------------------------- */
/* Monotonic seconds. */
double tr_now(void);

/* ---- small helpers ------------------------------------------------------------- */
/* Reads a whole file into a NUL-terminated buffer; *len receives the byte count. */
char *tr_read_file(const char *path, size_t *len, tr_err *err);
/* Writes bytes to path atomically: path.tmp is written, fsynced, then renamed over path. */
int tr_write_file_atomic(const char *path, const void *data, size_t len, tr_err *err);
/* The same for a file written in pieces: tr_atomic_open creates PATH.tmp (af->f, binary);
 * the caller writes to af->f, then calls exactly one of:
 *   tr_atomic_commit(af, ok, err): flushes, fsyncs and closes af->f, and renames PATH.tmp
 *     over PATH if ok (the caller's writes succeeded) and no write, flush or close failed;
 *     otherwise removes PATH.tmp (PATH untouched) and fails with
 *     "PATH: write failed (reason); the previous file is untouched";
 *   tr_atomic_abort(af): closes and removes PATH.tmp, keeping the caller's own error. */
typedef struct tr_atomic_file {
    FILE *f;
    char path[4096], tmp[4100];
} tr_atomic_file;
int tr_atomic_open(tr_atomic_file *af, const char *path, tr_err *err);
int tr_atomic_commit(tr_atomic_file *af, int ok, tr_err *err);
void tr_atomic_abort(tr_atomic_file *af);
/* mkdir -p. */
int tr_mkdirs(const char *path, tr_err *err);
/* Threads used by OpenMP loops and BLAS (set once, explicitly). 0 = leave as is. */
void tr_set_threads(int n);
int tr_get_threads(void);

#endif
