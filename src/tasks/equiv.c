/* Answer equivalence: LaTeX normalization, exact evaluation of numeric answers, tuples,
 * intervals, sets and matrices element by element. The rules are listed in tasks.h
 * (tr_answer_canonical_math); this file applies them in four passes:
 *   1. prepass:  decorations, spacing commands, \text unwrapping, unicode signs
 *   2. units:    trailing unit words and \text{} units dropped
 *   3. lhs:      "x =" / "x \in" dropped
 *   4. tokens:   whitespace removed, arguments braced, redundant braces dropped
 * then splits the result into a structure (tuple, set, list, union, matrix) whose atoms
 * are numbers (exact fractions or doubles) or normalized strings. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks_internal.h"

#define EQ_MAX_INPUT 4096
#define EQ_MAX_DEPTH 16
#define EQ_MAX_PARTS 64

static int is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit(char c) {
    return c >= '0' && c <= '9';
}
static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Index of the '}' matching the '{' at s[open], skipping \{ and \}; n if unmatched. */
static size_t match_brace(const char *s, size_t n, size_t open) {
    int depth = 0;
    for (size_t i = open; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (s[i] == '{') depth++;
        if (s[i] == '}' && --depth == 0) return i;
    }
    return n;
}

/* ==== pass 1: prepass ===================================================================== */

typedef struct text_seg {
    size_t start, end; /* content range in the output */
    int valid;
} text_seg;

static int name_is(const char *name, size_t len, const char *lit) {
    return strlen(lit) == len && memcmp(name, lit, len) == 0;
}

static int is_text_cmd(const char *name, size_t len) {
    static const char *const cmds[] = {"text",   "textbf", "textrm",  "textit",       "textnormal",
                                       "textsf", "texttt", "mbox",    "mathrm",       "mathbf",
                                       "mathit", "mathsf", "hbox",    "boldsymbol",   "textup",
                                       "emph",   "mathbb", "mathcal", "operatorname", NULL};
    for (int i = 0; cmds[i]; i++)
        if (name_is(name, len, cmds[i])) return 1;
    return 0;
}

static void prepass(const char *s, size_t n, tr_sb *out, text_seg *last_text, int depth) {
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        const unsigned char *u = (const unsigned char *)s + i;
        if (c == '$' || c == '%') {
            i++;
            continue;
        }
        if (c == '~') {
            tr_sb_putc(out, ' ');
            i++;
            continue;
        }
        if (c == '^') {
            /* ^\circ and ^{\circ}: degrees, dropped */
            size_t j = i + 1;
            while (j < n && is_space(s[j])) j++;
            if (j + 5 <= n && memcmp(s + j, "\\circ", 5) == 0 &&
                (j + 5 == n || !is_alpha(s[j + 5]))) {
                i = j + 5;
                continue;
            }
            if (j < n && s[j] == '{') {
                size_t k = j + 1;
                while (k < n && is_space(s[k])) k++;
                if (k + 5 <= n && memcmp(s + k, "\\circ", 5) == 0) {
                    size_t m = k + 5;
                    while (m < n && is_space(s[m])) m++;
                    if (m < n && s[m] == '}') {
                        i = m + 1;
                        continue;
                    }
                }
            }
            tr_sb_putc(out, c);
            i++;
            continue;
        }
        if (u[0] == 0xE2 && i + 2 < n) {
            const char *rep = NULL;
            if (u[1] == 0x88 && u[2] == 0x92) rep = "-";
            if (u[1] == 0x88 && u[2] == 0x9E) rep = "\\infty ";
            if (u[1] == 0x88 && u[2] == 0x9A) rep = "\\sqrt";
            if (u[1] == 0x89 && u[2] == 0xA4) rep = "\\leq ";
            if (u[1] == 0x89 && u[2] == 0xA5) rep = "\\geq ";
            if (u[1] == 0x80 && (u[2] == 0x93 || u[2] == 0x94)) rep = "-";
            if (rep) {
                tr_sb_put(out, rep);
                i += 3;
                continue;
            }
        }
        if (u[0] == 0xC3 && i + 1 < n && (u[1] == 0x97 || u[1] == 0xB7)) {
            tr_sb_put(out, u[1] == 0x97 ? "\\times " : "\\div ");
            i += 2;
            continue;
        }
        if (u[0] == 0xC2 && i + 1 < n && (u[1] == 0xB0 || u[1] == 0xB7)) {
            if (u[1] == 0xB7) tr_sb_put(out, "\\cdot ");
            i += 2; /* the degree sign is dropped */
            continue;
        }
        if (u[0] == 0xCF && i + 1 < n && u[1] == 0x80) {
            tr_sb_put(out, "\\pi ");
            i += 2;
            continue;
        }
        if (c != '\\') {
            tr_sb_putc(out, c);
            i++;
            continue;
        }
        /* a command */
        if (i + 1 >= n) {
            i++;
            continue;
        }
        if (!is_alpha(s[i + 1])) {
            char d = s[i + 1];
            i += 2;
            if (d == '!') continue;
            if (d == ',' || d == ';' || d == ':' || d == ' ') {
                tr_sb_putc(out, ' ');
                continue;
            }
            if (d == '$' || d == '%') { /* \$ and \% are dropped like $ and % */
                tr_sb_putc(out, ' ');
                continue;
            }
            tr_sb_putc(out, '\\');
            tr_sb_putc(out, d);
            continue;
        }
        size_t j = i + 1;
        while (j < n && is_alpha(s[j])) j++;
        const char *name = s + i + 1;
        size_t len = j - i - 1;
        if (name_is(name, len, "left") || name_is(name, len, "right") ||
            name_is(name, len, "bigl") || name_is(name, len, "bigr") ||
            name_is(name, len, "Bigl") || name_is(name, len, "Bigr") || name_is(name, len, "big") ||
            name_is(name, len, "Big")) {
            i = j;
            if (i < n && s[i] == '.') i++; /* \left. and \right. are invisible */
            continue;
        }
        if (name_is(name, len, "displaystyle") || name_is(name, len, "limits") ||
            name_is(name, len, "nolimits") || name_is(name, len, "circ")) {
            i = j;
            continue;
        }
        if (name_is(name, len, "quad") || name_is(name, len, "qquad")) {
            tr_sb_putc(out, ' ');
            i = j;
            continue;
        }
        if (name_is(name, len, "dfrac") || name_is(name, len, "tfrac")) {
            tr_sb_put(out, "\\frac");
            i = j;
            continue;
        }
        if (name_is(name, len, "dbinom") || name_is(name, len, "tbinom")) {
            tr_sb_put(out, "\\binom");
            i = j;
            continue;
        }
        if (name_is(name, len, "boxed") || name_is(name, len, "fbox")) {
            size_t k = j;
            while (k < n && is_space(s[k])) k++;
            size_t close = k < n && s[k] == '{' ? match_brace(s, n, k) : n;
            if (close < n && depth < EQ_MAX_DEPTH) {
                prepass(s + k + 1, close - k - 1, out, last_text, depth + 1);
                i = close + 1;
            } else {
                i = j; /* "\boxed 5": the box is dropped, its token stays */
            }
            continue;
        }
        if (is_text_cmd(name, len)) {
            size_t k = j;
            while (k < n && is_space(s[k])) k++;
            if (k < n && s[k] == '{') {
                size_t close = match_brace(s, n, k);
                if (close < n) {
                    size_t start = out->len;
                    if (depth < EQ_MAX_DEPTH)
                        prepass(s + k + 1, close - k - 1, out, last_text, depth + 1);
                    else
                        tr_sb_putn(out, s + k + 1, close - k - 1);
                    last_text->start = start;
                    last_text->end = out->len;
                    last_text->valid = 1;
                    i = close + 1;
                    continue;
                }
            }
            i = j; /* \text without an argument: dropped */
            continue;
        }
        tr_sb_putn(out, s + i, j - i);
        i = j;
    }
}

