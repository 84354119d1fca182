/* JSONL reading: one object per line, bounded line length, FILE:LINE errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/data.h"

int64_t tr_utf8_invalid_at(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return (int64_t)i;
        }
        if (i + n >= len) return (int64_t)i; /* truncated sequence */
        for (size_t k = 1; k <= n; k++) {
            if ((u[i + k] & 0xC0) != 0x80) return (int64_t)i;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return (int64_t)i;
        i += n + 1;
    }
    return -1;
}

static int reader_init(tr_jsonl *r, const char *name, size_t max_line, int skip_bad, tr_err *err) {
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", name ? name : "(input)");
    r->max_line = max_line ? max_line : TR_JSONL_DEFAULT_MAX_LINE;
    r->skip_bad = skip_bad;
    r->line = malloc(r->max_line + 2);
    if (!r->line)
        return tr_fail(err, "%s: out of memory for a %zu-byte line buffer", r->path, r->max_line);
    return 0;
}

int tr_jsonl_open(tr_jsonl *r, const char *path, size_t max_line, int skip_bad, tr_err *err) {
    if (reader_init(r, path, max_line, skip_bad, err) != 0) return -1;
    if (strcmp(path, "-") == 0) {
        r->fp = stdin;
        snprintf(r->path, sizeof r->path, "(stdin)");
    } else {
        r->fp = fopen(path, "rb");
    }
    if (!r->fp) {
        int e = errno;
        free(r->line);
        r->line = NULL;
        return tr_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    return 0;
}

int tr_jsonl_open_mem(tr_jsonl *r, const char *name, const char *data, size_t len, size_t max_line,
                      int skip_bad, tr_err *err) {
    if (reader_init(r, name, max_line, skip_bad, err) != 0) return -1;
    r->mem = data ? data : "";
    r->mem_len = data ? len : 0;
    return 0;
}

void tr_jsonl_close(tr_jsonl *r) {
    if (r->fp && r->fp != stdin) fclose(r->fp);
    free(r->line);
    r->fp = NULL;
    r->line = NULL;
}

/* Reads one physical line into r->line (without '\n'). Returns 1 if a line was read, 0 at
 * EOF, -1 on a read error. *len gets the stored length; *too_long is set when the line had
 * more than max_line bytes (the rest is consumed and dropped). */
static int read_raw_line(tr_jsonl *r, size_t *len, int *too_long) {
    size_t n = 0;
    *too_long = 0;
    if (r->eof) return 0;
    if (!r->fp) {
        if (r->mem_pos >= r->mem_len) {
            r->eof = 1;
            return 0;
        }
        const char *start = r->mem + r->mem_pos;
        size_t left = r->mem_len - r->mem_pos;
        const char *nl = memchr(start, '\n', left);
        size_t full = nl ? (size_t)(nl - start) : left;
        r->mem_pos += full + (nl ? 1 : 0);
        if (full > r->max_line) {
            *too_long = 1;
            full = r->max_line;
        }
        memcpy(r->line, start, full);
        r->line[full] = 0;
        *len = full;
        return 1;
    }
    int c, got = 0;
    while ((c = getc(r->fp)) != EOF) {
        got = 1;
        if (c == '\n') break;
        if (n < r->max_line)
            r->line[n++] = (char)c;
        else
            *too_long = 1;
    }
    if (c == EOF) {
        if (ferror(r->fp)) return -1;
        r->eof = 1;
        if (!got) return 0;
    }
    r->line[n] = 0;
    *len = n;
    return 1;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* Parses the current line; returns the object or NULL with msg filled. */
static cJSON *parse_line(tr_jsonl *r, size_t n, char *msg, size_t cap) {
    const char *s = r->line;
    if (memchr(s, 0, n)) {
        snprintf(msg, cap, "%s:%lld: NUL byte in line at column %lld", r->path,
                 (long long)r->line_no, (long long)((const char *)memchr(s, 0, n) - s) + 1);
        return NULL;
    }
    int64_t bad = tr_utf8_invalid_at(s, n);
    if (bad >= 0) {
        snprintf(msg, cap, "%s:%lld: invalid UTF-8 at column %lld", r->path, (long long)r->line_no,
                 (long long)bad + 1);
        return NULL;
    }
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!obj) {
        long long col = end && end >= s && end <= s + n ? (long long)(end - s) + 1 : 1;
        snprintf(msg, cap,
                 "%s:%lld: invalid JSON at column %lld (expected one JSON object per line)",
                 r->path, (long long)r->line_no, col);
        return NULL;
    }
    if (end) {
        const char *e = end;
        while (e < s + n && (*e == ' ' || *e == '\t' || *e == '\r')) e++;
        if (e < s + n) {
            snprintf(msg, cap, "%s:%lld: extra text after the JSON value at column %lld", r->path,
                     (long long)r->line_no, (long long)(e - s) + 1);
            cJSON_Delete(obj);
            return NULL;
        }
    }
    if (!cJSON_IsObject(obj)) {
        const char *what = cJSON_IsArray(obj)    ? "an array"
                           : cJSON_IsString(obj) ? "a string"
                           : cJSON_IsNumber(obj) ? "a number"
                                                 : "a literal";
        snprintf(msg, cap, "%s:%lld: expected a JSON object, got %s", r->path,
                 (long long)r->line_no, what);
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

int tr_jsonl_next(tr_jsonl *r, cJSON **obj, tr_err *err) {
    *obj = NULL;
    if (!r->line) return tr_fail(err, "%s: reader is not open", r->path);
    for (;;) {
        size_t n = 0;
        int too_long = 0;
        int got = read_raw_line(r, &n, &too_long);
        if (got < 0)
            return tr_fail(err, "%s:%lld: read error: %s", r->path, (long long)r->line_no + 1,
                           strerror(errno));
        if (got == 0) return 0;
        r->line_no++;
        char msg[1024];
        cJSON *o = NULL;
        if (too_long) {
            snprintf(msg, sizeof msg, "%s:%lld: line is longer than %zu bytes (the limit)", r->path,
                     (long long)r->line_no, r->max_line);
        } else {
            while (n > 0 && r->line[n - 1] == '\r') r->line[--n] = 0;
            if (is_blank(r->line, n)) continue;
            o = parse_line(r, n, msg, sizeof msg);
        }
        if (o) {
            r->n_rows++;
            *obj = o;
            return 1;
        }
        if (!r->skip_bad) return tr_fail(err, "%s", msg);
        if (r->n_bad == 0) snprintf(r->first_bad, sizeof r->first_bad, "%s", msg);
        r->n_bad++;
    }
}
