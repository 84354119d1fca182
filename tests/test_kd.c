/* Unit tests of the KD objectives: central finite differences in double for every
 * divergence (dense, top-K, CE mix), hand-computed values, endpoint reductions of JSD(beta),
 * temperature limits, -inf teacher logits, gradient accumulation over unequal micro-batches
 * (TRL #4719), K = V sparse == dense, aliasing, errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "objectives/fastmath.h"
#include "ref_objectives_ce.h"
#include "testutil.h"

static const tr_kd_div ALL[] = {TR_KD_FKL, TR_KD_RKL, TR_KD_JSD, TR_KD_SKL, TR_KD_SRKL, TR_KD_TVD};

static tr_kd_teacher dense_teacher(const float *u, int64_t ld) {
    tr_kd_teacher t;
    memset(&t, 0, sizeof t);
    t.logits = u;
    t.ld = ld;
    return t;
}

static tr_kd_teacher sparse_teacher(const int32_t *ids, const float *lp, const float *rest, int K,
                                    double T) {
    tr_kd_teacher t;
    memset(&t, 0, sizeof t);
    t.K = K;
    t.ids = ids;
    t.logprobs = lp;
    t.rest_logprob = rest;
    t.temperature = T;
    return t;
}

static double kd_total(const float *z, const tr_kd_teacher *t, const int32_t *y, const float *w,
                       int N, int V, double norm, const tr_kd_params *p, float *d) {
    tr_kd_losses out;
    tr_err err = {{0}};
    float *tmp = d ? d : malloc(sizeof(float) * N * V);
    int rc = tr_kd_loss(tmp, &out, z, t, y, w, N, V, norm, p, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (!d) free(tmp);
    return out.total;
}

/* Central differences in double: dL/dz_j ~ (L(z + h e_j) - L(z - h e_j)) / (zp - zm), where
 * zp, zm are the float-rounded perturbed logits (the step actually taken). */
static void fd_check(const char *what, float *z, const tr_kd_teacher *t, const int32_t *y,
                     const float *w, int N, int V, double norm, const tr_kd_params *p, double h) {
    float *g = malloc(sizeof(float) * N * V);
    kd_total(z, t, y, w, N, V, norm, p, g);
    double gmax = 0;
    for (int i = 0; i < N * V; i++) gmax = fmax(gmax, fabs(g[i]));
    double worst = 0;
    int at = -1;
    for (int j = 0; j < N * V; j++) {
        float z0 = z[j];
        float zp = (float)(z0 + h), zm = (float)(z0 - h);
        z[j] = zp;
        double lp = kd_total(z, t, y, w, N, V, norm, p, NULL);
        z[j] = zm;
        double lm = kd_total(z, t, y, w, N, V, norm, p, NULL);
        z[j] = z0;
        double fd = (lp - lm) / ((double)zp - (double)zm);
        double e = fabs(fd - g[j]) / (1e-3 * fabs(fd) + 1e-4 * gmax + 1e-12);
        if (!(e <= worst)) {
            worst = e;
            at = j;
        }
    }
    CHECK_MSG(worst <= 1.0, "%s (T=%g): finite differences disagree at %d (worst/tol %.3g)", what,
              p->temperature, at, worst);
    free(g);
}

static void fill(float *a, int n, tr_rng *rng, double scale) {
    for (int i = 0; i < n; i++) a[i] = (float)(scale * tr_rng_normal(rng));
}

