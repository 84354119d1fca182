/* tinyr1 — training objectives: functions from logits to a loss and a gradient on the logits.
 *
 * The model never knows which objective it serves (DESIGN.md, "the one central seam"):
 *   tokens -> model_forward -> logits[N, V] -> objective -> loss, dlogits[N, V] -> backward.
 * N is the number of positions (B*T flattened). Every objective takes per-position weights
 * (0 for prompt and padding positions) and a normalizer `norm`: the sum of weights over the
 * whole accumulated batch (all micro-batches, all ranks), so that the gradient does not
 * depend on how a batch is split. Losses returned are this micro-batch's contribution:
 * summing them over the micro-batches gives the loss of the whole batch.
 * dlogits is overwritten (not accumulated); it may alias logits.
 */
#ifndef TINYR1_OBJECTIVES_H
#define TINYR1_OBJECTIVES_H

#include <stdint.h>

#include "tinyr1/base.h"

/* Cross-entropy with per-position weights.
 *   loss = sum_n w_n * (logsumexp(z_n) - z_n[y_n]) / norm
 *   dlogits_n = w_n * (softmax(z_n) - onehot(y_n)) / norm
 * Positions with w_n == 0 get dlogits 0 and their target is not read (may be -1).
 * Returns -1 (with err) on a target outside [0, V) at a weighted position. */
int tr_ce_loss(float *dlogits, double *loss, const float *logits, const int32_t *targets,
               const float *weights, int64_t N, int V, double norm, tr_err *err);

/* ==== Knowledge distillation (KD) ===================================================
 * Shapes: N positions, V student vocabulary. Notation for one position n:
 *   z  = student logits [V], u = teacher logits (first V columns of a row of ld >= V),
 *   T  = temperature, applied to BOTH sides (TRL #5731): s = z/T, t = u/T,
 *   q  = softmax(s) (student), p = softmax(t) (teacher), log via logsumexp (never log(exp)).
 *   c  = T^2 when params.scale_t2 (default, Hinton 2015: keeps gradient magnitudes
 *        comparable across temperatures), else 1. It multiplies every divergence below.
 * Divergences D(p, q), summed over tokens i, with 0*log(0/x) = 0:
 *   TR_KD_FKL  forward KL    KL(p||q)  = sum p_i (log p_i - log q_i)       (Hinton 2015)
 *   TR_KD_RKL  reverse KL    KL(q||p)  = sum q_i (log q_i - log p_i)       (MiniLLM)
 *   TR_KD_JSD  generalized JSD (GKD, Agarwal et al. 2024), beta in [0, 1]:
 *                m = beta*p + (1-beta)*q        (beta weighs the TEACHER)
 *                JSD_beta = beta*KL(p||m) + (1-beta)*KL(q||m)
 *              log m = logsumexp(log(beta) + log p, log(1-beta) + log q) (TRL #2202).
 *              Endpoints, special-cased exactly (TRL #3043 convention): beta = 0 is
 *              KL(p||q) (forward), beta = 1 is KL(q||p) (reverse). The interior formula
 *              itself tends to 0 at both ends (JSD_beta ~ beta*KL(p||q) as beta -> 0,
 *              ~ (1-beta)*KL(q||p) as beta -> 1), so near the ends beta also scales the loss.
 *   TR_KD_SKL  skew KL (DistiLLM, Ko et al. 2024), skew a in [0, 1]:
 *                SKL_a  = KL(p || a*p + (1-a)*q)    (a = 0: forward KL; a = 1: 0)
 *   TR_KD_SRKL skew reverse KL (DistiLLM):
 *                SRKL_a = KL(q || (1-a)*p + a*q)    (a = 0: reverse KL; a = 1: 0)
 *              (DistiLLM's code drops the constant teacher-entropy term of SKL; we keep
 *              it, so SKL is a true divergence: 0 when p == q. The gradient is the same.)
 *   TR_KD_TVD  total variation 0.5 * sum |p_i - q_i| (subgradient 0 where p_i == q_i).
 * Per-position loss and gradient (g = the gradient of D w.r.t. the scaled logits s):
 *   loss      = sum_n w_n * c * D_n / norm
 *   dlogits_n = w_n * (c / T) * g_n / norm          (ds/dz = 1/T)
 * Mix with hard labels (params.ce_alpha = alpha in [0, 1]):
 *   total = alpha * CE + (1 - alpha) * KD,  CE = tr_ce_loss at temperature 1 on `targets`,
 *   both with the same weights and norm. alpha = 0: pure KD (targets may be NULL).
 * Masked teacher tokens: a teacher logit of -inf means p_i = 0 and never yields NaN.
 *   FKL, JSD (0 < beta < 1), SKL, SRKL (a > 0) and TVD stay finite and push the student's
 *   mass off such tokens. KL(q||p) would be +inf there, so RKL (also JSD beta = 1 and
 *   SRKL a = 0) restricts the student to the teacher's support: q is renormalised over
 *   {i: u_i > -inf} and masked tokens get gradient 0. A weighted row whose teacher logits
 *   are all -inf is an error. Student logits must be finite, except -inf where the
 *   teacher's is -inf too (such tokens then contribute nothing).
 * Sparse teacher (offline top-K cache, teacher.logits == NULL): per position the teacher's
 *   K token ids, their log-probs and the log of the remaining mass ("rest"). The K+1 values
 *   are renormalised by their logsumexp (rounding in a stored cache cannot break sum = 1).
 *   The student's full softmax q (over V, at temperature T) is reduced to the same K+1
 *   buckets: q_k = q[id_k] and q_rest = sum of q_i over the V-K other tokens (summed
 *   directly, not 1 - sum q_k, so it is exact down to 0 when K = V). D is then computed
 *   over the K+1 buckets (the rest bucket is one "token" in the formulas above). The
 *   gradient flows into every one of the V student logits: a top-K token through its own
 *   bucket, a rest token through q_rest (d q_rest / d s_i = q_i - q_i q_rest). With K = V
 *   and rest = -inf it equals the dense loss. The cache must have been computed at the
 *   distillation temperature (tr_kd_topk_from_logits does that); a different
 *   teacher.temperature is an error (tempering a truncated distribution is not exact).
 * Performance: rows are independent (OpenMP over positions); scratch of 2V doubles (+V
 * bytes for the sparse path) per thread, allocated once per call; a weighted row costs
 * 2 exp per vocabulary entry (+1 exp and 1 log1p for JSD/SKL/SRKL). Rows with weight 0
 * are not read (their teacher row may be garbage) and get dlogits 0. Deterministic for a
 * given thread count (per-thread partial sums added in thread order). */

