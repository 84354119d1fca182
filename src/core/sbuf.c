/* The growable string of core/sbuf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"

static int sb_reserve(tr_sb *b, size_t extra) {
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void tr_sb_putn(tr_sb *b, const char *text, size_t n) {
    if (sb_reserve(b, n) != 0) return;
    memcpy(b->s + b->len, text, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void tr_sb_put(tr_sb *b, const char *text) {
    tr_sb_putn(b, text, strlen(text));
}

void tr_sb_putc(tr_sb *b, char c) {
    tr_sb_putn(b, &c, 1);
}

void tr_sb_printf(tr_sb *b, const char *fmt, ...) {
    va_list ap;
    char small[256]; /* most appends are short: format once into the stack */
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        tr_sb_putn(b, small, (size_t)n);
        return;
    }
    if (sb_reserve(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tr_sb_put_xml(tr_sb *b, const char *text) {
    if (!text) return;
    const char *run = text;
    for (const char *p = text; *p; p++) {
        const char *rep = NULL;
        switch (*p) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            break;
        }
        if (rep) {
            tr_sb_putn(b, run, (size_t)(p - run));
            tr_sb_put(b, rep);
            run = p + 1;
        }
    }
    tr_sb_put(b, run);
}

char *tr_sb_take(tr_sb *b) {
    if (b->oom) {
        tr_sb_free(b);
        return NULL;
    }
    if (!b->s && sb_reserve(b, 0) != 0) return NULL;
    char *s = b->s;
    s[b->len] = '\0';
    memset(b, 0, sizeof *b);
    return s;
}

void tr_sb_free(tr_sb *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}
