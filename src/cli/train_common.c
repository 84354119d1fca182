/* Options and run handling shared by pretrain, sft, distill and grpo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

cli_train_opts cli_train_opts_default(const char *out) {
    cli_train_opts t = {.out = out, .schedule = "cosine", .steps = 200, .batch = 8, .seq = 128,
                        .accum = 1, .warmup = 20, .threads = 0, .checkpoint_every = 100,
                        .resume = 0, .quiet = 0, .seed = 1, .lr = 1e-3f, .min_lr = -1,
                        .wd = 0.1f, .beta2 = 0.95f, .clip = 1.0f};
    return t;
}

int cli_train_opts_table(cli_train_opts *t, cli_opt *o) {
    int n = 0;
    o[n++] = (cli_opt){"out", CLI_STR, &t->out, "DIR", "run folder: checkpoint.bin, metrics.jsonl, args.json"};
    o[n++] = (cli_opt){"steps", CLI_INT, &t->steps, "N", "optimizer steps"};
    o[n++] = (cli_opt){"batch", CLI_INT, &t->batch, "B", "sequences per micro-batch"};
    o[n++] = (cli_opt){"seq", CLI_INT, &t->seq, "T", "tokens per sequence (longer examples are cut)"};
    o[n++] = (cli_opt){"accum", CLI_INT, &t->accum, "K", "micro-batches per optimizer step (gradient accumulation)"};
    o[n++] = (cli_opt){"lr", CLI_FLOAT, &t->lr, "LR", "peak learning rate"};
    o[n++] = (cli_opt){"min-lr", CLI_FLOAT, &t->min_lr, "LR", "final learning rate of the cosine schedule (-1: lr/10)"};
    o[n++] = (cli_opt){"warmup", CLI_INT, &t->warmup, "N", "linear warmup steps"};
    o[n++] = (cli_opt){"schedule", CLI_STR, &t->schedule, "KIND", "learning-rate schedule after warmup: cosine|constant"};
    o[n++] = (cli_opt){"wd", CLI_FLOAT, &t->wd, "W", "AdamW weight decay (matrices only)"};
    o[n++] = (cli_opt){"beta2", CLI_FLOAT, &t->beta2, "B2", "AdamW beta2"};
    o[n++] = (cli_opt){"clip", CLI_FLOAT, &t->clip, "C", "global gradient-norm clipping (0: off)"};
    o[n++] = (cli_opt){"seed", CLI_INT64, &t->seed, "S", "random seed"};
    o[n++] = (cli_opt){"threads", CLI_INT, &t->threads, "N", "threads (0: OMP_NUM_THREADS or all cores)"};
    o[n++] = (cli_opt){"checkpoint-every", CLI_INT, &t->checkpoint_every, "N", "save a checkpoint every N steps (and at the end)"};
    o[n++] = (cli_opt){"resume", CLI_FLAG, &t->resume, NULL, "continue from OUT/checkpoint.bin if it exists"};
    o[n++] = (cli_opt){"logits-chunk", CLI_INT64, &t->logits_chunk, "ROWS", "positions whose logits are computed at once (0: all when [batch x seq, vocab] floats fit in 256 MiB, else 256 MiB worth)"};
    return n;
}

int cli_run_resume(cli_run *run, const cli_train_opts *t, tr_err *err) {
    memset(run, 0, sizeof *run);
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", t->out);
    struct stat sb;
    if (!t->resume || stat(ckpt, &sb) != 0) return 0;
    tr_adamw_params ap = tr_adamw_default_params();
    tr_checkpoint_info info;
    if (tr_checkpoint_load(ckpt, &run->model, &run->restored, ap, &info, err) != 0) return -1;
    run->st = info.state;
    run->has_restored = info.has_optimizer;
    int rc = 1;
    if (info.tokenizer) {
        tr_tokenizer_files f = {.format = TR_TOKFMT_TINYR1, .data = info.tokenizer,
                                .len = info.tokenizer_len, .name = ckpt};
        if (tr_tokenizer_load_files(&run->tok, &f, err) != 0) rc = -1;
    }
    tr_checkpoint_info_free(&info);
    if (rc == 1)
        fprintf(stderr, "resuming from %s at step %lld\n", ckpt, (long long)run->st.step);
    return rc;
}

void cli_run_fresh_state(cli_run *run, const cli_train_opts *t) {
    memset(&run->st, 0, sizeof run->st);
    tr_rng_seed(&run->st.rng, (uint64_t)t->seed);
    tr_rng_seed(&run->st.data_rng, (uint64_t)t->seed + 1);
}

int cli_run_train(cli_run *run, const char *stage, const cli_train_opts *t,
                  const tr_objective *obj, tr_batch_fn next, void *next_ctx,
                  const char *meta_json) {
    return cli_run_train_eval(run, stage, t, obj, next, next_ctx, meta_json, 0, NULL, NULL);
}

/* Appends {"stage", "step", <fields>} to OUT/metrics.jsonl (the loop has closed it). */
static int write_eval_line(const char *stage, const char *out, int64_t step, const char *fields,
                           tr_err *err) {
    if (cli_dist()->rank != 0) return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    FILE *f = fopen(path, "a");
    if (!f) return tr_fail(err, "%s: cannot open for appending", path);
    fprintf(f, "{\"stage\":\"%s\",\"step\":%lld,%s}\n", stage, (long long)step, fields);
    return fclose(f) == 0 ? 0 : tr_fail(err, "%s: write failed", path);
}