typedef enum tr_kd_div {
    TR_KD_FKL = 0,
    TR_KD_RKL,
    TR_KD_JSD,
    TR_KD_SKL,
    TR_KD_SRKL,
    TR_KD_TVD,
} tr_kd_div;

typedef struct tr_kd_params {
    tr_kd_div div;      /* default TR_KD_FKL */
    double temperature; /* T > 0, applied to teacher and student; default 1 */
    int scale_t2;       /* multiply by T^2 (default 1) */
    double beta;        /* JSD interpolation in [0, 1] (weight of the teacher); default 0.5 */
    double skew;        /* SKL/SRKL skew a in [0, 1]; default 0.1 (DistiLLM's default) */
    double ce_alpha;    /* weight of the hard-label CE in [0, 1]; default 0 */
} tr_kd_params;

tr_kd_params tr_kd_default_params(void);
/* "fkl", "rkl", "jsd", "skl", "srkl", "tvd" <-> enum. */
const char *tr_kd_div_name(tr_kd_div div);
int tr_kd_div_parse(tr_kd_div *div, const char *name, tr_err *err);

/* The teacher side of a KD loss: dense logits or a sparse top-K cache (logits == NULL). */
typedef struct tr_kd_teacher {
    const float *logits; /* dense: [N, ld]; only the first V columns are read */
    int64_t ld;          /* row stride of logits, >= V (a teacher with padding rows) */
    int K;               /* sparse: entries per position, 1 <= K <= V */
    const int32_t *ids;  /* [N, K] distinct token ids in [0, V) */
    const float *logprobs;     /* [N, K] teacher log-probs at `temperature` (may be -inf) */
    const float *rest_logprob; /* [N] log of the teacher mass outside the K ids (-inf: none) */
    double temperature;        /* sparse: temperature the cache was computed at */
} tr_kd_teacher;

/* Loss parts (this micro-batch's contributions; sum them over micro-batches). */
typedef struct tr_kd_losses {
    double total; /* alpha * ce + (1 - alpha) * kd: the loss dlogits is the gradient of */
    double ce;    /* sum_n w_n CE_n / norm (0 when alpha == 0) */
    double kd;    /* sum_n w_n c D_n / norm */
} tr_kd_losses;

/* KD loss (optionally mixed with CE), see the formulas above.
 *   dlogits [N, V] written (overwritten; may alias student_logits);
 *   out      the loss parts; student_logits [N, V]; teacher dense or sparse;
 *   targets  [N] labels for CE (read only when ce_alpha > 0, at weighted rows; -1 allowed
 *            at rows of weight 0); weights [N] finite, >= 0 (NULL: all 1);
 *   norm     > 0: the sum of weights over the whole accumulated batch.
 * Returns -1 with err on bad parameters, a bad cache row, an all -inf teacher row, or a
 * target outside [0, V). */
