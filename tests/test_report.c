/* Report module: nice ticks (hand-derived with Heckbert's rule), tick text, escaping, the EMA
 * by hand, SVG line and bar charts (every point present and counted, geometry proportional to
 * the data), the Markdown/HTML builder, metrics.jsonl columns, stage discovery and the run
 * report with a cost table computed by hand.
 *
 * With an argument DIR, also writes a gallery report (every chart kind and edge case) to DIR
 * for the render test (tests/render/report_render.sh) to open in Chromium. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* ---- small SVG reader: the attributes of the n-th tag that starts with `open` ---------- */

/* Copies attribute `name` of the tag starting at tag into buf ("" if absent). */
static void attr(const char *tag, const char *name, char *buf, size_t cap) {
    buf[0] = '\0';
    const char *end = strchr(tag, '>');
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *a = strstr(tag, key);
    if (!a || (end && a > end)) return;
    a += strlen(key);
    const char *q = strchr(a, '"');
    size_t n = (size_t)(q - a) < cap - 1 ? (size_t)(q - a) : cap - 1;
    memcpy(buf, a, n);
    buf[n] = '\0';
}

static int count_str(const char *s, const char *what) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what)) n++;
    return n;
}

/* The path tag of class cls for series `series` (NULL: the first of that class). */
static const char *find_path(const char *svg, const char *cls, const char *series) {
    char open[64];
    snprintf(open, sizeof open, "<path class=\"%s\"", cls);
    for (const char *p = svg; (p = strstr(p, open)) != NULL; p++) {
        char name[128];
        attr(p, "data-series", name, sizeof name);
        if (!series || strcmp(name, series) == 0) return p;
    }
    return NULL;
}

/* Points of a path's d: the M and L commands; coordinates into xs/ys (up to cap). */
static int path_points(const char *tag, double *xs, double *ys, int cap) {
    static char d[1 << 20];
    attr(tag, "d", d, sizeof d);
    int n = 0;
    for (const char *p = d; *p; p++) {
        if (*p != 'M' && *p != 'L') continue;
        double x, y;
        if (sscanf(p + 1, "%lf,%lf", &x, &y) == 2 && n < cap) {
            xs[n] = x;
            ys[n] = y;
        }
        n++;
    }
    return n;
}

static long data_n(const char *tag) {
    char buf[32];
    attr(tag, "data-n", buf, sizeof buf);
    return buf[0] ? strtol(buf, NULL, 10) : -1;
}

/* ---- ticks, text, escaping, EMA ------------------------------------------------------------ */

static void check_ticks(double lo, double hi, int target, const double *want, int n_want) {
    double t[64];
    int n = tr_nice_ticks(lo, hi, target, t, 64);
    CHECK_MSG(n == n_want, "[%g, %g] target %d: %d ticks, expected %d", lo, hi, target, n, n_want);
    for (int i = 0; i < n && i < n_want; i++)
        CHECK_MSG(fabs(t[i] - want[i]) <= 1e-12 * (1 + fabs(want[i])),
                  "[%g, %g] tick %d: %.17g, expected %g", lo, hi, i, t[i], want[i]);
}

static void test_ticks(void) {
    /* Heckbert: range = nice(hi - lo) (ceil to 1/2/5/10), step = nice(range / (target - 1))
     * (rounded), ticks from floor(lo/step) to ceil(hi/step). By hand: */
    check_ticks(0, 1, 6, (double[]){0, 0.2, 0.4, 0.6, 0.8, 1}, 6);             /* step .2 */
    check_ticks(3, 97, 6, (double[]){0, 20, 40, 60, 80, 100}, 6);              /* 94->100, 20 */
    check_ticks(97, 3, 6, (double[]){0, 20, 40, 60, 80, 100}, 6);              /* swapped */
    check_ticks(-1, 1, 6, (double[]){-1, -0.5, 0, 0.5, 1}, 5);                 /* 2, 0.4->0.5 */
    check_ticks(0.5, 0.6, 6, (double[]){0.5, 0.52, 0.54, 0.56, 0.58, 0.6}, 6); /* 0.02 */
    check_ticks(1, 1000, 6, (double[]){0, 200, 400, 600, 800, 1000}, 6);       /* 999->1000, 200 */
    check_ticks(5, 5, 6, (double[]){4, 4.5, 5, 5.5, 6}, 5);       /* widened to [4, 6] */
    check_ticks(1.7, 6.2, 6, (double[]){1, 2, 3, 4, 5, 6, 7}, 7); /* 4.5->5, 1 */
    /* 1.8e-4 -> 2e-4; 2e-4 / 3 = 6.7e-5 rounds to 5e-5 */
    check_ticks(0.00012, 0.0003, 4, (double[]){1e-4, 1.5e-4, 2e-4, 2.5e-4, 3e-4}, 5);
    double t[8];
    CHECK(tr_nice_ticks(NAN, 1, 6, t, 8) == 0);
    CHECK(tr_nice_ticks(0, INFINITY, 6, t, 8) == 0);
    CHECK(tr_nice_ticks(0, 1, 6, t, 3) == 3); /* capped */
    /* property: for many ranges the ticks cover the data, steps are 1/2/5 x 10^k, 3..13 ticks */
    tr_rng rng;
    tr_rng_seed(&rng, 7);
    for (int it = 0; it < 2000; it++) {
        double a = (tr_rng_uniform_double(&rng) - 0.5) * pow(10, (int)tr_rng_below(&rng, 12) - 5);
        double b = a + tr_rng_uniform_double(&rng) * pow(10, (int)tr_rng_below(&rng, 12) - 5);
        if (b - a < 1e-6 * fabs(a)) continue; /* below double resolution of the step */
        double tk[64];
        int n = tr_nice_ticks(a, b, 6, tk, 64);
        double step = tk[1] - tk[0]; /* covered to within 1e-9 step (rounding slack) */
        int ok = n >= 3 && n <= 13 && tk[0] <= a + 1e-9 * (fabs(a) + step) &&
                 tk[n - 1] >= b - 1e-9 * (fabs(b) + step);
        double m = step / pow(10, floor(log10(step) + 1e-9));
        ok = ok && (fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6);
        CHECK_MSG(ok, "[%g, %g]: %d ticks %g..%g step %g", a, b, n, tk[0], tk[n - 1], step);
        if (!ok) break;
    }

    double l[32];
    int n = tr_log_ticks(1, 100, 6, l, 32); /* 2 decades: 1 2 5 per decade */
    double want[] = {1, 2, 5, 10, 20, 50, 100};
    CHECK(n == 7);
    for (int i = 0; i < 7 && i < n; i++) CHECK_CLOSE(l[i], want[i], 1e-12, 0);
    n = tr_log_ticks(0.001, 1e6, 6, l, 32); /* 9 decades, every ceil(9/5) = 2nd */
    double want2[] = {1e-3, 1e-1, 1e1, 1e3, 1e5, 1e7};
    CHECK(n == 6);
    for (int i = 0; i < 6 && i < n; i++) CHECK_CLOSE(l[i], want2[i], 1e-12, 0);
    n = tr_log_ticks(3, 7, 6, l, 32); /* inside one decade: 1, 2, 5, 10 */
    CHECK(n == 4 && l[0] == 1 && l[3] == 10);
    CHECK(tr_log_ticks(0, 10, 6, l, 32) == 0);
    CHECK(tr_log_ticks(-1, 10, 6, l, 32) == 0);
}

