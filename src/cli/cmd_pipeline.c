/* tinyr1 pipeline: the whole R1 recipe, then distillation, then evaluation and a report.
 *
 * A pipeline is a readable JSON file (configs/pipeline/NAME.json): variables and a list of
 * stages, each one tinyr1 command run in-process with its own folder. Strings may use
 * ${var} (a variable), ${dir} (the stage's folder), ${root} (the pipeline's folder) and
 * ${stage:NAME} (another stage's folder); an argument that is exactly one ${var} whose value
 * holds spaces becomes several arguments (model flags). After a stage succeeds its folder gets a file
 * .done holding the command line; --resume skips stages whose .done matches and resumes
 * the interrupted one (--resume is added to training commands). An "eval" section lists
 * models and tasks: every (model, task) pair becomes an evaluation stage, with ${model},
 * ${model_dir} and ${task} set. Each finished stage also gets DIR/stage.json: its wall time
 * and the CPU time (user + system, all threads) this process spent in it. The report
 * (report.md, report.html) puts the accuracy table, the cost table and every curve in one
 * page. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cli.h"

#define MAX_STAGES 64
#define MAX_ARGS 96
#define MAX_VARS 96

typedef struct {
    char *name, *value;
} var;

typedef struct {
    char name[64], title[160];
    char *argv[MAX_ARGS];
    int argc;
    int resumable;
    char *eval_model, *eval_task; /* evaluation stages: what they evaluate */
} stage;

typedef struct {
    var vars[MAX_VARS];
    int n_vars;
    stage stages[MAX_STAGES];
    int n_stages;
    char root[1024];
    char **models, **tasks; /* eval section */
    int n_models, n_tasks;
} pipeline;

static const char *var_get(const pipeline *p, const char *name) {
    for (int i = p->n_vars - 1; i >= 0; i--)
        if (strcmp(p->vars[i].name, name) == 0) return p->vars[i].value;
    return NULL;
}

static int var_set(pipeline *p, const char *name, const char *value, tr_err *err) {
    for (int i = 0; i < p->n_vars; i++)
        if (strcmp(p->vars[i].name, name) == 0) {
            free(p->vars[i].value);
            p->vars[i].value = strdup(value);
            return 0;
        }
    if (p->n_vars == MAX_VARS) return tr_fail(err, "too many pipeline variables");
    p->vars[p->n_vars].name = strdup(name);
    p->vars[p->n_vars].value = strdup(value);
    p->n_vars++;
    return 0;
}

/* Expands ${...} in text for stage `self` (its folder is root/self). */
static char *expand(const pipeline *p, const char *self, const char *text, tr_err *err) {
    size_t cap = strlen(text) + 256, n = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (const char *s = text; *s;) {
        const char *val = NULL;
        char buf[1400], key[256];
        size_t adv = 1;
        if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s, '}');
            if (!end || (size_t)(end - s - 2) >= sizeof key) {
                free(out);
                tr_fail(err, "pipeline: unterminated ${ in \"%s\"", text);
                return NULL;
            }
            memcpy(key, s + 2, (size_t)(end - s - 2));
            key[end - s - 2] = '\0';
            adv = (size_t)(end - s) + 1;
            if (strcmp(key, "dir") == 0) {
                snprintf(buf, sizeof buf, "%s/%s", p->root, self);
                val = buf;
            } else if (strcmp(key, "root") == 0) {
                val = p->root;
            } else if (strncmp(key, "stage:", 6) == 0) {
                snprintf(buf, sizeof buf, "%s/%s", p->root, key + 6);
                val = buf;
            } else if (!(val = var_get(p, key))) {
                free(out);
                tr_fail(err, "pipeline: unknown variable ${%s} in \"%s\" (stage %s)", key, text,
                        self);
                return NULL;
            }
        }
        size_t len = val ? strlen(val) : 1;
        if (n + len + 1 > cap) {
            cap = (n + len + 1) * 2;
            char *bigger = realloc(out, cap);
            if (!bigger) {
                free(out);
                return NULL;
            }
            out = bigger;
        }
        if (val) memcpy(out + n, val, len);
        else out[n] = *s;
        n += len;
        s += adv;
    }
    out[n] = '\0';
    return out;
}

