/* tinyr1 — knowledge distillation: a teacher (online model or offline top-K cache) inside a
 * training objective, the top-K cache file, on-policy (GKD) batches sampled from the
 * student, sequence-level traces by rejection sampling, and the scores a distilled student
 * is judged by (held-out NLL, KL(teacher || student), task accuracy).
 *
 * How the pieces meet the training loop (train.h):
 *
 *   tr_distill_data    the tr_batch_fn: the next B examples of a tr_sft_set; with
 *                      probability lambda (one coin per micro-batch, drawn from the run's
 *                      RNG st->rng, so resume is exact) their prompts are completed by the
 *                      STUDENT (tr_generate) instead, and the batch holds prompt + sample.
 *                      It records which example fills each row (the cache needs it).
 *   tr_distill_kd      the tr_objective ctx: per micro-batch it gets the teacher's view of
 *                      the same tokens -- an online teacher runs tr_model_forward_hidden
 *                      (no grad, its own activation arena) and its LM head on each chunk
 *                      of positions the trainer hands over (model.h), so neither side ever
 *                      holds [B*T, V] logits; a cache looks the rows up -- and calls
 *                      tr_kd_loss on the chunk. Parts: "ce", "kd" (the two terms of tr_kd_loss, see
 *                      objectives.h) and "kl": KL(teacher || student) per trained token at
 *                      temperature 1 (online; with a cache: over its K+1 buckets at the
 *                      cache's temperature, a lower bound of the full KL). All three are
 *                      normalised by the whole accumulated batch's weight (tr_kd_loss's norm),
 *                      so they add up over micro-batches.
 *
 * Dimension legend: B rows, T positions, N = B*T, V the student's vocabulary (the columns
 * compared), Vt >= V the teacher's rows, K top-K entries per position. */
#ifndef TINYR1_DISTILL_H
#define TINYR1_DISTILL_H

#include <stdint.h>

#include "tinyr1/base.h"
#include "tinyr1/batch.h"
#include "tinyr1/dist.h"
#include "tinyr1/gen.h"
#include "tinyr1/model.h"
#include "tinyr1/objectives.h"
#include "tinyr1/sft.h"
#include "tinyr1/tasks.h"
#include "tinyr1/text.h"
#include "tinyr1/train.h"

/* ==== the offline top-K cache file ====================================================
 * Little-endian, self-describing; every count, offset and id is checked on open:
 *   offset  type      field
 *     0     char[8]   magic "TR1KDCAC"
 *     8     u32       format version (1)
 *    12     u32       header bytes (128)
 *    16     u32       K (entries per position, 1 <= K <= V)
 *    20     u32       V (vocabulary columns the log-probs are over: the student's vocabulary)
 *    24     u32       id bytes: 2 when V <= 65536, 3 when V <= 2^24, else 4
 *    28     u32       log-prob dtype: 0 F32, 1 F16 (default), 2 BF16
 *    32     f64       temperature the log-probs were computed at
 *    40     u64       n_examples
 *    48     u64       n_tokens (sum of the examples' lengths)
 *    56     u64       n_positions (trained positions: sum over examples of n - max(P, 1))
 *    64     u32       max_len: examples were cut (on the right) to this many tokens
 *    68     u32       reserved (0)
 *    72     u64       sequence hash: FNV-1a 64 over the example table and the tokens
 *    80     u64       data checksum: FNV-1a 64 over every byte after the header
 *    88     u8[40]    reserved (0)
 *   128     example table: n_examples x {u32 n (tokens), u32 P (prompt tokens)}
 *           tokens: n_tokens ids of `id bytes` each, the examples one after another
 *           entries: n_positions records of K ids (`id bytes` each), K log-probs and the
 *           log of the rest mass (dtype), in example order, then position order.
 * The trained positions of an example of n tokens with P prompt tokens are the positions t
 * whose target t+1 is a completion token: t = max(P, 1) - 1 .. n - 2 (as tr_batch_fill
 * weights them). Right truncation does not change a causal model's earlier logits, so a
 * student may train on the cache with any --seq (positions past its cut are not used).
 * A record is K*id_bytes + (K+1)*dtype bytes: at K = 8, F16 and V = 512, 34 bytes a token.
 * The file is written to PATH.tmp, fsynced and renamed: a crash never leaves a torn cache. */
typedef enum { TR_KDC_F32 = 0, TR_KDC_F16 = 1, TR_KDC_BF16 = 2 } tr_kdc_dtype;

/* "f32", "f16", "bf16" <-> enum. */
const char *tr_kdc_dtype_name(tr_kdc_dtype dt);
int tr_kdc_dtype_parse(tr_kdc_dtype *dt, const char *name, tr_err *err);

