/* The inference forward (KV cache): the same logits as the training forward on the full
 * sequence (to 1e-5), for one-shot prefill, prefill + decode steps, split prefills, batched
 * prompts of different lengths and chunk boundaries; bitwise batch and thread invariance;
 * the matmul kernel against the naive one; slot bookkeeping and refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tinyr1/ops.h"

/* max |a - b| / max(1, max |b|) over n values */

static void perturb_norms_biases(tr_model *m, uint64_t seed) {
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    for (int i = 0; i < m->table.n_tensors; i++) {
        tr_tensor_info *t = &m->table.tensors[i];
        if (t->kind == TR_TENSOR_NORM || t->kind == TR_TENSOR_BIAS)
            for (size_t j = 0; j < t->numel; j++)
                m->params[t->offset + j] += 0.3f * tr_rng_normal(&rng);
    }
}

/* Training-forward logits of one sequence: [T, V], malloc'd. */
static float *train_logits(const tr_model *m, const int32_t *tok, int T) {
    tr_err err;
    tr_activations *acts;
    if (tr_activations_init(&acts, &m->cfg, 1, T, &err) != 0) return NULL;
    float *lg = tr_model_forward(m, acts, tok, 1, T);
    float *out = malloc((size_t)T * m->cfg.vocab * sizeof(float));
    memcpy(out, lg, (size_t)T * m->cfg.vocab * sizeof(float));
    tr_activations_free(acts);
    return out;
}

/* The element the kernel promises: one chain of fused multiply-adds over k in order (a*b+c
 * where the target has no FMA, as fastmath.h's tr_madd), then the bias. */
static float chain(const float *x, const float *w, int C, const float *bias, int j) {
    float s = 0.0f;
    for (int k = 0; k < C; k++)
#if defined(__FMA__)
        s = fmaf(x[k], w[k], s);
#else
        s = x[k] * w[k] + s;
#endif
    return bias ? s + bias[j] : s;
}

/* The panel matmul against the naive one (double), bitwise against the FMA chain, for
 * every tile shape (R = 1..16), partial panels, column ranges that start and end inside a
 * panel, an output stride, accumulation, and row invariance (a row alone: the same bits). */
static void test_matmul_kernel(void) {
    tr_rng rng;
    tr_rng_seed(&rng, 5);
    const int Rs[] = {1, 2, 3, 4, 5, 6, 7, 9, 13, 16}, Ns[] = {1, 7, 8, 17, 40, 70},
              Cs[] = {1, 5, 29, 64};
    for (int a = 0; a < 10; a++)
        for (int b = 0; b < 6; b++)
            for (int c = 0; c < 4; c++) {
                int R = Rs[a], n = Ns[b], C = Cs[c];
                float *in = malloc(sizeof(float) * R * C), *w = malloc(sizeof(float) * n * C);
                float *pk = malloc(sizeof(float) * tr_panels_numel(n, C));
                float *bias = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * R * (n + 3));
                float *ref = malloc(sizeof(float) * R * n);
                for (int i = 0; i < R * C; i++) in[i] = tr_rng_normal(&rng);
                for (int i = 0; i < n * C; i++) w[i] = tr_rng_normal(&rng);
                for (int i = 0; i < n; i++) bias[i] = tr_rng_normal(&rng);
                tr_panels_pack(pk, w, n, C);
                const tr_panels P = {pk, NULL, n, C};
                float row[64];
                tr_panels_row(row, &P, n - 1);
                CHECK(memcmp(row, w + (size_t)(n - 1) * C, sizeof(float) * C) == 0);
                tr_matmul_forward_naive(ref, in, w, bias, R, C, n);
                /* column ranges: all, then ones that start and end inside panels */
                const int ranges[4][2] = {{0, n}, {n / 3, n - n / 4}, {n / 2, n}, {0, (n + 1) / 2}};
                for (int q = 0; q < 4; q++) {
                    int j0 = ranges[q][0], j1 = ranges[q][1];
                    for (int i = 0; i < R * (n + 3); i++) out[i] = 1.5f;
                    /* output stride n + 3, accumulate onto 1.5 */
                    tr_infer_matmul(out, n + 3, in, C, R, &P, j0, j1, bias + j0, 1);
                    double worst = 0;
                    int exact = 1;
                    for (int r = 0; r < R; r++) {
                        for (int j = 0; j < n + 3; j++) {
                            float o = out[r * (n + 3) + j];
                            if (j >= j1 - j0) {
                                CHECK(o == 1.5f); /* nothing past the range */
                                continue;
                            }
                            double d = fabs(o - 1.5 - ref[r * n + j0 + j]);
                            worst = d > worst ? d : worst;
                            exact &= o == 1.5f + chain(in + r * C, w + (size_t)(j0 + j) * C, C,
                                                       bias, j0 + j);
                        }
                    }
                    CHECK_MSG(worst < 1e-4, "R %d n %d C %d [%d, %d): err %g", R, n, C, j0, j1,
                              worst);
                    CHECK_MSG(exact, "R %d n %d C %d [%d, %d): not the FMA chain", R, n, C, j0, j1);
                }
                /* row invariance: row r alone gives the same bits */
                tr_infer_matmul(out, n, in, C, R, &P, 0, n, bias, 0);
                for (int r = 0; r < R; r++) {
                    float one[70];
                    tr_infer_matmul(one, n, in + r * C, C, 1, &P, 0, n, bias, 0);
                    CHECK(memcmp(one, out + r * n, sizeof(float) * n) == 0);
                }
                free(in), free(w), free(pk), free(bias), free(out), free(ref);
            }
}