static int add_stage(pipeline *p, const char *name, const char *title, const cJSON *run,
                     int resumable, const char *where, tr_err *err) {
    if (p->n_stages == MAX_STAGES) return tr_fail(err, "%s: too many stages", where);
    stage *st = &p->stages[p->n_stages];
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", name);
    snprintf(st->title, sizeof st->title, "%s", title ? title : name);
    st->resumable = resumable;
    st->argv[st->argc++] = strdup("tinyr1");
    const cJSON *a;
    cJSON_ArrayForEach(a, run) {
        if (!cJSON_IsString(a))
            return tr_fail(err, "%s: stage %s: \"run\" must be an array of strings", where, name);
        if (st->argc == MAX_ARGS - 2) return tr_fail(err, "%s: stage %s: too many arguments", where, name);
        char *v = expand(p, name, a->valuestring, err);
        if (!v) return -1;
        const char *raw = a->valuestring;
        int whole_ref = raw[0] == '$' && raw[1] == '{' && strchr(raw, '}') == raw + strlen(raw) - 1;
        if (whole_ref && strchr(v, ' ')) { /* "${model_flags}" alone: several arguments */
            char *save = NULL;
            for (char *w = strtok_r(v, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                if (st->argc == MAX_ARGS - 2) {
                    free(v);
                    return tr_fail(err, "%s: stage %s: too many arguments", where, name);
                }
                st->argv[st->argc++] = strdup(w);
            }
            free(v);
        } else {
            st->argv[st->argc++] = v;
        }
    }
    p->n_stages++;
    return 0;
}

static char **split_list(const char *csv, int *n) {
    char *copy = strdup(csv), *save = NULL;
    char **items = calloc(32, sizeof *items);
    *n = 0;
    for (char *t = strtok_r(copy, ",", &save); t && *n < 32; t = strtok_r(NULL, ",", &save))
        items[(*n)++] = strdup(t);
    free(copy);
    return items;
}

/* forced: NAME=VALUE pairs applied after the file and --set (values may hold commas). */
static int load_pipeline(pipeline *p, const char *path, const char *overrides,
                         const char *const *forced, int n_forced, tr_err *err) {
    size_t len;
    char *text = tr_read_file(path, &len, err);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return tr_fail(err, "%s: not valid JSON", path);
    int rc = 0;
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(root, "vars");
    const cJSON *v;
    cJSON_ArrayForEach(v, vars) {
        if (!cJSON_IsString(v)) {
            rc = tr_fail(err, "%s: vars.%s must be a string", path, v->string);
            break;
        }
        var_set(p, v->string, v->valuestring, err);
    }
    /* --set a=1,b=2 and the dedicated flags win over the file */
    if (rc == 0 && overrides && *overrides) {
        int n;
        char **kv = split_list(overrides, &n);
        for (int i = 0; i < n && rc == 0; i++) {
            char *eq = strchr(kv[i], '=');
            if (!eq) rc = tr_fail(err, "--set: expected NAME=VALUE, got '%s'", kv[i]);
            else {
                *eq = '\0';
                if (!var_get(p, kv[i]))
                    rc = tr_fail(err, "--set: the pipeline has no variable '%s'", kv[i]);
                else rc = var_set(p, kv[i], eq + 1, err);
            }
        }
        for (int i = 0; i < n; i++) free(kv[i]);
        free(kv);
    }
    for (int i = 0; i < n_forced && rc == 0; i++) {
        const char *eq = strchr(forced[i], '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - forced[i]), forced[i]);
        rc = var_set(p, name, eq + 1, err);
    }
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(root, "stages");
    if (rc == 0 && !cJSON_IsArray(stages)) rc = tr_fail(err, "%s: \"stages\" must be an array", path);
    const cJSON *s;
    if (rc == 0) cJSON_ArrayForEach(s, stages) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(s, "name");
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(s, "run");
        const cJSON *title = cJSON_GetObjectItemCaseSensitive(s, "title");
        if (!cJSON_IsString(name) || !cJSON_IsArray(run)) {
            rc = tr_fail(err, "%s: every stage needs a \"name\" and a \"run\" array", path);
            break;
        }
        if ((rc = add_stage(p, name->valuestring, cJSON_IsString(title) ? title->valuestring : NULL,
                            run, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "resume")), path,
                            err)) != 0)
            break;
    }
    /* evaluation stages: every model x every task */
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "eval");
    if (rc == 0 && cJSON_IsObject(ev)) {
        const cJSON *models = cJSON_GetObjectItemCaseSensitive(ev, "models");
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(ev, "run");
        char *tasks = expand(p, "eval", "${tasks}", err);
        if (!tasks || !cJSON_IsArray(models) || !cJSON_IsArray(run)) {
            free(tasks);
            rc = tr_fail(err, "%s: \"eval\" needs \"models\" and \"run\" arrays", path);
        } else {
            p->tasks = split_list(tasks, &p->n_tasks);
            free(tasks);
            p->models = calloc((size_t)cJSON_GetArraySize(models) + 1, sizeof *p->models);
            const cJSON *m;
            cJSON_ArrayForEach(m, models) p->models[p->n_models++] = strdup(m->valuestring);
            for (int mi = 0; mi < p->n_models && rc == 0; mi++)
                for (int ti = 0; ti < p->n_tasks && rc == 0; ti++) {
                    char name[64], title[160];
                    snprintf(name, sizeof name, "eval/%s-%s", p->models[mi], p->tasks[ti]);
                    snprintf(title, sizeof title, "evaluate %s on %s", p->models[mi], p->tasks[ti]);
                    char model_dir[1200];
                    snprintf(model_dir, sizeof model_dir, "%s/%s", p->root, p->models[mi]);
                    var_set(p, "model", p->models[mi], err);
                    var_set(p, "model_dir", model_dir, err);
                    var_set(p, "task", p->tasks[ti], err);
                    rc = add_stage(p, name, title, run, 0, path, err);
                    p->stages[p->n_stages - 1].eval_model = p->models[mi];
                    p->stages[p->n_stages - 1].eval_task = p->tasks[ti];
                }
        }
    }
    cJSON_Delete(root);
    return rc;
}

