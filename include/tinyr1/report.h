/* tinyr1 — what a run shows and writes: progress bars, metrics.jsonl, SVG charts and the
 * Markdown/HTML run report (docs/report.md). */
#ifndef TINYR1_REPORT_H
#define TINYR1_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "tinyr1/base.h"
#include "tinyr1/cost.h"

/* ---- progress bar ---------------------------------------------------------------------
 * On a terminal: one line redrawn in place, "label [#####.....] 120/500 24% | loss 2.31 |
 * 5.1k tok/s | 1m02s<3m15s". Not on a terminal (CI, pipes): a plain line every
 * `every` updates and at the end, so logs stay readable. */
typedef struct tr_progress {
    char label[64];
    int64_t total, done, start_done;
    double t_start, t_last_draw;
    int is_tty, every, quiet;
    FILE *out;
} tr_progress;

/* start_done: work already done before this run (resumed), excluded from the rate. */
void tr_progress_start(tr_progress *p, const char *label, int64_t total, int64_t start_done);
/* Updates to `done` units; `fields` is extra text ("loss 2.31 | 5.1k tok/s") or NULL. */
void tr_progress_update(tr_progress *p, int64_t done, const char *fields);
void tr_progress_finish(tr_progress *p, const char *fields);
/* "1h02m", "3m15s", "12s" */
void tr_format_duration(char *buf, size_t cap, double seconds);

/* ---- metrics.jsonl ---------------------------------------------------------------------
 * One JSON object per line. Opening with resume_step >= 0 keeps the lines whose "step" is
 * <= resume_step and drops the rest (they belong to work lost after the last checkpoint),
 * so a resumed run's file reads as if the run had never stopped. */
typedef struct tr_metrics {
    FILE *f;
    char path[4096];
} tr_metrics;

int tr_metrics_open(tr_metrics *m, const char *path, int64_t resume_step, tr_err *err);
/* Writes one line: a JSON object text (no newline). Flushed at once. */
int tr_metrics_write(tr_metrics *m, const char *json_object, tr_err *err);
void tr_metrics_close(tr_metrics *m);

/* ---- SVG charts --------------------------------------------------------------------------
 * Charts are written by tinyr1 itself (no plotting dependency) as one self-contained <svg>
 * element: a viewBox "0 0 width height", fonts and colours as attributes (no <style>, no
 * external resource), so the same string is inlined in report.html and saved as a .svg file
 * that report.md links. Every finite data point is in the output, none is dropped or
 * resampled, and each drawn series carries the number of points it holds:
 *
 *   line:  <path class="line" data-series="NAME" data-n="N" d="Mx,yLx,yLx,y...">
 *          (class "raw" for the faint unsmoothed copy and "smooth" for the moving average
 *          when smoothing is on; a series of one point adds a <circle class="dot">)
 *   bars:  <g class="series" data-series="NAME" data-n="N"> with one
 *          <rect class="bar" data-group="G" data-value="V"> per finite value and an
 *          <path class="err"> per error bar
 *
 * Non-finite values (NaN, +-inf) are skipped (a gap: the path starts a new "M" there), as
 * are values <= 0 on a log axis. A chart with no drawable point says "no data" in its plot
 * area. Text (title, labels, names) is XML-escaped: &, <, >, " and ' are safe. Size: about
 * 12 bytes per point per drawn line (a smoothed series is drawn twice).
 *
 * Strings returned through `char **out` are malloc'ed; the caller frees them. */

/* Up to `cap` "nice" tick values covering [lo, hi] (Heckbert, Graphics Gems 1990): the step
 * is 1, 2 or 5 x 10^k chosen for about `target` ticks, the first tick is the largest
 * multiple of the step <= lo and the last the smallest >= hi (to within 1e-9 step, so that
 * rounding in lo / step does not add a tick). Examples: [0, 1], 6 -> 0, 0.2, ..., 1;
 * [3, 97], 6 -> 0, 20, ..., 100. lo == hi is widened to lo +- max(1, |lo|/10);
 * lo > hi is swapped; target < 2 counts as 2. Returns the number of ticks written (0 when
 * lo or hi is not finite). Values are rounded to the step's precision. */
