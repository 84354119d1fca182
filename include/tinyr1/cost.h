/* tinyr1 — cost accounting: exact FLOP counts, timers, MFU, peak memory, and money.
 *
 * Three parts (docs/cost.md has the derivations, the file formats and the commands):
 *
 * 1. FLOP counts from the model's shapes (tr_flops_*). Convention: one multiply-add = 2
 *    FLOPs, and only matrix products are counted: the seven weight matmuls of a layer, the
 *    LM head, and the two attention products (Q K^T and P V). Elementwise work (RMSNorm,
 *    RoPE, softmax, SiLU, residual adds, bias adds, the embedding lookup, the optimizer) is
 *    O(tokens x D), not O(tokens x D^2), and is left out, as in the 6ND rule and in MFU as
 *    PaLM defines it. Attention is counted over the causal half only: position t (0-based)
 *    attends to t + 1 keys, so a sequence of T positions has T(T+1)/2 (query, key) pairs.
 *    A kernel that computes the full T x T score matrix and masks it does about twice the
 *    attention work; that extra work is not useful work and is not counted.
 *
 *      dimensions: D dim, L layers, NH heads, KVH kv heads, HD head_dim, H hidden_dim,
 *                  V vocab, Q = NH*HD, KV = KVH*HD
 *      per token and layer, weight matmuls:  2 (D Q + 2 D KV + Q D + 3 D H)
 *      per (query, key) pair and layer:      4 NH HD    (2 NH HD for Q K^T, 2 NH HD for P V)
 *      per position with logits:             2 D V      (LM head)
 *      backward = exactly 2 x forward (each product X W has two products in its backward:
 *                 dX = dY W and dW = dY^T X, each the size of the forward; the same holds
 *                 for Q K^T and P V). The input gradient of layer 0 is counted: the
 *                 embedding is trained. The embedding backward is a scatter-add (not counted).
 *      train step = forward + backward = 3 x forward
 *                 = 6 N_mm tokens + 6 L NH HD sum_t (t + 1)
 *      where N_mm = L (D Q + 2 D KV + Q D + 3 D H) + V D  (tr_flops_params_matmul).
 *    Compared with 6ND (N = tr_config_num_params): 6ND also counts the norm weights and
 *    biases (not matmuls) and, for untied models, the input embedding (a lookup), and it
 *    omits the attention term 6 L NH HD (T+1)/2 per token (causal half).
 *
 *    Counts are doubles: exact integers up to 2^53 (about 9e15), more than any single step.
 *
 * 2. Measurement (tr_cost_meter): wall time, tokens and FLOPs per phase (train, generate,
 *    teacher, eval), achieved FLOP/s and MFU against the machine's peak (tr_peak_flops, an
 *    sgemm probe cached on disk), peak RSS; writes cost.json and fragments for metrics.jsonl.
 *
 * 3. Money (tr_hw_catalog, tr_scenario): a hardware catalogue read from configs/hardware.json
 *    (peak FLOP/s, power, purchase and rental prices, each with its source), the rental and
 *    ownership views, projections to other hardware, and scenario files (configs/scenarios/).
 */
#ifndef TINYR1_COST_H
#define TINYR1_COST_H

#include <stdint.h>
#include <stdio.h>

#include "tinyr1/base.h"
#include "tinyr1/model.h"

/* ==== 1. FLOP counts ================================================================ */

/* A forward pass broken down by operation (FLOPs, 2 per multiply-add). */
typedef struct tr_flops {
    double qkv;         /* q, k, v projections: 2 tokens L (D Q + 2 D KV) */
    double attn_out;    /* o_proj: 2 tokens L Q D */
    double attn_scores; /* Q K^T over causal pairs: 2 pairs L NH HD */
    double attn_values; /* P V over causal pairs: 2 pairs L NH HD */
    double mlp;         /* gate, up, down: 6 tokens L D H */
    double lm_head;     /* logits: 2 logit_positions D V */
    double total;       /* the sum of the above */
} tr_flops;

/* The general forward count. n_seqs sequences each run n_new positions that start after
 * `past` positions already in a KV cache (past = 0 for training or prefill), so position
 * past + i attends to past + i + 1 keys; `logit_positions` of the n_new positions per
 * sequence go through the LM head (n_new for training, 1 for a prefill that only samples).
 * cfg may have head_dim = 0 or hidden_dim = 0 (resolved as tr_config_validate does). */
