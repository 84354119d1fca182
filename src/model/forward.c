/* The training forward and backward passes of the transformer.
 * Legend: B batch, T time, N = B*T rows, D dim, V vocab, NH/KVH heads, HD head size,
 * QD = NH*HD, KVD = KVH*HD, S = QD + 2*KVD (fused q|k|v row), H MLP width. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/model.h"
#include "tinyr1/ops.h"

/* Per-layer saved activations (pointers into the arena). */
typedef struct {
    float *xn1, *rstd1; /* attention RMSNorm output and 1/rms */
    float *qkv;         /* [N, S], q and k after RoPE */
    float *probs;       /* [B, NH, T, T] */
    float *att;         /* [N, QD] attention output before o_proj */
    float *x_mid;       /* [N, D] residual stream between attention and MLP */
    float *xn2, *rstd2; /* MLP RMSNorm */
    float *gu;          /* [N, 2H] gate | up */
    float *act;         /* [N, H] silu(gate) * up */
} layer_acts;

struct tr_activations {
    int max_B, max_T, B, T;
    int64_t logit_rows; /* rows of the logits buffer (at most max_B * max_T; 0: none) */
    tr_config cfg;
    int32_t *tokens; /* [max_B * max_T] copy of the last forward's tokens (for backward) */
    float *mem;
    size_t capacity, bytes;
    float *rope_cos, *rope_sin; /* [max_seq, HD/2] */
    float **res;                /* [L+1] residual stream entering each layer, [N, D] */
    layer_acts *layers;
    float *xf, *rstdf, *logits; /* final norm output, its 1/rms, logits [min(N, logit_rows), V] */
    float *mlp_out;             /* [N, D] scratch for the MLP output */
    /* backward scratch */
    float *dres, *dxn, *dqkv, *datt, *dgu, *dact, *att_scratch;
};

/* Carves the arena for a batch of B x T (a layout, not an allocation). With mem == NULL it
 * only counts the floats needed. */
static size_t layout(tr_activations *a, int B, int T) {
    const tr_config *c = &a->cfg;
    size_t N = (size_t)B * T, D = c->dim, H = c->hidden_dim, V = c->vocab;
    size_t QD = (size_t)c->n_heads * c->head_dim, S = QD + 2 * (size_t)c->n_kv_heads * c->head_dim;
    size_t off = 0;
    int threads = omp_get_max_threads();
#define TAKE(ptr, count)                                                                 \
    do {                                                                                 \
        size_t n_ = ((size_t)(count) + 15) / 16 * 16; /* keep 64-byte alignment */       \
        if (a->mem) ptr = a->mem + off;                                                  \
        off += n_;                                                                       \
    } while (0)
    for (int l = 0; l <= c->n_layers; l++) TAKE(a->res[l], N * D);
    for (int l = 0; l < c->n_layers; l++) {
        layer_acts *la = &a->layers[l];
        TAKE(la->xn1, N * D);
        TAKE(la->rstd1, N);
        TAKE(la->qkv, N * S);
        TAKE(la->probs, (size_t)B * c->n_heads * T * T);
        TAKE(la->att, N * QD);
        TAKE(la->x_mid, N * D);
        TAKE(la->xn2, N * D);
        TAKE(la->rstd2, N);
        TAKE(la->gu, N * 2 * H);
        TAKE(la->act, N * H);
    }
    TAKE(a->xf, N * D);
    TAKE(a->rstdf, N);
    TAKE(a->logits, (N < (size_t)a->logit_rows ? N : (size_t)a->logit_rows) * V);
    TAKE(a->mlp_out, N * D);
    TAKE(a->dres, N * D);
    TAKE(a->dxn, N * D);
    TAKE(a->dqkv, N * S);
    TAKE(a->datt, N * QD);
    TAKE(a->dgu, N * 2 * H);
    TAKE(a->dact, N * H);
    TAKE(a->att_scratch, (size_t)threads * T * T);
#undef TAKE
    return off;
}

int64_t tr_logits_chunk_rows(int64_t N, int V, size_t budget_bytes) {
    if (N <= 0) return 0;
    if (budget_bytes == 0) budget_bytes = TR_LOGITS_CHUNK_BYTES;
    const size_t row = (size_t)(V > 0 ? V : 1) * sizeof(float);
    if ((size_t)N <= budget_bytes / row) return N;
    int64_t rows = (int64_t)(budget_bytes / row);
    return rows > 0 ? rows : 1;
}

int tr_activations_init(tr_activations **out, const tr_config *cfg, int max_B, int max_T,
                        tr_err *err) {
    return tr_activations_init_rows(out, cfg, max_B, max_T, (int64_t)max_B * max_T, err);
}