/* ==== pass 2: units ======================================================================== */

static size_t trim_end(const char *s, size_t e) {
    while (e > 0 && is_space(s[e - 1])) e--;
    return e;
}

/* Length of a trailing "^2", "^3", "^{2}", "^{3}" ending at e (0 if none). */
static size_t power_suffix(const char *s, size_t e) {
    if (e >= 2 && s[e - 2] == '^' && (s[e - 1] == '2' || s[e - 1] == '3')) return 2;
    if (e >= 4 && s[e - 4] == '^' && s[e - 3] == '{' && (s[e - 2] == '2' || s[e - 2] == '3') &&
        s[e - 1] == '}')
        return 4;
    return 0;
}

/* 1 if s[0..n) has no letters outside \commands and is not blank. */
static int no_bare_letters(const char *s, size_t n) {
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            i++;
            while (i < n && is_alpha(s[i])) i++;
            i--;
            any = 1;
            continue;
        }
        if (is_alpha(s[i])) return 0;
        if (!is_space(s[i])) any = 1;
    }
    return any;
}

static void strip_units(tr_sb *b, const text_seg *seg) {
    if (!b->s) return;
    size_t e = trim_end(b->s, b->len);
    size_t e2 = trim_end(b->s, e - power_suffix(b->s, e));
    /* a trailing \text{...} unit */
    if (seg->valid && seg->start > 0) {
        size_t ce = trim_end(b->s, seg->end);
        if (ce == e2 && ce > seg->start) {
            int words = 1;
            for (size_t i = seg->start; i < ce; i++)
                if (!is_alpha(b->s[i]) && !is_space(b->s[i]) && b->s[i] != '.') words = 0;
            if (words && no_bare_letters(b->s, seg->start)) {
                b->len = seg->start;
                b->s[b->len] = 0;
                e = trim_end(b->s, b->len);
                e2 = trim_end(b->s, e - power_suffix(b->s, e));
            }
        }
    }
    /* trailing plain words ("18 dollars", "5 square feet") */
    size_t p = e2, first_word = e2;
    int n_words = 0;
    for (;;) {
        size_t w = p;
        while (w > 0 && is_alpha(b->s[w - 1])) w--;
        if (p - w < 2 || w == 0 || !is_space(b->s[w - 1])) break;
        n_words++;
        first_word = w;
        p = trim_end(b->s, w);
        if (p == 0) break;
    }
    if (n_words > 0 && p > 0 && no_bare_letters(b->s, p)) {
        b->len = trim_end(b->s, first_word);
        b->s[b->len] = 0;
    }
}

/* ==== pass 3: "x =" ======================================================================== */

static size_t strip_lhs(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && is_space(s[i])) i++;
    if (i < n && is_alpha(s[i])) {
        i++;
    } else if (i < n && s[i] == '\\') {
        i++;
        size_t st = i;
        while (i < n && is_alpha(s[i])) i++;
        if (i == st) return 0;
        static const char *const greek[] = {"alpha", "beta", "gamma", "theta", "lambda",
                                            "mu",    "phi",  "omega", NULL};
        int ok = 0;
        for (int g = 0; greek[g]; g++)
            if (name_is(s + st, i - st, greek[g])) ok = 1;
        if (!ok) return 0;
    } else {
        return 0;
    }
    if (i < n && s[i] == '_') {
        i++;
        if (i < n && s[i] == '{') {
            size_t c = match_brace(s, n, i);
            if (c >= n) return 0;
            i = c + 1;
        } else if (i < n) {
            i++;
        }
    }
    while (i < n && is_space(s[i])) i++;
    size_t rest;
    if (i < n && s[i] == '=') {
        rest = i + 1;
    } else if (i + 3 <= n && memcmp(s + i, "\\in", 3) == 0 && (i + 3 == n || !is_alpha(s[i + 3]))) {
        rest = i + 3;
    } else {
        return 0;
    }
    for (size_t k = rest; k < n; k++)
        if (s[k] == '=') return 0; /* "x = y = 3" and equations stay whole */
    size_t k = rest;
    while (k < n && is_space(s[k])) k++;
    return k < n ? rest : 0;
}