tr_flops tr_flops_forward_ex(const tr_config *cfg, int64_t n_seqs, int64_t n_new, int64_t past,
                             int64_t logit_positions);

/* Training forward of a [B, T] batch (every position through the LM head; padding positions
 * are computed, so they are counted). */
double tr_flops_forward(const tr_config *cfg, int64_t B, int64_t T);
/* Its backward: exactly 2 x tr_flops_forward (see the header comment). */
double tr_flops_backward(const tr_config *cfg, int64_t B, int64_t T);
/* One optimizer step's forward + backward for B*T positions (= 3 x forward). Micro-batches
 * add: call it per micro-batch and sum. The AdamW update is elementwise (not counted). */
double tr_flops_train_step(const tr_config *cfg, int64_t B, int64_t T);
/* Prefill of n_seqs prompts of prompt_len tokens into an empty KV cache; logits at every
 * position when all_logits, else at the last position only (what sampling needs). */
double tr_flops_prefill(const tr_config *cfg, int64_t n_seqs, int64_t prompt_len, int all_logits);
/* One decode step: each of n_seqs sequences feeds one token at position context_len (the
 * cache holds context_len positions), attends to context_len + 1 keys, gets one logit row. */
double tr_flops_decode_step(const tr_config *cfg, int64_t n_seqs, int64_t context_len);
/* A whole generation of n_new tokens after a prompt: prefill (last logits) + decode steps at
 * context prompt_len, ..., prompt_len + n_new - 2 (the last sampled token is not fed back). */
double tr_flops_generate(const tr_config *cfg, int64_t n_seqs, int64_t prompt_len, int64_t n_new);
/* Parameters that take part in matmuls: L (D Q + 2 D KV + Q D + 3 D H) + V D. */
double tr_flops_params_matmul(const tr_config *cfg);
/* The 6ND rule with N = tr_config_num_params(cfg) (all parameters) and D = tokens. */
double tr_flops_6nd(const tr_config *cfg, double tokens);

/* ==== 2. Measurement ================================================================= */

/* The machine's peak FP32 FLOP/s, measured with cblas_sgemm on square matrices using every
 * thread (tr_get_threads()). */
typedef struct tr_peak {
    double gflops;   /* GFLOP/s (1e9 FLOP/s) */
    int threads;     /* threads the figure holds for */
    char cpu[128];   /* "model name" from /proc/cpuinfo, or "unknown" */
    char source[16]; /* "env" (TINYR1_PEAK_GFLOPS), "cache", "probe", or "probe-busy" (the
                        1-minute load average exceeded the CPU count: not cached) */
    double load;     /* 1-minute load average when probed */
    char cache_path[512];
} tr_peak;

/* Runs the probe without any cache: for each size n in sizes[], one warm-up then `reps`
 * timed C = A B products (row-major n x n floats); returns the best 2 n^3 / t in GFLOP/s. */
int tr_peak_probe(const int *sizes, int n_sizes, int reps, double *gflops, tr_err *err);
/* The peak with its provenance. Order: the TINYR1_PEAK_GFLOPS environment variable; then
 * the cache file $TINYR1_CACHE_DIR/peak.json, else $XDG_CACHE_HOME/tinyr1/peak.json, else
 * $HOME/.cache/tinyr1/peak.json, keyed by (cpu, threads); else the probe (sizes 1024 and
 * 2048, 3 reps: a few seconds), whose result is added to the cache (atomic write) unless
 * the machine was oversubscribed (load average > CPUs + 0.5: other processes share the
 * cores, so the figure is too low; it is used but not cached). A cache that cannot be
 * written is not an error. force_probe skips the env and cache lookups. */
int tr_peak_get(tr_peak *peak, int force_probe, tr_err *err);
/* Shorthand: *gflops = tr_peak_get(...).gflops. */
int tr_peak_flops(double *gflops, tr_err *err);

/* Peak resident set size of this process so far (getrusage ru_maxrss), in bytes. */
int64_t tr_peak_rss_bytes(void);

typedef enum {
    TR_PHASE_TRAIN,    /* forward + backward + optimizer */
    TR_PHASE_GENERATE, /* sampling (prefill + decode) */
    TR_PHASE_TEACHER,  /* teacher forward passes (distillation scoring) */
    TR_PHASE_EVAL,     /* evaluation (generation or scoring done for eval) */
    TR_PHASE_COUNT
} tr_phase;

/* "train", "generate", "teacher", "eval"; NULL for an invalid phase. */
const char *tr_phase_name(tr_phase phase);

