/* tinyr1 — generation: the inference forward over a KV cache, the sampler, and the
 * batched generator that GRPO, rejection sampling, on-policy distillation, eval and the
 * `generate` / `chat` commands all use.
 *
 * Three layers, each usable on its own:
 *
 *   tr_infer     the inference forward. A KV cache of `max_slots` sequences ("slots"); a
 *                call feeds any number of token runs, one per slot, continuing each slot
 *                where it stopped: a prefill is a run of a whole prompt, a decode step is a
 *                run of one token per live sequence. Every call batches the weight matmuls
 *                across all the rows it is given ([rows, D] x W^T). It computes the same
 *                function as the training forward (tr_model_forward) and shares its kernels
 *                (RMSNorm, RoPE, SwiGLU, embedding); the matmuls and the attention over the
 *                cache are its own, written so that each output row is computed by the same
 *                instructions in the same order whatever the batch: a sequence's logits are
 *                BITWISE identical whether it runs alone or among others, at any thread
 *                count. So a seed reproduces a sample regardless of batch composition. It
 *                computes from its own packed copy of the weights (tr_panels), a snapshot:
 *                tr_infer_sync after the model is trained.
 *
 *   tr_sampler   a chain of stages over the logits of one position (repetition penalty,
 *                temperature, top-k, top-p, min-p), then a draw from the sequence's own RNG.
 *                It never modifies the caller's logits and reports the chosen token's
 *                log-probability both under the distribution it sampled from and under the
 *                plain model (temperature 1, no stage).
 *
 *   tr_generate  batched generation of many requests through a tr_infer: prompts of
 *                different lengths are prefilled together, then one decode step feeds every
 *                live sequence at once; a sequence stops on its own (stop token, stop string,
 *                max tokens, full context) and frees its slot for the next waiting request
 *                (continuous batching).
 *
 * Dimension legend: V vocab, D dim, L layers, NH query heads, KVH key/value heads, HD head
 * dim, G = NH / KVH query heads per key/value head (grouped-query attention).
 *
 * KV cache layout (per layer, keys and values alike): [max_slots, KVH, max_seq, HD], so the
 * keys of one (slot, kv-head) are contiguous; query head h reads kv-head h / G. Keys are
 * stored after RoPE, as F32 (the default) or BF16 (tr_infer_set_kv). Bytes:
 * 2 * L * max_slots * KVH * max_seq * HD * (4 or 2).
 */
#ifndef TINYR1_GEN_H
#define TINYR1_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "tinyr1/base.h"
#include "tinyr1/model.h"

/* ==== the inference forward ========================================================== */

typedef struct tr_infer tr_infer; /* opaque: the model pointer, the KV cache, scratch */

/* Creates a context for up to max_slots sequences of up to max_seq positions each
 * (max_seq 0: the model's cfg.max_seq; it may not exceed it, RoPE tables end there; size
 * it to the run with tr_gen_max_seq: the KV cache, allocated at the first forward, holds
 * max_slots x max_seq positions). The model is borrowed: it must outlive the context. The context computes from its own
 * packed copy of the weight matrices (below, "weights"), taken before the first forward,
 * and reads norms and biases from the model at every call: after a trainer updates the
 * model, call tr_infer_sync before the next forward (until then a call mixes the new norms
 * and biases with the old matrices), and the cache holds keys and values of the old
 * weights. */
int tr_infer_init(tr_infer **ctx, const tr_model *m, int max_slots, int max_seq, tr_err *err);
void tr_infer_free(tr_infer *ctx);

int tr_infer_max_slots(const tr_infer *ctx);
/* Threads: a call uses tr_get_threads() threads, fewer when the rows are few (at least about
 * 0.25 MFLOP of matmul work per thread), and, while `adaptive` is on (the default), ONE thread
 * when the machine is oversubscribed (1-minute load average above the online CPUs + 0.5,
 * read from /proc/loadavg at most once a second): the phases of a layer end in barriers,
 * and a partner thread that the OS has descheduled stalls every one of them. Results do not
 * depend on the thread count. With adaptive off a call uses exactly tr_get_threads() threads
 * (the benchmark, to match --threads; the tests, to exercise the threaded path). */
