/* The sampler: statistics over many draws with fixed seeds (chi-square goodness of fit of
 * temperature sampling against the softmax computed here in double; top-k, top-p and min-p
 * never emit excluded tokens and sample the renormalised rest), greedy ties, the repetition
 * penalty by hand, log-probabilities, the caller's logits untouched, one draw per call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { NDRAW = 100000 };

/* p[i] = softmax(logits / T)[i], in double */
static void softmax_d(double *p, const float *logits, int V, double T) {
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < V; i++) mx = logits[i] / T > mx ? logits[i] / T : mx;
    for (int i = 0; i < V; i++) s += (p[i] = exp(logits[i] / T - mx));
    for (int i = 0; i < V; i++) p[i] /= s;
}

/* Pearson chi-square of counts against probabilities p (restricted to p > 0); counts at
 * p == 0 are returned in *forbidden. df = (number of p > 0) - 1. */
static double chi_square(const long *count, const double *p, int V, long n, long *forbidden,
                         int *df) {
    double chi = 0;
    *forbidden = 0;
    *df = -1;
    for (int i = 0; i < V; i++) {
        if (p[i] <= 0) {
            *forbidden += count[i];
            continue;
        }
        double e = p[i] * n;
        chi += (count[i] - e) * (count[i] - e) / e;
        (*df)++;
    }
    return chi;
}

/* Upper 0.1% points of the chi-square distribution (tables), df 1..9. */
static double chi_crit(int df) {
    static const double q[10] = {0,      10.828, 13.816, 16.266, 18.467,
                                 20.515, 22.458, 24.322, 26.124, 27.877};
    return df >= 1 && df <= 9 ? q[df] : 0;
}

static const float L10[10] = {2.0f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, 1.5f, 0.2f, -2.0f, 0.8f};

static void draw(tr_sampler *s, const float *logits, int V, uint64_t seed, long *count) {
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    memset(count, 0, sizeof(long) * V);
    for (int i = 0; i < NDRAW; i++) {
        int32_t t = tr_sampler_sample(s, logits, NULL, 0, &rng, NULL);
        if (t >= 0 && t < V) count[t]++;
    }
}

static void check_fit(const char *label, tr_sampler_params p, const double *want) {
    tr_err err;
    tr_sampler s;
    CHECK(tr_sampler_init(&s, 10, &p, &err) == 0);
    long count[10], forbidden;
    int df;
    draw(&s, L10, 10, 1234, count);
    double chi = chi_square(count, want, 10, NDRAW, &forbidden, &df);
    CHECK_MSG(forbidden == 0, "%s: %ld draws of excluded tokens", label, forbidden);
    CHECK_MSG(chi < chi_crit(df), "%s: chi-square %.2f with %d df (0.1%% point %.2f)", label, chi,
              df, chi_crit(df));
    tr_sampler_free(&s);
}

static void test_distributions(void) {
    double p[10], want[10];
    tr_sampler_params sp = tr_sampler_default_params();

    /* temperature 1: the softmax */
    softmax_d(want, L10, 10, 1.0);
    check_fit("temperature 1", sp, want);
    /* temperature 0.5 */
    sp.temperature = 0.5f;
    softmax_d(want, L10, 10, 0.5);
    check_fit("temperature 0.5", sp, want);

    /* top-k 3 at temperature 1: ids 0 (2.0), 6 (1.5), 1 (1.0), renormalised */
    sp = tr_sampler_default_params();
    sp.top_k = 3;
    softmax_d(p, L10, 10, 1.0);
    memset(want, 0, sizeof want);
    double z = p[0] + p[6] + p[1];
    want[0] = p[0] / z, want[6] = p[6] / z, want[1] = p[1] / z;
    check_fit("top-k 3", sp, want);

    /* top-p 0.6: sorted probabilities of L10 are p0 .3390, p6 .2056, p1 .1247, p9 .1021 ...
     * (exp(l) / 21.795); the nucleus is the shortest prefix reaching 0.6 */
    sp = tr_sampler_default_params();
    sp.top_p = 0.6f;
    softmax_d(p, L10, 10, 1.0);
    int order[10] = {0, 6, 1, 9, 2, 7, 3, 4, 5, 8}; /* L10 sorted by value, by hand */
    double cum = 0;
    int keep = 0;
    while (cum < 0.6) cum += p[order[keep++]];
    CHECK(keep == 3); /* .3390 + .2056 = .5446 < .6; + .1247 = .6693 */
    memset(want, 0, sizeof want);
    for (int i = 0; i < keep; i++) want[order[i]] = p[order[i]] / cum;
    check_fit("top-p 0.6", sp, want);

    /* temperature 0.6 then top-p 0.95 (R1's evaluation): the nucleus of the tempered
     * distribution */
    sp = tr_sampler_default_params();
    sp.temperature = 0.6f;
    sp.top_p = 0.95f;
    softmax_d(p, L10, 10, 0.6);
    cum = 0, keep = 0;
    while (cum < 0.95) cum += p[order[keep++]];
    memset(want, 0, sizeof want);
    for (int i = 0; i < keep; i++) want[order[i]] = p[order[i]] / cum;
    check_fit("temperature 0.6 + top-p 0.95", sp, want);

    /* min-p 0.3: keep p >= 0.3 * p_max: exp(l - 2) >= 0.3 <=> l >= 2 + ln 0.3 = 0.796:
     * ids 0, 6, 1, 9 (0.8) */
    sp = tr_sampler_default_params();
    sp.min_p = 0.3f;
    softmax_d(p, L10, 10, 1.0);
    memset(want, 0, sizeof want);
    z = p[0] + p[6] + p[1] + p[9];
    want[0] = p[0] / z, want[6] = p[6] / z, want[1] = p[1] / z, want[9] = p[9] / z;
    check_fit("min-p 0.3", sp, want);
}

