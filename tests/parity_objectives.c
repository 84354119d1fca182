/* Parity of the KD and GRPO objectives with a PyTorch oracle (tests/ref_objectives.py).
 *
 * Writes every case's inputs as raw little-endian float32/int32 files plus a JSON manifest
 * into a temporary directory, runs the oracle once with /usr/bin/python3, reads its float64
 * outputs and compares losses, gradients and statistics. Exits non-zero, naming the case and
 * the quantity, on any relative difference above 1e-5. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref_objectives_ce.h"
#include "testutil.h"

#define TOL 1e-5

static char g_dir[64];
static cJSON *g_cases;
static double g_worst;

typedef struct expect {
    char name[64];
    int type; /* 0 kd, 1 topk, 2 grpo, 3 logprobs, 4 adv */
    double loss[3];
    int n_loss;
    float *grad;
    size_t n_grad;
    double stats[6];
    int32_t *ids;
    float *vals, *vals2;
    size_t n_vals;
    double extra;
} expect;

#define MAX_CASES 256
static expect g_exp[MAX_CASES];
static int g_n;

static void write_raw(const char *name, const void *data, size_t bytes) {
    char path[512];
    if (snprintf(path, sizeof path, "%s/%s", g_dir, name) >= (int)sizeof path) exit(2);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

static double *read_f64(const char *name, const char *what, size_t n) {
    char path[512];
    if (snprintf(path, sizeof path, "%s/%s.%s.f64", g_dir, name, what) >= (int)sizeof path) exit(2);
    FILE *f = fopen(path, "rb");
    double *a = malloc(n * sizeof *a + 8);
    if (!f || fread(a, sizeof *a, n, f) != n) {
        fprintf(stderr, "cannot read %zu doubles from %s\n", n, path);
        exit(2);
    }
    fclose(f);
    return a;
}

static int64_t *read_i64(const char *name, const char *what, size_t n) {
    char path[512];
    if (snprintf(path, sizeof path, "%s/%s.%s.i64", g_dir, name, what) >= (int)sizeof path) exit(2);
    FILE *f = fopen(path, "rb");
    int64_t *a = malloc(n * sizeof *a + 8);
    if (!f || fread(a, sizeof *a, n, f) != n) {
        fprintf(stderr, "cannot read %zu int64 from %s\n", n, path);
        exit(2);
    }
    fclose(f);
    return a;
}

/* adds a file input to a case: writes it and names it in "files" */
static void add_file(cJSON *c, const char *key, const void *data, size_t bytes, int is_int) {
    char fn[128];
    snprintf(fn, sizeof fn, "%s.%s.%s", cJSON_GetObjectItem(c, "name")->valuestring, key,
             is_int ? "i32" : "f32");
    write_raw(fn, data, bytes);
    cJSON_AddStringToObject(cJSON_GetObjectItem(c, "files"), key, fn);
}

static cJSON *new_case(const char *type, expect **e) {
    if (g_n >= MAX_CASES) {
        fprintf(stderr, "too many cases\n");
        exit(2);
    }
    *e = &g_exp[g_n];
    memset(*e, 0, sizeof **e);
    snprintf((*e)->name, sizeof (*e)->name, "c%03d_%s", g_n, type);
    g_n++;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", (*e)->name);
    cJSON_AddStringToObject(c, "type", type);
    cJSON_AddItemToObject(c, "files", cJSON_CreateObject());
    cJSON_AddItemToArray(g_cases, c);
    return c;
}

/* ---- comparisons ----------------------------------------------------------------- */

static void cmp_scalar(const char *name, const char *what, double got, double want, double floor) {
    double e = fabs(got - want) / fmax(fabs(want), floor);
    if (isnan(e)) e = INFINITY;
    if (e > g_worst) g_worst = e;
    CHECK_MSG(e <= TOL, "%s %s: C %.12g vs torch %.12g (rel err %.3g)", name, what, got, want, e);
}

static void cmp_array(const char *name, const char *what, const float *got, const double *want,
                      size_t n) {
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(want[i])) mx = fmax(mx, fabs(want[i]));
    /* entries far below the largest are compared with an absolute tolerance of 1e-4*max*TOL */
    double floor = fmax(mx * 1e-4, 1e-30);
    /* equal infinities (masked -inf log-probs) match; compare the finite rest */
    float *wf = malloc(n * sizeof *wf + 4), *gf = malloc(n * sizeof *gf + 4);
    for (size_t i = 0; i < n; i++) {
        int same_inf = isinf(want[i]) && (double)got[i] == want[i];
        wf[i] = same_inf ? 0.0f : (float)want[i];
        gf[i] = same_inf ? 0.0f : got[i];
    }
    double e = tu_max_rel_err(gf, wf, n, floor);
    free(gf);
    if (e > g_worst) g_worst = e;
    if (!(e <= TOL)) {
        size_t worst = 0;
        double we = -1;
        for (size_t i = 0; i < n; i++) {
            double ei = fabs((double)got[i] - want[i]) / fmax(fabs(want[i]), floor);
            if (isinf(want[i]) && (double)got[i] == want[i]) ei = 0;
            if (!(ei <= we)) {
                we = ei;
                worst = i;
            }
        }
        CHECK_MSG(0, "%s %s: max rel err %.3g at [%zu]: C %.9g vs torch %.9g", name, what, e,
                  worst, (double)got[worst], want[worst]);
    } else {
        tu_checks++;
    }
    free(wf);
}

