/* The run report: reads what training commands wrote (metrics.jsonl, cost.json, args.json) in
 * a run folder and its stage subfolders, and adds charts and tables to a tr_report. */
#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "tinyr1/report.h"

/* ---- metrics.jsonl as columns -------------------------------------------------------------- */

void tr_metric_log_free(tr_metric_log *log) {
    for (int f = 0; f < log->n_fields; f++) {
        free(log->names[f]);
        free(log->values[f]);
    }
    free(log->names);
    free(log->values);
    free(log->other_stage);
    memset(log, 0, sizeof *log);
}

/* The distinct "stage" strings seen while parsing (a log holds one or two: "grpo" and
 * "grpo_eval"); rows keep an index into them in log->other_stage until the parse ends. */
#define MAX_STAGES 8

typedef struct log_builder {
    tr_metric_log *log;
    int64_t cap_rows;
    int cap_fields;
    char stages[MAX_STAGES][64];
    int64_t stage_rows[MAX_STAGES + 1]; /* [MAX_STAGES]: rows of any further stage */
    int n_stages;
} log_builder;

static int field_index(const tr_metric_log *log, const char *name) {
    for (int f = 0; f < log->n_fields; f++)
        if (strcmp(log->names[f], name) == 0) return f;
    return -1;
}

/* Stores value in the current row (log->n_rows - 1), adding the column if new. */
static int put_value(log_builder *lb, const char *name, double v) {
    tr_metric_log *log = lb->log;
    int f = field_index(log, name);
    if (f < 0) {
        if (log->n_fields == lb->cap_fields) {
            int cap = lb->cap_fields ? 2 * lb->cap_fields : 16;
            char **nn = realloc(log->names, (size_t)cap * sizeof *nn);
            if (!nn) return -1;
            log->names = nn;
            double **nv = realloc(log->values, (size_t)cap * sizeof *nv);
            if (!nv) return -1;
            log->values = nv;
            lb->cap_fields = cap;
        }
        size_t len = strlen(name);
        char *copy = malloc(len + 1);
        double *col = malloc((size_t)lb->cap_rows * sizeof *col);
        if (!copy || !col) {
            free(copy);
            free(col);
            return -1;
        }
        memcpy(copy, name, len + 1);
        for (int64_t i = 0; i < lb->cap_rows; i++) col[i] = NAN;
        f = log->n_fields++;
        log->names[f] = copy;
        log->values[f] = col;
    }
    log->values[f][log->n_rows - 1] = v;
    return 0;
}

static int add_object(log_builder *lb, const cJSON *obj, const char *prefix) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!it->string) continue;
        char name[256];
        if (snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", it->string) >=
            (int)sizeof name)
            continue;
        if (cJSON_IsNumber(it)) {
            if (put_value(lb, name, it->valuedouble) != 0) return -1;
        } else if (cJSON_IsBool(it)) {
            if (put_value(lb, name, cJSON_IsTrue(it) ? 1 : 0) != 0) return -1;
        } else if (cJSON_IsObject(it)) {
            if (add_object(lb, it, name) != 0) return -1;
        } else if (cJSON_IsString(it) && !*prefix && strcmp(it->string, "stage") == 0) {
            int s = 0;
            while (s < lb->n_stages && strncmp(lb->stages[s], it->valuestring, 63) != 0) s++;
            if (s == lb->n_stages && s < MAX_STAGES)
                snprintf(lb->stages[lb->n_stages++], sizeof lb->stages[0], "%s", it->valuestring);
            lb->stage_rows[s]++;
            lb->log->other_stage[lb->log->n_rows - 1] = (unsigned char)(s + 1);
        }
    }
    return 0;
}

