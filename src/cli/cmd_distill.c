/* tinyr1 distill: train a student from a teacher (logit KD with an online teacher or a
 * top-K cache, on-policy GKD), and the subcommands cache, traces and eval. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- shared pieces ---------------------------------------------------------------- */

/* Where the examples come from: --data FILE or --task NAMES (worked solutions). */
typedef struct {
    const char *data, *tasks, *tpl_name, *end_token, *lang;
    int n, difficulty, skip_bad;
    int64_t task_seed;
} data_opts;

static data_opts data_opts_default(void) {
    data_opts d = {NULL, NULL, "r1zero", "eos", "en", 2000, 0, 0, 1000};
    return d;
}

static int data_opts_table(data_opts *d, cli_opt *o) {
    int n = 0;
    o[n++] = (cli_opt){
        "data", CLI_STR, &d->data, "FILE",
        "JSONL examples: prompt/completion, messages, GSM8K, MATH-style or Countdown rows"};
    o[n++] = (cli_opt){
        "task", CLI_STR, &d->tasks, "T1,T2",
        "instead of --data: worked solutions of generated tasks (add, mul, countdown, wordprob)"};
    o[n++] = (cli_opt){"n", CLI_INT, &d->n, "N", "problems per task with --task"};
    o[n++] = (cli_opt){"task-seed", CLI_INT64, &d->task_seed, "S", "generator seed with --task"};
    o[n++] = (cli_opt){"difficulty", CLI_INT, &d->difficulty, "D",
                       "task difficulty 1..10 (0: the task's default)"};
    o[n++] = (cli_opt){"lang", CLI_STR, &d->lang, "en|zh", "language of generated problems"};
    o[n++] =
        (cli_opt){"template", CLI_STR, &d->tpl_name, "NAME", "chat template: r1zero|chat|none"};
    o[n++] = (cli_opt){"end-token", CLI_STR, &d->end_token, "eos|bos|ID",
                       "token that ends each completion (llama2.c models end a text with bos)"};
    o[n++] = (cli_opt){"skip-bad", CLI_FLAG, &d->skip_bad, NULL,
                       "skip malformed data lines instead of stopping"};
    return n;
}

static int parse_template(const char *name, tr_template_kind *k, tr_err *err) {
    int t = tr_template_from_name(name);
    if (t < 0) return tr_fail(err, "--template %s: expected r1zero, chat or none", name);
    *k = (tr_template_kind)t;
    return 0;
}

/* Tokenizes the examples of --data or --task into set. */
static int load_examples(const data_opts *d, const tr_tokenizer *tok, tr_sft_set *set,
                         tr_err *err) {
    tr_template_kind tpl = TR_TEMPLATE_NONE;
    if (parse_template(d->tpl_name, &tpl, err) != 0) return -1;
    if (!tok) return tr_fail(err, "no tokenizer to encode the examples with (give --tokenizer)");
    int rc;
    if (d->data) {
        tr_dataset ds = {0};
        tr_dataset_params dp = tr_dataset_default_params();
        dp.skip_bad = d->skip_bad;
        int64_t skipped = 0;
        rc = tr_dataset_load(&ds, d->data, &dp, err);
        if (rc == 0) rc = tr_sft_set_add_dataset(set, tok, tpl, &ds, &skipped, err);
        if (rc == 0 && (ds.n_bad || skipped))
            fprintf(stderr,
                    "distill: %lld malformed lines and %lld rows without a completion "
                    "skipped\n",
                    (long long)ds.n_bad, (long long)skipped);
        tr_dataset_free(&ds);
    } else {
        tr_task_params tp = tr_task_default_params();
        tp.difficulty = d->difficulty;
        tp.lang = d->lang;
        rc = tr_sft_set_add_tasks(set, tok, tpl, d->tasks, d->n, (uint64_t)d->task_seed, 0, &tp,
                                  err);
    }
    if (rc == 0 && set->n == 0) rc = tr_fail(err, "no usable examples");
    if (rc != 0) return -1;
    /* --end-token: the completion's last token (the template's end token) replaced */
    int32_t end;
    if (strcmp(d->end_token, "eos") == 0) return 0;
    if (strcmp(d->end_token, "bos") == 0)
        end = tr_tokenizer_bos(tok);
    else {
        char *e;
        long v = strtol(d->end_token, &e, 10);
        end = *e || e == d->end_token ? -1 : (int32_t)v;
    }
    if (end < 0 || end >= tr_tokenizer_vocab_size(tok))
        return tr_fail(err, "--end-token %s: expected eos, bos or a token id below %d",
                       d->end_token, (int)tr_tokenizer_vocab_size(tok));
    for (int64_t i = 0; i < set->n; i++)
        if (set->ex[i].n > set->ex[i].n_prompt) set->ex[i].ids[set->ex[i].n - 1] = end;
    return 0;
}

/* 1 if the two tokenizers serialise to the same bytes. */
static int same_tokenizer(const tr_tokenizer *a, const tr_tokenizer *b, tr_err *err) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    if (tr_tokenizer_serialize(a, &x, &nx, err) != 0) return -1;
    if (tr_tokenizer_serialize(b, &y, &ny, err) != 0) {
        free(x);
        return -1;
    }
    int same = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

static const char *seq_hint =
    "logit distillation needs one vocabulary; distil at the sequence level instead: "
    "`tinyr1 distill traces --teacher M --task T --out traces.jsonl`, then "
    "`tinyr1 sft --init STUDENT --data traces.jsonl`";

