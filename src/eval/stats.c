/* Evaluation statistics: pass@k, majority vote, Wilson and bootstrap intervals, the
 * summary and its JSON. Definitions in include/tinyr1/eval.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/eval.h"

double tr_pass_at_k(int n, int c, int k) {
    if (n < 1 || c < 0 || c > n || k < 1 || k > n) return NAN;
    if (n - c < k) return 1.0;
    /* C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i) */
    double prod = 1.0;
    for (int i = n - c + 1; i <= n; i++) prod *= 1.0 - (double)k / i;
    return 1.0 - prod;
}

int tr_majority_vote(const char *const *answers, int n, int *votes) {
    int best = -1, best_votes = 0;
    for (int i = 0; i < n; i++) {
        if (!answers[i] || !answers[i][0]) continue;
        /* count only at an answer's first occurrence (earlier duplicates were counted) */
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (answers[j] && strcmp(answers[j], answers[i]) == 0) first = 0;
        if (!first) continue;
        int v = 0;
        for (int j = i; j < n; j++)
            if (answers[j] && strcmp(answers[j], answers[i]) == 0) v++;
        if (v > best_votes) { /* strictly more: a tie keeps the earlier answer */
            best = i;
            best_votes = v;
        }
    }
    if (votes) *votes = best_votes;
    return best;
}