static int new_row(log_builder *lb) {
    tr_metric_log *log = lb->log;
    if (log->n_rows == lb->cap_rows) {
        int64_t cap = lb->cap_rows ? 2 * lb->cap_rows : 256;
        for (int f = 0; f < log->n_fields; f++) {
            double *col = realloc(log->values[f], (size_t)cap * sizeof *col);
            if (!col) return -1;
            for (int64_t i = lb->cap_rows; i < cap; i++) col[i] = NAN;
            log->values[f] = col;
        }
        unsigned char *other = realloc(log->other_stage, (size_t)cap);
        if (!other) return -1;
        memset(other + lb->cap_rows, 0, (size_t)(cap - lb->cap_rows));
        log->other_stage = other;
        lb->cap_rows = cap;
    }
    log->n_rows++;
    return 0;
}

/* C's printf writes non-finite doubles as nan, -nan, inf, -inf: not JSON. Outside strings,
 * such a bare word (also NaN, Infinity) becomes null, so a diverged run still parses; dst
 * has room for 2 n + 1 bytes. */
static void nonfinite_to_null(char *dst, const char *src, size_t n) {
    static const char *const words[] = {"-infinity", "infinity", "-nan", "nan", "-inf", "inf"};
    int in_str = 0;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        char ch = src[i];
        if (in_str) {
            dst[k++] = ch;
            if (ch == '\\' && i + 1 < n)
                dst[k++] = src[++i];
            else if (ch == '"')
                in_str = 0;
            i++;
            continue;
        }
        if (ch == '"') {
            in_str = 1;
            dst[k++] = src[i++];
            continue;
        }
        int replaced = 0;
        if ((i == 0 || strchr(":[, \t", src[i - 1])) && strchr("-nNiI", ch)) {
            for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
                size_t len = strlen(words[w]);
                if (i + len > n || strncasecmp(src + i, words[w], len) != 0) continue;
                char after = i + len < n ? src[i + len] : ',';
                if (isalnum((unsigned char)after) || after == '_') continue;
                memcpy(dst + k, "null", 4);
                k += 4;
                i += len;
                replaced = 1;
                break;
            }
        }
        if (!replaced) dst[k++] = src[i++];
    }
    dst[k] = '\0';
}

int tr_metric_log_parse(tr_metric_log *log, const char *text, const char *name, tr_err *err) {
    memset(log, 0, sizeof *log);
    log_builder lb = {.log = log};
    int64_t line_no = 0;
    char *buf = NULL;
    size_t buf_cap = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        line_no++;
        const char *next = line + n + (nl ? 1 : 0);
        size_t a = 0;
        while (a < n && (line[a] == ' ' || line[a] == '\t' || line[a] == '\r')) a++;
        if (a == n) {
            line = next;
            continue;
        }
        if (2 * n + 1 > buf_cap) {
            char *nb = realloc(buf, 2 * n + 1);
            if (!nb) goto oom;
            buf = nb;
            buf_cap = 2 * n + 1;
        }
        nonfinite_to_null(buf, line, n);
        cJSON *j = cJSON_Parse(buf);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            if (!nl) { /* the last line, cut short by a killed run */
                log->dropped_tail = 1;
                break;
            }
            free(buf);
            tr_metric_log_free(log);
            return tr_fail(err, "%s:%lld: not a JSON object", name, (long long)line_no);
        }
        int rc = new_row(&lb) == 0 ? add_object(&lb, j, "") : -1;
        cJSON_Delete(j);
        if (rc != 0) goto oom;
        line = next;
    }
    free(buf);
    /* the log's stage is the one most of its rows belong to (a GRPO log starts with an
     * evaluation line); rows of any other stage are marked */
    int main_stage = 0;
    for (int s = 1; s < lb.n_stages; s++)
        if (lb.stage_rows[s] > lb.stage_rows[main_stage]) main_stage = s;
    if (lb.n_stages > 0) snprintf(log->stage, sizeof log->stage, "%s", lb.stages[main_stage]);
    for (int64_t i = 0; i < log->n_rows; i++)
        log->other_stage[i] = log->other_stage[i] != 0 && log->other_stage[i] != main_stage + 1;
    return 0;
oom:
    free(buf);
    tr_metric_log_free(log);
    return tr_fail(err, "%s: out of memory", name);
}