int cli_run_train_eval(cli_run *run, const char *stage, const cli_train_opts *t,
                       const tr_objective *obj, tr_batch_fn next, void *next_ctx,
                       const char *meta_json, int eval_every, cli_eval_fn eval,
                       void *eval_ctx) {
    tr_err err;
    tr_schedule_kind kind;
    if (tr_schedule_parse(t->schedule, &kind, &err) != 0) return cli_error(stage, err.msg);
    if (t->steps <= 0 || t->batch <= 0 || t->seq <= 0 || t->accum <= 0)
        return cli_error(stage, "--steps, --batch, --seq and --accum must be positive");
    if (t->logits_chunk < 0)
        return cli_error(stage, "--logits-chunk must be >= 0 (0: automatic)");
    if (t->seq > run->model.cfg.max_seq) {
        char m[160];
        snprintf(m, sizeof m, "--seq %d exceeds the model's max_seq %d", t->seq,
                 run->model.cfg.max_seq);
        return cli_error(stage, m);
    }
    tr_adamw_params ap = tr_adamw_default_params();
    ap.lr = t->lr;
    ap.weight_decay = t->wd;
    ap.beta2 = t->beta2;
    tr_lr_schedule sched = {kind, t->lr, t->min_lr >= 0 ? t->min_lr : t->lr / 10, t->warmup,
                            t->steps};
    char *blob = NULL;
    size_t blob_len = 0;
    if (run->tok && tr_tokenizer_serialize(run->tok, &blob, &blob_len, &err) != 0)
        return cli_error(stage, err.msg);
    const tr_dist *dist = cli_dist();
    if (t->batch % dist->world != 0) {
        free(blob);
        return cli_error(stage, "--batch (the global batch) must be a multiple of the number "
                                "of MPI processes");
    }
    tr_trainer trainer;
    if (tr_trainer_init(&trainer, &run->model, ap, run->has_restored ? &run->restored : NULL,
                        sched, t->clip, t->batch / dist->world, t->seq, *dist, &err) != 0) {
        free(blob);
        return cli_error(stage, err.msg);
    }
    if (t->logits_chunk > 0 && tr_trainer_set_logits_chunk(&trainer, t->logits_chunk, &err) != 0) {
        tr_trainer_free(&trainer);
        free(blob);
        return cli_error(stage, err.msg);
    }
    run->has_restored = 0;
    tr_loop_config lc = {.stage = stage, .out_dir = t->out, .steps = t->steps,
                         .micro_batches = t->accum, .B = t->batch, .T = t->seq,
                         .checkpoint_every = t->checkpoint_every, .log_every = 10,
                         .stop = cli_install_stop_handler(), .meta_json = meta_json,
                         .tokenizer = {blob, blob_len}, .quiet = t->quiet};
    int rc = 0;
    char fields[1024];
    if (eval && run->st.step == 0) { /* the starting point of the curve */
        rc = eval(eval_ctx, &run->model, 0, fields, sizeof fields, &err);
        if (rc == 0) rc = write_eval_line(stage, t->out, 0, fields, &err);
    }
    while (rc == 0 && run->st.step < t->steps) {
        /* with an evaluation, the loop runs in segments that end at its steps */
        int64_t end = t->steps;
        if (eval && eval_every > 0) {
            int64_t e = (run->st.step / eval_every + 1) * eval_every;
            if (e < end) end = e;
        }
        lc.steps = end;
        rc = tr_train_loop(&trainer, &lc, next, next_ctx, obj, &run->st, &err);
        if (rc == 0 && eval && (end == t->steps || (eval_every > 0 && end % eval_every == 0))) {
            rc = eval(eval_ctx, &run->model, end, fields, sizeof fields, &err);
            if (rc == 0) rc = write_eval_line(stage, t->out, end, fields, &err);
        }
    }
    if (rc < 0) fprintf(stderr, "tinyr1 %s: rank %d: %s\n", stage, dist->rank, err.msg);
    else if (rc == 0 && dist->rank == 0)
        fprintf(stderr, "%s: done; checkpoint %s/checkpoint.bin\n", stage, t->out);
    tr_trainer_free(&trainer);
    free(blob);
    return rc < 0 ? 1 : (rc == 1 ? 130 : 0);
}

void cli_run_free(cli_run *run) {
    tr_model_free(&run->model);
    tr_adamw_free(&run->restored);
    if (run->tok) tr_tokenizer_free(run->tok);
    memset(run, 0, sizeof *run);
}