static void test_finite_differences(void) {
    enum { N = 3, V = 11, LD = 13 };
    tr_rng rng;
    tr_rng_seed(&rng, 11);
    float z[N * V], u[N * LD], w[N] = {1.0f, 0.5f, 2.0f};
    int32_t y[N] = {3, 0, 10};
    fill(z, N * V, &rng, 1.5);
    fill(u, N * LD, &rng, 1.5);
    u[0 * LD + 4] = -INFINITY; /* masked teacher tokens */
    u[2 * LD + 7] = -INFINITY;
    const double temps[] = {0.05, 1.0, 10.0};
    for (int ti = 0; ti < 3; ti++) {
        double T = temps[ti], h = 1e-3 * fmax(T, 0.2);
        for (int d = 0; d < 6; d++) {
            tr_kd_params p = tr_kd_default_params();
            p.div = ALL[d];
            p.temperature = T;
            p.beta = 0.3;
            p.skew = 0.2;
            tr_kd_teacher t = dense_teacher(u, LD);
            fd_check(tr_kd_div_name(p.div), z, &t, y, w, N, V, 5.0, &p, h);
            /* top-K caches: K = 1, 4, V */
            const int ks[] = {1, 4, V};
            for (int k = 0; k < 3; k++) {
                int32_t ids[N * V];
                float lp[N * V], rest[N];
                tr_err err = {{0}};
                CHECK(tr_kd_topk_from_logits(ids, lp, rest, u, N, LD, V, ks[k], T, &err) == 0);
                tr_kd_teacher s = sparse_teacher(ids, lp, rest, ks[k], T);
                fd_check("sparse", z, &s, y, w, N, V, 5.0, &p, h);
            }
            /* CE mix */
            p.ce_alpha = 0.4;
            fd_check("mix", z, &t, y, w, N, V, 5.0, &p, h);
        }
        /* JSD endpoints and the skew endpoints */
        const double ends[] = {0.0, 1.0};
        for (int e = 0; e < 2; e++) {
            tr_kd_params p = tr_kd_default_params();
            p.temperature = T;
            tr_kd_teacher t = dense_teacher(u, LD);
            p.div = TR_KD_JSD;
            p.beta = ends[e];
            fd_check("jsd end", z, &t, y, w, N, V, 5.0, &p, h);
            p.div = TR_KD_SKL;
            p.skew = ends[e];
            fd_check("skl end", z, &t, y, w, N, V, 5.0, &p, h);
            p.div = TR_KD_SRKL;
            fd_check("srkl end", z, &t, y, w, N, V, 5.0, &p, h);
        }
    }
}

/* Two tokens, student q = (1/2, 1/2), teacher p = (3/4, 1/4), T = 1: values by hand. */
static void test_hand_values(void) {
    float z[2] = {0.0f, 0.0f}, u[2] = {(float)log(3.0), 0.0f};
    double p0 = 0.75, p1 = 0.25, q0 = 0.5, q1 = 0.5;
    double fkl = p0 * log(p0 / q0) + p1 * log(p1 / q1);
    double rkl = q0 * log(q0 / p0) + q1 * log(q1 / p1);
    double m0 = 0.5 * p0 + 0.5 * q0, m1 = 0.5 * p1 + 0.5 * q1;
    double jsd = 0.5 * (p0 * log(p0 / m0) + p1 * log(p1 / m1)) +
                 0.5 * (q0 * log(q0 / m0) + q1 * log(q1 / m1));
    double a = 0.1;
    double s0 = a * p0 + (1 - a) * q0, s1 = a * p1 + (1 - a) * q1;
    double skl = p0 * log(p0 / s0) + p1 * log(p1 / s1);
    double r0 = (1 - a) * p0 + a * q0, r1 = (1 - a) * p1 + a * q1;
    double srkl = q0 * log(q0 / r0) + q1 * log(q1 / r1);
    double tvd = 0.25;
    const double want[] = {fkl, rkl, jsd, skl, srkl, tvd};
    tr_kd_teacher t = dense_teacher(u, 2);
    for (int d = 0; d < 6; d++) {
        tr_kd_params p = tr_kd_default_params();
        p.div = ALL[d];
        float g[2];
        double l = kd_total(z, &t, NULL, NULL, 1, 2, 1.0, &p, g);
        CHECK_CLOSE(l, want[d], 1e-6, 1e-9);
        /* softmax gradients sum to zero over the vocabulary */
        CHECK_CLOSE((double)g[0] + g[1], 0.0, 0, 1e-7);
    }
    /* forward KL gradient (q - p) by hand: (-1/4, +1/4) */
    tr_kd_params p = tr_kd_default_params();
    float g[2];
    kd_total(z, &t, NULL, NULL, 1, 2, 1.0, &p, g);
    CHECK_CLOSE(g[0], -0.25, 1e-6, 0);
    CHECK_CLOSE(g[1], 0.25, 1e-6, 0);
    /* weights and norm: w = 3, norm = 6 halves the loss; T = 2 with T^2: 4 * KL(p^T||q^T) */
    float w3 = 3.0f;
    CHECK_CLOSE(kd_total(z, &t, NULL, &w3, 1, 2, 6.0, &p, g), 0.5 * fkl, 1e-6, 0);
    p.temperature = 2.0;
    double pt0 = sqrt(3.0) / (sqrt(3.0) + 1.0), pt1 = 1.0 - pt0;
    double fkl2 = pt0 * log(pt0 / 0.5) + pt1 * log(pt1 / 0.5);
    CHECK_CLOSE(kd_total(z, &t, NULL, NULL, 1, 2, 1.0, &p, g), 4.0 * fkl2, 1e-6, 0);
    CHECK_CLOSE(g[0], 4.0 / 2.0 * (0.5 - pt0), 1e-6, 0); /* (T^2/T)(q - p) */
    p.scale_t2 = 0;
    CHECK_CLOSE(kd_total(z, &t, NULL, NULL, 1, 2, 1.0, &p, g), fkl2, 1e-6, 0);
}