/* ==== pass 4: tokens ======================================================================= */

typedef struct tok {
    size_t start, len;
    int cmd; /* 1: a \command (letters or one symbol) */
} tok;

typedef struct toks {
    const char *s;
    tok *t;
    size_t n;
} toks;

static int tokenize(const char *s, size_t n, toks *ts) {
    ts->s = s;
    ts->n = 0;
    ts->t = malloc((n + 1) * sizeof *ts->t);
    if (!ts->t) return -1;
    size_t i = 0;
    while (i < n) {
        if (is_space(s[i])) {
            i++;
            continue;
        }
        tok t = {i, 1, 0};
        if (s[i] == '\\' && i + 1 < n) {
            t.cmd = 1;
            size_t j = i + 1;
            if (is_alpha(s[j])) {
                while (j < n && is_alpha(s[j])) j++;
            } else {
                j++;
            }
            t.len = j - i;
        } else if ((unsigned char)s[i] >= 0xC0) {
            size_t j = i + 1;
            while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
            t.len = j - i;
        }
        ts->t[ts->n++] = t;
        i += t.len;
    }
    return 0;
}

static int tok_is(const toks *ts, size_t i, const char *lit) {
    return i < ts->n && ts->t[i].len == strlen(lit) &&
           memcmp(ts->s + ts->t[i].start, lit, ts->t[i].len) == 0;
}

static size_t tok_match(const toks *ts, size_t open, size_t end) {
    int depth = 0;
    for (size_t i = open; i < end; i++) {
        if (tok_is(ts, i, "{")) depth++;
        if (tok_is(ts, i, "}") && --depth == 0) return i;
    }
    return end;
}

typedef struct emitter {
    tr_sb *out;
    int last_alpha_cmd; /* the last thing written was \letters: a letter after it needs a space */
} emitter;

static void emit_text(emitter *em, const char *s, size_t n) {
    if (n == 0) return;
    if (em->last_alpha_cmd && is_alpha(s[0])) tr_sb_putc(em->out, ' ');
    tr_sb_putn(em->out, s, n);
    em->last_alpha_cmd = n >= 2 && s[0] == '\\' && is_alpha(s[n - 1]);
}

static void emit_tok(emitter *em, const toks *ts, size_t i) {
    const char *p = ts->s + ts->t[i].start;
    size_t n = ts->t[i].len;
    static const char *const alias[][2] = {
        {"\\le", "\\leq"},      {"\\ge", "\\geq"}, {"\\ne", "\\neq"},   {"\\lbrace", "\\{"},
        {"\\rbrace", "\\}"},    {"\\lvert", "|"},  {"\\rvert", "|"},    {"\\vert", "|"},
        {"\\lbrack", "["},      {"\\rbrack", "]"}, {"\\neg", "\\lnot"}, {"\\to", "\\rightarrow"},
        {"\\infin", "\\infty"}, {NULL, NULL}};
    if (ts->t[i].cmd)
        for (int a = 0; alias[a][0]; a++)
            if (strlen(alias[a][0]) == n && memcmp(p, alias[a][0], n) == 0) {
                emit_text(em, alias[a][1], strlen(alias[a][1]));
                return;
            }
    emit_text(em, p, n);
}

static size_t emit_range(emitter *em, const toks *ts, size_t i, size_t end, int depth, int *units);

/* An argument of ^ _ \sqrt \frac \binom: always braced. */
static size_t emit_arg(emitter *em, const toks *ts, size_t i, size_t end, int depth) {
    if (i >= end) return i;
    tr_sb_putc(em->out, '{');
    em->last_alpha_cmd = 0;
    int units = 0;
    if (tok_is(ts, i, "{")) {
        size_t c = tok_match(ts, i, end);
        if (c < end) {
            emit_range(em, ts, i + 1, c, depth + 1, &units);
            i = c + 1;
        } else {
            i = end; /* unbalanced: take the rest */
        }
    } else {
        emit_tok(em, ts, i);
        i++;
    }
    tr_sb_putc(em->out, '}');
    em->last_alpha_cmd = 0;
    return i;
}

/* 1 if s is one unit: one char, one \command, or an unsigned number. */
static int single_unit(const char *s, size_t n) {
    if (n == 0) return 0;
    if (n == 1) return 1;
    if (s[0] == '\\') {
        size_t i = 1;
        if (is_alpha(s[1]))
            while (i < n && is_alpha(s[i])) i++;
        else
            i = 2;
        return i == n;
    }
    if ((unsigned char)s[0] >= 0xC0) {
        size_t i = 1;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        return i == n;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]) && s[i] != '.') return 0;
    return 1;
}

