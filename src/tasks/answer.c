/* Answer extraction from a response: <answer> tag, then \boxed, then ####. */
#include <string.h>

#include "tasks_internal.h"

static void copy_trimmed(const char *p, const char *e, char *buf, size_t cap) {
    if (cap == 0) return;
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
    /* a trailing full stop ends a sentence, not the answer ("... is 5.") */
    if (e > p && e[-1] == '.') e--;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    size_t n = (size_t)(e - p);
    if (n >= cap) n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
}

/* Finds the last occurrence of needle in [s, e). */
static const char *find_last(const char *s, const char *e, const char *needle) {
    size_t m = strlen(needle);
    if ((size_t)(e - s) < m) return NULL;
    for (const char *p = e - m;; p--) {
        if (memcmp(p, needle, m) == 0) return p;
        if (p == s) break;
    }
    return NULL;
}

/* Content of the boxed expression starting at b (pointing at "\boxed" or "\fbox") in
 * [b, e): sets *cs and *ce. Returns 0, -1 if malformed. */
static int boxed_content(const char *b, const char *e, const char **cs, const char **ce) {
    const char *p = b + (strncmp(b, "\\boxed", 6) == 0 ? 6 : 5);
    if (p < e && *p == '{') {
        int depth = 0;
        for (const char *q = p; q < e; q++) {
            if (*q == '\\' && q + 1 < e && (q[1] == '{' || q[1] == '}')) {
                q++; /* escaped brace: literal */
                continue;
            }
            if (*q == '{') depth++;
            if (*q == '}' && --depth == 0) {
                *cs = p + 1;
                *ce = q;
                return 0;
            }
        }
        return -1;
    }
    /* "\boxed 5" / "\boxed{}"-less form: one token after spaces, up to a space or '$' */
    if (p >= e || (*p != ' ' && *p != '\t')) return -1;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    const char *q = p;
    while (q < e && *q != ' ' && *q != '\t' && *q != '\n' && *q != '$') q++;
    if (q == p) return -1;
    *cs = p;
    *ce = q;
    return 0;
}

/* The last well-formed \boxed / \fbox in [s, e). */
static int last_boxed_range(const char *s, const char *e, const char **cs, const char **ce) {
    const char *end = e;
    /* malformed boxes are skipped, but only so many: each try scans to the end of the
     * text, and a response made of unclosed "\boxed{" must stay linear */
    for (int tries = 0; tries < 64; tries++) {
        const char *b1 = find_last(s, end, "\\boxed"), *b2 = find_last(s, end, "\\fbox");
        const char *b = !b1 ? b2 : !b2 ? b1 : b1 > b2 ? b1 : b2;
        if (!b) return -1;
        if (boxed_content(b, e, cs, ce) == 0) return 0;
        end = b; /* malformed: try an earlier one */
    }
    return -1;
}

int tr_answer_last_boxed(const char *text, char *buf, size_t cap) {
    if (cap) buf[0] = 0;
    if (!text) return -1;
    const char *cs, *ce;
    if (last_boxed_range(text, text + strlen(text), &cs, &ce) != 0) return -1;
    copy_trimmed(cs, ce, buf, cap);
    return 0;
}

tr_answer_source tr_answer_extract(const char *text, char *buf, size_t cap) {
    if (cap) buf[0] = 0;
    if (!text || cap == 0) return TR_ANS_NONE;
    const char *e = text + strlen(text);
    /* 1. the last <answer> that has a closing tag after it */
    const char *close = find_last(text, e, "</answer>");
    if (close) {
        const char *open = find_last(text, close, "<answer>");
        if (open) {
            const char *cs = open + 8, *ce = close, *bs, *be;
            if (last_boxed_range(cs, ce, &bs, &be) == 0) {
                cs = bs;
                ce = be;
            }
            copy_trimmed(cs, ce, buf, cap);
            if (buf[0]) return TR_ANS_TAG;
        }
    }
    /* 2. the last \boxed */
    const char *cs, *ce;
    if (last_boxed_range(text, e, &cs, &ce) == 0) {
        copy_trimmed(cs, ce, buf, cap);
        if (buf[0]) return TR_ANS_BOXED;
    }
    /* 3. #### N */
    const char *h = find_last(text, e, "####");
    if (h) {
        const char *p = h + 4, *q = p;
        while (q < e && *q != '\n') q++;
        copy_trimmed(p, q, buf, cap);
        if (buf[0]) return TR_ANS_HASH;
    }
    buf[0] = 0;
    return TR_ANS_NONE;
}
