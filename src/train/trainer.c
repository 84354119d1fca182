/* The training step and loop shared by every stage (include/tinyr1/train.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/cost.h"
#include "tinyr1/objectives.h"
#include "tinyr1/train.h"

static int ce_fn(void *ctx, float *logits, int64_t r0, int64_t n, int V, const tr_batch *b,
                 int micro, double norm, tr_objective_out *out, tr_err *err) {
    (void)ctx;
    (void)micro;
    return tr_ce_loss(logits, &out->loss, logits, b->targets + r0, b->weights + r0, n, V, norm,
                      err);
}

tr_objective tr_objective_ce(void) {
    tr_objective o = {.fn = ce_fn, .ctx = NULL, .part_names = {NULL}, .norm = NULL};
    return o;
}

int tr_trainer_init(tr_trainer *t, tr_model *m, tr_adamw_params p, tr_adamw *restored,
                    tr_lr_schedule schedule, float grad_clip, int max_B, int max_T,
                    tr_dist dist, tr_err *err) {
    memset(t, 0, sizeof *t);
    t->model = m;
    t->schedule = schedule;
    t->grad_clip = grad_clip;
    t->dist = dist;
    if (restored) {
        t->opt = *restored;
        t->opt.p = p;
        memset(restored, 0, sizeof *restored);
    } else if (tr_adamw_init(&t->opt, &m->table, p, err) != 0) {
        return -1;
    }
    t->max_B = max_B;
    t->max_T = max_T;
    t->grads = tr_aligned_alloc(m->table.total * sizeof(float), err);
    if (!t->grads || tr_trainer_set_logits_chunk(t, 0, err) != 0) {
        tr_trainer_free(t);
        return -1;
    }
    return 0;
}

int tr_trainer_set_logits_chunk(tr_trainer *t, int64_t rows, tr_err *err) {
    const int64_t N = (int64_t)t->max_B * t->max_T;
    if (rows <= 0) rows = tr_logits_chunk_rows(N, t->model->cfg.vocab, 0);
    if (rows > N) rows = N;
    tr_activations_free(t->acts);
    t->acts = NULL;
    if (tr_activations_init_rows(&t->acts, &t->model->cfg, t->max_B, t->max_T, rows, err) != 0)
        return -1;
    t->logits_chunk = rows;
    return 0;
}

void tr_trainer_free(tr_trainer *t) {
    tr_adamw_free(&t->opt);
    free(t->grads);
    tr_activations_free(t->acts);
    memset(t, 0, sizeof *t);
}

static int check_tokens(const tr_batch *b, int V, tr_err *err) {
    for (int64_t i = 0; i < (int64_t)b->B * b->T; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= V)
            return tr_fail(err, "batch: token id %d at row %lld, position %lld is outside the "
                                "model's vocabulary [0, %d)",
                           b->tokens[i], (long long)(i / b->T), (long long)(i % b->T), V);
        if (b->weights[i] != 0 && (b->targets[i] < 0 || b->targets[i] >= V))
            return tr_fail(err, "batch: target id %d at row %lld, position %lld is outside "
                                "[0, %d)",
                           b->targets[i], (long long)(i / b->T), (long long)(i % b->T), V);
        if (!(b->weights[i] >= 0) || !isfinite(b->weights[i]))
            return tr_fail(err, "batch: weight at row %lld, position %lld is %g; expected a "
                                "finite non-negative number",
                           (long long)(i / b->T), (long long)(i % b->T), (double)b->weights[i]);
    }
    return 0;
}

int tr_trainer_step(tr_trainer *t, const tr_batch *micro, int n_micro, const tr_objective *obj,
                    tr_step_stats *st, tr_err *err) {
    double t0 = tr_now();
    tr_model *m = t->model;
    const int V = m->cfg.vocab;
    memset(st, 0, sizeof *st);
    for (int i = 0; i < n_micro; i++)
        if (check_tokens(&micro[i], V, err) != 0) return -1;
    /* normaliser over the whole accumulated batch and all ranks */
    double norm = 0;
    if (obj->norm) norm = obj->norm(obj->ctx, micro, n_micro);
    else
        for (int i = 0; i < n_micro; i++) norm += tr_batch_weight_sum(&micro[i]);
    double tc = tr_now();
    if (tr_dist_allreduce_sum_f64(&t->dist, &norm, 1, err) != 0) return -1;
    st->comm_seconds = tr_now() - tc;
    if (!(norm > 0))
        return tr_fail(err, "step %lld: no position has a loss weight (every trained token was "
                            "cut off or masked): raise --seq, or use a shorter template",
                       (long long)t->opt.t + 1);
    st->weight = norm;
    memset(t->grads, 0, m->table.total * sizeof(float));
    for (int i = 0; i < n_micro; i++) {
        const tr_batch *b = &micro[i];
        if (!tr_model_forward_hidden(m, t->acts, b->tokens, b->B, b->T))
            return tr_fail(err, "batch %d x %d is larger than the %s allocated for", b->B, b->T,
                           "activation arena");
        /* the LM head, the objective and the LM head's backward, chunk by chunk */
        const int64_t N = (int64_t)b->B * b->T;
        int64_t C;
        float *logits = tr_activations_logits(t->acts, &C);
        for (int64_t r0 = 0; r0 < N; r0 += C) {
            const int64_t n = N - r0 < C ? N - r0 : C;
            tr_model_logits_rows(m, t->acts, logits, r0, n);
            tr_objective_out out = {0};
            if (obj->fn(obj->ctx, logits, r0, n, V, b, i, norm, &out, err) != 0) return -1;
            st->loss += out.loss;
            for (int k = 0; k < TR_MAX_PARTS; k++) st->parts[k] += out.parts[k];
            tr_model_backward_logits_rows(m, t->acts, t->grads, logits, r0, n);
        }
        tr_model_backward_hidden(m, t->acts, t->grads);
    }
    double sums[1 + TR_MAX_PARTS];
    sums[0] = st->loss;
    memcpy(sums + 1, st->parts, sizeof st->parts);
    tc = tr_now();
    if (tr_dist_allreduce_sum_f64(&t->dist, sums, 1 + TR_MAX_PARTS, err) != 0 ||
        tr_dist_allreduce_sum_f32(&t->dist, t->grads, m->table.total, err) != 0)
        return -1;
    st->comm_seconds += tr_now() - tc;
    if (t->dist.world > 1)
        st->comm_bytes = (double)sizeof(double) * (2 + TR_MAX_PARTS) +
                         (double)sizeof(float) * (double)m->table.total;
    st->loss = sums[0];
    memcpy(st->parts, sums + 1, sizeof st->parts);
    st->grad_norm = tr_clip_grad_norm(t->grads, m->table.total, t->grad_clip);
    if (!isfinite(st->loss) || !isfinite(st->grad_norm))
        return tr_fail(err, "step %lld: loss %g, gradient norm %g: not finite; the parameters "
                            "were not updated (lower --lr, or check the data)",
                       (long long)t->opt.t + 1, st->loss, st->grad_norm);
    st->lr = tr_lr_at(&t->schedule, t->opt.t);
    tr_adamw_step(&t->opt, &m->table, m->params, t->grads, st->lr);
    st->seconds = tr_now() - t0;
    return 0;
}

