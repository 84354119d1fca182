/* SVG charts written by hand: line charts (several series, nice ticks, log y, EMA smoothing)
 * and grouped bar charts with error bars. Geometry in viewBox units; text widths are
 * estimated (DejaVu Sans digits are 0.64 em wide), which is enough to keep labels apart. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "tinyr1/report.h"

char *tr_xml_escape(const char *s) {
    tr_sb b = {0};
    tr_sb_put(&b, "");
    tr_sb_put_xml(&b, s);
    return tr_sb_take(&b);
}

/* ---- ticks -------------------------------------------------------------------------------- */

/* Heckbert's nice number: 1, 2, 5 or 10 x 10^k, the nearest (round) or the next above. */
static double nicenum(double x, int round_it) {
    double e = floor(log10(x));
    double f = x / pow(10, e), nf;
    if (round_it)
        nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else
        nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nf * pow(10, e);
}

/* Rounds v to the decimals of step (step < 1), so 3 x 0.2 prints and compares as 0.6. */
static double round_to_step(double v, double step) {
    if (step >= 1 || step <= 0) return v;
    int d = (int)ceil(-log10(step) - 1e-9);
    if (d > 15) return v;
    double s = pow(10, d);
    return round(v * s) / s;
}

int tr_nice_ticks(double lo, double hi, int target, double *ticks, int cap) {
    if (!isfinite(lo) || !isfinite(hi) || cap <= 0) return 0;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (lo == hi) {
        double d = fabs(lo) / 10 > 1 ? fabs(lo) / 10 : 1;
        lo -= d;
        hi += d;
    }
    if (target < 2) target = 2;
    double range = nicenum(hi - lo, 0);
    double step = nicenum(range / (target - 1), 1);
    if (!isfinite(step) || step <= 0) return 0;
    double i0 = floor(lo / step + 1e-9), i1 = ceil(hi / step - 1e-9);
    int n = 0;
    for (double i = i0; i <= i1 + 0.5 && n < cap; i += 1)
        ticks[n++] = round_to_step(i * step, step) + 0.0; /* + 0.0 turns -0 into 0 */
    return n;
}

int tr_log_ticks(double lo, double hi, int target, double *ticks, int cap) {
    if (!isfinite(lo) || !isfinite(hi) || lo <= 0 || hi <= 0 || cap <= 0) return 0;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (target < 2) target = 2;
    int e0 = (int)floor(log10(lo) + 1e-9), e1 = (int)ceil(log10(hi) - 1e-9);
    if (e1 <= e0) e1 = e0 + 1;
    int span = e1 - e0, n = 0;
    if (span <= 2) {
        static const double mult[] = {1, 2, 5};
        for (int e = e0; e <= e1 && n < cap; e++)
            for (int k = 0; k < 3 && n < cap; k++) {
                if (e == e1 && k > 0) break;
                ticks[n++] = mult[k] * pow(10, e);
            }
        return n;
    }
    int every = (span + target - 2) / (target - 1);
    if (every < 1) every = 1;
    for (int e = e0; n < cap; e += every) {
        ticks[n++] = pow(10, e);
        if (e >= e1) break;
    }
    return n;
}

/* "1e-05" -> "1e-5", "2e+06" -> "2e6" */
static void tidy_exponent(char *s) {
    char *e = strchr(s, 'e');
    if (!e) return;
    char *w = e + 1, *r = e + 1;
    if (*r == '+')
        r++;
    else if (*r == '-')
        *w++ = *r++;
    while (*r == '0' && r[1]) r++;
    memmove(w, r, strlen(r) + 1);
}