int tr_activations_init_rows(tr_activations **out, const tr_config *cfg, int max_B, int max_T,
                             int64_t logit_rows, tr_err *err) {
    *out = NULL;
    if (max_B <= 0 || max_T <= 0 || max_T > cfg->max_seq)
        return tr_fail(err, "activations: batch %d x %d outside 1..%d tokens per sequence", max_B,
                       max_T, cfg->max_seq);
    if (logit_rows < 0)
        return tr_fail(err, "activations: %lld logit rows, expected >= 0", (long long)logit_rows);
    tr_activations *a = tr_calloc(1, sizeof *a, err);
    if (!a) return -1;
    a->cfg = *cfg;
    a->max_B = max_B;
    a->max_T = max_T;
    a->logit_rows = logit_rows < (int64_t)max_B * max_T ? logit_rows : (int64_t)max_B * max_T;
    a->res = tr_calloc((size_t)cfg->n_layers + 1, sizeof *a->res, err);
    a->layers = tr_calloc((size_t)cfg->n_layers, sizeof *a->layers, err);
    int half = cfg->head_dim / 2;
    a->rope_cos = tr_calloc((size_t)cfg->max_seq * half, sizeof(float), err);
    a->rope_sin = tr_calloc((size_t)cfg->max_seq * half, sizeof(float), err);
    a->tokens = tr_calloc((size_t)max_B * max_T, sizeof(int32_t), err);
    if (!a->res || !a->layers || !a->rope_cos || !a->rope_sin || !a->tokens) goto fail;
    tr_rope_tables(a->rope_cos, a->rope_sin, cfg->max_seq, cfg->head_dim, cfg->rope_theta);
    a->capacity = layout(a, max_B, max_T);
    a->bytes = a->capacity * sizeof(float);
    a->mem = tr_aligned_alloc(a->bytes, err);
    if (!a->mem) goto fail;
    *out = a;
    return 0;
fail:
    tr_activations_free(a);
    return tr_fail_context(err, "activations for batch %d x %d", max_B, max_T);
}

void tr_activations_free(tr_activations *a) {
    if (!a) return;
    free(a->mem);
    free(a->res);
    free(a->layers);
    free(a->rope_cos);
    free(a->rope_sin);
    free(a->tokens);
    free(a);
}

size_t tr_activations_bytes(const tr_activations *a) { return a->bytes; }

float *tr_activations_logits(tr_activations *a, int64_t *rows) {
    int64_t N = (int64_t)a->B * a->T;
    if (rows) *rows = N < a->logit_rows ? N : a->logit_rows;
    return a->logit_rows > 0 ? a->logits : NULL;
}

float *tr_model_forward(const tr_model *m, tr_activations *a, const int32_t *tokens, int B, int T) {
    if ((int64_t)B * T > a->logit_rows) return NULL;
    if (!tr_model_forward_hidden(m, a, tokens, B, T)) return NULL;
    tr_model_logits_rows(m, a, a->logits, 0, (int64_t)B * T);
    return a->logits;
}

void tr_model_logits_rows(const tr_model *m, const tr_activations *a, float *logits, int64_t r0,
                          int64_t n) {
    const int D = m->cfg.dim;
    tr_matmul_forward(logits, a->xf + r0 * D, m->view.lm_head, NULL, n, D, m->cfg.vocab);
}

float *tr_model_forward_hidden(const tr_model *m, tr_activations *a, const int32_t *tokens, int B,
                               int T) {
    const tr_config *c = &m->cfg;
    if (B != a->B || T != a->T) {
        /* a smaller batch reuses the same memory with a tighter layout */
        if (B > a->max_B || T > a->max_T) return NULL;
        layout(a, B, T);
        a->B = B;
        a->T = T;
    }
    const int64_t N = (int64_t)B * T;
    const int D = c->dim, H = c->hidden_dim, HD = c->head_dim, NH = c->n_heads,
              KVH = c->n_kv_heads;
    const int QD = NH * HD, S = QD + 2 * KVH * HD;

    memcpy(a->tokens, tokens, (size_t)N * sizeof(int32_t));
    tr_embedding_forward(a->res[0], tokens, m->view.embed, N, D);
    for (int l = 0; l < c->n_layers; l++) {
        const tr_layer_view *w = &m->view.layers[l];
        layer_acts *la = &a->layers[l];
        const float *x = a->res[l];
        /* attention block: x_mid = x + o_proj(attention(rope(qkv(norm(x))))) */
        tr_rmsnorm_forward(la->xn1, la->rstd1, x, w->attn_norm, N, D, c->norm_eps);
        tr_matmul_forward(la->qkv, la->xn1, w->wq, w->bq, N, D, S);
        tr_rope_forward(la->qkv, a->rope_cos, a->rope_sin, B, T, NH, HD, S, 0);
        tr_rope_forward(la->qkv + QD, a->rope_cos, a->rope_sin, B, T, KVH, HD, S, 0);
        tr_attention_forward(la->att, la->probs, la->qkv, B, T, NH, KVH, HD);
        tr_matmul_forward(la->x_mid, la->att, w->wo, NULL, N, QD, D);
        tr_add_inplace(la->x_mid, x, N * D);
        /* MLP block: x_next = x_mid + down(silu(gate(norm(x_mid))) * up(norm(x_mid))) */
        float *x_next = a->res[l + 1];
        tr_rmsnorm_forward(la->xn2, la->rstd2, la->x_mid, w->mlp_norm, N, D, c->norm_eps);
        tr_matmul_forward(la->gu, la->xn2, w->w_gate, NULL, N, D, 2 * H);
        tr_swiglu_forward(la->act, la->gu, N, H);
        tr_matmul_forward(x_next, la->act, w->w_down, NULL, N, H, D);
        tr_add_inplace(x_next, la->x_mid, N * D);
    }
    tr_rmsnorm_forward(a->xf, a->rstdf, a->res[c->n_layers], m->view.final_norm, N, D, c->norm_eps);
    return a->xf;
}

