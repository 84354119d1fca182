/* tinyr1 — GRPO: reinforcement learning with rule-based rewards (DeepSeek-R1's RL stage).
 *
 * One GRPO step (tr_grpo_step):
 *   1. prompts: P problems from the prompt source at the run's data cursor (cursor += P);
 *   2. rollouts: G samples per prompt through the batched KV-cache generator (tr_generate)
 *      at temperature T; sample (p, g) of step s is seeded by a hash of (seed, s, p, g),
 *      so a resumed run regenerates exactly the same rollouts. The old log-probs
 *      log pi_old(y_t) = log_softmax(z_t / T)[y_t] are recorded at sampling time (the
 *      generator's logprobs_model when T = 1, its sampling-distribution log-probs otherwise:
 *      the sampler chain is temperature only, so both are log_softmax(z / T));
 *   3. rewards: the weighted rewards of tinyr1/rewards.h on the decoded completion (the
 *      end token excluded); advantages per group (tr_grpo_advantages);
 *   4. reference log-probs (beta > 0): the frozen reference model run forward without
 *      gradient over the same sequences, at temperature T;
 *   5. policy update: mu passes over the rollout batch; each pass splits it into
 *      `minibatches` mini-batches of whole groups, each one optimizer step (tr_trainer_step
 *      with the GRPO objective of tinyr1/objectives.h over micro-batches of `micro_batch`
 *      sequences: prompt + completion, completion tokens weighted 1, the end token
 *      included). The normalisers (G and N_tok of the aggregation) are those of the
 *      mini-batch, so the gradient does not depend on the micro-batch size.
 *      Optionally, completions cut by the length budget (no end token) get weight 0
 *      (mask_truncated, DAPO's overlong filtering).
 *
 * Determinism: same seed, same thread count -> the same rollouts, rewards and weights.
 */
#ifndef TINYR1_GRPO_H
#define TINYR1_GRPO_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "tinyr1/base.h"
#include "tinyr1/gen.h"
#include "tinyr1/model.h"
#include "tinyr1/objectives.h"
#include "tinyr1/rewards.h"
#include "tinyr1/tasks.h"
#include "tinyr1/text.h"
#include "tinyr1/train.h"

/* ---- prompts ------------------------------------------------------------------------
 * Problems from generated tasks, taking turns: the problem at cursor c is problem
 * c / n_tasks of task c % n_tasks, generated with `seed` (a pure function of c). With
 * pool > 0 the problem index wraps: problem (c / n_tasks) % pool, so training cycles over
 * a fixed set of pool problems per task (an overfitting check); 0 (default): no wrap. */
#define TR_GRPO_MAX_TASKS 8
typedef struct tr_grpo_source {
    const tr_task *tasks[TR_GRPO_MAX_TASKS];
    int n_tasks;
    uint64_t seed;
    int difficulty;
    char lang[8]; /* "en" or "zh" */
    uint64_t pool; /* 0: every problem new; > 0: cycle over the first pool problems */
} tr_grpo_source;

/* tasks: "add" or "add,countdown" (tasks with generators only). lang NULL: "en". */
int tr_grpo_source_init(tr_grpo_source *s, const char *tasks, uint64_t seed, int difficulty,
                        const char *lang, tr_err *err);
/* The problem at cursor c (free it with tr_problem_free) and its task. */
int tr_grpo_source_get(const tr_grpo_source *s, uint64_t c, tr_problem *out, const tr_task **task,
                       tr_err *err);

/* ---- configuration --------------------------------------------------------------------- */
typedef struct tr_grpo_config {
    int group;              /* G samples per prompt (>= 2); default 8 */
    int prompts_per_step;   /* P; default 8 */
    int max_new;            /* completion budget in tokens; default 128 */
    float temperature;      /* sampling temperature > 0, also the loss's T; default 1 */
    tr_template_kind tpl;   /* chat template of the prompts; default R1-Zero */
    const char *system;     /* system message (chat template) or NULL */
    int mu;                 /* policy-update passes per rollout batch; default 1 */
    int minibatches;        /* optimizer steps per pass (divides P); default 1 */
    int micro_batch;        /* sequences per forward/backward; default 16 */
    int64_t logits_chunk;   /* positions whose logits are computed at once (training and
                               reference log-probs); 0 (default): the trainer's choice
                               (tr_trainer.logits_chunk, train.h) */
    tr_grpo_params loss;    /* eps_low, eps_high, beta, agg (temperature and the
                               normalisers are set by the step) */
    tr_adv_scale adv_scale; /* default group */
    double adv_eps;         /* default 1e-4 (TRL) */
    int mask_truncated;     /* 1: completions without an end token get weight 0 */
    tr_reward_spec rewards;
    uint64_t seed; /* rollout seeds */
    /* processes sharing the step (default: one). With W ranks each rank draws, scores and
       trains P / W whole groups (P must be a multiple of minibatches x W); the records of
       every sample are gathered so that batch statistics, batch-scaled advantages and the
       loss normalisers are those of one process; gradients are summed by the trainer.
       Held-out evaluation shards the problems. docs/mpi.md. */
    tr_dist dist;
} tr_grpo_config;

tr_grpo_config tr_grpo_default_config(void);

/* ---- a GRPO run ------------------------------------------------------------------------ */
typedef struct tr_grpo {
    tr_grpo_config cfg;
    tr_trainer trainer;      /* owns the optimizer; trainer.model is the policy */
    const tr_model *ref;     /* frozen reference (NULL when beta = 0), borrowed */
    const tr_tokenizer *tok; /* borrowed */
    tr_infer *infer;         /* the policy's inference context (owned) */
    int32_t stop_tokens[2];
    int n_stop;
    int32_t pad;
} tr_grpo;