static size_t emit_range(emitter *em, const toks *ts, size_t i, size_t end, int depth, int *units) {
    while (i < end) {
        (*units)++;
        if (depth > EQ_MAX_DEPTH) {
            emit_tok(em, ts, i);
            i++;
            continue;
        }
        if (tok_is(ts, i, "{")) {
            size_t c = tok_match(ts, i, end);
            if (c >= end) {
                emit_tok(em, ts, i);
                i++;
                continue;
            }
            /* a bare group: drop its braces when it holds one unit and no ^ or _ follows */
            tr_sb inner = {0};
            emitter sub = {&inner, 0};
            int u = 0;
            emit_range(&sub, ts, i + 1, c, depth + 1, &u);
            int follows_script = tok_is(ts, c + 1, "^") || tok_is(ts, c + 1, "_");
            if (inner.s && single_unit(inner.s, inner.len) && !follows_script) {
                emit_text(em, inner.s, inner.len);
            } else {
                tr_sb_putc(em->out, '{');
                em->last_alpha_cmd = 0;
                if (inner.s) emit_text(em, inner.s, inner.len);
                tr_sb_putc(em->out, '}');
                em->last_alpha_cmd = 0;
            }
            tr_sb_free(&inner);
            i = c + 1;
            continue;
        }
        if (tok_is(ts, i, "^") || tok_is(ts, i, "_")) {
            emit_tok(em, ts, i);
            i = emit_arg(em, ts, i + 1, end, depth);
            continue;
        }
        if (tok_is(ts, i, "\\sqrt")) {
            emit_tok(em, ts, i);
            i++;
            if (tok_is(ts, i, "[")) {
                size_t j = i + 1;
                while (j < end && !tok_is(ts, j, "]")) j++;
                if (j < end) {
                    tr_sb_putc(em->out, '[');
                    em->last_alpha_cmd = 0;
                    int u = 0;
                    emit_range(em, ts, i + 1, j, depth + 1, &u);
                    tr_sb_putc(em->out, ']');
                    i = j + 1;
                }
            }
            i = emit_arg(em, ts, i, end, depth);
            continue;
        }
        if (tok_is(ts, i, "\\frac") || tok_is(ts, i, "\\binom")) {
            emit_tok(em, ts, i);
            i = emit_arg(em, ts, i + 1, end, depth);
            i = emit_arg(em, ts, i, end, depth);
            continue;
        }
        emit_tok(em, ts, i);
        i++;
    }
    return i;
}

/* Passes 1-4 into out. Returns 0, -1 on oom. */
static int normalize(const char *in, tr_sb *out) {
    size_t n = strlen(in);
    tr_sb pre = {0};
    text_seg seg = {0, 0, 0};
    prepass(in, n, &pre, &seg, 0);
    if (pre.oom) return tr_sb_free(&pre), -1;
    strip_units(&pre, &seg);
    const char *s = pre.s ? pre.s : "";
    size_t len = pre.s ? pre.len : 0;
    size_t off = strip_lhs(s, len);
    toks ts;
    if (tokenize(s + off, len - off, &ts) != 0) return tr_sb_free(&pre), -1;
    emitter em = {out, 0};
    int units = 0;
    emit_range(&em, &ts, 0, ts.n, 0, &units);
    free(ts.t);
    tr_sb_free(&pre);
    if (!out->s) tr_sb_put(out, "");
    /* a trailing full stop or comma is punctuation */
    while (out->len > 0 && (out->s[out->len - 1] == '.' || out->s[out->len - 1] == ',') &&
           !(out->len >= 2 && out->s[out->len - 2] == '\\'))
        out->s[--out->len] = 0;
    return out->oom ? -1 : 0;
}

/* ==== numbers ============================================================================== */

typedef struct num {
    int exact;
    tr_tk_q q;
    double d;
} num;

typedef struct evaluator {
    const char *s, *p, *e;
    int depth;
    int bad;
} evaluator;

static num num_q(tr_tk_q q) {
    num v = {1, q, (double)q.n / (double)q.d};
    return v;
}
static num num_d(double d) {
    num v = {0, {0, 1}, d};
    return v;
}

static num num_op(char op, num a, num b, int *bad) {
    if (a.exact && b.exact) {
        tr_tk_q r;
        int rc = op == '+'   ? tr_tk_q_add(a.q, b.q, &r)
                 : op == '-' ? tr_tk_q_sub(a.q, b.q, &r)
                 : op == '*' ? tr_tk_q_mul(a.q, b.q, &r)
                             : tr_tk_q_div(a.q, b.q, &r);
        if (rc == 0) return num_q(r);
        if (op == '/' && b.q.n == 0) {
            *bad = 1;
            return num_d(0);
        }
    }
    double r = op == '+' ? a.d + b.d : op == '-' ? a.d - b.d : op == '*' ? a.d * b.d : a.d / b.d;
    if (!isfinite(r)) *bad = 1;
    return num_d(r);
}

static int64_t iroot(int64_t x, int k) {
    /* floor of the k-th root of x >= 0, exact check by the caller */
    double r = pow((double)x, 1.0 / k);
    int64_t c = (int64_t)llround(r);
    for (int64_t cand = c > 1 ? c - 1 : 0; cand <= c + 1; cand++) {
        int64_t p = 1;
        int over = 0;
        for (int j = 0; j < k; j++) {
            if (cand != 0 && p > INT64_MAX / cand) {
                over = 1;
                break;
            }
            p *= cand;
        }
        if (!over && p == x) return cand;
    }
    return -1;
}

static num num_root(num a, int k, int *bad) {
    if (a.d < 0 && k % 2 == 0) {
        *bad = 1;
        return num_d(0);
    }
    if (a.exact) {
        int neg = a.q.n < 0;
        int64_t rn = iroot(neg ? -a.q.n : a.q.n, k), rd = iroot(a.q.d, k);
        if (rn >= 0 && rd > 0) {
            tr_tk_q q;
            if (tr_tk_q_make(neg ? -rn : rn, rd, &q) == 0) return num_q(q);
        }
    }
    double r = a.d < 0 ? -pow(-a.d, 1.0 / k) : pow(a.d, 1.0 / k);
    return num_d(r);
}