int tr_metric_log_read(tr_metric_log *log, const char *path, tr_err *err) {
    memset(log, 0, sizeof *log);
    char *text = tr_read_file(path, NULL, err);
    if (!text) return -1;
    int rc = tr_metric_log_parse(log, text, path, err);
    free(text);
    return rc;
}

const double *tr_metric_log_column(const tr_metric_log *log, const char *name) {
    int f = field_index(log, name);
    return f < 0 ? NULL : log->values[f];
}

int64_t tr_metric_log_count(const tr_metric_log *log, const char *name) {
    const double *c = tr_metric_log_column(log, name);
    int64_t n = 0;
    for (int64_t i = 0; c && i < log->n_rows; i++)
        if (isfinite(c[i])) n++;
    return n;
}

double tr_metric_log_last(const tr_metric_log *log, const char *name) {
    const double *c = tr_metric_log_column(log, name);
    for (int64_t i = c ? log->n_rows - 1 : -1; i >= 0; i--)
        if (isfinite(c[i])) return c[i];
    return NAN;
}

/* ---- stages of a run ------------------------------------------------------------------------ */

static int file_mtime(const char *dir, const char *file, double *mtime) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    double t = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
    if (t > *mtime) *mtime = t;
    return 1;
}

/* Fills s for dir; returns 1 when dir is a stage (metrics.jsonl or cost.json). */
static int probe_stage(tr_run_stage *s, const char *dir, const char *name) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->has_metrics = file_mtime(dir, "metrics.jsonl", &s->mtime);
    s->has_cost = file_mtime(dir, "cost.json", &s->mtime);
    s->has_args = file_mtime(dir, "args.json", &s->mtime);
    return s->has_metrics || s->has_cost;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

typedef struct stage_list {
    tr_run_stage *v;
    int n, cap;
} stage_list;

static int list_push(stage_list *l, const tr_run_stage *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        tr_run_stage *nv = realloc(l->v, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = *s;
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the subfolders of dir (hidden ones skipped). */
static int subdirs(const char *dir, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!is_dir(path)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(*names, (size_t)cap * sizeof *nn);
            if (!nn) break;
            *names = nn;
        }
        size_t len = strlen(e->d_name);
        char *copy = malloc(len + 1);
        if (!copy) break;
        memcpy(copy, e->d_name, len + 1);
        (*names)[(*n)++] = copy;
    }
    closedir(d);
    if (*n > 1) qsort(*names, (size_t)*n, sizeof **names, cmp_name);
    return 0;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int scan(stage_list *l, const char *dir, const char *rel, int depth) {
    char **names;
    int n;
    subdirs(dir, &names, &n);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char sub[4096], subrel[256];
        if (snprintf(sub, sizeof sub, "%s/%s", dir, names[i]) >= (int)sizeof sub) continue;
        if (snprintf(subrel, sizeof subrel, "%s%s%s", rel, *rel ? "/" : "", names[i]) >=
            (int)sizeof subrel)
            continue;
        tr_run_stage s;
        if (probe_stage(&s, sub, subrel))
            rc = list_push(l, &s);
        else if (depth < 2)
            rc = scan(l, sub, subrel, depth + 1);
    }
    free_names(names, n);
    return rc;
}

static int cmp_stage(const void *pa, const void *pb) {
    const tr_run_stage *a = pa, *b = pb;
    if (!a->name[0] != !b->name[0]) return a->name[0] ? 1 : -1; /* the folder itself first */
    if (a->mtime != b->mtime) return a->mtime < b->mtime ? -1 : 1;
    return strcmp(a->name, b->name);
}

int tr_run_find_stages(const char *run_dir, tr_run_stage **stages, int *n, tr_err *err) {
    *stages = NULL;
    *n = 0;
    if (!is_dir(run_dir)) return tr_fail(err, "%s: not a directory", run_dir);
    stage_list l = {0};
    tr_run_stage self;
    int rc = 0;
    if (probe_stage(&self, run_dir, "")) rc = list_push(&l, &self);
    if (rc == 0) rc = scan(&l, run_dir, "", 1);
    if (rc != 0) {
        free(l.v);
        return tr_fail(err, "%s: out of memory listing the stages", run_dir);
    }
    if (l.n > 1) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_stage);
    *stages = l.v;
    *n = l.n;
    return 0;
}

