/* Decoding throughput: tinyr1's KV-cache decode against the PyTorch peer
 * (bench/torch_decode.py, OMP_WAIT_POLICY=PASSIVE) on the same model, batch and threads,
 * measured in the same run, and against what the machine allows. Prints per case
 *   bench decode <name> batch=<b> tinyr1_tok_s=... torch_tok_s=... ratio=... limit_tok_s=...
 * Both sides: a 1-token prompt (BOS), then greedy decoding of --tokens tokens per sequence;
 * tok/s counts every sequence of the batch over the decode loop (prefill excluded).
 *
 * The limit: a decode step must read every weight matrix (the 7 per layer and the LM head;
 * the embedding only one row per sequence) and the KV cache so far, and do
 * tr_flops_decode_step FLOPs. limit time per step = max(bytes / bandwidth, FLOPs / peak),
 * where the bandwidth is measured here by streaming reads of a buffer of the same size with
 * the same threads (so a working set that fits in cache gets the cache's bandwidth, a larger
 * one DRAM's) and the peak is the sgemm probe (tr_peak_get, probed at start). The KV bytes and
 * FLOPs are averaged over the context lengths the run goes through.
 *
 * Config q (#8): a Qwen2-1.5B-shaped model (dim 1536, 28 layers, 12 heads, 2 KV heads, MLP
 * 8960, vocab 151936, tied, q/k/v biases) with random weights built in memory, BF16-resident
 * (tr_model_init_bf16 + tr_infer_use_bf16: ~3.1 GB, no F32 copy), batch 1 only, no PyTorch
 * peer. Its limit is the bytes of weights (2 per parameter; the embedding is the tied LM
 * head, read in full) plus KV cache read per token over the read bandwidth of a 1 GiB buffer
 * (DRAM) measured here with the same threads:
 *   bench decode qwen2-1.5b-shape batch=1 tinyr1_tok_s=... limit_tok_s=... bandwidth_gb_s=...
 *   frac=...
 * Each case runs --pairs (3) alternating pairs of measurements, tinyr1 then PyTorch, each the
 * fastest of 3 timed runs, and reports each side's best (the machine's speed drifts).
 * --kv bf16 runs tinyr1 with a BF16 KV cache (tr_infer_set_kv; the peer stays F32, the
 * limit counts 2 bytes per cached value, and the line says kv=bf16).
 * Usage: bench_decode [--threads N] [--configs absq] [--tokens N] [--batch 1|16] [--pairs N]
 *                     [--no-torch] [--kv f32|bf16] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

typedef struct {
    const char *name;
    int dim, layers, heads, vocab, seq;
    const char *llama2c; /* a .bin file instead of a random model */
} bench_config;

static const bench_config configs[] = {
    {"a", 128, 4, 4, 512, 256, NULL},
    {"b", 256, 6, 8, 4096, 256, NULL},
    {"stories260K", 0, 0, 0, 0, 0, TR_SHARED_DATA "/models/stories260K/stories260K.bin"},
};

/* ---- streaming read bandwidth -------------------------------------------------------- */

static float read_pass(const float *buf, size_t n, int threads) {
    float total = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        size_t chunk = (n / T + 63) / 64 * 64, a = t * chunk, b = a + chunk < n ? a + chunk : n;
        float s = 0.0f;
#if defined(__AVX2__)
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        size_t i = a;
        for (; i + 32 <= b; i += 32) {
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(buf + i));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(buf + i + 8));
            s2 = _mm256_add_ps(s2, _mm256_loadu_ps(buf + i + 16));
            s3 = _mm256_add_ps(s3, _mm256_loadu_ps(buf + i + 24));
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        for (int k = 0; k < 8; k++) s += lanes[k];
        for (; i < b; i++) s += buf[i];
#else
        for (size_t i = a; i < b; i++) s += buf[i];
#endif
        total += s;
    }
    return total;
}