static void check_fmt(double v, double step, const char *want) {
    char buf[64];
    tr_format_tick(buf, sizeof buf, v, step);
    CHECK_MSG(strcmp(buf, want) == 0, "tick %g step %g: '%s', expected '%s'", v, step, buf, want);
}

static void test_format(void) {
    check_fmt(0.6000000000000001, 0.2, "0.6");
    check_fmt(100, 20, "100");
    check_fmt(0, 0.2, "0");
    check_fmt(1e-17, 0.2, "0"); /* rounding residue at zero */
    check_fmt(-3, 1, "-3");
    check_fmt(0.25, 0.05, "0.25");
    check_fmt(0.52, 0.02, "0.52");
    check_fmt(2e-5, 1e-5, "2e-5");
    check_fmt(1500000, 500000, "1.5M");
    check_fmt(50000, 10000, "50k");
    check_fmt(2000, 1000, "2k");
    check_fmt(1500, 500, "1500");
    check_fmt(1000, 0, "1k"); /* log-axis labels (no step) */
    check_fmt(0.001, 0, "0.001");
    check_fmt(1e-5, 0, "1e-5");
    check_fmt(3e9, 0, "3G");

    char *e = tr_xml_escape("a<b & c>\"d'");
    CHECK(e && strcmp(e, "a&lt;b &amp; c&gt;&quot;d&#39;") == 0);
    free(e);
    e = tr_xml_escape(NULL);
    CHECK(e && strcmp(e, "") == 0);
    free(e);
}

static void test_ema(void) {
    /* alpha 0.5, by hand: m = .5, 1.25, 2.125; corrections 1 - .5^k = .5, .75, .875 */
    double y[3] = {1, 2, 3}, o[3];
    tr_ema(o, y, 3, 0.5);
    CHECK_CLOSE(o[0], 1.0, 1e-12, 0);
    CHECK_CLOSE(o[1], 1.25 / 0.75, 1e-12, 0);
    CHECK_CLOSE(o[2], 2.125 / 0.875, 1e-12, 0);
    double g[3] = {1, NAN, 3}; /* the NaN is skipped: m = .5, then .25 + 1.5 */
    tr_ema(g, g, 3, 0.5);      /* in place */
    CHECK_CLOSE(g[0], 1.0, 1e-12, 0);
    CHECK(isnan(g[1]));
    CHECK_CLOSE(g[2], 1.75 / 0.75, 1e-12, 0);
    double c[50];
    for (int i = 0; i < 50; i++) c[i] = 4.5;
    tr_ema(c, c, 50, 0.9); /* bias correction: a constant stays constant */
    CHECK_CLOSE(c[0], 4.5, 1e-12, 0);
    CHECK_CLOSE(c[49], 4.5, 1e-12, 0);
    double z[2] = {1, 2};
    tr_ema(o, z, 2, 0); /* alpha 0: unchanged */
    CHECK(o[0] == 1 && o[1] == 2);
    CHECK(tr_ema_auto_alpha(10) == 0);
    CHECK_CLOSE(tr_ema_auto_alpha(100), 1 - 1 / 3.0, 1e-12, 0);
    CHECK(tr_ema_auto_alpha(1000000) == 0.98);
}

