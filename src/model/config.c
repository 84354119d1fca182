#include "tinyr1/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tr_config tr_config_default(void) {
    tr_config c = {0};
    c.vocab = 512;
    c.dim = 64;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 4;
    c.head_dim = 0;
    c.hidden_dim = 0;
    c.max_seq = 256;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    c.tied_embeddings = 0;
    c.qkv_bias = 0;
    return c;
}

int tr_hidden_dim_llama(int dim, int multiple_of) {
    int h = (8 * dim + 2) / 3; /* ceil(8*dim/3) */
    return (h + multiple_of - 1) / multiple_of * multiple_of;
}

int tr_config_validate(tr_config *c, tr_err *err) {
    if (c->vocab <= 0) return tr_fail(err, "config: vocab must be positive, got %d", c->vocab);
    if (c->dim <= 0) return tr_fail(err, "config: dim must be positive, got %d", c->dim);
    if (c->n_layers <= 0)
        return tr_fail(err, "config: n_layers must be positive, got %d", c->n_layers);
    if (c->n_heads <= 0)
        return tr_fail(err, "config: n_heads must be positive, got %d", c->n_heads);
    if (c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads != 0)
        return tr_fail(err, "config: n_kv_heads (%d) must be positive and divide n_heads (%d)",
                       c->n_kv_heads, c->n_heads);
    if (c->head_dim == 0) {
        if (c->dim % c->n_heads != 0)
            return tr_fail(err, "config: dim (%d) must be a multiple of n_heads (%d)", c->dim,
                           c->n_heads);
        c->head_dim = c->dim / c->n_heads;
    }
    if (c->head_dim <= 0 || c->head_dim % 2 != 0)
        return tr_fail(err, "config: head_dim must be positive and even (RoPE), got %d",
                       c->head_dim);
    if (c->hidden_dim == 0) c->hidden_dim = tr_hidden_dim_llama(c->dim, 32);
    if (c->hidden_dim <= 0)
        return tr_fail(err, "config: hidden_dim must be positive, got %d", c->hidden_dim);
    if (c->max_seq <= 0)
        return tr_fail(err, "config: max_seq must be positive, got %d", c->max_seq);
    if (!(c->rope_theta > 0))
        return tr_fail(err, "config: rope_theta must be positive, got %g", c->rope_theta);
    if (!(c->norm_eps > 0))
        return tr_fail(err, "config: norm_eps must be positive, got %g", c->norm_eps);
    if (!isfinite(c->rope_theta) || !isfinite(c->norm_eps))
        return tr_fail(err, "config: rope_theta and norm_eps must be finite, got %g and %g",
                       c->rope_theta, c->norm_eps);
    if (c->tied_embeddings != 0 && c->tied_embeddings != 1)
        return tr_fail(err, "config: tied_embeddings must be 0 or 1");
    if (c->qkv_bias != 0 && c->qkv_bias != 1) return tr_fail(err, "config: qkv_bias must be 0 or 1");
    /* sizes come from files written by strangers: bound them before anything counts or
     * allocates with them (the parameter count below is exact in double up to 2^53) */
    double D = c->dim, H = c->hidden_dim, V = c->vocab, L = c->n_layers;
    double Q = (double)c->n_heads * c->head_dim, KV = (double)c->n_kv_heads * c->head_dim;
    if (L > TR_CONFIG_MAX_LAYERS || D > TR_CONFIG_MAX_WIDTH || H > TR_CONFIG_MAX_WIDTH ||
        V > TR_CONFIG_MAX_WIDTH || Q > TR_CONFIG_MAX_WIDTH || c->max_seq > TR_CONFIG_MAX_WIDTH)
        return tr_fail(err,
                       "config: implausible sizes (layers %d, dim %d, hidden %d, vocab %d, "
                       "heads x head_dim %.0f, max_seq %d): expected at most %d layers and "
                       "%d for the others",
                       c->n_layers, c->dim, c->hidden_dim, c->vocab, Q, c->max_seq,
                       TR_CONFIG_MAX_LAYERS, TR_CONFIG_MAX_WIDTH);
    double per_layer = 2 * D + (Q + 2 * KV) * D + (c->qkv_bias ? Q + 2 * KV : 0) + D * Q + 3 * H * D;
    double total = V * D * (c->tied_embeddings ? 1 : 2) + D + L * per_layer;
    if (total > TR_CONFIG_MAX_PARAMS)
        return tr_fail(err, "config: %.0f parameters, more than the %.0f this build handles", total,
                       (double)TR_CONFIG_MAX_PARAMS);
    return 0;
}

