/* Data-parallel scaling: pretraining steps (random tokens, the CE objective, AdamW) with the
 * same GLOBAL batch on 1 process and on N ranks under mpirun (one thread per rank), measured
 * in the same run. Prints per config
 *   bench dist <name> ranks=1 tok_s=... step_s=...
 *   bench dist <name> ranks=N tok_s=... step_s=... efficiency=... allreduce_s_per_step=...
 *       allreduce_share=... allreduce_bytes_per_step=...
 * efficiency = tok_s(N) / (N tok_s(1)) (strong scaling: the global batch is fixed);
 * allreduce_s_per_step: the mean over ranks of the seconds each spent inside MPI_Allreduce
 * per step (waiting for the slowest rank included); allreduce_bytes_per_step: the payload
 * each rank allreduces per step (4 x params + 64). docs/mpi.md projects the network time.
 * Usage: bench_dist [--threads N (ignored: one thread per rank)] [--ranks N] [--configs ab]
 *                   [--steps S]
 * Run by itself it is the driver; it starts `mpirun -np N <itself> --worker ...`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tinyr1.h"

/* configs a and b of bench_train (the batch is the global one) */
typedef struct {
    const char *name;
    int dim, layers, heads, vocab, seq, batch;
} bench_config;
static const bench_config configs[] = {{"a", 128, 4, 4, 512, 256, 16},
                                       {"b", 256, 6, 8, 4096, 256, 8}};

typedef struct {
    double tok_s, step_s, ar_s, ar_s_max, ar_bytes;
} bench_result;

