/* BF16-resident inference weights and chunked logits:
 *   - the BF16 matmul kernel gives bitwise the F32 kernel's results on the widened weights
 *     and agrees with a double-precision dot product;
 *   - a context in BF16 mode gives the same logits as an F32 context on a copy of the model
 *     whose matrices were rounded to BF16 by the test itself (round to nearest even, decided
 *     by comparing distances in double), to 1e-5 relative (in fact bit for bit), and that
 *     copy's F32 inference agrees with the training forward (an independent path);
 *   - AUTO picks BF16 exactly when the matrices are BF16 values, F32 otherwise;
 *   - a refreshed copy follows weight updates;
 *   - logits of a long prompt prefilled in one call (several internal chunks of rows),
 *     token by token, and in uneven pieces, at 1 and 2 threads, are bitwise equal (with 3
 *     kv-heads 2 threads take the two-phase attention path, 1 thread the fused one);
 * last-position-only logits equal the last row of all-position logits (so a prefill never needs [T,
 * V]);
 *   - tr_load_hf_bf16 of a BF16 folder (written by tr_save_hf) gives bitwise the logits of
 *     tr_load_hf's F32 model, and of an F32 folder those of the test's rounded copy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tinyr1/ops.h"

static char tmpdir[64];

/* max |a - b| / max(1, max |b|) over n values */

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The BF16 value nearest to f (ties to the even significand), by comparing the distances
 * to the two neighbours in double (finite inputs of moderate size only). */
static float round_bf16(float f) {
    uint32_t u = to_bits(f);
    float lo = from_bits(u & 0xffff0000u), hi = from_bits((u & 0xffff0000u) + 0x10000u);
    double dl = fabs((double)f - lo), dh = fabs((double)hi - f);
    if (dl < dh) return lo;
    if (dh < dl) return hi;
    return (to_bits(lo) >> 16) & 1 ? hi : lo;
}

static void test_kernel(void) {
    tr_rng rng;
    tr_rng_seed(&rng, 9);
    const int Rs[] = {1, 2, 4, 7}, Ns[] = {1, 8, 19}, Cs[] = {3, 8, 45, 64};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++) {
                int R = Rs[a], n = Ns[b], C = Cs[c];
                float *in = malloc(sizeof(float) * R * C), *wf = malloc(sizeof(float) * n * C);
                uint16_t *wb = malloc(sizeof(uint16_t) * n * C);
                float *bias = malloc(sizeof(float) * n);
                float *o1 = malloc(sizeof(float) * R * n), *o2 = malloc(sizeof(float) * R * n);
                for (int i = 0; i < R * C; i++) in[i] = tr_rng_normal(&rng);
                for (int i = 0; i < n * C; i++) {
                    wf[i] = round_bf16(tr_rng_normal(&rng));
                    wb[i] = (uint16_t)(to_bits(wf[i]) >> 16);
                }
                for (int i = 0; i < n; i++) bias[i] = tr_rng_normal(&rng);
                float *pf = malloc(sizeof(float) * tr_panels_numel(n, C));
                uint16_t *pb = malloc(sizeof(uint16_t) * tr_panels_numel(n, C));
                uint16_t *pr = malloc(sizeof(uint16_t) * tr_panels_numel(n, C));
                tr_panels_pack(pf, wf, n, C);
                tr_panels_pack_bf16(pb, wf, n, C); /* exact: wf holds BF16 values */
                tr_panels_repack_bf16(pr, wb, n, C);
                CHECK(memcmp(pb, pr, sizeof(uint16_t) * tr_panels_numel(n, C)) == 0);
                const tr_panels PF = {pf, NULL, n, C}, PB = {NULL, pb, n, C};
                float row[64];
                tr_panels_row(row, &PB, n - 1);
                CHECK(memcmp(row, wf + (size_t)(n - 1) * C, sizeof(float) * C) == 0);
                tr_infer_matmul(o1, n, in, C, R, &PF, 0, n, bias, 0);
                tr_infer_matmul(o2, n, in, C, R, &PB, 0, n, bias, 0);
                free(pf), free(pb), free(pr);
                CHECK_MSG(memcmp(o1, o2, sizeof(float) * R * n) == 0, "R %d n %d C %d: not bitwise",
                          R, n, C);
                double worst = 0;
                for (int r = 0; r < R; r++)
                    for (int j = 0; j < n; j++) {
                        double s = bias[j];
                        for (int k = 0; k < C; k++) s += (double)in[r * C + k] * wf[j * C + k];
                        double d = fabs(o2[r * n + j] - s);
                        worst = d > worst ? d : worst;
                    }
                CHECK_MSG(worst < 1e-4, "R %d n %d C %d: err %g", R, n, C, worst);
                free(in), free(wf), free(wb), free(bias), free(o1), free(o2);
            }
    /* rounding and widening */
    const float xs[] = {1.0f, -2.5f, 3.14159265f, 1e-3f, -7.7e5f, 1.00390625f, 1.01171875f};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        uint16_t h;
        float back;
        tr_bf16_round_to(&h, &xs[i], 1);
        tr_bf16_widen(&back, &h, 1);
        CHECK_MSG(back == round_bf16(xs[i]), "round(%g) = %g, expected %g", xs[i], back,
                  round_bf16(xs[i]));
        CHECK(tr_f32_is_bf16(&back, 1));
    }
    CHECK(!tr_f32_is_bf16(&xs[2], 1));
}