int tr_nice_ticks(double lo, double hi, int target, double *ticks, int cap);
/* Ticks of a log10 axis covering [lo, hi] (0 < lo <= hi): every power of ten from
 * 10^floor(log10 lo) to 10^ceil(log10 hi), with 2x and 5x added when that spans <= 2
 * decades, and every 2nd, 3rd... decade when it spans more than `target` decades. Returns the
 * number written (0 for lo <= 0 or non-finite input). */
int tr_log_ticks(double lo, double hi, int target, double *ticks, int cap);
/* The text of a tick on an axis with this step: decimals from the step ("0.2", "20");
 * for steps >= 1000 the largest of k/M/G/T that is <= 10 x step ("50k", "1.5M"); for steps
 * below 0.01 three significant digits, %g style ("2e-5", "0.0002"); "0" for zero.
 * step 0 (log axes) formats v alone: "0.001", "1k", "3G". */
void tr_format_tick(char *buf, size_t cap, double v, double step);
/* XML/HTML escaping of &, <, >, " and ' into a malloc'ed string (NULL on out of memory;
 * s == NULL gives ""). */
char *tr_xml_escape(const char *s);
/* Exponential moving average with bias correction (as TensorBoard's smoothing):
 *   m_t = alpha m_{t-1} + (1 - alpha) y_t,  m_0 = 0,  out_t = m_t / (1 - alpha^k_t)
 * where k_t counts the finite values seen so far; non-finite y_t are skipped (out_t = NaN,
 * the average carries over). alpha in [0, 1): 0 returns y unchanged. out may equal y. */
void tr_ema(double *out, const double *y, int64_t n, double alpha);
/* The smoothing weight the run report uses for n points: 0 below 20 points, else
 * 1 - 1/(1 + n/50) capped at 0.98 (about n/50 points of memory). */
double tr_ema_auto_alpha(int64_t n);

/* One line of a line chart. x == NULL plots y[i] at x = i. */
typedef struct tr_series {
    const char *name; /* legend text (NULL: "series K") */
    const double *x;  /* [n] or NULL */
    const double *y;  /* [n] */
    int64_t n;
    const char *color; /* CSS colour, NULL: the next palette colour */
} tr_series;

/* A line chart. Zero fields take defaults: width 640, height 360 (viewBox units). */
typedef struct tr_line_chart {
    const char *title, *x_label, *y_label; /* each may be NULL */
    const tr_series *series;
    int n_series;
    int log_y;     /* 1: log10 y axis (values <= 0 skipped) */
    double smooth; /* EMA alpha in [0, 1) (tr_ema): > 0 draws each series faint (opacity 0.25)
                      and its moving average over it; series under 3 points are not smoothed */
    int width, height;
    int legend; /* 0: a legend when there are 2 or more series; 1: always; -1: never */
} tr_line_chart;

int tr_svg_line_chart(const tr_line_chart *c, char **out, tr_err *err);

/* Grouped bars: one group per category along x (tasks, say), one bar per series in each
 * group (models), coloured by series with a legend. Arrays are [n_series][n_groups],
 * row-major: value[s * n_groups + g]. A NaN value leaves the slot empty ("n/a"). lo/hi
 * (NULL: none) give error-bar ends, e.g. a 95% confidence interval; a NaN end draws none.
 * The y axis covers 0, every value and every bar end, unless y_min < y_max fixes it. */
typedef struct tr_bar_chart {
    const char *title, *y_label;
    const char *const *groups; /* [n_groups] category labels */
    int n_groups;
    const char *const *series_names; /* [n_series] */
    int n_series;
    const double *value, *lo, *hi;
    double y_min, y_max;
    int show_values; /* 1: print each value above its bar when there is room */
    int width, height;
} tr_bar_chart;