static int save(tr_trainer *t, const tr_loop_config *lc, const tr_train_state *st,
                tr_cost_meter *cost, tr_err *err) {
    if (t->dist.rank != 0) return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.bin", lc->out_dir);
    if (tr_checkpoint_save(path, t->model, &t->opt, st, lc->meta_json, lc->tokenizer, err) != 0)
        return -1;
    return tr_cost_meter_write(cost, lc->out_dir, err);
}

/* The run's cost meter: continued from OUT/cost.json when resuming, else fresh. The peak
 * FLOP/s comes from tr_peak_get (cached probe, or TINYR1_PEAK_GFLOPS). */
static void cost_start(tr_cost_meter *cost, const tr_trainer *t, const tr_loop_config *lc,
                       const tr_train_state *st) {
    tr_peak peak;
    tr_err ignore;
    int have_peak = tr_peak_get(&peak, 0, &ignore) == 0;
    tr_cost_meter_init(cost, lc->stage, &t->model->cfg, have_peak ? &peak : NULL);
    if (st->step > 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/cost.json", lc->out_dir);
        tr_cost_meter old;
        if (tr_cost_meter_read(&old, path, &ignore) == 0) {
            for (int ph = 0; ph < TR_PHASE_COUNT; ph++) cost->phase[ph] = old.phase[ph];
            cost->comm = old.comm;
        }
    }
}

/* Rows [r*B/W, (r+1)*B/W) of a batch, as a view (no copy: rows are contiguous). */
static tr_batch shard_view(const tr_batch *b, const tr_dist *d) {
    int rows = b->B / d->world, r0 = d->rank * rows;
    tr_batch v = {.B = rows, .T = b->T, .tokens = b->tokens + (size_t)r0 * b->T,
                  .targets = b->targets + (size_t)r0 * b->T,
                  .weights = b->weights + (size_t)r0 * b->T, .lengths = b->lengths + r0};
    return v;
}

