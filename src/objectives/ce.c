/* Cross-entropy with per-position weights (see include/tinyr1/objectives.h). */
#include <math.h>
#include <omp.h>

#include "core/fastmath.h"
#include "tinyr1/objectives.h"

int tr_ce_loss(float *dlogits, double *loss, const float *logits, const int32_t *targets,
               const float *weights, int64_t N, int V, double norm, tr_err *err) {
    for (int64_t n = 0; n < N; n++)
        if (weights[n] != 0.0f && (targets[n] < 0 || targets[n] >= V))
            return tr_fail(err, "cross-entropy: target %d at position %lld is outside [0, %d)",
                           targets[n], (long long)n, V);
    if (!(norm > 0)) norm = 1.0;
    /* per-thread partial sums, combined in thread order: reproducible at a fixed thread count */
    double partial[256] = {0};
    int nthreads = omp_get_max_threads() < 256 ? omp_get_max_threads() : 256;
#pragma omp parallel num_threads(nthreads)
    {
        double mine = 0.0;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            const float *z = logits + n * V;
            float *dz = dlogits + n * V;
            float w = weights[n];
            if (w == 0.0f) {
                for (int v = 0; v < V; v++) dz[v] = 0.0f;
                continue;
            }
            int y = targets[n];
            float zy = z[y]; /* read before dz (which may alias z) is written */
            float mx = tr_max_lanes(z, V);
            /* one exp per logit (the kernels' vectorised one), summed in double in eight
             * interleaved lanes: vectorised, one fixed order */
            double lanes[8] = {0};
            int v = 0;
            for (; v + 8 <= V; v += 8)
                for (int k = 0; k < 8; k++) {
                    float e = tr_exp_fast(z[v + k] - mx);
                    dz[v + k] = e;
                    lanes[k] += e;
                }
            for (; v < V; v++) {
                float e = tr_exp_fast(z[v] - mx);
                dz[v] = e;
                lanes[v & 7] += e;
            }
            double sum = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) +
                         ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
            mine += (double)w * ((double)mx + log(sum) - (double)zy);
            float scale = (float)((double)w / norm);
            float k = (float)((double)w / norm / sum);
            for (v = 0; v < V; v++) dz[v] *= k;
            dz[y] -= scale;
        }
        partial[omp_get_thread_num()] = mine;
    }
    double total = 0.0;
    for (int t = 0; t < nthreads; t++) total += partial[t];
    *loss = total / norm;
    return 0;
}
