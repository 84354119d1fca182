/* tinyr1 data gen|check|score|tasks: generate task datasets, validate JSONL datasets, and
 * score model responses with the task verifiers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- helpers ------------------------------------------------------------------------- */

#define MAX_TASKS 16

/* Splits "a,b,c" into task pointers; prints and returns -1 on an unknown name. */
static int parse_tasks(const char *cmd, const char *list, const tr_task **out, int *n) {
    *n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        const tr_task *t = tr_task_find(tok);
        if (!t) {
            char msg[700];
            snprintf(msg, sizeof msg, "unknown task '%s'; 'tinyr1 data tasks' lists them", tok);
            cli_error(cmd, msg);
            return -1;
        }
        if (*n >= MAX_TASKS) {
            cli_error(cmd, "too many tasks");
            return -1;
        }
        out[(*n)++] = t;
    }
    if (*n == 0) {
        cli_error(cmd, "--task names no task");
        return -1;
    }
    return 0;
}

/* A FILE* (o->f) for writing PATH through PATH.tmp (renamed on success); "-" is stdout. */
typedef tr_atomic_file out_file;

static int out_open(out_file *o, const char *cmd, const char *path) {
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return 0;
    }
    tr_err err;
    if (tr_atomic_open(o, path, &err) != 0) return cli_error(cmd, err.msg), -1;
    return 0;
}

/* ok = 0: the caller failed (and said so): the partial file is removed silently. */
static int out_close(out_file *o, const char *cmd, int ok) {
    if (o->f == stdout) return fflush(stdout) == 0 ? 0 : -1;
    if (!ok) {
        tr_atomic_abort(o);
        return -1;
    }
    tr_err err;
    if (tr_atomic_commit(o, 1, &err) != 0) return cli_error(cmd, err.msg), -1;
    return 0;
}

static int write_row(FILE *f, cJSON *row) {
    char *s = cJSON_PrintUnformatted(row);
    if (!s) return -1;
    int rc = fprintf(f, "%s\n", s) < 0 ? -1 : 0;
    cJSON_free(s);
    return rc;
}

/* ---- gen ----------------------------------------------------------------------------- */