int tr_svg_bar_chart(const tr_bar_chart *c, char **out, tr_err *err);

/* ---- reports: Markdown and HTML from the same calls ---------------------------------------
 * A report is a list of blocks (headings, paragraphs, tables, figures, preformatted text)
 * rendered twice at the end: report.md (GitHub-flavoured Markdown; figures as links to .svg
 * files written beside it) and report.html (one self-contained file: inline CSS, SVGs
 * inlined, no script, no external resource). Text given to the builder is plain text and is
 * escaped for each format. Every call copies what it is given.
 *
 *   tr_report *r = tr_report_new("My run", &err);
 *   tr_report_heading(r, 2, "Loss");
 *   tr_report_paragraph(r, "Loss of the base model.");
 *   const char *head[] = {"stage", "loss"}, *row[] = {"base", "2.31"};
 *   tr_report_table_begin(r, NULL, 2, head);
 *   tr_report_table_row(r, row);
 *   tr_report_table_end(r);
 *   tr_report_figure(r, "fig-loss", svg, "Training loss");
 *   tr_report_write(r, "runs/x", &err);     // runs/x/report.md, report.html, fig-loss.svg
 *   tr_report_free(r);
 *
 * Builder calls return 0, or -1 on out of memory or misuse (an error is kept and returned
 * again by tr_report_write, so a chain of calls may be checked once at the end). */
typedef struct tr_report tr_report;

tr_report *tr_report_new(const char *title, tr_err *err);
void tr_report_free(tr_report *r);
/* level 2 (section) to 4. */
int tr_report_heading(tr_report *r, int level, const char *text);
int tr_report_paragraph(tr_report *r, const char *text);
int tr_report_paragraphf(tr_report *r, const char *fmt, ...) TR_PRINTF(2, 3);
/* Preformatted text (a fenced code block / <pre>). */
int tr_report_code(tr_report *r, const char *text);
/* A table of n_cols columns; caption may be NULL. Rows are added with tr_report_table_row
 * (n_cols cells, a NULL cell is empty) until tr_report_table_end. A column is right-aligned
 * when every non-empty body cell starts with a number ("61.5%", "1.2M", "10m02s"). */
int tr_report_table_begin(tr_report *r, const char *caption, int n_cols,
                          const char *const *headers);
int tr_report_table_row(tr_report *r, const char *const *cells);
int tr_report_table_end(tr_report *r);
/* A figure: `svg` (as made above) is inlined in HTML and written to DIR/<name>.svg for the
 * Markdown. name: 1-100 characters of [A-Za-z0-9._-], unique within the report (without the
 * .svg extension). Consecutive figures form a grid in HTML. */
int tr_report_figure(tr_report *r, const char *name, const char *svg, const char *caption);
/* The two renderings (malloc'ed). */
int tr_report_markdown(const tr_report *r, char **out, tr_err *err);
int tr_report_html(const tr_report *r, char **out, tr_err *err);
/* Creates dir if needed and writes, each atomically (tr_write_file_atomic): the figures'
 * .svg files, then report.md, then report.html. */
int tr_report_write(const tr_report *r, const char *dir, tr_err *err);

/* ---- reading what a run wrote ------------------------------------------------------------- */

/* metrics.jsonl as columns: every numeric field becomes a column of n_rows doubles (NaN in
 * the rows that lack it), in order of first appearance; nested objects are flattened with
 * dots ("accuracy": {"lo": ...} -> "accuracy.lo"); booleans are 0/1; strings and arrays are
 * skipped, except that the first "stage" string is kept. Blank lines are skipped. The bare
 * words nan, -nan, inf, -inf, NaN, Infinity (what printf writes for a diverged loss; not
 * JSON) are read as null, i.e. a gap. A line that is not a JSON object fails with
 * "PATH:LINE", except a last line without a newline (a run killed mid-write), which is
 * dropped and counted in `dropped_tail`. */
