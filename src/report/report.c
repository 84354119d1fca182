/* The report builder: blocks (headings, paragraphs, tables, figures, code) rendered as
 * Markdown and as one self-contained HTML page. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "tinyr1/report.h"

typedef enum { B_HEADING, B_PARAGRAPH, B_CODE, B_TABLE, B_FIGURE } block_kind;

typedef struct block {
    block_kind kind;
    int level;      /* heading */
    char *text;     /* heading, paragraph, code; figure caption; table caption */
    char *name;     /* figure file name (no .svg) */
    char *svg;      /* figure */
    int n_cols;     /* table */
    char **cells;   /* table: (1 + n_rows) x n_cols, the header row first */
    int64_t n_rows; /* table body rows */
    int64_t cap_rows;
} block;

struct tr_report {
    char *title;
    block *blocks;
    int n, cap;
    int open_table; /* index of the table being filled, -1 when none */
    int failed;     /* a builder call failed: tr_report_write reports it */
    tr_err err;
};

static char *dup_str(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

static int report_fail(tr_report *r, const char *fmt, const char *what) {
    if (!r->failed) snprintf(r->err.msg, sizeof r->err.msg, fmt, what);
    r->failed = 1;
    return -1;
}

tr_report *tr_report_new(const char *title, tr_err *err) {
    tr_report *r = tr_calloc(1, sizeof *r, err);
    if (!r) return NULL;
    r->title = dup_str(title ? title : "tinyr1 report");
    r->open_table = -1;
    if (!r->title) {
        free(r);
        tr_fail(err, "tr_report_new: out of memory");
        return NULL;
    }
    return r;
}

void tr_report_free(tr_report *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        block *b = &r->blocks[i];
        free(b->text);
        free(b->name);
        free(b->svg);
        if (b->cells)
            for (int64_t k = 0; k < (b->n_rows + 1) * b->n_cols; k++) free(b->cells[k]);
        free(b->cells);
    }
    free(r->blocks);
    free(r->title);
    free(r);
}

static block *push(tr_report *r, block_kind kind) {
    if (r->open_table >= 0 && kind != B_TABLE) {
        report_fail(r, "%s: a table is still open (call tr_report_table_end)", "tr_report");
        return NULL;
    }
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        block *nb = realloc(r->blocks, (size_t)cap * sizeof *nb);
        if (!nb) {
            report_fail(r, "%s: out of memory", "tr_report");
            return NULL;
        }
        r->blocks = nb;
        r->cap = cap;
    }
    block *b = &r->blocks[r->n++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    return b;
}

static int push_text(tr_report *r, block_kind kind, int level, const char *text) {
    block *b = push(r, kind);
    if (!b) return -1;
    b->level = level;
    b->text = dup_str(text);
    if (!b->text) return report_fail(r, "%s: out of memory", "tr_report");
    return 0;
}

int tr_report_heading(tr_report *r, int level, const char *text) {
    if (level < 2 || level > 4)
        return report_fail(r, "tr_report_heading: level must be 2..4 (%s)", text ? text : "");
    return push_text(r, B_HEADING, level, text);
}

int tr_report_paragraph(tr_report *r, const char *text) {
    return push_text(r, B_PARAGRAPH, 0, text);
}

int tr_report_paragraphf(tr_report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return report_fail(r, "%s: bad format", "tr_report_paragraphf");
    char *s = malloc((size_t)n + 1);
    if (!s) return report_fail(r, "%s: out of memory", "tr_report");
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = push_text(r, B_PARAGRAPH, 0, s);
    free(s);
    return rc;
}

int tr_report_code(tr_report *r, const char *text) {
    return push_text(r, B_CODE, 0, text);
}

int tr_report_table_begin(tr_report *r, const char *caption, int n_cols,
                          const char *const *headers) {
    if (n_cols < 1 || !headers)
        return report_fail(r, "tr_report_table_begin: need n_cols >= 1 and headers (%s)",
                           caption ? caption : "");
    block *b = push(r, B_TABLE);
    if (!b) return -1;
    r->open_table = r->n - 1;
    b->text = caption ? dup_str(caption) : NULL;
    b->n_cols = n_cols;
    b->cap_rows = 8;
    b->cells = calloc((size_t)(b->cap_rows + 1) * (size_t)n_cols, sizeof *b->cells);
    if (!b->cells || (caption && !b->text)) return report_fail(r, "%s: out of memory", "tr_report");
    for (int k = 0; k < n_cols; k++)
        if (!(b->cells[k] = dup_str(headers[k])))
            return report_fail(r, "%s: out of memory", "tr_report");
    return 0;
}