void tr_infer_set_adaptive(tr_infer *ctx, int on);
int tr_infer_max_seq(const tr_infer *ctx);
const tr_model *tr_infer_model(const tr_infer *ctx);
/* Bytes of the KV cache, the scratch buffers and the packed weights (the cache and the
 * weights are counted before the first forward allocates and packs them, in the current
 * types). */
size_t tr_infer_bytes(const tr_infer *ctx);

/* Slots. acquire returns a free slot (its length reset to 0) or -1 when all are in use;
 * release frees it. length is the number of positions the slot holds in the cache.
 * truncate(slot, n) forgets positions n.. (n <= length): e.g. to regenerate after a prompt.
 * copy duplicates src's first `n` positions into dst (n <= length(src)); dst's length
 * becomes n: a prompt prefilled once serves G samples (GRPO groups). */
int tr_infer_acquire(tr_infer *ctx);
void tr_infer_release(tr_infer *ctx, int slot);
int tr_infer_length(const tr_infer *ctx, int slot);
int tr_infer_truncate(tr_infer *ctx, int slot, int n, tr_err *err);
int tr_infer_copy(tr_infer *ctx, int dst, int src, int n, tr_err *err);

/* The general call: n_runs runs; run i appends tokens[i][0 .. n_tokens[i]) to slot
 * slots[i] at positions length(slot) ..., writes their keys and values into the cache and
 * computes logits:
 *   all_logits = 0: logits[i * V ...] = the logits after the LAST token of run i ([n_runs, V]);
 *   all_logits = 1: the logits after every token, runs concatenated ([sum n_tokens, V]).
 * logits may be NULL (the cache is filled, no LM head is computed). A slot may appear only
 * once per call; every token must be in [0, V); length + n_tokens <= max_seq. Slots do not
 * have to be acquired (acquire/release is bookkeeping for callers that share a context).
 * Large calls are processed in chunks of rows; no allocation happens per call. */
int tr_infer_forward(tr_infer *ctx, int n_runs, const int *slots, const int32_t *const *tokens,
                     const int *n_tokens, int all_logits, float *logits, tr_err *err);
/* One prompt into one slot: tr_infer_forward with one run. logits: [1, V] or [n, V]. */
int tr_infer_prefill(tr_infer *ctx, int slot, const int32_t *tokens, int n, int all_logits,
                     float *logits, tr_err *err);
/* One decode step for n live sequences: token[i] goes to slot slots[i];
 * logits [n, V] (row i for sequence i). */
int tr_infer_decode(tr_infer *ctx, int n, const int *slots, const int32_t *tokens, float *logits,
                    tr_err *err);

/* ---- weights packed in panels: the layout the inference matmul reads -------------------
 * A weight matrix W [n, C] (n outputs, C inputs, row-major as in the model) is stored as
 * ceil(n / 16) panels of TR_PANEL = 16 rows; panel p holds W[16 p + i][k] at
 * [p][k][i]: for each input column k, the weights of 16 consecutive outputs side by side
 * (one 64-byte line in F32), rows past n zero. Exactly one of f32 / bf16 is set. */
#define TR_PANEL 16
typedef struct tr_panels {
    const float *f32;     /* [ceil(n / 16), C, 16] F32, or NULL */
    const uint16_t *bf16; /* the same layout in raw bfloat16 bits, or NULL */
    int n, C;
} tr_panels;
/* Elements of the packed form of an [n, C] matrix: ceil(n / 16) * 16 * C. */
size_t tr_panels_numel(int n, int C);
/* dst[tr_panels_numel(n, C)] = the panels of w [n, C] (row-major): as is, rounded to
 * bfloat16 (nearest even, tr_f32_to_bf16), or from bfloat16 bits. Parallel (OpenMP). */
void tr_panels_pack(float *dst, const float *w, int n, int C);
void tr_panels_pack_bf16(uint16_t *dst, const float *w, int n, int C);
void tr_panels_repack_bf16(uint16_t *dst, const uint16_t *w, int n, int C);
/* dst[C] = row `row` of W, read back from the panels (widened when BF16). */
void tr_panels_row(float *dst, const tr_panels *w, int row);

