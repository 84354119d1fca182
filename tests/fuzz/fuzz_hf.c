/* Fuzz target: a Hugging Face model folder from a stranger. Byte 0 picks the mode:
 *   0  config.json text alone (tr_hf_parse_config);
 *   1  config.json 0x01 0x02 model.safetensors, written into a temporary folder, loaded
 *      with tr_load_hf (byte 0 = 4: tr_load_hf_bf16);
 *   2  config.json, model.safetensors.index.json, shard "s", shard "t" (separated by
 *      0x01 0x02), loaded the same way (byte 0 = 5: BF16).
 * A config that parses must validate; a model that loads must not hold more parameters
 * than the weight files could store (2 bytes each at least). */
#include <stdint.h>
#include <string.h>

#include "fuzz_files.h"
#include "tinyr1.h"

#define NAME "fuzz_hf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] % 3, bf16 = data[0] % 6 >= 3;
    const uint8_t *parts[4];
    size_t lens[4];
    tr_err err;
    if (mode == 0) {
        tr_config c;
        tr_hf_info info;
        if (tr_hf_parse_config((const char *)data + 1, size - 1, NULL, &c, &info, &err) == 0) {
            fz_note(NAME, "parsed");
            tr_config v = c;
            fz_must(tr_config_validate(&v, &err) == 0, NAME, "parsed an invalid config");
            fz_must(info.bos_token_id >= -1 && info.eos_token_id >= -1, NAME, "token ids");
            fz_must(strlen(info.torch_dtype) < sizeof info.torch_dtype, NAME, "torch_dtype");
        } else {
            fz_note(NAME, err.msg);
            fz_must(err.msg[0] != '\0', NAME, "failed parse without a message");
        }
        return 0;
    }
    int n = fz_split(data + 1, size - 1, parts, lens, mode == 1 ? 2 : 4);
    static const char *const names[2][4] = {
        {"config.json", "model.safetensors", "", ""},
        {"config.json", "model.safetensors.index.json", "s", "t"}};
    fz_dir d;
    char path[4096];
    if (fz_dir_open(&d) != 0) return 0;
    int ok = 1;
    for (int i = 0; i < n && ok; i++)
        ok = fz_dir_write(&d, names[mode - 1][i], parts[i], lens[i], path) == 0;
    if (ok) {
        tr_model m;
        uint16_t *w16 = NULL;
        int rc = bf16 ? tr_load_hf_bf16(&m, &w16, d.path, &err) : tr_load_hf(&m, d.path, &err);
        if (rc == 0) {
            fz_note(NAME, "loaded");
            tr_config c = m.cfg;
            fz_must(tr_config_validate(&c, &err) == 0, NAME, "loaded an invalid config");
            fz_must(m.table.total * 2 <= size, NAME, "more parameters than the files hold");
            fz_must(!bf16 || w16 != NULL, NAME, "no BF16 buffer");
            tr_model_free(&m);
            free(w16);
        } else {
            fz_must(m.params == NULL && w16 == NULL, NAME, "failed load left a model");
            fz_note(NAME, err.msg);
            fz_must(err.msg[0] != '\0', NAME, "failed load without a message");
        }
    }
    fz_dir_close(&d);
    return 0;
}