/* Trains `steps` steps (after 2 warm-up steps) on this rank's rows of a random global batch. */
static int run(const bench_config *bc, int steps, const tr_dist *d, bench_result *r) {
    tr_err err;
    memset(r, 0, sizeof *r);
    tr_config c = tr_config_default(); /* RoPE 10000, RMSNorm eps 1e-5 */
    c.vocab = bc->vocab, c.dim = bc->dim, c.n_layers = bc->layers, c.max_seq = bc->seq;
    c.n_heads = c.n_kv_heads = bc->heads;
    c.hidden_dim = tr_hidden_dim_llama(bc->dim, 256);
    if (bc->batch % d->world != 0) {
        fprintf(stderr, "bench_dist: batch %d is not a multiple of %d ranks\n", bc->batch,
                d->world);
        return -1;
    }
    const int B = bc->batch / d->world;
    tr_model m;
    if (tr_model_init(&m, &c, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    tr_model_init_random(&m, 1, 0.02f);
    tr_batch b;
    tr_batch_alloc(&b, B, bc->seq, &err);
    tr_rng rng;
    tr_rng_seed(&rng, 2 + (uint64_t)d->rank);
    for (int i = 0; i < B * bc->seq; i++) {
        b.tokens[i] = (int32_t)tr_rng_below(&rng, (uint64_t)bc->vocab);
        b.targets[i] = (int32_t)tr_rng_below(&rng, (uint64_t)bc->vocab);
        b.weights[i] = 1.0f;
    }
    tr_lr_schedule s = {TR_SCHEDULE_CONSTANT, 1e-4f, 1e-4f, 0, 1000};
    tr_trainer t;
    if (tr_trainer_init(&t, &m, tr_adamw_default_params(), NULL, s, 1.0f, B, bc->seq, *d, &err) !=
        0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    tr_objective ce = tr_objective_ce();
    tr_step_stats st;
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) rc = tr_trainer_step(&t, &b, 1, &ce, &st, &err);
    if (rc == 0) rc = tr_dist_barrier(d, &err);
    double t0 = tr_now(), ar = 0;
    for (int i = 0; i < steps && rc == 0; i++) {
        rc = tr_trainer_step(&t, &b, 1, &ce, &st, &err);
        ar += st.comm_seconds;
        r->ar_bytes = st.comm_bytes;
    }
    double elapsed = tr_now() - t0;
    if (rc != 0) fprintf(stderr, "bench_dist: %s\n", err.msg);
    /* the job's figures: the slowest rank's time, the mean and max allreduce time */
    double v[3] = {ar, 0, 0};
    if (rc == 0) rc = tr_dist_allreduce_sum_f64(d, v, 1, &err);
    double mx[2] = {elapsed, ar};
    /* max through a gather (tr_dist has sums only) */
    void *all = NULL;
    size_t all_len = 0;
    if (rc == 0) rc = tr_dist_gatherv(d, mx, sizeof mx, &all, &all_len, NULL, &err);
    if (rc == 0 && d->rank == 0) {
        const double *p = all;
        for (size_t i = 0; i < all_len / sizeof mx; i++) {
            if (p[2 * i] > elapsed) elapsed = p[2 * i];
            if (p[2 * i + 1] > r->ar_s_max) r->ar_s_max = p[2 * i + 1];
        }
        r->ar_s_max /= steps;
    }
    free(all);
    r->step_s = elapsed / steps;
    r->tok_s = (double)bc->batch * bc->seq / r->step_s;
    r->ar_s = v[0] / d->world / steps;
    tr_trainer_free(&t);
    tr_batch_free(&b);
    tr_model_free(&m);
    return rc;
}

static const bench_config *find_config(char name) {
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        if (configs[i].name[0] == name) return &configs[i];
    return NULL;
}

int main(int argc, char **argv) {
    const char *which = "a";
    int ranks = 2, steps = 6, worker = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            i++; /* one thread per rank */
        else if (!strcmp(argv[i], "--ranks") && i + 1 < argc)
            ranks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--configs") && i + 1 < argc)
            which = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--worker"))
            worker = 1;
        else {
            fprintf(stderr, "usage: bench_dist [--ranks N] [--configs ab] [--steps S]\n");
            return 2;
        }
    }
    if (ranks < 2 || steps < 1) {
        fprintf(stderr, "bench_dist: --ranks >= 2 and --steps >= 1\n");
        return 2;
    }
    tr_set_threads(1);
    tr_err err;
    tr_dist d;
    if (tr_dist_init(&d, &argc, &argv, &err) != 0) {
        fprintf(stderr, "bench_dist: %s\n", err.msg);
        return 1;
    }
    if (worker) { /* under mpirun: print one line per config for the driver */
        int rc = 0;
        for (const char *w = which; *w && rc == 0; w++) {
            const bench_config *bc = find_config(*w);
            bench_result r;
            if (!bc || run(bc, steps, &d, &r) != 0) {
                rc = 1;
                break;
            }
            if (d.rank == 0)
                printf("worker %s ranks=%d tok_s=%.6g step_s=%.6g ar_s=%.6g ar_s_max=%.6g "
                       "ar_bytes=%.0f\n",
                       bc->name, d.world, r.tok_s, r.step_s, r.ar_s, r.ar_s_max, r.ar_bytes);
            fflush(stdout);
        }
        if (rc != 0) tr_dist_abort(&d, rc);
        tr_dist_finalize(&d);
        return rc;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "bench_dist: cannot find its own executable\n");
        return 1;
    }
    exe[n] = '\0';
    if (system("command -v mpirun > /dev/null 2>&1") != 0) {
        printf("bench dist: skipped (no mpirun)\n");
        return 0;
    }
    printf("bench dist: pretraining, the same global batch on 1 process and on %d ranks, one "
           "thread each (%d timed steps)\n",
           ranks, steps);
    for (const char *w = which; *w; w++) {
        const bench_config *bc = find_config(*w);
        if (!bc) {
            fprintf(stderr, "bench_dist: unknown config '%c' (a or b)\n", *w);
            return 2;
        }
        bench_result one;
        if (run(bc, steps, &d, &one) != 0) return 1;
        printf("bench dist %s ranks=1 tok_s=%.0f step_s=%.4f (dim %d, %d layers, batch %d x %d)\n",
               bc->name, one.tok_s, one.step_s, bc->dim, bc->layers, bc->batch, bc->seq);
        fflush(stdout);
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "OMP_NUM_THREADS=1 OMPI_MCA_mpi_yield_when_idle=1 mpirun --allow-run-as-root "
                 "--oversubscribe -np %d '%s' --worker --configs %c --steps %d",
                 ranks, exe, *w, steps);
        FILE *p = popen(cmd, "r");
        char line[512];
        int got = 0;
        while (p && fgets(line, sizeof line, p)) {
            char name[8];
            int rk;
            bench_result r;
            if (sscanf(line,
                       "worker %7s ranks=%d tok_s=%lf step_s=%lf ar_s=%lf ar_s_max=%lf "
                       "ar_bytes=%lf",
                       name, &rk, &r.tok_s, &r.step_s, &r.ar_s, &r.ar_s_max, &r.ar_bytes) == 7) {
                printf("bench dist %s ranks=%d tok_s=%.0f step_s=%.4f efficiency=%.3f "
                       "allreduce_s_per_step=%.5f allreduce_s_max=%.5f allreduce_share=%.3f "
                       "allreduce_bytes_per_step=%.0f allreduce_mb_s=%.1f\n",
                       name, rk, r.tok_s, r.step_s, r.tok_s / (rk * one.tok_s), r.ar_s, r.ar_s_max,
                       r.ar_s / r.step_s, r.ar_bytes, r.ar_s > 0 ? r.ar_bytes / r.ar_s / 1e6 : 0.0);
                got = 1;
            }
        }
        int prc = p ? pclose(p) : -1;
        if (!got || prc != 0) {
            printf("bench dist %s ranks=%d: the mpirun job failed (exit %d)\n", bc->name, ranks,
                   prc);
            return 1;
        }
        fflush(stdout);
    }
    tr_dist_finalize(&d);
    return 0;
}
