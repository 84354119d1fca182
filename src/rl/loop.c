/* The GRPO loop: steps, evaluation, metrics.jsonl, progress, checkpoints (grpo.h). */
#include <stdio.h>
#include <string.h>

#include "tinyr1/grpo.h"
#include "tinyr1/report.h"

static int save(tr_grpo *g, const tr_grpo_loop_config *lc, const tr_train_state *st,
                tr_cost_meter *cost, tr_err *err) {
    if (g->cfg.dist.rank != 0) return 0; /* one writer per run folder */
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.bin", lc->out_dir);
    if (tr_checkpoint_save(path, g->trainer.model, &g->trainer.opt, st, lc->meta_json,
                           lc->tokenizer, err) != 0)
        return -1;
    return tr_cost_meter_write(cost, lc->out_dir, err);
}

/* The cost meter of the run (stage "grpo"): on resume the phase totals of the cost.json
 * written with the checkpoint are carried over, so the file covers the whole run. */
static void cost_begin(tr_cost_meter *cost, const tr_grpo *g, const tr_grpo_loop_config *lc,
                       int64_t step) {
    tr_peak peak;
    tr_err ignore;
    int peak_ok = tr_peak_get(&peak, 0, &ignore) == 0;
    tr_cost_meter_init(cost, "grpo", &g->trainer.model->cfg, peak_ok ? &peak : NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/cost.json", lc->out_dir);
    tr_cost_meter prev;
    if (step > 0 && tr_cost_meter_read(&prev, path, &ignore) == 0) {
        memcpy(cost->phase, prev.phase, sizeof cost->phase);
        memcpy(cost->mark, prev.phase, sizeof cost->mark); /* the next fragment: new work only */
    }
}

static int run_eval(tr_grpo *g, const tr_grpo_loop_config *lc, int64_t step, tr_metrics *metrics,
                    tr_cost_meter *cost, tr_grpo_eval_result *r, tr_err *err) {
    if (!lc->eval_problems || lc->n_eval <= 0) return 0;
    tr_grpo_eval_params ep = lc->eval;
    char path[4096];
    snprintf(path, sizeof path, "%s/samples.jsonl", lc->out_dir);
    const int rank0 = g->cfg.dist.rank == 0;
    ep.samples = rank0 ? fopen(path, step == 0 ? "w" : "a") : NULL;
    ep.step = step;
    if (ep.n_samples <= 0) ep.n_samples = 4;
    int rc = tr_grpo_evaluate(g, lc->eval_problems, lc->eval_tasks, lc->n_eval, &ep, r, err);
    if (ep.samples) fclose(ep.samples);
    if (rc != 0) return -1;
    tr_cost_add(cost, TR_PHASE_EVAL, r->seconds, 0, 0);
    char line[512];
    snprintf(line, sizeof line,
             "{\"stage\":\"grpo_eval\",\"step\":%lld,\"pass1\":%.6g,\"format\":%.6g,"
             "\"language\":%.6g,\"length\":%.6g,\"n\":%d,\"k\":%d,\"temperature\":%g,"
             "\"seconds\":%.6g}",
             (long long)step, r->pass1, r->format, r->language, r->length, r->n, r->k,
             (double)lc->eval.temperature, r->seconds);
    if (!lc->quiet && rank0)
        fprintf(stderr,
                "\ngrpo: eval at step %lld: pass@1 %.3f (%d problems x %d), format %.3f, "
                "language %.3f, length %.1f (%.1fs)\n",
                (long long)step, r->pass1, r->n, r->k, r->format, r->language, r->length,
                r->seconds);
    return tr_metrics_write(metrics, line, err);
}

int tr_grpo_train(tr_grpo *g, const tr_grpo_loop_config *lc, const tr_grpo_source *src,
                  tr_train_state *st, tr_err *err) {
    const tr_grpo_config *c = &g->cfg;
    const int rank0 = c->dist.rank == 0; /* writes metrics, samples and checkpoints */
    tr_metrics metrics = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", lc->out_dir);
    if (rank0 && tr_metrics_open(&metrics, path, st->step > 0 ? st->step : -1, err) != 0) return -1;
    int rc = -1;
    tr_grpo_eval_result er;
    tr_cost_meter cost;
    cost_begin(&cost, g, lc, st->step);
    if (st->step == 0 && run_eval(g, lc, 0, &metrics, &cost, &er, err) != 0) goto done;
    tr_progress bar;
    tr_progress_start(&bar, "grpo", lc->steps, st->step);
    bar.quiet = lc->quiet || !rank0;
    if (lc->log_every > 0) bar.every = lc->log_every;
    while (st->step < lc->steps) {
        if (lc->stop && *lc->stop) {
            if (save(g, lc, st, &cost, err) != 0) goto done;
            if (rank0)
                fprintf(stderr, "\ngrpo: interrupted; checkpoint saved at step %lld\n",
                        (long long)st->step);
            rc = 1;
            goto done;
        }
        tr_grpo_step_stats s;
        if (tr_grpo_step(g, src, st, &s, err) != 0) goto done;
        tr_cost_add(&cost, TR_PHASE_GENERATE, s.gen_seconds, s.gen_tokens, s.gen_flops);
        tr_cost_add(&cost, TR_PHASE_TRAIN, s.ref_seconds + s.train_seconds, s.train_tokens,
                    s.ref_flops + s.train_flops);
        char line[4096];
        int n = snprintf(line, sizeof line,
                         "{\"stage\":\"grpo\",\"step\":%lld,\"reward\":%.6g,\"reward_std\":%.6g",
                         (long long)st->step, s.reward_mean, s.reward_std);
        for (int k = 0; k < c->rewards.n; k++) {
            const char *name = tr_reward_kind_name(c->rewards.kind[k]);
            n += snprintf(line + n, sizeof line - (size_t)n,
                          ",\"reward_%s\":%.6g,\"reward_%s_std\":%.6g", name, s.comp_mean[k], name,
                          s.comp_std[k]);
        }
        double clip =
            s.obj.tokens > 0 ? (s.obj.clip_low_sum + s.obj.clip_high_sum) / s.obj.tokens : 0;
        tr_cost_add_comm(&cost, c->dist.world, s.comm_seconds, s.comm_bytes);
        n += snprintf(
            line + n, sizeof line - (size_t)n,
            ",\"accuracy\":%.6g,\"response_len\":%.6g,\"truncated\":%.6g,\"zero_var_frac\":%.6g,"
            "\"kl\":%.6g,\"ratio\":%.6g,\"clip_frac\":%.6g,\"clip_low\":%.6g,"
            "\"clip_high\":%.6g,\"entropy\":%.6g,\"loss\":%.7g,\"grad_norm\":%.6g,"
            "\"lr\":%.6g,\"updates\":%d,\"gen_seconds\":%.6g,\"reward_seconds\":%.6g,"
            "\"ref_seconds\":%.6g,\"train_seconds\":%.6g,\"gen_tokens\":%.0f,"
            "\"train_tokens\":%.0f,\"elapsed\":%.6g,\"allreduce_seconds\":%.6g,"
            "\"allreduce_bytes\":%.0f,",
            s.accuracy, s.length_mean, s.truncated_frac, s.zero_std_frac, s.obj.mean_kl,
            s.obj.mean_ratio, clip, s.obj.clip_low_frac, s.obj.clip_high_frac, s.obj.mean_entropy,
            s.loss, s.grad_norm, (double)s.lr, s.updates, s.gen_seconds, s.reward_seconds,
            s.ref_seconds, s.train_seconds, s.gen_tokens, s.train_tokens, st->elapsed,
            s.comm_seconds, s.comm_bytes);
        if (n < (int)sizeof line)
            n += tr_cost_metrics_fragment(&cost, line + n, sizeof line - (size_t)n);
        if (n < (int)sizeof line) snprintf(line + n, sizeof line - (size_t)n, "}");
        if (tr_metrics_write(&metrics, line, err) != 0) goto done;
        char fields[512];
        int f = snprintf(fields, sizeof fields, "R %.3f+-%.3f (", s.reward_mean, s.reward_std);
        for (int k = 0; k < c->rewards.n; k++)
            f += snprintf(fields + f, sizeof fields - (size_t)f, "%s%.3s %.2f+-%.2f", k ? " " : "",
                          tr_reward_kind_name(c->rewards.kind[k]), s.comp_mean[k], s.comp_std[k]);
        snprintf(fields + f, sizeof fields - (size_t)f,
                 ") | acc %.2f | len %.0f | kl %.4f | clip %.3f | H %.2f | flat %.2f | "
                 "gen %.1fs train %.1fs",
                 s.accuracy, s.length_mean, s.obj.mean_kl, clip, s.obj.mean_entropy,
                 s.zero_std_frac, s.gen_seconds, s.train_seconds + s.ref_seconds);
        tr_progress_update(&bar, st->step, fields);
        if (st->step == lc->steps) tr_progress_finish(&bar, fields);
        int last = st->step == lc->steps;
        if ((last || (lc->eval_every > 0 && st->step % lc->eval_every == 0)) &&
            run_eval(g, lc, st->step, &metrics, &cost, &er, err) != 0)
            goto done;
        if (!last && lc->checkpoint_every > 0 && st->step % lc->checkpoint_every == 0 &&
            save(g, lc, st, &cost, err) != 0)
            goto done;
    }
    if (lc->steps > 0 && save(g, lc, st, &cost, err) != 0) goto done; /* steps 0: evaluation only */
    rc = 0;
done:
    tr_metrics_close(&metrics);
    return rc;
}
