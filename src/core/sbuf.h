/* A growable string, shared by the modules that build text (report, tasks); internal, not
 * public API. Zero-initialise (`tr_sb b = {0};`), append, then tr_sb_take() or tr_sb_free().
 * Out of memory is sticky: later appends do nothing and tr_sb_take() returns NULL, so callers
 * check once at the end. While no allocation failed, s[0..len) is the text and s[len] is
 * NUL (s is NULL until something is appended). */
#ifndef TINYR1_CORE_SBUF_H
#define TINYR1_CORE_SBUF_H

#include <stddef.h>

#include "tinyr1/base.h"

typedef struct tr_sb {
    char *s;
    size_t len, cap;
    int oom; /* an allocation failed: the content is incomplete */
} tr_sb;

void tr_sb_put(tr_sb *b, const char *text);
void tr_sb_putn(tr_sb *b, const char *text, size_t n);
void tr_sb_putc(tr_sb *b, char c);
void tr_sb_printf(tr_sb *b, const char *fmt, ...) TR_PRINTF(2, 3);
/* Appends text with &, <, >, " and ' escaped (safe in XML/HTML text and attributes). */
void tr_sb_put_xml(tr_sb *b, const char *text);
/* Returns the string (malloc'ed, NUL-terminated; "" when nothing was added) and resets b;
 * NULL after an allocation failure. */
char *tr_sb_take(tr_sb *b);
void tr_sb_free(tr_sb *b);

#endif