/* A large vocabulary exercises top-p's pre-filter and top-k's selection: every draw must
 * lie in the set computed here by a full sort. */
static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void test_large_vocab_sets(void) {
    enum { V = 5000 };
    float *lg = malloc(sizeof(float) * V);
    double *p = malloc(sizeof(double) * V), *sorted = malloc(sizeof(double) * V);
    tr_rng rng;
    tr_rng_seed(&rng, 77);
    for (int i = 0; i < V; i++) lg[i] = 3.0f * tr_rng_normal(&rng);
    softmax_d(p, lg, V, 1.0);
    memcpy(sorted, p, sizeof(double) * V);
    qsort(sorted, V, sizeof(double), cmp_desc);
    /* top-p 0.9: threshold probability = the last one of the nucleus */
    double cum = 0, thr_p = 0;
    for (int i = 0; i < V && cum < 0.9; i++) cum += (thr_p = sorted[i]);
    /* top-k 50 */
    double thr_k = sorted[49];

    tr_err err;
    tr_sampler sp, sk;
    tr_sampler_params a = tr_sampler_default_params(), b = a;
    a.top_p = 0.9f;
    b.top_k = 50;
    CHECK(tr_sampler_init(&sp, V, &a, &err) == 0);
    CHECK(tr_sampler_init(&sk, V, &b, &err) == 0);
    long bad_p = 0, bad_k = 0;
    tr_rng r;
    tr_rng_seed(&r, 5);
    for (int i = 0; i < 4000; i++) {
        tr_sample_info info;
        int32_t t = tr_sampler_sample(&sp, lg, NULL, 0, &r, &info);
        bad_p += p[t] < thr_p;
        t = tr_sampler_sample(&sk, lg, NULL, 0, &r, &info);
        bad_k += p[t] < thr_k;
        CHECK(info.n_candidates == 50);
    }
    CHECK_MSG(bad_p == 0, "top-p emitted %ld tokens outside the nucleus", bad_p);
    CHECK_MSG(bad_k == 0, "top-k emitted %ld tokens outside the top 50", bad_k);
    tr_sampler_free(&sp);
    tr_sampler_free(&sk);
    free(lg), free(p), free(sorted);
}

static void test_greedy_logprobs_and_purity(void) {
    tr_err err;
    tr_sampler s;
    tr_sampler_params p = tr_sampler_default_params();
    p.temperature = 0.0f;
    CHECK(tr_sampler_init(&s, 6, &p, &err) == 0);
    CHECK(tr_sampler_is_greedy(&s));
    float lg[6] = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f, 0.0f}, copy[6];
    memcpy(copy, lg, sizeof lg);
    tr_rng rng, before;
    tr_rng_seed(&rng, 9);
    before = rng;
    tr_sample_info info;
    CHECK(tr_sampler_sample(&s, lg, NULL, 0, &rng, &info) == 1); /* tie 1 vs 3: lowest id */
    CHECK(memcmp(&rng, &before, sizeof rng) == 0);               /* greedy draws nothing */
    CHECK(info.logprob == 0.0f);
    double z = exp(0.5) + 2 * exp(3.0) + exp(-1.0) + exp(2.0) + exp(0.0);
    CHECK_CLOSE(info.logprob_model, 3.0 - log(z), 1e-6, 1e-6);
    CHECK(memcmp(lg, copy, sizeof lg) == 0);
    tr_sampler_free(&s);

    /* temperature 2 + top-k 2: candidates 1 and 3 (equal), each 1/2 */
    p = tr_sampler_default_params();
    p.temperature = 2.0f;
    p.top_k = 2;
    CHECK(tr_sampler_init(&s, 6, &p, &err) == 0);
    int32_t t = tr_sampler_sample(&s, lg, NULL, 0, &rng, &info);
    CHECK(t == 1 || t == 3);
    CHECK_CLOSE(info.logprob, log(0.5), 1e-6, 1e-6);
    CHECK_CLOSE(info.logprob_model, 3.0 - log(z), 1e-6, 1e-6);
    CHECK(memcmp(lg, copy, sizeof lg) == 0);
    /* exactly one uniform per call */
    tr_rng r2 = rng;
    tr_rng_uniform_double(&r2);
    tr_sampler_sample(&s, lg, NULL, 0, &rng, NULL);
    CHECK(memcmp(&rng, &r2, sizeof rng) == 0);
    tr_sampler_free(&s);

    /* temperature 1 without stages: logprob equals the model's */
    p = tr_sampler_default_params();
    CHECK(tr_sampler_init(&s, 6, &p, &err) == 0);
    t = tr_sampler_sample(&s, lg, NULL, 0, &rng, &info);
    CHECK_CLOSE(info.logprob, info.logprob_model, 1e-6, 1e-6);
    CHECK(info.n_candidates == 6);
    tr_sampler_free(&s);
}

