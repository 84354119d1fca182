/* Knowledge-distillation objectives: dense and top-K teacher, six divergences, CE mix.
 * Formulas and conventions: include/tinyr1/objectives.h and docs/objectives.md.
 *
 * Legend: N positions, V student vocabulary, K top-K entries, s = z/T (student),
 * t = u/T (teacher), q/p their softmaxes, lq/lp their log-softmaxes.
 *
 * Every divergence is written per "bucket" b (a token, or the rest bucket of a top-K
 * cache) as a loss term ell_b and h_b = dD/d(lq_b) with the lq_b taken as free variables.
 * The chain rule through the log-softmax (d lq_b / d s_i = [b == i] - q_i) then gives
 *   dD/ds_i = h_i - q_i * H,   H = sum_b h_b            (dense)
 *   dD/ds_i = (q_i / q_rest) h_rest - q_i * H            (a token of the rest bucket)
 * so one kernel serves all divergences and both teacher layouts. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "objectives/fastmath.h"
#include "tinyr1/objectives.h"

typedef struct kd_cfg {
    tr_kd_div div;       /* effective divergence after the endpoint reductions */
    int restrict_support; /* RKL: the student is renormalised over the teacher's support */
    double inv_t;
    double beta, log_beta, log_1mbeta; /* JSD */
    double a, log_a, log_1ma;          /* SKL / SRKL */
} kd_cfg;

tr_kd_params tr_kd_default_params(void) {
    tr_kd_params p;
    memset(&p, 0, sizeof p);
    p.div = TR_KD_FKL;
    p.temperature = 1.0;
    p.scale_t2 = 1;
    p.beta = 0.5;
    p.skew = 0.1;
    p.ce_alpha = 0.0;
    return p;
}

static const char *const kd_names[] = {"fkl", "rkl", "jsd", "skl", "srkl", "tvd"};

const char *tr_kd_div_name(tr_kd_div div) {
    if ((int)div < 0 || (int)div >= (int)(sizeof kd_names / sizeof kd_names[0])) return "?";
    return kd_names[div];
}

int tr_kd_div_parse(tr_kd_div *div, const char *name, tr_err *err) {
    for (int i = 0; i < (int)(sizeof kd_names / sizeof kd_names[0]); i++) {
        if (name && strcmp(name, kd_names[i]) == 0) {
            *div = (tr_kd_div)i;
            return 0;
        }
    }
    return tr_fail(err, "kd: unknown divergence '%s', expected fkl, rkl, jsd, skl, srkl or tvd",
                   name ? name : "(null)");
}

/* log(exp(x) + exp(y)) without overflow; -inf when both are -inf. */
static inline double lse2(double x, double y) {
    if (x == -INFINITY) return y;
    if (y == -INFINITY) return x;
    double mx = x > y ? x : y;
    return mx + log1p(exp(-fabs(x - y)));
}

/* One bucket: loss term and h = dD/d(lq). p = exp(lp), q = exp(lq) are passed in. */
static inline void kd_term(const kd_cfg *c, double lp, double lq, double p, double q,
                           double *ell, double *h) {
    double lm;
    switch (c->div) {
    case TR_KD_FKL:
        /* branch-free so the dense loop vectorises: where p = 0, lp = -inf is floored to a
         * finite value and the term is 0 * finite = 0 */
        *ell = p * (tr_fast_floor(lp, -1e300) - tr_fast_floor(lq, -1e300));
        *h = -p;
        return;
    case TR_KD_RKL:
        lq = tr_fast_floor(lq, -1e300); /* q = 0 where lq = -inf: the terms vanish */
        lp = tr_fast_floor(lp, -1e300);
        *ell = q * (lq - lp);
        *h = q * (lq - lp + 1.0);
        return;
    case TR_KD_JSD:
        lm = lse2(c->log_beta + lp, c->log_1mbeta + lq);
        *ell = (p > 0 ? c->beta * p * (lp - lm) : 0.0);
        *h = q > 0 ? (1.0 - c->beta) * q * (lq - lm) : 0.0;
        *ell += *h;
        return;
    case TR_KD_SKL:
        if (p > 0) {
            lm = lse2(c->log_a + lp, c->log_1ma + lq);
            *ell = p * (lp - lm);
            /* dD/dq = -(1-a) p / m, times q */
            *h = q > 0 ? -(1.0 - c->a) * exp(lp + lq - lm) : 0.0;
        } else {
            *ell = *h = 0.0;
        }
        return;
    case TR_KD_SRKL:
        if (q > 0) {
            lm = lse2(c->log_1ma + lp, c->log_a + lq);
            *ell = q * (lq - lm);
            /* dD/dq = log q + 1 - log m - a q / m, times q */
            *h = q * (lq - lm + 1.0 - c->a * exp(lq - lm));
        } else {
            *ell = *h = 0.0;
        }
        return;
    case TR_KD_TVD:
        *ell = 0.5 * fabs(p - q);
        *h = q > p ? 0.5 * q : (q < p ? -0.5 * q : 0.0);
        return;
    }
    *ell = *h = 0.0;
}

