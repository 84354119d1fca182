/* Kernels: optimised paths against naive twins, and every backward against central finite
 * differences (computed in double from the float forward) of the scalar L = sum(out * R). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tinyr1/ops.h"

static tr_rng rng;

static float *randn(size_t n, float scale) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = tr_rng_normal(&rng) * scale;
    return p;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }

/* A forward closure: writes the op's output for the current inputs. */
typedef struct fd_case {
    void (*forward)(struct fd_case *c);
    float *out;
    size_t n_out;
    const float *R; /* random cotangent */
    void *state;
} fd_case;

static double objective(fd_case *c) {
    c->forward(c);
    double s = 0;
    for (size_t i = 0; i < c->n_out; i++) s += (double)c->out[i] * c->R[i];
    return s;
}

/* Checks analytic[i] against the central difference for `count` random entries of x. */
static void check_fd(const char *what, fd_case *c, float *x, size_t n, const float *analytic,
                     int count, float eps, double tol) {
    double worst = 0;
    for (int k = 0; k < count; k++) {
        size_t i = (size_t)tr_rng_below(&rng, n);
        float saved = x[i];
        x[i] = saved + eps;
        double lp = objective(c);
        x[i] = saved - eps;
        double lm = objective(c);
        x[i] = saved;
        double num = (lp - lm) / (2.0 * eps);
        /* relative error with a floor: float rounding in L makes tiny gradients noisy */
        double err = fabs(num - analytic[i]) / fmax(fabs(num), 5e-2);
        if (err > worst) worst = err;
    }
    CHECK_MSG(worst < tol, "%s: worst relative error %.3g (tolerance %.3g)", what, worst, tol);
}

/* ---- matmul ---- */
typedef struct { float *in, *w, *b; int64_t N; int C, OC; } mm_state;
static void mm_fwd(fd_case *c) {
    mm_state *s = c->state;
    tr_matmul_forward(c->out, s->in, s->w, s->b, s->N, s->C, s->OC);
}
static void test_matmul(void) {
    mm_state s = {.N = 37, .C = 19, .OC = 23};
    s.in = randn((size_t)s.N * s.C, 1);
    s.w = randn((size_t)s.OC * s.C, 0.5f);
    s.b = randn((size_t)s.OC, 0.5f);
    size_t n_out = (size_t)s.N * s.OC;
    float *out = zeros(n_out), *ref = zeros(n_out), *R = randn(n_out, 1);
    tr_matmul_forward(out, s.in, s.w, s.b, s.N, s.C, s.OC);
    tr_matmul_forward_naive(ref, s.in, s.w, s.b, s.N, s.C, s.OC);
    CHECK(tu_max_rel_err(out, ref, n_out, 1.0) < 1e-5);
    float *din = zeros((size_t)s.N * s.C), *dw = zeros((size_t)s.OC * s.C), *db = zeros(s.OC);
    tr_matmul_backward(din, dw, db, R, s.in, s.w, s.N, s.C, s.OC);
    fd_case c = {.forward = mm_fwd, .out = out, .n_out = n_out, .R = R, .state = &s};
    check_fd("matmul din", &c, s.in, (size_t)s.N * s.C, din, 30, 0.1f, 1e-3); /* linear: any eps */
    check_fd("matmul dw", &c, s.w, (size_t)s.OC * s.C, dw, 30, 0.1f, 1e-3);
    check_fd("matmul dbias", &c, s.b, s.OC, db, 20, 0.1f, 1e-3);
    free(s.in); free(s.w); free(s.b); free(out); free(ref); free(R); free(din); free(dw); free(db);
}