/* Best read bandwidth (bytes/s) over a few passes of a `bytes` buffer. */
static double bandwidth(size_t bytes, int threads) {
    size_t n = bytes / sizeof(float) + 64;
    float *buf = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
    volatile float sink = 0.0f;
    double best = 0.0;
    int passes = (int)(2e9 / (double)bytes);
    passes = passes < 3 ? 3 : passes > 200 ? 200 : passes;
    sink += read_pass(buf, n, threads); /* warm */
    for (int rep = 0; rep < 5; rep++) {
        double t0 = tr_now();
        for (int p = 0; p < passes; p++) sink += read_pass(buf, n, threads);
        double bw = (double)n * sizeof(float) * passes / (tr_now() - t0);
        best = bw > best ? bw : best;
    }
    (void)sink;
    free(buf);
    return best;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* ---- the 1.5B-shaped model, BF16-resident ----------------------------------------------- */

/* Uniform values of standard deviation `std` (BF16 bits) from a counter-based hash: every
 * block of the buffer fills independently, in parallel. */
static void fill_bf16(uint16_t *w, size_t n, float std, uint64_t seed) {
    const float a = std * 1.7320508f; /* uniform on [-a, a] */
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < (int64_t)((n + 4095) / 4096); b++) {
        uint64_t x = seed ^ ((uint64_t)b * 0x9E3779B97F4A7C15ull);
        size_t lo = (size_t)b * 4096, hi = lo + 4096 < n ? lo + 4096 : n;
        for (size_t i = lo; i < hi; i += 4) {
            x += 0x9E3779B97F4A7C15ull; /* splitmix64: four 16-bit uniforms per draw */
            uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            z ^= z >> 31;
            for (size_t k = i; k < i + 4 && k < hi; k++, z >>= 16) {
                float v = ((float)(z & 0xffff) - 32767.5f) * (a / 32768.0f);
                uint32_t bits;
                memcpy(&bits, &v, sizeof bits);
                w[k] = (uint16_t)(bits >> 16);
            }
        }
    }
}

static int run_bigmodel(int threads, int tokens, tr_infer_kv kv) {
    tr_err err;
    tr_config c = {.vocab = 151936,
                   .dim = 1536,
                   .n_layers = 28,
                   .n_heads = 12,
                   .n_kv_heads = 2,
                   .hidden_dim = 8960,
                   .max_seq = 4096,
                   .rope_theta = 1e6f,
                   .norm_eps = 1e-6f,
                   .tied_embeddings = 1,
                   .qkv_bias = 1};
    tr_model m;
    uint16_t *wb;
    double t0 = tr_now();
    if (tr_model_init_bf16(&m, &wb, &c, &err) != 0) {
        fprintf(stderr, "bench decode qwen2-1.5b-shape: %s\n", err.msg);
        return -1;
    }
    fill_bf16(wb, m.table.total, 0.02f, 7);
    double t_build = tr_now() - t0;
    int n_tok = tokens < 16 ? tokens : 16; /* a few steps: each reads ~3.1 GB */
    tr_infer *ctx;
    if (tr_infer_init(&ctx, &m, 1, n_tok + 1, &err) != 0) {
        fprintf(stderr, "bench decode qwen2-1.5b-shape: %s\n", err.msg);
        free(wb);
        tr_model_free(&m);
        return -1;
    }
    tr_infer_set_adaptive(ctx, 0);
    /* the context packs its own copy: the caller's buffer is not needed after */
    int rc = tr_infer_set_kv(ctx, kv, &err);
    if (rc == 0) rc = tr_infer_use_bf16(ctx, wb, &err);
    free(wb);
    wb = NULL;
    if (rc != 0) {
        fprintf(stderr, "bench decode qwen2-1.5b-shape: %s\n", err.msg);
        tr_infer_free(ctx);
        tr_model_free(&m);
        return -1;
    }
    float *logits = malloc(sizeof(float) * (size_t)c.vocab);
    int slot = 0;
    int32_t tok = 1;
    double best = 0;
    for (int rep = 0; rep < 2; rep++) { /* the first is a warm-up (page faults, caches) */
        tr_infer_truncate(ctx, 0, 0, NULL);
        tok = 1;
        double t1 = tr_now();
        int steps = rep == 0 ? 2 : n_tok;
        for (int s = 0; s < steps; s++) {
            if (tr_infer_decode(ctx, 1, &slot, &tok, logits, &err) != 0) {
                fprintf(stderr, "bench decode qwen2-1.5b-shape: %s\n", err.msg);
                return -1;
            }
            tok = argmax(logits, c.vocab);
        }
        double tps = steps / (tr_now() - t1);
        if (rep > 0) best = tps;
    }
    double bw = bandwidth((size_t)1 << 30, threads);
    /* bytes per token: the matrices and the (tied) LM head in BF16, biases and norms in F32,
     * the KV cache (F32, or BF16 with --kv bf16) at the mean context of the run */
    double mm = tr_flops_params_matmul(&m.cfg);
    double small = (double)c.n_layers *
                       (2.0 * c.dim + (c.n_heads + 2.0 * c.n_kv_heads) * (c.dim / c.n_heads)) +
                   c.dim;
    double kv_values = 2.0 * c.n_layers * c.n_kv_heads * (c.dim / c.n_heads) * (1.0 + n_tok / 2.0);
    double bytes = 2.0 * mm + 4.0 * small + (kv == TR_KV_BF16 ? 2.0 : 4.0) * kv_values;
    double limit = bw / bytes;
    printf("bench decode qwen2-1.5b-shape batch=1%s tinyr1_tok_s=%.2f limit_tok_s=%.2f "
           "bandwidth_gb_s=%.1f frac=%.2f (%.2f GB/token BF16, %zu params, built in %.1f s, "
           "%d threads)\n",
           kv == TR_KV_BF16 ? " kv=bf16" : "", best, limit, bw / 1e9, best / limit, bytes / 1e9, m.table.total, t_build, threads);
    fflush(stdout);
    free(logits);
    tr_infer_free(ctx);
    free(wb);
    tr_model_free(&m);
    return 0;
}

