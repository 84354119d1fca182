/* tinyr1 sft: supervised fine-tuning with completion-only cross-entropy, on a dataset or on
 * generated task solutions, through a chat template. */
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    tr_sft_set *set;
    int32_t pad;
    tr_trunc trunc;
} sft_ctx;

static int next_batch(void *ctx, tr_batch *b, tr_train_state *st, tr_err *err) {
    sft_ctx *c = ctx;
    /* data_rng is never advanced: it is the base of the epoch permutations */
    return tr_sft_set_fill(c->set, b, &st->data_cursor, &st->data_rng, c->pad, c->trunc, NULL,
                           err);
}

int cmd_sft(int argc, char **argv) {
    tr_err err;
    cli_train_opts t = cli_train_opts_default("runs/sft");
    t.lr = 3e-4f;
    t.warmup = 10;
    const char *init = NULL, *tokenizer = NULL, *data = NULL, *tasks = NULL, *system = NULL;
    const char *tpl_name = "r1zero", *trunc_name = "right", *lang = "en";
    int n_per_task = 2000, skip_bad = 0, difficulty = 0;
    int64_t task_seed = 1000;
    cli_opt opts[CLI_TRAIN_N_OPTS + 16];
    int n = 0;
    opts[n++] = (cli_opt){"init", CLI_STR, &init, "MODEL", "model to fine-tune: a tinyr1 checkpoint or run folder, a Hugging Face folder, a llama2.c .bin"};
    opts[n++] = (cli_opt){"tokenizer", CLI_STR, &tokenizer, "PATH", "tokenizer (default: the one inside the model)"};
    opts[n++] = (cli_opt){"data", CLI_STR, &data, "FILE", "JSONL: prompt/completion, messages, GSM8K, MATH-style or Countdown rows"};
    opts[n++] = (cli_opt){"task", CLI_STR, &tasks, "T1,T2", "worked solutions of generated tasks (add, mul, countdown, wordprob); with --data, mixed in"};
    opts[n++] = (cli_opt){"n", CLI_INT, &n_per_task, "N", "problems per task with --task"};
    opts[n++] = (cli_opt){"task-seed", CLI_INT64, &task_seed, "S", "generator seed with --task"};
    opts[n++] = (cli_opt){"difficulty", CLI_INT, &difficulty, "D", "task difficulty 1..10 (0: the task's default)"};
    opts[n++] = (cli_opt){"lang", CLI_STR, &lang, "en|zh", "language of generated problems (wordprob has both)"};
    opts[n++] = (cli_opt){"template", CLI_STR, &tpl_name, "NAME", "chat template: r1zero|chat|none"};
    opts[n++] = (cli_opt){"system", CLI_STR, &system, "TEXT", "system message (chat template)"};
    opts[n++] = (cli_opt){"trunc", CLI_STR, &trunc_name, "SIDE", "cut long examples on the right (keep the prompt) or left (keep the end)"};
    opts[n++] = (cli_opt){"skip-bad", CLI_FLAG, &skip_bad, NULL, "skip malformed data lines (counted) instead of stopping"};
    n += cli_train_opts_table(&t, opts + n);
    opts[n++] = (cli_opt){"quiet", CLI_FLAG, &t.quiet, NULL, "no progress display"};
    opts[n] = (cli_opt){0};
    const cli_spec spec = {"sft", "Supervised fine-tuning: cross-entropy on the completion tokens only.",
                           "", opts, 0, 0,
                           "Example: tinyr1 sft --init runs/base --task add --n 5000 --out runs/sft\n"
                           "Ctrl-C saves a checkpoint; --resume continues exactly."};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    tr_set_threads(t.threads);
    int tpl = tr_template_from_name(tpl_name);
    if (tpl < 0) return cli_error("sft", "--template must be r1zero, chat or none");
    tr_trunc trunc = strcmp(trunc_name, "left") == 0 ? TR_TRUNC_LEFT : TR_TRUNC_RIGHT;
    if (strcmp(trunc_name, "left") && strcmp(trunc_name, "right"))
        return cli_error("sft", "--trunc must be left or right");
    if (!data && !tasks) return cli_error("sft", "give --data FILE, --task NAMES, or both (mixed)");
    if (tr_mkdirs(t.out, &err) != 0) return cli_error("sft", err.msg);

    cli_run run;
    int resumed = cli_run_resume(&run, &t, &err);
    if (resumed < 0) return cli_error("sft", err.msg);
    if (!resumed) {
        if (!init) return cli_error("sft", "--init MODEL is required (the model to fine-tune)");
        if (tr_load_bundle(init, tokenizer, &run.model, &run.tok, &err) != 0)
            return cli_error("sft", err.msg);
        cli_run_fresh_state(&run, &t);
    }
    tr_sft_set set = {0};
    int rc = 0;
    struct stat data_st;
    if (data && tasks && stat(data, &data_st) == 0 && data_st.st_size == 0) {
        /* an empty trace file (rejection sampling that kept nothing, distill traces
         * --allow-empty) in a mixed run: the generated examples alone */
        fprintf(stderr, "sft: warning: %s is empty; training on the --task examples only\n", data);
        data = NULL;
    }
    if (data) {
        tr_dataset ds = {0};
        tr_dataset_params dp = tr_dataset_default_params();
        dp.skip_bad = skip_bad;
        int64_t skipped = 0;
        rc = tr_dataset_load(&ds, data, &dp, &err);
        if (rc == 0) rc = tr_sft_set_add_dataset(&set, run.tok, (tr_template_kind)tpl, &ds, &skipped, &err);
        if (rc == 0 && (ds.n_bad || skipped))
            fprintf(stderr, "sft: %lld malformed lines skipped, %lld rows without a completion "
                            "skipped%s%s\n",
                    (long long)ds.n_bad, (long long)skipped, ds.n_bad ? "; first: " : "",
                    ds.n_bad ? ds.first_bad : "");
        tr_dataset_free(&ds);
    }
    if (rc == 0 && tasks) {
        tr_task_params tp = tr_task_default_params();
        tp.difficulty = difficulty;
        tp.lang = lang;
        rc = tr_sft_set_add_tasks(&set, run.tok, (tr_template_kind)tpl, tasks, n_per_task,
                                  (uint64_t)task_seed, 0, &tp, &err);
    }
    if (rc == 0 && set.n == 0) rc = tr_fail(&err, "no usable examples");
    if (rc != 0) {
        tr_sft_set_free(&set);
        cli_run_free(&run);
        return cli_error("sft", err.msg);
    }
    cli_print_resolved(&spec);
    int64_t too_long = 0, untrained = 0;
    for (int64_t i = 0; i < set.n; i++) {
        too_long += set.ex[i].n > t.seq + 1;
        untrained += set.ex[i].n_prompt >= t.seq; /* nothing of the completion fits */
    }
    if (too_long)
        fprintf(stderr, "sft: warning: %lld of %lld examples are longer than --seq %d + 1 and "
                        "are cut (%s); %lld lose their whole completion\n",
                (long long)too_long, (long long)set.n, t.seq, trunc_name, (long long)untrained);
    fprintf(stderr, "sft: %lld examples, %lld tokens (%lld trained); model %.2fM parameters\n",
            (long long)set.n, (long long)set.n_tokens, (long long)set.n_trained,
            run.model.table.total / 1e6);
    if (cli_write_run_args(t.out, &spec, &run.model.cfg, &err) != 0) {
        tr_sft_set_free(&set);
        cli_run_free(&run);
        return cli_error("sft", err.msg);
    }
    int32_t pad = tr_tokenizer_eos(run.tok);
    sft_ctx ctx = {&set, pad >= 0 ? pad : 0, trunc};
    tr_objective ce = tr_objective_ce();
    char meta[256];
    snprintf(meta, sizeof meta, "{\"stage\":\"sft\",\"template\":\"%s\"}", tpl_name);
    rc = cli_run_train(&run, "sft", &t, &ce, next_batch, &ctx, meta);
    tr_sft_set_free(&set);
    cli_run_free(&run);
    return rc;
}
