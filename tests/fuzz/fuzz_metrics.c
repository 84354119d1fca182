/* Fuzz target: metrics.jsonl text (any bytes) read as columns, then drawn. Whatever parses
 * must be consistent (every column n_rows long, counts <= rows) and every column must draw
 * as a line chart (plain and log y, smoothed) whose paths hold exactly the finite points. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/report.h"

static long path_points(const char *svg, const char *cls) {
    char open[48];
    snprintf(open, sizeof open, "<path class=\"%s\"", cls);
    const char *p = strstr(svg, open);
    if (!p) return -1;
    /* d is the tag's last attribute: the last ' d="' before "/>" (a series name may itself
     * contain ' d=', but never '>' or a quote, which are escaped) */
    const char *close = strstr(p, "/>"), *d = NULL;
    if (!close) abort();
    for (const char *q = p; (q = strstr(q, " d=\"")) != NULL && q < close; q++) d = q;
    const char *end = d ? strchr(d + 4, '"') : NULL;
    if (!end || end > close) abort();
    long n = 0;
    for (const char *q = d + 4; q < end; q++) n += *q == 'M' || *q == 'L';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    tr_metric_log log;
    tr_err err;
    if (tr_metric_log_parse(&log, text, "fuzz", &err) != 0) {
        if (err.msg[0] == '\0' || log.n_rows != 0 || log.n_fields != 0) abort();
        free(text);
        return 0;
    }
    for (int f = 0; f < log.n_fields && f < 4; f++) {
        int64_t count = tr_metric_log_count(&log, log.names[f]);
        if (count > log.n_rows) abort();
        const double *x = tr_metric_log_column(&log, "step");
        for (int log_y = 0; log_y < 2; log_y++) {
            tr_series s = {log.names[f], x, log.values[f], log.n_rows, NULL};
            tr_line_chart c = {.title = log.names[f],
                               .series = &s,
                               .n_series = 1,
                               .log_y = log_y,
                               .smooth = log_y ? 0.5 : 0};
            char *svg = NULL;
            if (tr_svg_line_chart(&c, &svg, &err) != 0) abort();
            int64_t want = 0;
            for (int64_t i = 0; i < log.n_rows; i++) {
                double xv = x ? x[i] : (double)i, yv = log.values[f][i];
                want += isfinite(xv) && isfinite(yv) && (!log_y || yv > 0);
            }
            long got = path_points(svg, want >= 3 && log_y ? "raw" : "line");
            if (got != want) abort();
            free(svg);
        }
    }
    tr_metric_log_free(&log);
    free(text);
    return 0;
}