void tr_format_tick(char *buf, size_t cap, double v, double step) {
    step = fabs(step);
    if (!isfinite(v)) {
        snprintf(buf, cap, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == 0 || (step > 0 && fabs(v) < step * 1e-9)) {
        snprintf(buf, cap, "0");
        return;
    }
    static const double units[] = {1e12, 1e9, 1e6, 1e3};
    static const char *suffix[] = {"T", "G", "M", "k"};
    if (step > 0) {
        for (int u = 0; u < 4; u++)
            if (step >= 1000 && step >= units[u] / 10) {
                double s = step / units[u];
                int d = s >= 1 ? 0 : (int)ceil(-log10(s) - 1e-9);
                snprintf(buf, cap, "%.*f%s", d, v / units[u], suffix[u]);
                return;
            }
        if (step < 0.01) {
            snprintf(buf, cap, "%.3g", v);
            tidy_exponent(buf);
            return;
        }
        int d = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, cap, "%.*f", d, v);
        return;
    }
    for (int u = 0; u < 4; u++)
        if (fabs(v) >= units[u]) {
            snprintf(buf, cap, "%.3g%s", v / units[u], suffix[u]);
            tidy_exponent(buf);
            return;
        }
    snprintf(buf, cap, "%.4g", v);
    tidy_exponent(buf);
}

/* ---- smoothing ---------------------------------------------------------------------------- */

void tr_ema(double *out, const double *y, int64_t n, double alpha) {
    if (!(alpha > 0 && alpha < 1)) {
        if (out != y) memmove(out, y, (size_t)n * sizeof *out);
        return;
    }
    double m = 0, decay = 1; /* decay = alpha^k */
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) {
            out[i] = NAN;
            continue;
        }
        m = alpha * m + (1 - alpha) * y[i];
        decay *= alpha;
        out[i] = m / (1 - decay);
    }
}

double tr_ema_auto_alpha(int64_t n) {
    if (n < 20) return 0;
    double a = 1 - 1 / (1 + (double)n / 50);
    return a > 0.98 ? 0.98 : a;
}

/* ---- shared chart pieces ------------------------------------------------------------------ */

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define N_PALETTE ((int)(sizeof palette / sizeof palette[0]))

#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define TICK_FONT 12.0
#define TITLE_FONT 15.0

/* Estimated width of text at a font size (0.62 em per character, UTF-8 continuation bytes
 * not counted). */
static double text_width(const char *s, double size) {
    double n = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n += 1;
    return n * 0.62 * size;
}

/* Copies s, cut to max_chars characters (UTF-8 aware) with an ellipsis when longer. */
static void shorten(char *buf, size_t cap, const char *s, int max_chars) {
    size_t i = 0;
    int chars = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80) continue;
        if (chars == max_chars - 1) {
            size_t rest = 0; /* characters left from here */
            for (size_t j = i; s[j]; j++) rest += ((unsigned char)s[j] & 0xC0) != 0x80;
            if (rest > 1) break;
        }
        chars++;
    }
    if (!s[i] || i + 4 > cap) { /* fits whole (or the buffer is too small to cut well) */
        snprintf(buf, cap, "%s", s);
        return;
    }
    snprintf(buf, cap, "%.*s\xe2\x80\xa6", (int)i, s);
}

static void svg_open(tr_sb *b, int w, int h, const char *kind, const char *title) {
    tr_sb_printf(b,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tr-chart %s\" viewBox=\"0 0 "
                 "%d %d\" width=\"%d\" height=\"%d\" font-family=\"%s\" font-size=\"%g\" "
                 "role=\"img\">\n",
                 kind, w, h, w, h, FONT, TICK_FONT);
    if (title) {
        tr_sb_put(b, "<title>");
        tr_sb_put_xml(b, title);
        tr_sb_put(b, "</title>\n");
    }
    tr_sb_printf(
        b, "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, h);
    if (title) {
        tr_sb_printf(b,
                     "<text class=\"title\" x=\"12\" y=\"20\" font-size=\"%g\" "
                     "font-weight=\"bold\" fill=\"#222\">",
                     TITLE_FONT);
        tr_sb_put_xml(b, title);
        tr_sb_put(b, "</text>\n");
    }
}

static void svg_text(tr_sb *b, double x, double y, const char *anchor, const char *cls,
                     const char *extra, const char *text) {
    tr_sb_printf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s>", cls, x, y,
                 anchor, extra ? " " : "", extra ? extra : "");
    tr_sb_put_xml(b, text);
    tr_sb_put(b, "</text>\n");
}