/* ---- charts of one metric log --------------------------------------------------------------- */

typedef struct chart_spec {
    const char *key, *title, *y_label;
    const char *fields[3];
    int smooth, log_y;
} chart_spec;

static const chart_spec chart_specs[] = {
    {"loss", "Loss", "loss", {"loss"}, 1, 0},
    {"reward", "Reward", "mean reward", {"reward"}, 1, 0},
    {"accuracy", "Accuracy", "accuracy", {"accuracy"}, 1, 0},
    {"response-len", "Response length", "tokens", {"response_len"}, 1, 0},
    {"kl", "KL to the reference", "KL", {"kl"}, 1, 0},
    {"entropy", "Entropy", "nats", {"entropy"}, 1, 0},
    {"fractions",
     "Clipped / zero-variance fractions",
     "fraction",
     {"clip_frac", "zero_var_frac"},
     1,
     0},
    {"lr", "Learning rate", "lr", {"lr"}, 0, 0},
    {"grad-norm", "Gradient norm", "norm (log)", {"grad_norm"}, 1, 1},
    {"throughput", "Throughput", "tokens/s", {"tok_s"}, 1, 0},
    {"mfu", "MFU", "fraction of peak", {"mfu"}, 1, 0},
};

/* Fields that are not objective parts: known columns drawn above, or bookkeeping. */
static int known_field(const char *name) {
    static const char *const known[] = {
        "step",         "loss",         "lr",      "grad_norm",   "tokens",      "trained_tokens",
        "step_seconds", "tok_s",        "elapsed", "flops",       "flops_total", "gflops",
        "mfu",          "mfu_total",    "wall_s",  "peak_rss_mb", "reward",      "reward_std",
        "accuracy",     "response_len", "kl",      "clip_frac",   "entropy",     "zero_var_frac",
        "epoch",        "seed",         "rank",    "world"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i]) == 0) return 1;
    return 0;
}

static int add_chart(tr_report *r, const char *fig_prefix, const char *key, const char *caption,
                     const tr_line_chart *lc, tr_err *err) {
    char *svg = NULL;
    if (tr_svg_line_chart(lc, &svg, err) != 0) return -1;
    char name[128];
    snprintf(name, sizeof name, "%s-%s", fig_prefix, key);
    int rc = tr_report_figure(r, name, svg, caption);
    free(svg);
    if (rc != 0) return tr_fail(err, "figure %s: could not be added", name);
    return 0;
}

/* Points a chart draws of column y: finite values on rows with a finite x. */
static int64_t plotted(const double *xs, const double *y, int64_t n) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) count += isfinite(xs[i]) && isfinite(y[i]);
    return count;
}