static tr_config config(int qkv_bias, int tied, int kv_heads) {
    tr_config c = tr_config_default();
    c.vocab = 301;
    c.dim = 60; /* not a multiple of 8: the kernels' column tails (head_dim 10) */
    c.n_layers = 2;
    c.n_heads = 6;
    c.n_kv_heads = kv_heads; /* 2: each of 2 threads owns one kv-head; 3: they cannot */
    c.hidden_dim = 88;
    c.max_seq = 200;
    c.qkv_bias = qkv_bias;
    c.tied_embeddings = tied;
    return c;
}

static void random_model(tr_model *m, const tr_config *cfg, uint64_t seed) {
    tr_err err;
    CHECK(tr_model_init(m, cfg, &err) == 0);
    tr_model_init_random(m, seed, 0.2f);
    tr_rng rng;
    tr_rng_seed(&rng, seed + 1);
    for (int i = 0; i < m->table.n_tensors; i++) {
        tr_tensor_info *t = &m->table.tensors[i];
        if (t->kind == TR_TENSOR_NORM || t->kind == TR_TENSOR_BIAS)
            for (size_t j = 0; j < t->numel; j++)
                m->params[t->offset + j] += 0.3f * tr_rng_normal(&rng);
    }
}

/* A copy of src with every matrix and the embedding rounded to BF16 (norms, biases kept). */
static void rounded_copy(tr_model *dst, const tr_model *src) {
    tr_err err;
    CHECK(tr_model_init(dst, &src->cfg, &err) == 0);
    memcpy(dst->params, src->params, src->table.total * sizeof(float));
    for (int i = 0; i < dst->table.n_tensors; i++) {
        tr_tensor_info *t = &dst->table.tensors[i];
        if (t->kind == TR_TENSOR_MATRIX || t->kind == TR_TENSOR_EMBED)
            for (size_t j = 0; j < t->numel; j++)
                dst->params[t->offset + j] = round_bf16(dst->params[t->offset + j]);
    }
}

/* All-position logits of tokens[T] prefilled into a fresh context in pieces of `piece`
 * tokens (0: one call). [T, V], malloc'd. */
static float *prefill_logits(const tr_model *m, tr_infer_weights wmode, const int32_t *tok, int T,
                             int piece, int threads) {
    tr_err err;
    tr_infer *ctx;
    float *lg = malloc(sizeof(float) * (size_t)T * m->cfg.vocab);
    CHECK(tr_infer_init(&ctx, m, 2, 0, &err) == 0);
    tr_infer_set_adaptive(ctx, 0);
    int threads0 = tr_get_threads();
    tr_set_threads(threads);
    CHECK(tr_infer_set_weights(ctx, wmode, &err) == 0);
    if (piece <= 0) piece = T;
    for (int t = 0; t < T; t += piece) {
        int n = t + piece <= T ? piece : T - t;
        CHECK(tr_infer_prefill(ctx, 1, tok + t, n, 1, lg + (size_t)t * m->cfg.vocab, &err) == 0);
    }
    tr_set_threads(threads0);
    tr_infer_free(ctx);
    return lg;
}