/* JSD(beta) direction: beta = 0 is forward KL, beta = 1 reverse KL, and in between the
 * formula tends to beta*KL(p||q) near 0 and (1-beta)*KL(q||p) near 1 (TRL #3043). */
static void test_jsd_endpoints(void) {
    enum { N = 4, V = 9 };
    tr_rng rng;
    tr_rng_seed(&rng, 5);
    float z[N * V], u[N * V];
    fill(z, N * V, &rng, 1.0);
    fill(u, N * V, &rng, 1.0);
    tr_kd_teacher t = dense_teacher(u, V);
    float g[N * V], gref[N * V];
    for (int ti = 0; ti < 2; ti++) {
        tr_kd_params p = tr_kd_default_params();
        p.temperature = ti ? 2.0 : 1.0;
        p.div = TR_KD_FKL;
        double fkl = kd_total(z, &t, NULL, NULL, N, V, N, &p, gref);
        p.div = TR_KD_JSD;
        p.beta = 0.0;
        CHECK(kd_total(z, &t, NULL, NULL, N, V, N, &p, g) == fkl);
        CHECK(memcmp(g, gref, sizeof g) == 0);
        p.beta = 1e-5;
        CHECK_CLOSE(kd_total(z, &t, NULL, NULL, N, V, N, &p, g) / p.beta, fkl, 1e-3, 0);
        p.div = TR_KD_RKL;
        double rkl = kd_total(z, &t, NULL, NULL, N, V, N, &p, gref);
        CHECK(fabs(rkl - fkl) > 1e-3); /* the two directions really differ on this data */
        p.div = TR_KD_JSD;
        p.beta = 1.0;
        CHECK(kd_total(z, &t, NULL, NULL, N, V, N, &p, g) == rkl);
        CHECK(memcmp(g, gref, sizeof g) == 0);
        p.beta = 1.0 - 1e-5;
        CHECK_CLOSE(kd_total(z, &t, NULL, NULL, N, V, N, &p, g) / (1.0 - p.beta), rkl, 1e-3, 0);
        /* symmetric at beta = 0.5: swapping teacher and student leaves JSD unchanged */
        p.beta = 0.5;
        double j1 = kd_total(z, &t, NULL, NULL, N, V, N, &p, g);
        tr_kd_teacher swapped = dense_teacher(z, V);
        double j2 = kd_total(u, &swapped, NULL, NULL, N, V, N, &p, g);
        CHECK_CLOSE(j1, j2, 1e-9, 1e-12);
        /* skew endpoints: SKL a=0 is FKL, SRKL a=0 is RKL, a=1 gives 0 */
        p.div = TR_KD_SKL;
        p.skew = 0.0;
        CHECK_CLOSE(kd_total(z, &t, NULL, NULL, N, V, N, &p, g), fkl, 1e-12, 0);
        p.skew = 1.0;
        CHECK_CLOSE(kd_total(z, &t, NULL, NULL, N, V, N, &p, g), 0.0, 0, 1e-12);
        p.div = TR_KD_SRKL;
        p.skew = 0.0;
        CHECK_CLOSE(kd_total(z, &t, NULL, NULL, N, V, N, &p, g), rkl, 1e-12, 0);
        p.skew = 1.0;
        CHECK_CLOSE(kd_total(z, &t, NULL, NULL, N, V, N, &p, g), 0.0, 0, 1e-12);
    }
}

