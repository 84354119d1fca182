/* Fuzz target: answer extraction, canonical forms and the equivalence checker. The input
 * is split at the first NUL (or newline) into two answers. Checks reflexivity and symmetry
 * of tr_answer_equiv and that equal canonical forms mean equivalent answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 8192) return 0;
    char *a = malloc(size + 1);
    if (!a) return 0;
    memcpy(a, data, size);
    a[size] = 0;
    char *b = a + strlen(a);
    char *nl = strchr(a, '\n');
    if (nl) {
        *nl = 0;
        b = nl + 1;
    } else if (b < a + size) {
        b++; /* after the NUL */
    }
    char ext[TR_ANSWER_CAP];
    tr_answer_extract(a, ext, sizeof ext);
    tr_answer_last_boxed(b, ext, sizeof ext);
    char ca[2048], cb[2048];
    int ra = tr_answer_canonical_math(a, ca, sizeof ca),
        rb = tr_answer_canonical_math(b, cb, sizeof cb);
    int ab = tr_answer_equiv(a, b), ba = tr_answer_equiv(b, a);
    if (ab != ba) abort();
    if (strlen(a) <= 4096 && a[0] && tr_answer_canonical_math(a, ca, sizeof ca) == 0 &&
        !tr_answer_equiv(a, a)) {
        /* an answer whose canonical form is empty is never equivalent (empty answers are not) */
        if (ca[0]) abort();
    }
    if (ra == 0 && rb == 0 && ca[0] && strcmp(ca, cb) == 0 && !ab) abort();
    free(a);
    return 0;
}
