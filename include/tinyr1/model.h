/* tinyr1 — the transformer: configuration, parameter table, forward and backward.
 *
 * One configuration covers the Llama and Qwen2 families:
 *   token embedding -> n_layers x [RMSNorm -> attention (GQA, RoPE) -> residual ->
 *   RMSNorm -> SwiGLU MLP -> residual] -> RMSNorm -> LM head.
 *
 * RoPE convention: Hugging Face "rotate half". Within one head of size HD, dimension i
 * (i < HD/2) is paired with dimension i + HD/2 and the pair is rotated by the angle
 * pos * rope_theta^(-2i/HD). llama2.c (and Meta's original code) pair adjacent
 * dimensions (2i, 2i+1) instead; its q/k weights are permuted on load (src/io/).
 *
 * Dimension legend used across the model code:
 *   B batch, T time (sequence), D model dim, V vocab, L layers,
 *   NH query heads, KVH key/value heads, HD head dim (= D / NH), H MLP hidden dim.
 */
#ifndef TINYR1_MODEL_H
#define TINYR1_MODEL_H

#include "tinyr1/base.h"

typedef struct tr_config {
    int vocab;           /* V: rows of the embedding / LM head (may include padding rows) */
    int dim;             /* D */
    int n_layers;        /* L */
    int n_heads;         /* NH */
    int n_kv_heads;      /* KVH, divides NH (grouped-query attention) */
    int head_dim;        /* HD; 0 means dim / n_heads */
    int hidden_dim;      /* H */
    int max_seq;         /* longest sequence the model is used with */
    float rope_theta;    /* RoPE base, 10000 for Llama 2, 1e6 for Qwen2 */
    float norm_eps;      /* RMSNorm epsilon */
    int tied_embeddings; /* 1: lm_head shares model.embed_tokens.weight */
    int qkv_bias;        /* 1: q/k/v projections have biases (Qwen2) */
} tr_config;

/* Defaults: a tiny Llama-style model (vocab 512, dim 64, 2 layers). */
tr_config tr_config_default(void);
/* Bounds tr_config_validate puts on sizes read from files (llama2.c, Hugging Face,
 * checkpoints): layers; dim, hidden_dim, vocab, n_heads * head_dim and max_seq; and the
 * parameter count (2^40, 4 TiB of float32), so that counting and allocating cannot overflow. */
#define TR_CONFIG_MAX_LAYERS 4096
#define TR_CONFIG_MAX_WIDTH (1 << 24)
#define TR_CONFIG_MAX_PARAMS ((int64_t)1 << 40)
/* Fills head_dim if 0 and checks every field (and the bounds above); err names the field
 * and what was expected. */
int tr_config_validate(tr_config *cfg, tr_err *err);
/* llama2.c's rule for the MLP width: 8*dim/3 rounded up to a multiple of `multiple_of`. */
int tr_hidden_dim_llama(int dim, int multiple_of);

/* ---- the parameter table -------------------------------------------------------
 * All parameters live in one contiguous float buffer; the table names each tensor with
 * its Hugging Face name, shape and offset (in floats). Gradients and AdamW moments use
 * the same layout, so optimizer, clipping, checkpointing and allreduce are one loop over
 * one buffer. The order: embed, per layer [input_layernorm, q, k, v, (q, k, v biases), o,
 * post_attention_layernorm, gate, up, down], final norm, (lm_head). q/k/v (and gate/up)
 * are adjacent so that each group is one fused matrix for the GEMMs. */
typedef enum { TR_TENSOR_EMBED, TR_TENSOR_NORM, TR_TENSOR_BIAS, TR_TENSOR_MATRIX } tr_tensor_kind;

typedef struct tr_tensor_info {
    char name[96];
    int ndim;
    int64_t shape[2];
    size_t offset; /* in floats, from the start of the buffer */
    size_t numel;
    tr_tensor_kind kind; /* decides weight decay: only MATRIX tensors decay by default */
} tr_tensor_info;

