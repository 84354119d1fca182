/* Unit tests of the GRPO objective: hand-computed single-token cases (clipping on both
 * sides, k3), the three aggregations, central finite differences in double, gradient
 * accumulation over unequal micro-batches, statistics, advantages, log-probs, errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static double grpo(float *d, tr_grpo_stats *st, const float *z, const int32_t *y, const float *m,
                   const float *A, const float *old, const float *ref, int B, int L, int V,
                   const tr_grpo_params *p) {
    double loss = 0;
    tr_err err = {{0}};
    float *tmp = d ? d : malloc(sizeof(float) * B * L * V);
    int rc = tr_grpo_loss(tmp, &loss, st, z, y, m, A, old, ref, B, L, V, p, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (!d) free(tmp);
    return loss;
}

/* One token, V = 2, logits (0, 0): logp(y = 0) = log 1/2. */
static void test_single_token(void) {
    float z[2] = {0, 0}, d[2], m[1] = {1};
    int32_t y[1] = {0};
    tr_grpo_params p = tr_grpo_default_params();
    p.num_sequences = 1;
    tr_grpo_stats st;
    const double lp = log(0.5);
    /* on-policy, A = 2: loss = -A, dL/dlogp = -A, dlogp/dz = onehot - q = (1/2, -1/2) */
    float A[1] = {2.0f};
    CHECK_CLOSE(grpo(d, &st, z, y, m, A, NULL, NULL, 1, 1, 2, &p), -2.0, 1e-12, 0);
    CHECK_CLOSE(d[0], -1.0, 1e-7, 0);
    CHECK_CLOSE(d[1], 1.0, 1e-7, 0);
    CHECK_CLOSE(st.mean_ratio, 1.0, 1e-12, 0);
    CHECK_CLOSE(st.mean_entropy, log(2.0), 1e-12, 0);
    /* rho = 1.5, A = +1, eps 0.2: min(1.5, 1.2) = 1.2, clipped: no gradient */
    float old[1] = {(float)(lp - log(1.5))};
    A[0] = 1.0f;
    double l = grpo(d, &st, z, y, m, A, old, NULL, 1, 1, 2, &p);
    CHECK_CLOSE(l, -1.2, 1e-6, 0);
    CHECK(d[0] == 0 && d[1] == 0);
    CHECK(st.clip_high_frac == 1 && st.clip_low_frac == 0);
    CHECK_CLOSE(st.mean_ratio, 1.5, 1e-6, 0);
    /* rho = 1.5, A = -1: min(-1.5, -1.2) = -1.5, unclipped: dL/dlogp = -rho A = 1.5 */
    A[0] = -1.0f;
    l = grpo(d, &st, z, y, m, A, old, NULL, 1, 1, 2, &p);
    CHECK_CLOSE(l, 1.5, 1e-6, 0);
    CHECK_CLOSE(d[0], 1.5 * 0.5, 1e-6, 0);
    CHECK(st.clip_high_frac == 0 && st.clip_low_frac == 0);
    /* rho = 0.5, A = -1: min(-0.5, -0.8) = -0.8, clipped low: no gradient */
    old[0] = (float)(lp - log(0.5));
    l = grpo(d, &st, z, y, m, A, old, NULL, 1, 1, 2, &p);
    CHECK_CLOSE(l, 0.8, 1e-6, 0);
    CHECK(d[0] == 0 && d[1] == 0);
    CHECK(st.clip_low_frac == 1 && st.clip_high_frac == 0);
    /* rho = 0.5, A = +1: min(0.5, 0.8) = 0.5, unclipped */
    A[0] = 1.0f;
    l = grpo(d, &st, z, y, m, A, old, NULL, 1, 1, 2, &p);
    CHECK_CLOSE(l, -0.5, 1e-6, 0);
    CHECK_CLOSE(d[0], -0.5 * 0.5, 1e-6, 0);
    /* DAPO's asymmetric clip: rho = 1.25 < 1 + 0.28 is not clipped */
    p.eps_high = 0.28;
    old[0] = (float)(lp - log(1.25));
    l = grpo(d, &st, z, y, m, A, old, NULL, 1, 1, 2, &p);
    CHECK_CLOSE(l, -1.25, 1e-6, 0);
    CHECK(st.clip_high_frac == 0);
    /* k3 with ref: r - logp = log 2: k3 = 2 - log 2 - 1; d k3/dlogp = 1 - 2 = -1 */
    p = tr_grpo_default_params();
    p.num_sequences = 1;
    p.beta = 0.1;
    A[0] = 0.0f;
    float ref[1] = {(float)(lp + log(2.0))};
    l = grpo(d, &st, z, y, m, A, NULL, ref, 1, 1, 2, &p);
    CHECK_CLOSE(l, 0.1 * (1.0 - log(2.0)), 1e-6, 0);
    CHECK_CLOSE(st.mean_kl, 1.0 - log(2.0), 1e-6, 0);
    CHECK_CLOSE(d[0], 0.1 * -1.0 * 0.5, 1e-6, 0);
    /* beta = 0 with a reference: KL reported, not trained */
    p.beta = 0;
    l = grpo(d, &st, z, y, m, A, NULL, ref, 1, 1, 2, &p);
    CHECK(l == 0 && d[0] == 0 && d[1] == 0);
    CHECK_CLOSE(st.mean_kl, 1.0 - log(2.0), 1e-6, 0);
    /* temperature: logits (0, log 3) at T = 2 -> q = (1, sqrt 3) / (1 + sqrt 3) */
    p = tr_grpo_default_params();
    p.num_sequences = 1;
    p.temperature = 2.0;
    z[1] = (float)log(3.0);
    A[0] = 1.0f;
    l = grpo(d, &st, z, y, m, A, NULL, NULL, 1, 1, 2, &p);
    double q0 = 1.0 / (1.0 + sqrt(3.0));
    CHECK_CLOSE(l, -1.0, 1e-12, 0);
    CHECK_CLOSE(d[0], -1.0 * (1.0 - q0) / 2.0, 1e-6, 0);
}