typedef struct tr_kd_cache {
    /* header (read-only after open) */
    int K, V, id_bytes;
    tr_kdc_dtype dtype;
    double temperature;
    int64_t n_examples, n_tokens, n_positions;
    int max_len;
    uint64_t seq_hash, checksum;
    size_t file_bytes, record_bytes;
    /* internal: the mapped file and per-example offsets */
    const uint8_t *base;
    int mapped;
    int64_t *tok_off; /* [n_examples] first token of each example */
    int64_t *pos_off; /* [n_examples] first record of each example */
    const uint8_t *table, *tokens, *entries;
    char path[512];
} tr_kd_cache;

/* Options of tr_kd_cache_write. */
typedef struct tr_kd_cache_params {
    int K;              /* default 8 */
    double temperature; /* default 1 */
    tr_kdc_dtype dtype; /* default F16 */
    int max_len;        /* cut examples to this many tokens (<= the teacher's max_seq + 1);
                           0: the teacher's max_seq */
    int batch;          /* examples per teacher forward; default 8 */
    int64_t logits_chunk; /* positions whose teacher logits are computed at once; 0
                             (default): tr_logits_chunk_rows (model.h). The file does not
                             depend on it. */
    /* NULL (default): one process. Else batch b of `batch` examples is scored by rank
       b % world; rank 0 gathers the records and alone writes the file (the same bytes as
       one process); the other ranks return 0 without a file. */
    const tr_dist *dist;
} tr_kd_cache_params;

tr_kd_cache_params tr_kd_cache_default_params(void);

/* Runs the teacher over every example of set (in index order, batched) and writes the
 * cache for its first V vocabulary columns (V <= teacher vocab; see tr_kd_vocab_check).
 * Every token must be in [0, V). *bytes (may be NULL) receives the file size. progress
 * (may be NULL) is called after each batch with (done, total) examples. */
int tr_kd_cache_write(const char *path, const tr_model *teacher, int V, const tr_sft_set *set,
                      const tr_kd_cache_params *p, int64_t *bytes,
                      void (*progress)(void *ctx, int64_t done, int64_t total), void *progress_ctx,
                      tr_err *err);

/* Maps and validates a cache: magic, version, header fields and reserved bytes, sizes
 * against the file length (overflow-safe), the checksum, every example's (n, P), every
 * stored token < V, the totals. On failure c is zeroed and err names the file and field. */
int tr_kd_cache_open(tr_kd_cache *c, const char *path, tr_err *err);
void tr_kd_cache_close(tr_kd_cache *c);

/* Appends the cache's examples (their stored, possibly cut, token sequences) to set, in
 * order, so that example i of the set is example i of the cache. */
int tr_kd_cache_to_set(const tr_kd_cache *c, tr_sft_set *set, tr_err *err);

/* The FNV-1a 64 hash over (n, P) and the tokens of examples cut to max_len tokens: what the
 * header's sequence hash holds. Used to check that --data tokenizes to the cached examples. */
uint64_t tr_kd_cache_hash_set(const tr_sft_set *set, int max_len);

/* Decodes the records of positions t0 .. t0+n-1 of example ex (they must be trained
 * positions of it): ids [n, K], logprobs [n, K], rest [n] (float; -inf kept). */
int tr_kd_cache_rows(const tr_kd_cache *c, int64_t ex, int64_t t0, int64_t n, int32_t *ids,
                     float *logprobs, float *rest, tr_err *err);

/* IEEE half from float, round to nearest even (overflow -> inf, NaN kept). */
uint16_t tr_f32_to_f16(float f);

/* ==== the KD objective ================================================================ */
typedef struct tr_distill_kd {
    tr_kd_params params;
    int V; /* student vocabulary = columns compared */
    /* online teacher (borrowed) or cache (borrowed): exactly one */
    const tr_model *teacher;
    tr_activations *tacts;
    const tr_kd_cache *cache;
    /* example index of each row of each micro-batch, [max_micro * max_B] (set by
       tr_distill_data; needed with a cache) */
    const int64_t *rows;
    int max_B, max_T, max_micro;
    /* scratch */
    float *scratch;         /* [rows, V] for the KL metric, grown to the largest chunk */
    float *tlogits;         /* [rows, Vt] an online teacher's logits of one chunk (grown) */
    size_t scratch_cap, tlogits_cap; /* floats held by scratch and tlogits */
    int32_t *ids;           /* sparse: [max_B*max_T, K] */
    float *logprobs, *rest; /* [max_B*max_T, K], [max_B*max_T] */
    int kl_metric;          /* 1 (default): compute the "kl" part */
    /* data parallelism: the micro-batches this objective sees are rows [row0, row0 + b->B)
       of the global ones `rows` describes (rank x B / world; 0 for one process) */
    int row0;
} tr_distill_kd;