static int cmd_data_gen(int argc, char **argv) {
    const char *tasks = "add", *lang = "en", *out = NULL;
    int64_t n = 100, seed = 1, start = 0;
    int difficulty = 0;
    const cli_opt opts[] = {
        {"task", CLI_STR, &tasks, "LIST",
         "comma-separated tasks with generators (add,mul,countdown,wordprob)"},
        {"n", CLI_INT64, &n, "N", "number of rows written (tasks take turns)"},
        {"seed", CLI_INT64, &seed, "S", "generator seed: the same seed gives the same file"},
        {"start", CLI_INT64, &start, "I",
         "index of the first problem of each task (for disjoint splits)"},
        {"difficulty", CLI_INT, &difficulty, "D",
         "1..10, 0 = each task's default (see docs/data.md)"},
        {"lang", CLI_STR, &lang, "L",
         "en, zh or both (both: tasks with Chinese give each problem in en then zh)"},
        {"out", CLI_STR, &out, "FILE", "output JSONL file ('-' for standard output); required"},
        {0},
    };
    const cli_spec spec = {
        "data gen",
        "write generated problems with worked solutions as JSONL",
        "",
        opts,
        0,
        0,
        "Each row: prompt, completion (\"<think> ... </think> <answer> A </answer>\"), answer,\n"
        "task, lang, index, seed, difficulty; countdown rows also nums and target."};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc > 0 ? 0 : 2;
    if (!out) return cli_error(spec.command, "--out FILE is required");
    if (n < 0 || start < 0) return cli_error(spec.command, "--n and --start must be >= 0");
    int both = strcmp(lang, "both") == 0;
    if (!both && strcmp(lang, "en") != 0 && strcmp(lang, "zh") != 0)
        return cli_error(spec.command, "--lang must be en, zh or both");
    const tr_task *list[MAX_TASKS];
    int k;
    if (parse_tasks(spec.command, tasks, list, &k) != 0) return 2;
    for (int i = 0; i < k; i++) {
        char msg[300];
        if (!tr_task_can_generate(list[i])) {
            snprintf(msg, sizeof msg,
                     "task '%s' is a real set without a generator (use its file, %s)",
                     tr_task_name(list[i]), tr_task_default_file(list[i]));
            return cli_error(spec.command, msg);
        }
        if (!both && !tr_task_has_lang(list[i], lang)) {
            snprintf(msg, sizeof msg, "task '%s' has no '%s' problems; use --lang en or both",
                     tr_task_name(list[i]), lang);
            return cli_error(spec.command, msg);
        }
    }
    cli_print_resolved(&spec);
    out_file of;
    if (out_open(&of, spec.command, out) != 0) return 1;
    int ok = 1;
    for (int64_t j = 0; j < n && ok; j++) {
        const tr_task *t = list[j % k];
        int64_t turn = j / k, index = start + turn;
        tr_task_params p = {difficulty, "en"};
        if (both && tr_task_has_lang(t, "zh")) {
            index = start + turn / 2;
            p.lang = turn % 2 ? "zh" : "en";
        } else if (!both) {
            p.lang = lang;
        }
        tr_problem pr;
        tr_err err;
        if (tr_task_generate(t, (uint64_t)seed, index, &p, &pr, &err) != 0) {
            cli_error(spec.command, err.msg);
            ok = 0;
            break;
        }
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "prompt", pr.prompt);
        cJSON_AddStringToObject(row, "completion", pr.completion);
        cJSON_AddStringToObject(row, "answer", pr.answer);
        cJSON_AddStringToObject(row, "task", pr.task);
        cJSON_AddStringToObject(row, "lang", pr.lang);
        cJSON_AddNumberToObject(row, "index", (double)pr.index);
        cJSON_AddNumberToObject(row, "seed", (double)pr.seed);
        cJSON_AddNumberToObject(row, "difficulty", pr.difficulty);
        if (pr.n_nums > 0) {
            cJSON *nums = cJSON_AddArrayToObject(row, "nums");
            for (int i = 0; i < pr.n_nums; i++)
                cJSON_AddItemToArray(nums, cJSON_CreateNumber((double)pr.nums[i]));
            cJSON_AddNumberToObject(row, "target", (double)pr.target);
        }
        if (write_row(of.f, row) != 0) ok = 0;
        cJSON_Delete(row);
        tr_problem_free(&pr);
    }
    if (out_close(&of, spec.command, ok) != 0 || !ok) return 1;
    if (of.f != stdout)
        fprintf(stderr, "tinyr1 data gen: wrote %lld rows to %s\n", (long long)n, out);
    return 0;
}

/* ---- check --------------------------------------------------------------------------- */

typedef struct count_entry {
    char key[64];
    int64_t n;
} count_entry;

static void count_add(count_entry *c, int *n, int cap, const char *key) {
    for (int i = 0; i < *n; i++)
        if (strcmp(c[i].key, key) == 0) {
            c[i].n++;
            return;
        }
    if (*n < cap) {
        snprintf(c[*n].key, sizeof c[*n].key, "%s", key);
        c[(*n)++].n = 1;
    }
}

/* The task whose verifier applies to an example (NULL if none). */
static const tr_task *task_for(const tr_example *ex, const tr_task *forced) {
    if (forced) return forced;
    switch (ex->kind) {
    case TR_DS_PC:
        return ex->task ? tr_task_find(ex->task) : NULL;
    case TR_DS_GSM8K:
        return tr_task_find("gsm8k");
    case TR_DS_PROBLEM:
        return tr_task_find("math");
    case TR_DS_COUNTDOWN:
        return tr_task_find("countdown");
    default:
        return NULL;
    }
}

