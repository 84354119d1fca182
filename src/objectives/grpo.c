/* GRPO objective (DeepSeek-R1) with the grpo / dr_grpo / dapo aggregations, the per-token
 * log-prob helper and group-relative advantages. Formulas: include/tinyr1/objectives.h and
 * docs/objectives.md.
 *
 * Legend: B sequences, L positions each, V vocabulary, n = b*L + t a position,
 * s = z/T the scaled logits, y the sampled token, m the completion weight. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "objectives/fastmath.h"
#include "tinyr1/objectives.h"

tr_grpo_params tr_grpo_default_params(void) {
    tr_grpo_params p;
    memset(&p, 0, sizeof p);
    p.eps_low = 0.2;
    p.eps_high = 0.2;
    p.beta = 0.0;
    p.temperature = 1.0;
    p.agg = TR_GRPO_AGG_GRPO;
    return p;
}

static const char *const agg_names[] = {"grpo", "dr_grpo", "dapo"};

const char *tr_grpo_agg_name(tr_grpo_agg agg) {
    if ((int)agg < 0 || (int)agg > (int)TR_GRPO_AGG_DAPO) return "?";
    return agg_names[agg];
}

int tr_grpo_agg_parse(tr_grpo_agg *agg, const char *name, tr_err *err) {
    for (int i = 0; i < 3; i++) {
        if (name && strcmp(name, agg_names[i]) == 0) {
            *agg = (tr_grpo_agg)i;
            return 0;
        }
    }
    return tr_fail(err, "grpo: unknown aggregation '%s', expected grpo, dr_grpo or dapo",
                   name ? name : "(null)");
}

static void stats_means(tr_grpo_stats *s) {
    double t = s->tokens > 0 ? s->tokens : 1.0;
    s->mean_kl = s->kl_sum / t;
    s->mean_ratio = s->ratio_sum / t;
    s->clip_low_frac = s->clip_low_sum / t;
    s->clip_high_frac = s->clip_high_sum / t;
    s->mean_entropy = s->entropy_sum / t;
}

void tr_grpo_stats_merge(tr_grpo_stats *dst, const tr_grpo_stats *src) {
    dst->tokens += src->tokens;
    dst->kl_sum += src->kl_sum;
    dst->ratio_sum += src->ratio_sum;
    dst->clip_low_sum += src->clip_low_sum;
    dst->clip_high_sum += src->clip_high_sum;
    dst->entropy_sum += src->entropy_sum;
    stats_means(dst);
}

/* One row: e[i] = exp(s_i - max) into scratch; returns log softmax(s)[y] and the entropy. */
static void row_softmax(double *logp, double *entropy, double *zsum, const float *z, int V,
                        int y, double inv_t, double *e) {
    double mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int i = 0; i < V; i++) {
        double s = (double)z[i] * inv_t;
        mx = s > mx ? s : mx;
    }
    double Z = 0, S = 0;
#pragma omp simd reduction(+ : Z, S)
    for (int i = 0; i < V; i++) {
        double d = (double)z[i] * inv_t - mx;
        double ei = tr_fast_exp(d);
        e[i] = ei;
        Z += ei;
        S += ei * tr_fast_floor(d, -1e300); /* 0 * (-inf) would be NaN */
    }
    const double lz = log(Z);
    *logp = (double)z[y] * inv_t - mx - lz;
    *entropy = lz - S / Z; /* -sum q log q with log q = d - log Z */
    *zsum = Z;
}

static int check_weights(const float *m, int64_t N, const char *what, tr_err *err) {
    for (int64_t n = 0; n < N; n++)
        if (!(m[n] >= 0) || !isfinite(m[n]))
            return tr_fail(err, "%s[%lld] = %g, expected finite and >= 0", what, (long long)n,
                           (double)m[n]);
    return 0;
}

int tr_grpo_loss(float *dlogits, double *loss, tr_grpo_stats *stats, const float *logits,
                 const int32_t *targets, const float *mask, const float *advantages,
                 const float *old_logp, const float *ref_logp, int64_t B, int64_t L, int V,
                 const tr_grpo_params *p, tr_err *err) {
    return tr_grpo_loss_rows(dlogits, loss, stats, logits, 0, B * L, targets, mask, advantages,
                             old_logp, ref_logp, B, L, V, p, err);
}