static num num_pow(num a, num b, int *bad) {
    if (b.exact && b.q.d == 1 && b.q.n >= -64 && b.q.n <= 64 && a.exact) {
        int64_t k = b.q.n < 0 ? -b.q.n : b.q.n;
        tr_tk_q r = {1, 1};
        int ok = 1;
        for (int64_t j = 0; j < k && ok; j++) ok = tr_tk_q_mul(r, a.q, &r) == 0;
        if (ok && b.q.n < 0) ok = tr_tk_q_div((tr_tk_q){1, 1}, r, &r) == 0;
        if (ok) return num_q(r);
    }
    if (b.exact && b.q.d != 1 && b.q.d <= 10 && a.exact) {
        /* a^(n/d) = root_d(a)^n when the root is exact */
        num root = num_root(a, (int)b.q.d, bad);
        if (*bad) return root;
        if (root.exact) return num_pow(root, num_q((tr_tk_q){b.q.n, 1}), bad);
    }
    if (a.d < 0 && !(b.exact && b.q.d == 1)) {
        *bad = 1;
        return num_d(0);
    }
    double r = pow(a.d, b.d);
    if (!isfinite(r)) *bad = 1;
    return num_d(r);
}

static int at(evaluator *ev, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(ev->e - ev->p) < n || memcmp(ev->p, lit, n) != 0) return 0;
    /* a \command must not continue with letters */
    if (lit[0] == '\\' && is_alpha(lit[n - 1]) && ev->p + n < ev->e && is_alpha(ev->p[n])) return 0;
    return 1;
}

static int eat(evaluator *ev, const char *lit) {
    if (!at(ev, lit)) return 0;
    ev->p += strlen(lit);
    return 1;
}

static num ev_expr(evaluator *ev);

static num ev_group(evaluator *ev) {
    if (!eat(ev, "{")) {
        ev->bad = 1;
        return num_d(0);
    }
    num v = ev_expr(ev);
    if (!eat(ev, "}")) ev->bad = 1;
    return v;
}

/* An unsigned number literal: digits with optional thousands commas, a decimal part. */
static num ev_number(evaluator *ev) {
    const char *p = ev->p;
    char digits[40];
    int nd = 0, frac = 0, seen_dot = 0, int_digits = 0;
    while (p < ev->e) {
        if (is_digit(*p)) {
            if (nd < 38) digits[nd++] = *p; /* longer literals are approximated below */
            if (seen_dot)
                frac++;
            else
                int_digits++;
            p++;
        } else if (*p == ',' && !seen_dot && int_digits > 0 && p + 3 < ev->e && is_digit(p[1]) &&
                   is_digit(p[2]) && is_digit(p[3]) && (p + 4 >= ev->e || !is_digit(p[4]))) {
            p++;
        } else if (*p == '.' && !seen_dot && p + 1 < ev->e && is_digit(p[1])) {
            seen_dot = 1;
            p++;
        } else {
            break;
        }
    }
    if (p == ev->p) {
        ev->bad = 1;
        return num_d(0);
    }
    int total = int_digits + frac;
    char text[64];
    size_t tl = (size_t)(p - ev->p) < sizeof text - 1 ? (size_t)(p - ev->p) : sizeof text - 1;
    ev->p = p;
    if (total <= 18) {
        int64_t v = 0;
        for (int i = 0; i < nd; i++) v = v * 10 + (digits[i] - '0');
        int64_t d = 1;
        for (int i = 0; i < frac; i++) d *= 10;
        tr_tk_q q;
        tr_tk_q_make(v, d, &q);
        return num_q(q);
    }
    /* long literal: approximate */
    size_t k = 0;
    for (const char *c = p - tl; c < p && k < sizeof text - 1; c++)
        if (*c != ',') text[k++] = *c;
    text[k] = 0;
    return num_d(strtod(text, NULL));
}

static int is_int_literal_group(evaluator *ev, const char *p) {
    /* "{123}" */
    if (p >= ev->e || *p != '{') return 0;
    p++;
    const char *st = p;
    while (p < ev->e && is_digit(*p)) p++;
    return p > st && p < ev->e && *p == '}';
}

static num ev_primary(evaluator *ev) {
    if (++ev->depth > 64) {
        ev->bad = 1;
        return num_d(0);
    }
    num v = num_d(0);
    if (ev->p < ev->e &&
        (is_digit(*ev->p) || (*ev->p == '.' && ev->p + 1 < ev->e && is_digit(ev->p[1])))) {
        const char *st = ev->p;
        v = ev_number(ev);
        /* a mixed number: an integer literal directly followed by \frac{int}{int} */
        int integer = 1;
        for (const char *c = st; c < ev->p; c++)
            if (*c == '.') integer = 0;
        if (integer && v.exact && at(ev, "\\frac") && is_int_literal_group(ev, ev->p + 5)) {
            const char *save = ev->p;
            ev->p += 5;
            num nn = ev_group(ev);
            if (is_int_literal_group(ev, ev->p)) {
                num dd = ev_group(ev);
                num f = num_op('/', nn, dd, &ev->bad);
                v = num_op('+', v, f, &ev->bad);
            } else {
                ev->p = save;
            }
        }
    } else if (eat(ev, "(")) {
        v = ev_expr(ev);
        if (!eat(ev, ")")) ev->bad = 1;
    } else if (at(ev, "{")) {
        v = ev_group(ev);
    } else if (eat(ev, "\\frac")) {
        num a = ev_group(ev);
        num b = ev_group(ev);
        v = num_op('/', a, b, &ev->bad);
    } else if (eat(ev, "\\sqrt")) {
        int k = 2;
        if (eat(ev, "[")) {
            num idx = ev_expr(ev);
            if (!eat(ev, "]") || !idx.exact || idx.q.d != 1 || idx.q.n < 2 || idx.q.n > 10)
                ev->bad = 1;
            else
                k = (int)idx.q.n;
        }
        num a = ev_group(ev);
        if (!ev->bad) v = num_root(a, k, &ev->bad);
    } else if (eat(ev, "\\pi")) {
        v = num_d(3.14159265358979323846);
    } else {
        ev->bad = 1;
    }
    ev->depth--;
    return v;
}

static num ev_power(evaluator *ev) {
    num base = ev_primary(ev);
    if (eat(ev, "^")) {
        num ex = at(ev, "{") ? ev_group(ev) : ev_primary(ev);
        if (!ev->bad) base = num_pow(base, ex, &ev->bad);
    }
    return base;
}