/* The one list of tensors. Every other place (sizes, views, names, checkpoint directory,
 * decay groups) derives from what this function emits. `emit` is called once per tensor
 * in buffer order; with table == NULL it only counts. */
typedef struct {
    tr_param_table *table;
    int count;
    size_t total;
} table_builder;

static void emit(table_builder *b, const char *name, tr_tensor_kind kind, int64_t rows,
                 int64_t cols) {
    size_t numel = (size_t)rows * (size_t)(cols > 0 ? cols : 1);
    if (b->table) {
        tr_tensor_info *t = &b->table->tensors[b->count];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->ndim = cols > 0 ? 2 : 1;
        t->shape[0] = rows;
        t->shape[1] = cols > 0 ? cols : 0;
        t->offset = b->total;
        t->numel = numel;
        t->kind = kind;
    }
    b->count++;
    b->total += numel;
}

static void enumerate(table_builder *b, const tr_config *c) {
    char name[96];
    int64_t D = c->dim, H = c->hidden_dim, V = c->vocab;
    int64_t Q = (int64_t)c->n_heads * c->head_dim, KV = (int64_t)c->n_kv_heads * c->head_dim;
    emit(b, "model.embed_tokens.weight", TR_TENSOR_EMBED, V, D);
    for (int l = 0; l < c->n_layers; l++) {
#define LAYER(suffix, kind, rows, cols)                                                   \
    do {                                                                                  \
        snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);                      \
        emit(b, name, kind, rows, cols);                                                  \
    } while (0)
        LAYER("input_layernorm.weight", TR_TENSOR_NORM, D, 0);
        /* q, k, v weights adjacent (then their biases adjacent): one [Q+2KV, D] matrix,
         * so the forward and backward passes run one fused QKV GEMM. Same for gate/up. */
        LAYER("self_attn.q_proj.weight", TR_TENSOR_MATRIX, Q, D);
        LAYER("self_attn.k_proj.weight", TR_TENSOR_MATRIX, KV, D);
        LAYER("self_attn.v_proj.weight", TR_TENSOR_MATRIX, KV, D);
        if (c->qkv_bias) {
            LAYER("self_attn.q_proj.bias", TR_TENSOR_BIAS, Q, 0);
            LAYER("self_attn.k_proj.bias", TR_TENSOR_BIAS, KV, 0);
            LAYER("self_attn.v_proj.bias", TR_TENSOR_BIAS, KV, 0);
        }
        LAYER("self_attn.o_proj.weight", TR_TENSOR_MATRIX, D, Q);
        LAYER("post_attention_layernorm.weight", TR_TENSOR_NORM, D, 0);
        LAYER("mlp.gate_proj.weight", TR_TENSOR_MATRIX, H, D);
        LAYER("mlp.up_proj.weight", TR_TENSOR_MATRIX, H, D);
        LAYER("mlp.down_proj.weight", TR_TENSOR_MATRIX, D, H);
#undef LAYER
    }
    emit(b, "model.norm.weight", TR_TENSOR_NORM, D, 0);
    if (!c->tied_embeddings) emit(b, "lm_head.weight", TR_TENSOR_MATRIX, V, D);
}

size_t tr_config_num_params(const tr_config *cfg) {
    table_builder b = {0};
    enumerate(&b, cfg);
    return b.total;
}

