/* Logits in chunks of positions (model.h, train.h): a tiny model whose vocabulary is large
 * relative to the chunk (V = 97; 2 x 7 = 14 positions in chunks of 3: four full chunks and
 * a partial one, chunks that cut sequences) gives the same loss and every parameter
 * gradient as the one-chunk path -- for CE (tied and untied LM head), KD with an online
 * teacher (forward KL at temperature 2, the teacher chunked too, with padding rows), KD
 * from a top-K cache, and GRPO with beta > 0 -- and a KD cache written in chunks of 3
 * equals the one written in one chunk. The one-chunk path itself is checked against
 * PyTorch by parity_model and parity_objectives. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

enum { V = 97, NB = 2, NT = 7, CHUNK = 3 };

static tr_err err;

static void tiny(tr_model *m, int vocab, int tied, uint64_t seed) {
    tr_config c = {.vocab = vocab, .dim = 16, .n_layers = 2, .n_heads = 2, .n_kv_heads = 1,
                   .hidden_dim = 32, .max_seq = 16, .rope_theta = 1e4f, .norm_eps = 1e-5f,
                   .tied_embeddings = tied};
    CHECK_MSG(tr_model_init(m, &c, &err) == 0, "%s", err.msg);
    tr_model_init_random(m, seed, 0.5f);
}

/* Two examples: 2 prompt + 6 completion tokens (fills T + 1), 3 + 3 (padded tail). */
static void examples(tr_sft_set *set) {
    static const int len[2][2] = {{2, 6}, {3, 3}};
    memset(set, 0, sizeof *set);
    set->ex = calloc(2, sizeof *set->ex);
    set->cap = set->n = 2;
    set->perm_epoch = -1;
    tr_rng r;
    tr_rng_seed(&r, 17);
    for (int i = 0; i < 2; i++) {
        int n = len[i][0] + len[i][1];
        set->ex[i].ids = malloc((size_t)n * sizeof(int32_t));
        for (int t = 0; t < n; t++) set->ex[i].ids[t] = (int32_t)tr_rng_below(&r, V);
        set->ex[i].n_prompt = len[i][0];
        set->ex[i].n = n;
    }
}

static void batch_of(tr_batch *b, const tr_sft_set *set) {
    tr_seq seqs[2];
    for (int i = 0; i < 2; i++) {
        const tr_sft_example *e = &set->ex[i];
        seqs[i] = (tr_seq){e->ids, e->n_prompt, e->ids + e->n_prompt, e->n - e->n_prompt};
    }
    CHECK(tr_batch_alloc(b, NB, NT, &err) == 0);
    CHECK_MSG(tr_batch_fill(b, seqs, 2, 0, TR_TRUNC_RIGHT, NULL, &err) == 0, "%s", err.msg);
}

/* One unclipped trainer step from a copy of init with logits chunks of `chunk` rows (0: the
 * automatic choice, here every row); returns a copy of the gradient. */
static float *step(const tr_model *init, const tr_batch *b, const tr_objective *obj,
                   int64_t chunk, tr_step_stats *st) {
    tr_model m;
    CHECK(tr_model_init(&m, &init->cfg, &err) == 0);
    memcpy(m.params, init->params, init->table.total * sizeof(float));
    tr_lr_schedule s = {TR_SCHEDULE_CONSTANT, 1e-3f, 1e-3f, 0, 10};
    tr_trainer t;
    CHECK(tr_trainer_init(&t, &m, tr_adamw_default_params(), NULL, s, 0.0f, NB, NT,
                          tr_dist_single(), &err) == 0);
    CHECK(t.logits_chunk == NB * NT); /* 14 x 97 floats are far under the 256 MiB budget */
    if (chunk > 0) CHECK(tr_trainer_set_logits_chunk(&t, chunk, &err) == 0);
    CHECK(t.logits_chunk == (chunk > 0 ? chunk : NB * NT));
    CHECK_MSG(tr_trainer_step(&t, b, 1, obj, st, &err) == 0, "%s", err.msg);
    float *g = malloc(m.table.total * sizeof(float));
    memcpy(g, t.grads, m.table.total * sizeof(float));
    tr_trainer_free(&t);
    tr_model_free(&m);
    return g;
}