static tr_config small_config(int qkv_bias, int tied) {
    tr_config c = tr_config_default();
    c.vocab = 97;
    c.dim = 48;
    c.n_layers = 2;
    c.n_heads = 6;
    c.n_kv_heads = 2; /* GQA: 3 query heads per kv head */
    c.hidden_dim = 72;
    c.max_seq = 160;
    c.qkv_bias = qkv_bias;
    c.tied_embeddings = tied;
    c.rope_theta = 10000.0f;
    return c;
}

static void test_against_training(tr_config cfg, const char *label) {
    tr_err err;
    tr_model m;
    CHECK(tr_model_init(&m, &cfg, &err) == 0);
    tr_model_init_random(&m, 11, 0.3f);
    perturb_norms_biases(&m, 12);
    const int V = cfg.vocab, T = 150; /* crosses the 64-row chunk boundary twice */
    int32_t tok[150];
    tr_rng rng;
    tr_rng_seed(&rng, 13);
    for (int i = 0; i < T; i++) tok[i] = (int32_t)tr_rng_below(&rng, (uint64_t)V);
    float *ref = train_logits(&m, tok, T);

    tr_infer *ctx;
    CHECK(tr_infer_init(&ctx, &m, 4, 0, &err) == 0);
    tr_infer_set_adaptive(ctx, 0); /* the threads asked for, even on a busy machine */
    float *lg = malloc((size_t)T * V * sizeof(float));

    /* one prefill, all logits */
    int s = tr_infer_acquire(ctx);
    CHECK(s == 0);
    CHECK(tr_infer_prefill(ctx, s, tok, T, 1, lg, &err) == 0);
    double e1 = tu_scaled_err(lg, ref, (size_t)T * V);
    CHECK_MSG(e1 <= 1e-5, "%s: full prefill err %g", label, e1);
    CHECK(tr_infer_length(ctx, s) == T);

    /* prefill 10, then decode one token at a time */
    CHECK(tr_infer_truncate(ctx, s, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, s, tok, 10, 0, lg, &err) == 0);
    double e2 = tu_scaled_err(lg, ref + 9 * V, V);
    for (int t = 10; t < T; t++) {
        CHECK(tr_infer_decode(ctx, 1, &s, &tok[t], lg, &err) == 0);
        double e = tu_scaled_err(lg, ref + (size_t)t * V, V);
        e2 = e > e2 ? e : e2;
    }
    CHECK_MSG(e2 <= 1e-5, "%s: prefill + decode err %g", label, e2);

    /* split prefill: 7 tokens then 70 more (all logits) continue the same positions */
    CHECK(tr_infer_truncate(ctx, s, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, s, tok, 7, 0, lg, &err) == 0);
    CHECK(tr_infer_prefill(ctx, s, tok + 7, 70, 1, lg, &err) == 0);
    double e3 = tu_scaled_err(lg, ref + 7 * V, (size_t)70 * V);
    CHECK_MSG(e3 <= 1e-5, "%s: split prefill err %g", label, e3);

    /* batched prompts of different lengths in one call (slots 1..3), last logits */
    int slots[3] = {1, 2, 3}, lens[3] = {1, 90, 33};
    const int32_t *ptr[3] = {tok, tok, tok};
    for (int i = 0; i < 3; i++) tr_infer_truncate(ctx, slots[i], 0, &err);
    float *lg3 = malloc((size_t)3 * V * sizeof(float));
    CHECK(tr_infer_forward(ctx, 3, slots, ptr, lens, 0, lg3, &err) == 0);
    for (int i = 0; i < 3; i++) {
        double e = tu_scaled_err(lg3 + (size_t)i * V, ref + (size_t)(lens[i] - 1) * V, V);
        CHECK_MSG(e <= 1e-5, "%s: batched prompt %d err %g", label, i, e);
        CHECK(tr_infer_length(ctx, slots[i]) == lens[i]);
    }
    /* a copied prefix decodes like the original */
    CHECK(tr_infer_copy(ctx, 0, 2, 40, &err) == 0);
    CHECK(tr_infer_length(ctx, 0) == 40);
    int zero = 0;
    CHECK(tr_infer_decode(ctx, 1, &zero, &tok[40], lg, &err) == 0);
    double e4 = tu_scaled_err(lg, ref + 40 * V, V);
    CHECK_MSG(e4 <= 1e-5, "%s: copied prefix err %g", label, e4);

    free(lg3);
    free(lg);
    free(ref);
    tr_infer_free(ctx);
    tr_model_free(&m);
}