int tr_param_table_build(tr_param_table *table, const tr_config *cfg, tr_err *err) {
    memset(table, 0, sizeof *table);
    table_builder counter = {0};
    enumerate(&counter, cfg);
    table->tensors = tr_calloc((size_t)counter.count, sizeof *table->tensors, err);
    if (!table->tensors) return -1;
    table_builder b = {.table = table};
    enumerate(&b, cfg);
    table->n_tensors = b.count;
    table->total = b.total;
    return 0;
}

void tr_param_table_free(tr_param_table *table) {
    free(table->tensors);
    memset(table, 0, sizeof *table);
}

int tr_param_table_find(const tr_param_table *table, const char *name) {
    for (int i = 0; i < table->n_tensors; i++)
        if (strcmp(table->tensors[i].name, name) == 0) return i;
    return -1;
}

static float *lookup(const tr_param_table *t, float *buffer, const char *name) {
    int i = tr_param_table_find(t, name);
    return i < 0 ? NULL : buffer + t->tensors[i].offset;
}

int tr_model_view_init(tr_model_view *v, const tr_param_table *t, const tr_config *c,
                       float *buffer, tr_err *err) {
    memset(v, 0, sizeof *v);
    v->layers = tr_calloc((size_t)c->n_layers, sizeof *v->layers, err);
    if (!v->layers) return -1;
    char name[128];
    v->embed = lookup(t, buffer, "model.embed_tokens.weight");
    for (int l = 0; l < c->n_layers; l++) {
        tr_layer_view *lv = &v->layers[l];
#define GET(field, suffix)                                                                \
    do {                                                                                  \
        snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);                      \
        lv->field = lookup(t, buffer, name);                                              \
    } while (0)
        GET(attn_norm, "input_layernorm.weight");
        GET(wq, "self_attn.q_proj.weight");
        GET(bq, "self_attn.q_proj.bias");
        GET(wk, "self_attn.k_proj.weight");
        GET(bk, "self_attn.k_proj.bias");
        GET(wv, "self_attn.v_proj.weight");
        GET(bv, "self_attn.v_proj.bias");
        GET(wo, "self_attn.o_proj.weight");
        GET(mlp_norm, "post_attention_layernorm.weight");
        GET(w_gate, "mlp.gate_proj.weight");
        GET(w_up, "mlp.up_proj.weight");
        GET(w_down, "mlp.down_proj.weight");
#undef GET
    }
    v->final_norm = lookup(t, buffer, "model.norm.weight");
    v->lm_head = c->tied_embeddings ? v->embed : lookup(t, buffer, "lm_head.weight");
    return 0;
}

void tr_model_view_free(tr_model_view *v) {
    free(v->layers);
    memset(v, 0, sizeof *v);
}

int tr_model_init(tr_model *m, const tr_config *cfg, tr_err *err) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (tr_config_validate(&m->cfg, err) != 0) return -1;
    if (tr_param_table_build(&m->table, &m->cfg, err) != 0) return -1;
    m->params = tr_aligned_alloc(m->table.total * sizeof(float), err);
    if (!m->params || tr_model_view_init(&m->view, &m->table, &m->cfg, m->params, err) != 0) {
        tr_model_free(m);
        return -1;
    }
    return 0;
}

void tr_model_init_random(tr_model *m, uint64_t seed, float std) {
    tr_rng rng;
    tr_rng_seed(&rng, seed);
    float out_std = std / sqrtf(2.0f * (float)m->cfg.n_layers);
    for (int i = 0; i < m->table.n_tensors; i++) {
        const tr_tensor_info *t = &m->table.tensors[i];
        float *p = m->params + t->offset;
        int is_out = strstr(t->name, "o_proj") || strstr(t->name, "down_proj");
        for (size_t j = 0; j < t->numel; j++) {
            switch (t->kind) {
            case TR_TENSOR_NORM: p[j] = 1.0f; break;
            case TR_TENSOR_BIAS: p[j] = 0.0f; break;
            default: p[j] = tr_rng_normal(&rng) * (is_out ? out_std : std); break;
            }
        }
    }
}

void tr_model_free(tr_model *m) {
    free(m->params);
    tr_model_view_free(&m->view);
    tr_param_table_free(&m->table);
    memset(m, 0, sizeof *m);
}