/* Per-thread scratch: 2V doubles and V bytes of marks. */
typedef struct kd_scratch {
    double *e; /* student exp(s_i - ms) */
    double *f; /* teacher exp(t_i - mt), then h_i */
    unsigned char *mark;
} kd_scratch;

/* Row result of the prepare step, consumed by the write step. */
typedef struct kd_row {
    double loss; /* D (without c, w, norm) */
    double H;    /* sum of h */
    double zs;   /* student normaliser over the (supported) vocabulary */
    /* sparse: a rest token i gets scale * e_i * (rest_coef - rest_shift * H / zs), where
     * e_i = exp(s_i - m) with m = ms normally, or m = the rest's own max when the rest mass
     * underflowed relative to ms (then rest_shift = exp(m - ms) ~ 0) */
    double rest_coef, rest_shift;
} kd_row;

/* The per-token terms over a dense row; `div` is a literal at each call site so the switch
 * in kd_term folds away and the loop vectorises where the divergence allows. */
static inline void kd_dense_terms(const kd_cfg *c, tr_kd_div div, const float *z, const float *u,
                                  int V, double lzs, double lzt, double izs, double izt,
                                  kd_scratch *sc, double *loss_out, double *H_out) {
    const double it = c->inv_t;
    const int restrict_support = c->restrict_support;
    double *e = sc->e, *f = sc->f;
    kd_cfg cc = *c;
    cc.div = div;
    double loss = 0, H = 0;
#pragma omp simd reduction(+ : loss, H)
    for (int i = 0; i < V; i++) {
        /* logs from the logits, not log(exp): exact even where q or p underflow to 0 */
        const int masked = u[i] == -INFINITY;
        double q = e[i] * izs, p = f[i] * izt;
        double lq = (restrict_support && masked) ? -INFINITY : (double)z[i] * it - lzs;
        double lp = masked ? -INFINITY : (double)u[i] * it - lzt;
        double ell, h;
        kd_term(&cc, lp, lq, p, q, &ell, &h);
        loss += ell;
        H += h;
        f[i] = h;
    }
    *loss_out = loss;
    *H_out = H;
}

/* Dense teacher row: fills sc->e (student exps) and sc->f (h_i); returns -1 when the teacher
 * row is all -inf. */
static int kd_dense_prepare(kd_row *r, const kd_cfg *c, const float *z, const float *u, int V,
                            kd_scratch *sc) {
    const double it = c->inv_t;
    const int restrict_support = c->restrict_support;
    double ms = -INFINITY, mt = -INFINITY;
#pragma omp simd reduction(max : ms, mt)
    for (int i = 0; i < V; i++) {
        double t = (double)u[i] * it;
        mt = t > mt ? t : mt;
        double s = (restrict_support && u[i] == -INFINITY) ? -INFINITY : (double)z[i] * it;
        ms = s > ms ? s : ms;
    }
    if (mt == -INFINITY) return -1;
    double zs = 0, zt = 0;
    double *e = sc->e, *f = sc->f;
#pragma omp simd reduction(+ : zs, zt)
    for (int i = 0; i < V; i++) {
        double et = tr_fast_exp((double)u[i] * it - mt);
        double es = tr_fast_exp((double)z[i] * it - ms);
        es = (restrict_support && u[i] == -INFINITY) ? 0.0 : es;
        e[i] = es;
        f[i] = et;
        zs += es;
        zt += et;
    }
    const double lzs = ms + log(zs), lzt = mt + log(zt), izs = 1.0 / zs, izt = 1.0 / zt;
    double loss = 0, H = 0;
    switch (c->div) {
    case TR_KD_FKL:
        kd_dense_terms(c, TR_KD_FKL, z, u, V, lzs, lzt, izs, izt, sc, &loss, &H);
        break;
    case TR_KD_RKL:
        kd_dense_terms(c, TR_KD_RKL, z, u, V, lzs, lzt, izs, izt, sc, &loss, &H);
        break;
    case TR_KD_JSD:
        kd_dense_terms(c, TR_KD_JSD, z, u, V, lzs, lzt, izs, izt, sc, &loss, &H);
        break;
    case TR_KD_SKL:
        kd_dense_terms(c, TR_KD_SKL, z, u, V, lzs, lzt, izs, izt, sc, &loss, &H);
        break;
    case TR_KD_SRKL:
        kd_dense_terms(c, TR_KD_SRKL, z, u, V, lzs, lzt, izs, izt, sc, &loss, &H);
        break;
    case TR_KD_TVD:
        kd_dense_terms(c, TR_KD_TVD, z, u, V, lzs, lzt, izs, izt, sc, &loss, &H);
        break;
    }
    r->loss = loss;
    r->H = H;
    r->zs = zs;
    r->rest_coef = 0;
    r->rest_shift = 1;
    return 0;
}