int tr_grpo_loss_rows(float *dlogits, double *loss, tr_grpo_stats *stats, const float *logits,
                      int64_t r0, int64_t nr, const int32_t *targets, const float *mask,
                      const float *advantages, const float *old_logp, const float *ref_logp,
                      int64_t B, int64_t L, int V, const tr_grpo_params *p, tr_err *err) {
    if (!dlogits || !loss || !logits || !targets || !mask || !advantages || !p)
        return tr_fail(err, "grpo: NULL argument");
    *loss = 0;
    if (stats) memset(stats, 0, sizeof *stats);
    if (B < 0 || L <= 0 || V <= 0)
        return tr_fail(err, "grpo: bad shape B = %lld, L = %lld, V = %d", (long long)B,
                       (long long)L, V);
    if (!(p->temperature > 0) || !isfinite(p->temperature))
        return tr_fail(err, "grpo: temperature must be finite and > 0, got %g", p->temperature);
    if (!(p->eps_low >= 0 && p->eps_low <= 1) || !(p->eps_high >= 0) || !isfinite(p->eps_high))
        return tr_fail(err, "grpo: clip range needs 0 <= eps_low <= 1 and eps_high >= 0, got %g, %g",
                       p->eps_low, p->eps_high);
    if (!(p->beta >= 0) || !isfinite(p->beta))
        return tr_fail(err, "grpo: beta must be finite and >= 0, got %g", p->beta);
    if (p->beta > 0 && !ref_logp)
        return tr_fail(err, "grpo: beta = %g > 0 needs the reference log-probs", p->beta);
    double agg_const = 0; /* the per-token factor for dr_grpo and dapo */
    switch (p->agg) {
    case TR_GRPO_AGG_GRPO:
        if (p->num_sequences <= 0)
            return tr_fail(err, "grpo: aggregation grpo needs num_sequences > 0 (sequences of "
                                "the whole accumulated batch)");
        break;
    case TR_GRPO_AGG_DR_GRPO:
        if (p->num_sequences <= 0 || p->max_completion_len <= 0)
            return tr_fail(err, "grpo: aggregation dr_grpo needs num_sequences > 0 and "
                                "max_completion_len > 0");
        agg_const = 1.0 / ((double)p->max_completion_len * (double)p->num_sequences);
        break;
    case TR_GRPO_AGG_DAPO:
        if (!(p->num_tokens > 0) || !isfinite(p->num_tokens))
            return tr_fail(err, "grpo: aggregation dapo needs num_tokens > 0 (completion tokens "
                                "of the whole accumulated batch)");
        agg_const = 1.0 / p->num_tokens;
        break;
    default:
        return tr_fail(err, "grpo: unknown aggregation %d", (int)p->agg);
    }
    const int64_t N = B * L;
    if (r0 < 0 || nr < 0 || r0 + nr > N)
        return tr_fail(err, "grpo: rows [%lld, %lld) outside the batch's %lld", (long long)r0,
                       (long long)(r0 + nr), (long long)N);
    if (nr == 0) return 0;
    /* the sequences the rows touch: grpo's a = 1/(|o_i| G) needs each one's whole mask */
    const int64_t s0 = r0 / L, s1 = (r0 + nr - 1) / L + 1;
    if (check_weights(mask + s0 * L, (s1 - s0) * L, "grpo: mask", err)) return -1;
    for (int64_t n = r0; n < r0 + nr; n++) {
        if (mask[n] == 0) continue;
        if (targets[n] < 0 || targets[n] >= V)
            return tr_fail(err, "grpo: targets[%lld] = %d outside [0, %d) at a completion token",
                           (long long)n, (int)targets[n], V);
        if (!isfinite(advantages[n]) || (old_logp && isnan(old_logp[n])) ||
            (ref_logp && isnan(ref_logp[n])))
            return tr_fail(err, "grpo: position %lld: advantage, old or reference log-prob is "
                                "not a number",
                           (long long)n);
    }
    const double inv_t = 1.0 / p->temperature;
    const double lo = 1.0 - p->eps_low, hi = 1.0 + p->eps_high;
    const int nth = omp_get_max_threads();
    double *scratch = tr_aligned_alloc((size_t)nth * (size_t)V * sizeof(double), err);
    double *part = tr_calloc((size_t)nth * 7, sizeof(double), err);
    double *a_seq = tr_calloc((size_t)(s1 - s0), sizeof(double), err);
    if (!scratch || !part || !a_seq) {
        free(scratch);
        free(part);
        free(a_seq);
        return -1;
    }
    for (int64_t b = s0; b < s1; b++) {
        double len = 0;
        for (int64_t t = 0; t < L; t++) len += mask[b * L + t];
        a_seq[b - s0] = p->agg == TR_GRPO_AGG_GRPO
                            ? (len > 0 ? 1.0 / (len * (double)p->num_sequences) : 0)
                            : agg_const;
    }

#pragma omp parallel
    {
        const int tid = omp_get_thread_num();
        double *e = scratch + (size_t)tid * (size_t)V;
        double acc[7] = {0}; /* loss, tokens, kl, ratio, clip_low, clip_high, entropy */
#pragma omp for schedule(static)
        for (int64_t n = r0; n < r0 + nr; n++) {
            float *d = dlogits + (n - r0) * (int64_t)V;
            const double m = mask[n];
            if (m == 0) {
                memset(d, 0, (size_t)V * sizeof *d);
                continue;
            }
            const float *z = logits + (n - r0) * (int64_t)V;
            const int y = targets[n];
            double lp, ent, Z;
            row_softmax(&lp, &ent, &Z, z, V, y, inv_t, e);
            const double A = advantages[n];
            const double old = old_logp ? (double)old_logp[n] : lp;
            const double rho = exp(lp - old);
            const double clipped = rho < lo ? lo : (rho > hi ? hi : rho);
            const double u1 = rho * A, u2 = clipped * A;
            double ell, g;
            if (u1 <= u2) {
                ell = -u1;
                g = -u1; /* d(rho A)/dlogp = rho A */
            } else {
                ell = -u2;
                g = 0;
            }
            double k3 = 0;
            if (ref_logp) {
                const double dr = (double)ref_logp[n] - lp;
                k3 = expm1(dr) - dr;
                if (p->beta > 0) {
                    ell += p->beta * k3;
                    g += p->beta * (-expm1(dr)); /* d k3 / d logp = 1 - exp(r - logp) */
                }
            }
            const double wgt = m * a_seq[n / L - s0];
            acc[0] += wgt * ell;
            acc[1] += m;
            acc[2] += m * k3;
            acc[3] += m * rho;
            acc[4] += m * (rho < lo && A < 0);
            acc[5] += m * (rho > hi && A > 0);
            acc[6] += m * ent;
            /* dL/dz_i = wgt g (onehot_i - q_i) / T */
            const double c = wgt * g * inv_t, cq = c / Z;
#pragma omp simd
            for (int i = 0; i < V; i++) d[i] = (float)(-cq * e[i]);
            d[y] = (float)(c * (1.0 - e[y] / Z));
        }
        for (int k = 0; k < 7; k++) part[tid * 7 + k] = acc[k];
    }
    double tot[7] = {0};
    for (int i = 0; i < nth; i++)
        for (int k = 0; k < 7; k++) tot[k] += part[i * 7 + k];
    free(scratch);
    free(part);
    free(a_seq);
    *loss = tot[0];
    if (stats) {
        stats->tokens = tot[1];
        stats->kl_sum = tot[2];
        stats->ratio_sum = tot[3];
        stats->clip_low_sum = tot[4];
        stats->clip_high_sum = tot[5];
        stats->entropy_sum = tot[6];
        stats_means(stats);
    }
    return 0;
}