typedef struct tr_param_table {
    tr_tensor_info *tensors;
    int n_tensors;
    size_t total; /* floats */
} tr_param_table;

int tr_param_table_build(tr_param_table *table, const tr_config *cfg, tr_err *err);
void tr_param_table_free(tr_param_table *table);
/* Index of the named tensor, or -1. */
int tr_param_table_find(const tr_param_table *table, const char *name);

/* Views of one layer's tensors inside a buffer laid out by the table (params, grads,
 * AdamW moments alike). Biases are NULL when the config has none. */
typedef struct tr_layer_view {
    float *attn_norm;                 /* [D] */
    float *wq, *bq;                   /* [NH*HD, D], [NH*HD] */
    float *wk, *bk;                   /* [KVH*HD, D], [KVH*HD] */
    float *wv, *bv;                   /* [KVH*HD, D], [KVH*HD] */
    float *wo;                        /* [D, NH*HD] */
    float *mlp_norm;                  /* [D] */
    float *w_gate, *w_up, *w_down;    /* [H, D], [H, D], [D, H] */
} tr_layer_view;

typedef struct tr_model_view {
    float *embed;      /* [V, D] */
    tr_layer_view *layers; /* [L], owned by the view */
    float *final_norm; /* [D] */
    float *lm_head;    /* [V, D]; equals embed when tied */
} tr_model_view;

int tr_model_view_init(tr_model_view *view, const tr_param_table *table, const tr_config *cfg,
                       float *buffer, tr_err *err);
void tr_model_view_free(tr_model_view *view);

/* Number of parameters (floats) of a config, without building a table. */
size_t tr_config_num_params(const tr_config *cfg);

/* A model: its config, its parameter table, the one parameter buffer and views into it. */
typedef struct tr_model {
    tr_config cfg;
    tr_param_table table;
    float *params; /* table.total floats, 64-byte aligned */
    tr_model_view view;
} tr_model;

/* Validates cfg, builds the table and allocates zeroed parameters. */
int tr_model_init(tr_model *m, const tr_config *cfg, tr_err *err);
/* GPT-2/Llama-style initialisation: matrices and embeddings N(0, std), the output
 * projections (o_proj, down_proj) N(0, std / sqrt(2 L)), norms 1, biases 0. */
void tr_model_init_random(tr_model *m, uint64_t seed, float std);
void tr_model_free(tr_model *m);

/* ---- training forward and backward ----------------------------------------------
 * Activations for a batch of B sequences of T tokens live in one arena, allocated for the
 * largest B*T seen and reused across steps. Forward saves what backward needs.
 *
 * Logits in chunks of positions (N = B*T rows, row n = b*T + t): a large vocabulary
 * (Qwen2's V = 151,936) makes [N, V] float logits the largest tensor of a step (311 MB
 * for N = 512), so the pass can be split at the final RMSNorm:
 *   h = tr_model_forward_hidden(...)              normed hidden states [N, D], in the arena
 *   for r0 = 0, C, 2C, ...:  n = min(C, N - r0)
 *       tr_model_logits_rows(m, acts, buf, r0, n)          buf[n, V] = h[r0 .. r0+n) W^T
 *       (objective: buf -> dlogits of those rows, in place)
 *       tr_model_backward_logits_rows(m, acts, grads, buf, r0, n)
 *   tr_model_backward_hidden(m, acts, grads)      the rest of the backward
 * Only a [C, V] buffer exists. The LM-head gradient is then summed chunk by chunk: equal
 * to the one-chunk result up to float rounding, and bit-identical for the same C.
 * tr_model_forward / tr_model_backward are the one-chunk case (C = N). */
typedef struct tr_activations tr_activations;