/* d_i (=|+=) scale * (h_i - q_i H). Reads only the scratch, so d may alias the logits. */
static void kd_dense_write(float *d, const kd_row *r, const kd_scratch *sc, int V, double scale,
                           int accumulate) {
    const double a = scale, b = scale * r->H / r->zs;
    const double *e = sc->e, *f = sc->f;
    if (accumulate) {
#pragma omp simd
        for (int i = 0; i < V; i++) d[i] += (float)(a * f[i] - b * e[i]);
    } else {
#pragma omp simd
        for (int i = 0; i < V; i++) d[i] = (float)(a * f[i] - b * e[i]);
    }
}

/* Sparse teacher row (ids, lpt: K entries, rest log-prob). Fills sc->e, marks the ids and
 * stores h_k in sc->f[k]. Returns -1 when every teacher bucket is -inf. */
static int kd_sparse_prepare(kd_row *r, const kd_cfg *c, const float *z, int V, int K,
                             const int32_t *ids, const float *lpt, float rest_lp,
                             kd_scratch *sc) {
    const double it = c->inv_t;
    unsigned char *mark = sc->mark;
    /* teacher: renormalise the K+1 values by their logsumexp */
    double mt = rest_lp;
    for (int k = 0; k < K; k++)
        if (lpt[k] > mt) mt = lpt[k];
    if (mt == -INFINITY) return -1;
    double zt = exp((double)rest_lp - mt);
    for (int k = 0; k < K; k++) zt += exp((double)lpt[k] - mt);
    const double lzt = mt + log(zt);
    /* marks: 1 = top-K token in the support, 2 = top-K token outside (RKL only) */
    for (int k = 0; k < K; k++)
        mark[ids[k]] = (c->restrict_support && lpt[k] == -INFINITY) ? 2 : 1;
    const int rest_in = !(c->restrict_support && rest_lp == -INFINITY);
    double ms = -INFINITY, mrest = -INFINITY;
    for (int i = 0; i < V; i++) {
        int in = mark[i] ? mark[i] == 1 : rest_in;
        double s = (double)z[i] * it;
        if (in && s > ms) ms = s;
        if (!mark[i] && s > mrest) mrest = s;
    }
    double zs = 0, zrest = 0;
    double *e = sc->e;
#pragma omp simd reduction(+ : zs, zrest)
    for (int i = 0; i < V; i++) {
        int in = mark[i] ? mark[i] == 1 : rest_in;
        double es = tr_fast_exp((double)z[i] * it - ms);
        es = in ? es : 0.0;
        e[i] = es;
        zs += es;
        zrest += mark[i] ? 0.0 : es;
    }
    const double lzs = ms + log(zs);
    double rest_shift = 1.0, lq_rest = -INFINITY;
    if (rest_in && mrest > -INFINITY) {
        if (zrest < 1e-200) {
            /* the rest's mass underflowed relative to ms: rescale the rest tokens by their
             * own max so log q_rest and the split of its gradient stay exact */
            zrest = 0;
            for (int i = 0; i < V; i++)
                if (!mark[i]) zrest += (e[i] = tr_fast_exp((double)z[i] * it - mrest));
            rest_shift = exp(mrest - ms);
            lq_rest = mrest + log(zrest) - lzs;
        } else {
            lq_rest = ms + log(zrest) - lzs;
        }
    }
    double loss = 0, H = 0, ell, h;
    for (int k = 0; k < K; k++) {
        const int out = mark[ids[k]] == 2;
        double lq = out ? -INFINITY : (double)z[ids[k]] * it - lzs;
        double lp = lpt[k] == -INFINITY ? -INFINITY : (double)lpt[k] - lzt;
        kd_term(c, lp, lq, exp(lp), e[ids[k]] / zs, &ell, &h);
        loss += ell;
        H += h;
        sc->f[k] = h;
    }
    /* the rest bucket */
    double lp = rest_lp == -INFINITY ? -INFINITY : (double)rest_lp - lzt;
    kd_term(c, lp, lq_rest, exp(lp), exp(lq_rest), &ell, &h);
    loss += ell;
    H += h;
    r->loss = loss;
    r->H = H;
    r->zs = zs;
    r->rest_coef = zrest > 0 ? h / zrest : 0.0;
    r->rest_shift = rest_shift;
    return 0;
}