int tr_token_logprobs(float *logp, float *entropy, const float *logits, const int32_t *targets,
                      const float *mask, int64_t N, int V, double temperature, tr_err *err) {
    if (!logp || !logits || !targets) return tr_fail(err, "logprobs: NULL argument");
    if (N < 0 || V <= 0)
        return tr_fail(err, "logprobs: bad shape N = %lld, V = %d", (long long)N, V);
    if (!(temperature > 0) || !isfinite(temperature))
        return tr_fail(err, "logprobs: temperature must be finite and > 0, got %g", temperature);
    for (int64_t n = 0; n < N; n++)
        if ((!mask || mask[n] != 0) && (targets[n] < 0 || targets[n] >= V))
            return tr_fail(err, "logprobs: targets[%lld] = %d outside [0, %d)", (long long)n,
                           (int)targets[n], V);
    const int nth = omp_get_max_threads();
    double *scratch = tr_aligned_alloc((size_t)nth * (size_t)V * sizeof(double), err);
    if (!scratch) return -1;
    const double inv_t = 1.0 / temperature;
#pragma omp parallel
    {
        double *e = scratch + (size_t)omp_get_thread_num() * (size_t)V;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            if (mask && mask[n] == 0) {
                logp[n] = 0;
                if (entropy) entropy[n] = 0;
                continue;
            }
            double lp, ent, Z;
            row_softmax(&lp, &ent, &Z, logits + n * (int64_t)V, V, targets[n], inv_t, e);
            logp[n] = (float)lp;
            if (entropy) entropy[n] = (float)ent;
        }
    }
    free(scratch);
    return 0;
}