/* The matmul kernel of the inference path, for output columns [j0, j1) of W:
 *   out[r * ldo + (j - j0)] = (accumulate ? out[r * ldo + (j - j0)] : 0)
 *                             + (sum_k in[r * ldi + k] * W[j][k] (+ bias[j - j0]))
 * for r < R, j0 <= j < j1 <= w->n (bias, when not NULL, indexed like out). Single-threaded
 * (callers split the columns across threads). Each sum is one chain of fused multiply-adds
 * over k = 0 .. C - 1 in order, then the bias, then the accumulation: the same operations
 * whatever R, j0, j1 or the position of (r, j) in a tile, so results do not depend on how a
 * batch is composed or split; BF16 panels give bitwise the F32 result of the rounded
 * weights. */
void tr_infer_matmul(float *out, int64_t ldo, const float *in, int64_t ldi, int R,
                     const tr_panels *w, int j0, int j1, const float *bias, int accumulate);

/* ---- weights: the context's packed copy, F32 or BF16 -------------------------------------
 * A context keeps its own copy of every weight matrix and of the embedding, packed in
 * panels (tr_panels above; the embedding row of a token is read back from them), taken
 * from the model before its first forward or at the calls below. Norms and biases are read
 * from the model at every call. Memory: 4 (F32) or 2 (BF16) bytes per matrix parameter on
 * top of the model (tr_infer_bytes counts them).
 *   TR_INFER_F32   the default: the model's weights as they are.
 *   TR_INFER_BF16  rounded to bfloat16 (nearest even): half the bytes a decode step streams
 *                  from memory; the kernel widens them exactly and accumulates in f32, so
 *                  results are BITWISE those of F32 inference of the BF16-rounded weights.
 *   TR_INFER_AUTO  BF16 when every matrix and embedding value is exactly representable in
 *                  bfloat16 (a model loaded from a BF16 safetensors file), so the results
 *                  are bitwise those of F32; otherwise F32.
 * The copy is a snapshot: after the model's weights change (a trainer's step), call
 * tr_infer_sync before the context runs again, or it keeps computing with the old weights
 * (GRPO and on-policy distillation sync before every generation). */
typedef enum { TR_INFER_F32 = 0, TR_INFER_BF16 = 1, TR_INFER_AUTO = 2 } tr_infer_weights;
/* Packs the model's weights now in mode w. Returns 0 or -1 (out of memory: the context
 * keeps its previous weights; or the weights came from tr_infer_use_bf16: the model of
 * such a context is inference-only, its F32 matrices zeros, so packing them is refused
 * until tr_infer_use_bf16(ctx, NULL, ...) says so on purpose). */
int tr_infer_set_weights(tr_infer *ctx, tr_infer_weights w, tr_err *err);
/* Re-packs the model's weights in the current mode (after they changed). -1 when the
 * weights came from tr_infer_use_bf16 (the model does not hold them) or out of memory. */
int tr_infer_sync(tr_infer *ctx, tr_err *err);
/* TR_INFER_F32 or TR_INFER_BF16: what calls use now. */
tr_infer_weights tr_infer_get_weights(const tr_infer *ctx);
/* BF16 weights from the caller: params_bf16 holds m->table.total raw bfloat16 values at the
 * offsets of m->params; the matrices and the embedding are packed from it now (the caller
 * may free it after the call), norms and biases are read from m->params, so the model's
 * F32 matrices need not hold anything (tr_load_hf_bf16 loads a folder that way). NULL: back
 * to the model's F32 weights (packed before the next forward). Returns 0 or -1 (out of
 * memory: the context keeps its previous weights). */
int tr_infer_use_bf16(tr_infer *ctx, const uint16_t *params_bf16, tr_err *err);

