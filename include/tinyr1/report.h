/* tinyr1 — what a run shows and writes: progress bars, metrics.jsonl. */
#ifndef TINYR1_REPORT_H
#define TINYR1_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "tinyr1/base.h"

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

#endif