/* Sparse write; clears the marks. */
static void kd_sparse_write(float *d, const kd_row *r, kd_scratch *sc, int V, int K,
                            const int32_t *ids, double scale, int accumulate) {
    const double *e = sc->e;
    unsigned char *mark = sc->mark;
    const double b = r->H / r->zs, brest = r->rest_coef - r->rest_shift * b;
    /* top-K tokens are rewritten below in one rounding */
    if (accumulate) {
#pragma omp simd
        for (int i = 0; i < V; i++) d[i] += mark[i] ? 0.0f : (float)(scale * e[i] * brest);
    } else {
#pragma omp simd
        for (int i = 0; i < V; i++) d[i] = (float)(scale * e[i] * brest);
    }
    for (int k = 0; k < K; k++) {
        const int i = ids[k];
        double g = scale * (sc->f[k] - b * e[i]);
        d[i] = accumulate ? d[i] + (float)g : (float)g;
        mark[i] = 0;
    }
}

static int kd_config(kd_cfg *c, const tr_kd_params *p, tr_err *err) {
    memset(c, 0, sizeof *c);
    if (!(p->temperature > 0) || !isfinite(p->temperature))
        return tr_fail(err, "kd: temperature must be finite and > 0, got %g", p->temperature);
    if (!(p->beta >= 0 && p->beta <= 1))
        return tr_fail(err, "kd: beta must be in [0, 1], got %g", p->beta);
    if (!(p->skew >= 0 && p->skew <= 1))
        return tr_fail(err, "kd: skew must be in [0, 1], got %g", p->skew);
    if (!(p->ce_alpha >= 0 && p->ce_alpha <= 1))
        return tr_fail(err, "kd: ce_alpha must be in [0, 1], got %g", p->ce_alpha);
    if ((int)p->div < 0 || (int)p->div > (int)TR_KD_TVD)
        return tr_fail(err, "kd: unknown divergence %d", (int)p->div);
    c->div = p->div;
    c->inv_t = 1.0 / p->temperature;
    c->beta = p->beta;
    c->a = p->skew;
    if (c->div == TR_KD_JSD && c->beta == 0) c->div = TR_KD_FKL;
    if (c->div == TR_KD_JSD && c->beta == 1) c->div = TR_KD_RKL;
    if (c->div == TR_KD_SKL && c->a == 0) c->div = TR_KD_FKL;
    if (c->div == TR_KD_SRKL && c->a == 0) c->div = TR_KD_RKL;
    c->restrict_support = c->div == TR_KD_RKL;
    c->log_beta = log(c->beta); /* -inf at 0 is handled by lse2 */
    c->log_1mbeta = log1p(-c->beta);
    c->log_a = log(c->a);
    c->log_1ma = log1p(-c->a);
    return 0;
}