/* ---- tinyr1 --------------------------------------------------------------------------- */

static int make_model(const bench_config *bc, tr_model *m, tr_err *err) {
    if (bc->llama2c) return tr_load_llama2c(m, bc->llama2c, err);
    tr_config c = {.vocab = bc->vocab,
                   .dim = bc->dim,
                   .n_layers = bc->layers,
                   .n_heads = bc->heads,
                   .n_kv_heads = bc->heads,
                   .hidden_dim = tr_hidden_dim_llama(bc->dim, 256),
                   .max_seq = bc->seq,
                   .rope_theta = 10000.0f,
                   .norm_eps = 1e-5f};
    if (tr_model_init(m, &c, err) != 0) return -1;
    tr_model_init_random(m, 1, 0.02f);
    return 0;
}

/* Greedy decoding of `tokens` per sequence after a BOS prompt; returns decode tok/s. */
static double run_tinyr1(tr_model *m, int batch, int tokens, tr_infer_kv kv, tr_err *err) {
    const int V = m->cfg.vocab;
    tr_infer *ctx;
    if (tr_infer_init(&ctx, m, batch, tokens + 1 <= m->cfg.max_seq ? tokens + 1 : 0, err) != 0)
        return -1;
    if (tr_infer_set_kv(ctx, kv, err) != 0) {
        tr_infer_free(ctx);
        return -1;
    }
    tr_infer_set_adaptive(ctx, 0); /* exactly --threads, as the PyTorch peer gets */
    int *slots = malloc(sizeof(int) * batch);
    int32_t *tok = malloc(sizeof(int32_t) * batch);
    float *logits = malloc(sizeof(float) * (size_t)batch * V);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) { /* the best of 3, as the peer (the first warms up) */
        for (int i = 0; i < batch; i++) {
            slots[i] = i;
            tok[i] = 1;
            tr_infer_truncate(ctx, i, 0, NULL);
        }
        tr_infer_decode(ctx, batch, slots, tok, logits, err); /* the prompt */
        for (int i = 0; i < batch; i++) tok[i] = argmax(logits + (size_t)i * V, V);
        double t0 = tr_now();
        for (int step = 1; step < tokens; step++) {
            if (tr_infer_decode(ctx, batch, slots, tok, logits, err) != 0) return -1;
            for (int i = 0; i < batch; i++) tok[i] = argmax(logits + (size_t)i * V, V);
        }
        double tps = (double)batch * (tokens - 1) / (tr_now() - t0);
        best = tps > best ? tps : best;
    }
    free(slots);
    free(tok);
    free(logits);
    tr_infer_free(ctx);
    return best;
}