static void pipeline_free(pipeline *p) {
    for (int i = 0; i < p->n_vars; i++) {
        free(p->vars[i].name);
        free(p->vars[i].value);
    }
    for (int i = 0; i < p->n_stages; i++)
        for (int a = 0; a < p->stages[i].argc; a++) free(p->stages[i].argv[a]);
    for (int i = 0; i < p->n_models; i++) free(p->models[i]);
    for (int i = 0; i < p->n_tasks; i++) free(p->tasks[i]);
    free(p->models);
    free(p->tasks);
}

static char *command_line(const stage *st) {
    size_t n = 1;
    for (int a = 0; a < st->argc; a++) n += strlen(st->argv[a]) + 1;
    char *s = malloc(n);
    s[0] = '\0';
    for (int a = 0; a < st->argc; a++) {
        strcat(s, st->argv[a]);
        if (a + 1 < st->argc) strcat(s, " ");
    }
    return s;
}

/* 1 if DIR/.done holds exactly this command line. */
static int stage_done(const pipeline *p, const stage *st) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/.done", p->root, st->name);
    size_t len;
    char *text = tr_read_file(path, &len, NULL), *cmd = command_line(st);
    int done = text && strcmp(text, cmd) == 0;
    free(text);
    free(cmd);
    return done;
}

static int mark_done(const pipeline *p, const stage *st, tr_err *err) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/.done", p->root, st->name);
    char *cmd = command_line(st);
    int rc = tr_write_file_atomic(path, cmd, strlen(cmd), err);
    free(cmd);
    return rc;
}

static double json_num(const cJSON *o, const char *k1, const char *k2) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k1);
    const cJSON *b = k2 ? cJSON_GetObjectItemCaseSensitive(a, k2) : a;
    return cJSON_IsNumber(b) ? b->valuedouble : 0.0 / 0.0;
}

/* CPU time (user + system, every thread) of this process so far, in seconds. */
static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0 / 0.0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* DIR/stage.json: {"stage", "wall_seconds", "cpu_seconds"} of the run that finished it (a
 * resumed stage: of its last part only, "resumed": true). */
static int write_stage_time(const pipeline *p, const stage *st, double wall, double cpu,
                            int resumed, tr_err *err) {
    char path[2048], text[512];
    snprintf(path, sizeof path, "%s/%s/stage.json", p->root, st->name);
    int n = snprintf(text, sizeof text,
                     "{\"stage\":\"%s\",\"wall_seconds\":%.3f,\"cpu_seconds\":%.3f,"
                     "\"resumed\":%s}\n",
                     st->name, wall, cpu, resumed ? "true" : "false");
    return tr_write_file_atomic(path, text, (size_t)n, err);
}

