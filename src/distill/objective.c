/* The KD objective: a teacher (online model or top-K cache) inside a tr_objective. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/distill.h"

static int alloc_scratch(tr_distill_kd *kd, int K, tr_err *err) {
    size_t N = (size_t)kd->max_B * (size_t)kd->max_T;
    if (K > 0) {
        kd->ids = tr_calloc(N * (size_t)K, sizeof *kd->ids, err);
        kd->logprobs = tr_calloc(N * (size_t)K, sizeof *kd->logprobs, err);
        kd->rest = tr_calloc(N, sizeof *kd->rest, err);
        if (!kd->ids || !kd->logprobs || !kd->rest) return -1;
    }
    return 0;
}

static int check_params(const tr_kd_params *p, tr_err *err) {
    /* tr_kd_loss checks them too, but only at the first step; fail at start-up instead */
    if (!(p->temperature > 0) || !isfinite(p->temperature))
        return tr_fail(err, "distill: temperature %g, expected > 0", p->temperature);
    if (!(p->beta >= 0 && p->beta <= 1))
        return tr_fail(err, "distill: beta %g, expected in [0, 1]", p->beta);
    if (!(p->skew >= 0 && p->skew <= 1))
        return tr_fail(err, "distill: skew %g, expected in [0, 1]", p->skew);
    if (!(p->ce_alpha >= 0 && p->ce_alpha <= 1))
        return tr_fail(err, "distill: alpha (the CE weight) %g, expected in [0, 1]", p->ce_alpha);
    return 0;
}

int tr_distill_kd_init_online(tr_distill_kd *kd, const tr_model *teacher, int V,
                              const tr_kd_params *p, int max_B, int max_T, tr_err *err) {
    memset(kd, 0, sizeof *kd);
    if (check_params(p, err) != 0) return -1;
    if (V <= 0 || V > teacher->cfg.vocab)
        return tr_fail(err, "distill: student vocabulary %d, expected 1..%d (the teacher's rows)",
                       V, teacher->cfg.vocab);
    if (max_T > teacher->cfg.max_seq)
        return tr_fail(err, "distill: sequences of %d positions, but the teacher's max_seq is %d",
                       max_T, teacher->cfg.max_seq);
    kd->params = *p;
    kd->V = V;
    kd->teacher = teacher;
    kd->max_B = max_B;
    kd->max_T = max_T;
    kd->max_micro = 1;
    kd->kl_metric = 1;
    /* the teacher's logits come chunk by chunk into kd->tlogits: its arena needs none */
    if (tr_activations_init_rows(&kd->tacts, &teacher->cfg, max_B, max_T, 0, err) != 0 ||
        alloc_scratch(kd, 0, err) != 0) {
        tr_distill_kd_free(kd);
        return -1;
    }
    return 0;
}

int tr_distill_kd_init_cache(tr_distill_kd *kd, const tr_kd_cache *c, int V, const tr_kd_params *p,
                             int max_B, int max_T, int max_micro, const int64_t *rows,
                             tr_err *err) {
    memset(kd, 0, sizeof *kd);
    if (check_params(p, err) != 0) return -1;
    if (c->V != V)
        return tr_fail(err,
                       "distill: the cache %s is over %d vocabulary columns, the student "
                       "has %d",
                       c->path, c->V, V);
    if (fabs(c->temperature - p->temperature) > 1e-9 * p->temperature)
        return tr_fail(err,
                       "distill: the cache %s was computed at temperature %g, the loss "
                       "uses %g; rebuild it with `tinyr1 distill cache --temp %g`",
                       c->path, c->temperature, p->temperature, p->temperature);
    kd->params = *p;
    kd->V = V;
    kd->cache = c;
    kd->rows = rows;
    kd->max_B = max_B;
    kd->max_T = max_T;
    kd->max_micro = max_micro;
    kd->kl_metric = 1;
    if (alloc_scratch(kd, c->K, err) != 0) {
        tr_distill_kd_free(kd);
        return -1;
    }
    return 0;
}

void tr_distill_kd_free(tr_distill_kd *kd) {
    tr_activations_free(kd->tacts);
    free(kd->scratch);
    free(kd->tlogits);
    free(kd->ids);
    free(kd->logprobs);
    free(kd->rest);
    memset(kd, 0, sizeof *kd);
}

/* Fills the sparse teacher rows of a micro-batch from the cache. */
static int cache_rows(tr_distill_kd *kd, const tr_batch *b, int micro, tr_err *err) {
    const tr_kd_cache *c = kd->cache;
    const int K = c->K, T = b->T;
    if (!kd->rows || micro >= kd->max_micro)
        return tr_fail(err, "distill: no example indices for micro-batch %d", micro);
    for (int r = 0; r < b->B; r++) {
        const int64_t e = kd->rows[(size_t)micro * kd->max_B + kd->row0 + r];
        int lo = -1, hi = -1;
        for (int t = 0; t < T; t++) {
            size_t n = (size_t)r * T + t;
            if (b->weights[n] != 0) {
                if (lo < 0) lo = t;
                hi = t;
            } else { /* a row nobody reads: any valid, distinct ids */
                for (int j = 0; j < K; j++) {
                    kd->ids[n * K + j] = j;
                    kd->logprobs[n * K + j] = -INFINITY;
                }
                kd->rest[n] = 0;
            }
        }
        if (lo < 0) continue;
        if (e < 0 || e >= c->n_examples)
            return tr_fail(err, "distill: row %d of micro-batch %d has no cached example", r,
                           micro);
        for (int t = lo; t <= hi; t++)
            if (b->weights[(size_t)r * T + t] == 0)
                return tr_fail(err,
                               "distill: row %d: trained positions %d..%d are not "
                               "contiguous",
                               r, lo, hi);
        if (tr_kd_cache_rows(c, e, lo, hi - lo + 1, kd->ids + ((size_t)r * T + lo) * K,
                             kd->logprobs + ((size_t)r * T + lo) * K, kd->rest + (size_t)r * T + lo,
                             err) != 0)
            return -1;
    }
    return 0;
}

