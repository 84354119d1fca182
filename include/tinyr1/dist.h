/* tinyr1 — distribution across processes: rank/world and collective operations.
 * Built with MPI when OpenMPI is found (TR_HAVE_MPI); otherwise (or when not launched by
 * mpirun) a single process with the same interface. No globals: the context is passed. */
#ifndef TINYR1_DIST_H
#define TINYR1_DIST_H

#include <stddef.h>

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

#endif
