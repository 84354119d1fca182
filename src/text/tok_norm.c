/* Text normalization before pre-tokenization: Unicode NFC through utf8proc (Debian's
 * libutf8proc; why a library and not our own tables: docs/tokenizer.md). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/sbuf.h"
#include "text/tok_internal.h"

const char *tr_normalizer_name(tr_normalizer n) {
    static const char *const names[] = {"none", "NFC"};
    return (unsigned)n < sizeof names / sizeof names[0] ? names[n] : "unknown";
}

tr_normalizer tr_tokenizer_normalizer(const tr_tokenizer *tok) {
    return tok->norm;
}

int tr_tokenizer_set_normalizer(tr_tokenizer *tok, tr_normalizer n, tr_err *err) {
    if (n != TR_NORM_NONE && n != TR_NORM_NFC)
        return tr_fail(err, "normalizer %d: expected 0 (none) or 1 (NFC)", (int)n);
    if (n != TR_NORM_NONE && tok->kind != TR_TOK_BYTE_BPE)
        return tr_fail(err, "normalizer %s: only byte-level BPE tokenizers normalise text",
                       tr_normalizer_name(n));
    tok->norm = n;
    return 0;
}

int tok_nfc_may_change(const char *text, size_t len) {
    /* Every code point below U+0300 is NFC and starts no composition with what precedes it
     * (NFC_Quick_Check is Yes for all of them); their UTF-8 bytes are all below 0xCC. */
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len; i++)
        if (s[i] >= 0xCC) return 1;
    return 0;
}

/* NFC of valid UTF-8 s[0..n) appended to out; u32/cap: a reusable code point buffer. */
static int nfc_run(const unsigned char *s, size_t n, tr_sb *out, utf8proc_int32_t **u32,
                   size_t *cap, tr_err *err) {
    const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    for (;;) {
        utf8proc_ssize_t k = utf8proc_decompose(s, (utf8proc_ssize_t)n, *u32,
                                                (utf8proc_ssize_t)*cap, opt);
        if (k < 0) return tr_fail(err, "NFC: %s", utf8proc_errmsg(k));
        if ((size_t)k + 1 > *cap) { /* reencode needs one spare slot */
            size_t c = 2 * ((size_t)k + 1);
            utf8proc_int32_t *b = realloc(*u32, c * sizeof *b);
            if (!b) return tr_fail(err, "NFC: out of memory for %zu code points", c);
            *u32 = b;
            *cap = c;
            continue;
        }
        utf8proc_ssize_t bytes = utf8proc_reencode(*u32, k, opt);
        if (bytes < 0) return tr_fail(err, "NFC: %s", utf8proc_errmsg(bytes));
        tr_sb_putn(out, (const char *)*u32, (size_t)bytes);
        return 0;
    }
}

int tr_text_nfc(const char *text, size_t len, char **out, size_t *out_len, tr_err *err) {
    *out = NULL;
    /* A character below U+0300 (lead byte < 0xCC) is a safe cut: it is NFC, has combining
     * class 0 and never composes with what precedes it (no canonical composition has a
     * second character below U+0300). So only the stretches from the character before a
     * code point >= U+0300 up to the next character below U+0300 go through utf8proc; the
     * rest (and bytes that are not valid UTF-8) is copied. */
    const unsigned char *s = (const unsigned char *)text;
    tr_sb b = {0};
    utf8proc_int32_t *u32 = NULL;
    size_t cap = 0, i = 0;
    while (i < len) {
        size_t end = i + tok_utf8_valid_prefix(s + i, len - i); /* valid run [i, end) */
        while (i < end) {
            size_t j = i, cut = i;
            for (; j < end && s[j] < 0xCC; j++)
                if ((s[j] & 0xC0) != 0x80) cut = j; /* start of the last character seen */
            if (j == end) cut = end;
            tr_sb_putn(&b, text + i, cut - i);
            if (cut == end) break;
            size_t k = j;
            while (k < end && (s[k] >= 0xCC || (s[k] & 0xC0) == 0x80)) k++;
            if (nfc_run(s + cut, k - cut, &b, &u32, &cap, err)) {
                free(u32);
                tr_sb_free(&b);
                return -1;
            }
            i = k;
        }
        i = end;
        if (i < len) tr_sb_putc(&b, text[i++]); /* a byte that is not valid UTF-8 */
    }
    free(u32);
    size_t n = b.len;
    *out = tr_sb_take(&b);
    if (!*out) return tr_fail(err, "NFC: out of memory for %zu bytes", len);
    if (out_len) *out_len = n;
    return 0;
}