static void test_model(int qkv_bias, int tied, int kv_heads, const char *label) {
    tr_err err;
    tr_config cfg = config(qkv_bias, tied, kv_heads);
    tr_model a, b;
    random_model(&a, &cfg, 31);
    rounded_copy(&b, &a);
    const int T = 150, V = cfg.vocab; /* 150 rows: three internal chunks of <= 64 */
    int32_t tok[150];
    tr_rng rng;
    tr_rng_seed(&rng, 32);
    for (int i = 0; i < T; i++) tok[i] = (int32_t)tr_rng_below(&rng, V);

    float *l_bf = prefill_logits(&a, TR_INFER_BF16, tok, T, 0, 2);
    float *l_rf = prefill_logits(&b, TR_INFER_F32, tok, T, 0, 2);
    double e = tu_scaled_err(l_bf, l_rf, (size_t)T * V);
    CHECK_MSG(e <= 1e-5, "%s: BF16 vs F32 of rounded weights: err %g", label, e);
    CHECK_MSG(memcmp(l_bf, l_rf, sizeof(float) * T * V) == 0, "%s: BF16 vs F32 not bitwise", label);
    /* the rounded model's F32 inference against the training forward (independent path) */
    tr_activations *acts;
    CHECK(tr_activations_init(&acts, &b.cfg, 1, T, &err) == 0);
    const float *ref = tr_model_forward(&b, acts, tok, 1, T);
    e = tu_scaled_err(l_rf, ref, (size_t)T * V);
    CHECK_MSG(e <= 1e-5, "%s: F32 inference vs training forward: err %g", label, e);
    /* the unrounded model really differs (the test can tell BF16 from F32) */
    float *l_a = prefill_logits(&a, TR_INFER_F32, tok, T, 0, 2);
    CHECK_MSG(tu_scaled_err(l_a, l_rf, (size_t)T * V) > 1e-5, "%s: rounding changed nothing",
              label);

    /* chunked logits = unchunked: pieces of 1, 7, 64, 65 tokens; 1 thread; BF16 too */
    const int pieces[] = {1, 7, 64, 65};
    for (int p = 0; p < 4; p++) {
        float *lp = prefill_logits(&b, TR_INFER_F32, tok, T, pieces[p], p % 2 ? 1 : 2);
        CHECK_MSG(memcmp(lp, l_rf, sizeof(float) * T * V) == 0, "%s: pieces of %d differ", label,
                  pieces[p]);
        free(lp);
        lp = prefill_logits(&a, TR_INFER_BF16, tok, T, pieces[p], 2);
        CHECK_MSG(memcmp(lp, l_bf, sizeof(float) * T * V) == 0, "%s: BF16 pieces of %d differ",
                  label, pieces[p]);
        free(lp);
    }
    /* last-position logits only: [1, V], equal to the last row */
    tr_infer *ctx;
    CHECK(tr_infer_init(&ctx, &b, 1, 0, &err) == 0);
    float *last = malloc(sizeof(float) * V);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, last, &err) == 0);
    CHECK(memcmp(last, l_rf + (size_t)(T - 1) * V, sizeof(float) * V) == 0);

    /* AUTO: BF16 on the rounded copy (bitwise the same logits), F32 on the original */
    CHECK(tr_infer_set_weights(ctx, TR_INFER_AUTO, &err) == 0);
    CHECK(tr_infer_get_weights(ctx) == TR_INFER_BF16);
    CHECK(tr_infer_truncate(ctx, 0, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, last, &err) == 0);
    CHECK(memcmp(last, l_rf + (size_t)(T - 1) * V, sizeof(float) * V) == 0);
    /* a weight update is seen only after a refresh */
    float *before = malloc(sizeof(float) * V);
    memcpy(before, last, sizeof(float) * V);
    for (int i = 0; i < b.table.n_tensors; i++) {
        tr_tensor_info *t = &b.table.tensors[i];
        if (t->kind == TR_TENSOR_MATRIX || t->kind == TR_TENSOR_EMBED)
            for (size_t j = 0; j < t->numel; j++)
                b.params[t->offset + j] = round_bf16(b.params[t->offset + j] * 1.5f);
    }
    CHECK(tr_infer_truncate(ctx, 0, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, last, &err) == 0);
    CHECK(memcmp(last, before, sizeof(float) * V) == 0); /* stale copy */
    CHECK(tr_infer_set_weights(ctx, TR_INFER_BF16, &err) == 0);
    CHECK(tr_infer_truncate(ctx, 0, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, last, &err) == 0);
    CHECK(memcmp(last, before, sizeof(float) * V) != 0);
    float *l_new = prefill_logits(&b, TR_INFER_F32, tok, T, 0, 2);
    CHECK(memcmp(last, l_new + (size_t)(T - 1) * V, sizeof(float) * V) == 0);
    tr_infer_free(ctx);
    CHECK(tr_infer_init(&ctx, &a, 1, 0, &err) == 0);
    CHECK(tr_infer_set_weights(ctx, TR_INFER_AUTO, &err) == 0);
    CHECK(tr_infer_get_weights(ctx) == TR_INFER_F32);
    tr_infer_free(ctx);

    free(l_new), free(before), free(last), free(l_a), free(l_bf), free(l_rf);
    tr_activations_free(acts);
    tr_model_free(&a);
    tr_model_free(&b);
}