/* ---- rmsnorm ---- */
typedef struct { float *in, *w, *rstd; int64_t N; int C; } rms_state;
static void rms_fwd(fd_case *c) {
    rms_state *s = c->state;
    tr_rmsnorm_forward(c->out, s->rstd, s->in, s->w, s->N, s->C, 1e-5f);
}
static void test_rmsnorm(void) {
    rms_state s = {.N = 29, .C = 70}; /* C > one column block (64) */
    s.in = randn((size_t)s.N * s.C, 1);
    s.w = randn(s.C, 1);
    s.rstd = zeros(s.N);
    size_t n = (size_t)s.N * s.C;
    float *out = zeros(n), *R = randn(n, 1), *din = zeros(n), *dw = zeros(s.C);
    fd_case c = {.forward = rms_fwd, .out = out, .n_out = n, .R = R, .state = &s};
    rms_fwd(&c);
    /* hand check of one row: y = x / rms(x) * w */
    double ss = 0;
    for (int i = 0; i < s.C; i++) ss += (double)s.in[i] * s.in[i];
    double r = 1 / sqrt(ss / s.C + 1e-5);
    CHECK_CLOSE(out[3], s.in[3] * r * s.w[3], 1e-5, 1e-6);
    tr_rmsnorm_backward(din, dw, R, s.in, s.w, s.rstd, s.N, s.C);
    check_fd("rmsnorm din", &c, s.in, n, din, 40, 1e-2f, 2e-3);
    check_fd("rmsnorm dw", &c, s.w, s.C, dw, 40, 1e-2f, 2e-3);
    free(s.in); free(s.w); free(s.rstd); free(out); free(R); free(din); free(dw);
}

/* ---- rope ---- */
typedef struct { float *x, *cos_t, *sin_t; int B, T, NH, HD; } rope_state;
static void rope_fwd(fd_case *c) {
    rope_state *s = c->state;
    size_t n = (size_t)s->B * s->T * s->NH * s->HD;
    memcpy(c->out, s->x, n * sizeof(float));
    tr_rope_forward(c->out, s->cos_t, s->sin_t, s->B, s->T, s->NH, s->HD, s->NH * s->HD, 0);
}
static void test_rope(void) {
    rope_state s = {.B = 2, .T = 7, .NH = 3, .HD = 8};
    size_t n = (size_t)s.B * s.T * s.NH * s.HD;
    s.x = randn(n, 1);
    s.cos_t = zeros(16 * 4);
    s.sin_t = zeros(16 * 4);
    tr_rope_tables(s.cos_t, s.sin_t, 16, s.HD, 10000.0f);
    /* hand value: position 5, pair i = 1 rotates by 5 * 10000^(-2/8) */
    CHECK_CLOSE(s.cos_t[5 * 4 + 1], cos(5.0 * pow(10000.0, -0.25)), 1e-6, 1e-7);
    float *out = zeros(n), *R = randn(n, 1);
    fd_case c = {.forward = rope_fwd, .out = out, .n_out = n, .R = R, .state = &s};
    rope_fwd(&c);
    /* rotate-half pairing: element (b=1,t=5,h=2,i=1) with (.., i+4) */
    size_t base = ((size_t)(1 * s.T + 5) * s.NH + 2) * s.HD;
    double a = 5.0 * pow(10000.0, -0.25), x0 = s.x[base + 1], x1 = s.x[base + 5];
    CHECK_CLOSE(out[base + 1], x0 * cos(a) - x1 * sin(a), 1e-5, 1e-6);
    CHECK_CLOSE(out[base + 5], x1 * cos(a) + x0 * sin(a), 1e-5, 1e-6);
    float *dx = malloc(n * sizeof(float));
    memcpy(dx, R, n * sizeof(float));
    tr_rope_backward(dx, s.cos_t, s.sin_t, s.B, s.T, s.NH, s.HD, s.NH * s.HD, 0);
    check_fd("rope dx", &c, s.x, n, dx, 40, 1e-2f, 1e-3);
    free(s.x); free(s.cos_t); free(s.sin_t); free(out); free(R); free(dx);
}

