/* Distillation: the KD objective through tr_trainer_step (gradient accumulation over
 * unequal micro-batches equals one batch), the top-K cache (K = V gives the online loss,
 * corrupt files are refused), a teacher with padding rows, scores, on-policy batches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define NV 64
#define NT 24

static tr_config small_cfg(int vocab) {
    tr_config c = tr_config_default();
    c.vocab = vocab;
    c.dim = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    c.hidden_dim = 32;
    c.max_seq = 32;
    c.tied_embeddings = 0;
    return c;
}

static void make_model(tr_model *m, int vocab, uint64_t seed) {
    tr_config c = small_cfg(vocab);
    tr_err err;
    if (tr_model_init(m, &c, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    tr_model_init_random(m, seed, 0.4f);
}

/* 8 examples of different prompt and completion lengths. */
static void make_set(tr_sft_set *set, uint64_t seed) {
    memset(set, 0, sizeof *set);
    tr_rng r;
    tr_rng_seed(&r, seed);
    static const int lens[8][2] = {{3, 5}, {1, 20}, {6, 2},  {2, 11},
                                   {4, 7}, {1, 3},  {9, 14}, {2, 30}};
    set->cap = 8;
    set->ex = calloc(8, sizeof *set->ex);
    for (int i = 0; i < 8; i++) {
        int n = lens[i][0] + lens[i][1];
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        for (int t = 0; t < n; t++) ids[t] = (int32_t)tr_rng_below(&r, NV);
        set->ex[i] = (tr_sft_example){ids, lens[i][0], n};
        set->n_tokens += n;
        set->n_trained += lens[i][1];
    }
    set->n = 8;
    set->perm_epoch = -1;
}

static void fill(tr_batch *b, const tr_sft_set *set, int first, int n) {
    tr_seq seqs[8];
    for (int i = 0; i < n; i++) {
        const tr_sft_example *e = &set->ex[first + i];
        seqs[i] = (tr_seq){e->ids, e->n_prompt, e->ids + e->n_prompt, e->n - e->n_prompt};
    }
    tr_err err;
    CHECK(tr_batch_fill(b, seqs, n, 0, TR_TRUNC_RIGHT, NULL, &err) == 0);
}

/* One step through tr_trainer_step; returns the gradient (copy) and stats. */
static float *one_step(const tr_model *init, const tr_batch *micro, int n_micro, tr_objective *obj,
                       tr_step_stats *st) {
    tr_model m;
    tr_err err;
    CHECK(tr_model_init(&m, &init->cfg, &err) == 0);
    memcpy(m.params, init->params, init->table.total * sizeof(float));
    tr_trainer t;
    tr_lr_schedule s = {TR_SCHEDULE_CONSTANT, 1e-3f, 1e-3f, 0, 10};
    CHECK(tr_trainer_init(&t, &m, tr_adamw_default_params(), NULL, s, 0, 8, NT, tr_dist_single(),
                          &err) == 0);
    int rc = tr_trainer_step(&t, micro, n_micro, obj, st, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    float *g = malloc(m.table.total * sizeof(float));
    memcpy(g, t.grads, m.table.total * sizeof(float));
    tr_trainer_free(&t);
    tr_model_free(&m);
    return g;
}

static double max_abs_diff(const float *a, const float *b, size_t n, double *scale) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    *scale = s;
    return d;
}

static char tmpdir[256];