/* ---- inputs ---------------------------------------------------------------------- */

static void fill_normal(float *a, size_t n, tr_rng *rng, double scale) {
    for (size_t i = 0; i < n; i++) a[i] = (float)(scale * tr_rng_normal(rng));
}

enum { KN = 10, KV = 37, KLD = 41 };

typedef struct kd_inputs {
    float z[KN * KV], u[KN * KLD], w[KN];
    int32_t y[KN];
    double norm;
} kd_inputs;

/* student and teacher logits with: padding columns in the teacher (ld > V) holding huge
 * values that must be ignored, masked (-inf) teacher tokens in some rows, a row with a
 * single finite teacher token, zero-weight rows and fractional weights */
static void make_kd_inputs(kd_inputs *in, uint64_t seed, int with_inf) {
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    fill_normal(in->z, KN * KV, &rng, 3.0);
    for (int n = 0; n < KN; n++) {
        for (int i = 0; i < KLD; i++) {
            /* the teacher resembles the student, as after some training */
            float base = i < KV ? in->z[n * KV + i] : 0.f;
            in->u[n * KLD + i] = i < KV ? (float)(0.6 * base + 2.0 * tr_rng_normal(&rng)) : 1e4f;
        }
        in->y[n] = (int32_t)tr_rng_below(&rng, KV);
        in->w[n] = 1.0f;
    }
    in->w[2] = 0.0f; /* padding */
    in->w[7] = 0.0f;
    in->y[7] = -1;
    in->w[4] = 0.5f;
    in->w[5] = 2.0f;
    if (with_inf) {
        for (int k = 0; k < 6; k++) in->u[1 * KLD + (int)tr_rng_below(&rng, KV)] = -INFINITY;
        for (int k = 0; k < 3; k++) in->u[6 * KLD + (int)tr_rng_below(&rng, KV)] = -INFINITY;
        for (int i = 0; i < KV; i++)
            if (i != 11) in->u[8 * KLD + i] = -INFINITY;
        in->y[8] = 11;
    }
    in->norm = 0;
    for (int n = 0; n < KN; n++) in->norm += in->w[n];
    in->norm += 3.0; /* as if other micro-batches held 3 more weighted tokens */
}