static int cmd_data_check(int argc, char **argv) {
    int skip_bad = 0, verify = 0, max_errors = 20;
    int64_t max_line = 0;
    const char *task = NULL;
    const cli_opt opts[] = {
        {"skip-bad", CLI_FLAG, &skip_bad, NULL,
         "report malformed lines but exit 0 (they are counted)"},
        {"verify", CLI_FLAG, &verify, NULL,
         "check each row's worked solution with its task's verifier"},
        {"task", CLI_STR, &task, "NAME",
         "verifier for --verify (default: the row's task field, or the kind's)"},
        {"max-errors", CLI_INT, &max_errors, "N", "print at most N error lines"},
        {"max-line", CLI_INT64, &max_line, "BYTES", "longest accepted line, 0 = 4 MiB"},
        {0},
    };
    const cli_spec spec = {
        "data check",
        "validate a JSONL dataset: detect its kind, count rows, report bad lines",
        "FILE.jsonl",
        opts,
        1,
        1,
        "Kinds: text, prompt-completion, messages, countdown, problem (MATH/AIME/AMC), gsm8k.\n"
        "Errors are printed as FILE:LINE: what is wrong. Exit status 1 if a line is bad\n"
        "(unless --skip-bad) or a worked solution fails --verify."};
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, pos, &npos);
    if (rc) return rc > 0 ? 0 : 2;
    const tr_task *forced = NULL;
    if (task && !(forced = tr_task_find(task))) return cli_error(spec.command, "unknown --task");
    tr_jsonl r;
    tr_err err;
    if (tr_jsonl_open(&r, pos[0], (size_t)(max_line > 0 ? max_line : 0), 0, &err) != 0)
        return cli_error(spec.command, err.msg);
    tr_ds_kind kind = TR_DS_UNKNOWN;
    int64_t rows = 0, bad = 0, printed = 0, verified = 0, verify_fail = 0, verify_skip = 0;
    count_entry counts[64];
    int n_counts = 0;
    int io_error = 0;
    for (;;) {
        cJSON *row = NULL;
        int got = tr_jsonl_next(&r, &row, &err);
        if (got == 0) break;
        if (got < 0) {
            if (strstr(err.msg, "read error")) {
                io_error = 1;
                cli_error(spec.command, err.msg);
                break;
            }
            bad++;
            if (printed++ < max_errors) fprintf(stderr, "%s\n", err.msg);
            continue; /* the reader is positioned after the bad line */
        }
        char where[600];
        snprintf(where, sizeof where, "%s:%lld", r.path, (long long)r.line_no);
        if (kind == TR_DS_UNKNOWN) kind = tr_ds_detect(row);
        tr_example ex;
        memset(&ex, 0, sizeof ex);
        ex.line = r.line_no;
        if (tr_example_from_json(&ex, row, kind, where, &err) != 0) {
            bad++;
            if (printed++ < max_errors) fprintf(stderr, "%s\n", err.msg);
            cJSON_Delete(row);
            continue;
        }
        rows++;
        if (ex.task || ex.lang) {
            char key[64];
            snprintf(key, sizeof key, "%s/%s", ex.task ? ex.task : "-", ex.lang ? ex.lang : "-");
            count_add(counts, &n_counts, 64, key);
        }
        if (verify) {
            const tr_task *t = task_for(&ex, forced);
            tr_problem p;
            if (!t || !ex.completion ||
                tr_task_problem_from_row(t, &ex, row, NULL, &p, &err) != 0) {
                verify_skip++;
            } else {
                /* real sets are checked on their own text (MATH: the last \boxed of the
                 * solution, GSM8K: its #### line), not on the completion made from the gold */
                const char *text = ex.kind == TR_DS_PC ? p.completion : ex.completion;
                tr_verdict v;
                tr_task_verify(t, &p, text, &v);
                verified++;
                if (!v.correct) {
                    verify_fail++;
                    if (printed++ < max_errors)
                        fprintf(stderr,
                                "%s: %s: worked solution not verified: %s (answer \"%s\", gold "
                                "\"%s\")\n",
                                where, tr_task_name(t), v.reason, v.extracted, p.answer);
                }
                tr_problem_free(&p);
            }
        }
        tr_example_free(&ex);
        cJSON_Delete(row);
    }
    int64_t lines = r.line_no;
    tr_jsonl_close(&r);
    if (io_error) return 1;
    printf("%s: kind %s, %lld rows, %lld bad lines (of %lld lines)\n", pos[0],
           tr_ds_kind_name(kind), (long long)rows, (long long)bad, (long long)lines);
    for (int i = 0; i < n_counts; i++)
        printf("  %-24s %lld\n", counts[i].key, (long long)counts[i].n);
    if (verify)
        printf("verified: %lld of %lld worked solutions correct (%lld rows without one)\n",
               (long long)(verified - verify_fail), (long long)verified, (long long)verify_skip);
    if (rows == 0) return cli_error(spec.command, "no valid rows");
    if (bad && !skip_bad) return 1;
    return verify_fail ? 1 : 0;
}