static num ev_unary(evaluator *ev) {
    if (++ev->depth > 64) {
        ev->bad = 1;
        return num_d(0);
    }
    num v;
    if (eat(ev, "-")) {
        v = ev_unary(ev);
        if (v.exact) v.q.n = -v.q.n;
        v.d = -v.d;
    } else if (eat(ev, "+")) {
        v = ev_unary(ev);
    } else {
        v = ev_power(ev);
    }
    ev->depth--;
    return v;
}

static int starts_primary(evaluator *ev) {
    if (ev->p >= ev->e) return 0;
    char c = *ev->p;
    return is_digit(c) || c == '(' || c == '{' || at(ev, "\\frac") || at(ev, "\\sqrt") ||
           at(ev, "\\pi");
}

static num ev_term(evaluator *ev) {
    num v = ev_unary(ev);
    while (!ev->bad && ev->p < ev->e) {
        char op;
        int implicit = 0;
        if (eat(ev, "*") || eat(ev, "\\cdot") || eat(ev, "\\times"))
            op = '*';
        else if (eat(ev, "/") || eat(ev, "\\div"))
            op = '/';
        else if (starts_primary(ev))
            op = '*', implicit = 1; /* 2\sqrt{3}, 3\pi, (1)(2) */
        else
            break;
        /* an explicit operator may be followed by a sign (2*-3); juxtaposition may not */
        num r = implicit ? ev_power(ev) : ev_unary(ev);
        v = num_op(op, v, r, &ev->bad);
    }
    return v;
}

static num ev_expr(evaluator *ev) {
    num v = ev_term(ev);
    while (!ev->bad) {
        if (eat(ev, "+"))
            v = num_op('+', v, ev_term(ev), &ev->bad);
        else if (eat(ev, "-"))
            v = num_op('-', v, ev_term(ev), &ev->bad);
        else
            break;
    }
    return v;
}

/* Evaluates s[0..n) completely; returns 0 and *v, or -1. */
static int eval_number(const char *s, size_t n, num *v) {
    if (n == 0) return -1;
    evaluator ev = {s, s, s + n, 0, 0};
    *v = ev_expr(&ev);
    if (ev.bad || ev.p != ev.e || !isfinite(v->d)) return -1;
    return 0;
}

/* ==== structure ============================================================================ */

typedef enum { NODE_ATOM, NODE_TUPLE, NODE_SET, NODE_LIST, NODE_UNION, NODE_MATRIX } node_kind;

typedef struct range {
    size_t a, b;
} range;

typedef struct parts {
    node_kind kind;
    char open[3], close[3];
    int n;
    range r[EQ_MAX_PARTS];
    int row_end[EQ_MAX_PARTS]; /* matrix: 1 when part i ends a row */
} parts;

static int is_open(const char *s, size_t i, size_t n, size_t *len) {
    if (s[i] == '(' || s[i] == '[') return *len = 1, 1;
    if (s[i] == '\\' && i + 1 < n && s[i + 1] == '{') return *len = 2, 1;
    if (s[i] == '{') return *len = 1, 1;
    return 0;
}

static int is_close(const char *s, size_t i, size_t n, size_t *len) {
    if (s[i] == ')' || s[i] == ']') return *len = 1, 1;
    if (s[i] == '\\' && i + 1 < n && s[i + 1] == '}') return *len = 2, 1;
    if (s[i] == '}') return *len = 1, 1;
    return 0;
}

/* +1 if a bracket opens at s[i], -1 if one closes there (*len: its length), else 0. */
static int bracket(const char *s, size_t i, size_t n, size_t *len) {
    return is_open(s, i, n, len) ? 1 : is_close(s, i, n, len) ? -1 : 0;
}

/* Splits s[a..b) at top-level occurrences of sep (a literal). Returns the number of parts,
 * -1 if more than EQ_MAX_PARTS. */
static int split_top(const char *s, size_t a, size_t b, const char *sep, range *out) {
    size_t m = strlen(sep), start = a;
    int depth = 0, n = 0;
    for (size_t i = a; i < b;) {
        size_t len;
        int d = bracket(s, i, b, &len);
        if (d) {
            depth += d;
            i += len;
            continue;
        }
        if (depth == 0 && i + m <= b && memcmp(s + i, sep, m) == 0 &&
            !(sep[0] == '\\' && is_alpha(sep[m - 1]) && i + m < b && is_alpha(s[i + m]))) {
            if (n >= EQ_MAX_PARTS) return -1;
            out[n++] = (range){start, i};
            i += m;
            start = i;
            continue;
        }
        if (s[i] == '\\' && i + 1 < b) {
            i += 2;
            continue;
        }
        i++;
    }
    if (n >= EQ_MAX_PARTS) return -1;
    out[n++] = (range){start, b};
    return n;
}

/* 1 if the bracket opening at a closes exactly at b-len. */
static int wrapped(const char *s, size_t a, size_t b, size_t *olen, size_t *clen) {
    if (a >= b || !is_open(s, a, b, olen)) return 0;
    int depth = 0;
    for (size_t i = a; i < b;) {
        size_t len;
        int d = bracket(s, i, b, &len);
        if (d) {
            depth += d;
            i += len;
            if (d < 0 && depth == 0) {
                *clen = len;
                return i == b;
            }
            continue;
        }
        i += (s[i] == '\\' && i + 1 < b) ? 2 : 1;
    }
    return 0;
}

static int thousands_number(const char *s, size_t a, size_t b) {
    size_t i = a;
    if (i < b && (s[i] == '-' || s[i] == '+')) i++;
    size_t st = i;
    while (i < b && is_digit(s[i])) i++;
    size_t lead = i - st;
    if (lead < 1 || lead > 3) return 0;
    int groups = 0;
    while (i < b && s[i] == ',') {
        if (i + 3 >= b) return 0;
        if (!(is_digit(s[i + 1]) && is_digit(s[i + 2]) && is_digit(s[i + 3]))) return 0;
        i += 4;
        groups++;
    }
    if (i < b && s[i] == '.') {
        i++;
        while (i < b && is_digit(s[i])) i++;
    }
    return groups > 0 && i == b;
}