/* Worst over the parameter tensors of max_i |a_i - b_i| / max_i |b_i|. */
static double grad_err(const tr_model *m, const float *a, const float *b) {
    double worst = 0;
    for (int k = 0; k < m->table.n_tensors; k++) {
        const tr_tensor_info *ti = &m->table.tensors[k];
        double d = 0, s = 0;
        for (size_t i = ti->offset; i < ti->offset + ti->numel; i++) {
            d = fmax(d, fabs((double)a[i] - b[i]));
            s = fmax(s, fabs((double)b[i]));
        }
        CHECK_MSG(s > 0, "%s: zero gradient", ti->name);
        if (s > 0) worst = fmax(worst, d / s);
    }
    return worst;
}

/* The objective through one chunk (one) and chunks of 3 (chunked): same loss, parts and
 * gradient. one and chunked may be the same objective, or two with their own state. */
static void compare(const char *what, const tr_model *init, const tr_batch *b,
                    const tr_objective *one, const tr_objective *chunked) {
    tr_step_stats s1, s3;
    float *g1 = step(init, b, one, 0, &s1), *g3 = step(init, b, chunked, CHUNK, &s3);
    CHECK_MSG(tu_close(s3.loss, s1.loss, 1e-6, 1e-9), "%s: loss %.9g vs %.9g", what, s3.loss,
              s1.loss);
    for (int k = 0; k < TR_MAX_PARTS; k++)
        CHECK_MSG(tu_close(s3.parts[k], s1.parts[k], 1e-6, 1e-9), "%s: part %d %.9g vs %.9g",
                  what, k, s3.parts[k], s1.parts[k]);
    double e = grad_err(init, g3, g1);
    CHECK_MSG(e < 1e-5, "%s: gradient relative error %g", what, e);
    /* the same chunk again: bit-identical (what an exact resume relies on) */
    tr_step_stats s3b;
    float *g3b = step(init, b, chunked, CHUNK, &s3b);
    CHECK_MSG(s3b.loss == s3.loss && memcmp(g3b, g3, init->table.total * sizeof(float)) == 0,
              "%s: chunks of 3 twice differ", what);
    free(g3b);
    if (getenv("TR_VERBOSE"))
        fprintf(stderr, "%s: loss %.9g vs %.9g, gradient error %.3g\n", what, s3.loss, s1.loss,
                e);
    free(g1);
    free(g3);
}

/* The model's split pass against tr_model_forward / tr_model_backward directly. */
static void test_model_rows(const tr_model *m, const tr_batch *b) {
    const int64_t N = NB * NT;
    tr_activations *full, *part;
    CHECK(tr_activations_init(&full, &m->cfg, NB, NT, &err) == 0);
    CHECK(tr_activations_init_rows(&part, &m->cfg, NB, NT, CHUNK, &err) == 0);
    CHECK(tr_activations_bytes(part) < tr_activations_bytes(full));
    CHECK(tr_model_forward(m, part, b->tokens, NB, NT) == NULL); /* 14 rows > 3 */
    const float *z = tr_model_forward(m, full, b->tokens, NB, NT);
    CHECK(tr_model_forward_hidden(m, part, b->tokens, NB, NT) != NULL);
    int64_t C;
    float *buf = tr_activations_logits(part, &C);
    CHECK(buf && C == CHUNK);
    float *dz = malloc((size_t)N * V * sizeof(float));
    for (int64_t i = 0; i < N * V; i++) dz[i] = (float)sin(0.37 * (double)i);
    float *ga = calloc(m->table.total, sizeof(float)), *gb = calloc(m->table.total, sizeof(float));
    double zerr = 0;
    for (int64_t r0 = 0; r0 < N; r0 += C) {
        int64_t n = N - r0 < C ? N - r0 : C;
        tr_model_logits_rows(m, part, buf, r0, n);
        zerr = fmax(zerr, tu_scaled_err(buf, z + r0 * V, (size_t)(n * V)));
        tr_model_backward_logits_rows(m, part, gb, dz + r0 * V, r0, n);
    }
    tr_model_backward_hidden(m, part, gb);
    tr_model_backward(m, full, ga, dz);
    CHECK_MSG(zerr < 1e-6, "logits of the rows: error %g", zerr);
    double e = grad_err(m, gb, ga);
    CHECK_MSG(e < 1e-5, "backward in chunks: gradient relative error %g", e);
    free(dz);
    free(ga);
    free(gb);
    tr_activations_free(full);
    tr_activations_free(part);
}