/* The same sequences decoded alone and in a batch (and at 1 vs 2 threads) give the same
 * logits bit for bit. */
static void test_batch_invariance(tr_infer_kv kv) {
    tr_err err;
    tr_config cfg = small_config(1, 0);
    tr_model m;
    CHECK(tr_model_init(&m, &cfg, &err) == 0);
    tr_model_init_random(&m, 21, 0.3f);
    const int V = cfg.vocab, NS = 7, STEPS = 12;
    int32_t prompts[7][20];
    int plen[7];
    tr_rng rng;
    tr_rng_seed(&rng, 22);
    for (int i = 0; i < NS; i++) {
        plen[i] = 1 + (int)tr_rng_below(&rng, 20);
        for (int j = 0; j < plen[i]; j++) prompts[i][j] = (int32_t)tr_rng_below(&rng, V);
    }
    int32_t feed[7][12];
    for (int i = 0; i < NS; i++)
        for (int j = 0; j < STEPS; j++) feed[i][j] = (int32_t)tr_rng_below(&rng, V);

    /* batched: all prompts in one prefill, then STEPS decode steps of all 7 */
    tr_infer *big;
    CHECK(tr_infer_init(&big, &m, NS, 64, &err) == 0);
    CHECK(tr_infer_set_kv(big, kv, &err) == 0);
    tr_infer_set_adaptive(big, 0);
    int slots[7];
    const int32_t *ptr[7];
    for (int i = 0; i < NS; i++) slots[i] = i, ptr[i] = prompts[i];
    float *lb = malloc(sizeof(float) * (size_t)NS * V * (STEPS + 1));
    CHECK(tr_infer_forward(big, NS, slots, ptr, plen, 0, lb, &err) == 0);
    for (int j = 0; j < STEPS; j++) {
        int32_t t[7];
        for (int i = 0; i < NS; i++) t[i] = feed[i][j];
        CHECK(tr_infer_decode(big, NS, slots, t, lb + (size_t)(j + 1) * NS * V, &err) == 0);
    }
    /* alone, one context per sequence, at 1 thread and at 2 */
    int threads0 = tr_get_threads();
    float *la = malloc(sizeof(float) * V);
    int mism = 0;
    for (int i = 0; i < NS; i++) {
        tr_set_threads(i % 2 ? 1 : 2);
        tr_infer *one;
        CHECK(tr_infer_init(&one, &m, 1, 64, &err) == 0);
        CHECK(tr_infer_set_kv(one, kv, &err) == 0);
        tr_infer_set_adaptive(one, 0);
        int s = 0;
        CHECK(tr_infer_prefill(one, s, prompts[i], plen[i], 0, la, &err) == 0);
        mism += memcmp(la, lb + (size_t)i * V, sizeof(float) * V) != 0;
        for (int j = 0; j < STEPS; j++) {
            CHECK(tr_infer_decode(one, 1, &s, &feed[i][j], la, &err) == 0);
            mism += memcmp(la, lb + ((size_t)(j + 1) * NS + i) * V, sizeof(float) * V) != 0;
        }
        tr_infer_free(one);
    }
    tr_set_threads(threads0);
    CHECK_MSG(mism == 0, "%s cache: %d logit rows differ between batched and single decoding",
              kv == TR_KV_BF16 ? "BF16" : "F32", mism);
    free(la);
    free(lb);
    tr_infer_free(big);
    tr_model_free(&m);
}