/* Last-position logits of tok[T] through a fresh context ([V], malloc'd); bf16: borrowed
 * BF16 weights or NULL. */
static float *last_logits(const tr_model *m, const uint16_t *bf16, const int32_t *tok, int T) {
    tr_err err;
    tr_infer *ctx;
    float *lg = malloc(sizeof(float) * m->cfg.vocab);
    CHECK(tr_infer_init(&ctx, m, 1, 0, &err) == 0);
    CHECK_MSG(tr_infer_use_bf16(ctx, bf16, &err) == 0, "%s", err.msg);
    CHECK(tr_infer_get_weights(ctx) == (bf16 ? TR_INFER_BF16 : TR_INFER_F32));
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, lg, &err) == 0);
    tr_infer_free(ctx);
    return lg;
}

static void test_load_hf_bf16(int qkv_bias, int tied) {
    tr_err err;
    tr_config cfg = config(qkv_bias, tied, 2);
    tr_model a, b, f, r;
    random_model(&a, &cfg, 41);
    rounded_copy(&r, &a);
    const int T = 40, V = cfg.vocab;
    int32_t tok[40];
    for (int i = 0; i < T; i++) tok[i] = (int32_t)((i * 37 + 5) % V);
    char dir[128];
    for (int file_bf16 = 0; file_bf16 <= 1; file_bf16++) {
        snprintf(dir, sizeof dir, "%s/m%d%d%d", tmpdir, qkv_bias, tied, file_bf16);
        CHECK_MSG(tr_save_hf(&a, dir, file_bf16, -1, -1, &err) == 0, "%s", err.msg);
        uint16_t *wb = NULL;
        CHECK_MSG(tr_load_hf_bf16(&b, &wb, dir, &err) == 0, "%s", err.msg);
        CHECK_MSG(tr_load_hf(&f, dir, &err) == 0, "%s", err.msg);
        float *lb = last_logits(&b, wb, tok, T);
        /* the reference: F32 inference of the F32-loaded BF16 file, or of the rounded copy
         * (norms and biases of a BF16 file are BF16 too: compare with what the file holds) */
        float *lr = last_logits(file_bf16 ? &f : &r, NULL, tok, T);
        CHECK_MSG(memcmp(lb, lr, sizeof(float) * V) == 0, "bias %d tied %d file bf16 %d: differ",
                  qkv_bias, tied, file_bf16);
        CHECK(tu_scaled_err(lb, lr, (size_t)V) <= 1e-5);
        free(lb), free(lr), free(wb);
        tr_model_free(&b);
        tr_model_free(&f);
    }
    /* a broken file is refused and leaves nothing allocated */
    snprintf(dir, sizeof dir, "%s/missing", tmpdir);
    uint16_t *wb = (uint16_t *)&err;
    CHECK(tr_load_hf_bf16(&b, &wb, dir, &err) == -1 && wb == NULL);
    tr_model_free(&a);
    tr_model_free(&r);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tinyr1_bf16_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_load_hf_bf16(1, 0);
    test_load_hf_bf16(0, 1);
    test_kernel();
    test_model(1, 0, 2, "qwen2-like untied");
    test_model(0, 1, 2, "llama-like tied");
    test_model(1, 1, 3, "3 kv-heads on 2 threads");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return tu_finish("test_infer_bf16");
}
