/* tinyr1 — distribution across processes: rank/world and collective operations.
 * Built with MPI when OpenMPI is found (TR_HAVE_MPI); otherwise (or when not launched by
 * mpirun) a single process with the same interface. No globals: the context is passed. */
#ifndef TINYR1_DIST_H
#define TINYR1_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "tinyr1/base.h"

typedef struct tr_dist {
    int rank, world;
    int mpi; /* 1 when MPI is initialised and in use */
} tr_dist;

/* A single-process context (rank 0 of 1). */
tr_dist tr_dist_single(void);
/* Initialises MPI if built with it and launched under mpirun (world > 1 possible). */
int tr_dist_init(tr_dist *d, int *argc, char ***argv, tr_err *err);
void tr_dist_finalize(tr_dist *d);
/* Ends the whole job at once (every rank) with exit code `code`: what a rank that failed
 * alone must do, or the others would wait for it in their next collective forever. */
void tr_dist_abort(const tr_dist *d, int code);
/* In-place sums across ranks (no-ops for one process). */
int tr_dist_allreduce_sum_f32(const tr_dist *d, float *buf, size_t n, tr_err *err);
int tr_dist_allreduce_sum_f64(const tr_dist *d, double *buf, size_t n, tr_err *err);
/* Broadcast bytes from rank 0. */
int tr_dist_broadcast(const tr_dist *d, void *buf, size_t bytes, tr_err *err);
int tr_dist_barrier(const tr_dist *d, tr_err *err);
/* Gathers a variable number of bytes from every rank onto rank 0, in rank order: on rank 0
 * *out receives a malloc'd buffer holding rank 0's `bytes` bytes, then rank 1's, ... (total
 * in *out_bytes; counts[r] (may be NULL, else [world]) the bytes of rank r); on the other
 * ranks *out is NULL and *out_bytes 0. One process: a copy of send. Each rank's part must
 * be below 2 GiB (MPI counts are int). */
int tr_dist_gatherv(const tr_dist *d, const void *send, size_t bytes, void **out, size_t *out_bytes,
                    size_t *counts, tr_err *err);
/* The share of n items (problems, examples, groups) that rank `rank` of `world` handles:
 * the contiguous range [*lo, *hi) = [rank n / world, (rank + 1) n / world) (floor), so
 * the ranks' ranges tile [0, n) in rank order and differ in size by at most one. */
void tr_dist_range(int64_t n, int rank, int world, int64_t *lo, int64_t *hi);

#endif