static void test_refusals(void) {
    tr_err err;
    tr_config cfg = small_config(0, 1);
    cfg.max_seq = 16;
    tr_model m;
    CHECK(tr_model_init(&m, &cfg, &err) == 0);
    tr_infer *ctx;
    CHECK(tr_infer_init(&ctx, &m, 2, 32, &err) == -1); /* beyond the model's max_seq */
    CHECK(strstr(err.msg, "max_seq") != NULL);
    CHECK(tr_infer_init(&ctx, &m, 0, 0, &err) == -1);
    CHECK(tr_infer_init(&ctx, &m, 2, 0, &err) == 0);
    CHECK(tr_infer_acquire(ctx) == 0);
    CHECK(tr_infer_acquire(ctx) == 1);
    CHECK(tr_infer_acquire(ctx) == -1);
    tr_infer_release(ctx, 0);
    CHECK(tr_infer_acquire(ctx) == 0);
    int32_t tok[20] = {0};
    float lg[97 * 2];
    CHECK(tr_infer_prefill(ctx, 0, tok, 17, 0, lg, &err) == -1);
    CHECK(strstr(err.msg, "exceed max_seq") != NULL);
    CHECK(tr_infer_prefill(ctx, 0, tok, 16, 0, lg, &err) == 0);
    CHECK(tr_infer_prefill(ctx, 0, tok, 1, 0, lg, &err) == -1);
    int two[2] = {1, 1};
    int32_t t2[2] = {3, 4};
    CHECK(tr_infer_decode(ctx, 2, two, t2, lg, &err) == -1);
    CHECK(strstr(err.msg, "twice") != NULL);
    int32_t bad = 97;
    int one = 1;
    CHECK(tr_infer_decode(ctx, 1, &one, &bad, lg, &err) == -1);
    CHECK(strstr(err.msg, "outside") != NULL);
    CHECK(tr_infer_length(ctx, 1) == 0); /* refused calls change nothing */
    CHECK(tr_infer_decode(ctx, 1, &one, &t2[0], lg, &err) == 0);
    CHECK(tr_infer_truncate(ctx, 1, 2, &err) == -1);
    CHECK(tr_infer_copy(ctx, 1, 0, 17, &err) == -1);
    tr_infer_free(ctx);
    tr_model_free(&m);
}

/* The context computes with its packed snapshot of the weights: after the model changes it
 * keeps the old results until tr_infer_sync, then matches the training forward of the new
 * weights; sync refuses weights that came from tr_infer_use_bf16. */
