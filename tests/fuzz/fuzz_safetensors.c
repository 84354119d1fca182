/* Fuzz target: the safetensors reader on arbitrary bytes. Whatever it accepts must be
 * self-consistent: every tensor's bytes lie inside the input, find() returns each tensor,
 * metadata pairs are readable, float dtypes convert without touching memory out of range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tinyr1/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tr_safetensors *st = NULL;
    tr_err err;
    if (tr_st_open_memory(&st, data, size, "fuzz", &err) != 0) {
        if (st != NULL || err.msg[0] == '\0') abort(); /* failure must leave a message */
        return 0;
    }
    for (int i = 0; i < tr_st_count(st); i++) {
        const tr_st_tensor *t = tr_st_get(st, i);
        const uint8_t *p = t->data;
        if (p < data || p + t->nbytes > data + size) abort();
        if (t->nbytes != (size_t)t->numel * tr_dtype_size(t->dtype)) abort();
        if (tr_st_find(st, t->name) != t) abort();
        if (t->numel <= 4096) {
            float *out = malloc(((size_t)t->numel + 1) * sizeof(float));
            if (out) {
                (void)tr_st_to_f32(st, t, out, t->ndim, t->shape, &err);
                free(out);
            }
        }
    }
    for (int i = 0; i < tr_st_metadata_count(st); i++) {
        const char *k, *v;
        if (tr_st_metadata_at(st, i, &k, &v) != 0 || tr_st_metadata(st, k) == NULL) abort();
        (void)strlen(v);
    }
    tr_st_close(st);
    return 0;
}