static void classify(const char *s, size_t a, size_t b, parts *p) {
    memset(p, 0, sizeof *p);
    p->kind = NODE_ATOM;
    p->n = 1;
    p->r[0] = (range){a, b};
    /* matrices */
    static const char *const envs[] = {"pmatrix", "bmatrix", "matrix", "vmatrix", "Bmatrix", NULL};
    for (int e = 0; envs[e]; e++) {
        char beg[32], end[32];
        snprintf(beg, sizeof beg, "\\begin{%s}", envs[e]);
        snprintf(end, sizeof end, "\\end{%s}", envs[e]);
        size_t lb = strlen(beg), le = strlen(end);
        if (b - a > lb + le && memcmp(s + a, beg, lb) == 0 && memcmp(s + b - le, end, le) == 0) {
            range rows[EQ_MAX_PARTS];
            int nr = split_top(s, a + lb, b - le, "\\\\", rows);
            if (nr < 0) return;
            int n = 0;
            for (int r = 0; r < nr; r++) {
                if (rows[r].a == rows[r].b && r == nr - 1 && r > 0) continue; /* trailing \\ */
                range cells[EQ_MAX_PARTS];
                int nc = split_top(s, rows[r].a, rows[r].b, "&", cells);
                if (nc < 0 || n + nc > EQ_MAX_PARTS) return;
                for (int c = 0; c < nc; c++) {
                    p->r[n] = cells[c];
                    p->row_end[n] = c == nc - 1;
                    n++;
                }
            }
            p->kind = NODE_MATRIX;
            p->n = n;
            return;
        }
    }
    if (thousands_number(s, a, b)) return;
    range tmp[EQ_MAX_PARTS];
    int n = split_top(s, a, b, "\\cup", tmp);
    if (n > 1) {
        p->kind = NODE_UNION;
        p->n = n;
        memcpy(p->r, tmp, sizeof(range) * (size_t)n);
        return;
    }
    size_t olen, clen;
    if (wrapped(s, a, b, &olen, &clen) && s[a] != '{') {
        n = split_top(s, a + olen, b - clen, ",", tmp);
        if (n > 1) {
            int set = olen == 2;
            p->kind = set ? NODE_SET : NODE_TUPLE;
            memcpy(p->open, s + a, olen);
            memcpy(p->close, s + b - clen, clen);
            p->n = n;
            memcpy(p->r, tmp, sizeof(range) * (size_t)n);
            return;
        }
        if (n == 1 && olen == 2) { /* a one-element set */
            p->kind = NODE_SET;
            memcpy(p->open, s + a, olen);
            memcpy(p->close, s + b - clen, clen);
            p->n = 1;
            p->r[0] = tmp[0];
            return;
        }
        return;
    }
    n = split_top(s, a, b, ",", tmp);
    if (n > 1) {
        p->kind = NODE_LIST;
        p->n = n;
        memcpy(p->r, tmp, sizeof(range) * (size_t)n);
    }
}

/* Canonical form of an atom s[a..b); fills *v when it is a number (returns 1), else 0. */
static int atom_canon(const char *s, size_t a, size_t b, tr_sb *out, num *v) {
    while (a < b && s[a] == '+') a++;
    /* choice letters: "(C)" -> "C" */
    if (b - a == 3 && s[a] == '(' && s[b - 1] == ')' && s[a + 1] >= 'A' && s[a + 1] <= 'E') {
        tr_sb_putc(out, s[a + 1]);
        return 0;
    }
    /* integers of any length stay exact as digit strings */
    {
        size_t i = a;
        int neg = 0;
        if (i < b && s[i] == '-') neg = 1, i++;
        size_t st = i;
        int ok = i < b;
        for (size_t k = i; k < b; k++)
            if (!is_digit(s[k]) && s[k] != ',') ok = 0;
        if (ok && (thousands_number(s, a, b) || memchr(s + st, ',', b - st) == NULL)) {
            size_t nd = 0;
            for (size_t k = st; k < b; k++)
                if (s[k] != ',') nd++;
            if (nd > 18) {
                while (st < b && (s[st] == '0' || s[st] == ',')) st++;
                if (st == b) {
                    tr_sb_putc(out, '0');
                    return 0;
                }
                if (neg) tr_sb_putc(out, '-');
                for (size_t k = st; k < b; k++)
                    if (s[k] != ',') tr_sb_putc(out, s[k]);
                return 0;
            }
        }
    }
    if (eval_number(s + a, b - a, v) == 0) {
        if (v->exact) {
            if (v->q.d == 1)
                tr_sb_printf(out, "%lld", (long long)v->q.n);
            else
                tr_sb_printf(out, "%lld/%lld", (long long)v->q.n, (long long)v->q.d);
        } else {
            tr_sb_printf(out, "~%.10g", v->d);
        }
        return 1;
    }
    /* plain words are compared without case */
    int words = b - a >= 2;
    for (size_t k = a; k < b; k++)
        if (!is_alpha(s[k])) words = 0;
    for (size_t k = a; k < b; k++)
        tr_sb_putc(out, words ? (char)tolower((unsigned char)s[k]) : s[k]);
    return 0;
}