/* ---- line charts ------------------------------------------------------------------------ */

static void test_line_chart(void) {
    enum { N = 100 };
    double x[N], y[N], g[N], one = 2.5;
    for (int i = 0; i < N; i++) {
        x[i] = 10 * i;
        y[i] = i;
        g[i] = (i % 20 == 3) ? NAN : 1.0 + 0.01 * i;
    }
    g[50] = INFINITY;
    tr_series s[4] = {{"linear", x, y, N, NULL},
                      {"gappy", x, g, N, NULL},
                      {"one <point>", x + 40, &one, 1, NULL},
                      {"empty", NULL, NULL, 0, NULL}};
    tr_line_chart c = {.title = "loss <&> \"q\"",
                       .x_label = "step",
                       .y_label = "value",
                       .series = s,
                       .n_series = 4};
    char *svg = NULL;
    tr_err err;
    CHECK(tr_svg_line_chart(&c, &svg, &err) == 0);
    if (!svg) return;
    CHECK(strncmp(svg, "<svg", 4) == 0);
    CHECK(strstr(svg, "viewBox=\"0 0 640 360\"") != NULL);
    CHECK(strstr(svg, "loss &lt;&amp;&gt; &quot;q&quot;") != NULL);
    CHECK(strstr(svg, "loss <&>") == NULL);
    CHECK(strstr(svg, "one &lt;point&gt;") != NULL);

    static double px[N], py[N];
    const char *p = find_path(svg, "line", "linear");
    CHECK(p && data_n(p) == N);
    CHECK(p && path_points(p, px, py, N) == N);
    /* the mapping is affine: x_i - x_0 proportional to i, y the same (y up = smaller) */
    for (int i = 1; p && i < N; i++) {
        CHECK_CLOSE((px[i] - px[0]) / (px[N - 1] - px[0]), i / (double)(N - 1), 0, 0.002);
        CHECK_CLOSE((py[0] - py[i]) / (py[0] - py[N - 1]), i / (double)(N - 1), 0, 0.002);
    }
    for (int i = 0; p && i < N; i++) /* inside the viewBox */
        CHECK(px[i] >= 0 && px[i] <= 640 && py[i] >= 0 && py[i] <= 360);

    p = find_path(svg, "line", "gappy"); /* 5 NaN (i = 3, 23, ..., 83) and one inf */
    CHECK(p && data_n(p) == N - 6);
    CHECK(p && path_points(p, px, py, N) == N - 6);
    int moves = 0;
    char d[8192];
    if (p) attr(p, "d", d, sizeof d);
    moves = count_str(d, "M");
    CHECK_MSG(moves == 7, "gappy: %d subpaths, expected 7 (6 gaps)", moves);

    p = find_path(svg, "line", "one &lt;point&gt;");
    CHECK(p && data_n(p) == 1);
    CHECK(count_str(svg, "<circle class=\"dot\"") == 1);
    p = find_path(svg, "line", "empty");
    CHECK(p && data_n(p) == 0);
    CHECK(strstr(svg, "no data") == NULL);
    /* legend: every series named once in a legend text */
    CHECK(count_str(svg, "class=\"legend\"") == 4);
    /* tick labels of the x axis over [0, 990]: 0 .. 1000 */
    CHECK(strstr(svg, ">1000</text>") != NULL);
    free(svg);

    /* a point whose x is NaN is not part of the series: skipped without a gap, and its y
     * does not stretch the axis (rows of another stage in a metrics log) */
    double kx[6] = {0, 1, NAN, 3, 4, 5}, ky[6] = {1, 2, 1000, 3, NAN, 5};
    tr_series ks = {"skips", kx, ky, 6, NULL};
    tr_line_chart kc = {.title = "skips", .series = &ks, .n_series = 1};
    CHECK(tr_svg_line_chart(&kc, &svg, &err) == 0);
    p = svg ? find_path(svg, "line", "skips") : NULL;
    CHECK(p && data_n(p) == 4);
    if (p) attr(p, "d", d, sizeof d);
    CHECK_MSG(count_str(d, "M") == 2, "skips: %d subpaths, expected 2 (the NaN y is the only "
              "gap)", count_str(d, "M"));
    CHECK(svg && strstr(svg, ">1000</text>") == NULL);
    free(svg);

    /* every point, no resampling, for a long series too */
    enum { L = 20000 };
    double *ly = malloc(L * sizeof *ly);
    for (int i = 0; i < L; i++) ly[i] = sin(i * 0.01) + 2;
    tr_series ls = {"long", NULL, ly, L, NULL};
    tr_line_chart lc = {.title = "long", .series = &ls, .n_series = 1, .smooth = 0.9};
    CHECK(tr_svg_line_chart(&lc, &svg, &err) == 0);
    static double lx[L], lyy[L];
    p = svg ? find_path(svg, "raw", "long") : NULL;
    CHECK(p && data_n(p) == L && path_points(p, lx, lyy, L) == L);
    p = svg ? find_path(svg, "smooth", "long") : NULL;
    CHECK(p && data_n(p) == L && path_points(p, lx, lyy, L) == L);
    CHECK(svg && strstr(svg, "stroke-opacity=\"0.25\"") != NULL);
    free(svg);
    free(ly);

    /* log y: values <= 0 skipped; decades as labels */
    double v[6] = {-1, 0, 0.01, 1, 100, NAN};
    tr_series vs = {"v", NULL, v, 6, NULL};
    tr_line_chart vc = {
        .title = "log", .series = &vs, .n_series = 1, .log_y = 1, .width = 800, .height = 300};
    CHECK(tr_svg_line_chart(&vc, &svg, &err) == 0);
    CHECK(svg && strstr(svg, "viewBox=\"0 0 800 300\"") != NULL);
    p = svg ? find_path(svg, "line", "v") : NULL;
    CHECK(p && data_n(p) == 3);
    CHECK(p && path_points(p, px, py, N) == 3);
    /* equal ratios (x100 each) are equal distances on a log axis */
    if (p) CHECK_CLOSE(py[0] - py[1], py[1] - py[2], 0, 0.15);
    CHECK(svg && strstr(svg, ">0.01</text>") && strstr(svg, ">100</text>"));
    free(svg);

    /* nothing drawable: "no data" */
    double nan2[2] = {NAN, NAN};
    tr_series ns = {"nothing", NULL, nan2, 2, NULL};
    tr_line_chart nc = {.title = "empty", .series = &ns, .n_series = 1};
    CHECK(tr_svg_line_chart(&nc, &svg, &err) == 0);
    CHECK(svg && strstr(svg, ">no data</text>") != NULL);
    free(svg);
    tr_line_chart none = {.title = "none"};
    CHECK(tr_svg_line_chart(&none, &svg, &err) == 0);
    CHECK(svg && strstr(svg, ">no data</text>") != NULL);
    free(svg);

    tr_line_chart bad = {.title = "bad", .series = &ns, .n_series = 1, .smooth = 1.5};
    CHECK(tr_svg_line_chart(&bad, &svg, &err) == -1 && svg == NULL);
    CHECK(strstr(err.msg, "smooth") != NULL);
}