int tr_report_metric_charts(tr_report *r, const char *fig_prefix, const char *label,
                            const tr_metric_log *log, tr_err *err) {
    const double *step = tr_metric_log_column(log, "step");
    if (step && tr_metric_log_count(log, "step") == 0) step = NULL;
    const char *x_label = step ? "step" : "line";
    /* x of each row: its step (or line number); NaN for the rows of another stage (the
     * "grpo_eval" lines of a GRPO log), which the charts skip instead of breaking the line */
    double *xs = malloc((size_t)(log->n_rows > 0 ? log->n_rows : 1) * sizeof *xs);
    if (!xs) return tr_fail(err, "metric charts: out of memory");
    for (int64_t i = 0; i < log->n_rows; i++)
        xs[i] = log->other_stage && log->other_stage[i] ? NAN : step ? step[i] : (double)i;
    char title[256], caption[512];
    int rc = -1;
    for (size_t c = 0; c < sizeof chart_specs / sizeof chart_specs[0]; c++) {
        const chart_spec *cs = &chart_specs[c];
        tr_series series[3];
        int ns = 0;
        int64_t most = 0;
        for (int k = 0; k < 3 && cs->fields[k]; k++) {
            const double *y = tr_metric_log_column(log, cs->fields[k]);
            int64_t cnt = y ? plotted(xs, y, log->n_rows) : 0;
            if (cnt == 0) continue;
            if (cnt > most) most = cnt;
            series[ns++] = (tr_series){cs->fields[k], xs, y, log->n_rows, NULL};
        }
        if (ns == 0) continue;
        /* a log axis drops values <= 0 (a GRPO step whose groups all tied has a gradient
         * norm of 0): with any such value the chart uses a linear axis, so no point is lost */
        int log_y = cs->log_y;
        for (int k = 0; k < ns && log_y; k++)
            for (int64_t i = 0; i < series[k].n; i++)
                if (isfinite(xs[i]) && isfinite(series[k].y[i]) && series[k].y[i] <= 0)
                    log_y = 0;
        snprintf(title, sizeof title, "%s: %s", label, cs->title);
        tr_line_chart lc = {.title = title,
                            .x_label = x_label,
                            .y_label = log_y || !cs->log_y ? cs->y_label : "norm",
                            .series = series,
                            .n_series = ns,
                            .log_y = log_y,
                            .smooth = cs->smooth ? tr_ema_auto_alpha(most) : 0};
        snprintf(caption, sizeof caption, "%s, %s (%lld points%s)", cs->title, label,
                 (long long)most, lc.smooth > 0 ? ", smoothed line over the faint raw one" : "");
        if (add_chart(r, fig_prefix, cs->key, caption, &lc, err) != 0) goto done;
    }
    /* the remaining numeric fields: objective parts ("ce", "kd", "pg", ...) */
    tr_series parts[8];
    int np = 0;
    int64_t most = 0;
    for (int f = 0; f < log->n_fields && np < 8; f++) {
        if (known_field(log->names[f])) continue;
        int64_t cnt = plotted(xs, log->values[f], log->n_rows);
        if (cnt == 0) continue;
        if (cnt > most) most = cnt;
        parts[np++] = (tr_series){log->names[f], xs, log->values[f], log->n_rows, NULL};
    }
    if (np > 0) {
        snprintf(title, sizeof title, "%s: other metrics", label);
        tr_line_chart lc = {.title = title,
                            .x_label = x_label,
                            .y_label = "value",
                            .series = parts,
                            .n_series = np,
                            .smooth = tr_ema_auto_alpha(most),
                            .legend = 1};
        snprintf(caption, sizeof caption, "Other metrics (objective parts), %s", label);
        if (add_chart(r, fig_prefix, "other", caption, &lc, err) != 0) goto done;
    }
    rc = 0;
done:
    free(xs);
    return rc;
}

/* ---- tables --------------------------------------------------------------------------------- */

static void fmt_count(char *buf, size_t cap, double v) {
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else if (fabs(v) >= 1e12)
        snprintf(buf, cap, "%.3gT", v / 1e12);
    else if (fabs(v) >= 1e9)
        snprintf(buf, cap, "%.3gG", v / 1e9);
    else if (fabs(v) >= 1e6)
        snprintf(buf, cap, "%.3gM", v / 1e6);
    else if (fabs(v) >= 1e4)
        snprintf(buf, cap, "%.3gk", v / 1e3);
    else
        snprintf(buf, cap, "%.0f", v);
}

static void fmt_num(char *buf, size_t cap, double v) {
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.4g", v);
}

static void fmt_time(char *buf, size_t cap, double s) {
    if (!isfinite(s))
        snprintf(buf, cap, "-");
    else if (s < 60)
        snprintf(buf, cap, "%.1fs", s);
    else
        tr_format_duration(buf, cap, s);
}