typedef struct tr_metric_log {
    int64_t n_rows;
    int n_fields;
    char **names;    /* [n_fields] */
    double **values; /* [n_fields][n_rows] */
    char stage[64];  /* the "stage" most rows have ("" when none has one) */
    unsigned char *other_stage; /* [n_rows]: 1 when the row's "stage" is another one (a GRPO
                                   log's "grpo_eval" lines among its "grpo" steps) */
    int dropped_tail;
} tr_metric_log;

int tr_metric_log_read(tr_metric_log *log, const char *path, tr_err *err);
int tr_metric_log_parse(tr_metric_log *log, const char *text, const char *name, tr_err *err);
/* The column of a field, or NULL when absent. */
const double *tr_metric_log_column(const tr_metric_log *log, const char *name);
/* Finite values in a column (0 when absent). */
int64_t tr_metric_log_count(const tr_metric_log *log, const char *name);
/* The last finite value of a column, or NaN. */
double tr_metric_log_last(const tr_metric_log *log, const char *name);
void tr_metric_log_free(tr_metric_log *log);

/* A stage of a run: the run folder itself, or a subfolder that holds metrics.jsonl or
 * cost.json. Subfolders are searched two levels deep (RUN/students/kd) but not below a
 * folder that is itself a stage. */
typedef struct tr_run_stage {
    char name[256]; /* path relative to the run folder ("teacher", "students/kd"), "" = itself */
    char dir[4096];
    int has_metrics, has_cost, has_args;
    double mtime; /* latest modification time of the three files (seconds) */
} tr_run_stage;

/* Lists the stages of run_dir in the order they ran: by the modification time of their
 * newest file (a stage is finished before the next starts), ties by name; the folder itself
 * first when it is a stage. *stages is malloc'ed (free()); *n may be 0. */
int tr_run_find_stages(const char *run_dir, tr_run_stage **stages, int *n, tr_err *err);

/* ---- the run report: reusable pieces ------------------------------------------------------
 * These add blocks to a report; the pipeline adds its own tables and bar charts around them.
 * fig_prefix names the figure files (fig_prefix + "-loss" ...); label names the stage in
 * captions. */

/* The charts for one metric log, each only when the log has the fields: loss, reward,
 * accuracy, response_len, kl, entropy, clip_frac + zero_var_frac, lr, grad_norm (log y),
 * tok_s, mfu, and one chart of the remaining numeric fields (objective parts such as "ce",
 * "kd"). x is "step" when present. Noisy curves are smoothed (tr_ema_auto_alpha). */
int tr_report_metric_charts(tr_report *r, const char *fig_prefix, const char *label,
                            const tr_metric_log *log, tr_err *err);
/* The cost table (stage, tokens, FLOPs, wall time, GFLOP/s, MFU, peak memory) of n meters
 * (read with tr_cost_meter_read), with a total row when n > 1 (MFU over all: sum of FLOPs /
 * sum over stages of phase seconds x peak; peak memory: the largest). */
int tr_report_cost_table(tr_report *r, const char *const *names, const tr_cost_meter *meters, int n,
                         tr_err *err);
/* args.json as a two-column table (field, value), nested objects flattened with dots. */
int tr_report_args_table(tr_report *r, const char *args_json_path, tr_err *err);
/* Everything for a run folder: a summary table of the stages, the cost table, and per stage
 * its charts and arguments. Fails when run_dir has no stage. */
int tr_report_add_run(tr_report *r, const char *run_dir, tr_err *err);
/* tr_report_new + tr_report_add_run + tr_report_write(out_dir or run_dir). title NULL:
 * "tinyr1 run report: <last component of run_dir>". */
int tr_report_run(const char *run_dir, const char *out_dir, const char *title, tr_err *err);

#endif