static void kd_case(const kd_inputs *in, tr_kd_params p, int sparse_k, int ld) {
    expect *e;
    cJSON *c = new_case("kd", &e);
    cJSON_AddStringToObject(c, "div", tr_kd_div_name(p.div));
    cJSON_AddNumberToObject(c, "T", p.temperature);
    cJSON_AddNumberToObject(c, "scale_t2", p.scale_t2);
    cJSON_AddNumberToObject(c, "beta", p.beta);
    cJSON_AddNumberToObject(c, "skew", p.skew);
    cJSON_AddNumberToObject(c, "alpha", p.ce_alpha);
    cJSON_AddNumberToObject(c, "N", KN);
    cJSON_AddNumberToObject(c, "V", KV);
    cJSON_AddNumberToObject(c, "ld", ld);
    cJSON_AddNumberToObject(c, "norm", in->norm);
    add_file(c, "student", in->z, sizeof in->z, 0);
    add_file(c, "weights", in->w, sizeof in->w, 0);
    add_file(c, "targets", in->y, sizeof in->y, 1);
    float u[KN * KLD];
    for (int n = 0; n < KN; n++)
        for (int i = 0; i < ld; i++) u[n * ld + i] = in->u[n * KLD + i];
    tr_kd_teacher t;
    memset(&t, 0, sizeof t);
    int32_t ids[KN * KV];
    float lp[KN * KV], rest[KN];
    tr_err err = {{0}};
    if (sparse_k) {
        cJSON_AddNumberToObject(c, "K", sparse_k);
        CHECK(tr_kd_topk_from_logits(ids, lp, rest, u, KN, ld, KV, sparse_k, p.temperature,
                                     &err) == 0);
        add_file(c, "ids", ids, sizeof(int32_t) * KN * sparse_k, 1);
        add_file(c, "logprobs", lp, sizeof(float) * KN * sparse_k, 0);
        add_file(c, "rest", rest, sizeof rest, 0);
        t.K = sparse_k;
        t.ids = ids;
        t.logprobs = lp;
        t.rest_logprob = rest;
        t.temperature = p.temperature;
    } else {
        add_file(c, "teacher", u, sizeof(float) * KN * ld, 0);
        t.logits = u;
        t.ld = ld;
    }
    e->type = 0;
    e->n_grad = KN * KV;
    e->grad = malloc(sizeof(float) * KN * KV);
    tr_kd_losses out;
    int rc = tr_kd_loss(e->grad, &out, in->z, &t, in->y, in->w, KN, KV, in->norm, &p, &err);
    CHECK_MSG(rc == 0, "%s: %s", e->name, err.msg);
    e->loss[0] = out.total;
    e->loss[1] = out.ce;
    e->loss[2] = out.kd;
    e->n_loss = 3;
}

static void topk_case(const kd_inputs *in, int K, double T) {
    expect *e;
    cJSON *c = new_case("topk", &e);
    cJSON_AddNumberToObject(c, "N", KN);
    cJSON_AddNumberToObject(c, "V", KV);
    cJSON_AddNumberToObject(c, "ld", KLD);
    cJSON_AddNumberToObject(c, "K", K);
    cJSON_AddNumberToObject(c, "T", T);
    add_file(c, "teacher", in->u, sizeof in->u, 0);
    e->type = 1;
    e->n_vals = (size_t)K;
    e->ids = malloc(sizeof(int32_t) * KN * K);
    e->vals = malloc(sizeof(float) * KN * K);
    e->vals2 = malloc(sizeof(float) * KN);
    tr_err err = {{0}};
    CHECK(tr_kd_topk_from_logits(e->ids, e->vals, e->vals2, in->u, KN, KLD, KV, K, T, &err) == 0);
}

/* ---- GRPO ------------------------------------------------------------------------ */

enum { GB = 4, GL = 6, GV = 29, GN = GB * GL };

typedef struct grpo_inputs {
    float z[GN * GV], m[GN], adv[GN], old[GN], ref[GN], lp[GN];
    int32_t y[GN];
    double tokens;
} grpo_inputs;

static void make_grpo_inputs(grpo_inputs *in, uint64_t seed, double T, double old_noise) {
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    fill_normal(in->z, GN * GV, &rng, 2.0);
    const int prompt[GB] = {1, 2, 1, 2}, len[GB] = {6, 4, 5, 2}; /* len: prompt + completion */
    const float A[GB] = {1.2f, -0.7f, 0.4f, -1.5f};
    in->tokens = 0;
    for (int b = 0; b < GB; b++)
        for (int t = 0; t < GL; t++) {
            int n = b * GL + t;
            in->m[n] = (t >= prompt[b] && t < len[b]) ? 1.0f : 0.0f;
            in->y[n] = in->m[n] > 0 ? (int32_t)tr_rng_below(&rng, GV) : -1;
            in->adv[n] = A[b];
            in->tokens += in->m[n];
        }
    tr_err err = {{0}};
    CHECK(tr_token_logprobs(in->lp, NULL, in->z, in->y, in->m, GN, GV, T, &err) == 0);
    for (int n = 0; n < GN; n++) {
        in->old[n] = (float)(in->lp[n] + old_noise * tr_rng_normal(&rng));
        in->ref[n] = (float)(in->lp[n] + 0.3 * tr_rng_normal(&rng));
    }
}