/* ---- the KV cache's element type -------------------------------------------------------
 *   TR_KV_F32   the default: keys and values as computed; the cache path matches the
 *               training forward (to ~1e-6).
 *   TR_KV_BF16  keys (after RoPE) and values rounded to bfloat16 (nearest even) as they are
 *               written: half the memory, and half the bytes the attention reads per cached
 *               position, which is what a decode step reads most at long contexts or large
 *               batches. Results are those of attention over the rounded keys and values
 *               (logits typically within ~1e-2 of F32; greedy text may diverge after many
 *               tokens); batch invariance holds as with F32 (every position is rounded once,
 *               whether prefilled or decoded).
 * The cache is allocated at the first forward, in the type set then (a BF16 cache never
 * needs room for an F32 one first); out of memory, that forward fails with a message.
 * set_kv is allowed only while no slot holds positions (before the first forward, or once
 * every slot was released or truncated to 0: the cache is freed and allocated again in the
 * new type); -1 otherwise, naming the slot, or for an unknown kind. */
typedef enum { TR_KV_F32 = 0, TR_KV_BF16 = 1 } tr_infer_kv;
int tr_infer_set_kv(tr_infer *ctx, tr_infer_kv kind, tr_err *err);
tr_infer_kv tr_infer_get_kv(const tr_infer *ctx);

/* ---- kernels of the inference path (src/core/ops_infer.c) ---------------------------- */

/* dst[i] = bf16(src[i]) rounded to nearest even (tr_f32_to_bf16); widen: the exact inverse
 * direction. is_bf16: 1 when every value of x[n] has zero low 16 bits (exactly BF16). */
void tr_bf16_round_to(uint16_t *dst, const float *src, size_t n);
void tr_bf16_widen(float *dst, const uint16_t *src, size_t n);
int tr_f32_is_bf16(const float *x, size_t n);
/* Single-threaded row kernels for callers inside a parallel region; each performs the
 * operations of its ops.c twin (tr_rmsnorm_forward without rstd, tr_rope_forward with
 * B = 1, tr_swiglu_forward with an output stride) in the same order, so results are equal.
 *   rmsnorm: out[R, C] = in * rstd * w.   rope: T rows of stride `stride`, positions pos0..
 *   swiglu:  out[r * ldo + i] = silu(gu[r, i]) * gu[r, H + i] for gu [R, 2H]. */
void tr_infer_rmsnorm_rows(float *out, const float *in, const float *w, int R, int C, float eps);
void tr_infer_rope_rows(float *x, const float *cos_t, const float *sin_t, int T, int n_heads,
                        int HD, int64_t stride, int pos0);
void tr_infer_swiglu_rows(float *out, int64_t ldo, const float *gu, int R, int H);
/* The G query heads of one row that share a kv-head, against its n cached positions:
 * o[g] = softmax(scale * q[g] K^T) V for g < G (q, o: [G, HD]; K, V: [n, HD], rows
 * contiguous); sc[G * n] scratch. Each key and value row is read once for the G heads; per
 * head the operations are the same whatever G or else is running. */
void tr_infer_attend(float *o, const float *q, int G, const float *K, const float *V, int n, int HD,
                     float scale, float *sc);
/* The same over a BF16 cache (K, V: raw bfloat16 bits): bitwise tr_infer_attend of the
 * widened keys and values. */
void tr_infer_attend_bf16(float *o, const float *q, int G, const uint16_t *K, const uint16_t *V,
                          int n, int HD, float scale, float *sc);

/* ==== the sampler ===================================================================== */

/* Stages, applied in the order of the chain. Each sees the candidates (token, logit) the
 * previous stages left and keeps a subset or rescales logits; probabilities are always
 * the softmax of the current candidates' logits.
 *   TR_STAGE_REPETITION  (value = penalty > 0) for every token that occurs in the history
 *                        window: logit > 0 ? logit / penalty : logit * penalty (CTRL, as
 *                        Hugging Face's RepetitionPenaltyLogitsProcessor). Must come first.
 *   TR_STAGE_TEMPERATURE (value = T > 0) logit / T. (T = 0 is greedy: see tr_sampler_params.)
 *   TR_STAGE_TOP_K       (k) keep the k largest logits (ties: lower token id first).
 *   TR_STAGE_TOP_P       (value = p in (0, 1]) keep the smallest prefix of the candidates
 *                        sorted by probability (descending, ties by id) whose cumulative
 *                        probability reaches p (at least one token).
 *   TR_STAGE_MIN_P       (value = m in [0, 1]) keep tokens with prob >= m * max prob.
 *   TR_STAGE_GREEDY      keep only the largest logit (ties: the lowest id, like run.c). */
