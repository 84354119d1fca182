/* A growable string for the report module (internal, not public API). Out of memory is
 * sticky: later appends do nothing and sb_take() returns NULL, so callers check once. */
#ifndef TINYR1_REPORT_SBUF_H
#define TINYR1_REPORT_SBUF_H

#include <stddef.h>

#include "tinyr1/base.h"

typedef struct tr_sb {
    char *s;
    size_t len, cap;
    int oom;
} tr_sb;

void tr_sb_put(tr_sb *b, const char *text);
void tr_sb_putn(tr_sb *b, const char *text, size_t n);
void tr_sb_printf(tr_sb *b, const char *fmt, ...) TR_PRINTF(2, 3);
/* Appends text with &, <, >, " and ' escaped (safe in XML/HTML text and attributes). */
void tr_sb_put_xml(tr_sb *b, const char *text);
/* Returns the string (malloc'ed, NUL-terminated; "" when nothing was added) and resets b;
 * NULL after an allocation failure. */
char *tr_sb_take(tr_sb *b);
void tr_sb_free(tr_sb *b);

#endif