/* ---- attention ---- */
typedef struct { float *qkv, *probs; int B, T, NH, KVH, HD; } att_state;
static void att_fwd(fd_case *c) {
    att_state *s = c->state;
    tr_attention_forward(c->out, s->probs, s->qkv, s->B, s->T, s->NH, s->KVH, s->HD);
}
static void check_attention(int B, int T, int NH, int KVH, int HD) {
    att_state s = {.B = B, .T = T, .NH = NH, .KVH = KVH, .HD = HD};
    size_t S = (size_t)(NH + 2 * KVH) * HD, n_qkv = (size_t)B * T * S;
    size_t n_out = (size_t)B * T * NH * HD, n_p = (size_t)B * NH * T * T;
    s.qkv = randn(n_qkv, 1);
    s.probs = zeros(n_p);
    float *out = zeros(n_out), *ref = zeros(n_out), *pref = zeros(n_p), *R = randn(n_out, 1);
    tr_attention_forward_naive(ref, pref, s.qkv, B, T, NH, KVH, HD);
    fd_case c = {.forward = att_fwd, .out = out, .n_out = n_out, .R = R, .state = &s};
    att_fwd(&c);
    CHECK_MSG(tu_max_rel_err(out, ref, n_out, 1.0) < 1e-5, "attention vs naive T=%d", T);
    CHECK_MSG(tu_max_rel_err(s.probs, pref, n_p, 1e-3) < 1e-5, "probs vs naive T=%d", T);
    float *dqkv = zeros(n_qkv), *scratch = zeros((size_t)tr_get_threads() * T * T);
    tr_attention_backward(dqkv, s.probs, scratch, R, s.qkv, B, T, NH, KVH, HD);
    char what[64];
    snprintf(what, sizeof what, "attention dqkv (T=%d NH=%d KVH=%d)", T, NH, KVH);
    check_fd(what, &c, s.qkv, n_qkv, dqkv, 60, 1e-2f, 5e-3);
    free(s.qkv); free(s.probs); free(out); free(ref); free(pref); free(R); free(dqkv);
    free(scratch);
}

/* ---- swiglu ---- */
typedef struct { float *gu; int64_t N; int H; } sw_state;
static void sw_fwd(fd_case *c) {
    sw_state *s = c->state;
    tr_swiglu_forward(c->out, s->gu, s->N, s->H);
}
static void test_swiglu(void) {
    sw_state s = {.N = 11, .H = 13};
    size_t n = (size_t)s.N * s.H;
    s.gu = randn(2 * n, 2);
    float *out = zeros(n), *R = randn(n, 1), *dgu = zeros(2 * n);
    fd_case c = {.forward = sw_fwd, .out = out, .n_out = n, .R = R, .state = &s};
    sw_fwd(&c);
    double g = s.gu[0], u = s.gu[s.H];
    CHECK_CLOSE(out[0], g / (1 + exp(-g)) * u, 1e-5, 1e-6);
    tr_swiglu_backward(dgu, R, s.gu, s.N, s.H);
    check_fd("swiglu dgu", &c, s.gu, 2 * n, dgu, 40, 1e-3f, 2e-3);
    free(s.gu); free(out); free(R); free(dgu);

    /* the polynomial exp against libm over the whole range, saturation included: SiLU of
     * g in [-120, 120] (up = 1) to 1e-6 relative to max(1, |silu|) */
    enum { W = 2401 };
    float gu1[2 * W], o1[W];
    for (int i = 0; i < W; i++) {
        gu1[i] = -120.0f + 0.1f * (float)i;
        gu1[W + i] = 1.0f;
    }
    tr_swiglu_forward(o1, gu1, 1, W);
    double worst = 0;
    for (int i = 0; i < W; i++) {
        double x = gu1[i], want = x / (1.0 + exp(-x));
        double e = fabs(o1[i] - want) / fmax(1.0, fabs(want));
        worst = e > worst ? e : worst;
    }
    CHECK_MSG(worst < 1e-6, "silu over [-120, 120]: worst error %g", worst);
}

static void test_embedding(void) {
    int V = 7, C = 5, N = 6;
    int32_t tokens[6] = {3, 1, 3, 6, 0, 3};
    float *E = randn((size_t)V * C, 1), *out = zeros((size_t)N * C), *dE = zeros((size_t)V * C);
    float *dout = randn((size_t)N * C, 1);
    tr_embedding_forward(out, tokens, E, N, C);
    CHECK(out[2 * C + 4] == E[3 * C + 4]);
    tr_embedding_backward(dE, dout, tokens, N, C);
    /* token 3 appears at rows 0, 2, 5: its gradient is their sum */
    CHECK_CLOSE(dE[3 * C + 1], dout[1] + dout[2 * C + 1] + dout[5 * C + 1], 1e-6, 1e-7);
    CHECK(dE[2 * C] == 0.0f);
    free(E); free(out); free(dE); free(dout);
}

int main(void) {
    tr_rng_seed(&rng, 1234);
    test_matmul();
    test_rmsnorm();
    test_rope();
    check_attention(2, 9, 4, 2, 8);   /* GQA, one row block */
    check_attention(1, 150, 2, 1, 4); /* several row blocks of 64 */
    check_attention(2, 5, 3, 3, 6);   /* no GQA */
    test_swiglu();
    test_embedding();
    return tu_finish("test_ops");
}