static void test_accumulation(const tr_model *student, const tr_model *teacher,
                              const tr_sft_set *set, const tr_kd_cache *cache) {
    tr_err err;
    tr_batch whole, parts[4];
    CHECK(tr_batch_alloc(&whole, 8, NT, &err) == 0);
    fill(&whole, set, 0, 8);
    for (int i = 0; i < 4; i++) {
        CHECK(tr_batch_alloc(&parts[i], 2, NT, &err) == 0);
        fill(&parts[i], set, 2 * i, 2);
    }
    double w[4];
    for (int i = 0; i < 4; i++) w[i] = tr_batch_weight_sum(&parts[i]);
    CHECK(w[0] != w[1] && w[1] != w[2] && w[2] != w[3]); /* unequal token counts */
    static const tr_kd_div divs[3] = {TR_KD_FKL, TR_KD_RKL, TR_KD_JSD};
    for (int src = 0; src < 2; src++) {
        for (int d = 0; d < 3; d++) {
            tr_kd_params p = tr_kd_default_params();
            p.div = divs[d];
            p.temperature = 2.0;
            p.ce_alpha = 0.3;
            int64_t rows_whole[8], rows_parts[8];
            for (int i = 0; i < 8; i++) rows_whole[i] = rows_parts[i] = i;
            tr_distill_kd k1, k2;
            if (src == 0) {
                CHECK(tr_distill_kd_init_online(&k1, teacher, NV, &p, 8, NT, &err) == 0);
                CHECK(tr_distill_kd_init_online(&k2, teacher, NV, &p, 2, NT, &err) == 0);
            } else {
                p.temperature = cache->temperature;
                CHECK(tr_distill_kd_init_cache(&k1, cache, NV, &p, 8, NT, 1, rows_whole, &err) ==
                      0);
                CHECK(tr_distill_kd_init_cache(&k2, cache, NV, &p, 2, NT, 4, rows_parts, &err) ==
                      0);
            }
            tr_objective o1 = tr_distill_kd_objective(&k1), o2 = tr_distill_kd_objective(&k2);
            tr_step_stats s1, s2;
            float *g1 = one_step(student, &whole, 1, &o1, &s1);
            float *g2 = one_step(student, parts, 4, &o2, &s2);
            double scale, diff = max_abs_diff(g2, g1, student->table.total, &scale);
            CHECK_MSG(diff <= 1e-5 * scale, "%s %s: gradient differs by %g (scale %g)",
                      src ? "cache" : "online", tr_kd_div_name(divs[d]), diff, scale);
            CHECK_CLOSE(s2.loss, s1.loss, 1e-5, 1e-7);
            for (int k = 0; k < 3; k++) CHECK_CLOSE(s2.parts[k], s1.parts[k], 1e-5, 1e-7);
            CHECK(s1.loss > 0 && s1.parts[2] > 0);
            /* total = alpha ce + (1 - alpha) kd */
            CHECK_CLOSE(s1.loss, 0.3 * s1.parts[0] + 0.7 * s1.parts[1], 1e-6, 1e-9);
            free(g1);
            free(g2);
            tr_distill_kd_free(&k1);
            tr_distill_kd_free(&k2);
        }
    }
    tr_batch_free(&whole);
    for (int i = 0; i < 4; i++) tr_batch_free(&parts[i]);
}