static void fmt_bytes(char *buf, size_t cap, double b) {
    if (!(b > 0))
        snprintf(buf, cap, "-");
    else if (b >= 1024.0 * 1024 * 1024)
        snprintf(buf, cap, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else
        snprintf(buf, cap, "%.1f MiB", b / (1024.0 * 1024));
}

int tr_report_cost_table(tr_report *r, const char *const *names, const tr_cost_meter *meters, int n,
                         tr_err *err) {
    static const char *const head[] = {"stage",   "tokens", "FLOPs",      "wall time",
                                       "GFLOP/s", "MFU",    "peak memory"};
    tr_report_table_begin(r, NULL, 7, head);
    double tok = 0, flops = 0, wall = 0, phase_s = 0, peak_s = 0, rss = 0;
    for (int i = 0; i < n; i++) {
        const tr_cost_meter *m = &meters[i];
        tr_phase_stats t = tr_cost_total(m);
        char c[6][48];
        fmt_count(c[0], sizeof c[0], t.tokens);
        snprintf(c[1], sizeof c[1], "%.3g", t.flops);
        fmt_time(c[2], sizeof c[2], m->wall_seconds);
        if (t.seconds > 0)
            snprintf(c[3], sizeof c[3], "%.1f", t.flops / t.seconds / 1e9);
        else
            snprintf(c[3], sizeof c[3], "-");
        double mfu = tr_cost_mfu(m, t.flops, t.seconds);
        if (mfu > 0)
            snprintf(c[4], sizeof c[4], "%.1f%%", 100 * mfu);
        else
            snprintf(c[4], sizeof c[4], "-");
        fmt_bytes(c[5], sizeof c[5], (double)m->peak_rss_bytes);
        const char *row[7] = {names[i], c[0], c[1], c[2], c[3], c[4], c[5]};
        tr_report_table_row(r, row);
        tok += t.tokens;
        flops += t.flops;
        wall += m->wall_seconds;
        phase_s += t.seconds;
        if (m->peak_gflops > 0) peak_s += t.seconds * m->peak_gflops * 1e9;
        if ((double)m->peak_rss_bytes > rss) rss = (double)m->peak_rss_bytes;
    }
    if (n > 1) {
        char c[6][48];
        fmt_count(c[0], sizeof c[0], tok);
        snprintf(c[1], sizeof c[1], "%.3g", flops);
        fmt_time(c[2], sizeof c[2], wall);
        if (phase_s > 0)
            snprintf(c[3], sizeof c[3], "%.1f", flops / phase_s / 1e9);
        else
            snprintf(c[3], sizeof c[3], "-");
        if (peak_s > 0)
            snprintf(c[4], sizeof c[4], "%.1f%%", 100 * flops / peak_s);
        else
            snprintf(c[4], sizeof c[4], "-");
        fmt_bytes(c[5], sizeof c[5], rss);
        const char *row[7] = {"total", c[0], c[1], c[2], c[3], c[4], c[5]};
        tr_report_table_row(r, row);
    }
    if (tr_report_table_end(r) != 0) return tr_fail(err, "cost table: could not be added");
    return 0;
}

/* Adds one row per leaf of a JSON value, with dotted names. */
static void args_rows(tr_report *r, const cJSON *v, const char *prefix) {
    if (cJSON_IsObject(v)) {
        for (const cJSON *it = v->child; it; it = it->next) {
            char name[512];
            snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", it->string);
            args_rows(r, it, name);
        }
        return;
    }
    char buf[256];
    char *owned = NULL;
    const char *text = buf;
    if (cJSON_IsString(v))
        text = v->valuestring;
    else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        /* options stored as float print as the float they were (0.003, not 0.003000000026) */
        if (d == floor(d) && fabs(d) < 1e15)
            snprintf(buf, sizeof buf, "%.0f", d);
        else if ((double)(float)d == d)
            snprintf(buf, sizeof buf, "%.7g", d);
        else
            snprintf(buf, sizeof buf, "%.15g", d);
    } else if (cJSON_IsBool(v))
        text = cJSON_IsTrue(v) ? "true" : "false";
    else if (cJSON_IsNull(v))
        text = "null";
    else
        text = owned = cJSON_PrintUnformatted(v);
    const char *row[2] = {prefix, text ? text : ""};
    tr_report_table_row(r, row);
    free(owned);
}