/* Serial validation of what would otherwise fail inside the parallel loop. */
static int kd_validate(const tr_kd_teacher *tch, const int32_t *targets, const float *weights,
                       int64_t N, int V, double alpha, const tr_kd_params *p, tr_err *err) {
    for (int64_t n = 0; n < N; n++) {
        float w = weights ? weights[n] : 1.0f;
        if (!(w >= 0) || !isfinite(w))
            return tr_fail(err, "kd: weights[%lld] = %g, expected finite and >= 0", (long long)n,
                           (double)w);
        if (w > 0 && alpha > 0 && (targets[n] < 0 || targets[n] >= V))
            return tr_fail(err, "kd: targets[%lld] = %d outside [0, %d) at a weighted position",
                           (long long)n, (int)targets[n], V);
    }
    if (tch->logits) {
        if (tch->ld < V)
            return tr_fail(err, "kd: teacher row stride %lld < student vocabulary %d",
                           (long long)tch->ld, V);
        return 0;
    }
    if (!tch->ids || !tch->logprobs || !tch->rest_logprob)
        return tr_fail(err, "kd: teacher has neither logits nor a complete top-K cache");
    if (tch->K < 1 || tch->K > V)
        return tr_fail(err, "kd: top-K cache K = %d, expected 1..%d", tch->K, V);
    if (fabs(tch->temperature - p->temperature) > 1e-9 * p->temperature)
        return tr_fail(err,
                       "kd: the top-K cache was computed at temperature %g but the loss uses "
                       "%g; rebuild the cache at the distillation temperature",
                       tch->temperature, p->temperature);
    unsigned char *seen = tr_calloc((size_t)V, 1, err);
    if (!seen) return -1;
    int rc = 0;
    for (int64_t n = 0; n < N && rc == 0; n++) {
        if (weights && weights[n] == 0) continue;
        const int32_t *ids = tch->ids + n * tch->K;
        const float *lp = tch->logprobs + n * tch->K;
        int k;
        for (k = 0; k < tch->K; k++) {
            if (ids[k] < 0 || ids[k] >= V) {
                rc = tr_fail(err, "kd: top-K cache row %lld: id %d outside [0, %d)",
                             (long long)n, (int)ids[k], V);
                break;
            }
            if (seen[ids[k]]) {
                rc = tr_fail(err, "kd: top-K cache row %lld: id %d appears twice", (long long)n,
                             (int)ids[k]);
                break;
            }
            if (isnan(lp[k]) || lp[k] > 1e-3f) {
                rc = tr_fail(err, "kd: top-K cache row %lld: log-prob %g, expected <= 0",
                             (long long)n, (double)lp[k]);
                break;
            }
            seen[ids[k]] = 1;
        }
        for (int j = 0; j < k && j < tch->K; j++) seen[ids[j]] = 0;
        if (rc == 0 && (isnan(tch->rest_logprob[n]) || tch->rest_logprob[n] > 1e-3f))
            rc = tr_fail(err, "kd: top-K cache row %lld: rest log-prob %g, expected <= 0",
                         (long long)n, (double)tch->rest_logprob[n]);
    }
    free(seen);
    return rc;
}

