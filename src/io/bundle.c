/* A model and its tokenizer from one path (include/tinyr1/io.h, tr_load_bundle). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tinyr1/io.h"
#include "tinyr1/text.h"
#include "tinyr1/train.h"

/* The tokenizer blob of a tinyr1 checkpoint (path or run folder), or NULL. */
static int embedded_tokenizer(const char *model_path, tr_tokenizer **tok, int *found,
                              tr_err *err) {
    *found = 0;
    char path[4096];
    struct stat sb;
    if (stat(model_path, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(path, sizeof path, "%s/checkpoint.bin", model_path);
    else
        snprintf(path, sizeof path, "%s", model_path);
    if (!tr_is_checkpoint(path)) return 0;
    tr_model tmp;
    tr_checkpoint_info info;
    if (tr_checkpoint_load(path, &tmp, NULL, tr_adamw_default_params(), &info, err) != 0)
        return -1;
    tr_model_free(&tmp);
    int rc = 0;
    if (info.tokenizer) {
        tr_tokenizer_files f = {.format = TR_TOKFMT_TINYR1, .data = info.tokenizer,
                                .len = info.tokenizer_len, .name = path};
        rc = tr_tokenizer_load_files(tok, &f, err);
        *found = rc == 0;
    }
    tr_checkpoint_info_free(&info);
    return rc;
}

int tr_load_bundle(const char *model_path, const char *tokenizer_path, tr_model *m,
                   tr_tokenizer **tok, tr_err *err) {
    if (tok) *tok = NULL;
    if (tr_model_load(m, model_path, err) != 0) return -1;
    if (!tok) return 0;
    int rc = 0, found = 0;
    if (tokenizer_path) {
        rc = tr_tokenizer_load(tok, tokenizer_path, err);
        found = rc == 0;
    } else {
        rc = embedded_tokenizer(model_path, tok, &found, err);
        struct stat sb;
        if (rc == 0 && !found && stat(model_path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            char cfg[4096];
            snprintf(cfg, sizeof cfg, "%s/config.json", model_path);
            if (stat(cfg, &sb) == 0) { /* a Hugging Face folder holds its tokenizer */
                rc = tr_tokenizer_load(tok, model_path, err);
                found = rc == 0;
            }
        }
        if (rc == 0 && !found)
            rc = tr_fail(err, "%s: the model has no tokenizer inside; give one with "
                              "--tokenizer PATH",
                         model_path);
    }
    if (rc == 0 && tr_tokenizer_vocab_size(*tok) > m->cfg.vocab)
        rc = tr_fail(err, "%s: the tokenizer has %d tokens but the model only %d rows",
                     model_path, (int)tr_tokenizer_vocab_size(*tok), m->cfg.vocab);
    if (rc != 0) {
        tr_model_free(m);
        if (*tok) tr_tokenizer_free(*tok);
        *tok = NULL;
    }
    return rc;
}