static void grpo_case(const grpo_inputs *in, tr_grpo_params p, int use_old, int use_ref) {
    expect *e;
    cJSON *c = new_case("grpo", &e);
    cJSON_AddNumberToObject(c, "B", GB);
    cJSON_AddNumberToObject(c, "L", GL);
    cJSON_AddNumberToObject(c, "V", GV);
    cJSON_AddNumberToObject(c, "T", p.temperature);
    cJSON_AddNumberToObject(c, "eps_low", p.eps_low);
    cJSON_AddNumberToObject(c, "eps_high", p.eps_high);
    cJSON_AddNumberToObject(c, "beta", p.beta);
    cJSON_AddStringToObject(c, "agg", tr_grpo_agg_name(p.agg));
    cJSON_AddNumberToObject(c, "G", (double)p.num_sequences);
    cJSON_AddNumberToObject(c, "Lmax", (double)p.max_completion_len);
    cJSON_AddNumberToObject(c, "num_tokens", p.num_tokens);
    add_file(c, "logits", in->z, sizeof in->z, 0);
    add_file(c, "targets", in->y, sizeof in->y, 1);
    add_file(c, "mask", in->m, sizeof in->m, 0);
    add_file(c, "adv", in->adv, sizeof in->adv, 0);
    if (use_old) add_file(c, "old", in->old, sizeof in->old, 0);
    if (use_ref) add_file(c, "ref", in->ref, sizeof in->ref, 0);
    e->type = 2;
    e->n_grad = GN * GV;
    e->grad = malloc(sizeof(float) * GN * GV);
    tr_grpo_stats st;
    tr_err err = {{0}};
    int rc = tr_grpo_loss(e->grad, &e->loss[0], &st, in->z, in->y, in->m, in->adv,
                          use_old ? in->old : NULL, use_ref ? in->ref : NULL, GB, GL, GV, &p,
                          &err);
    CHECK_MSG(rc == 0, "%s: %s", e->name, err.msg);
    e->n_loss = 1;
    e->stats[0] = st.tokens;
    e->stats[1] = st.kl_sum;
    e->stats[2] = st.ratio_sum;
    e->stats[3] = st.clip_low_sum;
    e->stats[4] = st.clip_high_sum;
    e->stats[5] = st.entropy_sum;
}

static void logprobs_case(const grpo_inputs *in, double T) {
    expect *e;
    cJSON *c = new_case("logprobs", &e);
    int32_t y[GN];
    for (int n = 0; n < GN; n++) y[n] = (int32_t)((n * 7) % GV);
    cJSON_AddNumberToObject(c, "N", GN);
    cJSON_AddNumberToObject(c, "V", GV);
    cJSON_AddNumberToObject(c, "T", T);
    add_file(c, "logits", in->z, sizeof in->z, 0);
    add_file(c, "targets", y, sizeof y, 1);
    e->type = 3;
    e->n_vals = GN;
    e->vals = malloc(sizeof(float) * GN);
    e->vals2 = malloc(sizeof(float) * GN);
    tr_err err = {{0}};
    CHECK(tr_token_logprobs(e->vals, e->vals2, in->z, y, NULL, GN, GV, T, &err) == 0);
}

static void adv_case(tr_adv_scale scale, const char *sname) {
    enum { G = 6, S = 5 };
    float r[G * S];
    tr_rng rng;
    tr_rng_seed(&rng, 99);
    for (int i = 0; i < G * S; i++) r[i] = (float)(tr_rng_below(&rng, 2) + 0.1 * tr_rng_below(&rng, 2));
    for (int i = 0; i < S; i++) r[1 * S + i] = 1.0f; /* all correct: zero variance */
    for (int i = 0; i < S; i++) r[4 * S + i] = 0.1f; /* all wrong but well formed */
    expect *e;
    cJSON *c = new_case("adv", &e);
    cJSON_AddNumberToObject(c, "groups", G);
    cJSON_AddNumberToObject(c, "size", S);
    cJSON_AddNumberToObject(c, "eps", 1e-4);
    cJSON_AddStringToObject(c, "scale", sname);
    add_file(c, "rewards", r, sizeof r, 0);
    e->type = 4;
    e->n_vals = G * S;
    e->vals = malloc(sizeof(float) * G * S);
    tr_err err = {{0}};
    CHECK(tr_grpo_advantages(e->vals, &e->extra, r, G, S, scale, 1e-4, &err) == 0);
}

/* ---- the cases ------------------------------------------------------------------- */

