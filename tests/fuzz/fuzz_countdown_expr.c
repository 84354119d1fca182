/* Fuzz target: the countdown expression evaluator, with and without a number list, and the
 * TinyZero score of the same bytes wrapped in <answer> tags. The first byte chooses the
 * number list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *s = malloc(size + 32);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    static const int64_t lists[4][6] = {
        {44, 19, 35}, {7, 3, 3, 1}, {1, 2, 3, 4, 5, 6}, {100, 25, 0, 9}};
    int which = size ? data[0] % 4 : 0, n = which == 0 ? 3 : which == 2 ? 6 : 4;
    int64_t num, den;
    tr_err err;
    if (tr_countdown_eval(s, lists[which], n, size && (data[0] & 4), &num, &den, &err) == 0) {
        if (den <= 0) abort(); /* the documented invariant */
    }
    if (tr_countdown_eval(s, NULL, 0, 0, &num, &den, &err) == 0 && den <= 0) abort();
    char *resp = malloc(size + 32);
    if (resp) {
        memcpy(resp, "<answer>", 8);
        memcpy(resp + 8, data, size);
        memcpy(resp + 8 + size, "</answer>", 10);
        double sc = tr_countdown_score(resp, lists[which], n, 24, 0);
        if (!(sc == 0.0 || sc == 0.1 || sc == 1.0)) abort();
        free(resp);
    }
    free(s);
    return 0;
}