/* Online teacher: teacher->cfg.vocab >= V (padding rows ignored) and max_seq >= max_T. */
int tr_distill_kd_init_online(tr_distill_kd *kd, const tr_model *teacher, int V,
                              const tr_kd_params *p, int max_B, int max_T, tr_err *err);
/* Offline: c->V == V and p->temperature == c->temperature (a truncated distribution cannot
 * be re-tempered exactly). rows: see tr_distill_data.rows. */
int tr_distill_kd_init_cache(tr_distill_kd *kd, const tr_kd_cache *c, int V, const tr_kd_params *p,
                             int max_B, int max_T, int max_micro, const int64_t *rows, tr_err *err);
void tr_distill_kd_free(tr_distill_kd *kd);
/* The tr_objective (fn, ctx = kd, parts "ce", "kd", "kl"). */
tr_objective tr_distill_kd_objective(tr_distill_kd *kd);

/* ==== the batch source: dataset, or on-policy samples from the student ================= */
typedef struct tr_distill_data {
    tr_sft_set *set; /* borrowed */
    int32_t pad;
    tr_trunc trunc;
    int n_micro, B, T;
    /* on-policy (GKD) */
    double lambda;           /* probability that a micro-batch is sampled from the student */
    const tr_model *student; /* borrowed (required when lambda > 0) */
    tr_gen_params gen;       /* sampling of the student (temperature, stop tokens);
                                max_new_tokens is set per row to fill T+1 tokens */
    tr_infer *infer;         /* created at init when lambda > 0 */
    /* bookkeeping */
    int64_t calls; /* batches served (the micro index is calls % n_micro) */
    int64_t *rows; /* [n_micro * B] example index per row of each micro-batch */
    int64_t n_onpolicy, n_batches, n_sampled_tokens;
    /* data parallelism (set after init; default 0 of 1): this process trains rows
       [rank B / world, (rank + 1) B / world) of each batch, so an on-policy batch samples
       only those (every row's seed is still drawn, in order, from st->rng) */
    int rank, world;
} tr_distill_data;

int tr_distill_data_init(tr_distill_data *d, tr_sft_set *set, int32_t pad, tr_trunc trunc,
                         int n_micro, int B, int T, double lambda, const tr_model *student,
                         const tr_gen_params *gen, tr_err *err);
void tr_distill_data_free(tr_distill_data *d);
/* The tr_batch_fn (ctx = a tr_distill_data). The data cursor advances by B whatever the
 * coin says (an on-policy batch uses the prompts of the examples it replaces); each
 * sampled sequence is seeded by a draw from st->rng. */
int tr_distill_next_batch(void *ctx, tr_batch *b, tr_train_state *st, tr_err *err);

/* ==== scores ========================================================================= */
/* Over every example of set (in order, right-cut to T+1 tokens, completion positions):
 * the student's mean negative log-likelihood per token, and when teacher is not NULL the
 * teacher's own NLL and mean KL(teacher || student) at temperature 1 over the first V
 * columns. Any output pointer may be NULL. */
typedef struct tr_distill_scores {
    double nll, teacher_nll, kl;
    int64_t tokens;
} tr_distill_scores;

int tr_distill_score(const tr_model *student, const tr_model *teacher, tr_sft_set *set, int B,
                     int T, int32_t pad, tr_distill_scores *out, tr_err *err);

/* Stop tokens a model's text ends with: eos, <|im_end|> when the tokenizer has it, and bos
 * for tokenizers that start texts with bos (llama2.c models end a story with it). */
int tr_distill_stop_tokens(const tr_tokenizer *tok, int32_t *out, int cap);

/* Decodes generated ids (the stop token, if last and a stop token, is dropped) following
 * the prompt's last token `prev` into a malloc'd string. */
char *tr_distill_decode(const tr_tokenizer *tok, int32_t prev, const int32_t *ids, int n,
                        const int32_t *stops, int n_stops, tr_err *err);

/* One generated response to a problem and its verdict. */
typedef struct tr_distill_trace {
    int64_t problem; /* index into the problems */
    char *text;      /* the completion (owned) */
    int n_tokens;
    tr_verdict verdict;
} tr_distill_trace;

/* Samples n_per_prompt responses from model to each problem's prompt (through the
 * template, generation params p: stop tokens are added from the tokenizer), verifies each
 * with the task (task may be NULL: no verification, everything counts as correct) and
 * returns them all in *out (n_problems * n_per_prompt, problem-major). Sequence seeds are
 * seed + index. max_slots: sequences generated at once. */
int tr_distill_sample(const tr_model *model, const tr_tokenizer *tok, tr_template_kind tpl,
                      const tr_task *task, const tr_problem *problems, int64_t n_problems,
                      int n_per_prompt, const tr_gen_params *p, uint64_t seed, int max_slots,
                      tr_distill_trace **out, tr_err *err);
void tr_distill_traces_free(tr_distill_trace *t, int64_t n);

#endif
