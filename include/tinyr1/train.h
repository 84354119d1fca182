/* tinyr1 — training: AdamW, learning-rate schedules, gradient clipping, checkpoints with
 * exact resume, and the one training step / loop shared by every stage (pretrain, SFT,
 * distillation, GRPO's policy update). */
#ifndef TINYR1_TRAIN_H
#define TINYR1_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "tinyr1/base.h"
#include "tinyr1/batch.h"
#include "tinyr1/dist.h"
#include "tinyr1/report.h"
#include "tinyr1/model.h"

/* ---- AdamW (decoupled weight decay, Loshchilov & Hutter; PyTorch's update order) -----
 *   p <- p * (1 - lr * wd)                         (only tensors that decay)
 *   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
 *   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * By default only matrices decay: norms, biases and embeddings do not (a tied LM head is
 * the embedding, so it does not decay either). */
typedef struct tr_adamw_params {
    float lr, beta1, beta2, eps, weight_decay;
    int decay_all; /* 1: also decay norms, biases and embeddings */
} tr_adamw_params;

tr_adamw_params tr_adamw_default_params(void); /* lr 3e-4, (0.9, 0.95), 1e-8, wd 0.1 */

typedef struct tr_adamw {
    tr_adamw_params p;
    float *m, *v;  /* moments, same layout as the parameters */
    int64_t t;     /* number of updates done */
    size_t n;
} tr_adamw;

int tr_adamw_init(tr_adamw *opt, const tr_param_table *table, tr_adamw_params p, tr_err *err);
void tr_adamw_free(tr_adamw *opt);
/* One update of params with grads at learning rate lr (the schedule's value). */
void tr_adamw_step(tr_adamw *opt, const tr_param_table *table, float *params, const float *grads,
                   float lr);

/* Global L2 norm of a gradient buffer (accumulated in double). */
double tr_grad_norm(const float *grads, size_t n);
/* torch.nn.utils.clip_grad_norm_: if norm > max_norm, scale by max_norm / (norm + 1e-6).
 * Returns the norm before clipping. max_norm <= 0 disables clipping. */
double tr_clip_grad_norm(float *grads, size_t n, double max_norm);

/* ---- learning-rate schedule --------------------------------------------------------
 * Linear warmup from lr/warmup to lr over `warmup` steps, then constant or cosine decay to
 * min_lr at step `total`. Steps count from 0. */
typedef enum { TR_SCHEDULE_CONSTANT, TR_SCHEDULE_COSINE } tr_schedule_kind;
typedef struct tr_lr_schedule {
    tr_schedule_kind kind;
    float lr, min_lr;
    int warmup, total;
} tr_lr_schedule;
float tr_lr_at(const tr_lr_schedule *s, int64_t step);
/* Parses "constant" or "cosine". */
int tr_schedule_parse(const char *name, tr_schedule_kind *kind, tr_err *err);



/* ---- checkpoints --------------------------------------------------------------------
 * File layout (little-endian), self-describing like GGUF / llm.c's checkpoints:
 *   offset 0   char[8]  magic "TINYR1CK"
 *          8   uint32   format version (1)
 *         12   uint32   header length H in bytes (JSON, UTF-8)
 *         16   uint64   data offset (multiple of 64)
 *         24   uint64   data length in bytes
 *         32   uint64   FNV-1a 64 checksum of the data section
 *         40   uint8[24] reserved (zero)
 *         64   JSON header: {"config": {tr_config fields}, "state": {step, rng, data
 *              cursor/rng, tokens}, "meta": {free-form object}, "tensors": [{"name",
 *              "dtype" ("F32" or "U8"), "shape", "offset" (from the data start), "bytes"}]}
 *   data offset: tensor data, each tensor 64-byte aligned.
 * Tensors: the model parameters under their Hugging Face names; when an optimizer is
 * saved, "optimizer.m.<name>" / "optimizer.v.<name>" (whole buffers as "optimizer.m" and
 * "optimizer.v" with the parameter table's layout); an optional "tokenizer" U8 blob.
 * Written to PATH.tmp, fsynced, then renamed over PATH: a crash never leaves a torn file. */
typedef struct tr_train_state {
    int64_t step;          /* optimizer steps completed */
    tr_rng rng;            /* the run's RNG (sampling, dropout of prompts, ...) */
    uint64_t data_cursor;  /* data source position */
    tr_rng data_rng;       /* data source RNG */
    double tokens;         /* trained tokens so far */
    double elapsed;        /* training seconds so far (for ETA and cost across resumes) */
} tr_train_state;

typedef struct tr_checkpoint_blob {
    const void *data;
    size_t len;
} tr_checkpoint_blob;

/* opt may be NULL (weights only). meta_json: a JSON object text or NULL. */
int tr_checkpoint_save(const char *path, const tr_model *m, const tr_adamw *opt,
                       const tr_train_state *state, const char *meta_json,
                       tr_checkpoint_blob tokenizer, tr_err *err);

typedef struct tr_checkpoint_info {
    tr_config cfg;
    tr_train_state state;
    int has_optimizer;
    char *meta_json;       /* malloc'd, or NULL */
    void *tokenizer;       /* malloc'd blob, or NULL */
    size_t tokenizer_len;
} tr_checkpoint_info;

/* Loads a checkpoint: initialises m from the stored config (m must be uninitialised) and,
 * if opt is not NULL and the file has optimizer state, initialises opt with params `p`
 * and restores its moments and step count. Every field and range is checked; a corrupt
 * or truncated file is refused with a message naming the file and what is wrong. */
int tr_checkpoint_load(const char *path, tr_model *m, tr_adamw *opt, tr_adamw_params p,
                       tr_checkpoint_info *info, tr_err *err);