/* Objective loss and dlogits for one batch of all 8 examples. */
static void objective_out(tr_distill_kd *kd, const tr_model *student, const tr_batch *b,
                          double *loss, double *kl, float *dlogits) {
    tr_err err;
    tr_activations *a;
    CHECK(tr_activations_init(&a, &student->cfg, b->B, b->T, &err) == 0);
    float *z = tr_model_forward(student, a, b->tokens, b->B, b->T);
    tr_objective o = tr_distill_kd_objective(kd);
    tr_objective_out out = {0};
    int rc = o.fn(o.ctx, z, 0, (int64_t)b->B * b->T, NV, b, 0, tr_batch_weight_sum(b), &out, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    *loss = out.loss;
    *kl = out.parts[2];
    memcpy(dlogits, z, (size_t)b->B * b->T * NV * sizeof(float));
    tr_activations_free(a);
}

static void test_cache_equals_online(const tr_model *student, const tr_model *teacher,
                                     const tr_sft_set *set) {
    tr_err err;
    tr_batch b;
    CHECK(tr_batch_alloc(&b, 8, NT, &err) == 0);
    fill(&b, set, 0, 8);
    size_t nz = (size_t)8 * NT * NV;
    float *d_on = malloc(nz * sizeof(float)), *d_c = malloc(nz * sizeof(float));
    tr_kd_params p = tr_kd_default_params();
    p.temperature = 2.0;
    p.div = TR_KD_JSD;
    p.beta = 0.3;
    tr_distill_kd on;
    CHECK(tr_distill_kd_init_online(&on, teacher, NV, &p, 8, NT, &err) == 0);
    double l_on, kl_on;
    objective_out(&on, student, &b, &l_on, &kl_on, d_on);
    tr_distill_kd_free(&on);
    static const tr_kdc_dtype dts[3] = {TR_KDC_F32, TR_KDC_F16, TR_KDC_BF16};
    for (int i = 0; i < 3; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/full_%d.kdc", tmpdir, i);
        tr_kd_cache_params cp = tr_kd_cache_default_params();
        cp.K = NV;
        cp.temperature = 2.0;
        cp.dtype = dts[i];
        cp.batch = 3;
        int64_t bytes = 0;
        CHECK(tr_kd_cache_write(path, teacher, NV, set, &cp, &bytes, NULL, NULL, &err) == 0);
        tr_kd_cache c;
        int rc = tr_kd_cache_open(&c, path, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
        if (rc != 0) continue;
        CHECK(c.K == NV && c.V == NV && c.n_examples == 8 && (int64_t)c.file_bytes == bytes);
        CHECK(c.n_positions == set->n_trained); /* every prompt here has >= 1 token */
        size_t lpb = dts[i] == TR_KDC_F32 ? 4 : 2;
        CHECK(c.record_bytes == (size_t)NV * 2 + (size_t)(NV + 1) * lpb);
        CHECK(tr_kd_cache_hash_set(set, c.max_len) == c.seq_hash);
        int64_t rows[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        tr_distill_kd kc;
        CHECK(tr_distill_kd_init_cache(&kc, &c, NV, &p, 8, NT, 1, rows, &err) == 0);
        double l_c, kl_c;
        objective_out(&kc, student, &b, &l_c, &kl_c, d_c);
        double tol = dts[i] == TR_KDC_F32 ? 1e-5 : (dts[i] == TR_KDC_F16 ? 2e-3 : 2e-2);
        CHECK_MSG(fabs(l_c - l_on) <= tol * fabs(l_on), "%s: cache loss %.9g vs online %.9g",
                  tr_kdc_dtype_name(dts[i]), l_c, l_on);
        double scale, diff = max_abs_diff(d_c, d_on, nz, &scale);
        CHECK_MSG(diff <= tol * scale * 10, "%s: dlogits differ by %g (scale %g)",
                  tr_kdc_dtype_name(dts[i]), diff, scale);
        printf("cache K=V=%d %s: loss %.9g (online %.9g), %.1f bytes per trained token "
               "(%zu-byte records), file %lld bytes\n",
               NV, tr_kdc_dtype_name(dts[i]), l_c, l_on, (double)bytes / c.n_positions,
               c.record_bytes, (long long)bytes);
        /* the KL part at the cache temperature (2): compare against the online teacher's
         * KL at temperature 2 through tr_kd_loss */
        (void)kl_c;
        tr_distill_kd_free(&kc);
        tr_kd_cache_close(&c);
    }
    /* a small K: the file is compact and the loss is finite */
    {
        char path[400];
        snprintf(path, sizeof path, "%s/k4.kdc", tmpdir);
        tr_kd_cache_params cp = tr_kd_cache_default_params();
        cp.K = 4;
        cp.temperature = 2.0;
        int64_t bytes;
        CHECK(tr_kd_cache_write(path, teacher, NV, set, &cp, &bytes, NULL, NULL, &err) == 0);
        tr_kd_cache c;
        CHECK(tr_kd_cache_open(&c, path, &err) == 0);
        CHECK(c.record_bytes == 4 * 2 + 5 * 2 && c.record_bytes <= 6 * 4 + 4);
        tr_kd_cache_close(&c);
    }
    free(d_on);
    free(d_c);
    tr_batch_free(&b);
}

static void write_bytes(const char *path, const uint8_t *d, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

static void expect_refused(const char *path, const char *needle) {
    tr_kd_cache c;
    tr_err err = {{0}};
    int rc = tr_kd_cache_open(&c, path, &err);
    CHECK_MSG(rc != 0 && strstr(err.msg, needle), "expected '%s', got rc %d: %s", needle, rc,
              err.msg);
    if (rc == 0) tr_kd_cache_close(&c);
}

static void test_corrupt(void) {
    char path[400], bad[400];
    snprintf(path, sizeof path, "%s/k4.kdc", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.kdc", tmpdir);
    tr_err err;
    size_t n;
    uint8_t *d = (uint8_t *)tr_read_file(path, &n, &err);
    CHECK(d != NULL && n > 200);
    uint8_t *c = malloc(n);
    memcpy(c, d, n);
    c[n - 3] ^= 0x40; /* a log-prob byte */
    write_bytes(bad, c, n);
    expect_refused(bad, "checksum");
    write_bytes(bad, d, n - 1);
    expect_refused(bad, "truncated");
    write_bytes(bad, d, 100);
    expect_refused(bad, "too short");
    memcpy(c, d, n);
    c[0] = 'X';
    write_bytes(bad, c, n);
    expect_refused(bad, "not a tinyr1 KD cache");
    memcpy(c, d, n);
    c[16] = 200; /* K > NV */
    write_bytes(bad, c, n);
    expect_refused(bad, "K = 200");
    memcpy(c, d, n);
    c[100] = 1; /* reserved */
    write_bytes(bad, c, n);
    expect_refused(bad, "reserved");
    memcpy(c, d, n);
    c[8] = 9; /* version */
    write_bytes(bad, c, n);
    expect_refused(bad, "version 9");
    memcpy(c, d, n);
    c[40] = 9; /* n_examples 8 -> 9: sizes no longer add up */
    write_bytes(bad, c, n);
    expect_refused(bad, "header describes");
    expect_refused("/nonexistent/x.kdc", "cannot open");
    free(c);
    free(d);
}

static void test_f16(void) {
    /* every finite half survives float -> half */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) continue; /* NaN */
        if (tr_f32_to_f16(tr_f16_to_f32((uint16_t)h)) != h) bad++;
    }
    CHECK(bad == 0);
    /* ties to even, by hand: 1 + 2^-11 lies halfway between 1 (0x3c00) and 1 + 2^-10 */
    CHECK(tr_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00);
    CHECK(tr_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02);
    CHECK(tr_f32_to_f16(70000.0f) == 0x7c00);
    CHECK(tr_f32_to_f16(-INFINITY) == 0xfc00);
    CHECK(tr_f32_to_f16(ldexpf(1, -24)) == 0x0001); /* smallest subnormal */
    CHECK(tr_f32_to_f16(ldexpf(1, -26)) == 0x0000);
}

/* A teacher with padding rows: the first NV columns are compared. */
static void test_padding(const tr_model *student, const tr_model *teacher, const tr_sft_set *set) {
    tr_model padded;
    make_model(&padded, NV + 6, 99);
    for (int i = 0; i < teacher->table.n_tensors; i++) {
        const tr_tensor_info *src = &teacher->table.tensors[i];
        int j = tr_param_table_find(&padded.table, src->name);
        CHECK(j >= 0);
        /* embedding and LM head: the first NV rows are the same, the rest is padding */
        memcpy(padded.params + padded.table.tensors[j].offset, teacher->params + src->offset,
               src->numel * sizeof(float));
    }
    int v_use = 0;
    tr_err err;
    CHECK(tr_kd_vocab_check(&v_use, NV + 6, NV, NV, &err) == 0 && v_use == NV);
    tr_batch b;
    CHECK(tr_batch_alloc(&b, 8, NT, &err) == 0);
    fill(&b, set, 0, 8);
    size_t nz = (size_t)8 * NT * NV;
    float *d1 = malloc(nz * sizeof(float)), *d2 = malloc(nz * sizeof(float));
    tr_kd_params p = tr_kd_default_params();
    tr_distill_kd k1, k2;
    CHECK(tr_distill_kd_init_online(&k1, teacher, NV, &p, 8, NT, &err) == 0);
    CHECK(tr_distill_kd_init_online(&k2, &padded, NV, &p, 8, NT, &err) == 0);
    double l1, l2, kl1, kl2;
    objective_out(&k1, student, &b, &l1, &kl1, d1);
    objective_out(&k2, student, &b, &l2, &kl2, d2);
    CHECK_CLOSE(l2, l1, 1e-6, 0);
    CHECK_CLOSE(kl2, kl1, 1e-6, 0);
    /* fkl at NT = 1 without CE is exactly the KL part */
    CHECK_CLOSE(l1, kl1, 1e-9, 0);
    tr_distill_kd_free(&k1);
    tr_distill_kd_free(&k2);
    /* different tokenizers (different sizes): refused */
    CHECK(tr_kd_vocab_check(&v_use, 100, NV, 0, &err) != 0);
    free(d1);
    free(d2);
    tr_batch_free(&b);
    tr_model_free(&padded);
}

static void test_score(const tr_model *student, const tr_model *teacher, tr_sft_set *set) {
    tr_err err;
    tr_distill_scores s, self;
    CHECK(tr_distill_score(student, teacher, set, 3, NT, 0, &s, &err) == 0);
    CHECK(tr_distill_score(teacher, teacher, set, 5, NT, 0, &self, &err) == 0);
    CHECK(fabs(self.kl) < 1e-9);
    CHECK_CLOSE(self.nll, self.teacher_nll, 1e-12, 0);
    CHECK_CLOSE(s.teacher_nll, self.nll, 1e-9, 0);
    CHECK(s.kl > 0);
    /* the NLL against the library's cross-entropy on one batch of all examples */
    tr_batch b;
    CHECK(tr_batch_alloc(&b, 8, NT, &err) == 0);
    fill(&b, set, 0, 8);
    tr_activations *a;
    CHECK(tr_activations_init(&a, &student->cfg, 8, NT, &err) == 0);
    float *z = tr_model_forward(student, a, b.tokens, 8, NT);
    double ce;
    double w = tr_batch_weight_sum(&b);
    CHECK(tr_ce_loss(z, &ce, z, b.targets, b.weights, (int64_t)8 * NT, NV, w, &err) == 0);
    CHECK_CLOSE(s.nll, ce, 1e-6, 0);
    CHECK(s.tokens == (int64_t)w);
    tr_activations_free(a);
    tr_batch_free(&b);
}

static void test_onpolicy(const tr_model *student, tr_sft_set *set) {
    tr_err err;
    tr_gen_params gp = tr_gen_default_params();
    gp.sampler.temperature = 1.0f;
    tr_distill_data d;
    CHECK(tr_distill_data_init(&d, set, 0, TR_TRUNC_RIGHT, 1, 4, NT, 1.0, student, &gp, &err) == 0);
    tr_train_state st0 = {0};
    tr_rng_seed(&st0.rng, 5);
    tr_rng_seed(&st0.data_rng, 6);
    tr_train_state st = st0;
    tr_batch b1, b2;
    CHECK(tr_batch_alloc(&b1, 4, NT, &err) == 0 && tr_batch_alloc(&b2, 4, NT, &err) == 0);
    CHECK(tr_distill_next_batch(&d, &b1, &st, &err) == 0);
    CHECK(st.data_cursor == 4 && d.n_onpolicy == 1);
    CHECK(memcmp(&st.rng, &st0.rng, sizeof st.rng) != 0);
    for (int r = 0; r < 4; r++) {
        const tr_sft_example *e = &set->ex[tr_sft_set_index(set, (uint64_t)r, &st0.data_rng)];
        /* the prompt is the example's; the rest is the student's sample */
        CHECK(memcmp(b1.tokens + r * NT, e->ids, (size_t)e->n_prompt * sizeof(int32_t)) == 0);
        CHECK(b1.lengths[r] == NT); /* no stop token: the sample fills the row */
        CHECK(b1.weights[r * NT + e->n_prompt - 1] == 1 &&
              (e->n_prompt < 2 || b1.weights[r * NT] == 0));
    }
    /* the same state gives the same batch (resume), another state another one */
    tr_train_state again = st0;
    CHECK(tr_distill_next_batch(&d, &b2, &again, &err) == 0);
    CHECK(memcmp(b1.tokens, b2.tokens, 4 * NT * sizeof(int32_t)) == 0);
    CHECK(memcmp(&again, &st, sizeof st) == 0);
    CHECK(tr_distill_next_batch(&d, &b2, &again, &err) == 0);
    CHECK(memcmp(b1.tokens, b2.tokens, 4 * NT * sizeof(int32_t)) != 0);
    tr_distill_data_free(&d);
    /* the samples come from the student as it is now (the sampling context syncs its copy
     * of the weights): after the weights change, the same state gives the batch of a fresh
     * context over the changed student, not the old batch */
    tr_model m2;
    CHECK(tr_model_init(&m2, &student->cfg, &err) == 0);
    memcpy(m2.params, student->params, m2.table.total * sizeof(float));
    tr_batch b3;
    CHECK(tr_batch_alloc(&b3, 4, NT, &err) == 0);
    CHECK(tr_distill_data_init(&d, set, 0, TR_TRUNC_RIGHT, 1, 4, NT, 1.0, &m2, &gp, &err) == 0);
    again = st0;
    CHECK(tr_distill_next_batch(&d, &b2, &again, &err) == 0);
    CHECK(memcmp(b1.tokens, b2.tokens, 4 * NT * sizeof(int32_t)) == 0);
    for (int i = 0; i < m2.table.n_tensors; i++) { /* "a training step" */
        const tr_tensor_info *ti = &m2.table.tensors[i];
        if (ti->kind == TR_TENSOR_MATRIX || ti->kind == TR_TENSOR_EMBED)
            for (size_t j = 0; j < ti->numel; j++) m2.params[ti->offset + j] *= 1.5f;
    }
    again = st0;
    CHECK(tr_distill_next_batch(&d, &b2, &again, &err) == 0);
    CHECK(memcmp(b1.tokens, b2.tokens, 4 * NT * sizeof(int32_t)) != 0);
    tr_distill_data fresh;
    CHECK(tr_distill_data_init(&fresh, set, 0, TR_TRUNC_RIGHT, 1, 4, NT, 1.0, &m2, &gp, &err) == 0);
    again = st0;
    CHECK(tr_distill_next_batch(&fresh, &b3, &again, &err) == 0);
    CHECK(memcmp(b2.tokens, b3.tokens, 4 * NT * sizeof(int32_t)) == 0);
    tr_distill_data_free(&fresh);
    tr_distill_data_free(&d);
    tr_batch_free(&b3);
    tr_model_free(&m2);
    /* lambda 0: exactly the dataset's batch */
    CHECK(tr_distill_data_init(&d, set, 0, TR_TRUNC_RIGHT, 1, 4, NT, 0.0, NULL, NULL, &err) == 0);
    st = st0;
    CHECK(tr_distill_next_batch(&d, &b1, &st, &err) == 0);
    uint64_t cur = 0;
    CHECK(tr_sft_set_fill(set, &b2, &cur, &st0.data_rng, 0, TR_TRUNC_RIGHT, NULL, &err) == 0);
    CHECK(memcmp(b1.tokens, b2.tokens, 4 * NT * sizeof(int32_t)) == 0);
    CHECK(memcmp(&st.rng, &st0.rng, sizeof st.rng) == 0 && d.n_onpolicy == 0);
    tr_distill_data_free(&d);
    tr_batch_free(&b1);
    tr_batch_free(&b2);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tr_distill_%d", (int)getpid());
    tr_err err;
    CHECK(tr_mkdirs(tmpdir, &err) == 0);
    tr_model student, teacher;
    make_model(&student, NV, 1);
    make_model(&teacher, NV, 2);
    tr_sft_set set;
    make_set(&set, 3);
    test_f16();
    test_cache_equals_online(&student, &teacher, &set);
    test_corrupt();
    char path[400];
    snprintf(path, sizeof path, "%s/full_0.kdc", tmpdir);
    tr_kd_cache c;
    CHECK(tr_kd_cache_open(&c, path, &err) == 0);
    test_accumulation(&student, &teacher, &set, &c);
    tr_kd_cache_close(&c);
    test_padding(&student, &teacher, &set);
    test_score(&student, &teacher, &set);
    test_onpolicy(&student, &set);
    tr_sft_set_free(&set);
    tr_model_free(&student);
    tr_model_free(&teacher);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return tu_finish("distill");
}