/* ---- score --------------------------------------------------------------------------- */

static int cmd_data_score(int argc, char **argv) {
    const char *task = NULL, *in = NULL, *field = NULL, *answer_field = NULL, *out = NULL;
    int skip_bad = 0, use_all = 0;
    const cli_opt opts[] = {
        {"task", CLI_STR, &task, "NAME",
         "verifier: math, gsm8k, aime, amc, countdown, add, mul, wordprob; required"},
        {"in", CLI_STR, &in, "FILE", "input JSONL; required"},
        {"response-field", CLI_STR, &field, "F", "field holding the model's response; required"},
        {"answer-field", CLI_STR, &answer_field, "A",
         "field holding the gold answer (default: the row kind's answer; countdown: nums and "
         "target)"},
        {"out", CLI_STR, &out, "FILE",
         "write every row again with \"correct\" (and \"score\") added"},
        {"skip-bad", CLI_FLAG, &skip_bad, NULL,
         "skip malformed lines and rows without a response (counted)"},
        {"use-all", CLI_FLAG, &use_all, NULL, "countdown: every number must be used exactly once"},
        {0},
    };
    const cli_spec spec = {
        "data score",
        "score the responses in a JSONL file with a task's verifier",
        "",
        opts,
        0,
        0,
        "Prints 'N scored, M correct'. Answers are taken from <answer>, then \\boxed, then ####."};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc > 0 ? 0 : 2;
    if (!task || !in || !field)
        return cli_error(spec.command, "--task, --in and --response-field are required");
    const tr_task *t = tr_task_find(task);
    if (!t) return cli_error(spec.command, "unknown --task; 'tinyr1 data tasks' lists them");
    tr_jsonl r;
    tr_err err;
    if (tr_jsonl_open(&r, in, 0, skip_bad, &err) != 0) return cli_error(spec.command, err.msg);
    out_file of;
    if (out && out_open(&of, spec.command, out) != 0) {
        tr_jsonl_close(&r);
        return 1;
    }
    tr_ds_kind kind = TR_DS_UNKNOWN;
    int64_t scored = 0, correct = 0, well_formed = 0, skipped = 0;
    double score_sum = 0;
    int ok = 1;
    for (;;) {
        cJSON *row = NULL;
        int got = tr_jsonl_next(&r, &row, &err);
        if (got == 0) break;
        if (got < 0) {
            cli_error(spec.command, err.msg);
            ok = 0;
            break;
        }
        char where[600];
        snprintf(where, sizeof where, "%s:%lld", r.path, (long long)r.line_no);
        const cJSON *resp = cJSON_GetObjectItemCaseSensitive(row, field);
        const char *problem_msg = NULL;
        char msg[1700];
        tr_problem p;
        memset(&p, 0, sizeof p);
        if (!cJSON_IsString(resp)) {
            snprintf(msg, sizeof msg, "%s: field \"%s\" (the response) is missing or not a string",
                     where, field);
            problem_msg = msg;
        } else {
            if (kind == TR_DS_UNKNOWN) kind = tr_ds_detect(row);
            tr_example ex;
            memset(&ex, 0, sizeof ex);
            ex.line = r.line_no;
            if (tr_example_from_json(&ex, row, kind, where, &err) != 0) {
                /* rows of no known kind can still be scored against --answer-field */
                memset(&ex, 0, sizeof ex);
                ex.line = r.line_no;
                tr_err e2;
                if (tr_example_from_json(&ex, row, TR_DS_COUNTDOWN, where, &e2) != 0) {
                    memset(&ex, 0, sizeof ex);
                    ex.line = r.line_no;
                }
                if (!answer_field && !ex.n_nums) {
                    snprintf(msg, sizeof msg, "%s", err.msg);
                    problem_msg = msg;
                }
            }
            if (!problem_msg &&
                tr_task_problem_from_row(t, &ex, row, answer_field, &p, &err) != 0) {
                snprintf(msg, sizeof msg, "%s: %s", where, err.msg);
                problem_msg = msg;
            }
            tr_example_free(&ex);
        }
        if (problem_msg) {
            cJSON_Delete(row);
            if (!skip_bad) {
                cli_error(spec.command, problem_msg);
                ok = 0;
                break;
            }
            skipped++;
            continue;
        }
        p.use_all = use_all;
        tr_verdict v;
        tr_task_verify(t, &p, resp->valuestring, &v);
        scored++;
        correct += v.correct;
        well_formed += v.well_formed;
        score_sum += v.score;
        if (out) {
            cJSON_DeleteItemFromObjectCaseSensitive(row, "correct");
            cJSON_DeleteItemFromObjectCaseSensitive(row, "score");
            cJSON_AddBoolToObject(row, "correct", v.correct);
            cJSON_AddNumberToObject(row, "score", v.score);
            if (write_row(of.f, row) != 0) ok = 0;
        }
        tr_problem_free(&p);
        cJSON_Delete(row);
    }
    int64_t bad_lines = r.n_bad;
    tr_jsonl_close(&r);
    if (out && out_close(&of, spec.command, ok) != 0) ok = 0;
    if (!ok) return 1;
    printf("%lld scored, %lld correct\n", (long long)scored, (long long)correct);
    fprintf(stderr,
            "tinyr1 data score: accuracy %.4f, well-formed %lld, mean score %.4f, skipped %lld "
            "rows and %lld bad lines\n",
            scored ? (double)correct / (double)scored : 0.0, (long long)well_formed,
            scored ? score_sum / (double)scored : 0.0, (long long)skipped, (long long)bad_lines);
    return 0;
}