static void test_identical(void) {
    enum { N = 3, V = 17 };
    tr_rng rng;
    tr_rng_seed(&rng, 8);
    float z[N * V], g[N * V];
    fill(z, N * V, &rng, 2.0);
    z[5] = -INFINITY; /* a token masked in both */
    tr_kd_teacher t = dense_teacher(z, V);
    const double temps[] = {0.05, 1.0, 10.0};
    for (int ti = 0; ti < 3; ti++)
        for (int d = 0; d < 6; d++) {
            tr_kd_params p = tr_kd_default_params();
            p.div = ALL[d];
            p.temperature = temps[ti];
            p.beta = 0.4;
            double l = kd_total(z, &t, NULL, NULL, N, V, N, &p, g);
            CHECK_MSG(fabs(l) < 1e-12, "%s T=%g: loss %g for identical distributions",
                      tr_kd_div_name(p.div), p.temperature, l);
            double gm = 0;
            for (int i = 0; i < N * V; i++) gm = fmax(gm, fabs(g[i]));
            CHECK_MSG(gm < 1e-7, "%s T=%g: gradient %g for identical distributions",
                      tr_kd_div_name(p.div), p.temperature, gm);
            /* top-5 cache of the same logits: equal up to the cache's float rounding */
            int32_t ids[N * 5];
            float lp[N * 5], rest[N];
            tr_err err = {{0}};
            CHECK(tr_kd_topk_from_logits(ids, lp, rest, z, N, V, V, 5, p.temperature, &err) == 0);
            tr_kd_teacher s = sparse_teacher(ids, lp, rest, 5, p.temperature);
            l = kd_total(z, &s, NULL, NULL, N, V, N, &p, g);
            CHECK_MSG(fabs(l) < 1e-5, "%s sparse: loss %g", tr_kd_div_name(p.div), l);
        }
}

/* Temperature limits. T large: T^2 KL(p^T||q^T) has gradient (T)(q - p) which tends to the
 * logit-matching gradient ((z - u) - mean(z - u)) / V (Hinton 2015, section 2.1). */
static void test_temperature_limits(void) {
    enum { V = 10 };
    tr_rng rng;
    tr_rng_seed(&rng, 3);
    float z[V], u[V], g[V];
    fill(z, V, &rng, 1.0);
    fill(u, V, &rng, 1.0);
    tr_kd_teacher t = dense_teacher(u, V);
    tr_kd_params p = tr_kd_default_params();
    p.temperature = 1000.0;
    kd_total(z, &t, NULL, NULL, 1, V, 1.0, &p, g);
    double mean = 0;
    for (int i = 0; i < V; i++) mean += (double)z[i] - u[i];
    mean /= V;
    for (int i = 0; i < V; i++) CHECK_CLOSE(g[i], ((z[i] - u[i]) - mean) / V, 1e-2, 1e-5);
    /* T small: nearly one-hot distributions, everything finite */
    for (int d = 0; d < 6; d++) {
        p.div = ALL[d];
        p.temperature = 0.01;
        double l = kd_total(z, &t, NULL, NULL, 1, V, 1.0, &p, g);
        int finite = isfinite(l);
        for (int i = 0; i < V; i++) finite &= isfinite(g[i]);
        CHECK_MSG(finite, "%s at T = 0.01: loss %g", tr_kd_div_name(p.div), l);
    }
    /* T small, FKL: the teacher is one-hot on argmax(u), so T^2 KL ~ T^2 CE(argmax u) */
    int am = 0;
    for (int i = 1; i < V; i++)
        if (u[i] > u[am]) am = i;
    p.div = TR_KD_FKL;
    p.temperature = 0.01;
    double l = kd_total(z, &t, NULL, NULL, 1, V, 1.0, &p, g);
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < V; i++) mx = fmax(mx, z[i] / 0.01);
    for (int i = 0; i < V; i++) s += exp(z[i] / 0.01 - mx);
    double ce = mx + log(s) - z[am] / 0.01;
    CHECK_CLOSE(l, 1e-4 * ce, 1e-3, 1e-9);
}