/* A legend row layout: entries left to right from x0, wrapping at x1; returns the rows used.
 * draw = 0 only measures. */
static int legend(tr_sb *b, double x0, double x1, double y0, const char *const *names,
                  const char *const *colors, int n, int bars, int draw) {
    double x = x0, y = y0;
    int rows = n > 0 ? 1 : 0;
    for (int i = 0; i < n; i++) {
        double w = 22 + text_width(names[i], TICK_FONT) + 14;
        if (x > x0 && x + w > x1) {
            x = x0;
            y += 16;
            rows++;
        }
        if (draw) {
            if (bars)
                tr_sb_printf(
                    b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\"/>\n", x,
                    y - 9, colors[i]);
            else
                tr_sb_printf(b, "<path d=\"M%.1f,%.1fh16\" stroke=\"%s\" stroke-width=\"2.5\"/>\n",
                             x, y - 4, colors[i]);
            char extra[64];
            snprintf(extra, sizeof extra, "fill=\"#333\"");
            svg_text(b, x + 20, y, "start", "legend", extra, names[i]);
        }
        x += w;
    }
    return rows;
}

typedef struct axis {
    double lo, hi; /* domain (log10 of it for a log axis) */
    int log;
    double ticks[64];
    int n_ticks;
    double step; /* linear tick step (0 for log) */
    char labels[64][32];
    double max_label_w;
} axis;

/* Ticks and domain for data in [lo, hi], about `target` ticks. */
static void axis_make(axis *a, double lo, double hi, int log_axis, int target) {
    memset(a, 0, sizeof *a);
    a->log = log_axis;
    a->n_ticks = log_axis ? tr_log_ticks(lo, hi, target, a->ticks, 64)
                          : tr_nice_ticks(lo, hi, target, a->ticks, 64);
    if (a->n_ticks < 2) { /* not reached for finite input; keeps the geometry defined */
        a->n_ticks = 2;
        a->ticks[0] = log_axis ? 1 : 0;
        a->ticks[1] = log_axis ? 10 : 1;
    }
    a->lo = log_axis ? log10(a->ticks[0]) : a->ticks[0];
    a->hi = log_axis ? log10(a->ticks[a->n_ticks - 1]) : a->ticks[a->n_ticks - 1];
    a->step = log_axis ? 0 : a->ticks[1] - a->ticks[0];
    for (int i = 0; i < a->n_ticks; i++) {
        tr_format_tick(a->labels[i], sizeof a->labels[i], a->ticks[i], a->step);
        double w = text_width(a->labels[i], TICK_FONT);
        if (w > a->max_label_w) a->max_label_w = w;
    }
}

static double axis_frac(const axis *a, double v) {
    double t = a->log ? log10(v) : v;
    return a->hi > a->lo ? (t - a->lo) / (a->hi - a->lo) : 0.5;
}

typedef struct frame {
    double x0, y0, w, h; /* plot area */
} frame;

static void draw_y_axis(tr_sb *b, const frame *f, const axis *ay, const char *y_label) {
    for (int i = 0; i < ay->n_ticks; i++) {
        double y = f->y0 + f->h - axis_frac(ay, ay->ticks[i]) * f->h;
        tr_sb_printf(b, "<path class=\"grid\" d=\"M%.1f,%.1fH%.1f\" stroke=\"#e5e5e5\"/>\n", f->x0,
                     y, f->x0 + f->w);
        svg_text(b, f->x0 - 6, y + 4, "end", "ytick", "fill=\"#444\"", ay->labels[i]);
    }
    if (y_label) {
        char extra[128];
        double cy = f->y0 + f->h / 2;
        snprintf(extra, sizeof extra, "transform=\"rotate(-90 14 %.1f)\" fill=\"#333\"", cy);
        svg_text(b, 14, cy + 4, "middle", "ylabel", extra, y_label);
    }
}