/* Per-token losses are -A (on-policy, beta 0). Two sequences: completion lengths 1 and 3. */
static void test_aggregation(void) {
    enum { B = 2, L = 4, V = 3 };
    float z[B * L * V] = {0}, m[B * L] = {0, 1, 0, 0, 1, 1, 1, 0}, A[B * L], d[B * L * V];
    int32_t y[B * L] = {-1, 0, -1, -1, 1, 2, 0, -1};
    for (int n = 0; n < B * L; n++) A[n] = n < L ? 1.0f : -2.0f;
    tr_grpo_params p = tr_grpo_default_params();
    p.num_sequences = 4; /* as if two more sequences sat in other micro-batches */
    p.max_completion_len = 5;
    p.num_tokens = 8;
    p.agg = TR_GRPO_AGG_GRPO;
    /* 1/G sum_i mean_t(-A): (-1 + 2) / 4 */
    CHECK_CLOSE(grpo(d, NULL, z, y, m, A, NULL, NULL, B, L, V, &p), (-1.0 + 2.0) / 4, 1e-12, 0);
    /* token 1 of sequence 0: a = 1/(1*4); token of sequence 1: a = 1/(3*4) */
    CHECK_CLOSE(d[1 * V + 0], 0.25 * -1.0 * (1.0 - 1.0 / 3), 1e-6, 0);
    CHECK_CLOSE(d[4 * V + 1], (1.0 / 12) * 2.0 * (1.0 - 1.0 / 3), 1e-6, 0);
    for (int i = 0; i < V; i++) CHECK(d[0 * V + i] == 0 && d[7 * V + i] == 0);
    p.agg = TR_GRPO_AGG_DR_GRPO; /* sum / (L_max G) = (-1 + 6) / 20 */
    CHECK_CLOSE(grpo(d, NULL, z, y, m, A, NULL, NULL, B, L, V, &p), 5.0 / 20, 1e-12, 0);
    CHECK_CLOSE(d[1 * V + 0], -1.0 / 20 * (2.0 / 3), 1e-6, 0);
    p.agg = TR_GRPO_AGG_DAPO; /* sum / N_tok = 5 / 8 */
    CHECK_CLOSE(grpo(d, NULL, z, y, m, A, NULL, NULL, B, L, V, &p), 5.0 / 8, 1e-12, 0);
    CHECK_CLOSE(d[4 * V + 1], 2.0 / 8 * (2.0 / 3), 1e-6, 0);
}

typedef struct gdata {
    int B, L, V;
    float *z, *m, *A, *old, *ref;
    int32_t *y;
} gdata;