/* The "Time per stage" table: every stage's stage.json (wall, CPU, CPU / wall) and totals. */
static void time_table(tr_report *r, const pipeline *p) {
    const char *head[] = {"stage", "wall seconds", "CPU seconds", "CPU / wall"};
    tr_report_heading(r, 2, "Time per stage");
    tr_report_paragraph(r, "Measured by the pipeline around each stage (stage.json in its "
                           "folder): wall time, and the CPU time (user + system, all threads) "
                           "the process spent in it. With T threads on an idle machine "
                           "CPU / wall approaches T; far below T, the machine was shared "
                           "(docs/pipeline.md).");
    tr_report_table_begin(r, NULL, 4, head);
    double tw = 0, tc = 0;
    int any_resumed = 0;
    for (int i = 0; i < p->n_stages; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s/stage.json", p->root, p->stages[i].name);
        size_t len;
        char *text = tr_read_file(path, &len, NULL);
        cJSON *j = text ? cJSON_Parse(text) : NULL;
        free(text);
        double w = json_num(j, "wall_seconds", NULL), c = json_num(j, "cpu_seconds", NULL);
        int resumed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "resumed"));
        cJSON_Delete(j);
        char ws[32] = "n/a", cs[32] = "n/a", ratio[32] = "n/a", name[96];
        if (w == w) {
            snprintf(ws, sizeof ws, "%.1f", w);
            tw += w;
        }
        if (c == c) {
            snprintf(cs, sizeof cs, "%.1f", c);
            tc += c;
        }
        if (w == w && c == c && w > 0) snprintf(ratio, sizeof ratio, "%.2f", c / w);
        any_resumed |= resumed;
        snprintf(name, sizeof name, "%s%s", p->stages[i].name, resumed ? " (resumed part)" : "");
        const char *row[] = {name, ws, cs, ratio};
        tr_report_table_row(r, row);
    }
    char ws[32], cs[32], ratio[32] = "n/a";
    snprintf(ws, sizeof ws, "%.1f", tw);
    snprintf(cs, sizeof cs, "%.1f", tc);
    if (tw > 0) snprintf(ratio, sizeof ratio, "%.2f", tc / tw);
    const char *row[] = {"total", ws, cs, ratio};
    tr_report_table_row(r, row);
    tr_report_table_end(r);
    if (any_resumed)
        tr_report_paragraph(r, "Stages marked as resumed were interrupted: their times cover "
                               "only the part after --resume.");
}

/* ---- the recipe checks: the comparisons the R1 paper makes, with their uncertainty ---- */

static int model_index(const pipeline *p, const char *name) {
    for (int i = 0; i < p->n_models; i++)
        if (strcmp(p->models[i], name) == 0) return i;
    return -1;
}

/* One row "A beats B on pass@1 (task)": both values with their 95% intervals and a verdict:
 * "yes" when A's interval lies above B's, "higher, within the CIs" when A > B but the
 * intervals overlap, "no" otherwise. Returns 1 when A > B. */
static int compare_row(tr_report *r, const pipeline *p, const double *v, const double *lo,
                       const double *hi, int a, int b, int ti) {
    int nt = p->n_tasks;
    size_t ia = (size_t)a * nt + ti, ib = (size_t)b * nt + ti;
    char what[256], got[160], verdict[64];
    snprintf(what, sizeof what, "%s beats %s on pass@1 (%s)", p->models[a], p->models[b],
             p->tasks[ti]);
    if (v[ia] != v[ia] || v[ib] != v[ib]) {
        const char *row[] = {what, "n/a", "n/a"};
        tr_report_table_row(r, row);
        return 0;
    }
    snprintf(got, sizeof got, "%.1f%% [%.1f, %.1f] vs %.1f%% [%.1f, %.1f]: %+.1f points",
             100 * v[ia], 100 * lo[ia], 100 * hi[ia], 100 * v[ib], 100 * lo[ib], 100 * hi[ib],
             100 * (v[ia] - v[ib]));
    snprintf(verdict, sizeof verdict, "%s",
             lo[ia] > hi[ib] ? "yes (CIs apart)"
             : v[ia] > v[ib] ? "higher, within the CIs"
                             : "no");
    const char *row[] = {what, got, verdict};
    tr_report_table_row(r, row);
    return v[ia] > v[ib];
}

/* Least-squares slope of y over x = 1..n and its 95% interval (normal approximation,
 * slope +- 1.96 standard errors). Returns -1 with fewer than 3 points. */