/* ---- bar charts ---------------------------------------------------------------------------- */

static void test_bar_chart(void) {
    const char *groups[3] = {"add", "count<down>", "gsm8k"};
    const char *names[2] = {"teacher", "student & co"};
    double val[6] = {0.8, 0.4, NAN, 0.6, 0.2, 0.1};
    double lo[6] = {0.7, 0.3, NAN, 0.5, 0.1, NAN};
    double hi[6] = {0.9, 0.5, NAN, 0.7, 0.3, NAN};
    tr_bar_chart c = {.title = "accuracy",
                      .y_label = "pass@1",
                      .groups = groups,
                      .n_groups = 3,
                      .series_names = names,
                      .n_series = 2,
                      .value = val,
                      .lo = lo,
                      .hi = hi,
                      .y_max = 1,
                      .show_values = 1};
    char *svg = NULL;
    tr_err err;
    CHECK(tr_svg_bar_chart(&c, &svg, &err) == 0);
    if (!svg) return;
    CHECK(count_str(svg, "<rect class=\"bar\"") == 5);
    CHECK(count_str(svg, "<path class=\"err\"") == 4);
    CHECK(strstr(svg, "data-series=\"teacher\" data-n=\"2\"") != NULL);
    CHECK(strstr(svg, "data-series=\"student &amp; co\" data-n=\"3\"") != NULL);
    CHECK(strstr(svg, "count&lt;down&gt;") != NULL && strstr(svg, "count<down>") == NULL);
    CHECK(strstr(svg, ">n/a</text>") != NULL);
    /* heights proportional to values on a fixed [0, 1] axis: 0.8 is 4x 0.2 */
    const char *r08 = strstr(svg, "data-value=\"0.8\""), *r02 = strstr(svg, "data-value=\"0.2\"");
    CHECK(r08 && r02);
    if (r08 && r02) {
        char h1[32], h2[32], y1[32];
        attr(r08 - 18, "height", h1, sizeof h1);
        attr(r02 - 18, "height", h2, sizeof h2);
        attr(r08 - 18, "y", y1, sizeof y1);
        CHECK_CLOSE(atof(h1) / atof(h2), 4.0, 0.01, 0);
        /* the error bar of 0.8 spans 0.7..0.9: a quarter of the bar's height */
        const char *e = strstr(r08, "<path class=\"err\"");
        double xm, ya, yb;
        CHECK(e && sscanf(strstr(e, "d=\"") + 3, "M%lf,%lfV%lf", &xm, &ya, &yb) == 3);
        if (e) CHECK_CLOSE((ya - yb) / atof(h1), 0.25, 0.02, 0);
    }
    free(svg);

    tr_bar_chart empty = {.title = "nothing"};
    CHECK(tr_svg_bar_chart(&empty, &svg, &err) == 0);
    CHECK(svg && strstr(svg, ">no data</text>") != NULL);
    free(svg);
    tr_bar_chart half = c;
    half.hi = NULL;
    CHECK(tr_svg_bar_chart(&half, &svg, &err) == -1);
}

/* ---- report builder ------------------------------------------------------------------------ */