static void gdata_make(gdata *g, int B, int L, int V, double T, double old_noise, uint64_t seed) {
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    int N = B * L;
    g->B = B;
    g->L = L;
    g->V = V;
    g->z = malloc(sizeof(float) * N * V);
    g->m = malloc(sizeof(float) * N);
    g->A = malloc(sizeof(float) * N);
    g->old = malloc(sizeof(float) * N);
    g->ref = malloc(sizeof(float) * N);
    g->y = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N * V; i++) g->z[i] = (float)(1.5 * tr_rng_normal(&rng));
    for (int b = 0; b < B; b++) {
        int start = 1 + (int)tr_rng_below(&rng, 2), end = start + 1 + (int)tr_rng_below(&rng, (uint64_t)(L - start));
        float A = (float)tr_rng_normal(&rng);
        for (int t = 0; t < L; t++) {
            int n = b * L + t;
            g->m[n] = (t >= start && t < end) ? 1.0f : 0.0f;
            g->y[n] = g->m[n] > 0 ? (int32_t)tr_rng_below(&rng, (uint64_t)V) : -1;
            g->A[n] = A;
        }
    }
    float *lp = malloc(sizeof(float) * N);
    tr_err err = {{0}};
    CHECK(tr_token_logprobs(lp, NULL, g->z, g->y, g->m, N, V, T, &err) == 0);
    for (int n = 0; n < N; n++) {
        /* keep ratios away from the clip boundaries so finite differences stay on one side */
        double r;
        do r = old_noise * tr_rng_normal(&rng);
        while (fabs(fabs(r) - 0.2) < 0.03 || fabs(fabs(r) - 0.25) < 0.03);
        g->old[n] = (float)(lp[n] - r);
        g->ref[n] = (float)(lp[n] + 0.3 * tr_rng_normal(&rng));
    }
    free(lp);
}

static void gdata_free(gdata *g) {
    free(g->z);
    free(g->m);
    free(g->A);
    free(g->old);
    free(g->ref);
    free(g->y);
}

static void fd_check(gdata *g, const tr_grpo_params *p, int use_old, int use_ref) {
    int N = g->B * g->L, V = g->V;
    float *d = malloc(sizeof(float) * N * V);
    const float *old = use_old ? g->old : NULL, *ref = use_ref ? g->ref : NULL;
    grpo(d, NULL, g->z, g->y, g->m, g->A, old, ref, g->B, g->L, V, p);
    /* on-policy (old = NULL) means old = stop_gradient(logp): the finite differences hold old
     * fixed at the unperturbed log-probs */
    float *frozen = malloc(sizeof(float) * N);
    if (!use_old) {
        tr_err err = {{0}};
        CHECK(tr_token_logprobs(frozen, NULL, g->z, g->y, g->m, N, V, p->temperature, &err) == 0);
        old = frozen;
    }
    double gmax = 0;
    for (int i = 0; i < N * V; i++) gmax = fmax(gmax, fabs(d[i]));
    double worst = 0;
    int at = -1;
    const double h = 1e-3;
    for (int j = 0; j < N * V; j++) {
        if (g->m[j / V] == 0) {
            CHECK(d[j] == 0);
            continue;
        }
        float z0 = g->z[j], zp = (float)(z0 + h), zm = (float)(z0 - h);
        g->z[j] = zp;
        double lp = grpo(NULL, NULL, g->z, g->y, g->m, g->A, old, ref, g->B, g->L, V, p);
        g->z[j] = zm;
        double lm = grpo(NULL, NULL, g->z, g->y, g->m, g->A, old, ref, g->B, g->L, V, p);
        g->z[j] = z0;
        double fd = (lp - lm) / ((double)zp - (double)zm);
        double e = fabs(fd - d[j]) / (1e-3 * fabs(fd) + 1e-4 * gmax + 1e-12);
        if (!(e <= worst)) {
            worst = e;
            at = j;
        }
    }
    CHECK_MSG(worst <= 1.0, "grpo agg=%s beta=%g old=%d: finite differences disagree at %d (%.3g)",
              tr_grpo_agg_name(p->agg), p->beta, use_old, at, worst);
    CHECK(gmax > 0);
    free(d);
    free(frozen);
}

static void test_finite_differences(void) {
    const tr_grpo_agg aggs[] = {TR_GRPO_AGG_GRPO, TR_GRPO_AGG_DR_GRPO, TR_GRPO_AGG_DAPO};
    const double noise[] = {0.02, 0.5}; /* clipping inactive / active */
    for (int ni = 0; ni < 2; ni++) {
        gdata g;
        gdata_make(&g, 3, 5, 7, 0.7, noise[ni], 40 + ni);
        for (int a = 0; a < 3; a++)
            for (int kl = 0; kl < 2; kl++) {
                tr_grpo_params p = tr_grpo_default_params();
                p.agg = aggs[a];
                p.temperature = 0.7;
                p.eps_high = 0.25;
                p.num_sequences = 5;
                p.max_completion_len = 6;
                p.num_tokens = 11;
                p.beta = kl ? 0.2 : 0.0;
                fd_check(&g, &p, 1, kl);
                fd_check(&g, &p, 0, kl);
            }
        gdata_free(&g);
    }
}

