/* Text normalization before pre-tokenization: Unicode NFC through utf8proc (Debian's
 * libutf8proc; why a library and not our own tables: docs/tokenizer.md). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

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

int tr_text_nfc(const char *text, size_t len, char **out, size_t *out_len, tr_err *err) {
    *out = NULL;
    char *buf = malloc(len + 1);
    if (!buf) return tr_fail(err, "NFC: out of memory for %zu bytes", len);
    size_t cap = len + 1, n = 0, i = 0;
    const unsigned char *s = (const unsigned char *)text;
    while (i < len) {
        size_t j = i + tok_utf8_valid_prefix(s + i, len - i);
        const char *piece = text + i;
        size_t k = j - i;
        utf8proc_uint8_t *mapped = NULL;
        if (k > 0 && tok_nfc_may_change(piece, k)) {
            utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)piece, (utf8proc_ssize_t)k,
                                              &mapped, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (r < 0) {
                free(buf);
                return tr_fail(err, "NFC: utf8proc failed at byte %zu: %s", i, utf8proc_errmsg(r));
            }
            piece = (const char *)mapped;
            k = (size_t)r;
        }
        if (j < len) k++;      /* an invalid byte follows: copy it as it is */
        if (n + k + 1 > cap) { /* NFC can grow a run (a singleton of 2 bytes -> 3 bytes) */
            size_t c = cap * 2 > n + k + 1 ? cap * 2 : n + k + 1;
            char *b = realloc(buf, c);
            if (!b) {
                free(mapped);
                free(buf);
                return tr_fail(err, "NFC: out of memory for %zu bytes", c);
            }
            buf = b;
            cap = c;
        }
        if (j < len) {
            memcpy(buf + n, piece, k - 1);
            buf[n + k - 1] = text[j];
            j++;
        } else {
            memcpy(buf + n, piece, k);
        }
        n += k;
        free(mapped);
        i = j;
    }
    buf[n] = '\0';
    *out = buf;
    if (out_len) *out_len = n;
    return 0;
}