int tr_train_loop(tr_trainer *t, const tr_loop_config *lc, tr_batch_fn next, void *next_ctx,
                  const tr_objective *obj, tr_train_state *st, tr_err *err) {
    const int rank0 = t->dist.rank == 0;
    int n_micro = lc->micro_batches > 0 ? lc->micro_batches : 1;
    if (lc->B % t->dist.world != 0)
        return tr_fail(err, "the batch (%d sequences) must be a multiple of the number of "
                            "processes (%d)",
                       lc->B, t->dist.world);
    /* Every rank fills the same global micro-batches (the data sources know nothing of
     * ranks) and trains on its own rows: the run is the same as one process's with the
     * same global batch, and so is its resume. */
    tr_batch *micro = tr_calloc((size_t)n_micro * 2, sizeof *micro, err);
    if (!micro) return -1;
    tr_batch *local = micro + n_micro;
    int rc = -1;
    tr_metrics metrics = {0};
    for (int i = 0; i < n_micro; i++)
        if (tr_batch_alloc(&micro[i], lc->B, lc->T, err) != 0) goto done;
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", lc->out_dir);
    if (rank0 && tr_metrics_open(&metrics, path, st->step > 0 ? st->step : -1, err) != 0)
        goto done;
    tr_cost_meter cost;
    cost_start(&cost, t, lc, st);
    tr_progress bar;
    tr_progress_start(&bar, lc->stage, lc->steps, st->step);
    bar.quiet = lc->quiet || !rank0;
    if (lc->log_every > 0) bar.every = lc->log_every;
    double tok_window = 0, sec_window = 0;
    while (st->step < lc->steps) {
        if (lc->stop && *lc->stop) {
            if (save(t, lc, st, &cost, err) != 0) goto done;
            if (rank0) fprintf(stderr, "\n%s: interrupted; checkpoint saved at step %lld\n",
                               lc->stage, (long long)st->step);
            rc = 1;
            goto done;
        }
        for (int i = 0; i < n_micro; i++) {
            if (next(next_ctx, &micro[i], st, err) != 0) goto done;
            local[i] = shard_view(&micro[i], &t->dist);
        }
        tr_step_stats s;
        if (tr_trainer_step(t, local, n_micro, obj, &s, err) != 0) goto done;
        double step_flops = 0; /* useful FLOPs of the whole step, all ranks (docs/cost.md) */
        for (int i = 0; i < n_micro; i++)
            step_flops += tr_flops_train_step(&t->model->cfg, micro[i].B, micro[i].T);
        double step_tokens = 0;
        for (int i = 0; i < n_micro; i++) step_tokens += (double)micro[i].B * micro[i].T;
        /* the step's time is each rank's; FLOPs are the job's: MFU is per machine x ranks */
        tr_cost_add(&cost, TR_PHASE_TRAIN, s.seconds, step_tokens, step_flops / t->dist.world);
        tr_cost_add_comm(&cost, t->dist.world, s.comm_seconds, s.comm_bytes);
        st->step++;
        double tokens = 0; /* every input position is processed, weighted or not */
        for (int i = 0; i < n_micro; i++) tokens += (double)micro[i].B * micro[i].T;
        st->tokens += tokens;
        st->elapsed += s.seconds;
        tok_window += tokens;
        sec_window += s.seconds;
        if (rank0) {
            char line[1024];
            int n = snprintf(line, sizeof line,
                             "{\"stage\":\"%s\",\"step\":%lld,\"loss\":%.7g,\"lr\":%.6g,"
                             "\"grad_norm\":%.6g,\"tokens\":%.0f,\"trained_tokens\":%.0f,"
                             "\"step_seconds\":%.6g,\"tok_s\":%.6g,\"elapsed\":%.6g,"
                             "\"allreduce_seconds\":%.6g,\"allreduce_bytes\":%.0f",
                             lc->stage, (long long)st->step, s.loss, (double)s.lr, s.grad_norm,
                             st->tokens, s.weight, s.seconds, tokens / s.seconds, st->elapsed,
                             s.comm_seconds, s.comm_bytes);
            for (int k = 0; k < TR_MAX_PARTS && obj->part_names[k]; k++)
                n += snprintf(line + n, sizeof line - (size_t)n, ",\"%s\":%.7g",
                              obj->part_names[k], s.parts[k]);
            n += snprintf(line + n, sizeof line - (size_t)n, ",");
            n += tr_cost_metrics_fragment(&cost, line + n, sizeof line - (size_t)n);
            snprintf(line + n, sizeof line - (size_t)n, "}");
            if (tr_metrics_write(&metrics, line, err) != 0) goto done;
            char fields[160];
            snprintf(fields, sizeof fields, "loss %.4f | %.0f tok/s", s.loss,
                     tok_window / (sec_window > 0 ? sec_window : 1));
            tr_progress_update(&bar, st->step, fields);
            if (st->step == lc->steps) tr_progress_finish(&bar, fields);
        }
        if (lc->checkpoint_every > 0 && st->step % lc->checkpoint_every == 0 &&
            st->step < lc->steps && save(t, lc, st, &cost, err) != 0)
            goto done;
    }
    if (save(t, lc, st, &cost, err) != 0) goto done;
    rc = 0;
done:
    tr_metrics_close(&metrics);
    for (int i = 0; i < n_micro; i++) tr_batch_free(&micro[i]);
    free(micro);
    return rc;
}
