/* Reference cross-entropy for the KD tests, straight from the definition
 *   loss = sum_n w_n (logsumexp(z_n) - z_n[y_n]) / norm,  dlogits = w (softmax - onehot) / norm
 * computed in double, one obvious loop per step.
 *
 * tr_kd_loss's CE mix calls tr_ce_loss (src/objectives/ce.c, written by the lead). Until
 * that file is on main, this header also provides a WEAK tr_ce_loss built on the reference
 * so the KD tests link; a strong definition linked into the program wins over it.
 * TODO(lead): once ce.c is merged, delete the weak definition below (define
 * TR_HAVE_CE_LOSS before including this header, or remove the block). */
#ifndef TINYR1_REF_OBJECTIVES_CE_H
#define TINYR1_REF_OBJECTIVES_CE_H

#include <math.h>
#include <stdint.h>

#include "tinyr1.h"

static inline double ref_ce_row(float *d, const float *z, int y, double w, int V, double norm) {
    double mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    double s = 0;
    for (int i = 0; i < V; i++) s += exp((double)z[i] - mx);
    double lse = mx + log(s);
    const double zy = z[y]; /* read before d (which may alias z) is written */
    double loss = w * (lse - zy) / norm;
    if (d) {
        for (int i = 0; i < V; i++) d[i] = (float)(w * exp((double)z[i] - lse) / norm);
        d[y] = (float)(w * (exp(zy - lse) - 1.0) / norm);
    }
    return loss;
}

#ifndef TR_HAVE_CE_LOSS
#if defined(__GNUC__)
__attribute__((weak))
#endif
int tr_ce_loss(float *dlogits, double *loss, const float *logits, const int32_t *targets,
               const float *weights, int64_t N, int V, double norm, tr_err *err) {
    *loss = 0;
    for (int64_t n = 0; n < N; n++) {
        double w = weights ? weights[n] : 1.0;
        float *d = dlogits + n * V;
        if (w == 0) {
            for (int i = 0; i < V; i++) d[i] = 0;
            continue;
        }
        if (targets[n] < 0 || targets[n] >= V)
            return tr_fail(err, "ce: target %d outside [0, %d)", (int)targets[n], V);
        *loss += ref_ce_row(d, logits + n * V, targets[n], w, V, norm);
    }
    return 0;
}
#endif

#endif
