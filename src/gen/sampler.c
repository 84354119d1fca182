/* The sampler: a chain of stages over the candidates of one position, then one draw.
 * See include/tinyr1/gen.h for the stages and their order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/gen.h"

tr_sampler_params tr_sampler_default_params(void) {
    tr_sampler_params p = {0};
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repetition_penalty = 1.0f;
    p.repetition_window = 0;
    return p;
}

int tr_sampler_init_empty(tr_sampler *s, int vocab, tr_err *err) {
    memset(s, 0, sizeof *s);
    if (vocab <= 0) return tr_fail(err, "sampler: vocab must be positive, got %d", vocab);
    s->vocab = vocab;
    s->cand = tr_calloc((size_t)vocab, sizeof *s->cand, err);
    s->probs = tr_calloc((size_t)vocab, sizeof *s->probs, err);
    s->seen = tr_calloc((size_t)vocab, 1, err);
    if (!s->cand || !s->probs || !s->seen) {
        tr_sampler_free(s);
        return -1;
    }
    return 0;
}

void tr_sampler_free(tr_sampler *s) {
    free(s->cand);
    free(s->probs);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

int tr_sampler_add(tr_sampler *s, tr_sampler_stage st, tr_err *err) {
    if (s->n_stages >= TR_SAMPLER_MAX_STAGES)
        return tr_fail(err, "sampler: at most %d stages", TR_SAMPLER_MAX_STAGES);
    switch (st.kind) {
    case TR_STAGE_REPETITION:
        if (!(st.value > 0.0f) || st.k < 0)
            return tr_fail(err,
                           "sampler: repetition penalty must be > 0 (got %g) and its "
                           "window >= 0 (got %d)",
                           (double)st.value, st.k);
        if (s->n_stages != 0)
            return tr_fail(err, "sampler: the repetition penalty must be the first stage");
        break;
    case TR_STAGE_TEMPERATURE:
        if (!(st.value > 0.0f) || isinf(st.value))
            return tr_fail(err,
                           "sampler: temperature stage needs T > 0 (got %g; T = 0 is the "
                           "greedy stage)",
                           (double)st.value);
        break;
    case TR_STAGE_TOP_K:
        if (st.k <= 0) return tr_fail(err, "sampler: top-k needs k >= 1, got %d", st.k);
        break;
    case TR_STAGE_TOP_P:
        if (!(st.value > 0.0f && st.value <= 1.0f))
            return tr_fail(err, "sampler: top-p must be in (0, 1], got %g", (double)st.value);
        break;
    case TR_STAGE_MIN_P:
        if (!(st.value >= 0.0f && st.value <= 1.0f))
            return tr_fail(err, "sampler: min-p must be in [0, 1], got %g", (double)st.value);
        break;
    case TR_STAGE_GREEDY:
        break;
    default:
        return tr_fail(err, "sampler: unknown stage kind %d", (int)st.kind);
    }
    s->stages[s->n_stages++] = st;
    return 0;
}

int tr_sampler_init(tr_sampler *s, int vocab, const tr_sampler_params *p, tr_err *err) {
    if (!(p->temperature >= 0.0f) || isinf(p->temperature))
        return tr_fail(err, "sampler: temperature must be >= 0, got %g", (double)p->temperature);
    if (p->top_k < 0) return tr_fail(err, "sampler: top-k must be >= 0, got %d", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return tr_fail(err, "sampler: top-p must be in (0, 1], got %g", (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return tr_fail(err, "sampler: min-p must be in [0, 1], got %g", (double)p->min_p);
    if (!(p->repetition_penalty > 0.0f) || p->repetition_window < 0)
        return tr_fail(err,
                       "sampler: repetition penalty must be > 0 (got %g), window >= 0 (got "
                       "%d)",
                       (double)p->repetition_penalty, p->repetition_window);
    if (tr_sampler_init_empty(s, vocab, err) != 0) return -1;
    int rc = 0;
    if (p->repetition_penalty != 1.0f)
        rc |= tr_sampler_add(
            s, (tr_sampler_stage){TR_STAGE_REPETITION, p->repetition_penalty, p->repetition_window},
            err);
    if (p->temperature == 0.0f) {
        rc |= tr_sampler_add(s, (tr_sampler_stage){TR_STAGE_GREEDY, 0, 0}, err);
    } else {
        if (p->temperature != 1.0f)
            rc |=
                tr_sampler_add(s, (tr_sampler_stage){TR_STAGE_TEMPERATURE, p->temperature, 0}, err);
        if (p->top_k > 0)
            rc |= tr_sampler_add(s, (tr_sampler_stage){TR_STAGE_TOP_K, 0, p->top_k}, err);
        if (p->top_p < 1.0f)
            rc |= tr_sampler_add(s, (tr_sampler_stage){TR_STAGE_TOP_P, p->top_p, 0}, err);
        if (p->min_p > 0.0f)
            rc |= tr_sampler_add(s, (tr_sampler_stage){TR_STAGE_MIN_P, p->min_p, 0}, err);
    }
    if (rc) {
        tr_sampler_free(s);
        return -1;
    }
    return 0;
}

int tr_sampler_is_greedy(const tr_sampler *s) {
    for (int i = 0; i < s->n_stages; i++)
        if (s->stages[i].kind == TR_STAGE_GREEDY) return 1;
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------- */

