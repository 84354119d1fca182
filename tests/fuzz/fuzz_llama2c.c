/* Fuzz target: a model .bin file from a stranger, through tr_model_load (a llama2.c
 * version-0 .bin, or a tinyr1 checkpoint when it starts with the checkpoint magic). The
 * input is written to a temporary model.bin. Whatever loads must be a valid config whose
 * float32 weights all came from the file (4 bytes each, so no more than the file holds);
 * whatever fails must leave m zeroed and a message. */
#include <stdint.h>
#include <string.h>

#include "fuzz_files.h"
#include "tinyr1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_dir d;
    char path[4096];
    if (fz_dir_open(&d) != 0) return 0;
    if (fz_dir_write(&d, "model.bin", data, size, path) == 0) {
        tr_model m;
        tr_err err;
        if (tr_model_load(&m, path, &err) == 0) {
            fz_note("fuzz_llama2c", "loaded");
            tr_config c = m.cfg;
            fz_must(tr_config_validate(&c, &err) == 0, "fuzz_llama2c", "loaded an invalid config");
            fz_must(m.table.total * sizeof(float) <= size, "fuzz_llama2c",
                    "more weights than the file holds");
            fz_must(m.view.embed && m.view.lm_head && m.view.final_norm, "fuzz_llama2c", "views");
            tr_model_free(&m);
        } else {
            fz_must(m.params == NULL && m.table.tensors == NULL, "fuzz_llama2c",
                    "failed load left a model");
            fz_note("fuzz_llama2c", err.msg);
            fz_must(err.msg[0] != '\0', "fuzz_llama2c", "failed load without a message");
        }
    }
    fz_dir_close(&d);
    return 0;
}