int tr_kd_loss(float *dlogits, tr_kd_losses *out, const float *student_logits,
               const tr_kd_teacher *teacher, const int32_t *targets, const float *weights,
               int64_t N, int V, double norm, const tr_kd_params *params, tr_err *err);

/* Builds a top-K cache from dense teacher logits [N, ld] at temperature T: per row the K
 * largest logits (ties: lower id first), sorted by decreasing log-prob, their log-probs
 * log softmax(u/T) over the first V columns, and the log of the rest mass (the sum over
 * the other V-K tokens, -inf when K = V). ids [N, K], logprobs [N, K], rest_logprob [N]. */
int tr_kd_topk_from_logits(int32_t *ids, float *logprobs, float *rest_logprob,
                           const float *teacher_logits, int64_t N, int64_t ld, int V, int K,
                           double temperature, tr_err *err);

/* Vocabulary check before logit KD. Teacher and student must use the same tokenizer
 * (compare the tokenizer files; this function cannot); their output layers may be padded
 * beyond the tokenizer's size (Qwen2.5: 151,665 tokens, 151,936 or 152,064 rows; TRL #3028).
 * Allowed when teacher_vocab >= student_vocab >= tokenizer_vocab; *v_use = student_vocab
 * columns are then compared (pass the teacher's row length as tr_kd_teacher.ld). With
 * tokenizer_vocab <= 0 (unknown) only equal vocabularies are allowed. Returns 0 when
 * allowed, -1 with the reason in err otherwise (fall back to sequence-level KD). */
int tr_kd_vocab_check(int *v_use, int teacher_vocab, int student_vocab, int tokenizer_vocab,
                      tr_err *err);

/* ==== GRPO (DeepSeek-R1, with the Dr. GRPO and DAPO aggregations) ======================
 * Layout: B sequences of L positions, n = b*L + t (as tr_batch). Per position: policy
 * logits z [V], the sampled token y = targets[n] (the token that followed position n),
 * a completion weight m_n (1 on completion tokens incl. EOS, 0 on prompt and padding),
 * the advantage A_n (normally the sequence's advantage repeated), old log-prob o_n
 * (recorded at sampling; NULL = on-policy, o_n = logp_n so rho = 1 with gradient), and
 * the reference log-prob r_n (NULL allowed when beta = 0).
 *   logp   = log_softmax(z / T)[y]     (T = the sampling temperature; TRL #5731)
 *   rho    = exp(logp - o)
 *   pg     = min(rho*A, clip(rho, 1 - eps_low, 1 + eps_high)*A)
 *   k3     = exp(r - logp) - (r - logp) - 1      (>= 0; Schulman's k3 estimator of KL)
 *   l_n    = -pg + beta*k3                        (the objective is maximised; we minimise)
 *   dl/dlogp = -(rho*A if rho*A <= clip(rho)*A else 0) + beta*(1 - exp(r - logp))
 *   dlogits_n = a_n * m_n * dl/dlogp * (onehot(y) - softmax(z/T)) / T
 * Aggregation (a_n, normalisers over the WHOLE accumulated batch, all micro-batches and
 * ranks, so the gradient does not depend on the split; TRL #4719):
 *   TR_GRPO_AGG_GRPO     loss = 1/G sum_i 1/|o_i| sum_t m l     a = 1/(|o_i| G)
 *                        |o_i| = sum_t m of sequence i (a sequence lies in one micro-batch),
 *                        G = params.num_sequences
 *   TR_GRPO_AGG_DR_GRPO  loss = sum m l / (L_max G)             a = 1/(L_max G)
 *                        L_max = params.max_completion_len (the generation budget)
 *   TR_GRPO_AGG_DAPO     loss = sum m l / N_tok                 a = 1/N_tok
 *                        N_tok = params.num_tokens (sum of m over the whole batch)
 * DAPO's asymmetric clip is eps_low 0.2, eps_high 0.28; R1's is eps_low = eps_high. */

typedef enum tr_grpo_agg {
    TR_GRPO_AGG_GRPO = 0,
    TR_GRPO_AGG_DR_GRPO,
    TR_GRPO_AGG_DAPO,
} tr_grpo_agg;

typedef struct tr_grpo_params {
    double eps_low, eps_high; /* clip range [1 - eps_low, 1 + eps_high]; default 0.2, 0.2 */
    double beta;              /* k3 KL weight; 0 (default) skips the KL term */
    double temperature;       /* default 1 */
    tr_grpo_agg agg;          /* default TR_GRPO_AGG_GRPO */
    int64_t num_sequences;    /* G of the whole batch (grpo, dr_grpo) */
    int64_t max_completion_len; /* L_max (dr_grpo) */
    double num_tokens;        /* N_tok of the whole batch (dapo) */
} tr_grpo_params;