static void test_masked_teacher(void) {
    enum { N = 2, V = 6 };
    float z[N * V] = {0.5f, 1.0f, -0.3f, 2.0f, 0.1f, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
    float u[N * V] = {1.0f, -INFINITY, 0.2f, -INFINITY, 0.4f, 0.0f,
                      -INFINITY, -INFINITY, 3.0f, -INFINITY, -INFINITY, -INFINITY};
    tr_kd_teacher t = dense_teacher(u, V);
    float g[N * V];
    for (int d = 0; d < 6; d++) {
        tr_kd_params p = tr_kd_default_params();
        p.div = ALL[d];
        double l = kd_total(z, &t, NULL, NULL, N, V, N, &p, g);
        int finite = isfinite(l);
        for (int i = 0; i < N * V; i++) finite &= isfinite(g[i]);
        CHECK_MSG(finite, "%s with -inf teacher logits: loss %g", tr_kd_div_name(p.div), l);
        if (ALL[d] == TR_KD_RKL) {
            /* restricted to the teacher's support: masked tokens get no gradient, and row 1
             * (a single supported token) has nothing to learn */
            CHECK(g[1] == 0 && g[3] == 0);
            for (int i = 0; i < V; i++) CHECK(g[V + i] == 0);
            /* the value: KL of the student renormalised over {0, 2, 4, 5} */
            double zs = exp(0.5) + exp(-0.3) + exp(0.1) + exp(0.0);
            double zt = exp(1.0) + exp(0.2) + exp(0.4) + exp(0.0);
            const int sup[4] = {0, 2, 4, 5};
            double want = 0;
            for (int k = 0; k < 4; k++) {
                double q = exp(z[sup[k]]) / zs, pp = exp(u[sup[k]]) / zt;
                want += q * log(q / pp);
            }
            CHECK_CLOSE(l, want / N, 1e-6, 0);
        }
        if (ALL[d] == TR_KD_FKL) {
            /* forward KL pushes the student's mass off masked tokens: g = q > 0 there */
            CHECK(g[1] > 0 && g[3] > 0);
            CHECK_CLOSE(g[V + 0], 1.0 / 6 / N, 1e-6, 0);
        }
    }
    /* a weighted row with every teacher logit -inf is an error; with weight 0 it is skipped */
    float bad[V];
    for (int i = 0; i < V; i++) bad[i] = -INFINITY;
    tr_kd_teacher tb = dense_teacher(bad, V);
    tr_kd_params p = tr_kd_default_params();
    tr_kd_losses out;
    tr_err err = {{0}};
    CHECK(tr_kd_loss(g, &out, z, &tb, NULL, NULL, 1, V, 1.0, &p, &err) == -1);
    CHECK(strstr(err.msg, "all -inf") != NULL);
    float w0 = 0.0f;
    CHECK(tr_kd_loss(g, &out, z, &tb, NULL, &w0, 1, V, 1.0, &p, &err) == 0);
}

/* Gradient accumulation: 4 micro-batches of unequal token counts normalised by the whole
 * batch's weight give the same summed loss and the same gradients as one batch (TRL #4719). */
static void test_accumulation(void) {
    enum { N = 16, V = 23 };
    tr_rng rng;
    tr_rng_seed(&rng, 21);
    float z[N * V], u[N * V], w[N], g1[N * V], g4[N * V];
    int32_t y[N];
    fill(z, N * V, &rng, 2.0);
    fill(u, N * V, &rng, 2.0);
    double norm = 0;
    for (int n = 0; n < N; n++) {
        w[n] = (n % 5 == 0) ? 0.0f : 1.0f;
        y[n] = (int32_t)tr_rng_below(&rng, V);
        norm += w[n];
    }
    const int cut[5] = {0, 3, 4, 11, 16};
    int32_t ids[N * 4];
    float lp[N * 4], rest[N];
    tr_err err = {{0}};
    CHECK(tr_kd_topk_from_logits(ids, lp, rest, u, N, V, V, 4, 2.0, &err) == 0);
    for (int sparse = 0; sparse < 2; sparse++)
        for (int d = 0; d < 6; d++) {
            tr_kd_params p = tr_kd_default_params();
            p.div = ALL[d];
            p.temperature = 2.0;
            p.ce_alpha = 0.25;
            tr_kd_teacher t = sparse ? sparse_teacher(ids, lp, rest, 4, 2.0) : dense_teacher(u, V);
            double l1 = kd_total(z, &t, y, w, N, V, norm, &p, g1);
            double l4 = 0;
            for (int m = 0; m < 4; m++) {
                int a = cut[m], n = cut[m + 1] - cut[m];
                tr_kd_teacher tm = t;
                if (sparse) {
                    tm.ids += a * 4;
                    tm.logprobs += a * 4;
                    tm.rest_logprob += a;
                } else {
                    tm.logits += a * V;
                }
                l4 += kd_total(z + a * V, &tm, y + a, w + a, n, V, norm, &p, g4 + a * V);
            }
            CHECK_CLOSE(l4, l1, 1e-12, 0);
            CHECK_MSG(memcmp(g1, g4, sizeof g1) == 0, "%s sparse=%d: micro-batch gradients differ",
                      tr_kd_div_name(p.div), sparse);
        }
}

/* K = V: the sparse loss is the dense loss. Exactly so against a dense teacher holding the
 * cache's own (float-rounded) log-probs times T (T a power of two, so u/T is exact); within
 * the cache's float32 rounding against the original teacher logits. */
static void test_sparse_equals_dense(void) {
    enum { N = 5, V = 19, LD = 24 };
    tr_rng rng;
    tr_rng_seed(&rng, 17);
    float z[N * V], u[N * LD], ur[N * V], gd[N * V], gs[N * V];
    fill(z, N * V, &rng, 2.0);
    fill(u, N * LD, &rng, 2.0);
    u[3 * LD + 2] = -INFINITY;
    int32_t ids[N * V];
    float lp[N * V], rest[N];
    const double temps[] = {0.05, 0.25, 1.0, 4.0};
    for (int ti = 0; ti < 4; ti++) {
        double T = temps[ti];
        tr_err err = {{0}};
        CHECK(tr_kd_topk_from_logits(ids, lp, rest, u, N, LD, V, V, T, &err) == 0);
        for (int i = 0; i < N; i++) CHECK(isinf(rest[i]) && rest[i] < 0);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < V; k++) ur[n * V + ids[n * V + k]] = (float)(lp[n * V + k] * T);
        for (int d = 0; d < 6; d++) {
            tr_kd_params p = tr_kd_default_params();
            p.div = ALL[d];
            p.temperature = T;
            tr_kd_teacher td = dense_teacher(u, LD), tr = dense_teacher(ur, V),
                          ts = sparse_teacher(ids, lp, rest, V, T);
            double ls = kd_total(z, &ts, NULL, NULL, N, V, N, &p, gs);
            double gm = 0;
            for (int i = 0; i < N * V; i++) gm = fmax(gm, fabs(gs[i]));
            if (T != 0.05) {
                double lr = kd_total(z, &tr, NULL, NULL, N, V, N, &p, gd);
                CHECK_CLOSE(ls, lr, 1e-9, 1e-12);
                double e = tu_max_rel_err(gs, gd, N * V, 1e-3 * gm);
                CHECK_MSG(e < 1e-6, "%s T=%g: K=V != dense on the same log-probs (%g)",
                          tr_kd_div_name(p.div), T, e);
            }
            double ld = kd_total(z, &td, NULL, NULL, N, V, N, &p, gd);
            CHECK_CLOSE(ls, ld, 1e-5, 1e-9);
            double e = tu_max_rel_err(gs, gd, N * V, 1e-3 * gm);
            CHECK_MSG(e < 1e-4, "%s T=%g: K=V != dense (%g)", tr_kd_div_name(p.div), T, e);
        }
    }
}

