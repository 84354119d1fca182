/* Language detection by Unicode script: word counts per script (include/tinyr1/rewards.h). */
#include <string.h>

#include "tinyr1/rewards.h"

const char *tr_script_name(tr_script s) {
    static const char *names[TR_SCRIPT_COUNT] = {"none",   "latin",  "greek",      "cyrillic",
                                                 "armenian", "hebrew", "arabic", "devanagari",
                                                 "thai",   "hangul", "kana",       "han"};
    return (unsigned)s < TR_SCRIPT_COUNT ? names[s] : "?";
}

typedef struct {
    uint32_t lo, hi;
    tr_script s;
} script_range;

/* Letter blocks of each script (sorted by lo). Latin-1 and Latin Extended exclude the two
 * math signs U+00D7 and U+00F7 (handled before the table). */
static const script_range ranges[] = {
    {0x0041, 0x005A, TR_SCRIPT_LATIN},     {0x0061, 0x007A, TR_SCRIPT_LATIN},
    {0x00AA, 0x00AA, TR_SCRIPT_LATIN},     {0x00BA, 0x00BA, TR_SCRIPT_LATIN},
    {0x00C0, 0x024F, TR_SCRIPT_LATIN},     {0x0250, 0x02AF, TR_SCRIPT_LATIN},
    {0x0370, 0x03FF, TR_SCRIPT_GREEK},     {0x0400, 0x052F, TR_SCRIPT_CYRILLIC},
    {0x0531, 0x058F, TR_SCRIPT_ARMENIAN},  {0x05D0, 0x05FF, TR_SCRIPT_HEBREW},
    {0x0620, 0x064A, TR_SCRIPT_ARABIC},    {0x066E, 0x06D3, TR_SCRIPT_ARABIC},
    {0x0750, 0x077F, TR_SCRIPT_ARABIC},    {0x0900, 0x0963, TR_SCRIPT_DEVANAGARI},
    {0x0970, 0x097F, TR_SCRIPT_DEVANAGARI}, {0x0E01, 0x0E4E, TR_SCRIPT_THAI},
    {0x1100, 0x11FF, TR_SCRIPT_HANGUL},    {0x1E00, 0x1EFF, TR_SCRIPT_LATIN},
    {0x1F00, 0x1FFF, TR_SCRIPT_GREEK},     {0x3040, 0x309F, TR_SCRIPT_KANA},
    {0x30A0, 0x30FF, TR_SCRIPT_KANA},      {0x3130, 0x318F, TR_SCRIPT_HANGUL},
    {0x31F0, 0x31FF, TR_SCRIPT_KANA},      {0x3400, 0x4DBF, TR_SCRIPT_HAN},
    {0x4E00, 0x9FFF, TR_SCRIPT_HAN},       {0xAC00, 0xD7AF, TR_SCRIPT_HANGUL},
    {0xF900, 0xFAFF, TR_SCRIPT_HAN},       {0xFF21, 0xFF3A, TR_SCRIPT_LATIN},
    {0xFF41, 0xFF5A, TR_SCRIPT_LATIN},     {0xFF66, 0xFF9D, TR_SCRIPT_KANA},
    {0x20000, 0x2FA1F, TR_SCRIPT_HAN},     {0x30000, 0x3134F, TR_SCRIPT_HAN},
};

tr_script tr_script_of(uint32_t cp) {
    if (cp == 0xD7 || cp == 0xF7) return TR_SCRIPT_NONE; /* multiplication and division signs */
    if (cp == 0x3005 || cp == 0x3007) return TR_SCRIPT_HAN; /* iteration mark, ideographic zero */
    int lo = 0, hi = (int)(sizeof ranges / sizeof ranges[0]) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < ranges[mid].lo) hi = mid - 1;
        else if (cp > ranges[mid].hi) lo = mid + 1;
        else return ranges[mid].s;
    }
    return TR_SCRIPT_NONE;
}

/* Decodes one UTF-8 code point at s[0..len); returns its byte count (>= 1). An invalid
 * sequence yields *cp = 0xFFFFFFFF and consumes one byte. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp) {
    unsigned c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFFFFFFu;
        return 1;
    }
    if (n > len) {
        *cp = 0xFFFFFFFFu;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFFFFFFu;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFFFFFFu;
        return 1;
    }
    *cp = v;
    return n;
}

static const char *const tags[4] = {"<think>", "</think>", "<answer>", "</answer>"};

/* Length of the tag starting at s (0 if none). */
static size_t tag_at(const char *s, size_t len) {
    if (len < 7 || s[0] != '<') return 0;
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(tags[i]);
        if (n <= len && memcmp(s, tags[i], n) == 0) return n;
    }
    return 0;
}

int64_t tr_script_word_counts(const char *text, size_t len, int64_t *counts) {
    memset(counts, 0, TR_SCRIPT_COUNT * sizeof *counts);
    if (!text) return 0;
    const unsigned char *s = (const unsigned char *)text;
    tr_script cur = TR_SCRIPT_NONE; /* script of the word being read */
    int64_t total = 0;
    size_t i = 0;
    while (i < len) {
        size_t tl = tag_at(text + i, len - i);
        if (tl) {
            cur = TR_SCRIPT_NONE;
            i += tl;
            continue;
        }
        uint32_t cp;
        size_t n = utf8_next(s + i, len - i, &cp);
        i += n;
        tr_script sc = cp == 0xFFFFFFFFu ? TR_SCRIPT_NONE : tr_script_of(cp);
        if (sc == TR_SCRIPT_NONE) {
            cur = TR_SCRIPT_NONE;
        } else if (sc == TR_SCRIPT_HAN || sc == TR_SCRIPT_KANA) {
            counts[sc]++; /* one word per character */
            total++;
            cur = TR_SCRIPT_NONE;
        } else if (sc != cur) {
            counts[sc]++;
            total++;
            cur = sc;
        }
    }
    return total;
}

tr_script tr_text_script(const char *text) {
    int64_t counts[TR_SCRIPT_COUNT];
    if (!text || tr_script_word_counts(text, strlen(text), counts) == 0) return TR_SCRIPT_NONE;
    int best = 1;
    for (int s = 2; s < TR_SCRIPT_COUNT; s++)
        if (counts[s] > counts[best]) best = s;
    return (tr_script)best;
}