/* Checks that the teacher's logits can be compared with the student's; *v_use = columns. */
static int check_vocab(const tr_model *teacher, const tr_tokenizer *ttok, const tr_model *student,
                       const tr_tokenizer *stok, int *v_use, tr_err *err) {
    if (ttok && stok) {
        int same = same_tokenizer(ttok, stok, err);
        if (same < 0) return -1;
        if (!same)
            return tr_fail(err,
                           "the teacher's and the student's tokenizers differ (%d and %d "
                           "tokens): %s",
                           (int)tr_tokenizer_vocab_size(ttok), (int)tr_tokenizer_vocab_size(stok),
                           seq_hint);
    }
    int tv = stok ? tr_tokenizer_vocab_size(stok) : (ttok ? tr_tokenizer_vocab_size(ttok) : 0);
    if (tr_kd_vocab_check(v_use, teacher->cfg.vocab, student->cfg.vocab, tv, err) != 0)
        return tr_fail_context(err, "%s; %s", "vocabularies", seq_hint);
    if (teacher->cfg.vocab > student->cfg.vocab)
        fprintf(stderr,
                "distill: the teacher has %d output rows, the student %d: the extra "
                "rows are padding beyond the tokenizer's %d tokens; comparing the "
                "shared first %d\n",
                teacher->cfg.vocab, student->cfg.vocab, tv, *v_use);
    return 0;
}

static int load_teacher(const char *path, const char *tok_path, tr_model *m, tr_tokenizer **tok,
                        tr_err *err) {
    if (!path) return tr_fail(err, "--teacher MODEL is required");
    if (tr_load_bundle(path, tok_path, m, tok, err) != 0)
        return tr_fail_context(err, "teacher %s", path);
    return 0;
}

/* Problems for --task: generated (indices first .. first+n-1) or loaded from --data. */
static int load_problems(const char *task_name, const char *file, int64_t n, int64_t first,
                         uint64_t seed, int difficulty, const char *lang, tr_problem **out,
                         int64_t *n_out, const tr_task **task, tr_err *err) {
    *task = tr_task_find(task_name);
    if (!*task) return tr_fail(err, "unknown task '%s' (see `tinyr1 data tasks`)", task_name);
    if (file) {
        if (tr_task_load(*task, file, NULL, out, n_out, err) != 0) return -1;
        if (n > 0 && *n_out > n) {
            for (int64_t i = n; i < *n_out; i++) tr_problem_free(&(*out)[i]);
            *n_out = n;
        }
        return 0;
    }
    if (!tr_task_can_generate(*task))
        return tr_fail(err, "task %s has no generator: give its file with --data", task_name);
    *out = tr_calloc((size_t)n, sizeof **out, err);
    if (!*out) return -1;
    tr_task_params tp = tr_task_default_params();
    tp.difficulty = difficulty;
    tp.lang = lang;
    for (int64_t i = 0; i < n; i++)
        if (tr_task_generate(*task, seed, first + i, &tp, &(*out)[i], err) != 0) {
            tr_problems_free(*out, i);
            *out = NULL;
            return -1;
        }
    *n_out = n;
    return 0;
}

/* pass@1 of a model on problems: mean correctness over k samples each. */
static int accuracy(const tr_model *m, const tr_tokenizer *tok, tr_template_kind tpl,
                    const tr_task *task, const tr_problem *pr, int64_t n, int k, float temp,
                    int max_new, uint64_t seed, double *pass1, double *well_formed, tr_err *err) {
    tr_gen_params gp = tr_gen_default_params();
    gp.sampler.temperature = temp;
    gp.max_new_tokens = max_new;
    tr_distill_trace *tr = NULL;
    if (tr_distill_sample(m, tok, tpl, task, pr, n, k, &gp, seed, 32, &tr, err) != 0) return -1;
    double c = 0, wf = 0;
    for (int64_t i = 0; i < n * k; i++) {
        c += tr[i].verdict.correct;
        wf += tr[i].verdict.well_formed;
    }
    *pass1 = c / (double)(n * k);
    *well_formed = wf / (double)(n * k);
    tr_distill_traces_free(tr, n * k);
    return 0;
}

static void bar_cb(void *ctx, int64_t done, int64_t total) {
    tr_progress *p = ctx;
    (void)total;
    tr_progress_update(p, done, NULL);
}

static int parse_div(const char *name, tr_kd_div *d, tr_err *err) {
    return tr_kd_div_parse(d, name, err);
}