static void test_sync(void) {
    tr_err err;
    tr_model m;
    tr_config cfg = small_config(1, 0);
    CHECK(tr_model_init(&m, &cfg, &err) == 0);
    tr_model_init_random(&m, 21, 0.3f);
    const int V = cfg.vocab, T = 12;
    int32_t tok[12];
    for (int i = 0; i < T; i++) tok[i] = (int32_t)((i * 31 + 7) % V);
    float *before = train_logits(&m, tok, T);
    tr_infer *ctx;
    CHECK(tr_infer_init(&ctx, &m, 1, 0, &err) == 0);
    float *lg = malloc(sizeof(float) * V);
    /* the packed weights are counted before the first forward packs them (at least 4 bytes
     * per matrix parameter: rows are padded to a multiple of 16) */
    size_t bytes0 = tr_infer_bytes(ctx), matrices = 0;
    for (int i = 0; i < m.table.n_tensors; i++)
        if (m.table.tensors[i].kind == TR_TENSOR_MATRIX ||
            m.table.tensors[i].kind == TR_TENSOR_EMBED)
            matrices += m.table.tensors[i].numel;
    CHECK(bytes0 >= 4 * matrices);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, lg, &err) == 0);
    CHECK(tr_infer_bytes(ctx) == bytes0);
    CHECK(tu_scaled_err(lg, before + (size_t)(T - 1) * V, V) <= 1e-5);
    /* "a training step" on the matrices (norms and biases are read at every call) */
    for (int i = 0; i < m.table.n_tensors; i++) {
        const tr_tensor_info *ti = &m.table.tensors[i];
        if (ti->kind == TR_TENSOR_MATRIX || ti->kind == TR_TENSOR_EMBED)
            for (size_t j = 0; j < ti->numel; j++) m.params[ti->offset + j] *= 1.25f;
    }
    float *after = train_logits(&m, tok, T);
    CHECK(tu_scaled_err(after + (size_t)(T - 1) * V, before + (size_t)(T - 1) * V, V) > 1e-2);
    CHECK(tr_infer_truncate(ctx, 0, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, lg, &err) == 0);
    CHECK(tu_scaled_err(lg, before + (size_t)(T - 1) * V, V) <= 1e-5); /* the snapshot */
    CHECK(tr_infer_sync(ctx, &err) == 0);
    CHECK(tr_infer_truncate(ctx, 0, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, lg, &err) == 0);
    CHECK(tu_scaled_err(lg, after + (size_t)(T - 1) * V, V) <= 1e-5);
    /* BF16 mode: sync re-rounds the new weights; borrowed BF16 weights cannot be synced */
    CHECK(tr_infer_set_weights(ctx, TR_INFER_BF16, &err) == 0);
    CHECK(tr_infer_sync(ctx, &err) == 0 && tr_infer_get_weights(ctx) == TR_INFER_BF16);
    uint16_t *wb = calloc(m.table.total, sizeof(uint16_t));
    tr_bf16_round_to(wb, m.params, m.table.total);
    CHECK(tr_infer_use_bf16(ctx, wb, &err) == 0);
    free(wb); /* packed: the context no longer needs it */
    CHECK(tr_infer_truncate(ctx, 0, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, lg, &err) == 0);
    CHECK(tu_scaled_err(lg, after + (size_t)(T - 1) * V, V) <= 2e-2); /* bf16-rounded */
    CHECK(tr_infer_sync(ctx, &err) == -1 && strstr(err.msg, "tr_infer_use_bf16"));
    CHECK(tr_infer_set_weights(ctx, TR_INFER_F32, &err) == -1 && strstr(err.msg, "NULL"));
    CHECK(tr_infer_use_bf16(ctx, NULL, &err) == 0 && tr_infer_get_weights(ctx) == TR_INFER_F32);
    CHECK(tr_infer_truncate(ctx, 0, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 0, lg, &err) == 0);
    CHECK(tu_scaled_err(lg, after + (size_t)(T - 1) * V, V) <= 1e-5);
    free(lg), free(before), free(after);
    tr_infer_free(ctx);
    tr_model_free(&m);
}

/* Grouped attention: the G query heads of a kv-head in one call give bitwise what each head
 * gives alone (the promise of tr_infer_attend), for position counts across the 64-position
 * blocks (odd ones too), head sizes with and without a multiple of 8, and G past the 8 heads
 * of one pass; and the result is the softmax-weighted sum to 1e-5 (double reference). */