/* 4 micro-batches of 1, 3, 2 and 2 sequences (unequal token counts) with the global counts:
 * the losses add up to the full batch's and every gradient row is identical (TRL #4719). */
static void test_accumulation(void) {
    gdata g;
    gdata_make(&g, 8, 6, 11, 1.0, 0.4, 77);
    int N = g.B * g.L, V = g.V;
    double tokens = 0;
    for (int n = 0; n < N; n++) tokens += g.m[n];
    float *d1 = malloc(sizeof(float) * N * V), *d4 = malloc(sizeof(float) * N * V);
    const int cut[5] = {0, 1, 4, 6, 8};
    const tr_grpo_agg aggs[] = {TR_GRPO_AGG_GRPO, TR_GRPO_AGG_DR_GRPO, TR_GRPO_AGG_DAPO};
    for (int a = 0; a < 3; a++) {
        tr_grpo_params p = tr_grpo_default_params();
        p.agg = aggs[a];
        p.beta = 0.05;
        p.num_sequences = g.B;
        p.max_completion_len = g.L;
        p.num_tokens = tokens;
        tr_grpo_stats s1, s4, part;
        memset(&s4, 0, sizeof s4);
        double l1 = grpo(d1, &s1, g.z, g.y, g.m, g.A, g.old, g.ref, g.B, g.L, V, &p);
        double l4 = 0;
        for (int k = 0; k < 4; k++) {
            int off = cut[k] * g.L, nb = cut[k + 1] - cut[k];
            l4 += grpo(d4 + off * V, &part, g.z + off * V, g.y + off, g.m + off, g.A + off,
                       g.old + off, g.ref + off, nb, g.L, V, &p);
            tr_grpo_stats_merge(&s4, &part);
        }
        CHECK_CLOSE(l4, l1, 1e-12, 1e-15);
        CHECK_MSG(memcmp(d1, d4, sizeof(float) * N * V) == 0, "agg %s: micro-batch gradients differ",
                  tr_grpo_agg_name(p.agg));
        CHECK(s4.tokens == s1.tokens);
        CHECK_CLOSE(s4.mean_kl, s1.mean_kl, 1e-12, 0);
        CHECK_CLOSE(s4.mean_ratio, s1.mean_ratio, 1e-12, 0);
        CHECK_CLOSE(s4.clip_low_frac + s4.clip_high_frac, s1.clip_low_frac + s1.clip_high_frac, 1e-12, 0);
        CHECK_CLOSE(s4.mean_entropy, s1.mean_entropy, 1e-12, 0);
        /* the bug being prevented: per-micro-batch DAPO normalisation changes the gradient */
        if (aggs[a] == TR_GRPO_AGG_DAPO) {
            double t0 = 0;
            for (int n = 0; n < cut[1] * g.L; n++) t0 += g.m[n];
            tr_grpo_params local = p;
            local.num_tokens = t0;
            grpo(d4, NULL, g.z, g.y, g.m, g.A, g.old, g.ref, 1, g.L, V, &local);
            CHECK(memcmp(d1, d4, sizeof(float) * g.L * V) != 0);
        }
    }
    /* aliasing: dlogits == logits */
    tr_grpo_params p = tr_grpo_default_params();
    p.num_sequences = g.B;
    p.beta = 0.05;
    grpo(d1, NULL, g.z, g.y, g.m, g.A, g.old, g.ref, g.B, g.L, V, &p);
    memcpy(d4, g.z, sizeof(float) * N * V);
    grpo(d4, NULL, d4, g.y, g.m, g.A, g.old, g.ref, g.B, g.L, V, &p);
    CHECK(memcmp(d1, d4, sizeof(float) * N * V) == 0);
    free(d1);
    free(d4);
    gdata_free(&g);
}