/* Ordering of candidates: larger logit first, then smaller id (a total order). */
static inline int before(const tr_candidate *a, const tr_candidate *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *pa, const void *pb) {
    const tr_candidate *a = pa, *b = pb;
    return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

/* Moves the k first candidates in `before` order to c[0..k) (unordered): quickselect. */
static void select_top(tr_candidate *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        /* median of three as pivot */
        int mid = lo + (hi - lo) / 2;
        tr_candidate a = c[lo], b = c[mid], d = c[hi], piv;
        if (before(&a, &b))
            piv = before(&b, &d) ? b : (before(&a, &d) ? d : a);
        else
            piv = before(&a, &d) ? a : (before(&b, &d) ? d : b);
        int i = lo, j = hi;
        while (i <= j) {
            while (before(&c[i], &piv)) i++;
            while (before(&piv, &c[j])) j--;
            if (i <= j) {
                tr_candidate t = c[i];
                c[i] = c[j];
                c[j] = t;
                i++;
                j--;
            }
        }
        /* [lo, j] precede-or-equal the pivot, [i, hi] follow-or-equal it */
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
}

/* probs[i] = softmax(c[0..n).logit)[i] in double; returns log of the normaliser relative to
 * the max: log sum exp(l - max), with *mx the max. */
static double softmax(const tr_candidate *c, int n, double *probs, double *mx_out) {
    double mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (c[i].logit > mx) mx = c[i].logit;
    if (mx == -INFINITY) mx = 0.0; /* all -inf: every exp is 0, handled below */
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (probs[i] = exp((double)c[i].logit - mx));
    if (!(sum > 0.0)) { /* degenerate: uniform */
        for (int i = 0; i < n; i++) probs[i] = 1.0 / n;
        *mx_out = mx;
        return log((double)n);
    }
    for (int i = 0; i < n; i++) probs[i] /= sum;
    *mx_out = mx;
    return log(sum);
}

float tr_logprob(const float *logits, int V, int32_t token) {
    double mx = -INFINITY, sum = 0.0;
    for (int i = 0; i < V; i++)
        if (logits[i] > mx) mx = logits[i];
    for (int i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
    return (float)((double)logits[token] - mx - log(sum));
}

/* ---- sampling -------------------------------------------------------------------------- */

int32_t tr_sampler_sample(tr_sampler *s, const float *logits, const int32_t *history, int n_history,
                          tr_rng *rng, tr_sample_info *info) {
    const int V = s->vocab;
    tr_candidate *c = s->cand;
    double *pr = s->probs, mx;
    int n = V, sorted = 0, greedy = 0;
    for (int i = 0; i < V; i++) {
        c[i].logit = logits[i];
        c[i].id = i;
    }
    for (int si = 0; si < s->n_stages; si++) {
        const tr_sampler_stage *st = &s->stages[si];
        switch (st->kind) {
        case TR_STAGE_REPETITION: {
            int from = st->k > 0 && n_history > st->k ? n_history - st->k : 0;
            for (int i = from; i < n_history; i++)
                if (history[i] >= 0 && history[i] < V) s->seen[history[i]] = 1;
            for (int i = 0; i < n; i++)
                if (s->seen[c[i].id])
                    c[i].logit = c[i].logit > 0 ? c[i].logit / st->value : c[i].logit * st->value;
            for (int i = from; i < n_history; i++)
                if (history[i] >= 0 && history[i] < V) s->seen[history[i]] = 0;
            break;
        }
        case TR_STAGE_TEMPERATURE:
            for (int i = 0; i < n; i++) c[i].logit /= st->value;
            break;
        case TR_STAGE_TOP_K:
            if (st->k < n) {
                select_top(c, n, st->k);
                n = st->k;
            }
            qsort(c, (size_t)n, sizeof *c, cmp_cand);
            sorted = 1;
            break;
        case TR_STAGE_TOP_P: {
            if (st->value >= 1.0f || n == 1) break;
            double lse = softmax(c, n, pr, &mx);
            if (!sorted) {
                /* Only tokens with prob >= (1-p)/(n-1) can be in the nucleus when one of
                 * them is kept: the others together hold less than 1-p (llama2.c's trick).
                 * Sort only those. */
                double cutoff = (1.0 - st->value) / (n - 1);
                int m = 0;
                for (int i = 0; i < n; i++)
                    if (pr[i] >= cutoff) c[m++] = c[i];
                if (m > 0) n = m; /* m == 0 leaves c untouched: sort all */
                qsort(c, (size_t)n, sizeof *c, cmp_cand);
                sorted = 1;
            }
            /* the smallest prefix whose probability (under the distribution before this
             * stage) reaches p */
            double cum = 0.0;
            for (int i = 0; i < n; i++) {
                cum += exp((double)c[i].logit - mx - lse);
                if (cum >= st->value) {
                    n = i + 1;
                    break;
                }
            }
            break;
        }
        case TR_STAGE_MIN_P: {
            softmax(c, n, pr, &mx);
            double pmax = 0.0;
            for (int i = 0; i < n; i++) pmax = pr[i] > pmax ? pr[i] : pmax;
            double thr = st->value * pmax;
            int m = 0;
            for (int i = 0; i < n; i++)
                if (pr[i] >= thr) c[m++] = c[i];
            n = m;
            break;
        }
        case TR_STAGE_GREEDY: {
            int best = 0;
            for (int i = 1; i < n; i++)
                if (before(&c[i], &c[best])) best = i;
            c[0] = c[best];
            n = 1;
            sorted = 1;
            greedy = 1;
            break;
        }
        }
    }
    (void)sorted;
    int pick = 0;
    double lse = softmax(c, n, pr, &mx);
    if (!greedy) {
        double u = tr_rng_uniform_double(rng), cum = 0.0;
        pick = n - 1;
        for (int i = 0; i < n; i++) {
            cum += pr[i];
            if (u < cum) {
                pick = i;
                break;
            }
        }
    }
    int32_t tok = c[pick].id;
    if (info) {
        info->logprob = greedy ? 0.0f : (float)((double)c[pick].logit - mx - lse);
        info->logprob_model = tr_logprob(logits, V, tok);
        info->n_candidates = n;
    }
    return tok;
}
