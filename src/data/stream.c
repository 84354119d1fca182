#include <stdlib.h>
#include <string.h>

#include "tinyr1/batch.h"

int tr_token_stream_init(tr_token_stream *s, int32_t *ids, size_t n, tr_err *err) {
    memset(s, 0, sizeof *s);
    if (n < 2) {
        free(ids);
        return tr_fail(err, "token stream: %zu tokens; need at least 2", n);
    }
    s->ids = ids;
    s->n = n;
    return 0;
}

void tr_token_stream_free(tr_token_stream *s) {
    free(s->ids);
    memset(s, 0, sizeof *s);
}

void tr_token_stream_sample(const tr_token_stream *s, tr_batch *b, tr_rng *rng) {
    int T = b->T;
    /* a stream shorter than a window wraps around (tiny corpora in tests) */
    for (int r = 0; r < b->B; r++) {
        size_t start = s->n > (size_t)T + 1 ? (size_t)tr_rng_below(rng, s->n - (size_t)T) : 0;
        for (int t = 0; t < T; t++) {
            b->tokens[r * T + t] = s->ids[(start + t) % s->n];
            b->targets[r * T + t] = s->ids[(start + t + 1) % s->n];
            b->weights[r * T + t] = 1.0f;
        }
        b->lengths[r] = T;
    }
}