static void build_cases(void) {
    kd_inputs in, in_plain;
    make_kd_inputs(&in, 1234, 1);
    make_kd_inputs(&in_plain, 777, 0);
    const double temps[] = {0.05, 0.5, 1.0, 2.0, 10.0};
    const double betas[] = {0.0, 0.1, 0.5, 0.9, 1.0};
    const tr_kd_div plain[] = {TR_KD_FKL, TR_KD_RKL, TR_KD_TVD};
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 5; k++) {
            tr_kd_params p = tr_kd_default_params();
            p.div = plain[d];
            p.temperature = temps[k];
            kd_case(&in, p, 0, KLD);
        }
    for (int b = 0; b < 5; b++)
        for (int k = 0; k < 5; k++) {
            tr_kd_params p = tr_kd_default_params();
            p.div = TR_KD_JSD;
            p.beta = betas[b];
            p.temperature = temps[k];
            kd_case(&in, p, 0, KLD);
        }
    const double skews[] = {0.0, 0.1, 0.5, 1.0};
    for (int s = 0; s < 4; s++)
        for (int k = 0; k < 5; k += 2) {
            tr_kd_params p = tr_kd_default_params();
            p.skew = skews[s];
            p.temperature = temps[k];
            p.div = TR_KD_SKL;
            kd_case(&in, p, 0, KLD);
            p.div = TR_KD_SRKL;
            kd_case(&in, p, 0, KLD);
        }
    /* no T^2, teacher without padding columns, no -inf */
    {
        tr_kd_params p = tr_kd_default_params();
        p.temperature = 2.0;
        p.scale_t2 = 0;
        kd_case(&in, p, 0, KV);
        p.div = TR_KD_JSD;
        p.beta = 0.5;
        kd_case(&in_plain, p, 0, KLD);
    }
    /* CE mix */
    const double alphas[] = {0.3, 0.5, 1.0};
    for (int a = 0; a < 3; a++) {
        tr_kd_params p = tr_kd_default_params();
        p.ce_alpha = alphas[a];
        p.temperature = 2.0;
        kd_case(&in, p, 0, KLD);
        p.div = TR_KD_JSD;
        p.beta = 0.9;
        p.temperature = 1.0;
        kd_case(&in, p, 0, KLD);
    }
    /* sparse top-K */
    const int ks[] = {1, 5, KV};
    const tr_kd_div all[] = {TR_KD_FKL, TR_KD_RKL, TR_KD_JSD, TR_KD_SKL, TR_KD_SRKL, TR_KD_TVD};
    for (int k = 0; k < 3; k++)
        for (int d = 0; d < 6; d++) {
            tr_kd_params p = tr_kd_default_params();
            p.div = all[d];
            p.temperature = 2.0;
            kd_case(&in, p, ks[k], KLD);
            p.temperature = 0.5;
            kd_case(&in_plain, p, ks[k], KLD);
        }
    {
        tr_kd_params p = tr_kd_default_params();
        p.temperature = 1.0;
        p.ce_alpha = 0.5;
        kd_case(&in, p, 5, KLD);
        p.ce_alpha = 0.0;
        p.div = TR_KD_JSD;
        p.beta = 0.1;
        p.temperature = 0.05;
        kd_case(&in, p, 5, KLD);
    }
    topk_case(&in, 1, 1.0);
    topk_case(&in, 5, 2.0);
    topk_case(&in_plain, KV, 0.5);

    /* GRPO: each aggregation x clipping active/inactive x KL on/off */
    grpo_inputs active, calm;
    make_grpo_inputs(&active, 5, 1.0, 0.5);
    make_grpo_inputs(&calm, 6, 1.0, 0.01);
    const tr_grpo_agg aggs[] = {TR_GRPO_AGG_GRPO, TR_GRPO_AGG_DR_GRPO, TR_GRPO_AGG_DAPO};
    for (int a = 0; a < 3; a++)
        for (int clip = 0; clip < 2; clip++)
            for (int kl = 0; kl < 2; kl++) {
                tr_grpo_params p = tr_grpo_default_params();
                p.agg = aggs[a];
                p.num_sequences = GB + 2; /* the global counts include other micro-batches */
                p.max_completion_len = 8;
                const grpo_inputs *g = clip ? &active : &calm;
                p.num_tokens = g->tokens + 5;
                p.beta = kl ? 0.04 : 0.0;
                grpo_case(g, p, 1, kl);
            }
    {
        grpo_inputs warm;
        make_grpo_inputs(&warm, 7, 0.7, 0.3);
        tr_grpo_params p = tr_grpo_default_params();
        p.temperature = 0.7;
        p.eps_low = 0.2;
        p.eps_high = 0.28; /* DAPO's asymmetric clip */
        p.agg = TR_GRPO_AGG_DAPO;
        p.num_tokens = warm.tokens;
        p.beta = 0.1;
        grpo_case(&warm, p, 1, 1);
        p.agg = TR_GRPO_AGG_GRPO;
        p.num_sequences = GB;
        grpo_case(&warm, p, 0, 1); /* on-policy: old = logp */
        p.beta = 0.0;
        grpo_case(&warm, p, 1, 1); /* reference given but beta 0: KL reported, not trained */
        logprobs_case(&warm, 0.7);
        logprobs_case(&warm, 1.0);
    }
    adv_case(TR_ADV_SCALE_GROUP, "group");
    adv_case(TR_ADV_SCALE_BATCH, "batch");
    adv_case(TR_ADV_SCALE_NONE, "none");
}