/* The batch's tokens must be the cached examples' tokens. */
static int check_tokens(const tr_distill_kd *kd, const tr_batch *b, int micro, tr_err *err) {
    const tr_kd_cache *c = kd->cache;
    for (int r = 0; r < b->B; r++) {
        const int64_t e = kd->rows[(size_t)micro * kd->max_B + kd->row0 + r];
        if (b->lengths[r] == 0) continue;
        if (e < 0 || e >= c->n_examples)
            return tr_fail(err, "distill: row %d of micro-batch %d has no cached example", r,
                           micro);
        const uint8_t *tp = c->tokens + (size_t)c->tok_off[e] * c->id_bytes;
        int64_t n = 0;
        for (int i = 0; i < 4; i++) n |= (int64_t)c->table[8 * e + i] << (8 * i);
        for (int t = 0; t <= b->lengths[r] && t < n; t++) {
            uint32_t id = 0;
            for (int i = 0; i < c->id_bytes; i++)
                id |= (uint32_t)tp[(size_t)t * c->id_bytes + i] << (8 * i);
            /* position t's input, and the target of position t-1 when it is trained */
            int32_t have = -1;
            if (t < b->lengths[r])
                have = b->tokens[(size_t)r * b->T + t];
            else if (b->weights[(size_t)r * b->T + t - 1] != 0)
                have = b->targets[(size_t)r * b->T + t - 1];
            else
                break;
            if ((int32_t)id != have)
                return tr_fail(err,
                               "distill: row %d, position %d: token %d but the cache's "
                               "example %lld has %u there (the data does not match the "
                               "cache)",
                               r, t, have, (long long)e, id);
        }
    }
    return 0;
}

/* *buf holds at least n floats (grown, contents not kept). */
static int reserve(float **buf, size_t *cap, size_t n, tr_err *err) {
    if (*cap >= n) return 0;
    free(*buf);
    *cap = 0;
    *buf = tr_aligned_alloc(n * sizeof(float), err);
    if (!*buf) return -1;
    *cap = n;
    return 0;
}

/* Rows [r0, r0 + n) of a micro-batch (train.h: r0 == 0 starts a new one). The teacher's
 * view of the whole micro-batch is made at r0 == 0: an online teacher's forward to its
 * final norm, or the cache's rows; each chunk then takes the teacher's LM head over its own
 * rows (or its slice of the cache rows). */
static int kd_fn(void *ctx, float *logits, int64_t r0, int64_t n, int V, const tr_batch *b,
                 int micro, double norm, tr_objective_out *out, tr_err *err) {
    tr_distill_kd *kd = ctx;
    if (V != kd->V)
        return tr_fail(err, "distill: the student's logits have %d columns, expected %d", V, kd->V);
    if (b->B > kd->max_B || b->T > kd->max_T)
        return tr_fail(err, "distill: batch %d x %d exceeds %d x %d", b->B, b->T, kd->max_B,
                       kd->max_T);
    tr_kd_teacher tch;
    memset(&tch, 0, sizeof tch);
    double t_kl = 1.0;
    if (kd->teacher) {
        const int Vt = kd->teacher->cfg.vocab;
        if (r0 == 0 && !tr_model_forward_hidden(kd->teacher, kd->tacts, b->tokens, b->B, b->T))
            return tr_fail(err, "distill: the teacher's arena is too small");
        if (reserve(&kd->tlogits, &kd->tlogits_cap, (size_t)n * Vt, err) != 0) return -1;
        tr_model_logits_rows(kd->teacher, kd->tacts, kd->tlogits, r0, n);
        tch.logits = kd->tlogits;
        tch.ld = Vt;
    } else {
        if (r0 == 0 &&
            (check_tokens(kd, b, micro, err) != 0 || cache_rows(kd, b, micro, err) != 0))
            return -1;
        const int K = kd->cache->K;
        tch.K = K;
        tch.ids = kd->ids + (size_t)r0 * K;
        tch.logprobs = kd->logprobs + (size_t)r0 * K;
        tch.rest_logprob = kd->rest + r0;
        tch.temperature = kd->cache->temperature;
        t_kl = kd->cache->temperature;
    }
    const float *weights = b->weights + r0;
    const int32_t *targets = b->targets + r0;
    if (kd->kl_metric) {
        tr_kd_params kp = tr_kd_default_params();
        kp.div = TR_KD_FKL;
        kp.temperature = t_kl;
        kp.scale_t2 = 0;
        kp.ce_alpha = 0;
        tr_kd_losses kl;
        if (reserve(&kd->scratch, &kd->scratch_cap, (size_t)n * V, err) != 0 ||
            tr_kd_loss(kd->scratch, &kl, logits, &tch, NULL, weights, n, V, norm, &kp, err) != 0)
            return -1;
        out->parts[2] = kl.kd;
    }
    tr_kd_losses l;
    if (tr_kd_loss(logits, &l, logits, &tch, targets, weights, n, V, norm, &kd->params, err) != 0)
        return -1;
    out->loss = l.total;
    out->parts[0] = l.ce;
    out->parts[1] = l.kd;
    return 0;
}

tr_objective tr_distill_kd_objective(tr_distill_kd *kd) {
    tr_objective o = {.fn = kd_fn, .ctx = kd, .part_names = {"ce", "kd", "kl", NULL}, .norm = NULL};
    return o;
}