static int slope_ci(const double *y, int64_t n, double *slope, double *half) {
    if (n < 3) return -1;
    double mx = (n + 1) / 2.0, my = 0, sxx = 0, sxy = 0, sse = 0;
    for (int64_t i = 0; i < n; i++) my += y[i];
    my /= n;
    for (int64_t i = 0; i < n; i++) {
        sxx += (i + 1 - mx) * (i + 1 - mx);
        sxy += (i + 1 - mx) * (y[i] - my);
    }
    *slope = sxy / sxx;
    for (int64_t i = 0; i < n; i++) {
        double e = y[i] - my - *slope * (i + 1 - mx);
        sse += e * e;
    }
    *half = 1.96 * sqrt(sse / (n - 2) / sxx);
    return 0;
}

/* The R1-Zero row: the stage's per-step training reward (finite values in order). */
static void reward_row(tr_report *r, const pipeline *p, const char *stage_name) {
    char path[2048], what[160], got[320] = "n/a", verdict[64] = "n/a";
    snprintf(path, sizeof path, "%s/%s/metrics.jsonl", p->root, stage_name);
    snprintf(what, sizeof what, "%s: the reward rises over the RL steps", stage_name);
    tr_metric_log log = {0};
    tr_err ignore;
    if (tr_metric_log_read(&log, path, &ignore) == 0) {
        const double *col = tr_metric_log_column(&log, "reward");
        const double *acc = tr_metric_log_column(&log, "accuracy");
        double *y = col ? malloc((size_t)log.n_rows * 2 * sizeof *y) : NULL;
        double *a = y ? y + log.n_rows : NULL; /* the verifier's accuracy on the same steps */
        int64_t n = 0;
        for (int64_t i = 0; y && i < log.n_rows; i++)
            if (isfinite(col[i])) {
                a[n] = acc ? acc[i] : 0.0 / 0.0;
                y[n++] = col[i];
            }
        double slope, half;
        if (y && slope_ci(y, n, &slope, &half) == 0) {
            int w = n >= 10 ? 5 : (int)(n / 2);
            double first = 0, last = 0, acc0 = 0, acc1 = 0;
            for (int i = 0; i < w; i++) {
                first += y[i] / w;
                last += y[n - w + i] / w;
                acc0 += a[i] / w;
                acc1 += a[n - w + i] / w;
            }
            snprintf(got, sizeof got,
                     "mean of the first %d steps %.3f, of the last %d %.3f; slope %+.4f "
                     "[%+.4f, %+.4f] per step over %lld steps (accuracy of the samples: "
                     "%.3f, then %.3f)",
                     w, first, w, last, slope, slope - half, slope + half, (long long)n, acc0,
                     acc1);
            snprintf(verdict, sizeof verdict, "%s",
                     slope - half > 0 ? "yes (slope CI above 0)"
                     : slope > 0      ? "rises, within the noise"
                                      : "no");
        }
        free(y);
        tr_metric_log_free(&log);
    }
    const char *row[] = {what, got, verdict};
    tr_report_table_row(r, row);
}

/* The comparisons of DeepSeek-R1 this pipeline reproduces, when its models are there:
 * teacher vs base and vs cold start, R1-Zero's reward curve, distilled students vs the
 * RL-only student ("student_rl"; distilled = every other "student_*" model). */
static void recipe_checks(tr_report *r, const pipeline *p, const double *v, const double *lo,
                          const double *hi) {
    int teacher = model_index(p, "teacher"), base = model_index(p, "base"),
        cold = model_index(p, "coldstart"), rl_student = model_index(p, "student_rl");
    int have_r1zero = 0;
    for (int i = 0; i < p->n_stages; i++) have_r1zero |= strcmp(p->stages[i].name, "r1zero") == 0;
    if (teacher < 0 && rl_student < 0 && !have_r1zero) return;
    tr_report_heading(r, 2, "Recipe checks");
    tr_report_paragraph(r, "The comparisons of the DeepSeek-R1 paper, measured on this run: "
                           "pass@1 with 95% confidence intervals (\"CIs apart\": the first "
                           "model's interval lies wholly above the second's), and R1-Zero's "
                           "training reward per step with a least-squares slope and its 95% "
                           "interval.");
    const char *head[] = {"check", "measured", "holds"};
    tr_report_table_begin(r, NULL, 3, head);
    for (int ti = 0; ti < p->n_tasks; ti++) {
        if (teacher >= 0 && base >= 0) compare_row(r, p, v, lo, hi, teacher, base, ti);
        if (teacher >= 0 && cold >= 0) compare_row(r, p, v, lo, hi, teacher, cold, ti);
    }
    if (have_r1zero) reward_row(r, p, "r1zero");
    int any = 0, n_distilled = 0;
    for (int ti = 0; ti < p->n_tasks && rl_student >= 0; ti++)
        for (int m = 0; m < p->n_models; m++)
            if (m != rl_student && strncmp(p->models[m], "student_", 8) == 0) {
                any |= compare_row(r, p, v, lo, hi, m, rl_student, ti);
                n_distilled++;
            }
    tr_report_table_end(r);
    if (n_distilled > 0)
        tr_report_paragraphf(r, "At least one distilled student beats the RL-only student of "
                                "the same size on pass@1: %s.",
                             any ? "yes (see the rows above for whether it exceeds the CIs)"
                                 : "no");
}