static void test_attend_groups(void) {
    tr_rng rng;
    tr_rng_seed(&rng, 31);
    const int ns[] = {1, 2, 63, 64, 65, 150}, hds[] = {8, 12, 32, 40}, gs[] = {1, 3, 9};
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 4; b++)
            for (int g3 = 0; g3 < 3; g3++) {
                int n = ns[a], HD = hds[b], G = gs[g3];
                float *K = malloc(sizeof(float) * n * HD), *V = malloc(sizeof(float) * n * HD);
                float *q = malloc(sizeof(float) * G * HD), *o = malloc(sizeof(float) * G * HD);
                float *one = malloc(sizeof(float) * HD), *sc = malloc(sizeof(float) * G * n);
                double *p = malloc(sizeof(double) * n);
                for (int i = 0; i < n * HD; i++)
                    K[i] = tr_rng_normal(&rng), V[i] = tr_rng_normal(&rng);
                for (int i = 0; i < G * HD; i++) q[i] = tr_rng_normal(&rng);
                const float scale = 1.0f / sqrtf((float)HD);
                tr_infer_attend(o, q, G, K, V, n, HD, scale, sc);
                int same = 1;
                double worst = 0;
                for (int g = 0; g < G; g++) {
                    tr_infer_attend(one, q + g * HD, 1, K, V, n, HD, scale, sc);
                    same &= memcmp(one, o + g * HD, sizeof(float) * HD) == 0;
                    double mx = -1e300, sum = 0;
                    for (int t = 0; t < n; t++) {
                        double d = 0;
                        for (int i = 0; i < HD; i++) d += (double)q[g * HD + i] * K[t * HD + i];
                        p[t] = d * scale;
                        mx = p[t] > mx ? p[t] : mx;
                    }
                    for (int t = 0; t < n; t++) sum += p[t] = exp(p[t] - mx);
                    for (int i = 0; i < HD; i++) {
                        double r = 0;
                        for (int t = 0; t < n; t++) r += p[t] / sum * V[t * HD + i];
                        double e = fabs(r - o[g * HD + i]);
                        worst = e > worst ? e : worst;
                    }
                }
                CHECK_MSG(same, "n %d HD %d G %d: a head in the group differs from it alone", n, HD,
                          G);
                CHECK_MSG(worst < 1e-5, "n %d HD %d G %d: err %g", n, HD, G, worst);
                /* a BF16 cache: bitwise the F32 kernel on the rounded keys and values */
                uint16_t *K16 = malloc(sizeof(uint16_t) * n * HD),
                         *V16 = malloc(sizeof(uint16_t) * n * HD);
                tr_bf16_round_to(K16, K, (size_t)n * HD);
                tr_bf16_round_to(V16, V, (size_t)n * HD);
                tr_bf16_widen(K, K16, (size_t)n * HD);
                tr_bf16_widen(V, V16, (size_t)n * HD);
                float *o16 = malloc(sizeof(float) * G * HD);
                tr_infer_attend(o, q, G, K, V, n, HD, scale, sc);
                tr_infer_attend_bf16(o16, q, G, K16, V16, n, HD, scale, sc);
                CHECK_MSG(memcmp(o, o16, sizeof(float) * G * HD) == 0,
                          "n %d HD %d G %d: BF16 cache differs from F32 on the rounded values", n,
                          HD, G);
                free(K16), free(V16), free(o16);
                free(K), free(V), free(q), free(o), free(one), free(sc), free(p);
            }
}

/* A BF16 KV cache: set only while no slot holds positions, half the cache's bytes; logits
 * near the training forward's (keys and values rounded to 8 significant bits: 3e-3 here,
 * against 6e-7 for the F32 cache; weights of scale 0.1, where attention is not yet
 * saturated, 0.3 gives 2e-2) but not
 * equal to the F32 cache's (the rounding happens); a whole prompt prefilled at once gives
 * bitwise the logits of the same tokens decoded one by one (every position is rounded once,
 * as it is written), and a copied prefix decodes like its source. */