/* ---- GRPO: tr_grpo_loss_rows with fixed advantages, old and reference log-probs -------- */
typedef struct {
    float adv[NB * NT], old[NB * NT], ref[NB * NT];
    tr_grpo_params p;
} grpo_ctx;

static int grpo_fn(void *vctx, float *logits, int64_t r0, int64_t n, int vocab,
                   const tr_batch *b, int micro, double norm, tr_objective_out *out, tr_err *e) {
    (void)micro, (void)norm;
    grpo_ctx *g = vctx;
    return tr_grpo_loss_rows(logits, &out->loss, NULL, logits, r0, n, b->targets, b->weights,
                             g->adv, g->old, g->ref, b->B, b->T, vocab, &g->p, e);
}

static void test_grpo(const tr_model *policy, const tr_model *ref, const tr_batch *b) {
    grpo_ctx g;
    memset(&g, 0, sizeof g);
    g.p = tr_grpo_default_params();
    g.p.beta = 0.1;
    g.p.temperature = 0.8;
    g.p.num_sequences = NB;
    tr_activations *a;
    CHECK(tr_activations_init(&a, &policy->cfg, NB, NT, &err) == 0);
    const float *z = tr_model_forward(ref, a, b->tokens, NB, NT);
    CHECK(tr_token_logprobs(g.ref, NULL, z, b->targets, b->weights, NB * NT, V, 0.8, &err) == 0);
    z = tr_model_forward(policy, a, b->tokens, NB, NT);
    CHECK(tr_token_logprobs(g.old, NULL, z, b->targets, b->weights, NB * NT, V, 0.8, &err) == 0);
    tr_activations_free(a);
    /* off-policy by +-0.3 nats (some ratios clip), advantages of both signs */
    for (int i = 0; i < NB * NT; i++) {
        g.old[i] += b->weights[i] != 0 ? 0.3f * (float)cos(1.7 * i) : 0;
        g.adv[i] = i < NT ? 0.8f : -0.6f;
    }
    tr_objective o = {.fn = grpo_fn, .ctx = &g};
    compare("grpo", policy, b, &o, &o);
    g.p.agg = TR_GRPO_AGG_DAPO;
    g.p.num_tokens = tr_batch_weight_sum(b);
    compare("grpo dapo", policy, b, &o, &o);
}

/* ---- KD: online teacher (its own chunks), and a top-K cache ------------------------------ */
static void test_kd_online(const tr_model *student, const tr_model *teacher, const tr_batch *b) {
    tr_kd_params p = tr_kd_default_params();
    p.div = TR_KD_FKL;
    p.temperature = 2.0;
    p.ce_alpha = 0.25;
    tr_distill_kd k1, k3;
    CHECK(tr_distill_kd_init_online(&k1, teacher, V, &p, NB, NT, &err) == 0);
    CHECK(tr_distill_kd_init_online(&k3, teacher, V, &p, NB, NT, &err) == 0);
    tr_objective o1 = tr_distill_kd_objective(&k1), o3 = tr_distill_kd_objective(&k3);
    compare("kd online", student, b, &o1, &o3);
    CHECK(k3.tlogits_cap == (size_t)CHUNK * teacher->cfg.vocab); /* never the whole batch */
    tr_distill_kd_free(&k1);
    tr_distill_kd_free(&k3);
}

