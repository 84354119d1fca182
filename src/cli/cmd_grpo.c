/* tinyr1 grpo: reinforcement learning with rule-based rewards (GRPO, DeepSeek-R1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int parse_adv_scale(const char *s, tr_adv_scale *out) {
    if (strcmp(s, "group") == 0) *out = TR_ADV_SCALE_GROUP;
    else if (strcmp(s, "batch") == 0) *out = TR_ADV_SCALE_BATCH;
    else if (strcmp(s, "none") == 0) *out = TR_ADV_SCALE_NONE;
    else return -1;
    return 0;
}

int cmd_grpo(int argc, char **argv) {
    tr_err err;
    cli_train_opts t = cli_train_opts_default("runs/grpo");
    t.lr = 1e-4f;
    t.warmup = 0;
    t.schedule = "constant";
    t.steps = 50;
    t.batch = 16;
    t.seq = 256;
    t.checkpoint_every = 10;
    tr_grpo_config gc = tr_grpo_default_config();
    const char *init = NULL, *tokenizer = NULL, *tasks = "add", *lang = "en";
    const char *reward = "accuracy:1,format:0.5", *agg = "grpo", *adv_scale = "group";
    const char *tpl_name = "r1zero", *system = NULL;
    int difficulty = 0, mask_truncated = 0, accuracy_binary = 0, overlong_buffer = 0;
    int eval_n = 64, eval_every = 0;
    int64_t task_seed = 2000, eval_seed = 9000, prompt_pool = 0;
    double eps = 0.2, eps_high = -1;
    tr_grpo_eval_params ep = tr_grpo_eval_default_params();
    float eval_temp = ep.temperature, eval_top_p = ep.top_p;
    int eval_k = ep.k;
    cli_opt opts[CLI_TRAIN_N_OPTS + 40];
    int n = 0;
    opts[n++] = (cli_opt){"init", CLI_STR, &init, "MODEL", "policy to start from (also the KL reference): a tinyr1 checkpoint or run folder, a Hugging Face folder, a llama2.c .bin"};
    opts[n++] = (cli_opt){"tokenizer", CLI_STR, &tokenizer, "PATH", "tokenizer (default: the one inside the model)"};
    opts[n++] = (cli_opt){"task", CLI_STR, &tasks, "T1,T2", "tasks the prompts come from, taking turns (add, mul, countdown, wordprob)"};
    opts[n++] = (cli_opt){"lang", CLI_STR, &lang, "en|zh", "language of the problems (wordprob has both)"};
    opts[n++] = (cli_opt){"difficulty", CLI_INT, &difficulty, "D", "task difficulty 1..10 (0: the task's default)"};
    opts[n++] = (cli_opt){"task-seed", CLI_INT64, &task_seed, "S", "generator seed of the training prompts"};
    opts[n++] = (cli_opt){"prompt-pool", CLI_INT64, &prompt_pool, "N", "train on the first N problems of each task only, over and over (an overfitting check; 0: all new)"};
    opts[n++] = (cli_opt){"reward", CLI_STR, &reward, "R:W,...", "weighted rewards: accuracy, format, tags, language, overlong, cosine"};
    opts[n++] = (cli_opt){"accuracy-binary", CLI_FLAG, &accuracy_binary, NULL, "countdown accuracy 1/0 instead of TinyZero's 1/0.1/0"};
    opts[n++] = (cli_opt){"overlong-buffer", CLI_INT, &overlong_buffer, "N", "overlong reward: the soft penalty's buffer in tokens (0: max-new/4)"};
    opts[n++] = (cli_opt){"group", CLI_INT, &gc.group, "G", "samples per prompt"};
    opts[n++] = (cli_opt){"prompts-per-step", CLI_INT, &gc.prompts_per_step, "P", "prompts per step (P x G rollouts)"};
    opts[n++] = (cli_opt){"max-new", CLI_INT, &gc.max_new, "N", "completion budget in tokens"};
    opts[n++] = (cli_opt){"temp", CLI_FLOAT, &gc.temperature, "T", "rollout temperature (the loss uses the same)"};
    opts[n++] = (cli_opt){"beta", CLI_DOUBLE, &gc.loss.beta, "B", "KL weight (k3 estimator) to the initial model; 0 skips the reference"};
    opts[n++] = (cli_opt){"eps", CLI_DOUBLE, &eps, "E", "clip range: ratio in [1-E, 1+E]"};
    opts[n++] = (cli_opt){"eps-high", CLI_DOUBLE, &eps_high, "E", "upper clip (DAPO: 0.28); -1: same as --eps"};
    opts[n++] = (cli_opt){"loss-agg", CLI_STR, &agg, "KIND", "loss aggregation: grpo (per-sequence mean), dr_grpo (constant), dapo (token mean)"};
    opts[n++] = (cli_opt){"adv-scale", CLI_STR, &adv_scale, "KIND", "advantage scaling: group (R1), batch, none (Dr. GRPO)"};
    opts[n++] = (cli_opt){"mu", CLI_INT, &gc.mu, "K", "policy-update passes over each rollout batch"};
    opts[n++] = (cli_opt){"minibatches", CLI_INT, &gc.minibatches, "M", "optimizer steps per pass (divides P)"};
    opts[n++] = (cli_opt){"mask-truncated", CLI_FLAG, &mask_truncated, NULL, "do not train on completions cut by --max-new"};
    opts[n++] = (cli_opt){"template", CLI_STR, &tpl_name, "NAME", "chat template: r1zero|chat|none"};
    opts[n++] = (cli_opt){"system", CLI_STR, &system, "TEXT", "system message (chat template)"};
    opts[n++] = (cli_opt){"eval-n", CLI_INT, &eval_n, "N", "held-out problems for evaluation (0: none)"};
    opts[n++] = (cli_opt){"eval-k", CLI_INT, &eval_k, "K", "samples per held-out problem (pass@1 = mean correctness)"};
    opts[n++] = (cli_opt){"eval-temp", CLI_FLOAT, &eval_temp, "T", "evaluation temperature (0: greedy, k = 1)"};
    opts[n++] = (cli_opt){"eval-top-p", CLI_FLOAT, &eval_top_p, "P", "evaluation nucleus"};
    opts[n++] = (cli_opt){"eval-every", CLI_INT, &eval_every, "N", "evaluate every N steps (always before the first and after the last)"};
    opts[n++] = (cli_opt){"eval-seed", CLI_INT64, &eval_seed, "S", "generator seed of the held-out problems"};
    n += cli_train_opts_table(&t, opts + n);
    opts[n++] = (cli_opt){"quiet", CLI_FLAG, &t.quiet, NULL, "no progress display"};
    opts[n] = (cli_opt){0};
    const cli_spec spec = {
        "grpo", "Reinforcement learning with rule-based rewards (GRPO).", "", opts, 0, 0,
        "Each step samples --group completions for each of --prompts-per-step prompts, scores\n"
        "them, and updates the policy --mu times. --batch is the micro-batch (sequences per\n"
        "forward/backward), --seq the longest prompt + completion. --steps 0 only evaluates.\n"
        "Example: tinyr1 grpo --init runs/sft --task add --reward accuracy:1,format:0.5 --out runs/grpo\n"
        "Ctrl-C saves a checkpoint; --resume continues exactly (give --init again when --beta > 0)."};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    tr_set_threads(t.threads);
    int tpl = tr_template_from_name(tpl_name);
    if (tpl < 0) return cli_error("grpo", "--template must be r1zero, chat or none");
    gc.tpl = (tr_template_kind)tpl;
    gc.system = system;
    gc.micro_batch = t.batch;
    gc.logits_chunk = t.logits_chunk;
    gc.mask_truncated = mask_truncated;
    gc.seed = (uint64_t)t.seed;
    gc.dist = *cli_dist();
    gc.loss.eps_low = eps;
    gc.loss.eps_high = eps_high >= 0 ? eps_high : eps;
    if (tr_grpo_agg_parse(&gc.loss.agg, agg, &err) != 0) return cli_error("grpo", err.msg);
    if (parse_adv_scale(adv_scale, &gc.adv_scale) != 0)
        return cli_error("grpo", "--adv-scale must be group, batch or none");
    if (tr_reward_spec_parse(&gc.rewards, reward, &err) != 0) return cli_error("grpo", err.msg);
    gc.rewards.accuracy_binary = accuracy_binary;
    gc.rewards.max_len = gc.max_new;
    gc.rewards.overlong_buffer = overlong_buffer;
    if (t.steps < 0) return cli_error("grpo", "--steps must be >= 0");
    tr_schedule_kind kind;
    if (tr_schedule_parse(t.schedule, &kind, &err) != 0) return cli_error("grpo", err.msg);
    tr_grpo_source src;
    if (tr_grpo_source_init(&src, tasks, (uint64_t)task_seed, difficulty, lang, &err) != 0)
        return cli_error("grpo", err.msg);
    if (prompt_pool < 0) return cli_error("grpo", "--prompt-pool must be >= 0");
    src.pool = (uint64_t)prompt_pool;
    if (tr_mkdirs(t.out, &err) != 0) return cli_error("grpo", err.msg);

    cli_run run;
    int resumed = cli_run_resume(&run, &t, &err);
    if (resumed < 0) return cli_error("grpo", err.msg);
    if (!init && (!resumed || gc.loss.beta > 0))
        return cli_error("grpo", "--init MODEL is required (the policy to start from and the "
                                 "KL reference)");
    if (!resumed) {
        if (tr_load_bundle(init, tokenizer, &run.model, &run.tok, &err) != 0)
            return cli_error("grpo", err.msg);
        cli_run_fresh_state(&run, &t);
    } else if (tokenizer) {
        if (run.tok) tr_tokenizer_free(run.tok);
        run.tok = NULL;
        if (tr_tokenizer_load(&run.tok, tokenizer, &err) != 0) {
            cli_run_free(&run);
            return cli_error("grpo", err.msg);
        }
    }
    if (!run.tok) {
        cli_run_free(&run);
        return cli_error("grpo", "the model has no tokenizer: give --tokenizer");
    }
    tr_model ref = {0};
    int has_ref = 0, rc = 1;
    if (gc.loss.beta > 0) {
        if (tr_load_bundle(init, NULL, &ref, NULL, &err) != 0) {
            cli_run_free(&run);
            return cli_error("grpo", err.msg);
        }
        has_ref = 1;
    }
    /* held-out problems: same tasks, another generator seed */
    tr_grpo_source esrc = src;
    esrc.seed = (uint64_t)eval_seed;
    esrc.pool = 0; /* --eval-seed = --task-seed with --prompt-pool: evaluates the pool */
    tr_problem *eval_probs = eval_n > 0 ? calloc((size_t)eval_n, sizeof *eval_probs) : NULL;
    const tr_task **eval_tasks = eval_n > 0 ? calloc((size_t)eval_n, sizeof *eval_tasks) : NULL;
    char *blob = NULL;
    size_t blob_len = 0;
    tr_grpo g;
    int g_ok = 0;
    if (eval_n > 0 && (!eval_probs || !eval_tasks)) {
        cli_error("grpo", "out of memory");
        goto out;
    }
    for (int i = 0; i < eval_n; i++)
        if (tr_grpo_source_get(&esrc, (uint64_t)i, &eval_probs[i], &eval_tasks[i], &err) != 0) {
            cli_error("grpo", err.msg);
            goto out;
        }
    cli_print_resolved(&spec);
    if (cli_write_run_args(t.out, &spec, &run.model.cfg, &err) != 0 ||
        tr_tokenizer_serialize(run.tok, &blob, &blob_len, &err) != 0) {
        cli_error("grpo", err.msg);
        goto out;
    }
    tr_adamw_params ap = tr_adamw_default_params();
    ap.lr = t.lr;
    ap.weight_decay = t.wd;
    ap.beta2 = t.beta2;
    int64_t updates = (int64_t)t.steps * gc.mu * gc.minibatches;
    tr_lr_schedule sched = {kind, t.lr, t.min_lr >= 0 ? t.min_lr : t.lr / 10, t.warmup,
                            (int)(updates > 0 ? updates : 1)};
    if (tr_grpo_init(&g, &run.model, has_ref ? &ref : NULL, run.tok, &gc, ap,
                     run.has_restored ? &run.restored : NULL, sched, t.clip, t.seq, &err) != 0) {
        cli_error("grpo", err.msg);
        goto out;
    }
    run.has_restored = 0;
    g_ok = 1;
    if (gc.dist.rank == 0)
        fprintf(stderr,
                "grpo: model %.2fM parameters; %d prompts x %d samples per step, %d new "
                "tokens at most; rewards %s; %d held-out problems; %d threads\n",
                run.model.table.total / 1e6, gc.prompts_per_step, gc.group, gc.max_new, reward,
                eval_n, tr_get_threads());
    char meta[1024];
    snprintf(meta, sizeof meta,
             "{\"stage\":\"grpo\",\"template\":\"%s\",\"task\":\"%s\",\"reward\":\"%s\"}",
             tpl_name, tasks, reward);
    ep.k = eval_k;
    ep.temperature = eval_temp;
    ep.top_p = eval_top_p;
    ep.seed = (uint64_t)eval_seed;
    tr_grpo_loop_config lc = {.out_dir = t.out, .steps = t.steps,
                              .checkpoint_every = t.checkpoint_every, .eval_every = eval_every,
                              .eval_problems = eval_probs, .eval_tasks = eval_tasks,
                              .n_eval = eval_n, .eval = ep, .stop = cli_install_stop_handler(),
                              .meta_json = meta, .tokenizer = {blob, blob_len},
                              .quiet = t.quiet, .log_every = 1};
    int lrc = tr_grpo_train(&g, &lc, &src, &run.st, &err);
    if (lrc < 0)
        fprintf(stderr, "tinyr1 grpo: rank %d: %s\n", gc.dist.rank, err.msg);
    else if (lrc == 0 && t.steps > 0 && gc.dist.rank == 0)
        fprintf(stderr, "grpo: done; checkpoint %s/checkpoint.bin\n", t.out);
    rc = lrc < 0 ? 1 : (lrc == 1 ? 130 : 0);
out:
    if (g_ok) tr_grpo_free(&g);
    if (eval_probs) tr_problems_free(eval_probs, eval_n);
    free(eval_tasks);
    free(blob);
    if (has_ref) tr_model_free(&ref);
    cli_run_free(&run);
    return rc;
}
