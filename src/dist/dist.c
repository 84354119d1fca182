/* tr_dist: MPI when built with it and launched with more than one rank, else one process. */
#include "tinyr1/dist.h"

#include <limits.h>
#include <stdlib.h>

#ifdef TR_HAVE_MPI
#include <mpi.h>
#endif

tr_dist tr_dist_single(void) {
    tr_dist d = {.rank = 0, .world = 1, .mpi = 0};
    return d;
}

int tr_dist_init(tr_dist *d, int *argc, char ***argv, tr_err *err) {
    *d = tr_dist_single();
#ifdef TR_HAVE_MPI
    /* Only when launched by mpirun: a plain run must not need an MPI runtime. */
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK")) {
        int provided = 0;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return tr_fail(err, "MPI_Init failed");
        /* errors return instead of aborting silently, so we can name them */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &d->world);
        d->mpi = 1;
    }
#else
    (void)argc;
    (void)argv;
    (void)err;
#endif
    return 0;
}

void tr_dist_finalize(tr_dist *d) {
#ifdef TR_HAVE_MPI
    if (d->mpi) MPI_Finalize();
#endif
    d->mpi = 0;
}

void tr_dist_abort(const tr_dist *d, int code) {
#ifdef TR_HAVE_MPI
    if (d->mpi && d->world > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)d;
    (void)code;
#endif
}

#ifdef TR_HAVE_MPI
static int mpi_check(int rc, const char *what, tr_err *err) {
    if (rc == MPI_SUCCESS) return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return tr_fail(err, "%s failed: %s (a rank may have died; the job stops)", what, msg);
}
/* MPI counts are int: large buffers go in chunks. */
#define CHUNK ((size_t)1 << 28)
#endif

#ifdef TR_HAVE_MPI
/* In-place sum of n elements of `type` (elem bytes each), in int-sized chunks. */
static int allreduce_sum(const tr_dist *d, void *buf, size_t n, MPI_Datatype type, size_t elem,
                         tr_err *err) {
    if (!d->mpi || d->world <= 1) return 0;
    for (size_t i = 0; i < n; i += CHUNK) {
        int cnt = (int)(n - i < CHUNK ? n - i : CHUNK);
        if (mpi_check(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * elem, cnt, type, MPI_SUM,
                                    MPI_COMM_WORLD), "MPI_Allreduce", err))
            return -1;
    }
    return 0;
}
#endif

int tr_dist_allreduce_sum_f32(const tr_dist *d, float *buf, size_t n, tr_err *err) {
#ifdef TR_HAVE_MPI
    return allreduce_sum(d, buf, n, MPI_FLOAT, sizeof *buf, err);
#else
    (void)d, (void)buf, (void)n, (void)err;
    return 0;
#endif
}

int tr_dist_allreduce_sum_f64(const tr_dist *d, double *buf, size_t n, tr_err *err) {
#ifdef TR_HAVE_MPI
    return allreduce_sum(d, buf, n, MPI_DOUBLE, sizeof *buf, err);
#else
    (void)d, (void)buf, (void)n, (void)err;
    return 0;
#endif
}

int tr_dist_broadcast(const tr_dist *d, void *buf, size_t bytes, tr_err *err) {
#ifdef TR_HAVE_MPI
    if (d->mpi && d->world > 1)
        for (size_t i = 0; i < bytes; i += CHUNK) {
            int cnt = (int)(bytes - i < CHUNK ? bytes - i : CHUNK);
            if (mpi_check(MPI_Bcast((char *)buf + i, cnt, MPI_BYTE, 0, MPI_COMM_WORLD),
                          "MPI_Bcast", err))
                return -1;
        }
#else
    (void)d, (void)buf, (void)bytes, (void)err;
#endif
    return 0;
}

int tr_dist_barrier(const tr_dist *d, tr_err *err) {
#ifdef TR_HAVE_MPI
    if (d->mpi && d->world > 1) return mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier", err);
#else
    (void)d, (void)err;
#endif
    return 0;
}