/* ---- tinyr1 distill cache ------------------------------------------------------------ */
static int cmd_cache(int argc, char **argv) {
    tr_err err;
    const char *teacher = NULL, *tokenizer = NULL, *out = NULL, *dtype = "f16";
    int K = 8, max_len = 0, batch = 8, threads = 0;
    double temp = 1.0;
    data_opts d = data_opts_default();
    cli_opt opts[24];
    int n = 0;
    opts[n++] =
        (cli_opt){"teacher", CLI_STR, &teacher, "MODEL",
                  "teacher: tinyr1 checkpoint or run folder, Hugging Face folder, llama2.c .bin"};
    opts[n++] = (cli_opt){"tokenizer", CLI_STR, &tokenizer, "PATH",
                          "the teacher's tokenizer (required for a llama2.c .bin)"};
    n += data_opts_table(&d, opts + n);
    opts[n++] = (cli_opt){"top-k", CLI_INT, &K, "K",
                          "teacher entries kept per token (K = vocabulary: exact)"};
    opts[n++] =
        (cli_opt){"temp", CLI_DOUBLE, &temp, "T",
                  "temperature of the stored log-probs (must equal the distillation's --temp)"};
    opts[n++] = (cli_opt){"dtype", CLI_STR, &dtype, "f16|bf16|f32", "log-prob storage"};
    opts[n++] = (cli_opt){"max-len", CLI_INT, &max_len, "N",
                          "cut examples to N tokens (0: the teacher's context + 1)"};
    opts[n++] = (cli_opt){"batch", CLI_INT, &batch, "B", "examples per teacher forward"};
    opts[n++] = (cli_opt){"threads", CLI_INT, &threads, "N", "threads (0: all)"};
    opts[n++] = (cli_opt){"out", CLI_STR, &out, "FILE", "the cache file (written atomically)"};
    opts[n] = (cli_opt){0};
    const cli_spec spec = {
        "distill cache",
        "Run a teacher over a dataset once and store its top-K log-probs per token.",
        "",
        opts,
        0,
        0,
        "Example: tinyr1 distill cache --teacher runs/teacher --task add --n 2000 --top-k 16 "
        "--temp 2 --out add.kdc\n"
        "Then: tinyr1 distill --cache add.kdc --student-preset tiny --temp 2 --out runs/student"};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    tr_set_threads(threads);
    if (!out) return cli_error("distill cache", "--out FILE is required");
    if (!d.data == !d.tasks)
        return cli_error("distill cache", "give exactly one of --data FILE or --task NAMES");
    tr_kd_cache_params cp = tr_kd_cache_default_params();
    cp.K = K;
    cp.temperature = temp;
    cp.max_len = max_len > 0 ? max_len : 0;
    cp.batch = batch;
    cp.dist = cli_dist(); /* teacher batches shared out; rank 0 writes */
    const int rank0 = cli_dist()->rank == 0;
    if (tr_kdc_dtype_parse(&cp.dtype, dtype, &err) != 0) return cli_error("distill cache", err.msg);
    tr_model tm;
    tr_tokenizer *tt = NULL;
    if (load_teacher(teacher, tokenizer, &tm, &tt, &err) != 0)
        return cli_error("distill cache", err.msg);
    tr_sft_set set = {0};
    int rc = load_examples(&d, tt, &set, &err);
    int V = tr_tokenizer_vocab_size(tt);
    int64_t bytes = 0;
    if (rc == 0) {
        cli_print_resolved(&spec);
        tr_progress bar;
        tr_progress_start(&bar, "cache", set.n, 0);
        bar.quiet = bar.quiet || !rank0;
        double t0 = tr_now();
        /* the stored columns: the tokenizer's ids (a teacher's padding rows are dropped) */
        rc = tr_kd_cache_write(out, &tm, V, &set, &cp, &bytes, bar_cb, &bar, &err);
        tr_progress_finish(&bar, NULL);
        if (rc == 0 && rank0) {
            tr_kd_cache c;
            rc = tr_kd_cache_open(&c, out, &err);
            if (rc == 0) {
                fprintf(stderr,
                        "distill cache: %lld examples, %lld tokens, %lld trained positions, "
                        "K %d of V %d, %s, T %g; %lld bytes = %.1f bytes per trained "
                        "token (%zu-byte records); %.1fs\n",
                        (long long)c.n_examples, (long long)c.n_tokens, (long long)c.n_positions,
                        c.K, c.V, tr_kdc_dtype_name(c.dtype), c.temperature, (long long)bytes,
                        (double)bytes / (double)(c.n_positions ? c.n_positions : 1), c.record_bytes,
                        tr_now() - t0);
                printf("{\"file\":\"%s\",\"examples\":%lld,\"tokens\":%lld,\"positions\":%lld,"
                       "\"K\":%d,\"V\":%d,\"dtype\":\"%s\",\"bytes\":%lld,"
                       "\"bytes_per_token\":%.3f}\n",
                       out, (long long)c.n_examples, (long long)c.n_tokens,
                       (long long)c.n_positions, c.K, c.V, tr_kdc_dtype_name(c.dtype),
                       (long long)bytes,
                       (double)bytes / (double)(c.n_positions ? c.n_positions : 1));
                tr_kd_cache_close(&c);
            }
        }
    }
    tr_sft_set_free(&set);
    tr_model_free(&tm);
    tr_tokenizer_free(tt);
    return rc == 0 ? 0 : cli_error("distill cache", err.msg);
}

/* ---- tinyr1 distill traces ----------------------------------------------------------- */
static int json_append(char **buf, size_t *len, size_t *cap, const char *s, tr_err *err) {
    size_t k = strlen(s);
    if (*len + k + 1 > *cap) {
        size_t c = (*cap ? *cap : 4096);
        while (*len + k + 1 > c) c *= 2;
        char *p = realloc(*buf, c);
        if (!p) return tr_fail(err, "out of memory");
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, s, k + 1);
    *len += k;
    return 0;
}

