/* AdamW, gradient clipping and learning-rate schedules (include/tinyr1/train.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/train.h"

tr_adamw_params tr_adamw_default_params(void) {
    tr_adamw_params p = {.lr = 3e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                         .weight_decay = 0.1f, .decay_all = 0};
    return p;
}

int tr_adamw_init(tr_adamw *opt, const tr_param_table *table, tr_adamw_params p, tr_err *err) {
    memset(opt, 0, sizeof *opt);
    opt->p = p;
    opt->n = table->total;
    opt->m = tr_aligned_alloc(opt->n * sizeof(float), err);
    opt->v = tr_aligned_alloc(opt->n * sizeof(float), err);
    if (!opt->m || !opt->v) {
        tr_adamw_free(opt);
        return tr_fail_context(err, "AdamW state");
    }
    return 0;
}

void tr_adamw_free(tr_adamw *opt) {
    free(opt->m);
    free(opt->v);
    memset(opt, 0, sizeof *opt);
}

void tr_adamw_step(tr_adamw *opt, const tr_param_table *table, float *params, const float *grads,
                   float lr) {
    opt->t++;
    const tr_adamw_params *p = &opt->p;
    const double bc1 = 1.0 - pow(p->beta1, (double)opt->t);
    const double bc2 = 1.0 - pow(p->beta2, (double)opt->t);
    const float step_size = (float)(lr / bc1);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    const float b1 = p->beta1, b2 = p->beta2, eps = p->eps;
    for (int ti = 0; ti < table->n_tensors; ti++) {
        const tr_tensor_info *t = &table->tensors[ti];
        int decays = p->decay_all || t->kind == TR_TENSOR_MATRIX;
        const float shrink = decays ? 1.0f - lr * p->weight_decay : 1.0f;
        float *w = params + t->offset, *m = opt->m + t->offset, *v = opt->v + t->offset;
        const float *g = grads + t->offset;
        const int64_t n = (int64_t)t->numel;
#pragma omp parallel for schedule(static) if (n > 4096)
        for (int64_t i = 0; i < n; i++) {
            w[i] *= shrink;
            m[i] = b1 * m[i] + (1.0f - b1) * g[i];
            v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
            w[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
        }
    }
}

double tr_grad_norm(const float *grads, size_t n) {
    /* fixed-size chunks summed in order: the same value at any thread count */
    enum { CHUNK = 1 << 16 };
    size_t nchunks = (n + CHUNK - 1) / CHUNK;
    double *part = calloc(nchunks ? nchunks : 1, sizeof(double));
    if (!part) { /* fall back to a serial sum */
        double s = 0;
        for (size_t i = 0; i < n; i++) s += (double)grads[i] * grads[i];
        return sqrt(s);
    }
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < nchunks; c++) {
        size_t i0 = c * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        double s = 0;
        for (size_t i = i0; i < i1; i++) s += (double)grads[i] * grads[i];
        part[c] = s;
    }
    double s = 0;
    for (size_t c = 0; c < nchunks; c++) s += part[c];
    free(part);
    return sqrt(s);
}

double tr_clip_grad_norm(float *grads, size_t n, double max_norm) {
    double norm = tr_grad_norm(grads, n);
    if (max_norm > 0 && norm > max_norm) {
        float k = (float)(max_norm / (norm + 1e-6));
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) grads[i] *= k;
    }
    return norm;
}

float tr_lr_at(const tr_lr_schedule *s, int64_t step) {
    if (s->warmup > 0 && step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    if (s->kind == TR_SCHEDULE_CONSTANT || s->total <= s->warmup) return s->lr;
    double progress = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    if (progress > 1) progress = 1;
    double cosine = 0.5 * (1.0 + cos(3.14159265358979323846 * progress));
    return (float)(s->min_lr + (s->lr - s->min_lr) * cosine);
}

int tr_schedule_parse(const char *name, tr_schedule_kind *kind, tr_err *err) {
    if (strcmp(name, "constant") == 0) *kind = TR_SCHEDULE_CONSTANT;
    else if (strcmp(name, "cosine") == 0) *kind = TR_SCHEDULE_COSINE;
    else return tr_fail(err, "schedule: expected 'constant' or 'cosine', got '%s'", name);
    return 0;
}
