/* Training throughput: tinyr1 against the PyTorch peer (bench/torch_train.py) on the same
 * model, batch, threads and optimizer, measured in the same run. Prints per config
 *   bench train <name> tinyr1_tok_s=... torch_tok_s=... ratio=... mfu=...
 * MFU = useful FLOPs (tr_flops_train_step, docs/cost.md) / time / the sgemm peak measured at
 * start. Each side runs --reps times, alternating, and keeps its best: this virtual machine's
 * speed drifts by tens of percent within minutes (other tenants), and alternating best-of-N
 * gives both sides the same chances.
 * Usage: bench_train [--threads N] [--configs abcd] [--seconds S] [--reps R] [--no-torch] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1.h"

typedef struct {
    const char *name;
    int dim, layers, heads, vocab, seq, batch;
} bench_config;

static const bench_config configs[] = {
    {"a", 128, 4, 4, 512, 256, 16},
    {"b", 256, 6, 8, 4096, 256, 8},
    {"c", 512, 8, 8, 8192, 512, 4},
    {"d", 768, 12, 12, 32000, 512, 2},
};

static double run_tinyr1(const bench_config *bc, double min_seconds, double *step_flops) {
    tr_err err;
    tr_config c = {.vocab = bc->vocab, .dim = bc->dim, .n_layers = bc->layers,
                   .n_heads = bc->heads, .n_kv_heads = bc->heads,
                   .hidden_dim = tr_hidden_dim_llama(bc->dim, 256), .max_seq = bc->seq,
                   .rope_theta = 10000.0f, .norm_eps = 1e-5f};
    tr_model m;
    if (tr_model_init(&m, &c, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 0;
    }
    tr_model_init_random(&m, 1, 0.02f);
    tr_batch b;
    tr_batch_alloc(&b, bc->batch, bc->seq, &err);
    tr_rng rng;
    tr_rng_seed(&rng, 2);
    for (int i = 0; i < bc->batch * bc->seq; i++) {
        b.tokens[i] = (int32_t)tr_rng_below(&rng, (uint64_t)bc->vocab);
        b.targets[i] = (int32_t)tr_rng_below(&rng, (uint64_t)bc->vocab);
        b.weights[i] = 1.0f;
    }
    tr_lr_schedule s = {TR_SCHEDULE_CONSTANT, 1e-4f, 1e-4f, 0, 1000};
    tr_trainer t;
    if (tr_trainer_init(&t, &m, tr_adamw_default_params(), NULL, s, 1.0f, bc->batch, bc->seq,
                        tr_dist_single(), &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 0;
    }
    tr_objective ce = tr_objective_ce();
    tr_step_stats st;
    for (int i = 0; i < 2; i++) tr_trainer_step(&t, &b, 1, &ce, &st, &err); /* warm-up */
    int steps = 0;
    double t0 = tr_now(), elapsed = 0;
    while (steps < 3 || elapsed < min_seconds) {
        if (tr_trainer_step(&t, &b, 1, &ce, &st, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            break;
        }
        steps++;
        elapsed = tr_now() - t0;
    }
    *step_flops = tr_flops_train_step(&m.cfg, bc->batch, bc->seq);
    tr_trainer_free(&t);
    tr_batch_free(&b);
    tr_model_free(&m);
    return (double)bc->batch * bc->seq * steps / elapsed;
}

static double run_torch(const bench_config *bc, int threads) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=%d %s %s/torch_train.py --dim %d "
             "--layers %d --heads %d --vocab %d --seq %d --batch %d --threads %d --steps 3 "
             "--warmup 2",
             threads, TR_PYTHON, TR_BENCH_DIR, bc->dim, bc->layers, bc->heads, bc->vocab,
             bc->seq, bc->batch, threads);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[1024];
    double tok_s = 0;
    while (fgets(line, sizeof line, p)) {
        const char *k = strstr(line, "\"tok_s\":");
        if (k) tok_s = atof(k + 8);
    }
    if (pclose(p) != 0) fprintf(stderr, "bench: the PyTorch peer failed: %s\n", cmd);
    return tok_s;
}

int main(int argc, char **argv) {
    int threads = 2, use_torch = 1, reps = 2;
    double seconds = 5;
    const char *which = "abcd";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--configs") && i + 1 < argc) which = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch")) use_torch = 0;
        else {
            fprintf(stderr, "usage: bench_train [--threads N] [--configs abcd] [--seconds S] "
                            "[--reps R] [--no-torch]\n");
            return 2;
        }
    }
    tr_set_threads(threads);
    tr_err err;
    tr_peak peak;
    if (tr_peak_get(&peak, 1, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("bench peak sgemm_gflops=%.1f threads=%d\n", peak.gflops, threads);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        const bench_config *bc = &configs[i];
        if (!strchr(which, bc->name[0])) continue;
        double flops = 0, ours = 0, theirs = 0;
        for (int r = 0; r < (reps > 0 ? reps : 1); r++) {
            double o = run_tinyr1(bc, seconds, &flops);
            double t = use_torch ? run_torch(bc, threads) : 0;
            ours = o > ours ? o : ours;
            theirs = t > theirs ? t : theirs;
        }
        double mfu = ours / ((double)bc->batch * bc->seq) * flops / (peak.gflops * 1e9);
        printf("bench train %s tinyr1_tok_s=%.0f torch_tok_s=%.0f ratio=%.2f mfu=%.3f\n",
               bc->name, ours, theirs, theirs > 0 ? ours / theirs : 0, mfu);
        fflush(stdout);
    }
    return 0;
}
