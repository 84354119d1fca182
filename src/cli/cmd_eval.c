/* tinyr1 eval: greedy accuracy, pass@1 over k samples, pass@k, maj@k, response length and
 * well-formed answers on a task, with 95% confidence intervals (as DeepSeek-R1 reports). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The data file of a real set: --data, else $TINYR1_DATA/<file>, else the shared data
 * folder next to the source tree. */
static const char *data_path(const tr_task *t, const char *given, char *buf, size_t cap) {
    if (given) return given;
    const char *rel = tr_task_default_file(t);
    if (!rel) return NULL;
    const char *env = getenv("TINYR1_DATA");
    if (env)
        snprintf(buf, cap, "%s/%s", env, rel);
    else
        snprintf(buf, cap, "%s/../shared/data/%s", TR_SOURCE_DIR, rel);
    return buf;
}

static void print_ci(const char *name, const tr_eval_ci *c, int percent) {
    if (percent)
        printf("  %-12s %6.1f%%   [%5.1f%%, %5.1f%%]\n", name, 100 * c->value, 100 * c->lo,
               100 * c->hi);
    else
        printf("  %-12s %7.1f   [%6.1f, %6.1f]\n", name, c->value, c->lo, c->hi);
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *weights = "auto", *kv = "f32", *task = NULL,
               *data = NULL, *out = ".", *tpl_name = "r1zero", *system = NULL, *stop = "</answer>",
               *lang = "en";
    int n_problems = 0, k = 4, max_tokens = 1024, slots = 16, threads = 0, json = 0, no_greedy = 0,
        difficulty = 0, quiet = 0, reps = 1000;
    int64_t task_seed = 2024;
    cli_sampling s = {tr_sampler_default_params(), 0};
    s.p.temperature = 0.6f; /* DeepSeek-R1's evaluation */
    s.p.top_p = 0.95f;
    cli_opt opts[40];
    int n = 0;
    n += cli_model_opts(&model, &tokenizer, opts + n);
    opts[n++] = cli_weights_opt(&weights);
    opts[n++] = cli_kv_opt(&kv);
    opts[n++] = (cli_opt){"task", CLI_STR, &task, "NAME",
                          "add, mul, countdown, wordprob (generated) or gsm8k, math, aime, amc, "
                          "countdown-file (real sets); 'tinyr1 data tasks' lists them"};
    opts[n++] = (cli_opt){
        "data", CLI_STR, &data, "FILE",
        "JSONL of a real set (default: its file in the shared data folder, or $TINYR1_DATA)"};
    opts[n++] = (cli_opt){"n", CLI_INT, &n_problems, "PROBLEMS",
                          "problems to evaluate (0: 100 generated, or every row of a file)"};
    opts[n++] = (cli_opt){"k", CLI_INT, &k, "SAMPLES", "samples per problem"};
    n += cli_sampling_opts(&s, opts + n);
    opts[n++] =
        (cli_opt){"max-tokens", CLI_INT, &max_tokens, "N", "at most N generated tokens per answer"};
    opts[n++] =
        (cli_opt){"template", CLI_STR, &tpl_name, "NAME", "prompt template: r1zero, chat or none"};
    opts[n++] = (cli_opt){"system", CLI_STR, &system, "TEXT", "system message (chat template)"};
    opts[n++] =
        (cli_opt){"stop", CLI_STR, &stop, "TEXT",
                  "stop an answer when its text contains TEXT (\"\" = only at the end token)"};
    opts[n++] = (cli_opt){"no-greedy", CLI_FLAG, &no_greedy, NULL, "skip the greedy answers"};
    opts[n++] = (cli_opt){"task-seed", CLI_INT64, &task_seed, "S",
                          "generator seed of the problems (sft's default is 1000: a different seed "
                          "gives held-out problems)"};
    opts[n++] = (cli_opt){"difficulty", CLI_INT, &difficulty, "D",
                          "task difficulty 1..10 (0: the task's default)"};
    opts[n++] = (cli_opt){"lang", CLI_STR, &lang, "en|zh", "language of generated problems"};
    opts[n++] = (cli_opt){"slots", CLI_INT, &slots, "N", "sequences decoded at once"};
    opts[n++] =
        (cli_opt){"bootstrap", CLI_INT, &reps, "B", "bootstrap resamples for the intervals"};
    opts[n++] = (cli_opt){"out", CLI_STR, &out, "DIR", "folder for samples.jsonl and eval.json"};
    opts[n++] = (cli_opt){"json", CLI_FLAG, &json, NULL, "print one JSON object with the numbers"};
    opts[n++] = (cli_opt){"threads", CLI_INT, &threads, "N", "threads (0 = all cores)"};
    opts[n++] = (cli_opt){"quiet", CLI_FLAG, &quiet, NULL, "no progress on stderr"};
    opts[n] = (cli_opt){0};
    const cli_spec spec = {
        "eval",
        "Evaluate a model on a task: greedy, pass@1, pass@k, maj@k, with 95% intervals.",
        "",
        opts,
        0,
        0,
        "Each problem gets one greedy answer and k samples (temperature 0.6, top-p 0.95 by\n"
        "default, as DeepSeek-R1 evaluates), each checked by the task's verifier. Every sample\n"
        "is written to OUT/samples.jsonl and the summary to OUT/eval.json. Definitions and the\n"
        "majority-vote tie rule: docs/generate.md.\n"
        "Example: tinyr1 eval --model runs/grpo --task countdown --n 200 --k 8 --json"};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    if (!model || !task)
        return cli_error(spec.command, "--model PATH and --task NAME are required");
    const tr_task *t = tr_task_find(task);
    if (!t) return cli_error(spec.command, "unknown --task; 'tinyr1 data tasks' lists them");
    int tpl = tr_template_from_name(tpl_name);
    if (tpl < 0) return cli_error(spec.command, "--template must be r1zero, chat or none");
    if (k < 1 || max_tokens < 1 || slots < 1 || n_problems < 0 || reps < 2)
        return cli_error(spec.command,
                         "--k, --max-tokens, --slots must be >= 1, --n >= 0, --bootstrap >= 2");
    tr_infer_weights wkind;
    tr_infer_kv kvkind;
    if (cli_parse_weights(spec.command, weights, &wkind) || cli_parse_kv(spec.command, kv, &kvkind))
        return 1;
    tr_set_threads(threads);

    tr_err err;
    tr_problem *problems = NULL;
    int64_t n_loaded = 0;
    char pathbuf[4096];
    const char *file = data_path(t, data, pathbuf, sizeof pathbuf);
    if (tr_task_can_generate(t) && !data) {
        n_loaded = n_problems > 0 ? n_problems : 100;
        problems = calloc((size_t)n_loaded, sizeof *problems);
        tr_task_params tp = tr_task_default_params();
        tp.difficulty = difficulty;
        tp.lang = lang;
        for (int64_t i = 0; problems && i < n_loaded; i++)
            if (tr_task_generate(t, (uint64_t)task_seed, i, &tp, &problems[i], &err) != 0) {
                tr_problems_free(problems, i);
                return cli_error(spec.command, err.msg);
            }
        if (!problems) return cli_error(spec.command, "out of memory");
    } else {
        if (!file) return cli_error(spec.command, "this task needs --data FILE");
        if (tr_task_load(t, file, NULL, &problems, &n_loaded, &err) != 0)
            return cli_error(spec.command, err.msg);
        if (n_problems > 0 && n_problems < n_loaded) {
            for (int64_t i = n_problems; i < n_loaded; i++) tr_problem_free(&problems[i]);
            n_loaded = n_problems;
        }
    }
    if (n_loaded < 1) {
        tr_problems_free(problems, n_loaded);
        return cli_error(spec.command, "no problems to evaluate");
    }

    tr_model m;
    tr_tokenizer *tok;
    if (cli_load_model(spec.command, model, tokenizer, &m, &tok)) {
        tr_problems_free(problems, n_loaded);
        return 1;
    }
    int rc = 1;
    FILE *samples = NULL;
    char path[4200];
    if (tr_mkdirs(out, &err) != 0) {
        cli_error(spec.command, err.msg);
        goto done;
    }
    /* under MPI the problems are shared out; rank 0 gathers and writes everything */
    const int rank0 = cli_dist()->rank == 0;
    snprintf(path, sizeof path, "%s/samples.jsonl", out);
    if (rank0 && !(samples = fopen(path, "w"))) {
        fprintf(stderr, "tinyr1 eval: cannot write %s\n", path);
        goto done;
    }
    tr_eval_params ep = tr_eval_default_params();
    ep.k = k;
    ep.greedy = !no_greedy;
    ep.sampler = s.p;
    ep.max_new_tokens = max_tokens;
    ep.seed = (uint64_t)s.seed;
    ep.tpl = (tr_template_kind)tpl;
    ep.system = system;
    ep.stop = stop;
    ep.slots = slots;
    ep.weights = wkind;
    ep.kv = kvkind;
    ep.bootstrap_reps = reps;
    ep.samples = samples;
    ep.verbose = !quiet;
    ep.dist = cli_dist();
    tr_eval_summary sum;
    double t0 = tr_now();
    if (tr_eval_run(&m, tok, t, problems, (int)n_loaded, &ep, NULL, &sum, &err) != 0) {
        cli_error(spec.command, err.msg);
        goto done;
    }
    double secs = tr_now() - t0;
    if (samples) fclose(samples);
    samples = NULL;
    if (!rank0) {
        rc = 0;
        goto done;
    }

    char extra[1024];
    snprintf(extra, sizeof extra,
             "\"task\": \"%s\", \"temperature\": %g, \"top_p\": %g, \"top_k\": %d, "
             "\"max_tokens\": %d, \"template\": \"%s\", \"seed\": %lld, \"task_seed\": %lld, "
             "\"seconds\": %.3f",
             tr_task_name(t), (double)s.p.temperature, (double)s.p.top_p, s.p.top_k, max_tokens,
             tpl_name, (long long)s.seed, (long long)task_seed, secs);
    snprintf(path, sizeof path, "%s/eval.json", out);
    FILE *f = fopen(path, "w");
    if (f) {
        tr_eval_summary_json(f, &sum, extra);
        fclose(f);
    }
    if (json) {
        tr_eval_summary_json(stdout, &sum, extra);
    } else {
        printf("eval %s: %d problems, k = %d, temperature %g, top-p %g (95%% intervals)\n",
               tr_task_name(t), sum.n_problems, sum.k, (double)s.p.temperature, (double)s.p.top_p);
        if (sum.has_greedy) print_ci("greedy", &sum.greedy, 1);
        print_ci("pass@1", &sum.pass1, 1);
        char name[32];
        if (sum.k > 1) {
            snprintf(name, sizeof name, "pass@%d", sum.k);
            print_ci(name, &sum.pass_k, 1);
        }
        snprintf(name, sizeof name, "maj@%d", sum.k);
        print_ci(name, &sum.maj_k, 1);
        print_ci("well-formed", &sum.well_formed, 1);
        print_ci("length", &sum.mean_length, 0);
        printf("  samples: %s/samples.jsonl, summary: %s/eval.json (%.1f s)\n", out, out, secs);
    }
    rc = 0;
done:
    if (samples) fclose(samples);
    tr_problems_free(problems, n_loaded);
    tr_tokenizer_free(tok);
    tr_model_free(&m);
    return rc;
}