static void compare(void) {
    for (int i = 0; i < g_n; i++) {
        expect *e = &g_exp[i];
        if (e->type == 0 || e->type == 2) {
            double *l = read_f64(e->name, "loss", (size_t)e->n_loss);
            const char *what[] = {"loss", "ce loss", "kd loss"};
            for (int k = 0; k < e->n_loss; k++) cmp_scalar(e->name, what[k], e->loss[k], l[k], 1e-9);
            double *g = read_f64(e->name, "grad", e->n_grad);
            cmp_array(e->name, "dlogits", e->grad, g, e->n_grad);
            free(l);
            free(g);
            if (e->type == 2) {
                double *s = read_f64(e->name, "stats", 6);
                const char *sn[] = {"tokens", "kl_sum", "ratio_sum", "clip_low", "clip_high",
                                    "entropy_sum"};
                for (int k = 0; k < 6; k++) cmp_scalar(e->name, sn[k], e->stats[k], s[k], 1e-9);
                free(s);
            }
            free(e->grad);
        } else if (e->type == 1) {
            size_t n = KN * e->n_vals;
            int64_t *ids = read_i64(e->name, "ids", n);
            double *lp = read_f64(e->name, "lp", n);
            double *rest = read_f64(e->name, "rest", KN);
            /* the order of tied entries (masked -inf ones) is arbitrary in torch.topk */
            int same = 1;
            for (size_t k = 0; k < n; k++) same &= ids[k] == e->ids[k] || isinf(lp[k]);
            CHECK_MSG(same, "%s: top-K ids differ from torch.topk", e->name);
            cmp_array(e->name, "logprobs", e->vals, lp, n);
            for (int r = 0; r < KN; r++) {
                if (isinf(rest[r]))
                    CHECK_MSG(isinf(e->vals2[r]) && e->vals2[r] < 0, "%s: row %d rest should be -inf",
                              e->name, r);
                else
                    cmp_scalar(e->name, "rest", e->vals2[r], rest[r], 1e-6);
            }
            free(ids);
            free(lp);
            free(rest);
            free(e->ids);
            free(e->vals);
            free(e->vals2);
        } else if (e->type == 3) {
            double *lp = read_f64(e->name, "logp", e->n_vals);
            double *ent = read_f64(e->name, "entropy", e->n_vals);
            cmp_array(e->name, "logp", e->vals, lp, e->n_vals);
            cmp_array(e->name, "entropy", e->vals2, ent, e->n_vals);
            free(lp);
            free(ent);
            free(e->vals);
            free(e->vals2);
        } else if (e->type == 4) {
            double *a = read_f64(e->name, "adv", e->n_vals);
            double *z = read_f64(e->name, "zero", 1);
            cmp_array(e->name, "advantages", e->vals, a, e->n_vals);
            cmp_scalar(e->name, "zero-std fraction", e->extra, z[0], 1e-9);
            free(a);
            free(z);
            free(e->vals);
        }
    }
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/tinyr1_parity_objectives_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    cJSON *root = cJSON_CreateObject();
    g_cases = cJSON_AddArrayToObject(root, "cases");
    build_cases();
    char *json = cJSON_Print(root);
    write_raw("manifest.json", json, strlen(json));
    free(json);
    cJSON_Delete(root);

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s/ref_objectives.py %s", TR_PYTHON, TR_TESTS_DIR, g_dir);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "parity_objectives: the PyTorch oracle failed (%s exited %d); inputs kept "
                        "in %s\n",
                cmd, rc, g_dir);
        return 1;
    }
    compare();
    printf("parity_objectives: %d cases, worst relative error %.3g (tolerance %g)\n", g_n, g_worst,
           TOL);
    if (tu_failures == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    } else {
        fprintf(stderr, "inputs and oracle outputs kept in %s\n", g_dir);
    }
    return tu_finish("parity_objectives");
}
