/* Reference cross-entropy for the KD tests, straight from the definition
 *   loss = sum_n w_n (logsumexp(z_n) - z_n[y_n]) / norm,  dlogits = w (softmax - onehot) / norm
 * computed in double, one obvious loop per step.
 * The KD tests compare tr_kd_loss's CE mix (which calls the library's tr_ce_loss) with it. */
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


#endif