static void canon_rec(const char *s, size_t a, size_t b, tr_sb *out, int depth);

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void canon_parts(const char *s, const parts *p, tr_sb *out, int depth, int sorted,
                        const char *sep) {
    char *items[EQ_MAX_PARTS];
    for (int i = 0; i < p->n; i++) {
        tr_sb t = {0};
        canon_rec(s, p->r[i].a, p->r[i].b, &t, depth + 1);
        items[i] = tr_sb_take(&t);
        if (!items[i]) {
            for (int k = 0; k < i; k++) free(items[k]);
            out->oom = 1;
            return;
        }
    }
    if (sorted) qsort(items, (size_t)p->n, sizeof items[0], cmp_str);
    for (int i = 0; i < p->n; i++) {
        if (i) tr_sb_put(out, p->kind == NODE_MATRIX && p->row_end[i - 1] ? ";" : sep);
        tr_sb_put(out, items[i]);
        free(items[i]);
    }
}

static void canon_rec(const char *s, size_t a, size_t b, tr_sb *out, int depth) {
    parts p;
    if (depth > EQ_MAX_DEPTH) {
        tr_sb_putn(out, s + a, b - a);
        return;
    }
    classify(s, a, b, &p);
    num v;
    switch (p.kind) {
    case NODE_ATOM:
        atom_canon(s, a, b, out, &v);
        return;
    case NODE_TUPLE:
        tr_sb_put(out, p.open);
        canon_parts(s, &p, out, depth, 0, ",");
        tr_sb_put(out, p.close);
        return;
    case NODE_SET:
        tr_sb_put(out, "\\{");
        canon_parts(s, &p, out, depth, 1, ",");
        tr_sb_put(out, "\\}");
        return;
    case NODE_LIST:
        canon_parts(s, &p, out, depth, 1, ",");
        return;
    case NODE_UNION:
        canon_parts(s, &p, out, depth, 0, "\\cup");
        return;
    case NODE_MATRIX:
        tr_sb_put(out, "matrix(");
        canon_parts(s, &p, out, depth, 0, ",");
        tr_sb_put(out, ")");
        return;
    }
}

/* ==== equivalence ========================================================================== */

static int close_enough(double x, double y) {
    double m = fmax(fabs(x), fabs(y));
    return fabs(x - y) <= 1e-9 * m || (m < 1e-300);
}

static int equiv_rec(const char *s, size_t a, size_t b, const char *t, size_t c, size_t d,
                     int depth);

static int equiv_parts(const char *s, const parts *p, const char *t, const parts *q, int depth,
                       int unordered) {
    if (p->n != q->n) return 0;
    if (!unordered) {
        for (int i = 0; i < p->n; i++) {
            if (p->kind == NODE_MATRIX && p->row_end[i] != q->row_end[i]) return 0;
            if (!equiv_rec(s, p->r[i].a, p->r[i].b, t, q->r[i].a, q->r[i].b, depth + 1)) return 0;
        }
        return 1;
    }
    int used[EQ_MAX_PARTS] = {0};
    for (int i = 0; i < p->n; i++) {
        int found = 0;
        for (int j = 0; j < q->n && !found; j++) {
            if (used[j]) continue;
            if (equiv_rec(s, p->r[i].a, p->r[i].b, t, q->r[j].a, q->r[j].b, depth + 1))
                used[j] = found = 1;
        }
        if (!found) return 0;
    }
    return 1;
}

static int equiv_rec(const char *s, size_t a, size_t b, const char *t, size_t c, size_t d,
                     int depth) {
    if (depth > EQ_MAX_DEPTH) return b - a == d - c && memcmp(s + a, t + c, b - a) == 0;
    parts p, q;
    classify(s, a, b, &p);
    classify(t, c, d, &q);
    if (p.kind != q.kind) return 0;
    if (p.kind == NODE_ATOM) {
        tr_sb x = {0}, y = {0};
        num vx, vy;
        int nx = atom_canon(s, a, b, &x, &vx), ny = atom_canon(t, c, d, &y, &vy);
        int eq = strcmp(x.s ? x.s : "", y.s ? y.s : "") == 0; /* an empty element is "" */
        if (!eq && nx && ny && !(vx.exact && vy.exact)) eq = close_enough(vx.d, vy.d);
        tr_sb_free(&x);
        tr_sb_free(&y);
        return eq;
    }
    if (p.kind == NODE_TUPLE && (strcmp(p.open, q.open) != 0 || strcmp(p.close, q.close) != 0))
        return 0;
    return equiv_parts(s, &p, t, &q, depth, p.kind == NODE_SET || p.kind == NODE_LIST);
}

/* ==== public =============================================================================== */

static int copy_out(const char *s, char *buf, size_t cap) {
    if (cap == 0) return -1;
    size_t n = strlen(s);
    if (n >= cap) {
        memcpy(buf, s, cap - 1);
        buf[cap - 1] = 0;
        return -1;
    }
    memcpy(buf, s, n + 1);
    return 0;
}

static int too_long(const char *s) {
    return strnlen(s, EQ_MAX_INPUT + 1) > EQ_MAX_INPUT;
}

int tr_answer_canonical_math(const char *answer, char *buf, size_t cap) {
    if (!answer) answer = "";
    if (too_long(answer)) {
        copy_out(answer, buf, cap);
        return -1;
    }
    tr_sb norm = {0}, out = {0};
    if (normalize(answer, &norm) != 0) {
        tr_sb_free(&norm);
        copy_out(answer, buf, cap);
        return -1;
    }
    canon_rec(norm.s, 0, norm.len, &out, 0);
    int rc = out.oom ? -1 : copy_out(out.s ? out.s : "", buf, cap);
    tr_sb_free(&norm);
    tr_sb_free(&out);
    return rc;
}

int tr_answer_equiv(const char *a, const char *b) {
    if (!a || !b || too_long(a) || too_long(b)) return 0;
    tr_sb x = {0}, y = {0};
    int eq = 0;
    if (normalize(a, &x) == 0 && normalize(b, &y) == 0 && (x.len > 0 || y.len > 0))
        eq = equiv_rec(x.s, 0, x.len, y.s, 0, y.len, 0);
    tr_sb_free(&x);
    tr_sb_free(&y);
    return eq;
}