/* ---- the report ---- */

static int write_report(const pipeline *p, const char *preset, tr_err *err) {
    tr_report *r = tr_report_new("tinyr1 pipeline: the R1 recipe, then distillation", err);
    if (!r) return -1;
    tr_report_paragraphf(r, "Preset %s, tasks %s, seed %s. Stages run in this order; each "
                            "stage's folder holds its checkpoint, metrics.jsonl and args.json.",
                         preset, var_get(p, "tasks"), var_get(p, "seed") ? var_get(p, "seed") : "-");
    /* the stage graph, as a table */
    const char *sh[] = {"#", "stage", "what", "command"};
    tr_report_heading(r, 2, "Stages");
    tr_report_table_begin(r, NULL, 4, sh);
    for (int i = 0; i < p->n_stages; i++) {
        if (p->stages[i].eval_model) continue;
        char num[16];
        snprintf(num, sizeof num, "%d", i + 1);
        char *cmd = command_line(&p->stages[i]);
        const char *row[] = {num, p->stages[i].name, p->stages[i].title, cmd};
        tr_report_table_row(r, row);
        free(cmd);
    }
    tr_report_table_end(r);

    /* accuracy: models x tasks */
    int nm = p->n_models, nt = p->n_tasks;
    if (nm > 0 && nt > 0) {
        const char *metrics[] = {"greedy", "pass@1", "maj"};
        const char *labels[] = {"greedy", "pass@1", "maj@k"};
        double *val = calloc((size_t)3 * nm * nt, sizeof(double)),
               *lo = calloc((size_t)3 * nm * nt, sizeof(double)),
               *hi = calloc((size_t)3 * nm * nt, sizeof(double));
        char params_col[64] = "";
        for (int i = 0; i < p->n_stages; i++) {
            const stage *st = &p->stages[i];
            if (!st->eval_model) continue;
            int mi = 0, ti = 0;
            while (mi < nm && strcmp(p->models[mi], st->eval_model)) mi++;
            while (ti < nt && strcmp(p->tasks[ti], st->eval_task)) ti++;
            char path[2048];
            snprintf(path, sizeof path, "%s/%s/eval.json", p->root, st->name);
            size_t len;
            char *text = tr_read_file(path, &len, NULL);
            cJSON *j = text ? cJSON_Parse(text) : NULL;
            for (int k = 0; k < 3; k++) {
                size_t idx = ((size_t)k * nm + mi) * nt + ti;
                const char *key = metrics[k];
                char majk[32];
                if (k == 2) {
                    const cJSON *kk = cJSON_GetObjectItemCaseSensitive(j, "k");
                    snprintf(majk, sizeof majk, "maj@%d", cJSON_IsNumber(kk) ? kk->valueint : 1);
                    key = majk;
                }
                val[idx] = json_num(j, key, "value");
                lo[idx] = json_num(j, key, "lo");
                hi[idx] = json_num(j, key, "hi");
            }
            cJSON_Delete(j);
            free(text);
        }
        (void)params_col;
        tr_report_heading(r, 2, "Accuracy on held-out problems");
        tr_report_paragraph(r, "Greedy accuracy, pass@1 (mean over k samples at temperature "
                               "0.6, top-p 0.95, as DeepSeek-R1 reports it) and maj@k (majority "
                               "vote), each with its 95% confidence interval.");
        int ncol = 1 + 3 * nt;
        const char **head = calloc((size_t)ncol, sizeof *head);
        char **heads = calloc((size_t)ncol, sizeof *heads);
        head[0] = "model";
        for (int ti = 0; ti < nt; ti++)
            for (int k = 0; k < 3; k++) {
                heads[1 + ti * 3 + k] = malloc(64);
                snprintf(heads[1 + ti * 3 + k], 64, "%s %s", p->tasks[ti], labels[k]);
                head[1 + ti * 3 + k] = heads[1 + ti * 3 + k];
            }
        tr_report_table_begin(r, NULL, ncol, head);
        for (int mi = 0; mi < nm; mi++) {
            const char **row = calloc((size_t)ncol, sizeof *row);
            char **cells = calloc((size_t)ncol, sizeof *cells);
            row[0] = p->models[mi];
            for (int ti = 0; ti < nt; ti++)
                for (int k = 0; k < 3; k++) {
                    size_t idx = ((size_t)k * nm + mi) * nt + ti;
                    cells[1 + ti * 3 + k] = malloc(64);
                    if (val[idx] != val[idx])
                        snprintf(cells[1 + ti * 3 + k], 64, "n/a");
                    else
                        snprintf(cells[1 + ti * 3 + k], 64, "%.1f%% [%.1f, %.1f]", 100 * val[idx],
                                 100 * lo[idx], 100 * hi[idx]);
                    row[1 + ti * 3 + k] = cells[1 + ti * 3 + k];
                }
            tr_report_table_row(r, row);
            for (int c = 1; c < ncol; c++) free(cells[c]);
            free(cells);
            free(row);
        }
        tr_report_table_end(r);
        recipe_checks(r, p, val + (size_t)nm * nt, lo + (size_t)nm * nt, hi + (size_t)nm * nt);
        /* pass@1 bars: groups = tasks, series = models */
        tr_bar_chart bc = {.title = "pass@1 on held-out problems (95% CI)",
                           .y_label = "pass@1", .groups = (const char *const *)p->tasks,
                           .n_groups = nt, .series_names = (const char *const *)p->models,
                           .n_series = nm, .value = val + (size_t)nm * nt,
                           .lo = lo + (size_t)nm * nt, .hi = hi + (size_t)nm * nt,
                           .y_min = 0, .y_max = 1, .show_values = 1};
        char *svg = NULL;
        if (tr_svg_bar_chart(&bc, &svg, err) == 0)
            tr_report_figure(r, "fig-pass1", svg, "pass@1 of every model on every task");
        free(svg);
        for (int c = 1; c < ncol; c++) free(heads[c]);
        free(heads);
        free(head);
        free(val);
        free(lo);
        free(hi);
    }
    time_table(r, p);
    /* costs and curves of every stage (the report module reads the stage folders) */
    int rc = tr_report_add_run(r, p->root, err);
    if (rc == 0) rc = tr_report_write(r, p->root, err);
    tr_report_free(r);
    return rc;
}