int tr_kd_loss(float *dlogits, tr_kd_losses *out, const float *student_logits,
               const tr_kd_teacher *teacher, const int32_t *targets, const float *weights,
               int64_t N, int V, double norm, const tr_kd_params *params, tr_err *err) {
    kd_cfg cfg;
    if (!params || !teacher || !out || !dlogits || !student_logits)
        return tr_fail(err, "kd: NULL argument");
    memset(out, 0, sizeof *out);
    if (kd_config(&cfg, params, err)) return -1;
    if (N < 0 || V <= 0) return tr_fail(err, "kd: bad shape N = %lld, V = %d", (long long)N, V);
    if (!(norm > 0) || !isfinite(norm))
        return tr_fail(err, "kd: norm must be finite and > 0 (the sum of weights over the whole "
                            "accumulated batch), got %g",
                       norm);
    const double alpha = params->ce_alpha;
    if (alpha > 0 && !targets) return tr_fail(err, "kd: ce_alpha > 0 needs targets");
    if (kd_validate(teacher, targets, weights, N, V, alpha, params, err)) return -1;
    if (N == 0) return 0;

    const int sparse = teacher->logits == NULL;
    const double T = params->temperature, c = params->scale_t2 ? T * T : 1.0;
    const int nth = omp_get_max_threads();
    const size_t per = (size_t)2 * (size_t)V * sizeof(double) + (((size_t)V + 63) / 64) * 64;
    char *buf = tr_aligned_alloc(per * (size_t)nth, err);
    double *part = tr_calloc((size_t)nth * 2, sizeof(double), err);
    if (!buf || !part) {
        free(buf);
        free(part);
        return -1;
    }
    int64_t bad_row = -1;
    int ce_failed = 0;
    tr_err ce_err;
    memset(&ce_err, 0, sizeof ce_err);

#pragma omp parallel
    {
        const int tid = omp_get_thread_num();
        kd_scratch sc;
        sc.e = (double *)(buf + per * (size_t)tid);
        sc.f = sc.e + V;
        sc.mark = (unsigned char *)(sc.f + V);
        double my_kd = 0, my_ce = 0;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            float *d = dlogits + n * (int64_t)V;
            const float *z = student_logits + n * (int64_t)V;
            const double w = weights ? (double)weights[n] : 1.0;
            if (w == 0) {
                memset(d, 0, (size_t)V * sizeof *d);
                continue;
            }
            kd_row r;
            int rc;
            if (sparse)
                rc = kd_sparse_prepare(&r, &cfg, z, V, teacher->K, teacher->ids + n * teacher->K,
                                       teacher->logprobs + n * teacher->K,
                                       teacher->rest_logprob[n], &sc);
            else
                rc = kd_dense_prepare(&r, &cfg, z, teacher->logits + n * teacher->ld, V, &sc);
            if (rc) {
#pragma omp critical(tr_kd_err)
                if (bad_row < 0 || n < bad_row) bad_row = n;
                if (sparse)
                    for (int k = 0; k < teacher->K; k++) sc.mark[teacher->ids[n * teacher->K + k]] = 0;
                memset(d, 0, (size_t)V * sizeof *d);
                continue;
            }
            my_kd += w * c * r.loss / norm;
            int accumulate = 0;
            if (alpha > 0) {
                /* CE on the raw (T = 1) logits of this row; reads z before d is written */
                float wa = (float)(alpha * w);
                double ce = 0;
                tr_err e1;
                if (tr_ce_loss(d, &ce, z, targets + n, &wa, 1, V, norm, &e1)) {
#pragma omp critical(tr_kd_err)
                    {
                        if (!ce_failed) ce_err = e1;
                        ce_failed = 1;
                    }
                }
                my_ce += ce;
                accumulate = 1;
            }
            const double scale = (1.0 - alpha) * w * c / (norm * T);
            if (sparse)
                kd_sparse_write(d, &r, &sc, V, teacher->K, teacher->ids + n * teacher->K, scale,
                                accumulate);
            else
                kd_dense_write(d, &r, &sc, V, scale, accumulate);
        }
        part[2 * tid] = my_kd;
        part[2 * tid + 1] = my_ce;
    }
    double kd = 0, ce = 0;
    for (int i = 0; i < nth; i++) {
        kd += part[2 * i];
        ce += part[2 * i + 1];
    }
    free(buf);
    free(part);
    if (bad_row >= 0)
        return tr_fail(err, "kd: position %lld: the teacher's logits are all -inf (no support)",
                       (long long)bad_row);
    if (ce_failed) return tr_fail(err, "kd: cross-entropy part: %s", ce_err.msg);
    /* ce from tr_ce_loss already carries the factor alpha (weight alpha*w) */
    out->ce = alpha > 0 ? ce / alpha : 0.0;
    out->kd = kd;
    out->total = ce + (1.0 - alpha) * kd;
    return 0;
}

/* ---- top-K cache ------------------------------------------------------------------ */

/* Min-heap of (value, id) where the root is the worst kept entry: smaller value, or equal
 * value and larger id (so ties keep the lower id). */
static inline int topk_worse(double va, int ia, double vb, int ib) {
    return va < vb || (va == vb && ia > ib);
}

static void topk_sift_down(double *v, int *id, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && topk_worse(v[l], id[l], v[m], id[m])) m = l;
        if (r < n && topk_worse(v[r], id[r], v[m], id[m])) m = r;
        if (m == i) return;
        double tv = v[i];
        v[i] = v[m];
        v[m] = tv;
        int ti = id[i];
        id[i] = id[m];
        id[m] = ti;
        i = m;
    }
}