typedef struct tr_phase_stats {
    double seconds; /* wall time inside begin/end (or added) */
    double tokens;  /* positions processed (caller's definition: see docs/cost.md) */
    double flops;   /* FLOPs by the convention above */
    int64_t calls;  /* number of begin/end pairs or adds */
} tr_phase_stats;

/* Gradient allreduce of a data-parallel run (docs/mpi.md has the network projection):
 * per optimizer step each rank allreduces one buffer of S = 4 x params + 64 bytes (the
 * gradients in float and the loss sums); a ring allreduce moves 2 (N-1)/N x S bytes in and
 * out of every rank. */
typedef struct tr_comm_stats {
    int ranks;      /* processes of the job (1: nothing is allreduced) */
    int64_t steps;  /* optimizer steps with an allreduce */
    double seconds; /* this rank's seconds inside MPI_Allreduce (waits included) */
    double bytes;   /* payload bytes this rank allreduced */
} tr_comm_stats;

/* The run-cost accumulator: one per training command (stage). Plain struct, no heap. */
typedef struct tr_cost_meter {
    char stage[64];       /* "pretrain", "sft", "grpo", ... */
    tr_config cfg;        /* the trained model's config (resolved) */
    double params;        /* tr_config_num_params */
    double params_matmul; /* tr_flops_params_matmul */
    double peak_gflops;   /* the peak MFU is measured against */
    char peak_source[16];
    int threads;
    char cpu[128];
    double t_start;      /* tr_now() at init */
    double wall_seconds; /* filled by tr_cost_meter_update / _write; total since init */
    int64_t peak_rss_bytes;
    tr_phase_stats phase[TR_PHASE_COUNT];
    double phase_t0[TR_PHASE_COUNT];     /* start of the running interval, 0 when idle */
    tr_phase_stats mark[TR_PHASE_COUNT]; /* totals at the last metrics fragment */
    double mark_t;                       /* time of the last metrics fragment */
    tr_comm_stats comm;                  /* allreduce of the gradients (data parallelism) */
} tr_cost_meter;

/* Adds one optimizer step's allreduce (seconds, payload bytes) of a job of `ranks`. */
void tr_cost_add_comm(tr_cost_meter *m, int ranks, double seconds, double bytes);

/* Starts the clock. cfg: the trained model (NULL allowed: model fields stay 0).
 * peak may be NULL: MFU is then reported as 0 (unknown). */
void tr_cost_meter_init(tr_cost_meter *m, const char *stage, const tr_config *cfg,
                        const tr_peak *peak);
/* Time a phase: begin ... end(tokens, flops). Nesting the same phase is not supported (a
 * second begin restarts the interval). Phases may overlap each other (rare). */
void tr_cost_begin(tr_cost_meter *m, tr_phase phase);
void tr_cost_end(tr_cost_meter *m, tr_phase phase, double tokens, double flops);
/* Adds an interval measured elsewhere. */
void tr_cost_add(tr_cost_meter *m, tr_phase phase, double seconds, double tokens, double flops);
/* Refreshes wall_seconds and peak_rss_bytes. */
void tr_cost_meter_update(tr_cost_meter *m);
/* Totals over all phases. */
tr_phase_stats tr_cost_total(const tr_cost_meter *m);
/* Achieved FLOP/s / peak; 0 when the peak or the time is unknown. */
double tr_cost_mfu(const tr_cost_meter *m, double flops, double seconds);

/* Writes one JSON fragment, no braces, for a metrics.jsonl line, e.g.
 *   "flops":1.2e12,"flops_total":3.4e14,"gflops":95.1,"mfu":0.69,"wall_s":12.5,
 *   "peak_rss_mb":210.3
 * "flops"/"gflops"/"mfu" cover the interval since the previous call (or since init), over
 * all phases; "*_total" are cumulative. Advances the interval mark. Returns the length
 * written (snprintf semantics: >= cap means truncated). */
int tr_cost_metrics_fragment(tr_cost_meter *m, char *buf, size_t cap);

/* Serializes the meter as the cost.json document (docs/cost.md); *out is malloc'ed. */
int tr_cost_meter_to_json(const tr_cost_meter *m, char **out, tr_err *err);
/* Writes <run_dir>/cost.json atomically (refreshing wall time and RSS first). */
int tr_cost_meter_write(tr_cost_meter *m, const char *run_dir, tr_err *err);
/* Reads a cost.json back into a meter (timers idle). */
int tr_cost_meter_read(tr_cost_meter *m, const char *path, tr_err *err);