static void draw_frame(tr_sb *b, const frame *f) {
    tr_sb_printf(b,
                 "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                 "fill=\"none\" stroke=\"#999\"/>\n",
                 f->x0, f->y0, f->w, f->h);
}

static void no_data(tr_sb *b, const frame *f) {
    svg_text(b, f->x0 + f->w / 2, f->y0 + f->h / 2, "middle", "nodata",
             "fill=\"#888\" font-size=\"14\"", "no data");
}

/* ---- line chart ----------------------------------------------------------------------------- */

static int usable(double y, int log_y) {
    return isfinite(y) && (!log_y || y > 0);
}

static double sx(const tr_series *s, int64_t i) {
    return s->x ? s->x[i] : (double)i;
}

/* One series as a path "M x,y L x,y ..." over the points with finite x and usable y. A point
 * whose x is not finite is not part of the series (skipped: the line goes on past it); one
 * whose y is not usable is a gap, which starts a new M. Isolated points (a run of one) get a
 * dot. Returns the point count. */
static int64_t draw_path(tr_sb *b, const tr_series *s, const double *y, const frame *f,
                         const axis *ax, const axis *ay, int log_y, const char *cls,
                         const char *color, const char *style) {
    int64_t count = 0;
    for (int64_t i = 0; i < s->n; i++)
        if (isfinite(sx(s, i)) && usable(y[i], log_y)) count++;
    tr_sb_printf(b, "<path class=\"%s\" data-series=\"", cls);
    tr_sb_put_xml(b, s->name);
    tr_sb_printf(b, "\" data-n=\"%lld\" fill=\"none\" stroke=\"%s\" %s d=\"", (long long)count,
                 color, style);
    int in_run = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (!isfinite(sx(s, i))) continue;
        if (!usable(y[i], log_y)) {
            in_run = 0;
            continue;
        }
        double px = f->x0 + axis_frac(ax, sx(s, i)) * f->w;
        double py = f->y0 + f->h - axis_frac(ay, y[i]) * f->h;
        tr_sb_printf(b, "%c%.1f,%.1f", in_run ? 'L' : 'M', px, py);
        in_run = 1;
    }
    tr_sb_put(b, "\"/>\n");
    /* dots for isolated points (a path of one point draws nothing) */
    for (int64_t i = 0; i < s->n; i++) {
        if (!isfinite(sx(s, i)) || !usable(y[i], log_y)) continue;
        /* the neighbours are the nearest points of the series (finite x) on each side */
        int64_t p = i - 1, q = i + 1;
        while (p >= 0 && !isfinite(sx(s, p))) p--;
        while (q < s->n && !isfinite(sx(s, q))) q++;
        int prev = p >= 0 && usable(y[p], log_y);
        int next = q < s->n && usable(y[q], log_y);
        if (prev || next) continue;
        tr_sb_printf(b, "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                     f->x0 + axis_frac(ax, sx(s, i)) * f->w,
                     f->y0 + f->h - axis_frac(ay, y[i]) * f->h, color);
    }
    return count;
}