int cmd_pipeline(int argc, char **argv) {
    tr_err err;
    const char *preset = "default", *out = NULL, *tasks = NULL, *set = NULL, *only = NULL;
    int resume = 0, list = 0;
    int64_t seed = -1;
    cli_opt opts[] = {
        {"preset", CLI_STR, &preset, "NAME", "pipeline preset: quick|default (configs/pipeline/NAME.json) or a path to one"},
        {"tasks", CLI_STR, &tasks, "T1,T2", "tasks to train and evaluate on (default: the preset's)"},
        {"out", CLI_STR, &out, "DIR", "pipeline folder (default: runs/PRESET)"},
        {"seed", CLI_INT64, &seed, "S", "random seed of every stage (default: the preset's)"},
        {"set", CLI_STR, &set, "K=V,...", "override preset variables (see --list)"},
        {"resume", CLI_FLAG, &resume, NULL, "skip finished stages, resume the interrupted one"},
        {"only", CLI_STR, &only, "NAME", "run only this stage (its inputs must exist)"},
        {"list", CLI_FLAG, &list, NULL, "print the stages and variables, run nothing"},
        {0},
    };
    const cli_spec spec = {"pipeline",
                           "Run the R1 recipe end to end: tokenizer, base, R1-Zero, cold start, "
                           "reasoning RL, rejection sampling, final RL (the teacher), students "
                           "(sequence-level, logit KD, on-policy KD, RL-only control), "
                           "evaluation and a report.",
                           "", opts, 0, 0,
                           "Interrupt with Ctrl-C at any time and run again with --resume."};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    char path[2048];
    if (strchr(preset, '/') || strstr(preset, ".json"))
        snprintf(path, sizeof path, "%s", preset);
    else {
        const char *dir = getenv("TINYR1_CONFIGS");
        if (dir) snprintf(path, sizeof path, "%s/pipeline/%s.json", dir, preset);
        else snprintf(path, sizeof path, "%s/configs/pipeline/%s.json", TR_SOURCE_DIR, preset);
    }
    pipeline *p = calloc(1, sizeof *p);
    char default_out[256];
    snprintf(default_out, sizeof default_out, "runs/%s", preset);
    snprintf(p->root, sizeof p->root, "%s", out ? out : (strchr(preset, '/') ? "runs/pipeline" : default_out));
    char forced_tasks[512], forced_seed[64];
    const char *forced[2];
    int n_forced = 0;
    if (tasks) {
        snprintf(forced_tasks, sizeof forced_tasks, "tasks=%s", tasks);
        forced[n_forced++] = forced_tasks;
    }
    if (seed >= 0) {
        snprintf(forced_seed, sizeof forced_seed, "seed=%lld", (long long)seed);
        forced[n_forced++] = forced_seed;
    }
    int rc = load_pipeline(p, path, set, forced, n_forced, &err);
    if (rc != 0) {
        pipeline_free(p);
        free(p);
        return cli_error("pipeline", err.msg);
    }
    if (list) {
        printf("pipeline %s -> %s\nvariables:\n", path, p->root);
        for (int i = 0; i < p->n_vars; i++) printf("  %s = %s\n", p->vars[i].name, p->vars[i].value);
        printf("stages:\n");
        for (int i = 0; i < p->n_stages; i++) {
            char *cmd = command_line(&p->stages[i]);
            printf("  %2d %-24s %s\n", i + 1, p->stages[i].name, cmd);
            free(cmd);
        }
        pipeline_free(p);
        free(p);
        return 0;
    }
    if (tr_mkdirs(p->root, &err) != 0) {
        pipeline_free(p);
        free(p);
        return cli_error("pipeline", err.msg);
    }
    volatile sig_atomic_t *stop = cli_install_stop_handler();
    double t0 = tr_now();
    int status = 0;
    for (int i = 0; i < p->n_stages && status == 0; i++) {
        stage *st = &p->stages[i];
        if (only && strcmp(only, st->name) != 0) continue;
        if (resume && stage_done(p, st)) {
            fprintf(stderr, "[pipeline %d/%d] %s: done earlier, skipped\n", i + 1, p->n_stages, st->name);
            continue;
        }
        char dir[2048];
        snprintf(dir, sizeof dir, "%s/%s", p->root, st->name);
        if (tr_mkdirs(dir, &err) != 0) {
            status = cli_error("pipeline", err.msg);
            break;
        }
        char elapsed[32];
        tr_format_duration(elapsed, sizeof elapsed, tr_now() - t0);
        fprintf(stderr, "\n[pipeline %d/%d] %s: %s (pipeline time %s)\n", i + 1, p->n_stages,
                st->name, st->title, elapsed);
        char *argv2[MAX_ARGS];
        int argc2 = 0;
        for (int a = 1; a < st->argc; a++) argv2[argc2++] = st->argv[a];
        if (resume && st->resumable) argv2[argc2++] = "--resume";
        argv2[argc2] = NULL;
        double w0 = tr_now(), c0 = cpu_seconds();
        char ckpt[2100];
        struct stat ck;
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", dir);
        int resumed = resume && st->resumable && stat(ckpt, &ck) == 0;
        int code = cli_run_command(argc2, argv2);
        if (code == 130 || *stop) {
            fprintf(stderr, "[pipeline] interrupted in stage %s; run again with --resume to "
                            "continue\n", st->name);
            status = 130;
        } else if (code != 0) {
            fprintf(stderr, "[pipeline] stage %s failed (exit %d); fix the cause and run again "
                            "with --resume\n", st->name, code);
            status = 1;
        } else if (write_stage_time(p, st, tr_now() - w0, cpu_seconds() - c0, resumed, &err) !=
                       0 ||
                   mark_done(p, st, &err) != 0) {
            status = cli_error("pipeline", err.msg);
        }
    }
    if (status == 0 && !only) {
        if (write_report(p, preset, &err) != 0) status = cli_error("pipeline", err.msg);
        else {
            char elapsed[32];
            tr_format_duration(elapsed, sizeof elapsed, tr_now() - t0);
            fprintf(stderr, "\n[pipeline] finished in %s; report: %s/report.html (and report.md)\n",
                    elapsed, p->root);
        }
    }
    pipeline_free(p);
    free(p);
    return status;
}
