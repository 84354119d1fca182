/* Exact FLOP counts from the model's shapes (formulas in include/tinyr1/cost.h and
 * docs/cost.md). Dimension legend: D dim, L layers, NH heads, KVH kv heads, HD head dim,
 * H hidden dim, V vocab, Q = NH*HD, KV = KVH*HD. */
#include "tinyr1/cost.h"

typedef struct {
    double D, L, NH, HD, H, V, Q, KV;
} dims;

static dims resolve(const tr_config *c) {
    dims d;
    int hd = c->head_dim > 0 ? c->head_dim : (c->n_heads > 0 ? c->dim / c->n_heads : 0);
    int h = c->hidden_dim > 0 ? c->hidden_dim : tr_hidden_dim_llama(c->dim, 32);
    d.D = c->dim;
    d.L = c->n_layers;
    d.NH = c->n_heads;
    d.HD = hd;
    d.H = h;
    d.V = c->vocab;
    d.Q = (double)c->n_heads * hd;
    d.KV = (double)c->n_kv_heads * hd;
    return d;
}

tr_flops tr_flops_forward_ex(const tr_config *cfg, int64_t n_seqs, int64_t n_new, int64_t past,
                             int64_t logit_positions) {
    tr_flops f = {0};
    if (n_seqs <= 0 || n_new <= 0 || past < 0) return f;
    if (logit_positions < 0) logit_positions = 0;
    if (logit_positions > n_new) logit_positions = n_new;
    dims d = resolve(cfg);
    double S = (double)n_seqs, n = (double)n_new, p = (double)past;
    double tokens = S * n;
    /* (query, key) pairs: sum over i in [0, n) of (p + i + 1) = n p + n (n + 1) / 2 */
    double pairs = S * (n * p + n * (n + 1.0) / 2.0);
    f.qkv = 2.0 * tokens * d.L * (d.D * d.Q + 2.0 * d.D * d.KV);
    f.attn_out = 2.0 * tokens * d.L * d.Q * d.D;
    f.attn_scores = 2.0 * pairs * d.L * d.NH * d.HD;
    f.attn_values = 2.0 * pairs * d.L * d.NH * d.HD;
    f.mlp = 6.0 * tokens * d.L * d.D * d.H;
    f.lm_head = 2.0 * S * (double)logit_positions * d.D * d.V;
    f.total = f.qkv + f.attn_out + f.attn_scores + f.attn_values + f.mlp + f.lm_head;
    return f;
}

double tr_flops_forward(const tr_config *cfg, int64_t B, int64_t T) {
    return tr_flops_forward_ex(cfg, B, T, 0, T).total;
}

double tr_flops_backward(const tr_config *cfg, int64_t B, int64_t T) {
    return 2.0 * tr_flops_forward(cfg, B, T);
}

double tr_flops_train_step(const tr_config *cfg, int64_t B, int64_t T) {
    return 3.0 * tr_flops_forward(cfg, B, T);
}

double tr_flops_prefill(const tr_config *cfg, int64_t n_seqs, int64_t prompt_len, int all_logits) {
    return tr_flops_forward_ex(cfg, n_seqs, prompt_len, 0, all_logits ? prompt_len : 1).total;
}

double tr_flops_decode_step(const tr_config *cfg, int64_t n_seqs, int64_t context_len) {
    return tr_flops_forward_ex(cfg, n_seqs, 1, context_len, 1).total;
}

double tr_flops_generate(const tr_config *cfg, int64_t n_seqs, int64_t prompt_len, int64_t n_new) {
    if (n_new <= 0) return 0.0;
    double f = tr_flops_prefill(cfg, n_seqs, prompt_len, 0);
    /* The n_new - 1 decode steps at contexts prompt_len .. prompt_len + n_new - 2 have the
     * same weight and LM-head work per token as one forward of n_new - 1 positions after
     * `prompt_len` cached ones with a logit row each, and the same (query, key) pairs. */
    if (n_new > 1) f += tr_flops_forward_ex(cfg, n_seqs, n_new - 1, prompt_len, n_new - 1).total;
    return f;
}

double tr_flops_params_matmul(const tr_config *cfg) {
    dims d = resolve(cfg);
    return d.L * (d.D * d.Q + 2.0 * d.D * d.KV + d.Q * d.D + 3.0 * d.D * d.H) + d.V * d.D;
}

double tr_flops_6nd(const tr_config *cfg, double tokens) {
    tr_config c = *cfg;
    if (c.head_dim <= 0 && c.n_heads > 0) c.head_dim = c.dim / c.n_heads;
    if (c.hidden_dim <= 0) c.hidden_dim = tr_hidden_dim_llama(c.dim, 32);
    return 6.0 * (double)tr_config_num_params(&c) * tokens;
}