void tr_wilson_interval(double s, double n, double z, double *lo, double *hi) {
    if (n <= 0) {
        *lo = 0.0;
        *hi = 1.0;
        return;
    }
    double p = s / n, z2 = z * z, den = 1.0 + z2 / n;
    double center = (p + z2 / (2 * n)) / den;
    double half = z / den * sqrt(p * (1 - p) / n + z2 / (4 * n * n));
    *lo = center - half < 0 ? 0 : center - half;
    *hi = center + half > 1 ? 1 : center + half;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

int tr_bootstrap_mean_ci(const double *v, int n, int reps, uint64_t seed, double level, double *lo,
                         double *hi, tr_err *err) {
    if (n < 1 || reps < 2 || !(level > 0 && level < 1))
        return tr_fail(err,
                       "bootstrap: needs n >= 1 (got %d), reps >= 2 (got %d), level in "
                       "(0, 1) (got %g)",
                       n, reps, level);
    double *means = tr_calloc((size_t)reps, sizeof(double), err);
    if (!means) return -1;
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    for (int r = 0; r < reps; r++) {
        double s = 0.0;
        for (int i = 0; i < n; i++) s += v[tr_rng_below(&rng, (uint64_t)n)];
        means[r] = s / n;
    }
    qsort(means, (size_t)reps, sizeof(double), cmp_double);
    double a = (1.0 - level) / 2.0;
    *lo = means[(int)floor(a * (reps - 1))];
    *hi = means[(int)ceil((1.0 - a) * (reps - 1))];
    free(means);
    return 0;
}

static double mean(const double *v, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += v[i];
    return s / n;
}

/* value = mean, [lo, hi] = bootstrap */
static int boot(tr_eval_ci *ci, const double *v, int n, int reps, uint64_t seed, tr_err *err) {
    ci->value = mean(v, n);
    return tr_bootstrap_mean_ci(v, n, reps, seed, 0.95, &ci->lo, &ci->hi, err);
}

int tr_eval_summarize(const tr_eval_problem *p, int n, int reps, uint64_t seed,
                      tr_eval_summary *out, tr_err *err) {
    memset(out, 0, sizeof *out);
    if (n < 1) return tr_fail(err, "eval: no problems to summarise");
    int k = p[0].n_samples;
    for (int i = 0; i < n; i++) {
        if (p[i].n_samples < 1 || p[i].n_correct < 0 || p[i].n_correct > p[i].n_samples)
            return tr_fail(err, "eval: problem %d has %d correct of %d samples", i, p[i].n_correct,
                           p[i].n_samples);
        k = p[i].n_samples < k ? p[i].n_samples : k;
    }
    out->n_problems = n;
    out->k = k;
    double *v = tr_calloc((size_t)n, sizeof(double), err);
    if (!v) return -1;
    int rc = 0;
    /* greedy: Wilson */
    int n_greedy = 0, greedy_ok = 0;
    for (int i = 0; i < n; i++)
        if (p[i].greedy_correct >= 0) n_greedy++, greedy_ok += p[i].greedy_correct;
    if (n_greedy > 0) {
        out->has_greedy = 1;
        out->greedy.value = (double)greedy_ok / n_greedy;
        tr_wilson_interval(greedy_ok, n_greedy, 1.959963984540054, &out->greedy.lo,
                           &out->greedy.hi);
    }
    for (int i = 0; i < n; i++) v[i] = (double)p[i].n_correct / p[i].n_samples;
    rc |= boot(&out->pass1, v, n, reps, seed, err);
    for (int i = 0; i < n; i++) v[i] = tr_pass_at_k(p[i].n_samples, p[i].n_correct, k);
    rc |= boot(&out->pass_k, v, n, reps, seed + 1, err);
    for (int i = 0; i < n; i++) v[i] = p[i].maj_correct ? 1.0 : 0.0;
    rc |= boot(&out->maj_k, v, n, reps, seed + 2, err);
    for (int i = 0; i < n; i++) v[i] = p[i].mean_length;
    rc |= boot(&out->mean_length, v, n, reps, seed + 3, err);
    for (int i = 0; i < n; i++) v[i] = (double)p[i].n_well_formed / p[i].n_samples;
    rc |= boot(&out->well_formed, v, n, reps, seed + 4, err);
    for (int j = 1; j <= k && out->n_pass_at < TR_EVAL_MAX_PASS_AT; j *= 2) {
        for (int i = 0; i < n; i++) v[i] = tr_pass_at_k(p[i].n_samples, p[i].n_correct, j);
        out->pass_at_k[out->n_pass_at] = j;
        out->pass_at[out->n_pass_at++] = mean(v, n);
        if (j * 2 > k && j != k && out->n_pass_at < TR_EVAL_MAX_PASS_AT) {
            for (int i = 0; i < n; i++) v[i] = tr_pass_at_k(p[i].n_samples, p[i].n_correct, k);
            out->pass_at_k[out->n_pass_at] = k;
            out->pass_at[out->n_pass_at++] = mean(v, n);
        }
    }
    free(v);
    return rc ? -1 : 0;
}

static void ci_json(FILE *f, const char *name, const tr_eval_ci *c, int last) {
    fprintf(f, "\"%s\": {\"value\": %.6g, \"lo\": %.6g, \"hi\": %.6g}%s", name, c->value, c->lo,
            c->hi, last ? "" : ", ");
}

void tr_eval_summary_json(FILE *f, const tr_eval_summary *s, const char *extra) {
    fprintf(f, "{");
    if (extra && extra[0]) fprintf(f, "%s, ", extra);
    fprintf(f, "\"n_problems\": %d, \"k\": %d, ", s->n_problems, s->k);
    if (s->has_greedy)
        ci_json(f, "greedy", &s->greedy, 0);
    else
        fprintf(f, "\"greedy\": null, ");
    ci_json(f, "pass@1", &s->pass1, 0);
    char name[32];
    snprintf(name, sizeof name, "pass@%d", s->k);
    if (s->k != 1) ci_json(f, name, &s->pass_k, 0);
    snprintf(name, sizeof name, "maj@%d", s->k);
    ci_json(f, name, &s->maj_k, 0);
    ci_json(f, "mean_length", &s->mean_length, 0);
    ci_json(f, "well_formed", &s->well_formed, 0);
    fprintf(f, "\"pass_at\": {");
    for (int i = 0; i < s->n_pass_at; i++)
        fprintf(f, "%s\"%d\": %.6g", i ? ", " : "", s->pass_at_k[i], s->pass_at[i]);
    fprintf(f,
            "}, \"ci\": \"95%%: Wilson (greedy), percentile bootstrap over problems (others)\"}\n");
}