static int write_cache(const char *path, const tr_model *teacher, const tr_sft_set *set,
                       int64_t chunk) {
    tr_kd_cache_params p = tr_kd_cache_default_params();
    p.K = 5;
    p.temperature = 2.0;
    p.dtype = TR_KDC_F32;
    p.batch = 2;
    p.logits_chunk = chunk;
    int rc = tr_kd_cache_write(path, teacher, V, set, &p, NULL, NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return rc;
}

static void test_kd_cache(const tr_model *student, const tr_model *teacher,
                          const tr_sft_set *set, const tr_batch *b) {
    char p1[256], p3[256];
    snprintf(p1, sizeof p1, "/tmp/tr_chunk_%d_1.kdc", (int)getpid());
    snprintf(p3, sizeof p3, "/tmp/tr_chunk_%d_3.kdc", (int)getpid());
    if (write_cache(p1, teacher, set, 0) != 0 || write_cache(p3, teacher, set, CHUNK) != 0)
        return;
    tr_kd_cache c1, c3;
    CHECK(tr_kd_cache_open(&c1, p1, &err) == 0);
    CHECK(tr_kd_cache_open(&c3, p3, &err) == 0);
    CHECK(c1.n_positions == c3.n_positions && c1.n_positions == 6 + 3);
    for (int64_t e = 0; e < set->n; e++) {
        const tr_sft_example *x = &set->ex[e];
        int64_t t0 = (x->n_prompt > 1 ? x->n_prompt : 1) - 1, np = x->n - 1 - t0;
        int32_t i1[8 * 5], i3[8 * 5];
        float l1[8 * 5], l3[8 * 5], r1[8], r3[8];
        CHECK(tr_kd_cache_rows(&c1, e, t0, np, i1, l1, r1, &err) == 0);
        CHECK(tr_kd_cache_rows(&c3, e, t0, np, i3, l3, r3, &err) == 0);
        CHECK(memcmp(i1, i3, (size_t)np * 5 * sizeof(int32_t)) == 0);
        CHECK(tu_max_rel_err(l3, l1, (size_t)np * 5, 1.0) < 1e-6);
        CHECK(tu_max_rel_err(r3, r1, (size_t)np, 1.0) < 1e-6);
    }
    /* the cache objective over chunks of 3: its sparse rows are sliced by r0 */
    tr_kd_params p = tr_kd_default_params();
    p.temperature = 2.0;
    int64_t rows[NB] = {0, 1};
    tr_distill_kd k1, k3;
    CHECK(tr_distill_kd_init_cache(&k1, &c1, V, &p, NB, NT, 1, rows, &err) == 0);
    CHECK(tr_distill_kd_init_cache(&k3, &c3, V, &p, NB, NT, 1, rows, &err) == 0);
    tr_objective o1 = tr_distill_kd_objective(&k1), o3 = tr_distill_kd_objective(&k3);
    compare("kd cache", student, b, &o1, &o3);
    tr_distill_kd_free(&k1);
    tr_distill_kd_free(&k3);
    tr_kd_cache_close(&c1);
    tr_kd_cache_close(&c3);
    unlink(p1);
    unlink(p3);
}

int main(void) {
    CHECK(tr_logits_chunk_rows(14, 97, 0) == 14);
    CHECK(tr_logits_chunk_rows(1024, 151936, 0) == (256 << 20) / (151936 * 4)); /* 441 */
    CHECK(tr_logits_chunk_rows(10, 1000, 100) == 1);                           /* at least 1 */
    CHECK(tr_logits_chunk_rows(0, 97, 0) == 0);
    tr_sft_set set;
    examples(&set);
    tr_batch b;
    batch_of(&b, &set);
    tr_model untied, tied, teacher;
    tiny(&untied, V, 0, 1);
    tiny(&tied, V, 1, 2);
    tiny(&teacher, V + 3, 0, 3); /* three padding rows: the teacher's ld is 100 */
    test_model_rows(&untied, &b);
    test_model_rows(&tied, &b);
    tr_objective ce = tr_objective_ce();
    compare("ce untied", &untied, &b, &ce, &ce);
    compare("ce tied", &tied, &b, &ce, &ce);
    test_grpo(&untied, &tied, &b);
    test_kd_online(&untied, &teacher, &b);
    test_kd_cache(&untied, &teacher, &set, &b);
    tr_batch_free(&b);
    tr_sft_set_free(&set);
    tr_model_free(&untied);
    tr_model_free(&tied);
    tr_model_free(&teacher);
    return tu_finish("chunk");
}