static int cmd_traces(int argc, char **argv) {
    tr_err err;
    const char *teacher = NULL, *tokenizer = NULL, *out = NULL, *task_name = NULL, *data = NULL;
    const char *keep = "correct", *tpl_name = "r1zero", *prompt = NULL, *lang = "en";
    int allow_empty = 0;
    int n = 100, k = 4, max_new = 256, threads = 0, slots = 32, difficulty = 0;
    int64_t task_seed = 1000, first = 0, seed = 1;
    float temp = 0.7f, top_p = 1.0f;
    cli_opt opts[28];
    int m = 0;
    opts[m++] =
        (cli_opt){"teacher", CLI_STR, &teacher, "MODEL", "the model that writes the traces"};
    opts[m++] = (cli_opt){"tokenizer", CLI_STR, &tokenizer, "PATH",
                          "its tokenizer (required for a llama2.c .bin)"};
    opts[m++] = (cli_opt){"task", CLI_STR, &task_name, "NAME",
                          "task whose problems are prompted and verified (add, mul, countdown, "
                          "wordprob, gsm8k, math, ...)"};
    opts[m++] = (cli_opt){"data", CLI_STR, &data, "FILE",
                          "the task's problems from a file instead of its generator"};
    opts[m++] = (cli_opt){
        "prompt", CLI_STR, &prompt, "TEXT",
        "without --task: one prompt sampled --n-per-prompt times (\"\" for unconditional text)"};
    opts[m++] = (cli_opt){"n", CLI_INT, &n, "N", "problems (generated, or the first N of --data)"};
    opts[m++] = (cli_opt){"first", CLI_INT64, &first, "I", "index of the first generated problem"};
    opts[m++] = (cli_opt){"task-seed", CLI_INT64, &task_seed, "S", "generator seed"};
    opts[m++] =
        (cli_opt){"difficulty", CLI_INT, &difficulty, "D", "task difficulty 1..10 (0: default)"};
    opts[m++] = (cli_opt){"lang", CLI_STR, &lang, "en|zh", "language of generated problems"};
    opts[m++] = (cli_opt){"n-per-prompt", CLI_INT, &k, "K", "samples per problem"};
    opts[m++] = (cli_opt){"allow-empty", CLI_FLAG, &allow_empty, NULL,
                          "keeping no trace is a warning (an empty file), not an error"};
    opts[m++] = (cli_opt){"keep", CLI_STR, &keep, "correct|all",
                          "keep only verified-correct traces (rejection sampling) or all"};
    opts[m++] =
        (cli_opt){"template", CLI_STR, &tpl_name, "NAME", "chat template: r1zero|chat|none"};
    opts[m++] = (cli_opt){"temp", CLI_FLOAT, &temp, "T", "sampling temperature (0: greedy)"};
    opts[m++] = (cli_opt){"top-p", CLI_FLOAT, &top_p, "P", "nucleus sampling (1: off)"};
    opts[m++] = (cli_opt){"max-new", CLI_INT, &max_new, "N", "most tokens per trace"};
    opts[m++] = (cli_opt){"seed", CLI_INT64, &seed, "S", "sampling seed (sample i uses seed + i)"};
    opts[m++] = (cli_opt){"slots", CLI_INT, &slots, "N", "sequences generated at once"};
    opts[m++] = (cli_opt){"threads", CLI_INT, &threads, "N", "threads (0: all)"};
    opts[m++] =
        (cli_opt){"out", CLI_STR, &out, "FILE.jsonl",
                  "prompt/completion rows for `tinyr1 sft --data` or `tinyr1 distill --data`"};
    opts[m] = (cli_opt){0};
    const cli_spec spec = {
        "distill traces",
        "Sequence-level distillation data: sample a teacher, keep the verified-correct answers.",
        "",
        opts,
        0,
        0,
        "Example: tinyr1 distill traces --teacher runs/teacher --task add --n 500 --n-per-prompt 4 "
        "--out traces.jsonl\n"
        "Then: tinyr1 sft --init runs/student-base --data traces.jsonl --out runs/student"};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    tr_set_threads(threads);
    if (!out) return cli_error("distill traces", "--out FILE.jsonl is required");
    if (!task_name == !prompt)
        return cli_error("distill traces", "give exactly one of --task NAME or --prompt TEXT");
    if (strcmp(keep, "correct") && strcmp(keep, "all"))
        return cli_error("distill traces", "--keep must be correct or all");
    if (n <= 0 || k <= 0 || max_new <= 0)
        return cli_error("distill traces", "--n, --n-per-prompt and --max-new must be positive");
    tr_template_kind tpl = TR_TEMPLATE_NONE;
    if (parse_template(tpl_name, &tpl, &err) != 0) return cli_error("distill traces", err.msg);
    tr_model tm;
    tr_tokenizer *tt = NULL;
    if (load_teacher(teacher, tokenizer, &tm, &tt, &err) != 0)
        return cli_error("distill traces", err.msg);
    const tr_task *task = NULL;
    tr_problem *pr = NULL;
    int64_t np = 0;
    int rc = 0;
    if (task_name) {
        rc = load_problems(task_name, data, n, first, (uint64_t)task_seed, difficulty, lang, &pr,
                           &np, &task, &err);
    } else { /* one prompt, sampled n x k times */
        pr = tr_calloc(1, sizeof *pr, &err);
        rc = pr ? 0 : -1;
        if (pr) {
            pr->prompt = strdup(prompt);
            np = 1;
            k = n * k;
        }
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int64_t kept = 0, total = 0, covered = 0;
    if (rc == 0) {
        cli_print_resolved(&spec);
        tr_gen_params gp = tr_gen_default_params();
        gp.sampler.temperature = temp;
        gp.sampler.top_p = top_p;
        gp.max_new_tokens = max_new;
        tr_distill_trace *tr = NULL;
        double t0 = tr_now();
        rc =
            tr_distill_sample(&tm, tt, tpl, task, pr, np, k, &gp, (uint64_t)seed, slots, &tr, &err);
        total = np * k;
        int64_t tokens = 0;
        for (int64_t i = 0; rc == 0 && i < np; i++) {
            int any = 0;
            for (int j = 0; rc == 0 && j < k; j++) {
                const tr_distill_trace *t = &tr[i * k + j];
                tokens += t->n_tokens;
                if (strcmp(keep, "correct") == 0 && !t->verdict.correct) continue;
                any = 1;
                kept++;
                cJSON *row = cJSON_CreateObject();
                cJSON_AddStringToObject(row, "prompt", pr[i].prompt);
                cJSON_AddStringToObject(row, "completion", t->text);
                if (task) {
                    cJSON_AddStringToObject(row, "answer", pr[i].answer ? pr[i].answer : "");
                    cJSON_AddStringToObject(row, "task", pr[i].task);
                    if (pr[i].n_nums > 0) {
                        cJSON *nums = cJSON_AddArrayToObject(row, "nums");
                        for (int q = 0; q < pr[i].n_nums; q++)
                            cJSON_AddItemToArray(nums, cJSON_CreateNumber((double)pr[i].nums[q]));
                        cJSON_AddNumberToObject(row, "target", (double)pr[i].target);
                    }
                }
                char *s = cJSON_PrintUnformatted(row);
                cJSON_Delete(row);
                rc = s ? json_append(&buf, &len, &cap, s, &err) : tr_fail(&err, "out of memory");
                if (rc == 0) rc = json_append(&buf, &len, &cap, "\n", &err);
                free(s);
            }
            covered += any;
        }
        if (rc == 0 && kept == 0 && allow_empty)
            fprintf(stderr, "distill traces: warning: no trace was kept (0 of %lld verified "
                            "correct); the file is empty\n", (long long)total);
        else if (rc == 0 && kept == 0)
            rc = tr_fail(&err,
                         "no trace was kept (0 of %lld verified correct): a stronger "
                         "teacher, more samples (--n-per-prompt) or --keep all",
                         (long long)total);
        if (rc == 0) rc = tr_write_file_atomic(out, buf, len, &err);
        if (rc == 0) {
            fprintf(stderr,
                    "distill traces: kept %lld of %lld samples (%.1f%%); %lld of %lld "
                    "prompts have at least one; %lld tokens sampled in %.1fs\n",
                    (long long)kept, (long long)total, 100.0 * (double)kept / (double)total,
                    (long long)covered, (long long)np, (long long)tokens, tr_now() - t0);
            printf("{\"file\":\"%s\",\"kept\":%lld,\"samples\":%lld,\"accept_rate\":%.6f,"
                   "\"prompts_covered\":%lld,\"prompts\":%lld}\n",
                   out, (long long)kept, (long long)total, (double)kept / (double)total,
                   (long long)covered, (long long)np);
        }
        tr_distill_traces_free(tr, total);
    }
    free(buf);
    tr_problems_free(pr, np);
    tr_model_free(&tm);
    tr_tokenizer_free(tt);
    return rc == 0 ? 0 : cli_error("distill traces", err.msg);
}

/* ---- tinyr1 distill eval ------------------------------------------------------------- */
static int cmd_distill_eval(int argc, char **argv) {
    tr_err err;
    const char *student = NULL, *teacher = NULL, *tokenizer = NULL, *tteacher = NULL;
    const char *task_name = NULL, *task_file = NULL;
    int seq = 256, batch = 8, threads = 0, k = 1, max_new = 128;
    int64_t first = 100000, eval_n = 100;
    float temp = 0;
    data_opts d = data_opts_default();
    d.tasks = NULL;
    cli_opt opts[32];
    int m = 0;
    opts[m++] = (cli_opt){"student", CLI_STR, &student, "MODEL", "the model to score"};
    opts[m++] = (cli_opt){"tokenizer", CLI_STR, &tokenizer, "PATH",
                          "its tokenizer (required for a llama2.c .bin)"};
    opts[m++] = (cli_opt){"teacher", CLI_STR, &teacher, "MODEL",
                          "with --data: also KL(teacher || student) and the teacher's NLL"};
    opts[m++] = (cli_opt){"teacher-tokenizer", CLI_STR, &tteacher, "PATH",
                          "the teacher's tokenizer (default: --tokenizer)"};
    opts[m++] = (cli_opt){"data", CLI_STR, &d.data, "FILE",
                          "held-out examples: mean NLL per completion token"};
    opts[m++] =
        (cli_opt){"template", CLI_STR, &d.tpl_name, "NAME", "chat template: r1zero|chat|none"};
    opts[m++] = (cli_opt){"end-token", CLI_STR, &d.end_token, "eos|bos|ID",
                          "token that ends each completion"};
    opts[m++] = (cli_opt){"seq", CLI_INT, &seq, "T", "examples are cut to T+1 tokens"};
    opts[m++] = (cli_opt){"batch", CLI_INT, &batch, "B", "sequences per forward"};
    opts[m++] = (cli_opt){"eval-task", CLI_STR, &task_name, "NAME",
                          "task accuracy: pass@1 over --k samples"};
    opts[m++] =
        (cli_opt){"eval-data", CLI_STR, &task_file, "FILE", "the task's problems from a file"};
    opts[m++] = (cli_opt){"eval-n", CLI_INT64, &eval_n, "N", "problems"};
    opts[m++] = (cli_opt){"eval-first", CLI_INT64, &first, "I",
                          "index of the first generated problem (held out from training's 0..n-1)"};
    opts[m++] = (cli_opt){"task-seed", CLI_INT64, &d.task_seed, "S", "generator seed (training's)"};
    opts[m++] = (cli_opt){"difficulty", CLI_INT, &d.difficulty, "D",
                          "task difficulty 1..10 (0: the task's default)"};
    opts[m++] = (cli_opt){"k", CLI_INT, &k, "K", "samples per problem"};
    opts[m++] = (cli_opt){"temp", CLI_FLOAT, &temp, "T", "sampling temperature (0: greedy)"};
    opts[m++] = (cli_opt){"max-new", CLI_INT, &max_new, "N", "most generated tokens"};
    opts[m++] = (cli_opt){"threads", CLI_INT, &threads, "N", "threads (0: all)"};
    opts[m] = (cli_opt){0};
    const cli_spec spec = {
        "distill eval",
        "Score a student: held-out NLL, KL(teacher || student), task pass@1. Prints one JSON line.",
        "",
        opts,
        0,
        0,
        NULL};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    tr_set_threads(threads);
    if (!student) return cli_error("distill eval", "--student MODEL is required");
    if (!d.data && !task_name)
        return cli_error("distill eval", "give --data FILE and/or --eval-task NAME");
    tr_model sm, tm;
    tr_tokenizer *st = NULL, *tt = NULL;
    if (tr_load_bundle(student, tokenizer, &sm, &st, &err) != 0)
        return cli_error("distill eval", err.msg);
    int have_t = 0, rc = 0;
    char line[1024];
    int len = snprintf(line, sizeof line, "{\"student\":\"%s\"", student);
    if (teacher) {
        rc = load_teacher(teacher, tteacher ? tteacher : tokenizer, &tm, &tt, &err);
        have_t = rc == 0;
        int v_use;
        if (rc == 0) rc = check_vocab(&tm, tt, &sm, st, &v_use, &err);
    }
    if (rc == 0 && d.data) {
        tr_sft_set set = {0};
        rc = load_examples(&d, st, &set, &err);
        tr_distill_scores s;
        int32_t pad = tr_tokenizer_eos(st);
        if (rc == 0)
            rc = tr_distill_score(&sm, have_t ? &tm : NULL, &set, batch, seq, pad >= 0 ? pad : 0,
                                  &s, &err);
        if (rc == 0) {
            len += snprintf(line + len, sizeof line - (size_t)len, ",\"nll\":%.6f,\"tokens\":%lld",
                            s.nll, (long long)s.tokens);
            if (have_t)
                len += snprintf(line + len, sizeof line - (size_t)len,
                                ",\"kl_teacher_student\":%.6f,\"teacher_nll\":%.6f", s.kl,
                                s.teacher_nll);
        }
        tr_sft_set_free(&set);
    }
    if (rc == 0 && task_name) {
        const tr_task *task;
        tr_problem *pr = NULL;
        int64_t np = 0;
        tr_template_kind tpl = TR_TEMPLATE_NONE;
        rc = parse_template(d.tpl_name, &tpl, &err);
        if (rc == 0)
            rc = load_problems(task_name, task_file, eval_n, first, (uint64_t)d.task_seed,
                               d.difficulty, "en", &pr, &np, &task, &err);
        double p1 = 0, wf = 0;
        if (rc == 0) rc = accuracy(&sm, st, tpl, task, pr, np, k, temp, max_new, 1, &p1, &wf, &err);
        if (rc == 0)
            len += snprintf(line + len, sizeof line - (size_t)len,
                            ",\"task\":\"%s\",\"problems\":%lld,\"k\":%d,\"pass1\":%.6f,"
                            "\"well_formed\":%.6f",
                            task_name, (long long)np, k, p1, wf);
        tr_problems_free(pr, np);
    }
    if (rc == 0) printf("%s}\n", line);
    tr_model_free(&sm);
    tr_tokenizer_free(st);
    if (have_t) {
        tr_model_free(&tm);
        tr_tokenizer_free(tt);
    }
    return rc == 0 ? 0 : cli_error("distill eval", err.msg);
}

/* ---- tinyr1 distill (training) --------------------------------------------------------- */
typedef struct {
    const tr_tokenizer *tok;
    tr_template_kind tpl;
    const tr_task *task;
    tr_problem *pr;
    int64_t n;
    int max_new;
} eval_ctx;

static int eval_hook(void *ctx, const tr_model *m, int64_t step, char *buf, size_t cap,
                     tr_err *err) {
    eval_ctx *e = ctx;
    /* under MPI each rank answers its share of the problems (seeds follow the problem index,
     * and greedy answers do not depend on the batch), the counts are summed */
    const tr_dist *d = cli_dist();
    int64_t lo, hi;
    tr_dist_range(e->n, d->rank, d->world, &lo, &hi);
    double p1 = 0, wf = 0, counts[2] = {0, 0};
    if (hi > lo) {
        if (accuracy(m, e->tok, e->tpl, e->task, e->pr + lo, hi - lo, 1, 0.0f, e->max_new,
                     1 + (uint64_t)lo, &p1, &wf, err) != 0)
            return -1;
        counts[0] = (double)llround(p1 * (double)(hi - lo)); /* k = 1: whole answers */
        counts[1] = (double)llround(wf * (double)(hi - lo));
    }
    if (tr_dist_allreduce_sum_f64(d, counts, 2, err) != 0) return -1;
    p1 = counts[0] / (double)e->n;
    wf = counts[1] / (double)e->n;
    snprintf(buf, cap, "\"eval_pass1\":%.6f,\"eval_well_formed\":%.6f,\"eval_n\":%lld", p1, wf,
             (long long)e->n);
    if (cli_dist()->rank == 0)
        fprintf(stderr, "distill: step %lld: pass@1 %.3f (greedy, %lld held-out %s problems)\n",
                (long long)step, p1, (long long)e->n, tr_task_name(e->task));
    return 0;
}

static int cmd_train(int argc, char **argv) {
    tr_err err;
    const char *cmd = "distill";
    cli_train_opts t = cli_train_opts_default("runs/distill");
    t.lr = 1e-3f;
    t.warmup = 10;
    const char *teacher = NULL, *ttok_path = NULL, *cache_path = NULL, *preset = NULL;
    const char *init = NULL, *tokenizer = NULL, *loss = "fkl";
    double temp = 1.0, alpha = 0.0, beta = 0.5, skew = 0.1, lambda = 0.0;
    float sample_temp = 1.0f, init_std = 0.02f;
    int eval_every = 0, eval_n = 50, eval_max_new = 64, no_t2 = 0;
    tr_config cfg = tr_config_default();
    int dim = 0, layers = 0, heads = 0, kv_heads = 0, hidden = 0;
    data_opts d = data_opts_default();
    cli_opt opts[CLI_TRAIN_N_OPTS + 48];
    int n = 0;
    opts[n++] = (cli_opt){
        "teacher", CLI_STR, &teacher, "MODEL",
        "online teacher: tinyr1 checkpoint or run folder, Hugging Face folder, llama2.c .bin"};
    opts[n++] = (cli_opt){"teacher-tokenizer", CLI_STR, &ttok_path, "PATH",
                          "the teacher's tokenizer (required for a llama2.c .bin)"};
    opts[n++] = (cli_opt){"cache", CLI_STR, &cache_path, "FILE",
                          "offline teacher: a top-K cache from `tinyr1 distill cache`"};
    opts[n++] = (cli_opt){
        "student-preset", CLI_STR, &preset, "NAME",
        "new student from a preset (tiny|small|base or a path), its vocabulary the teacher's"};
    opts[n++] =
        (cli_opt){"student-init", CLI_STR, &init, "MODEL", "or: start the student from this model"};
    opts[n++] =
        (cli_opt){"tokenizer", CLI_STR, &tokenizer, "PATH",
                  "the student's tokenizer (default: the teacher's, or the one in --student-init)"};
    opts[n++] = (cli_opt){"dim", CLI_INT, &dim, "D", "preset override: width"};
    opts[n++] = (cli_opt){"layers", CLI_INT, &layers, "L", "preset override: layers"};
    opts[n++] = (cli_opt){"heads", CLI_INT, &heads, "NH", "preset override: attention heads"};
    opts[n++] =
        (cli_opt){"kv-heads", CLI_INT, &kv_heads, "KVH", "preset override: key/value heads"};
    opts[n++] = (cli_opt){"hidden", CLI_INT, &hidden, "H", "preset override: MLP width"};
    opts[n++] = (cli_opt){"init-std", CLI_FLOAT, &init_std, "S",
                          "standard deviation of a new student's weights"};
    n += data_opts_table(&d, opts + n);
    opts[n++] = (cli_opt){"loss", CLI_STR, &loss, "DIV", "divergence: fkl|rkl|jsd|skl|srkl|tvd"};
    opts[n++] = (cli_opt){"temp", CLI_DOUBLE, &temp, "T", "KD temperature, on teacher and student"};
    opts[n++] = (cli_opt){"no-t2", CLI_FLAG, &no_t2, NULL, "do not scale the KD term by T^2"};
    opts[n++] = (cli_opt){"alpha", CLI_DOUBLE, &alpha, "A",
                          "weight of the hard-label CE: loss = A*CE + (1-A)*KD"};
    opts[n++] =
        (cli_opt){"beta", CLI_DOUBLE, &beta, "B",
                  "JSD: weight of the teacher in the mixture (0: forward KL, 1: reverse KL)"};
    opts[n++] = (cli_opt){"skew", CLI_DOUBLE, &skew, "S", "skl/srkl skew"};
    opts[n++] = (cli_opt){
        "lambda", CLI_DOUBLE, &lambda, "L",
        "on-policy fraction: a micro-batch is sampled from the student with probability L (GKD)"};
    opts[n++] = (cli_opt){"sample-temp", CLI_FLOAT, &sample_temp, "T",
                          "the student's sampling temperature for on-policy batches"};
    opts[n++] = (cli_opt){"eval-every", CLI_INT, &eval_every, "N",
                          "with --task: greedy pass@1 on held-out problems every N steps (0: only "
                          "at the start and end)"};
    opts[n++] = (cli_opt){"eval-n", CLI_INT, &eval_n, "N",
                          "held-out problems (generator indices n .. n+N-1)"};
    opts[n++] = (cli_opt){"eval-max-new", CLI_INT, &eval_max_new, "N",
                          "most tokens generated per evaluation answer"};
    n += cli_train_opts_table(&t, opts + n);
    opts[n++] = (cli_opt){"quiet", CLI_FLAG, &t.quiet, NULL, "no progress display"};
    opts[n] = (cli_opt){0};
    const cli_spec spec = {"distill",
                           "Knowledge distillation into a student: soft targets from a teacher "
                           "(online or a top-K cache), optionally on the student's own samples.",
                           "",
                           opts,
                           0,
                           0,
                           "Subcommands: tinyr1 distill cache|traces|eval --help.\n"
                           "Example: tinyr1 distill --teacher runs/teacher --student-preset tiny "
                           "--task add --n 2000 --loss fkl --temp 2 --out runs/student\n"
                           "Metrics: loss, ce, kd and kl (KL(teacher||student) per token) each "
                           "step; eval_pass1 with --task.\n"
                           "Ctrl-C saves a checkpoint; --resume continues exactly (the on-policy "
                           "coins come from the run's RNG)."};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    tr_set_threads(t.threads);
    tr_kd_params kp = tr_kd_default_params();
    if (parse_div(loss, &kp.div, &err) != 0) return cli_error(cmd, err.msg);
    kp.temperature = temp;
    kp.scale_t2 = !no_t2;
    kp.ce_alpha = alpha;
    kp.beta = beta;
    kp.skew = skew;
    if (!teacher == !cache_path)
        return cli_error(cmd,
                         "give exactly one of --teacher MODEL (online) or --cache FILE (offline)");
    if (cache_path && lambda > 0)
        return cli_error(cmd, "--lambda > 0 (on-policy) needs an online --teacher: a cache only "
                              "covers the dataset's tokens");
    if (d.data && d.tasks) return cli_error(cmd, "give --data FILE or --task NAMES, not both");
    if (!d.data && !d.tasks && !cache_path)
        return cli_error(cmd, "give --data FILE or --task NAMES");
    if (!(lambda >= 0 && lambda <= 1)) return cli_error(cmd, "--lambda must be in [0, 1]");
    if (tr_mkdirs(t.out, &err) != 0) return cli_error(cmd, err.msg);

    tr_model tm = {0};
    tr_tokenizer *tt = NULL;
    int have_teacher = 0;
    tr_kd_cache cache;
    memset(&cache, 0, sizeof cache);
    cli_run run;
    tr_sft_set set = {0};
    tr_distill_kd kd;
    memset(&kd, 0, sizeof kd);
    tr_distill_data dd;
    memset(&dd, 0, sizeof dd);
    eval_ctx ev = {0};
    int rc = 0, resumed = cli_run_resume(&run, &t, &err);
    if (resumed < 0) return cli_error(cmd, err.msg);
    if (teacher) {
        rc = load_teacher(teacher, ttok_path, &tm, &tt, &err);
        have_teacher = rc == 0;
    } else {
        rc = tr_kd_cache_open(&cache, cache_path, &err);
    }
    if (rc == 0 && !resumed) {
        if (!preset == !init)
            rc = tr_fail(&err, "give exactly one of --student-preset NAME or --student-init MODEL");
        else if (init) {
            rc = tr_load_bundle(init, tokenizer, &run.model, &run.tok, &err);
        } else {
            cli_train_defaults td;
            rc = cli_load_preset(preset, &cfg, &td, &err);
            if (rc == 0 && tokenizer) rc = tr_tokenizer_load(&run.tok, tokenizer, &err);
            if (rc == 0 && !run.tok && tt) {
                /* the teacher's tokenizer, copied through its serialisation */
                char *blob = NULL;
                size_t len = 0;
                rc = tr_tokenizer_serialize(tt, &blob, &len, &err);
                tr_tokenizer_files f = {
                    .format = TR_TOKFMT_TINYR1, .data = blob, .len = len, .name = "teacher"};
                if (rc == 0) rc = tr_tokenizer_load_files(&run.tok, &f, &err);
                free(blob);
            }
            if (rc == 0) {
                cfg.vocab = have_teacher ? tm.cfg.vocab : cache.V;
                if (dim) cfg.dim = dim;
                if (layers) cfg.n_layers = layers;
                if (heads) cfg.n_heads = heads;
                if (kv_heads) cfg.n_kv_heads = kv_heads;
                if (hidden) cfg.hidden_dim = hidden;
                if (t.seq > cfg.max_seq) cfg.max_seq = t.seq;
                cfg.head_dim = 0;
                rc = tr_model_init(&run.model, &cfg, &err);
                if (rc == 0) tr_model_init_random(&run.model, (uint64_t)t.seed, init_std);
            }
        }
        if (rc == 0) cli_run_fresh_state(&run, &t);
    }
    int v_use = run.model.cfg.vocab;
    if (rc == 0 && have_teacher) rc = check_vocab(&tm, tt, &run.model, run.tok, &v_use, &err);
    /* the examples: from --data/--task, or the cache's own sequences */
    if (rc == 0) {
        if (d.data || d.tasks)
            rc = load_examples(&d, run.tok, &set, &err);
        else
            rc = tr_kd_cache_to_set(&cache, &set, &err);
    }
    if (rc == 0 && cache_path) {
        if (cache.V != run.model.cfg.vocab)
            rc = tr_fail(&err, "the cache %s is over %d vocabulary columns, the student has %d",
                         cache_path, cache.V, run.model.cfg.vocab);
        else if (tr_kd_cache_hash_set(&set, cache.max_len) != cache.seq_hash ||
                 set.n != cache.n_examples)
            rc = tr_fail(&err,
                         "the examples of --data/--task are not the ones the cache %s "
                         "was made from (%lld examples, %lld cached; the sequence hash "
                         "differs)",
                         cache_path, (long long)set.n, (long long)cache.n_examples);
    }
    if (rc == 0) {
        int32_t pad = run.tok ? tr_tokenizer_eos(run.tok) : 0;
        tr_gen_params gp = tr_gen_default_params();
        gp.sampler.temperature = sample_temp;
        if (run.tok)
            gp.n_stop_tokens = tr_distill_stop_tokens(run.tok, gp.stop_tokens, TR_GEN_MAX_STOP);
        rc = tr_distill_data_init(&dd, &set, pad >= 0 ? pad : 0, TR_TRUNC_RIGHT, t.accum, t.batch,
                                  t.seq, lambda, &run.model, &gp, &err);
    }
    if (rc == 0) {
        if (have_teacher)
            rc = tr_distill_kd_init_online(&kd, &tm, v_use, &kp, t.batch, t.seq, &err);
        else
            rc = tr_distill_kd_init_cache(&kd, &cache, v_use, &kp, t.batch, t.seq, t.accum, dd.rows,
                                          &err);
    }
    /* data parallelism: each process trains (and samples, and scores with the teacher) its
     * rows of every batch; the trainer refuses a batch the processes do not divide */
    const tr_dist *dist = cli_dist();
    if (rc == 0 && t.batch % dist->world == 0) {
        dd.rank = dist->rank;
        dd.world = dist->world;
        kd.row0 = dist->rank * (t.batch / dist->world);
    }
    if (rc == 0 && d.tasks && eval_n > 0) {
        /* held out: the generator's indices after the training problems */
        const char *comma = strchr(d.tasks, ',');
        char first_task[32];
        snprintf(first_task, sizeof first_task, "%.*s", comma ? (int)(comma - d.tasks) : 31,
                 d.tasks);
        tr_template_kind tpl = TR_TEMPLATE_NONE;
        rc = parse_template(d.tpl_name, &tpl, &err);
        if (rc == 0)
            rc = load_problems(first_task, NULL, eval_n, d.n, (uint64_t)d.task_seed, d.difficulty,
                               d.lang, &ev.pr, &ev.n, &ev.task, &err);
        ev.tok = run.tok;
        ev.tpl = tpl;
        ev.max_new = eval_max_new;
    }
    if (rc == 0) rc = cli_write_run_args(t.out, &spec, &run.model.cfg, &err);
    if (rc != 0) {
        rc = cli_error(cmd, err.msg);
        goto done;
    }
    cli_print_resolved(&spec);
    if (dist->rank == 0)
        fprintf(stderr,
                "distill: student %.3fM parameters (dim %d, %d layers), teacher %s%s; "
                "%lld examples, %lld tokens (%lld trained); loss %s, T %g, alpha %g, "
                "lambda %g\n",
                run.model.table.total / 1e6, run.model.cfg.dim, run.model.cfg.n_layers,
                have_teacher ? "online " : "cache ", have_teacher ? teacher : cache_path,
                (long long)set.n, (long long)set.n_tokens, (long long)set.n_trained,
                tr_kd_div_name(kp.div), temp, alpha, lambda);
    if (have_teacher && dist->rank == 0)
        fprintf(stderr, "distill: teacher %.3fM parameters (%.1fx the student)\n",
                tm.table.total / 1e6, (double)tm.table.total / (double)run.model.table.total);
    tr_objective obj = tr_distill_kd_objective(&kd);
    char meta[512];
    snprintf(meta, sizeof meta,
             "{\"stage\":\"distill\",\"loss\":\"%s\",\"temperature\":%g,\"alpha\":%g,"
             "\"beta\":%g,\"lambda\":%g,\"teacher\":\"%s\"}",
             tr_kd_div_name(kp.div), temp, alpha, beta, lambda, have_teacher ? "online" : "cache");
    rc = cli_run_train_eval(&run, cmd, &t, &obj, tr_distill_next_batch, &dd, meta, eval_every,
                            ev.task ? eval_hook : NULL, &ev);
    if (lambda > 0 && dist->rank == 0)
        fprintf(stderr,
                "distill: %lld of %lld micro-batches were sampled from the student "
                "(%lld tokens)\n",
                (long long)dd.n_onpolicy, (long long)dd.n_batches, (long long)dd.n_sampled_tokens);
done:
    tr_problems_free(ev.pr, ev.n);
    tr_distill_kd_free(&kd);
    tr_distill_data_free(&dd);
    tr_sft_set_free(&set);
    cli_run_free(&run);
    if (have_teacher) tr_model_free(&tm);
    if (tt) tr_tokenizer_free(tt);
    tr_kd_cache_close(&cache);
    return rc;
}

int cmd_distill(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "cache") == 0) return cmd_cache(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "traces") == 0 || strcmp(argv[1], "eval") == 0) &&
        cli_dist()->world > 1) /* every rank would write the same files */
        return cli_error("distill", "traces and eval are not shared out across MPI processes: "
                                    "run them without mpirun (docs/mpi.md)");
    if (argc >= 2 && strcmp(argv[1], "traces") == 0) return cmd_traces(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "eval") == 0) return cmd_distill_eval(argc - 1, argv + 1);
    return cmd_train(argc, argv);
}