static void test_mix_and_alias(void) {
    enum { N = 4, V = 8 };
    tr_rng rng;
    tr_rng_seed(&rng, 2);
    float z[N * V], u[N * V], w[N] = {1, 0, 2, 1}, gk[N * V], gm[N * V], zc[N * V];
    int32_t y[N] = {1, -1, 7, 0};
    fill(z, N * V, &rng, 1.0);
    fill(u, N * V, &rng, 1.0);
    tr_kd_teacher t = dense_teacher(u, V);
    tr_kd_params p = tr_kd_default_params();
    p.div = TR_KD_JSD;
    p.temperature = 2.0;
    double kd = kd_total(z, &t, y, w, N, V, 4.0, &p, gk);
    p.ce_alpha = 0.3;
    tr_kd_losses out;
    tr_err err = {{0}};
    CHECK(tr_kd_loss(gm, &out, z, &t, y, w, N, V, 4.0, &p, &err) == 0);
    double ce = 0;
    float gc[V];
    for (int n = 0; n < N; n++) {
        if (w[n] == 0) continue;
        ce += ref_ce_row(gc, z + n * V, y[n], w[n], V, 4.0);
        for (int i = 0; i < V; i++)
            CHECK_CLOSE(gm[n * V + i], 0.3 * gc[i] + 0.7 * gk[n * V + i], 1e-5, 1e-8);
    }
    CHECK_CLOSE(out.ce, ce, 1e-6, 0);
    CHECK_CLOSE(out.kd, kd, 1e-12, 0);
    CHECK_CLOSE(out.total, 0.3 * ce + 0.7 * kd, 1e-6, 0);
    /* aliasing: dlogits == student logits gives the same numbers (dense, sparse, mix) */
    memcpy(zc, z, sizeof z);
    CHECK(tr_kd_loss(zc, &out, zc, &t, y, w, N, V, 4.0, &p, &err) == 0);
    CHECK(memcmp(zc, gm, sizeof zc) == 0);
    int32_t ids[N * 3];
    float lp[N * 3], rest[N], gs[N * V];
    CHECK(tr_kd_topk_from_logits(ids, lp, rest, u, N, V, V, 3, 2.0, &err) == 0);
    tr_kd_teacher s = sparse_teacher(ids, lp, rest, 3, 2.0);
    CHECK(tr_kd_loss(gs, &out, z, &s, y, w, N, V, 4.0, &p, &err) == 0);
    memcpy(zc, z, sizeof z);
    CHECK(tr_kd_loss(zc, &out, zc, &s, y, w, N, V, 4.0, &p, &err) == 0);
    CHECK(memcmp(zc, gs, sizeof zc) == 0);
    /* weight-0 rows are not read: a NaN teacher row there changes nothing */
    float un[N * V];
    memcpy(un, u, sizeof u);
    for (int i = 0; i < V; i++) un[1 * V + i] = NAN;
    tr_kd_teacher tn = dense_teacher(un, V);
    CHECK(tr_kd_loss(zc, &out, z, &tn, y, w, N, V, 4.0, &p, &err) == 0);
    CHECK(memcmp(zc, gm, sizeof zc) == 0);
}