int tr_report_table_row(tr_report *r, const char *const *cells) {
    if (r->open_table < 0)
        return report_fail(r, "%s: no open table (call tr_report_table_begin)",
                           "tr_report_table_row");
    block *b = &r->blocks[r->open_table];
    if (b->n_rows == b->cap_rows) {
        int64_t cap = 2 * b->cap_rows;
        char **nc = realloc(b->cells, (size_t)(cap + 1) * (size_t)b->n_cols * sizeof *nc);
        if (!nc) return report_fail(r, "%s: out of memory", "tr_report");
        memset(nc + (b->cap_rows + 1) * b->n_cols, 0,
               (size_t)(cap - b->cap_rows) * (size_t)b->n_cols * sizeof *nc);
        b->cells = nc;
        b->cap_rows = cap;
    }
    char **row = b->cells + (b->n_rows + 1) * b->n_cols;
    b->n_rows++;
    for (int k = 0; k < b->n_cols; k++)
        if (!(row[k] = dup_str(cells ? cells[k] : NULL)))
            return report_fail(r, "%s: out of memory", "tr_report");
    return 0;
}

int tr_report_table_end(tr_report *r) {
    if (r->open_table < 0) return report_fail(r, "%s: no open table", "tr_report_table_end");
    r->open_table = -1;
    return 0;
}

static int valid_name(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 100) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i])) return 0;
    return 1;
}

int tr_report_figure(tr_report *r, const char *name, const char *svg, const char *caption) {
    if (!valid_name(name))
        return report_fail(r,
                           "tr_report_figure: name '%s' must be 1-100 characters of "
                           "[A-Za-z0-9._-]",
                           name ? name : "(null)");
    if (!svg || strncmp(svg, "<svg", 4) != 0)
        return report_fail(r, "tr_report_figure: '%s' is not an <svg> string", name);
    for (int i = 0; i < r->n; i++)
        if (r->blocks[i].kind == B_FIGURE && strcmp(r->blocks[i].name, name) == 0)
            return report_fail(r, "tr_report_figure: the name '%s' is used twice", name);
    block *b = push(r, B_FIGURE);
    if (!b) return -1;
    b->name = dup_str(name);
    b->svg = dup_str(svg);
    b->text = dup_str(caption);
    if (!b->name || !b->svg || !b->text) return report_fail(r, "%s: out of memory", "tr_report");
    return 0;
}

/* ---- rendering ---------------------------------------------------------------------------- */

/* Markdown text: backslash-escapes the characters that start markup, so text stays text. */
static void md_text(tr_sb *b, const char *s, int in_table) {
    for (; s && *s; s++) {
        if (strchr("\\`*_[]<>#|", *s)) tr_sb_putn(b, "\\", 1);
        if (in_table && (*s == '\n' || *s == '\r'))
            tr_sb_put(b, " ");
        else
            tr_sb_putn(b, s, 1);
    }
}

/* A cell that starts with a number ("61.5%", "-3", "1.2M", "10m02s") */
static int numeric_cell(const char *s) {
    if (*s == '+' || *s == '-') s++;
    if (*s == '.') s++;
    return isdigit((unsigned char)*s);
}

/* Per column, 1 if every non-empty cell (other than "-") is numeric: right-aligned. Uses
 * small[0..cap) when the columns fit, else a malloc'd array (free it if != small); NULL if
 * out of memory. */
static char *table_align(const block *b, char *small, size_t cap) {
    char *right = (size_t)b->n_cols <= cap ? small : malloc((size_t)b->n_cols);
    if (!right) return NULL;
    for (int k = 0; k < b->n_cols; k++) {
        int any = 0, all = 1;
        for (int64_t i = 0; i < b->n_rows; i++) {
            const char *c = b->cells[(i + 1) * b->n_cols + k];
            if (!*c || strcmp(c, "-") == 0) continue;
            any = 1;
            if (!numeric_cell(c)) all = 0;
        }
        right[k] = (char)(any && all);
    }
    return right;
}