int tr_report_args_table(tr_report *r, const char *args_json_path, tr_err *err) {
    char *text = tr_read_file(args_json_path, NULL, err);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tr_fail(err, "%s: not a JSON object", args_json_path);
    }
    static const char *const head[] = {"argument", "value"};
    tr_report_table_begin(r, NULL, 2, head);
    args_rows(r, root, "");
    cJSON_Delete(root);
    if (tr_report_table_end(r) != 0) return tr_fail(err, "%s: table not added", args_json_path);
    return 0;
}

/* ---- the whole run ----------------------------------------------------------------------------
 */

/* The last component of path, without trailing slashes ("runs/x/" -> "x"). */
static void base_name(char *buf, size_t cap, const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    if (n == 0)
        snprintf(buf, cap, ".");
    else
        snprintf(buf, cap, "%.*s", (int)(n - s), path + s);
}

/* "students/kd" -> "students-kd" (figure names allow [A-Za-z0-9._-]) */
static void fig_prefix_of(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "fig-%s", *name ? name : "run");
    for (char *p = buf; *p; p++)
        if (!(p[0] >= 'a' && p[0] <= 'z') && !(p[0] >= 'A' && p[0] <= 'Z') &&
            !(p[0] >= '0' && p[0] <= '9') && !strchr("._-", *p))
            *p = '-';
}

static char *args_command(const char *dir) {
    char path[4400];
    snprintf(path, sizeof path, "%s/args.json", dir);
    tr_err ignore;
    char *text = tr_read_file(path, NULL, &ignore);
    if (!text) return NULL;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "command");
    char *out = NULL;
    if (cJSON_IsString(c)) {
        size_t n = strlen(c->valuestring);
        out = malloc(n + 1);
        if (out) memcpy(out, c->valuestring, n + 1);
    }
    cJSON_Delete(root);
    return out;
}