void tr_checkpoint_info_free(tr_checkpoint_info *info);
/* True if the file starts with the checkpoint magic. */
int tr_is_checkpoint(const char *path);

/* ---- the training step shared by every stage ---------------------------------------
 * An objective turns logits into a loss and, IN PLACE, into dlogits (DESIGN.md: the one
 * central seam). The trainer hands it the logits in chunks of positions (model.h): for
 * each micro-batch, rows [r0, r0 + n) of its B*T rows (row = b*T + t) for r0 = 0, C, 2C,
 * ... in that order, C = the trainer's logits_chunk (all B*T rows in one call when they
 * fit the budget). The objective indexes its per-row data (targets, weights, teacher rows,
 * advantages, ...) by r0 + i; a call with r0 == 0 starts a new micro-batch. `norm` is the
 * normaliser of the whole accumulated batch (all micro-batches and ranks): the sum of
 * weights for CE/KD. It returns this chunk's contribution to the loss in *loss (they add
 * up over chunks and micro-batches) and may report up to TR_MAX_PARTS named parts (e.g.
 * "ce", "kd"), added up the same way. */
#define TR_MAX_PARTS 6
typedef struct tr_objective_out {
    double loss;
    double parts[TR_MAX_PARTS];
} tr_objective_out;

typedef struct tr_objective {
    /* batch: the micro-batch; micro: its index in the step; logits [n, V]: rows
       [r0, r0 + n) of the micro-batch, overwritten with their dlogits */
    int (*fn)(void *ctx, float *logits, int64_t r0, int64_t n, int V, const tr_batch *batch,
              int micro, double norm, tr_objective_out *out, tr_err *err);
    void *ctx;
    const char *part_names[TR_MAX_PARTS]; /* NULL-terminated */
    /* the normaliser of a set of micro-batches; NULL = sum of weights */
    double (*norm)(void *ctx, const tr_batch *micro, int n_micro);
} tr_objective;

/* The plain cross-entropy objective (pretrain, SFT). */
tr_objective tr_objective_ce(void);

typedef struct tr_trainer {
    tr_model *model;
    tr_adamw opt;
    float *grads;
    tr_activations *acts;
    tr_lr_schedule schedule;
    float grad_clip;
    tr_dist dist;
    /* rows of logits computed at once (C above): tr_logits_chunk_rows(max_B * max_T, V, 0)
       after init, i.e. every row when [max_B * max_T, V] floats fit in 256 MiB; change it
       with tr_trainer_set_logits_chunk. Results depend on it only through float rounding
       (exact resume needs the same value). */
    int64_t logits_chunk;
    int max_B, max_T; /* the largest micro-batch the arena holds (tr_trainer_init's) */
} tr_trainer;

typedef struct tr_step_stats {
    double loss, grad_norm, weight, seconds; /* weight: trained tokens in the step (all ranks) */
    /* this rank's time inside MPI_Allreduce (waiting for the slowest rank included) and the
       bytes it contributed (gradients 4 x n_params + the loss sums); 0 for one process */
    double comm_seconds, comm_bytes;
    float lr;
    double parts[TR_MAX_PARTS];
} tr_step_stats;

/* The optimizer is initialised here unless `restored` is not NULL (then it is moved in). */
int tr_trainer_init(tr_trainer *t, tr_model *m, tr_adamw_params p, tr_adamw *restored,
                    tr_lr_schedule schedule, float grad_clip, int max_B, int max_T,
                    tr_dist dist, tr_err *err);
void tr_trainer_free(tr_trainer *t);
/* Sets the logits chunk to `rows` (<= 0: the automatic choice; capped at max_B * max_T) and
 * re-allocates the activation arena with a logits buffer of that many rows. */
int tr_trainer_set_logits_chunk(tr_trainer *t, int64_t rows, tr_err *err);
/* One optimizer step over n_micro micro-batches (gradient accumulation): forward,
 * objective, backward for each; allreduce; clip; AdamW at the schedule's lr. Every token
 * of a weighted position must be in [0, V) (checked). A non-finite loss or gradient norm
 * stops with an error and leaves the parameters untouched. */
int tr_trainer_step(tr_trainer *t, const tr_batch *micro, int n_micro, const tr_objective *obj,
                    tr_step_stats *stats, tr_err *err);

/* ---- the loop: progress, metrics.jsonl, checkpoints, Ctrl-C ----------------------------- */
typedef struct tr_loop_config {
    const char *stage;       /* label for the progress bar and metrics ("pretrain") */
    const char *out_dir;     /* checkpoint.bin and metrics.jsonl go here */
    int64_t steps;           /* total optimizer steps */
    int micro_batches;       /* gradient accumulation */
    int B, T;
    int checkpoint_every;    /* steps; 0 = only at the end */
    int log_every;           /* progress line interval when not on a terminal */
    volatile sig_atomic_t *stop; /* set by a signal handler: checkpoint and return */
    const char *meta_json;   /* stored in the checkpoint's "meta" */
    tr_checkpoint_blob tokenizer;
    int quiet;
} tr_loop_config;

/* Fills one micro-batch from the data state (cursor, rng) in st. */
typedef int (*tr_batch_fn)(void *ctx, tr_batch *batch, tr_train_state *st, tr_err *err);

/* Runs steps st->step .. steps-1. Returns 0 when done, 1 when stopped by *stop (after a
 * checkpoint), -1 on error (a checkpoint of the last good step is kept on disk). */
int tr_train_loop(tr_trainer *t, const tr_loop_config *lc, tr_batch_fn next, void *next_ctx,
                  const tr_objective *obj, tr_train_state *st, tr_err *err);

#endif
