/* tr_dist: MPI when built with it and launched with more than one rank, else one process. */
#include "tinyr1/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

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

void tr_dist_range(int64_t n, int rank, int world, int64_t *lo, int64_t *hi) {
    if (world < 1) world = 1;
    *lo = n * rank / world;
    *hi = n * (rank + 1) / world;
}

int tr_dist_gatherv(const tr_dist *d, const void *send, size_t bytes, void **out, size_t *out_bytes,
                    size_t *counts, tr_err *err) {
    *out = NULL;
    *out_bytes = 0;
    if (!d->mpi || d->world <= 1) {
        *out = malloc(bytes ? bytes : 1);
        if (!*out) return tr_fail(err, "gather: out of memory (%zu bytes)", bytes);
        if (bytes) memcpy(*out, send, bytes);
        *out_bytes = bytes;
        if (counts) counts[0] = bytes;
        return 0;
    }
#ifdef TR_HAVE_MPI
    if (bytes > (size_t)INT_MAX)
        return tr_fail(err, "gather: %zu bytes from one rank; at most %d", bytes, INT_MAX);
    int mine = (int)bytes, rc = -1;
    int *cnt = NULL, *displ = NULL;
    if (d->rank == 0) {
        cnt = calloc((size_t)d->world, sizeof *cnt);
        displ = calloc((size_t)d->world, sizeof *displ);
        if (!cnt || !displ) {
            free(cnt), free(displ);
            /* the others are already in the collective: the job must stop */
            return tr_fail(err, "gather: out of memory");
        }
    }
    if (mpi_check(MPI_Gather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather",
                  err))
        goto done;
    char *buf = NULL;
    if (d->rank == 0) {
        size_t total = 0;
        for (int r = 0; r < d->world; r++) {
            if (total > (size_t)INT_MAX - (size_t)cnt[r]) {
                tr_fail(err, "gather: more than %d bytes in all", INT_MAX);
                goto done;
            }
            displ[r] = (int)total;
            total += (size_t)cnt[r];
            if (counts) counts[r] = (size_t)cnt[r];
        }
        buf = malloc(total ? total : 1);
        if (!buf) {
            tr_fail(err, "gather: out of memory (%zu bytes)", total);
            goto done;
        }
        *out = buf;
        *out_bytes = total;
    }
    if (mpi_check(MPI_Gatherv(send, mine, MPI_BYTE, buf, cnt, displ, MPI_BYTE, 0, MPI_COMM_WORLD),
                  "MPI_Gatherv", err))
        goto done;
    rc = 0;
done:
    if (rc != 0 && d->rank == 0) {
        free(*out);
        *out = NULL;
        *out_bytes = 0;
    }
    free(cnt), free(displ);
    return rc;
#else
    return tr_fail(err, "gather: built without MPI");
#endif
}