static void test_builder(const char *tmp) {
    tr_err err;
    tr_report *r = tr_report_new("Run <1>", &err);
    CHECK(r != NULL);
    if (!r) return;
    tr_report_heading(r, 2, "Cost & time");
    tr_report_paragraph(r, "a<b, *not bold*");
    const char *head[3] = {"stage", "tokens", "MFU"};
    const char *r1[3] = {"base", "1.2M", "61.5%"}, *r2[3] = {"a|b", NULL, "-"};
    tr_report_table_begin(r, NULL, 3, head);
    tr_report_table_row(r, r1);
    tr_report_table_row(r, r2);
    tr_report_table_end(r);
    const char *svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"></svg>";
    tr_report_figure(r, "fig-a", svg, "Figure [a]");
    tr_report_code(r, "x = 1\n");
    char *md = NULL, *html = NULL;
    CHECK(tr_report_markdown(r, &md, &err) == 0);
    const char *want = "# Run \\<1\\>\n\n"
                       "## Cost & time\n\n"
                       "a\\<b, \\*not bold\\*\n\n"
                       "| stage | tokens | MFU |\n"
                       "|---|---:|---:|\n"
                       "| base | 1.2M | 61.5% |\n"
                       "| a\\|b |  | - |\n\n"
                       "![Figure \\[a\\]](fig-a.svg)\n\n"
                       "```\nx = 1\n```\n\n";
    CHECK_MSG(md && strcmp(md, want) == 0, "markdown:\n%s", md ? md : "(null)");
    CHECK(tr_report_html(r, &html, &err) == 0);
    if (html) {
        CHECK(strstr(html, "<!DOCTYPE html>") == html);
        CHECK(strstr(html, "<title>Run &lt;1&gt;</title>") != NULL);
        CHECK(strstr(html, "<h2>Cost &amp; time</h2>") != NULL);
        CHECK(strstr(html, "<p>a&lt;b, *not bold*</p>") != NULL);
        CHECK(strstr(html, "<td class=\"num\">1.2M</td>") != NULL);
        CHECK(strstr(html, "<td>a|b</td>") != NULL);
        CHECK(strstr(html, svg) != NULL); /* inlined as is */
        CHECK(strstr(html, "<figcaption>Figure [a]</figcaption>") != NULL);
        CHECK(strstr(html, "<pre>x = 1\n</pre>") != NULL);
        /* self-contained: nothing to fetch */
        CHECK(!strstr(html, "src=") && !strstr(html, "href=") && !strstr(html, "<script") &&
              !strstr(html, "<link") && !strstr(html, "url(") && !strstr(html, "@import"));
    }
    free(md);
    free(html);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/out/sub", tmp);
    CHECK(tr_report_write(r, dir, &err) == 0);
    char path[4300];
    snprintf(path, sizeof path, "%s/fig-a.svg", dir);
    char *text = tr_read_file(path, NULL, &err);
    CHECK(text && strcmp(text, svg) == 0);
    free(text);
    snprintf(path, sizeof path, "%s/report.html", dir);
    CHECK(access(path, R_OK) == 0);
    snprintf(path, sizeof path, "%s/report.md", dir);
    CHECK(access(path, R_OK) == 0);
    snprintf(path, sizeof path, "%s/report.md.tmp", dir);
    CHECK(access(path, F_OK) != 0);
    tr_report_free(r);

    /* misuse is reported by tr_report_write */
    r = tr_report_new(NULL, &err);
    CHECK(tr_report_figure(r, "../escape", svg, "x") == -1);
    CHECK(tr_report_write(r, dir, &err) == -1 && strstr(err.msg, "../escape"));
    tr_report_free(r);
    r = tr_report_new(NULL, &err);
    CHECK(tr_report_figure(r, "same", svg, "x") == 0);
    CHECK(tr_report_figure(r, "same", svg, "x") == -1);
    CHECK(tr_report_figure(r, "other", "not svg", "x") == -1);
    tr_report_free(r);
    r = tr_report_new(NULL, &err);
    CHECK(tr_report_table_row(r, r1) == -1);
    tr_report_free(r);
    r = tr_report_new(NULL, &err);
    tr_report_table_begin(r, "t", 3, head);
    CHECK(tr_report_paragraph(r, "inside a table") == -1);
    tr_report_free(r);
}

/* ---- metrics.jsonl -------------------------------------------------------------------------- */