/* ==== 3. Money ====================================================================== */

/* Ownership assumptions (configs/hardware.json "ownership_defaults", overridable per use). */
typedef struct tr_ownership_params {
    double lifetime_years; /* straight-line amortisation period */
    double utilization;    /* fraction of wall hours doing paid-for work, (0, 1] */
    double capex_overhead; /* servers, network, storage, as a fraction of GPU price */
    double power_overhead; /* host/network power as a fraction of board power */
    double pue;            /* data-centre power usage effectiveness, >= 1 */
    double electricity_usd_per_kwh;
} tr_ownership_params;

typedef enum { TR_PREC_BF16, TR_PREC_FP8, TR_PREC_FP32 } tr_precision;
const char *tr_precision_name(tr_precision p);
int tr_precision_parse(const char *s, tr_precision *p);

typedef struct tr_hw {
    char name[32];    /* "H800", "cpu" */
    char kind[8];     /* "gpu" or "cpu" */
    double peak_bf16; /* dense FLOP/s (no 2:4 sparsity); 0 = not supported */
    double peak_fp8;
    double peak_fp32; /* non-tensor FP32 (GPU); for "cpu" filled from the probe */
    double memory_gb;
    double mem_bw_gbs; /* memory bandwidth, GB/s */
    double board_power_w;
    double purchase_usd;        /* per GPU (estimate) */
    double rental_usd_per_hour; /* per GPU-hour (or per core-hour for "cpu") */
    char source_specs[384];
    char source_prices[384];
} tr_hw;

typedef struct tr_hw_catalog {
    tr_hw *hw;
    int n;
    tr_ownership_params ownership; /* defaults */
    double cpu_core_hour_usd;      /* this machine's core-hour price (a parameter) */
    char cpu_source[384];
} tr_hw_catalog;

/* Reads configs/hardware.json (format in docs/cost.md). */
int tr_hw_catalog_load(tr_hw_catalog *cat, const char *path, tr_err *err);
int tr_hw_catalog_parse(tr_hw_catalog *cat, const char *text, const char *name, tr_err *err);
void tr_hw_catalog_free(tr_hw_catalog *cat);
/* Entry by name (case-insensitive), or NULL. */
const tr_hw *tr_hw_find(const tr_hw_catalog *cat, const char *name);
/* Peak FLOP/s of hw at a precision; 0 if not supported. */
double tr_hw_peak(const tr_hw *hw, tr_precision p);

/* Rental view: gpu_hours x usd_per_hour. */
double tr_rental_usd(double gpu_hours, double usd_per_hour);

/* Ownership view of one used GPU-hour (all $ per used GPU-hour):
 *   capex_per_hour C = purchase (1 + capex_overhead) / (lifetime_years x 8760)
 *   capex  = C                   (the hour itself)
 *   idle   = C (1 - u) / u       (the share of the hours nobody uses, u = utilization)
 *   power  = board_power_w / 1000 x (1 + power_overhead) x pue x electricity_usd_per_kwh
 *   total  = capex + idle + power = C / u + power
 * Idle hours are charged capex only (their power is not counted). */
typedef struct tr_ownership_cost {
    double capex, idle, power, total;
    double capex_per_gpu_usd; /* purchase (1 + capex_overhead) */
} tr_ownership_cost;
int tr_ownership_per_hour(const tr_hw *hw, const tr_ownership_params *op, tr_ownership_cost *out,
                          tr_err *err);

/* "These FLOPs on hardware X at MFU m": seconds on one device = flops / (peak m). */
typedef struct tr_projection {
    double device_hours;  /* GPU-hours (or core-hours x cores for cpu) */
    double rental_usd;    /* device_hours x hw->rental_usd_per_hour */
    double ownership_usd; /* device_hours x ownership total (GPU only; 0 when not computable) */
} tr_projection;
int tr_project(double flops, const tr_hw *hw, tr_precision p, double mfu,
               const tr_ownership_params *op, tr_projection *out, tr_err *err);

/* MFU implied by a reported run: flops / (gpu_hours x 3600 x peak_flops). */
double tr_implied_mfu(double flops, double gpu_hours, double peak_flops);
/* Serving cost per million output tokens: (gpus x usd_per_gpu_hour) / (tokens_per_second x
 * 3600) x 1e6. */