typedef enum {
    TR_STAGE_REPETITION,
    TR_STAGE_TEMPERATURE,
    TR_STAGE_TOP_K,
    TR_STAGE_TOP_P,
    TR_STAGE_MIN_P,
    TR_STAGE_GREEDY,
} tr_stage_kind;

typedef struct tr_sampler_stage {
    tr_stage_kind kind;
    float value; /* penalty, temperature, p or min-p */
    int k;       /* top-k; the repetition window (last k tokens of the history; 0 = all) */
} tr_sampler_stage;

#define TR_SAMPLER_MAX_STAGES 8

/* The usual knobs. The chain built from them (tr_sampler_init) is, in this order:
 *   repetition (if penalty != 1), then
 *   temperature == 0: greedy; else temperature (if != 1), top-k (if > 0), top-p (if < 1),
 *   min-p (if > 0).
 * Temperature comes before the truncations, as in Hugging Face and vLLM: top-p 0.95 at
 * temperature 0.6 (R1's evaluation) is the nucleus of the tempered distribution. */
typedef struct tr_sampler_params {
    float temperature;        /* 0: greedy */
    int top_k;                /* 0: off */
    float top_p;              /* 1: off */
    float min_p;              /* 0: off */
    float repetition_penalty; /* 1: off */
    int repetition_window;    /* last N tokens of the history (prompt + generated); 0 = all */
} tr_sampler_params;

/* temperature 1, everything else off (plain sampling from the model). */
tr_sampler_params tr_sampler_default_params(void);

/* A candidate token during sampling: its id and its current (processed) logit. */
typedef struct tr_candidate {
    float logit;
    int32_t id;
} tr_candidate;

/* A sampler: the chain and its scratch. Not shared between threads (one per thread). */
typedef struct tr_sampler {
    tr_sampler_stage stages[TR_SAMPLER_MAX_STAGES];
    int n_stages;
    int vocab;
    /* scratch, [vocab] each, owned */
    tr_candidate *cand;
    double *probs;
    uint8_t *seen;
} tr_sampler;

/* Builds the chain from params (validated: temperature >= 0, top_k >= 0, top_p in (0, 1],
 * min_p in [0, 1], penalty > 0, window >= 0). */
int tr_sampler_init(tr_sampler *s, int vocab, const tr_sampler_params *p, tr_err *err);
/* An empty chain (plain sampling at temperature 1) to which stages are added in order. */
int tr_sampler_init_empty(tr_sampler *s, int vocab, tr_err *err);
int tr_sampler_add(tr_sampler *s, tr_sampler_stage stage, tr_err *err);
void tr_sampler_free(tr_sampler *s);
/* 1 if the chain is deterministic (ends with a single candidate: greedy). */
int tr_sampler_is_greedy(const tr_sampler *s);

typedef struct tr_sample_info {
    float logprob;       /* log of the chosen token's probability under the distribution
                            sampled from (after every stage); 0 for greedy */
    float logprob_model; /* log softmax of the caller's logits at the token: the plain model
                            at temperature 1 (what GRPO's ratio and KL need) */
    int n_candidates;    /* candidates left after the chain */
} tr_sample_info;

/* Samples one token from logits[V] (not modified). history[0 .. n_history) are the tokens
 * so far (for the repetition penalty; may be NULL). One uniform number is drawn from rng
 * per call unless the chain is greedy (then none), so a sequence's stream of draws depends
 * only on its own RNG. info may be NULL. */
int32_t tr_sampler_sample(tr_sampler *s, const float *logits, const int32_t *history, int n_history,
                          tr_rng *rng, tr_sample_info *info);

/* log softmax(logits)[token] computed stably (max subtracted, sum in double). */
float tr_logprob(const float *logits, int V, int32_t token);

/* ==== batched generation ============================================================== */

typedef enum {
    TR_STOP_NONE = 0,   /* still running (or never started) */
    TR_STOP_TOKEN,      /* sampled one of the stop tokens (it is the last token kept) */
    TR_STOP_STRING,     /* the generated text came to contain a stop string */
    TR_STOP_MAX_TOKENS, /* max_new_tokens generated */
    TR_STOP_CONTEXT,    /* the slot's cache is full (max_seq positions) */
    TR_STOP_CALLBACK,   /* the callback asked to stop this sequence */
} tr_stop_reason;