static void test_metric_log(void) {
    tr_metric_log log;
    tr_err err;
    const char *text =
        "{\"stage\":\"grpo\",\"step\":1,\"loss\":2.5,\"ok\":true}\n"
        "\n"
        "{\"step\":2,\"loss\":nan,\"reward\":0.5,\"acc\":{\"mean\":0.4,\"lo\":0.3}}\n"
        "{\"step\":3,\"loss\":-inf,\"note\":\"nan inf\",\"x\":[1,2]}\n"
        "{\"step\":4,\"lo";
    CHECK(tr_metric_log_parse(&log, text, "m.jsonl", &err) == 0);
    CHECK(log.n_rows == 3);
    CHECK(log.dropped_tail == 1);
    CHECK(strcmp(log.stage, "grpo") == 0);
    const double *loss = tr_metric_log_column(&log, "loss");
    CHECK(loss && loss[0] == 2.5 && isnan(loss[1]) && isnan(loss[2]));
    const double *rw = tr_metric_log_column(&log, "reward");
    CHECK(rw && isnan(rw[0]) && rw[1] == 0.5 && isnan(rw[2]));
    const double *lo = tr_metric_log_column(&log, "acc.lo");
    CHECK(lo && lo[1] == 0.3);
    const double *ok = tr_metric_log_column(&log, "ok");
    CHECK(ok && ok[0] == 1);
    CHECK(tr_metric_log_column(&log, "note") == NULL && tr_metric_log_column(&log, "x") == NULL);
    CHECK(tr_metric_log_count(&log, "loss") == 1);
    CHECK(tr_metric_log_last(&log, "step") == 3);
    CHECK(isnan(tr_metric_log_last(&log, "absent")));
    tr_metric_log_free(&log);
    /* rows of another stage are marked (a GRPO log's evaluation lines) */
    CHECK(tr_metric_log_parse(&log,
                              "{\"stage\":\"grpo_eval\",\"step\":0}\n{\"stage\":\"grpo\",\"step\":1}\n"
                              "{\"step\":2}\n{\"stage\":\"grpo\",\"step\":2}\n",
                              "m.jsonl", &err) == 0);
    CHECK(log.n_rows == 4 && log.other_stage);
    CHECK(strcmp(log.stage, "grpo") == 0); /* the stage of most rows, not of the first */
    CHECK(log.other_stage && log.other_stage[0] && !log.other_stage[1] && !log.other_stage[2] &&
          !log.other_stage[3]);
    tr_metric_log_free(&log);

    CHECK(tr_metric_log_parse(&log, "{\"a\":1}\n{\"a\":2}\nnot json\n{\"a\":3}\n", "m.jsonl",
                              &err) == -1);
    CHECK_MSG(strstr(err.msg, "m.jsonl:3:") != NULL, "%s", err.msg);
    CHECK(tr_metric_log_parse(&log, "[1,2]\n", "m.jsonl", &err) == -1);
    CHECK(tr_metric_log_parse(&log, "", "m.jsonl", &err) == 0 && log.n_rows == 0);
    tr_metric_log_free(&log);
    /* many rows and a column that appears late */
    char *big = malloc(64 * 3000);
    size_t k = 0;
    for (int i = 0; i < 3000; i++)
        k += (size_t)sprintf(big + k, i < 2000 ? "{\"step\":%d}\n" : "{\"step\":%d,\"late\":%d}\n",
                             i, i);
    CHECK(tr_metric_log_parse(&log, big, "big", &err) == 0);
    const double *late = tr_metric_log_column(&log, "late");
    CHECK(log.n_rows == 3000 && late && isnan(late[1999]) && late[2999] == 2999);
    CHECK(tr_metric_log_count(&log, "late") == 1000);
    tr_metric_log_free(&log);
    free(big);
}

/* ---- stages and the run report -------------------------------------------------------------- */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void set_mtime(const char *path, long t) {
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    utimensat(AT_FDCWD, path, ts, 0);
}