/* Zeroes a gradient buffer on every thread (tens of MB per layer; one thread alone left the
 * others waiting at the next kernel's barrier). */
static void zero(float *p, size_t n) {
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        size_t chunk = (n + (size_t)nt - 1) / (size_t)nt, s = (size_t)t * chunk;
        if (s < n) memset(p + s, 0, (s + chunk < n ? chunk : n - s) * sizeof(float));
    }
}

void tr_model_backward(const tr_model *m, tr_activations *a, float *grads, const float *dlogits) {
    tr_model_backward_logits_rows(m, a, grads, dlogits, 0, (int64_t)a->B * a->T);
    tr_model_backward_hidden(m, a, grads);
}

void tr_model_backward_logits_rows(const tr_model *m, tr_activations *a, float *grads,
                                   const float *dlogits, int64_t r0, int64_t n) {
    const int D = m->cfg.dim;
    /* the LM head's gradient view: the tied embedding or lm_head, at its table offset */
    float *glm = grads + (m->view.lm_head - m->params);
    zero(a->dxn + r0 * D, (size_t)n * D);
    tr_matmul_backward(a->dxn + r0 * D, glm, NULL, dlogits, a->xf + r0 * D, m->view.lm_head, n, D,
                       m->cfg.vocab);
}

void tr_model_backward_hidden(const tr_model *m, tr_activations *a, float *grads) {
    const tr_config *c = &m->cfg;
    const int B = a->B, T = a->T;
    const int64_t N = (int64_t)B * T;
    const int D = c->dim, H = c->hidden_dim, HD = c->head_dim, NH = c->n_heads,
              KVH = c->n_kv_heads;
    const int QD = NH * HD, S = QD + 2 * KVH * HD;
    /* gradient views: the same table over the gradient buffer */
    tr_model_view g;
    if (tr_model_view_init(&g, &m->table, c, grads, NULL) != 0) return;

    /* final norm (dxn holds dL/dxf from the LM head's rows); dres becomes dL/d(residual
     * stream) and flows down */
    zero(a->dres, (size_t)N * D);
    tr_rmsnorm_backward(a->dres, g.final_norm, a->dxn, a->res[c->n_layers], m->view.final_norm,
                        a->rstdf, N, D);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const tr_layer_view *w = &m->view.layers[l];
        tr_layer_view *gw = &g.layers[l];
        layer_acts *la = &a->layers[l];
        /* MLP: dres = dL/dx_next; the residual passes it to x_mid unchanged, plus the branch */
        zero(a->dact, (size_t)N * H);
        tr_matmul_backward(a->dact, gw->w_down, NULL, a->dres, la->act, w->w_down, N, H, D);
        zero(a->dgu, (size_t)N * 2 * H);
        tr_swiglu_backward(a->dgu, a->dact, la->gu, N, H);
        zero(a->dxn, (size_t)N * D);
        tr_matmul_backward(a->dxn, gw->w_gate, NULL, a->dgu, la->xn2, w->w_gate, N, D, 2 * H);
        tr_rmsnorm_backward(a->dres, gw->mlp_norm, a->dxn, la->x_mid, w->mlp_norm, la->rstd2, N, D);
        /* attention: dres = dL/dx_mid */
        zero(a->datt, (size_t)N * QD);
        tr_matmul_backward(a->datt, gw->wo, NULL, a->dres, la->att, w->wo, N, QD, D);
        zero(a->dqkv, (size_t)N * S);
        tr_attention_backward(a->dqkv, la->probs, a->att_scratch, a->datt, la->qkv, B, T, NH, KVH,
                              HD);
        tr_rope_backward(a->dqkv, a->rope_cos, a->rope_sin, B, T, NH, HD, S, 0);
        tr_rope_backward(a->dqkv + QD, a->rope_cos, a->rope_sin, B, T, KVH, HD, S, 0);
        zero(a->dxn, (size_t)N * D);
        tr_matmul_backward(a->dxn, gw->wq, gw->bq, a->dqkv, la->xn1, w->wq, N, D, S);
        tr_rmsnorm_backward(a->dres, gw->attn_norm, a->dxn, a->res[l], w->attn_norm, la->rstd1, N,
                            D);
    }
    tr_embedding_backward(g.embed, a->dres, a->tokens, N, D);
    tr_model_view_free(&g);
}