/* "running", "stop_token", "stop_string", "max_tokens", "context", "callback". */
const char *tr_stop_reason_name(tr_stop_reason r);

/* Bytes a token prints after token `prev` (-1: none); *len receives the count. The same
 * shape as tr_tokenizer_token_bytes (text.h), so that function can be passed with its
 * tokenizer as ctx. Needed only for stop strings. */
typedef const char *(*tr_token_text_fn)(const void *ctx, int32_t prev, int32_t id, size_t *len);

#define TR_GEN_MAX_STOP 8

typedef struct tr_gen_params {
    tr_sampler_params sampler;
    int max_new_tokens;                   /* > 0 */
    int32_t stop_tokens[TR_GEN_MAX_STOP]; /* e.g. eos, <|im_end|> */
    int n_stop_tokens;
    const char *stop_strings[TR_GEN_MAX_STOP]; /* e.g. "</answer>" */
    int n_stop_strings;
    tr_token_text_fn token_text; /* required when n_stop_strings > 0 */
    const void *token_text_ctx;
} tr_gen_params;

/* temperature 1, no truncation, 256 new tokens, no stop condition. */
tr_gen_params tr_gen_default_params(void);

typedef struct tr_gen_request {
    const int32_t *prompt; /* at least one token (e.g. bos) */
    int prompt_len;
    uint64_t seed; /* seeds this sequence's RNG (tr_rng_seed) */
} tr_gen_request;

/* One sequence's output. Arrays are malloc'd with room for max_new_tokens; free with
 * tr_gen_result_free. */
typedef struct tr_gen_result {
    int32_t *tokens;       /* [n] generated tokens; a stop token, when it ended the sequence,
                              is the last one */
    float *logprobs;       /* [n] log-prob under the distribution sampled from (0 if greedy) */
    float *logprobs_model; /* [n] log-prob under the plain model (temperature 1) */
    int n;
    tr_stop_reason stop;
    int stop_index; /* TR_STOP_TOKEN / TR_STOP_STRING: which stop token / string */
    tr_rng rng;     /* the sequence's RNG state after its last draw */
} tr_gen_result;

void tr_gen_result_free(tr_gen_result *r);

/* Called after every generated token (streaming). seq indexes the requests; r->tokens[r->n-1]
 * is the new token and r->stop says whether the sequence has just stopped. Return 0 to go
 * on, 1 to stop this sequence (TR_STOP_CALLBACK), -1 to abort the whole call (tr_generate
 * then fails with "aborted by the callback"). */
typedef int (*tr_gen_callback)(void *ctx, int seq, const tr_gen_result *r);

/* Generates for n requests through ctx, at most tr_infer_max_slots(ctx) at a time: waiting
 * requests take the slots finished ones release. Every slot of ctx must be free on entry;
 * all are free again on return. out[n] is filled (each initialised here; free each with
 * tr_gen_result_free, also after a failure). cb may be NULL.
 * Determinism: out[i] depends only on the model, request i (prompt, seed) and params, not on
 * n, the order of the requests, the slot count or the thread count. */
int tr_generate(tr_infer *ctx, const tr_gen_request *reqs, int n, const tr_gen_params *p,
                tr_gen_result *out, tr_gen_callback cb, void *cb_ctx, tr_err *err);

/* The positions a context needs to generate max_new_tokens after prompts of up to
 * longest_prompt tokens: their sum, at most m's max_seq (at least 1). Size contexts with it
 * (tr_infer_init's max_seq), not with the model's max_seq: a Hugging Face model declares
 * 32,768 to 131,072 positions, and the cache is allocated in full: 2 * L * KVH *
 * max_seq * HD * 4 bytes per slot, 7.5 GB per slot for DeepSeek-R1-Distill-Qwen-1.5B's
 * 131,072. */
int tr_gen_max_seq(const tr_model *m, int64_t longest_prompt, int max_new_tokens);

#endif
