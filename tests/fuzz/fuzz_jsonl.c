/* Fuzz target: the JSONL reader (memory source, small line limit, both modes) and the
 * conversion of every row to a dataset example of its detected kind. */
#include <stdint.h>
#include <stdlib.h>

#include "tinyr1.h"

static void run(const uint8_t *data, size_t size, int skip_bad, size_t max_line) {
    tr_jsonl r;
    tr_err err;
    if (tr_jsonl_open_mem(&r, "fuzz", (const char *)data, size, max_line, skip_bad, &err) != 0)
        return;
    tr_ds_kind kind = TR_DS_UNKNOWN;
    for (int i = 0; i < 10000; i++) {
        cJSON *row = NULL;
        int got = tr_jsonl_next(&r, &row, &err);
        if (got == 0) break;
        if (got < 0) continue; /* strict mode: the bad line is consumed, go on */
        if (kind == TR_DS_UNKNOWN) kind = tr_ds_detect(row);
        tr_example ex = {0};
        if (tr_example_from_json(&ex, row, kind, "fuzz:1", &err) == 0) {
            const tr_task *t = tr_task_find(ex.kind == TR_DS_COUNTDOWN ? "countdown" : "math");
            tr_problem p;
            if (tr_task_problem_from_row(t, &ex, row, NULL, &p, &err) == 0) {
                tr_verdict v;
                tr_task_verify(t, &p, p.completion ? p.completion : "", &v);
                tr_problem_free(&p);
            }
            tr_example_free(&ex);
        }
        cJSON_Delete(row);
    }
    tr_jsonl_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    run(data, size, 0, 4096);
    run(data, size, 1, 64);
    return 0;
}