/* Per-step figures. Reward components are unweighted (as the spec lists them). */
typedef struct tr_grpo_step_stats {
    double reward_mean, reward_std; /* weighted total, over the P*G samples */
    double comp_mean[TR_MAX_REWARDS], comp_std[TR_MAX_REWARDS];
    double accuracy;        /* fraction of samples the verifier marks correct */
    double length_mean;     /* completion tokens (end token included) */
    double truncated_frac;  /* samples that hit the budget without an end token */
    double zero_std_frac;   /* groups whose rewards are all equal (no signal) */
    tr_grpo_stats obj;      /* KL, ratio, clip fractions, entropy over every update */
    double loss, grad_norm; /* of the last optimizer step */
    float lr;
    int updates; /* optimizer steps done (mu * minibatches, fewer if empty) */
    double gen_seconds, reward_seconds, ref_seconds, train_seconds;
    double comm_seconds, comm_bytes; /* this rank's gradient allreduce (all updates) */
    double gen_tokens;   /* completion tokens generated */
    double train_tokens; /* positions run through forward+backward (all passes) */
    /* FLOPs by the conventions of cost.h: gen_flops = sum over the P*G rollouts of
     * tr_flops_generate(prompt, completion); ref_flops = tr_flops_forward of every
     * micro-batch (0 when beta = 0); train_flops = tr_flops_train_step of every micro-batch
     * of every optimizer step (padding included, as train_tokens counts it). Under MPI each
     * is this rank's share (its own rollouts and micro-batches), so a rank's MFU is its
     * FLOPs over its time, as in the trainer's cost.json. */
    double gen_flops, ref_flops, train_flops;
} tr_grpo_step_stats;

/* policy is trained in place (borrowed); ref may be NULL when cfg->loss.beta == 0; tok is
 * borrowed. restored: optimizer moments from a checkpoint (moved in) or NULL. The
 * inference context and the training arena are sized for P*G sequences of up to
 * max_seq (0: the model's) positions. */
int tr_grpo_init(tr_grpo *g, tr_model *policy, const tr_model *ref, const tr_tokenizer *tok,
                 const tr_grpo_config *cfg, tr_adamw_params opt, tr_adamw *restored,
                 tr_lr_schedule schedule, float grad_clip, int max_seq, tr_err *err);
void tr_grpo_free(tr_grpo *g);

/* One GRPO step at st->step (rollout seeds) from st->data_cursor (advanced by P); on
 * success st->step, tokens and elapsed are advanced. */
int tr_grpo_step(tr_grpo *g, const tr_grpo_source *src, tr_train_state *st, tr_grpo_step_stats *out,
                 tr_err *err);

/* ---- evaluation on held-out problems --------------------------------------------------- */
typedef struct tr_grpo_eval_params {
    int k;             /* samples per problem (pass@1 = mean correctness); default 4 */
    float temperature; /* 0: greedy (then k = 1); default 0.6 (R1's evaluation) */
    float top_p;       /* default 0.95 */
    int max_new;       /* 0: the run's */
    uint64_t seed;
    FILE *samples; /* if not NULL: one JSON line per sample of the first n_samples
                      problems (step, task, prompt, completion, gold, extracted, correct) */
    int n_samples;
    int64_t step; /* written into those lines */
} tr_grpo_eval_params;

tr_grpo_eval_params tr_grpo_eval_default_params(void);

typedef struct tr_grpo_eval_result {
    int n, k;
    double pass1;    /* mean over problems of the fraction of correct samples */
    double format;   /* mean strict-format reward */
    double language; /* mean language consistency of the chains of thought */
    double length;   /* mean completion tokens */
    double seconds;
} tr_grpo_eval_result;

/* Samples k completions of each problem with the policy and verifies them. */
int tr_grpo_evaluate(tr_grpo *g, const tr_problem *problems, const tr_task *const *tasks, int n,
                     const tr_grpo_eval_params *p, tr_grpo_eval_result *out, tr_err *err);

/* ---- the loop: progress, metrics.jsonl, evaluation, checkpoints, Ctrl-C ---------------- */
typedef struct tr_grpo_loop_config {
    const char *out_dir;             /* checkpoint.bin, metrics.jsonl, samples.jsonl */
    int64_t steps;                   /* total GRPO steps (st->step == steps: evaluate only) */
    int checkpoint_every;            /* 0: only at the end */
    int eval_every;                  /* 0: only before the first and after the last step */
    const tr_problem *eval_problems; /* may be NULL (no evaluation) */
    const tr_task *const *eval_tasks;
    int n_eval;
    tr_grpo_eval_params eval;
    volatile sig_atomic_t *stop; /* set by a signal handler: checkpoint and return 1 */
    const char *meta_json;
    tr_checkpoint_blob tokenizer;
    int quiet, log_every;
} tr_grpo_loop_config;

/* Runs steps st->step .. steps-1. metrics.jsonl gets one "grpo" line per step and one
 * "grpo_eval" line per evaluation (both cut back to st->step on resume). Like every training
 * command, the run's cost meter (cost.h) is written to out_dir/cost.json with each
 * checkpoint (phases: generate = rollouts, train = reference forward + policy updates,
 * eval = held-out evaluation; continued from the old cost.json on resume), and each "grpo"
 * metrics line carries the meter's flops/gflops/mfu/wall_s fragment. Returns 0 when done, 1
 * when stopped by *stop (after a checkpoint), -1 on error. */
int tr_grpo_train(tr_grpo *g, const tr_grpo_loop_config *lc, const tr_grpo_source *src,
                  tr_train_state *st, tr_err *err);

/* The seed of sample (prompt p, sample j) of step `step`: a hash of the four numbers. */
uint64_t tr_grpo_sample_seed(uint64_t seed, int64_t step, int p, int j);

#endif