static void test_run_report(const char *tmp) {
    char run[4200], p[4400];
    snprintf(run, sizeof run, "%s/run", tmp);
    const char *dirs[] = {"", "/base", "/teacher", "/students", "/students/kd", "/empty"};
    for (size_t i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s%s", run, dirs[i]);
        mkdir(p, 0755);
    }
    tr_err err;
    /* base: pretraining metrics, 30 steps */
    snprintf(p, sizeof p, "%s/base/metrics.jsonl", run);
    FILE *f = fopen(p, "w");
    for (int s = 1; f && s <= 30; s++)
        fprintf(f,
                "{\"stage\":\"pretrain\",\"step\":%d,\"loss\":%.4f,\"lr\":0.001,"
                "\"grad_norm\":%.3f,\"tokens\":%d,\"tok_s\":1000,\"elapsed\":%d}\n",
                s, 5.0 / s, 1.0 + 0.1 * s, 256 * s, s);
    if (f) fclose(f);
    set_mtime(p, 1000);
    snprintf(p, sizeof p, "%s/base/args.json", run);
    write_text(p, "{\"command\":\"pretrain\",\"options\":{\"lr\":0.001,\"note\":\"<x>\"}}");
    set_mtime(p, 1000);
    /* teacher: cost only, written by the real meter: 2 s of training at 1e11 FLOPs on a
     * 100 GFLOP/s peak is 50 GFLOP/s, MFU 50.0% (by hand) */
    tr_peak peak = {0};
    peak.gflops = 100;
    tr_cost_meter m;
    tr_cost_meter_init(&m, "sft", NULL, &peak);
    tr_cost_add(&m, TR_PHASE_TRAIN, 2.0, 4096, 1e11);
    snprintf(p, sizeof p, "%s/teacher", run);
    CHECK(tr_cost_meter_write(&m, p, &err) == 0);
    snprintf(p, sizeof p, "%s/teacher/cost.json", run);
    set_mtime(p, 2000);
    /* students/kd: GRPO-like fields and an objective part */
    snprintf(p, sizeof p, "%s/students/kd/metrics.jsonl", run);
    f = fopen(p, "w");
    for (int s = 1; f && s <= 25; s++)
        fprintf(f,
                "{\"step\":%d,\"loss\":%.3f,\"kd\":%.3f,\"reward\":%.3f,\"accuracy\":%.3f,"
                "\"response_len\":%d}\n",
                s, 1.0 / s, 0.5 / s, 0.02 * s, 0.03 * s, 40 + s);
    if (f) fclose(f);
    set_mtime(p, 3000);

    tr_run_stage *st = NULL;
    int n = 0;
    CHECK(tr_run_find_stages(run, &st, &n, &err) == 0);
    CHECK_MSG(n == 3, "%d stages", n);
    if (n == 3) {
        CHECK(strcmp(st[0].name, "base") == 0 && st[0].has_metrics && st[0].has_args);
        CHECK(strcmp(st[1].name, "teacher") == 0 && st[1].has_cost && !st[1].has_metrics);
        CHECK(strcmp(st[2].name, "students/kd") == 0);
    }
    free(st);
    /* the order follows the files' times, not the names */
    snprintf(p, sizeof p, "%s/base/metrics.jsonl", run);
    set_mtime(p, 4000);
    CHECK(tr_run_find_stages(run, &st, &n, &err) == 0);
    CHECK(n == 3 && strcmp(st[2].name, "base") == 0);
    free(st);
    set_mtime(p, 1000);

    char out[4300];
    snprintf(out, sizeof out, "%s/report", tmp);
    CHECK(tr_report_run(run, out, NULL, &err) == 0);
    snprintf(p, sizeof p, "%s/report.md", out);
    char *md = tr_read_file(p, NULL, &err);
    CHECK(md != NULL);
    if (md) {
        CHECK(strstr(md, "# tinyr1 run report: run\n") != NULL);
        CHECK(strstr(md, "| teacher | 4096 | 1e+11 | ") != NULL);
        CHECK_MSG(strstr(md, "| 50.0 | 50.0% |") != NULL, "cost row:\n%s", md);
        CHECK(strstr(md, "| base | pretrain | 30 | 7680 | 0.1667 | ") != NULL);
        CHECK(strstr(md, "## Stage: students/kd") != NULL);
        CHECK(strstr(md, "![Loss, base (30 points, smoothed") != NULL);
        CHECK(strstr(md, "(fig-students-kd-reward.svg)") != NULL);
        CHECK(strstr(md, "(fig-students-kd-accuracy.svg)") != NULL);
        CHECK(strstr(md, "(fig-students-kd-response-len.svg)") != NULL);
        CHECK(strstr(md, "(fig-students-kd-other.svg)") != NULL); /* the "kd" part */
        CHECK(strstr(md, "(fig-base-reward.svg)") == NULL);
        CHECK(strstr(md, "| options.note | \\<x\\> |") != NULL);
    }
    free(md);
    snprintf(p, sizeof p, "%s/fig-base-loss.svg", out);
    char *svg = tr_read_file(p, NULL, &err);
    const char *raw = svg ? find_path(svg, "raw", "loss") : NULL;
    CHECK(raw && data_n(raw) == 30);
    free(svg);
    snprintf(p, sizeof p, "%s/report.html", out);
    char *html = tr_read_file(p, NULL, &err);
    CHECK(html && count_str(html, "<svg ") == 4 + 5); /* base: loss lr grad-norm throughput; kd:
                                                         loss reward accuracy response-len other */
    free(html);

    snprintf(p, sizeof p, "%s/empty", run);
    CHECK(tr_report_run(p, NULL, NULL, &err) == -1 && strstr(err.msg, "no metrics.jsonl"));
    CHECK(tr_report_run("/nonexistent/run", NULL, NULL, &err) == -1 &&
          strstr(err.msg, "/nonexistent/run"));
    snprintf(p, sizeof p, "%s/base/metrics.jsonl", run);
    write_text(p, "{\"step\":1}\n{oops}\n{\"step\":2}\n");
    CHECK(tr_report_run(run, out, NULL, &err) == -1 && strstr(err.msg, "metrics.jsonl:2:"));
}

/* ---- gallery for the render test --------------------------------------------------------- */