static void test_kv_bf16(void) {
    tr_err err;
    tr_config cfg = small_config(1, 0);
    tr_model m;
    CHECK(tr_model_init(&m, &cfg, &err) == 0);
    tr_model_init_random(&m, 41, 0.1f);
    perturb_norms_biases(&m, 42);
    const int V = cfg.vocab, T = 100;
    int32_t tok[100];
    tr_rng rng;
    tr_rng_seed(&rng, 43);
    for (int i = 0; i < T; i++) tok[i] = (int32_t)tr_rng_below(&rng, (uint64_t)V);
    float *ref = train_logits(&m, tok, T);
    float *lg = malloc(sizeof(float) * (size_t)T * V), *step = malloc(sizeof(float) * V);

    tr_infer *ctx;
    CHECK(tr_infer_init(&ctx, &m, 2, 0, &err) == 0);
    tr_infer_set_adaptive(ctx, 0);
    CHECK(tr_infer_get_kv(ctx) == TR_KV_F32);
    const size_t cache_f32 = 2 * (size_t)cfg.n_layers * 2 * cfg.n_kv_heads * cfg.max_seq *
                             (cfg.dim / cfg.n_heads) * sizeof(float);
    const size_t bytes_f32 = tr_infer_bytes(ctx);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 1, lg, &err) == 0);
    double e_f32 = tu_scaled_err(lg, ref, (size_t)T * V);
    CHECK(tr_infer_set_kv(ctx, TR_KV_BF16, &err) == -1); /* slot 0 holds positions */
    CHECK(strstr(err.msg, "slot 0") != NULL);
    CHECK(tr_infer_get_kv(ctx) == TR_KV_F32);
    CHECK(tr_infer_set_kv(ctx, (tr_infer_kv)7, &err) == -1);
    CHECK(tr_infer_truncate(ctx, 0, 0, &err) == 0);
    CHECK(tr_infer_set_kv(ctx, TR_KV_BF16, &err) == 0);
    CHECK(tr_infer_get_kv(ctx) == TR_KV_BF16);
    CHECK_MSG(bytes_f32 - tr_infer_bytes(ctx) == cache_f32 / 2, "bytes %zu -> %zu (cache %zu)",
              bytes_f32, tr_infer_bytes(ctx), cache_f32);

    CHECK(tr_infer_prefill(ctx, 0, tok, T, 1, lg, &err) == 0);
    double e_bf16 = tu_scaled_err(lg, ref, (size_t)T * V);
    CHECK_MSG(e_bf16 < 1e-2 && e_bf16 > 20 * e_f32, "BF16 cache err %g (F32 cache %g)", e_bf16,
              e_f32);
    /* the same tokens one by one into slot 1: bitwise the prefill's logits */
    int one = 1, mism = 0;
    for (int t = 0; t < T; t++) {
        CHECK(tr_infer_decode(ctx, 1, &one, &tok[t], step, &err) == 0);
        mism += memcmp(step, lg + (size_t)t * V, sizeof(float) * V) != 0;
    }
    CHECK_MSG(mism == 0, "BF16 cache: %d positions differ between prefill and decode", mism);
    /* a copied prefix continues like its source (slot 1 first holds other tokens) */
    int32_t other[100];
    for (int t = 0; t < T; t++) other[t] = (tok[t] + 1) % V;
    CHECK(tr_infer_truncate(ctx, 1, 0, &err) == 0);
    CHECK(tr_infer_prefill(ctx, 1, other, T, 0, step, &err) == 0);
    CHECK(tr_infer_copy(ctx, 1, 0, 60, &err) == 0);
    CHECK(tr_infer_decode(ctx, 1, &one, &tok[60], step, &err) == 0);
    CHECK(memcmp(step, lg + (size_t)60 * V, sizeof(float) * V) == 0);
    /* and back to F32 once empty: the F32 results again */
    CHECK(tr_infer_truncate(ctx, 0, 0, &err) == 0);
    CHECK(tr_infer_set_kv(ctx, TR_KV_F32, &err) == -1); /* slot 1 still holds 61 */
    CHECK(tr_infer_truncate(ctx, 1, 0, &err) == 0);
    CHECK(tr_infer_set_kv(ctx, TR_KV_F32, &err) == 0);
    CHECK(tr_infer_bytes(ctx) == bytes_f32);
    CHECK(tr_infer_prefill(ctx, 0, tok, T, 1, lg, &err) == 0);
    CHECK(tu_scaled_err(lg, ref, (size_t)T * V) == e_f32);

    free(lg), free(step), free(ref);
    tr_infer_free(ctx);
    tr_model_free(&m);
}

int main(void) {
    test_matmul_kernel();
    test_attend_groups();
    test_against_training(small_config(1, 0), "gqa+bias untied");
    test_against_training(small_config(0, 1), "gqa tied");
    tr_config mha = small_config(0, 0);
    mha.n_kv_heads = mha.n_heads;
    test_against_training(mha, "mha");
    test_batch_invariance(TR_KV_F32);
    test_batch_invariance(TR_KV_BF16);
    test_kv_bf16();
    test_refusals();
    test_sync();
    return tu_finish("test_infer");
}