static double run_torch(const bench_config *bc, int batch, int tokens, int threads) {
    char cmd[2048];
    if (bc->llama2c)
        snprintf(cmd, sizeof cmd,
                 "OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=%d %s %s/torch_decode.py --llama2c %s "
                 "--batch %d --new-tokens %d --threads %d",
                 threads, TR_PYTHON, TR_BENCH_DIR, bc->llama2c, batch, tokens, threads);
    else
        snprintf(cmd, sizeof cmd,
                 "OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=%d %s %s/torch_decode.py --dim %d "
                 "--layers %d --heads %d --vocab %d --seq %d --batch %d --new-tokens %d "
                 "--threads %d",
                 threads, TR_PYTHON, TR_BENCH_DIR, bc->dim, bc->layers, bc->heads, bc->vocab,
                 bc->seq, batch, tokens, threads);
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

/* Bytes a decode step reads: the matmul weights (embedding excluded: one row per sequence)
 * and the keys and values of `ctx` positions for each of `batch` sequences. */
static double step_bytes(const tr_config *c, int batch, double ctx, double kv_bytes) {
    double mm = tr_flops_params_matmul(c); /* L (D Q + 2 D KV + Q D + 3 D H) + V D floats */
    double kv = 2.0 * c->n_layers * c->n_kv_heads * c->head_dim * ctx * batch;
    return 4.0 * mm + kv_bytes * kv;
}

int main(int argc, char **argv) {
    int threads = 2, use_torch = 1, tokens = 200, only_batch = 0, pairs = 3;
    const char *which = "absq";
    tr_infer_kv kv = TR_KV_F32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--configs") && i + 1 < argc)
            which = argv[++i];
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
            tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            only_batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch"))
            use_torch = 0;
        else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
            pairs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kv") && i + 1 < argc && !strcmp(argv[i + 1], "bf16"))
            kv = TR_KV_BF16, i++;
        else if (!strcmp(argv[i], "--kv") && i + 1 < argc && !strcmp(argv[i + 1], "f32"))
            kv = TR_KV_F32, i++;
        else {
            fprintf(stderr, "usage: bench_decode [--threads N] [--configs absq] [--tokens N] "
                            "[--batch B] [--pairs N] [--no-torch] [--kv f32|bf16]\n");
            return 2;
        }
    }
    if (threads < 1 || tokens < 2 || pairs < 1) return 2;
    tr_set_threads(threads);
    tr_err err;
    tr_peak peak;
    /* probed now, as bench_train does: a cached peak may come from a slower moment of this
     * machine, and the FLOP limit would be understated */
    if (tr_peak_get(&peak, 1, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("bench peak sgemm_gflops=%.1f threads=%d (%s)\n", peak.gflops, threads, peak.source);
    const int batches[2] = {1, 16};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        const bench_config *bc = &configs[i];
        if (!strchr(which, bc->name[0])) continue;
        tr_model m;
        if (make_model(bc, &m, &err) != 0) {
            fprintf(stderr, "bench decode %s: %s\n", bc->name, err.msg);
            continue;
        }
        int n_tok = tokens + 1 <= m.cfg.max_seq ? tokens : m.cfg.max_seq - 1;
        for (int bi = 0; bi < 2; bi++) {
            int B = batches[bi];
            if (only_batch > 0 && B != only_batch) continue;
            /* alternating pairs, the best of each side: this machine's speed drifts by tens
             * of percent within minutes, and both sides get its quieter moments */
            double ours = 0, theirs = 0;
            for (int pair = 0; pair < pairs && ours >= 0; pair++) {
                double o = run_tinyr1(&m, B, n_tok, kv, &err);
                double t = use_torch ? run_torch(bc, B, n_tok, threads) : 0;
                ours = o < 0 ? o : o > ours ? o : ours;
                theirs = t > theirs ? t : theirs;
            }
            if (ours < 0) {
                fprintf(stderr, "bench decode %s: %s\n", bc->name, err.msg);
                continue;
            }
            /* average over the decode steps: the step at context c reads c+1 positions */
            double ctx = 1.0 + n_tok / 2.0;
            double bytes = step_bytes(&m.cfg, B, ctx, kv == TR_KV_BF16 ? 2.0 : 4.0);
            double bw = bandwidth((size_t)bytes, threads);
            double flops = tr_flops_decode_step(&m.cfg, B, (int64_t)ctx);
            double t_bw = bytes / bw, t_fl = flops / (peak.gflops * 1e9);
            double limit = B / (t_bw > t_fl ? t_bw : t_fl);
            printf("bench decode %s batch=%d%s tinyr1_tok_s=%.0f torch_tok_s=%.0f ratio=%.2f "
                   "limit_tok_s=%.0f (%.0f%% of limit; %.1f MB/step at %.1f GB/s, %.2f "
                   "MFLOP/step)\n",
                   bc->name, B, kv == TR_KV_BF16 ? " kv=bf16" : "", ours, theirs, theirs > 0 ? ours / theirs : 0, limit,
                   100.0 * ours / limit, bytes / 1e6, bw / 1e9, flops / 1e6);
            fflush(stdout);
        }
        tr_model_free(&m);
    }
    if (strchr(which, 'q') && (only_batch == 0 || only_batch == 1)) run_bigmodel(threads, tokens, kv);
    return 0;
}
