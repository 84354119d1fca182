/* Fuzz target: a tinyr1 checkpoint from a stranger (tr_checkpoint_load, with an optimizer,
 * then tr_load_bundle on its run folder: model + embedded tokenizer). Byte 0 picks:
 *   even  the rest is the file as it is;
 *   odd   the rest is header JSON 0x01 0x02 data section, and this target writes the file
 *         around them with a correct 64-byte prefix (lengths, alignment, FNV-1a checksum),
 *         so the fuzzer reaches the header's fields instead of the checksum test.
 * Whatever loads must be a valid config whose float32 weights came from the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_files.h"
#include "tinyr1.h"

#define NAME "fuzz_checkpoint"

static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* prefix + header + zero padding to 64 + data, in a new buffer of *len bytes. */
static uint8_t *build(const uint8_t *header, size_t hlen, const uint8_t *body, size_t blen,
                      size_t *len) {
    size_t data_offset = (64 + hlen + 63) / 64 * 64;
    *len = data_offset + blen;
    uint8_t *f = calloc(*len ? *len : 1, 1);
    if (!f) return NULL;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < blen; i++) h = (h ^ body[i]) * 0x100000001b3ULL;
    memcpy(f, "TINYR1CK", 8);
    put_le(f + 8, 1, 4);
    put_le(f + 12, hlen, 4);
    put_le(f + 16, data_offset, 8);
    put_le(f + 24, blen, 8);
    put_le(f + 32, h, 8);
    memcpy(f + 64, header, hlen);
    memcpy(f + data_offset, body, blen);
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *file = data + 1;
    size_t len = size - 1;
    uint8_t *built = NULL;
    if (data[0] & 1) {
        const uint8_t *parts[2];
        size_t lens[2] = {0, 0};
        int n = fz_split(data + 1, size - 1, parts, lens, 2);
        built = build(parts[0], lens[0], n > 1 ? parts[1] : parts[0], lens[1], &len);
        if (!built) return 0;
        file = built;
    }
    fz_dir d;
    char path[4096];
    if (fz_dir_open(&d) != 0 || fz_dir_write(&d, "checkpoint.bin", file, len, path) != 0) {
        free(built);
        return 0;
    }
    tr_model m;
    tr_adamw opt;
    memset(&opt, 0, sizeof opt);
    tr_checkpoint_info info;
    tr_err err;
    if (tr_checkpoint_load(path, &m, &opt, tr_adamw_default_params(), &info, &err) == 0) {
        fz_note(NAME, "loaded");
        tr_config c = m.cfg;
        fz_must(tr_config_validate(&c, &err) == 0, NAME, "loaded an invalid config");
        fz_must(m.table.total * sizeof(float) <= len, NAME, "more weights than the file holds");
        fz_must(info.tokenizer_len <= len, NAME, "tokenizer larger than the file");
        tr_adamw_free(&opt);
        tr_checkpoint_info_free(&info);
        tr_model_free(&m);
        /* the run folder: model and its embedded tokenizer together */
        tr_tokenizer *tok = NULL;
        if (tr_load_bundle(d.path, NULL, &m, &tok, &err) == 0) {
            fz_must(tr_tokenizer_vocab_size(tok) <= m.cfg.vocab, NAME, "tokenizer > vocab");
            fz_note(NAME, "bundle loaded");
            tr_tokenizer_free(tok);
            tr_model_free(&m);
        } else {
            fz_note(NAME, err.msg);
            fz_must(tok == NULL && m.params == NULL, NAME, "failed bundle left something");
        }
    } else {
        fz_must(m.params == NULL && info.tokenizer == NULL && info.meta_json == NULL, NAME,
                "failed load left something");
        fz_note(NAME, err.msg);
        fz_must(err.msg[0] != '\0', NAME, "failed load without a message");
    }
    fz_dir_close(&d);
    free(built);
    return 0;
}