tr_grpo_params tr_grpo_default_params(void);
/* "grpo", "dr_grpo", "dapo" <-> enum. */
const char *tr_grpo_agg_name(tr_grpo_agg agg);
int tr_grpo_agg_parse(tr_grpo_agg *agg, const char *name, tr_err *err);

/* Statistics over the completion tokens (weighted by m) of one call. The *_sum fields add
 * up over micro-batches (tr_grpo_stats_merge); the means are sum / tokens. */
typedef struct tr_grpo_stats {
    double tokens;        /* sum m */
    double kl_sum;        /* sum m k3 (only when ref_logp is given, whatever beta) */
    double ratio_sum;     /* sum m rho */
    double clip_low_sum;  /* sum m [rho < 1 - eps_low and A < 0]  (gradient cut off) */
    double clip_high_sum; /* sum m [rho > 1 + eps_high and A > 0] (gradient cut off) */
    double entropy_sum;   /* sum m H(softmax(z/T)) */
    double mean_kl, mean_ratio, clip_low_frac, clip_high_frac, mean_entropy;
} tr_grpo_stats;

/* Adds src's sums into dst and recomputes dst's means. */
void tr_grpo_stats_merge(tr_grpo_stats *dst, const tr_grpo_stats *src);

/* GRPO loss (this micro-batch's contribution) and dlogits [B*L, V] (overwritten; may alias
 * logits). targets [B*L] (read where m > 0), mask [B*L] (finite, >= 0), advantages [B*L],
 * old_logp [B*L] or NULL, ref_logp [B*L] or NULL (required when beta > 0). stats may be
 * NULL. Returns -1 with err on bad parameters or a target outside [0, V) where m > 0. */
int tr_grpo_loss(float *dlogits, double *loss, tr_grpo_stats *stats, const float *logits,
                 const int32_t *targets, const float *mask, const float *advantages,
                 const float *old_logp, const float *ref_logp, int64_t B, int64_t L, int V,
                 const tr_grpo_params *params, tr_err *err);

/* The same for rows [r0, r0 + nr) of the B*L positions only (a chunk of the logits, see
 * model.h): logits and dlogits are [nr, V] (row i is position r0 + i); targets, mask,
 * advantages, old_logp and ref_logp are the whole batch's [B*L] arrays (grpo's |o_i| is
 * the whole sequence's). loss and stats are this chunk's contribution: they add up over
 * the chunks (tr_grpo_stats_merge). tr_grpo_loss is the case r0 = 0, nr = B*L. */
int tr_grpo_loss_rows(float *dlogits, double *loss, tr_grpo_stats *stats, const float *logits,
                      int64_t r0, int64_t nr, const int32_t *targets, const float *mask,
                      const float *advantages, const float *old_logp, const float *ref_logp,
                      int64_t B, int64_t L, int V, const tr_grpo_params *p, tr_err *err);

/* logp[n] = log_softmax(logits_n / T)[targets[n]] for the old policy and the reference
 * model; entropy[n] (may be NULL) = H(softmax(logits_n / T)). Rows with mask 0 (mask may be
 * NULL: all rows) are skipped and get 0. */
int tr_token_logprobs(float *logp, float *entropy, const float *logits, const int32_t *targets,
                      const float *mask, int64_t N, int V, double temperature, tr_err *err);

/* Group-relative advantages. rewards [n_groups * group_size], group g = the group_size
 * consecutive entries starting at g*group_size (the G samples of one question).
 *   A_i = (r_i - mean_g) / (std + eps)   with mean_g the group's mean and
 *   std = TR_ADV_SCALE_GROUP: the group's SAMPLE standard deviation (divisor n - 1, as
 *         torch.std in TRL; 0 for a group of one); TR_ADV_SCALE_BATCH: the sample standard
 *         deviation of all rewards of the call; TR_ADV_SCALE_NONE: A_i = r_i - mean_g.
 * eps: TRL uses 1e-4. *zero_std_frac (may be NULL) = the fraction of groups whose rewards
 * are all equal: their advantages are 0 and they carry no signal (TRL #2703). */
typedef enum tr_adv_scale {
    TR_ADV_SCALE_GROUP = 0,
    TR_ADV_SCALE_BATCH,
    TR_ADV_SCALE_NONE,
} tr_adv_scale;

int tr_grpo_advantages(float *advantages, double *zero_std_frac, const float *rewards,
                       int64_t n_groups, int group_size, tr_adv_scale scale, double eps,
                       tr_err *err);

#endif