static void test_topk_builder(void) {
    float u[2 * 5] = {1.0f, 3.0f, 2.0f, 3.0f, -INFINITY, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    int32_t ids[4];
    float lp[4], rest[2];
    tr_err err = {{0}};
    CHECK(tr_kd_topk_from_logits(ids, lp, rest, u, 2, 5, 5, 2, 1.0, &err) == 0);
    double lse = log(exp(1.0) + 2 * exp(3.0) + exp(2.0));
    CHECK(ids[0] == 1 && ids[1] == 3); /* tie at 3: lower id first */
    CHECK_CLOSE(lp[0], 3.0 - lse, 1e-6, 0);
    CHECK_CLOSE(lp[1], 3.0 - lse, 1e-6, 0);
    CHECK_CLOSE(rest[0], log(exp(1.0) + exp(2.0)) - lse, 1e-6, 0);
    CHECK(ids[2] == 0 && ids[3] == 1);
    CHECK_CLOSE(rest[1], log(3.0 / 5.0), 1e-6, 0);
    /* errors */
    CHECK(tr_kd_topk_from_logits(ids, lp, rest, u, 2, 5, 5, 6, 1.0, &err) == -1);
    CHECK(tr_kd_topk_from_logits(ids, lp, rest, u, 2, 4, 5, 2, 1.0, &err) == -1);
}

static void test_errors(void) {
    enum { V = 4 };
    float z[V] = {0, 1, 2, 3}, u[V] = {1, 0, 0, 1}, g[V];
    int32_t y[1] = {4};
    tr_kd_teacher t = dense_teacher(u, V);
    tr_kd_params p = tr_kd_default_params();
    tr_kd_losses out;
    tr_err err = {{0}};
    CHECK(tr_kd_loss(g, &out, z, &t, NULL, NULL, 1, V, 0.0, &p, &err) == -1);
    CHECK(strstr(err.msg, "norm") != NULL);
    p.temperature = 0;
    CHECK(tr_kd_loss(g, &out, z, &t, NULL, NULL, 1, V, 1.0, &p, &err) == -1);
    p = tr_kd_default_params();
    p.beta = 1.5;
    p.div = TR_KD_JSD;
    CHECK(tr_kd_loss(g, &out, z, &t, NULL, NULL, 1, V, 1.0, &p, &err) == -1);
    p = tr_kd_default_params();
    p.ce_alpha = 0.5;
    CHECK(tr_kd_loss(g, &out, z, &t, y, NULL, 1, V, 1.0, &p, &err) == -1);
    CHECK(strstr(err.msg, "targets[0]") != NULL);
    CHECK(tr_kd_loss(g, &out, z, &t, NULL, NULL, 1, V, 1.0, &p, &err) == -1);
    p = tr_kd_default_params();
    float wneg = -1.0f;
    CHECK(tr_kd_loss(g, &out, z, &t, NULL, &wneg, 1, V, 1.0, &p, &err) == -1);
    t.ld = 3;
    CHECK(tr_kd_loss(g, &out, z, &t, NULL, NULL, 1, V, 1.0, &p, &err) == -1);
    /* sparse: temperature mismatch (TRL #5731), duplicate ids, ids out of range */
    int32_t ids[2] = {1, 2};
    float lp[2] = {-1.0f, -1.5f}, rest[1] = {-1.2f};
    tr_kd_teacher s = sparse_teacher(ids, lp, rest, 2, 1.0);
    p.temperature = 2.0;
    CHECK(tr_kd_loss(g, &out, z, &s, NULL, NULL, 1, V, 1.0, &p, &err) == -1);
    CHECK(strstr(err.msg, "temperature") != NULL);
    p.temperature = 1.0;
    CHECK(tr_kd_loss(g, &out, z, &s, NULL, NULL, 1, V, 1.0, &p, &err) == 0);
    ids[1] = 1;
    CHECK(tr_kd_loss(g, &out, z, &s, NULL, NULL, 1, V, 1.0, &p, &err) == -1);
    CHECK(strstr(err.msg, "twice") != NULL);
    ids[1] = 9;
    CHECK(tr_kd_loss(g, &out, z, &s, NULL, NULL, 1, V, 1.0, &p, &err) == -1);
    /* names */
    tr_kd_div d;
    CHECK(tr_kd_div_parse(&d, "srkl", &err) == 0 && d == TR_KD_SRKL);
    CHECK(tr_kd_div_parse(&d, "kl", &err) == -1);
    CHECK(strcmp(tr_kd_div_name(TR_KD_JSD), "jsd") == 0);
}

static void test_vocab_check(void) {
    tr_err err = {{0}};
    int v = 0;
    /* Qwen2.5: 151,665 tokenizer tokens; 7B has 152,064 rows, 1.5B 151,936 */
    CHECK(tr_kd_vocab_check(&v, 152064, 151936, 151665, &err) == 0 && v == 151936);
    CHECK(tr_kd_vocab_check(&v, 151936, 152064, 151665, &err) == -1);
    CHECK(tr_kd_vocab_check(&v, 152064, 151000, 151665, &err) == -1);
    CHECK(tr_kd_vocab_check(&v, 512, 512, 0, &err) == 0 && v == 512);
    CHECK(tr_kd_vocab_check(&v, 520, 512, 0, &err) == -1);
    /* the shared prefix in use: a padded teacher row (ld = 7) against V = 5 */
    float z[5] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, u7[7] = {0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 50, 50};
    float u5[5] = {0.5f, 0.4f, 0.3f, 0.2f, 0.1f}, ga[5], gb[5];
    tr_kd_teacher ta = dense_teacher(u7, 7), tb = dense_teacher(u5, 5);
    tr_kd_params p = tr_kd_default_params();
    CHECK(kd_total(z, &ta, NULL, NULL, 1, 5, 1, &p, ga) == kd_total(z, &tb, NULL, NULL, 1, 5, 1, &p, gb));
    CHECK(memcmp(ga, gb, sizeof ga) == 0);
}

/* The vectorisable exp used by the objectives against glibc's (its naive twin). */
static void test_fast_exp(void) {
    double worst = 0;
    for (int i = 0; i <= 400000; i++) {
        double x = -708.0 + 1417.0 * i / 400000.0;
        double r = fabs(tr_fast_exp(x) / exp(x) - 1.0);
        if (r > worst) worst = r;
    }
    CHECK_MSG(worst < 1e-15, "tr_fast_exp max relative error %g", worst);
    CHECK(tr_fast_exp(0.0) == 1.0);
    CHECK(tr_fast_exp(-INFINITY) == 0.0);
    CHECK(tr_fast_exp(-800.0) == 0.0);
    CHECK(tr_fast_floor(-INFINITY, -1e300) == -1e300 && tr_fast_floor(-2.5, -1e300) == -2.5);
    CHECK(tr_fast_floor(3.0, -1.0) == 3.0);
}

int main(void) {
    tr_set_threads(2);
    test_fast_exp();
    test_hand_values();
    test_jsd_endpoints();
    test_identical();
    test_temperature_limits();
    test_masked_teacher();
    test_accumulation();
    test_sparse_equals_dense();
    test_mix_and_alias();
    test_topk_builder();
    test_errors();
    test_vocab_check();
    test_finite_differences();
    return tu_finish("test_kd");
}