/* The logits budget of tr_logits_chunk_rows when 0 is passed: 256 MiB. Each chunk re-reads
 * the LM head and reads and writes its gradient, so small chunks cost time (docs/training.md:
 * at V = 151,936, 110-row chunks made a step 1.6x slower, 512-row ones 1.1x). */
#define TR_LOGITS_CHUNK_BYTES ((size_t)256 << 20)
/* Rows per logits chunk for N rows of V floats under budget_bytes (0: the default):
 * N when N * V * 4 <= budget (one chunk, as fast as unchunked), else budget / (V * 4)
 * rows (at least 1). 0 when N <= 0. */
int64_t tr_logits_chunk_rows(int64_t N, int V, size_t budget_bytes);

/* Allocates an arena for batches of up to max_B x max_T tokens (max_T <= cfg->max_seq),
 * with a logits buffer for all max_B * max_T rows (what tr_model_forward needs). */
int tr_activations_init(tr_activations **acts, const tr_config *cfg, int max_B, int max_T,
                        tr_err *err);
/* The same with a logits buffer of logit_rows rows only (capped at max_B * max_T; 0: no
 * buffer, for callers that bring their own or only need the hidden states).
 * tr_model_forward then refuses batches of more than logit_rows positions. */
int tr_activations_init_rows(tr_activations **acts, const tr_config *cfg, int max_B, int max_T,
                             int64_t logit_rows, tr_err *err);
void tr_activations_free(tr_activations *acts);
/* Bytes held by the arena. */
size_t tr_activations_bytes(const tr_activations *acts);
/* The arena's logits buffer (NULL when it has none) and in *rows (may be NULL) how many rows
 * of V floats it holds for the current batch: min(logit_rows, B*T of the last forward). */
float *tr_activations_logits(tr_activations *acts, int64_t *rows);

/* Forward pass over tokens[B*T] (each in [0, V): the caller validates). Returns the logits
 * [B*T, V] inside the arena, valid until the next forward; NULL when the batch is larger
 * than the arena or than its logits buffer. */
float *tr_model_forward(const tr_model *m, tr_activations *acts, const int32_t *tokens, int B,
                        int T);
/* Backward pass from dlogits [B*T, V] (may be the buffer forward returned, overwritten in
 * place by an objective). ACCUMULATES parameter gradients into grads (a buffer with the
 * parameter table's layout: zero it at the start of each optimizer step). Uses the
 * activations saved by the last forward. */
void tr_model_backward(const tr_model *m, tr_activations *acts, float *grads,
                       const float *dlogits);

/* Forward up to and including the final RMSNorm. Returns its output, the hidden states
 * [B*T, D] inside the arena (valid until the next forward), or NULL when the batch is
 * larger than the arena. Computes no logits. */
float *tr_model_forward_hidden(const tr_model *m, tr_activations *acts, const int32_t *tokens,
                               int B, int T);
/* logits[n, V] = hidden[r0 .. r0+n) @ lm_head^T (lm_head is the embedding when tied), from
 * the hidden states of the last forward; 0 <= r0, r0 + n <= B*T. logits is the caller's
 * buffer (or tr_activations_logits). */
void tr_model_logits_rows(const tr_model *m, const tr_activations *acts, float *logits,
                          int64_t r0, int64_t n);
/* Backward of tr_model_logits_rows for rows [r0, r0+n): given dlogits [n, V], ACCUMULATES
 * d(lm_head) (or of the tied embedding) into grads and WRITES d(hidden) of those rows into
 * the arena. */
void tr_model_backward_logits_rows(const tr_model *m, tr_activations *acts, float *grads,
                                   const float *dlogits, int64_t r0, int64_t n);
/* The rest of the backward (final norm, layers, embedding), from the d(hidden) rows written
 * by tr_model_backward_logits_rows: every row [0, B*T) must have been written since the
 * last forward. ACCUMULATES into grads. */
void tr_model_backward_hidden(const tr_model *m, tr_activations *acts, float *grads);

#endif