/* ---- tasks --------------------------------------------------------------------------- */

static int cmd_data_tasks(int argc, char **argv) {
    const cli_opt opts[] = {{0}};
    const cli_spec spec = {"data tasks", "list the registered tasks", "", opts, 0, 0, NULL};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc > 0 ? 0 : 2;
    printf("%-10s %-9s %-6s %-22s %s\n", "task", "generator", "langs", "default file", "summary");
    for (int i = 0; i < tr_task_count(); i++) {
        const tr_task *t = tr_task_at(i);
        printf("%-10s %-9s %-6s %-22s %s\n", tr_task_name(t),
               tr_task_can_generate(t) ? "yes" : "no", tr_task_has_lang(t, "zh") ? "en,zh" : "en",
               tr_task_default_file(t) ? tr_task_default_file(t) : "-", tr_task_summary(t));
    }
    return 0;
}

int cmd_data(int argc, char **argv) {
    static const cli_command commands[] = {
        {"gen", "generate problems with worked solutions (JSONL)", cmd_data_gen},
        {"check", "validate a JSONL dataset", cmd_data_check},
        {"score", "score responses with a task's verifier", cmd_data_score},
        {"tasks", "list the registered tasks", cmd_data_tasks},
        {0},
    };
    return cli_dispatch("data", commands, argc, argv);
}