static void test_repetition(void) {
    tr_err err;
    tr_sampler s;
    tr_sampler_params p = tr_sampler_default_params();
    p.temperature = 0.0f;
    p.repetition_penalty = 2.0f;
    CHECK(tr_sampler_init(&s, 3, &p, &err) == 0);
    float lg[3] = {2.0f, -1.0f, 0.5f};
    int32_t hist[2] = {0, 1};
    tr_rng rng;
    tr_rng_seed(&rng, 1);
    /* penalised: 2/2 = 1 > 0.5: still token 0 */
    CHECK(tr_sampler_sample(&s, lg, hist, 2, &rng, NULL) == 0);
    tr_sampler_free(&s);
    p.repetition_penalty = 5.0f; /* 2/5 = 0.4 < 0.5: token 2 */
    CHECK(tr_sampler_init(&s, 3, &p, &err) == 0);
    CHECK(tr_sampler_sample(&s, lg, hist, 2, &rng, NULL) == 2);
    /* window 1: only the last token (1) is penalised: token 0 wins again */
    tr_sampler_free(&s);
    p.repetition_window = 1;
    CHECK(tr_sampler_init(&s, 3, &p, &err) == 0);
    CHECK(tr_sampler_sample(&s, lg, hist, 2, &rng, NULL) == 0);
    /* negative logits are multiplied: make token 1 the only candidate of interest */
    float lg2[3] = {-0.1f, -0.3f, -0.2f};
    int32_t h0 = 0;
    /* token 0: -0.1 * 5 = -0.5 < -0.2: token 2 */
    tr_sampler_free(&s);
    p.repetition_window = 0;
    CHECK(tr_sampler_init(&s, 3, &p, &err) == 0);
    CHECK(tr_sampler_sample(&s, lg2, &h0, 1, &rng, NULL) == 2);
    CHECK(lg2[0] == -0.1f);
    tr_sampler_free(&s);
}

static void test_refusals(void) {
    tr_err err;
    tr_sampler s;
    tr_sampler_params p = tr_sampler_default_params();
    p.top_p = 0.0f;
    CHECK(tr_sampler_init(&s, 4, &p, &err) == -1);
    p = tr_sampler_default_params();
    p.temperature = -1.0f;
    CHECK(tr_sampler_init(&s, 4, &p, &err) == -1);
    p = tr_sampler_default_params();
    p.min_p = 1.5f;
    CHECK(tr_sampler_init(&s, 4, &p, &err) == -1);
    p = tr_sampler_default_params();
    p.repetition_penalty = 0.0f;
    CHECK(tr_sampler_init(&s, 4, &p, &err) == -1);
    CHECK(tr_sampler_init_empty(&s, 4, &err) == 0);
    CHECK(tr_sampler_add(&s, (tr_sampler_stage){TR_STAGE_TEMPERATURE, 0.7f, 0}, &err) == 0);
    CHECK(tr_sampler_add(&s, (tr_sampler_stage){TR_STAGE_REPETITION, 1.2f, 0}, &err) == -1);
    CHECK(strstr(err.msg, "first") != NULL);
    CHECK(tr_sampler_add(&s, (tr_sampler_stage){TR_STAGE_TOP_K, 0, 0}, &err) == -1);
    tr_sampler_free(&s);
}

int main(void) {
    test_distributions();
    test_large_vocab_sets();
    test_greedy_logprobs_and_purity();
    test_repetition();
    test_refusals();
    return tu_finish("test_sampler");
}