int tr_report_markdown(const tr_report *r, char **out, tr_err *err) {
    *out = NULL;
    tr_sb b = {0};
    tr_sb_put(&b, "# ");
    md_text(&b, r->title, 0);
    tr_sb_put(&b, "\n\n");
    for (int i = 0; i < r->n; i++) {
        const block *k = &r->blocks[i];
        switch (k->kind) {
        case B_HEADING:
            tr_sb_printf(&b, "%.*s ", k->level, "####");
            md_text(&b, k->text, 0);
            tr_sb_put(&b, "\n\n");
            break;
        case B_PARAGRAPH:
            md_text(&b, k->text, 0);
            tr_sb_put(&b, "\n\n");
            break;
        case B_CODE: {
            /* a fence longer than any backtick run inside */
            int longest = 0, run = 0;
            for (const char *p = k->text; *p; p++) {
                run = *p == '`' ? run + 1 : 0;
                if (run > longest) longest = run;
            }
            int fence = longest >= 3 ? longest + 1 : 3;
            for (int f = 0; f < fence; f++) tr_sb_put(&b, "`");
            tr_sb_put(&b, "\n");
            tr_sb_put(&b, k->text);
            if (!*k->text || k->text[strlen(k->text) - 1] != '\n') tr_sb_put(&b, "\n");
            for (int f = 0; f < fence; f++) tr_sb_put(&b, "`");
            tr_sb_put(&b, "\n\n");
            break;
        }
        case B_TABLE: {
            char right[256];
            char *align = table_align(k, right, sizeof right);
            if (!align) break;
            if (k->text) {
                tr_sb_put(&b, "*");
                md_text(&b, k->text, 0);
                tr_sb_put(&b, "*\n\n");
            }
            for (int64_t row = 0; row <= k->n_rows; row++) {
                tr_sb_put(&b, "|");
                for (int c = 0; c < k->n_cols; c++) {
                    tr_sb_put(&b, " ");
                    md_text(&b, k->cells[row * k->n_cols + c], 1);
                    tr_sb_put(&b, " |");
                }
                tr_sb_put(&b, "\n");
                if (row == 0) {
                    tr_sb_put(&b, "|");
                    for (int c = 0; c < k->n_cols; c++) tr_sb_put(&b, align[c] ? "---:|" : "---|");
                    tr_sb_put(&b, "\n");
                }
            }
            tr_sb_put(&b, "\n");
            if (align != right) free(align);
            break;
        }
        case B_FIGURE:
            tr_sb_put(&b, "![");
            md_text(&b, k->text, 1);
            tr_sb_printf(&b, "](%s.svg)\n\n", k->name);
            break;
        }
    }
    *out = tr_sb_take(&b);
    if (!*out) return tr_fail(err, "tr_report_markdown: out of memory");
    return 0;
}

static const char css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;background:#f3f4f6;color:#1f2328;font:15px/1.5 'DejaVu Sans',-apple-system,"
    "'Segoe UI',Helvetica,Arial,sans-serif}"
    "main{max-width:1320px;margin:0 auto;padding:24px 36px 48px;background:#fff;min-height:100vh}"
    "h1{font-size:26px;margin:8px 0 16px}"
    "h2{font-size:21px;margin:36px 0 12px;padding-bottom:4px;border-bottom:1px solid #d0d7de}"
    "h3{font-size:17px;margin:24px 0 8px}h4{font-size:15px;margin:18px 0 6px}"
    "p{margin:8px 0;max-width:80em}"
    "table{border-collapse:collapse;margin:10px 0 18px;font-size:13.5px}"
    "caption{caption-side:top;text-align:left;font-style:italic;color:#57606a;padding:2px 0}"
    "th,td{border:1px solid #d0d7de;padding:4px 10px;vertical-align:top}"
    "th{background:#f6f8fa;text-align:left}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tbody tr:nth-child(even){background:#fafbfc}"
    "pre{background:#f6f8fa;border:1px solid #d0d7de;padding:10px;overflow:auto;font-size:13px}"
    ".figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px;"
    "margin:10px 0 18px}"
    "figure{margin:0;border:1px solid #e1e4e8;border-radius:4px;padding:6px;background:#fff}"
    "figure svg{display:block;width:100%;height:auto}"
    "figcaption{font-size:13px;color:#57606a;padding:4px 2px 0}"
    "footer{margin-top:40px;color:#8c959f;font-size:12px}";