int tr_kd_topk_from_logits(int32_t *ids, float *logprobs, float *rest_logprob,
                           const float *teacher_logits, int64_t N, int64_t ld, int V, int K,
                           double temperature, tr_err *err) {
    if (V <= 0 || K < 1 || K > V || ld < V || N < 0)
        return tr_fail(err, "kd topk: bad shape N = %lld, V = %d, K = %d, ld = %lld",
                       (long long)N, V, K, (long long)ld);
    if (!(temperature > 0) || !isfinite(temperature))
        return tr_fail(err, "kd topk: temperature must be finite and > 0, got %g", temperature);
    const int nth = omp_get_max_threads();
    /* per-thread block, rounded to 64 bytes so each block's doubles stay aligned */
    const size_t per = ((size_t)K * (sizeof(double) + sizeof(int)) + (size_t)V + 63) / 64 * 64;
    char *buf = tr_calloc((size_t)nth, per, err);
    if (!buf) return -1;
    const double it = 1.0 / temperature;
    int64_t bad_row = -1;
#pragma omp parallel
    {
        char *mine = buf + per * (size_t)omp_get_thread_num();
        double *hv = (double *)mine;
        int *hid = (int *)(hv + K);
        unsigned char *mark = (unsigned char *)(hid + K);
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            const float *u = teacher_logits + n * ld;
            int h = 0;
            double mt = -INFINITY;
            for (int i = 0; i < V; i++) {
                double t = (double)u[i] * it;
                if (t > mt) mt = t;
                if (h < K) {
                    hv[h] = t;
                    hid[h] = i;
                    h++;
                    if (h == K)
                        for (int j = K / 2 - 1; j >= 0; j--) topk_sift_down(hv, hid, K, j);
                } else if (topk_worse(hv[0], hid[0], t, i)) {
                    hv[0] = t;
                    hid[0] = i;
                    topk_sift_down(hv, hid, K, 0);
                }
            }
            if (mt == -INFINITY) {
#pragma omp critical(tr_kd_topk_err)
                if (bad_row < 0 || n < bad_row) bad_row = n;
                continue;
            }
            for (int k = 0; k < K; k++) mark[hid[k]] = 1;
            double zt = 0, zrest = 0;
#pragma omp simd reduction(+ : zt, zrest)
            for (int i = 0; i < V; i++) {
                double e = tr_fast_exp((double)u[i] * it - mt);
                zt += e;
                zrest += mark[i] ? 0.0 : e;
            }
            const double lzt = mt + log(zt);
            /* heap-sort: pop the worst to the end, leaving decreasing order */
            for (int end = K - 1; end > 0; end--) {
                double tv = hv[0];
                hv[0] = hv[end];
                hv[end] = tv;
                int ti = hid[0];
                hid[0] = hid[end];
                hid[end] = ti;
                topk_sift_down(hv, hid, end, 0);
            }
            for (int k = 0; k < K; k++) {
                ids[n * K + k] = hid[k];
                logprobs[n * K + k] = (float)(hv[k] - lzt);
                mark[hid[k]] = 0;
            }
            rest_logprob[n] = zrest > 0 ? (float)(mt + log(zrest) - lzt) : -INFINITY;
        }
    }
    free(buf);
    if (bad_row >= 0)
        return tr_fail(err, "kd topk: position %lld: the teacher's logits are all -inf",
                       (long long)bad_row);
    return 0;
}

int tr_kd_vocab_check(int *v_use, int teacher_vocab, int student_vocab, int tokenizer_vocab,
                      tr_err *err) {
    if (teacher_vocab <= 0 || student_vocab <= 0)
        return tr_fail(err, "kd vocab: vocabularies must be positive (teacher %d, student %d)",
                       teacher_vocab, student_vocab);
    if (tokenizer_vocab <= 0) {
        if (teacher_vocab != student_vocab)
            return tr_fail(err,
                           "kd vocab: teacher has %d output rows and student %d; without the "
                           "tokenizer's size the extra rows cannot be shown to be padding",
                           teacher_vocab, student_vocab);
    } else {
        if (student_vocab < tokenizer_vocab)
            return tr_fail(err,
                           "kd vocab: student has %d output rows < %d tokenizer tokens: it "
                           "cannot represent every teacher token",
                           student_vocab, tokenizer_vocab);
        if (teacher_vocab < student_vocab)
            return tr_fail(err,
                           "kd vocab: teacher has %d output rows < student's %d; logit KD "
                           "needs teacher rows >= student rows",
                           teacher_vocab, student_vocab);
    }
    if (v_use) *v_use = student_vocab;
    return 0;
}