double tr_api_usd_per_mtok(double gpus, double usd_per_gpu_hour, double tokens_per_second);
/* Tokens/s one device reaches when decode is compute-bound: peak x mfu / (2 active_params)
 * (2 FLOPs per active parameter per generated token, attention ignored). */
double tr_decode_tokens_per_second(double peak_flops, double mfu, double active_params);

/* ---- scenarios ------------------------------------------------------------------------
 * A scenario file (configs/scenarios/<name>.json; format in docs/cost.md) lists stages with
 * reported GPU-hours (or FLOPs/tokens to project), the rental price, ownership views
 * (a cluster of n GPUs, or a fleet bought for a budget), serving-cost lines, and expected
 * figures that the evaluation checks. Evaluating it yields a result that prints as a table
 * or as JSON. */
#define TR_SCEN_MAX 16

typedef struct tr_scen_stage {
    char name[64];
    double gpu_hours;     /* reported, or projected from flops / (peak mfu) */
    double tokens;        /* 0 if unknown */
    double active_params; /* 0 if unknown */
    double flops;         /* given, or 6 active_params tokens; 0 if unknown */
    int projected;        /* 1: gpu_hours came from flops and mfu */
    double mfu;           /* the given mfu (projected) or the implied one (reported) */
    double mfu_alt;       /* implied MFU at the alternative precision (fp8 vs bf16) */
    double rental_usd;
} tr_scen_stage;

typedef struct tr_scen_owner {
    char name[96];
    double gpus;            /* cluster size, or fleet_usd / capex per GPU */
    double fleet_usd;       /* 0 for a cluster view */
    tr_ownership_params op; /* every assumption used */
    tr_ownership_cost per_hour;
    double purchase_usd;   /* per GPU, as used */
    double board_power_w;  /* as used */
    double capex_usd;      /* gpus x capex per GPU */
    double run_usd;        /* run GPU-hours x per_hour.total */
    double run_days;       /* run GPU-hours / (run_gpus, else gpus) / 24 */
    double annual_usd;     /* capex / lifetime + power for utilization x 8760 h, all GPUs */
    double run_window_usd; /* annual_usd x run_days / 365: the whole cluster during the run */
    double run_share;      /* run GPU-hours / (gpus x 8760 x utilization) */
} tr_scen_owner;

typedef struct tr_scen_api {
    char name[96];
    double active_params;
    double gpus;
    double usd_per_gpu_hour;
    double tokens_per_second; /* given, or derived from mfu */
    double mfu;               /* 0 when the throughput was given */
    char precision[8];
    double usd_per_mtok;
} tr_scen_api;

typedef struct tr_scen_ref {
    char name[96];
    double usd_per_mtok;
} tr_scen_ref;

typedef struct tr_scen_check {
    char what[64];
    double expected, actual;
    int ok; /* |actual - expected| <= 1e-9 |expected| */
} tr_scen_check;

typedef struct tr_scenario_result {
    char name[64];
    char title[160];
    char source[512];
    char hardware[32];
    char precision[8]; /* the precision MFU is stated against */
    double usd_per_gpu_hour;
    double run_gpus; /* GPUs the run used (for its duration); 0 = the owner's count */
    double total_params, active_params;
    tr_scen_stage stages[TR_SCEN_MAX];
    int n_stages;
    double gpu_hours, rental_usd; /* totals over stages */
    tr_scen_owner owners[TR_SCEN_MAX];
    int n_owners;
    tr_scen_api api[TR_SCEN_MAX];
    int n_api;
    tr_scen_ref refs[TR_SCEN_MAX];
    int n_refs;
    tr_scen_check checks[TR_SCEN_MAX];
    int n_checks;
    int checks_failed;
    char notes[8][256];
    int n_notes;
} tr_scenario_result;

/* Evaluates scenario JSON text against the catalogue. */
int tr_scenario_eval(tr_scenario_result *res, const char *text, const char *name,
                     const tr_hw_catalog *cat, tr_err *err);
int tr_scenario_eval_file(tr_scenario_result *res, const char *path, const tr_hw_catalog *cat,
                          tr_err *err);
/* Human-readable tables. */
void tr_scenario_print(const tr_scenario_result *res, FILE *f);
/* JSON document (malloc'ed). */
int tr_scenario_to_json(const tr_scenario_result *res, char **out, tr_err *err);

/* Directory of the shipped configs: $TINYR1_CONFIG_DIR if set, else <source>/configs. */
const char *tr_config_dir(void);

#endif