int tr_report_html(const tr_report *r, char **out, tr_err *err) {
    *out = NULL;
    tr_sb b = {0};
    tr_sb_put(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>");
    tr_sb_put_xml(&b, r->title);
    tr_sb_printf(&b, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<h1>", css);
    tr_sb_put_xml(&b, r->title);
    tr_sb_put(&b, "</h1>\n");
    int in_figs = 0;
    for (int i = 0; i < r->n; i++) {
        const block *k = &r->blocks[i];
        if (in_figs && k->kind != B_FIGURE) {
            tr_sb_put(&b, "</div>\n");
            in_figs = 0;
        }
        switch (k->kind) {
        case B_HEADING:
            tr_sb_printf(&b, "<h%d>", k->level);
            tr_sb_put_xml(&b, k->text);
            tr_sb_printf(&b, "</h%d>\n", k->level);
            break;
        case B_PARAGRAPH:
            tr_sb_put(&b, "<p>");
            tr_sb_put_xml(&b, k->text);
            tr_sb_put(&b, "</p>\n");
            break;
        case B_CODE:
            tr_sb_put(&b, "<pre>");
            tr_sb_put_xml(&b, k->text);
            tr_sb_put(&b, "</pre>\n");
            break;
        case B_TABLE: {
            char right[256];
            char *align = table_align(k, right, sizeof right);
            if (!align) break;
            tr_sb_put(&b, "<table>\n");
            if (k->text) {
                tr_sb_put(&b, "<caption>");
                tr_sb_put_xml(&b, k->text);
                tr_sb_put(&b, "</caption>\n");
            }
            for (int64_t row = 0; row <= k->n_rows; row++) {
                if (row == 0) tr_sb_put(&b, "<thead>");
                if (row == 1) tr_sb_put(&b, "<tbody>\n");
                tr_sb_put(&b, "<tr>");
                for (int c = 0; c < k->n_cols; c++) {
                    const char *tag = row == 0 ? "th" : "td";
                    tr_sb_printf(&b, "<%s%s>", tag, align[c] ? " class=\"num\"" : "");
                    tr_sb_put_xml(&b, k->cells[row * k->n_cols + c]);
                    tr_sb_printf(&b, "</%s>", tag);
                }
                tr_sb_put(&b, "</tr>");
                tr_sb_put(&b, row == 0 ? "</thead>\n" : "\n");
            }
            if (k->n_rows > 0) tr_sb_put(&b, "</tbody>\n");
            tr_sb_put(&b, "</table>\n");
            if (align != right) free(align);
            break;
        }
        case B_FIGURE:
            if (!in_figs) {
                tr_sb_put(&b, "<div class=\"figs\">\n");
                in_figs = 1;
            }
            tr_sb_put(&b, "<figure id=\"");
            tr_sb_put_xml(&b, k->name);
            tr_sb_put(&b, "\">\n");
            tr_sb_put(&b, k->svg);
            if (*k->text) {
                tr_sb_put(&b, "<figcaption>");
                tr_sb_put_xml(&b, k->text);
                tr_sb_put(&b, "</figcaption>\n");
            }
            tr_sb_put(&b, "</figure>\n");
            break;
        }
    }
    if (in_figs) tr_sb_put(&b, "</div>\n");
    tr_sb_printf(&b, "<footer>written by tinyr1 %s</footer>\n</main>\n</body>\n</html>\n",
                 TR_VERSION);
    *out = tr_sb_take(&b);
    if (!*out) return tr_fail(err, "tr_report_html: out of memory");
    return 0;
}

int tr_report_write(const tr_report *r, const char *dir, tr_err *err) {
    if (r->failed) return tr_fail(err, "%s", r->err.msg);
    if (r->open_table >= 0)
        return tr_fail(err, "tr_report_write: a table is still open (call tr_report_table_end)");
    if (tr_mkdirs(dir, err) != 0) return -1;
    char path[4096];
    for (int i = 0; i < r->n; i++) {
        const block *k = &r->blocks[i];
        if (k->kind != B_FIGURE) continue;
        if (snprintf(path, sizeof path, "%s/%s.svg", dir, k->name) >= (int)sizeof path)
            return tr_fail(err, "%s: path too long", dir);
        if (tr_write_file_atomic(path, k->svg, strlen(k->svg), err) != 0) return -1;
    }
    char *md = NULL, *html = NULL;
    int rc = -1;
    if (tr_report_markdown(r, &md, err) != 0 || tr_report_html(r, &html, err) != 0) goto done;
    snprintf(path, sizeof path, "%s/report.md", dir);
    if (tr_write_file_atomic(path, md, strlen(md), err) != 0) goto done;
    snprintf(path, sizeof path, "%s/report.html", dir);
    if (tr_write_file_atomic(path, html, strlen(html), err) != 0) goto done;
    rc = 0;
done:
    free(md);
    free(html);
    return rc;
}