int tr_svg_line_chart(const tr_line_chart *c, char **out, tr_err *err) {
    *out = NULL;
    if (c->n_series < 0 || (c->n_series > 0 && !c->series))
        return tr_fail(err, "tr_svg_line_chart: %d series but no series array", c->n_series);
    if (!(c->smooth >= 0 && c->smooth < 1))
        return tr_fail(err, "tr_svg_line_chart: smooth must be in [0, 1), got %g", c->smooth);
    for (int k = 0; k < c->n_series; k++)
        if (c->series[k].n < 0 || (c->series[k].n > 0 && !c->series[k].y))
            return tr_fail(err, "tr_svg_line_chart: series %d has n = %lld and no y", k,
                           (long long)c->series[k].n);
    int W = c->width > 0 ? c->width : 640, H = c->height > 0 ? c->height : 360;
    int log_y = c->log_y != 0;

    /* data ranges */
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int64_t total = 0;
    for (int k = 0; k < c->n_series; k++) {
        const tr_series *s = &c->series[k];
        for (int64_t i = 0; i < s->n; i++) {
            double x = sx(s, i), y = s->y[i];
            if (!isfinite(x) || !usable(y, log_y)) continue;
            total++;
            if (x < xlo) xlo = x;
            if (x > xhi) xhi = x;
            if (y < ylo) ylo = y;
            if (y > yhi) yhi = y;
        }
    }
    if (total == 0) {
        xlo = 0;
        xhi = 1;
        ylo = log_y ? 1 : 0;
        yhi = log_y ? 10 : 1;
    }

    /* names and colours */
    const char *names[64], *colors[64];
    char fallback[64][24];
    int n_leg = c->n_series < 64 ? c->n_series : 64;
    for (int k = 0; k < n_leg; k++) {
        snprintf(fallback[k], sizeof fallback[k], "series %d", k + 1);
        names[k] = c->series[k].name ? c->series[k].name : fallback[k];
        colors[k] = c->series[k].color ? c->series[k].color : palette[k % N_PALETTE];
    }

    /* layout: the legend sits under the title; y tick labels set the left margin */
    double top = c->title ? 40 : 14;
    int show_legend = c->legend > 0 ? n_leg > 0 : c->legend < 0 ? 0 : n_leg > 1;
    int legend_rows = show_legend ? legend(NULL, 60, W - 12, 0, names, colors, n_leg, 0, 0) : 0;
    top += legend_rows * 16 + (legend_rows ? 8 : 0);
    double bottom = 26 + (c->x_label ? 16 : 0);
    axis ax, ay;
    /* fewer y ticks on short plots: at least 22 units per tick */
    double ph = H - top - bottom;
    int y_target = ph / 22 < 7 ? (int)(ph / 22) : 7;
    axis_make(&ay, ylo, yhi, log_y, y_target < 3 ? 3 : y_target);
    double left = 10 + (c->y_label ? 18 : 0) + ay.max_label_w + 8;
    double pw = W - left - 16;
    int x_target = 8;
    do {
        axis_make(&ax, xlo, xhi, 0, x_target);
        x_target--;
    } while (x_target >= 3 && ax.n_ticks * (ax.max_label_w + 14) > pw);
    double right = 12 + text_width(ax.labels[ax.n_ticks - 1], TICK_FONT) / 2;
    pw = W - left - right;
    frame f = {left, top, pw, ph};

    tr_sb b = {0};
    svg_open(&b, W, H, "line-chart", c->title);
    if (c->smooth > 0) {
        char note[96];
        snprintf(note, sizeof note, "smoothed: EMA %.2f (faint: raw)", c->smooth);
        svg_text(&b, W - 12, c->title ? 20 : 12, "end", "note", "fill=\"#777\" font-size=\"10\"",
                 note);
    }
    if (legend_rows) legend(&b, left, W - 12, (c->title ? 30 : 6) + 12, names, colors, n_leg, 0, 1);
    draw_y_axis(&b, &f, &ay, c->y_label);
    for (int i = 0; i < ax.n_ticks; i++) {
        double x = f.x0 + axis_frac(&ax, ax.ticks[i]) * f.w;
        tr_sb_printf(&b, "<path class=\"grid\" d=\"M%.1f,%.1fV%.1f\" stroke=\"#eeeeee\"/>\n", x,
                     f.y0, f.y0 + f.h);
        svg_text(&b, x, f.y0 + f.h + 16, "middle", "xtick", "fill=\"#444\"", ax.labels[i]);
    }
    if (c->x_label)
        svg_text(&b, f.x0 + f.w / 2, H - 8, "middle", "xlabel", "fill=\"#333\"", c->x_label);
    draw_frame(&b, &f);
    if (total == 0) no_data(&b, &f);

    double *smooth_y = NULL;
    for (int k = 0; k < c->n_series; k++) {
        const tr_series *s = &c->series[k];
        const char *color = k < 64 ? colors[k] : palette[k % N_PALETTE];
        tr_series named = *s;
        if (!named.name) named.name = k < 64 ? names[k] : "series";
        tr_sb_put(&b, "<g class=\"series\" data-series=\"");
        tr_sb_put_xml(&b, named.name);
        tr_sb_put(&b, "\">\n");
        int64_t usable_n = 0;
        for (int64_t i = 0; i < s->n; i++)
            if (isfinite(sx(s, i)) && usable(s->y[i], log_y)) usable_n++;
        if (c->smooth > 0 && usable_n >= 3) {
            free(smooth_y);
            smooth_y = malloc((size_t)s->n * sizeof *smooth_y);
            if (!smooth_y) {
                tr_sb_free(&b);
                return tr_fail(err, "tr_svg_line_chart: out of memory");
            }
            /* smoothing on a log axis averages log10 y, so the curve follows the picture */
            for (int64_t i = 0; i < s->n; i++)
                smooth_y[i] = usable(s->y[i], log_y) && isfinite(sx(s, i))
                                  ? (log_y ? log10(s->y[i]) : s->y[i])
                                  : NAN;
            tr_ema(smooth_y, smooth_y, s->n, c->smooth);
            if (log_y)
                for (int64_t i = 0; i < s->n; i++) smooth_y[i] = pow(10, smooth_y[i]);
            draw_path(&b, &named, s->y, &f, &ax, &ay, log_y, "raw", color,
                      "stroke-width=\"1\" stroke-opacity=\"0.25\"");
            draw_path(&b, &named, smooth_y, &f, &ax, &ay, log_y, "smooth", color,
                      "stroke-width=\"1.8\" stroke-linejoin=\"round\"");
        } else {
            draw_path(&b, &named, s->y, &f, &ax, &ay, log_y, "line", color,
                      "stroke-width=\"1.6\" stroke-linejoin=\"round\"");
        }
        tr_sb_put(&b, "</g>\n");
    }
    free(smooth_y);
    tr_sb_put(&b, "</svg>\n");
    *out = tr_sb_take(&b);
    if (!*out) return tr_fail(err, "tr_svg_line_chart: out of memory");
    return 0;
}