static int gallery(const char *dir) {
    tr_err err;
    tr_report *r = tr_report_new("tinyr1 chart gallery <test & check>", &err);
    if (!r) return 1;
    tr_report_heading(r, 2, "Line charts");
    tr_report_paragraph(r, "Several series, smoothing over noise, a log axis, gaps, one point, "
                           "no data. Labels with <, & and > must show as text.");
    enum { N = 500 };
    static double x[N], a[N], b[N], c[N], lr[N];
    tr_rng rng;
    tr_rng_seed(&rng, 1);
    for (int i = 0; i < N; i++) {
        x[i] = i + 1;
        a[i] = 2.0 + 4.0 * exp(-i / 80.0) + 0.25 * tr_rng_normal(&rng);
        b[i] = 1.6 + 3.0 * exp(-i / 120.0) + 0.25 * tr_rng_normal(&rng);
        c[i] = (i % 97 == 5) ? NAN : 0.2 + 0.6 * (1 - exp(-i / 150.0)) + 0.05 * tr_rng_normal(&rng);
        lr[i] = 3e-4 *
                (i < 50 ? (i + 1) / 50.0 : 0.5 * (1 + cos(3.14159265358979 * (i - 50) / (N - 50))));
    }
    char *svg = NULL;
    tr_series s2[2] = {{"teacher <ce>", x, a, N, NULL}, {"student & kd", x, b, N, NULL}};
    tr_line_chart lc = {.title = "Loss <train & eval>",
                        .x_label = "step",
                        .y_label = "loss",
                        .series = s2,
                        .n_series = 2,
                        .smooth = tr_ema_auto_alpha(N)};
    if (tr_svg_line_chart(&lc, &svg, &err) == 0)
        tr_report_figure(r, "g-loss", svg, "two series, smoothed");
    free(svg);
    tr_series s1 = {"accuracy", x, c, N, NULL};
    tr_line_chart ac = {.title = "Accuracy with gaps",
                        .x_label = "step",
                        .y_label = "accuracy",
                        .series = &s1,
                        .n_series = 1};
    if (tr_svg_line_chart(&ac, &svg, &err) == 0) tr_report_figure(r, "g-acc", svg, "NaN gaps");
    free(svg);
    static double gn[N];
    for (int i = 0; i < N; i++)
        gn[i] = 0.05 * exp(3 * sin(i / 40.0)) * (1 + 0.3 * tr_rng_uniform(&rng));
    tr_series sg = {"grad_norm", x, gn, N, NULL};
    tr_line_chart gc = {.title = "Gradient norm (log y)",
                        .x_label = "step",
                        .y_label = "norm",
                        .series = &sg,
                        .n_series = 1,
                        .log_y = 1,
                        .smooth = 0.8};
    if (tr_svg_line_chart(&gc, &svg, &err) == 0) tr_report_figure(r, "g-grad", svg, "log axis");
    free(svg);
    tr_series sl = {"lr", x, lr, N, NULL};
    tr_line_chart lrc = {
        .title = "Learning rate", .x_label = "step", .y_label = "lr", .series = &sl, .n_series = 1};
    if (tr_svg_line_chart(&lrc, &svg, &err) == 0) tr_report_figure(r, "g-lr", svg, "small values");
    free(svg);
    double one_x = 1000, one_y = 1.5e6;
    tr_series so = {"tokens", &one_x, &one_y, 1, NULL};
    tr_line_chart oc = {
        .title = "One point", .x_label = "step", .y_label = "tokens", .series = &so, .n_series = 1};
    if (tr_svg_line_chart(&oc, &svg, &err) == 0) tr_report_figure(r, "g-one", svg, "a dot");
    free(svg);
    double none[3] = {NAN, NAN, NAN};
    tr_series sn = {"nothing", NULL, none, 3, NULL};
    tr_line_chart ncc = {.title = "No data", .x_label = "step", .series = &sn, .n_series = 1};
    if (tr_svg_line_chart(&ncc, &svg, &err) == 0) tr_report_figure(r, "g-none", svg, "no data");
    free(svg);

    tr_report_heading(r, 2, "Bar charts");
    const char *tasks[5] = {"add", "mul", "countdown", "gsm8k", "math500"};
    const char *models[3] = {"base", "r1-zero", "distilled <kd>"};
    double v[15], lo[15], hi[15];
    for (int s = 0; s < 3; s++)
        for (int g = 0; g < 5; g++) {
            int i = s * 5 + g;
            v[i] = 0.1 + 0.25 * s + 0.08 * g;
            double h = 1.96 * sqrt(v[i] * (1 - v[i]) / 200);
            lo[i] = v[i] - h;
            hi[i] = v[i] + h;
        }
    v[3] = NAN;
    tr_bar_chart bc = {.title = "Accuracy by task (95% CI)",
                       .y_label = "pass@1",
                       .groups = tasks,
                       .n_groups = 5,
                       .series_names = models,
                       .n_series = 3,
                       .value = v,
                       .lo = lo,
                       .hi = hi,
                       .y_max = 1,
                       .show_values = 1};
    if (tr_svg_bar_chart(&bc, &svg, &err) == 0) tr_report_figure(r, "g-bars", svg, "grouped, CIs");
    free(svg);
    const char *long_groups[6] = {"arithmetic (two-digit addition)",
                                  "multiplication",
                                  "countdown (TinyZero)",
                                  "word problems (en)",
                                  "word problems (zh)",
                                  "GSM8K test"};
    const char *one_series[1] = {"teacher"};
    double v6[6] = {0.95, 0.7, 0.42, 0.55, 0.5, 0.31};
    tr_bar_chart lb = {.title = "Long labels",
                       .y_label = "accuracy",
                       .groups = long_groups,
                       .n_groups = 6,
                       .series_names = one_series,
                       .n_series = 1,
                       .value = v6,
                       .show_values = 1};
    if (tr_svg_bar_chart(&lb, &svg, &err) == 0)
        tr_report_figure(r, "g-long", svg, "rotated labels");
    free(svg);
    tr_report_heading(r, 2, "Tables");
    const char *head[4] = {"model", "add", "countdown", "note"};
    const char *row1[4] = {"base", "0.12 [0.08, 0.17]", "0.01", "pretrained <only>"};
    const char *row2[4] = {"r1-zero", "0.61 [0.54, 0.68]", "0.22", "GRPO & rules"};
    tr_report_table_begin(r, "accuracy with 95% CIs", 4, head);
    tr_report_table_row(r, row1);
    tr_report_table_row(r, row2);
    tr_report_table_end(r);
    int rc = tr_report_write(r, dir, &err);
    if (rc != 0) fprintf(stderr, "gallery: %s\n", err.msg);
    tr_report_free(r);
    return rc != 0;
}

int main(int argc, char **argv) {
    char tmp[] = "/tmp/tinyr1_report_XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_ticks();
    test_format();
    test_ema();
    test_line_chart();
    test_bar_chart();
    test_builder(tmp);
    test_metric_log();
    test_run_report(tmp);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    if (argc > 1) CHECK(gallery(argv[1]) == 0);
    return tu_finish("test_report");
}