int tr_grpo_advantages(float *adv, double *zero_std_frac, const float *rewards,
                       int64_t n_groups, int group_size, tr_adv_scale scale, double eps,
                       tr_err *err) {
    if (!adv || !rewards) return tr_fail(err, "advantages: NULL argument");
    if (n_groups < 0 || group_size < 1)
        return tr_fail(err, "advantages: need n_groups >= 0 and group_size >= 1, got %lld, %d",
                       (long long)n_groups, group_size);
    if (!(eps >= 0) || !isfinite(eps))
        return tr_fail(err, "advantages: eps must be finite and >= 0, got %g", eps);
    if ((int)scale < 0 || (int)scale > (int)TR_ADV_SCALE_NONE)
        return tr_fail(err, "advantages: unknown scaling %d", (int)scale);
    const int64_t n = n_groups * group_size;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(rewards[i]))
            return tr_fail(err, "advantages: rewards[%lld] = %g is not finite", (long long)i,
                           (double)rewards[i]);
    double batch_std = 0;
    if (scale == TR_ADV_SCALE_BATCH && n > 1) {
        double mean = 0, ss = 0;
        for (int64_t i = 0; i < n; i++) mean += rewards[i];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++) ss += (rewards[i] - mean) * (rewards[i] - mean);
        batch_std = sqrt(ss / (double)(n - 1));
    }
    int64_t zero = 0;
    for (int64_t g = 0; g < n_groups; g++) {
        const float *r = rewards + g * group_size;
        double mean = 0, ss = 0;
        float lo = r[0], hi = r[0];
        for (int i = 0; i < group_size; i++) {
            mean += r[i];
            if (r[i] < lo) lo = r[i];
            if (r[i] > hi) hi = r[i];
        }
        mean /= group_size;
        for (int i = 0; i < group_size; i++) ss += (r[i] - mean) * (r[i] - mean);
        if (lo == hi) zero++;
        double denom = 1.0;
        if (scale == TR_ADV_SCALE_GROUP)
            denom = (group_size > 1 ? sqrt(ss / (group_size - 1)) : 0.0) + eps;
        else if (scale == TR_ADV_SCALE_BATCH)
            denom = batch_std + eps;
        for (int i = 0; i < group_size; i++) {
            double a = lo == hi ? 0.0 : (r[i] - mean);
            adv[g * group_size + i] = (float)(denom > 0 ? a / denom : a);
        }
    }
    if (zero_std_frac) *zero_std_frac = n_groups > 0 ? (double)zero / (double)n_groups : 0.0;
    return 0;
}
