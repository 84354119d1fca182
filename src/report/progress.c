#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tinyr1/report.h"

void tr_format_duration(char *buf, size_t cap, double s) {
    if (s < 0 || s != s) s = 0;
    if (s > 1e9) s = 1e9; /* keeps the text short */
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%lds", t);
}

void tr_progress_start(tr_progress *p, const char *label, int64_t total, int64_t start_done) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total > 0 ? total : 1;
    p->done = p->start_done = start_done;
    p->t_start = p->t_last_draw = tr_now();
    p->out = stderr;
    p->is_tty = isatty(fileno(stderr));
    p->every = 10;
}

static void draw(tr_progress *p, const char *fields, int final) {
    double now = tr_now(), elapsed = now - p->t_start;
    int64_t did = p->done - p->start_done;
    double rate = elapsed > 0 ? did / elapsed : 0;
    double eta = rate > 0 ? (p->total - p->done) / rate : 0;
    char el[48], et[48];
    tr_format_duration(el, sizeof el, elapsed);
    tr_format_duration(et, sizeof et, eta);
    int pct = (int)(100 * p->done / p->total);
    if (p->is_tty) {
        char bar[21];
        int filled = (int)(20 * p->done / p->total);
        for (int i = 0; i < 20; i++) bar[i] = i < filled ? '#' : '.';
        bar[20] = '\0';
        fprintf(p->out, "\r\033[K%s [%s] %lld/%lld %d%% | %s%s%s<%s", p->label, bar,
                (long long)p->done, (long long)p->total, pct, fields ? fields : "",
                fields ? " | " : "", el, et);
        if (final) fputc('\n', p->out);
    } else {
        fprintf(p->out, "%s %lld/%lld %d%% | %s%s%s elapsed, %s left\n", p->label,
                (long long)p->done, (long long)p->total, pct, fields ? fields : "",
                fields ? " | " : "", el, et);
    }
    fflush(p->out);
    p->t_last_draw = now;
}

void tr_progress_update(tr_progress *p, int64_t done, const char *fields) {
    p->done = done;
    if (p->quiet) return;
    if (p->is_tty) {
        if (tr_now() - p->t_last_draw >= 0.1) draw(p, fields, 0);
    } else if ((done - p->start_done) % p->every == 0) {
        draw(p, fields, 0);
    }
}

void tr_progress_finish(tr_progress *p, const char *fields) {
    if (!p->quiet) draw(p, fields, 1);
}