static void test_advantages(void) {
    float r[8] = {1, 0, 0, 1, 0.5f, 0.5f, 0.5f, 0.5f}, a[8];
    double zf = -1;
    tr_err err = {{0}};
    CHECK(tr_grpo_advantages(a, &zf, r, 2, 4, TR_ADV_SCALE_GROUP, 1e-4, &err) == 0);
    double sd = sqrt(1.0 / 3.0); /* sample std of (1, 0, 0, 1): sqrt(4 * 0.25 / 3) */
    CHECK_CLOSE(a[0], 0.5 / (sd + 1e-4), 1e-6, 0);
    CHECK_CLOSE(a[1], -0.5 / (sd + 1e-4), 1e-6, 0);
    for (int i = 4; i < 8; i++) CHECK(a[i] == 0);
    CHECK(zf == 0.5);
    CHECK(tr_grpo_advantages(a, &zf, r, 2, 4, TR_ADV_SCALE_NONE, 1e-4, &err) == 0);
    CHECK(a[0] == 0.5f && a[2] == -0.5f && a[5] == 0);
    CHECK(tr_grpo_advantages(a, &zf, r, 2, 4, TR_ADV_SCALE_BATCH, 0.0, &err) == 0);
    /* batch: mean 0.5, deviations (.5, -.5, -.5, .5, 0 x4): sample std sqrt(1 / 7) */
    CHECK_CLOSE(a[0], 0.5 / sqrt(1.0 / 7.0), 1e-6, 0);
    CHECK(a[6] == 0);
    /* a group of one: advantage 0, counted as zero variance */
    CHECK(tr_grpo_advantages(a, &zf, r, 3, 1, TR_ADV_SCALE_GROUP, 1e-4, &err) == 0);
    CHECK(a[0] == 0 && a[1] == 0 && zf == 1.0);
    CHECK(tr_grpo_advantages(a, &zf, r, 2, 0, TR_ADV_SCALE_GROUP, 1e-4, &err) == -1);
    float bad[2] = {1, NAN};
    CHECK(tr_grpo_advantages(a, &zf, bad, 1, 2, TR_ADV_SCALE_GROUP, 1e-4, &err) == -1);
}

static void test_logprobs_and_errors(void) {
    float z[4] = {0, (float)log(3.0), 1, 1}, lp[2], ent[2], d[4];
    int32_t y[2] = {1, 0};
    tr_err err = {{0}};
    CHECK(tr_token_logprobs(lp, ent, z, y, NULL, 2, 2, 1.0, &err) == 0);
    CHECK_CLOSE(lp[0], log(0.75), 1e-6, 0);
    CHECK_CLOSE(ent[0], -(0.25 * log(0.25) + 0.75 * log(0.75)), 1e-6, 0);
    CHECK_CLOSE(lp[1], log(0.5), 1e-6, 0);
    CHECK_CLOSE(ent[1], log(2.0), 1e-6, 0);
    float mk[2] = {1, 0};
    y[1] = -1;
    CHECK(tr_token_logprobs(lp, NULL, z, y, mk, 2, 2, 1.0, &err) == 0 && lp[1] == 0);
    CHECK(tr_token_logprobs(lp, NULL, z, y, NULL, 2, 2, 1.0, &err) == -1);

    float m[2] = {1, 1}, A[2] = {1, 1};
    y[1] = 0;
    tr_grpo_params p = tr_grpo_default_params();
    double loss;
    CHECK(tr_grpo_loss(d, &loss, NULL, z, y, m, A, NULL, NULL, 1, 2, 2, &p, &err) == -1);
    CHECK(strstr(err.msg, "num_sequences") != NULL);
    p.num_sequences = 1;
    p.beta = 0.1;
    CHECK(tr_grpo_loss(d, &loss, NULL, z, y, m, A, NULL, NULL, 1, 2, 2, &p, &err) == -1);
    CHECK(strstr(err.msg, "reference") != NULL);
    p.beta = 0;
    y[1] = 2;
    CHECK(tr_grpo_loss(d, &loss, NULL, z, y, m, A, NULL, NULL, 1, 2, 2, &p, &err) == -1);
    y[1] = 0;
    p.agg = TR_GRPO_AGG_DAPO;
    CHECK(tr_grpo_loss(d, &loss, NULL, z, y, m, A, NULL, NULL, 1, 2, 2, &p, &err) == -1);
    p.num_tokens = 2;
    CHECK(tr_grpo_loss(d, &loss, NULL, z, y, m, A, NULL, NULL, 1, 2, 2, &p, &err) == 0);
    tr_grpo_agg g;
    CHECK(tr_grpo_agg_parse(&g, "dr_grpo", &err) == 0 && g == TR_GRPO_AGG_DR_GRPO);
    CHECK(tr_grpo_agg_parse(&g, "ppo", &err) == -1);
}

int main(void) {
    tr_set_threads(2);
    test_single_token();
    test_aggregation();
    test_finite_differences();
    test_accumulation();
    test_advantages();
    test_logprobs_and_errors();
    return tu_finish("test_grpo_objective");
}