/* ---- bar chart ------------------------------------------------------------------------------ */

int tr_svg_bar_chart(const tr_bar_chart *c, char **out, tr_err *err) {
    *out = NULL;
    if (c->n_groups < 0 || c->n_series < 0 || (c->n_groups > 0 && !c->groups) ||
        (c->n_series > 0 && !c->series_names) || (c->n_groups > 0 && c->n_series > 0 && !c->value))
        return tr_fail(err,
                       "tr_svg_bar_chart: %d groups x %d series need groups, series_names "
                       "and value arrays",
                       c->n_groups, c->n_series);
    if ((c->lo == NULL) != (c->hi == NULL))
        return tr_fail(err, "tr_svg_bar_chart: lo and hi must be given together");
    int W = c->width > 0 ? c->width : 640, H = c->height > 0 ? c->height : 360;
    int G = c->n_groups, S = c->n_series;
    int64_t nv = (int64_t)G * S;

    double lo = 0, hi = 0;
    int64_t total = 0;
    for (int64_t i = 0; i < nv; i++) {
        double vals[3] = {c->value[i], c->lo ? c->lo[i] : NAN, c->hi ? c->hi[i] : NAN};
        if (isfinite(c->value[i])) total++;
        for (int k = 0; k < 3; k++) {
            if (!isfinite(vals[k]) || (k > 0 && !isfinite(c->value[i]))) continue;
            if (vals[k] < lo) lo = vals[k];
            if (vals[k] > hi) hi = vals[k];
        }
    }
    if (c->y_min < c->y_max) {
        lo = c->y_min;
        hi = c->y_max;
    } else if (lo == hi) {
        hi = lo + 1;
    }

    const char *colors[64];
    int n_leg = S < 64 ? S : 64;
    for (int s = 0; s < n_leg; s++) colors[s] = palette[s % N_PALETTE];

    double top = c->title ? 40 : 14;
    int legend_rows =
        n_leg > 1 ? legend(NULL, 60, W - 12, 0, c->series_names, colors, n_leg, 1, 0) : 0;
    top += legend_rows * 16 + (legend_rows ? 8 : 0);
    /* group labels: horizontal when they fit their slot, else rotated by 35 degrees;
     * shortened to 24 characters (the full text is the label's tooltip) */
    double max_gw = 0, first_w = 0;
    for (int g = 0; g < G; g++) {
        char shortened[128];
        shorten(shortened, sizeof shortened, c->groups[g], 24);
        double w = text_width(shortened, TICK_FONT);
        if (g == 0) first_w = w;
        if (w > max_gw) max_gw = w;
    }
    axis ay;
    double bottom_guess = 40;
    double ph_guess = H - top - bottom_guess;
    int y_target = ph_guess / 22 < 7 ? (int)(ph_guess / 22) : 7;
    axis_make(&ay, lo, hi, 0, y_target < 3 ? 3 : y_target);
    double left = 10 + (c->y_label ? 18 : 0) + ay.max_label_w + 8;
    double pw = W - left - 12;
    double slot = G > 0 ? pw / G : pw;
    int rotate = max_gw + 8 > slot;
    if (rotate && G > 0) { /* the first label reaches 0.82 w (cos 35) left of its slot centre */
        double need = 4 + 0.82 * first_w - slot / 2;
        if (need > left) {
            left = need < W / 3.0 ? need : W / 3.0;
            pw = W - left - 12;
            slot = pw / G;
        }
    }
    double label_h = rotate ? max_gw * 0.574 + 14 : 16;
    double bottom = 10 + label_h;
    double ph = H - top - bottom;
    if (ph < 40) ph = 40;
    frame f = {left, top, pw, ph};

    tr_sb b = {0};
    svg_open(&b, W, H, "bar-chart", c->title);
    if (legend_rows)
        legend(&b, left, W - 12, (c->title ? 30 : 6) + 12, c->series_names, colors, n_leg, 1, 1);
    draw_y_axis(&b, &f, &ay, c->y_label);
    double y_zero = f.y0 + f.h - axis_frac(&ay, lo > 0 ? lo : hi < 0 ? hi : 0) * f.h;
    for (int g = 0; g < G; g++) {
        double cx = f.x0 + (g + 0.5) * slot, ty = f.y0 + f.h + (rotate ? 14 : 16);
        char shortened[128];
        shorten(shortened, sizeof shortened, c->groups[g], 24);
        if (rotate)
            tr_sb_printf(&b,
                         "<text class=\"xtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                         "transform=\"rotate(-35 %.1f %.1f)\" fill=\"#444\">",
                         cx, ty, cx, ty);
        else
            tr_sb_printf(&b,
                         "<text class=\"xtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                         "fill=\"#444\">",
                         cx, ty);
        if (strcmp(shortened, c->groups[g]) != 0) {
            tr_sb_put(&b, "<title>");
            tr_sb_put_xml(&b, c->groups[g]);
            tr_sb_put(&b, "</title>");
        }
        tr_sb_put_xml(&b, shortened);
        tr_sb_put(&b, "</text>\n");
    }
    if (total == 0) no_data(&b, &f);
    double inner = slot * 0.8, bw = S > 0 ? inner / S : inner;
    for (int s = 0; s < S; s++) {
        int64_t count = 0;
        for (int g = 0; g < G; g++)
            if (isfinite(c->value[(int64_t)s * G + g])) count++;
        const char *color = palette[s % N_PALETTE];
        tr_sb_put(&b, "<g class=\"series\" data-series=\"");
        tr_sb_put_xml(&b, c->series_names[s]);
        tr_sb_printf(&b, "\" data-n=\"%lld\" fill=\"%s\">\n", (long long)count, color);
        for (int g = 0; g < G; g++) {
            int64_t i = (int64_t)s * G + g;
            double v = c->value[i];
            double x = f.x0 + g * slot + (slot - inner) / 2 + s * bw;
            if (!isfinite(v)) {
                if (bw >= text_width("n/a", 9)) {
                    char extra[64];
                    snprintf(extra, sizeof extra, "fill=\"#999\" font-size=\"9\"");
                    svg_text(&b, x + bw / 2, y_zero - 3, "middle", "na", extra, "n/a");
                }
                continue;
            }
            double vc = v < lo ? lo : v > hi ? hi : v;
            double yv = f.y0 + f.h - axis_frac(&ay, vc) * f.h;
            double y_top = yv < y_zero ? yv : y_zero, height = fabs(y_zero - yv);
            tr_sb_put(&b, "<rect class=\"bar\" data-group=\"");
            tr_sb_put_xml(&b, c->groups[g]);
            tr_sb_printf(&b,
                         "\" data-value=\"%.6g\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                         "height=\"%.1f\"><title>",
                         v, x + bw * 0.04, y_top, bw * 0.92, height);
            tr_sb_put_xml(&b, c->series_names[s]);
            tr_sb_put(&b, " / ");
            tr_sb_put_xml(&b, c->groups[g]);
            tr_sb_printf(&b, ": %.4g", v);
            double elo = c->lo ? c->lo[i] : NAN, ehi = c->hi ? c->hi[i] : NAN;
            int has_err = isfinite(elo) && isfinite(ehi);
            if (has_err) tr_sb_printf(&b, " [%.4g, %.4g]", elo, ehi);
            tr_sb_put(&b, "</title></rect>\n");
            double label_y = yv;
            if (has_err) {
                double a = elo < lo ? lo : elo > hi ? hi : elo;
                double z = ehi < lo ? lo : ehi > hi ? hi : ehi;
                double y1 = f.y0 + f.h - axis_frac(&ay, a) * f.h;
                double y2 = f.y0 + f.h - axis_frac(&ay, z) * f.h;
                double xm = x + bw / 2, cap = bw * 0.25 < 6 ? bw * 0.25 : 6;
                tr_sb_printf(
                    &b,
                    "<path class=\"err\" d=\"M%.1f,%.1fV%.1fM%.1f,%.1fh%.1fM%.1f,%.1fh%.1f\" "
                    "stroke=\"#222\" stroke-width=\"1.2\" fill=\"none\"/>\n",
                    xm, y1, y2, xm - cap, y1, 2 * cap, xm - cap, y2, 2 * cap);
                if (y2 < label_y) label_y = y2;
            }
            if (c->show_values) {
                char txt[32];
                snprintf(txt, sizeof txt, "%.3g", v);
                if (text_width(txt, 9) <= bw + 2 && v >= 0)
                    svg_text(&b, x + bw / 2, label_y - 3, "middle", "value",
                             "fill=\"#333\" font-size=\"9\"", txt);
            }
        }
        tr_sb_put(&b, "</g>\n");
    }
    tr_sb_printf(&b, "<path class=\"baseline\" d=\"M%.1f,%.1fH%.1f\" stroke=\"#666\"/>\n", f.x0,
                 y_zero, f.x0 + f.w);
    draw_frame(&b, &f);
    tr_sb_put(&b, "</svg>\n");
    *out = tr_sb_take(&b);
    if (!*out) return tr_fail(err, "tr_svg_bar_chart: out of memory");
    return 0;
}