int tr_report_add_run(tr_report *r, const char *run_dir, tr_err *err) {
    tr_run_stage *st = NULL;
    int n = 0;
    if (tr_run_find_stages(run_dir, &st, &n, err) != 0) return -1;
    if (n == 0) {
        free(st);
        return tr_fail(err,
                       "%s: no metrics.jsonl or cost.json in it or in its subfolders (is it "
                       "a run folder?)",
                       run_dir);
    }
    int rc = -1;
    tr_metric_log *logs = calloc((size_t)n, sizeof *logs);
    tr_cost_meter *meters = calloc((size_t)n, sizeof *meters);
    const char **labels = calloc((size_t)n, sizeof *labels);
    const char **cost_names = calloc((size_t)n, sizeof *cost_names);
    if (!logs || !meters || !labels || !cost_names) {
        tr_fail(err, "%s: out of memory", run_dir);
        goto done;
    }
    char self_name[256];
    base_name(self_name, sizeof self_name, run_dir);
    for (int i = 0; i < n; i++) {
        labels[i] = st[i].name[0] ? st[i].name : self_name;
        char path[4400];
        if (st[i].has_metrics) {
            snprintf(path, sizeof path, "%s/metrics.jsonl", st[i].dir);
            if (tr_metric_log_read(&logs[i], path, err) != 0) goto done;
        }
    }
    int n_cost = 0;
    for (int i = 0; i < n; i++) {
        if (!st[i].has_cost) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/cost.json", st[i].dir);
        if (tr_cost_meter_read(&meters[n_cost], path, err) != 0) goto done;
        cost_names[n_cost++] = labels[i];
    }

    tr_report_paragraphf(r, "Run folder: %s. %d stage%s, in the order they ran.", run_dir, n,
                         n == 1 ? "" : "s");

    /* summary: one row per stage; reward/accuracy columns only when some stage has them */
    int any_reward = 0, any_acc = 0;
    for (int i = 0; i < n; i++) {
        any_reward |= tr_metric_log_count(&logs[i], "reward") > 0;
        any_acc |= tr_metric_log_count(&logs[i], "accuracy") > 0;
    }
    const char *head[8] = {"stage", "command", "steps", "tokens", "final loss"};
    int nc = 5;
    if (any_reward) head[nc++] = "final reward";
    if (any_acc) head[nc++] = "final accuracy";
    head[nc++] = "time";
    tr_report_heading(r, 2, "Summary");
    tr_report_table_begin(r, NULL, nc, head);
    for (int i = 0; i < n; i++) {
        const tr_metric_log *lg = &logs[i];
        char *cmd = args_command(st[i].dir);
        char c[8][48];
        const char *row[8];
        int k = 0;
        row[k++] = labels[i];
        row[k++] = cmd ? cmd : (lg->stage[0] ? lg->stage : "-");
        double steps = tr_metric_log_last(lg, "step");
        if (!isfinite(steps) && lg->n_rows > 0) steps = (double)lg->n_rows;
        fmt_count(c[0], sizeof c[0], steps);
        row[k++] = c[0];
        fmt_count(c[1], sizeof c[1], tr_metric_log_last(lg, "tokens"));
        row[k++] = c[1];
        fmt_num(c[2], sizeof c[2], tr_metric_log_last(lg, "loss"));
        row[k++] = c[2];
        if (any_reward) {
            fmt_num(c[3], sizeof c[3], tr_metric_log_last(lg, "reward"));
            row[k++] = c[3];
        }
        if (any_acc) {
            fmt_num(c[4], sizeof c[4], tr_metric_log_last(lg, "accuracy"));
            row[k++] = c[4];
        }
        double t = tr_metric_log_last(lg, "elapsed");
        for (int j = 0; j < n_cost; j++)
            if (cost_names[j] == labels[i]) t = meters[j].wall_seconds;
        fmt_time(c[5], sizeof c[5], t);
        row[k++] = c[5];
        tr_report_table_row(r, row);
        free(cmd);
    }
    tr_report_table_end(r);

    tr_report_heading(r, 2, "Cost");
    if (n_cost > 0) {
        tr_report_paragraph(r, "From each stage's cost.json: tokens and FLOPs over all phases "
                               "(train, generate, teacher, eval), wall time including "
                               "everything, MFU against the machine's measured sgemm peak, "
                               "peak resident memory (docs/cost.md).");
        if (tr_report_cost_table(r, cost_names, meters, n_cost, err) != 0) goto done;
    } else {
        tr_report_paragraph(r, "No stage wrote a cost.json.");
    }

    for (int i = 0; i < n; i++) {
        char heading[300], prefix[300];
        snprintf(heading, sizeof heading, "Stage: %s", labels[i]);
        tr_report_heading(r, 2, heading);
        if (st[i].has_metrics) {
            if (logs[i].n_rows == 0) tr_report_paragraph(r, "metrics.jsonl is empty.");
            fig_prefix_of(prefix, sizeof prefix, st[i].name);
            if (tr_report_metric_charts(r, prefix, labels[i], &logs[i], err) != 0) goto done;
            if (logs[i].dropped_tail)
                tr_report_paragraph(r, "The last line of metrics.jsonl was incomplete (the run "
                                       "was stopped while writing it) and is not shown.");
        } else {
            tr_report_paragraph(r, "No metrics.jsonl.");
        }
        if (st[i].has_args) {
            char path[4400];
            snprintf(path, sizeof path, "%s/args.json", st[i].dir);
            tr_report_heading(r, 3, "Arguments");
            if (tr_report_args_table(r, path, err) != 0) goto done;
        }
    }
    rc = 0;
done:
    if (logs)
        for (int i = 0; i < n; i++) tr_metric_log_free(&logs[i]);
    free(logs);
    free(meters);
    free(labels);
    free(cost_names);
    free(st);
    return rc;
}

int tr_report_run(const char *run_dir, const char *out_dir, const char *title, tr_err *err) {
    char buf[4400];
    if (!title) {
        char name[256];
        base_name(name, sizeof name, run_dir);
        snprintf(buf, sizeof buf, "tinyr1 run report: %s", name);
        title = buf;
    }
    tr_report *r = tr_report_new(title, err);
    if (!r) return -1;
    int rc = tr_report_add_run(r, run_dir, err);
    if (rc == 0) rc = tr_report_write(r, out_dir ? out_dir : run_dir, err);
    tr_report_free(r);
    return rc;
}
