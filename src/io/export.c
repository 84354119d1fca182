/* Export: any model tinyr1 reads (tinyr1 checkpoint, llama2.c .bin, Hugging Face folder) to
 * a Hugging Face folder that transformers loads unchanged: config.json + model.safetensors
 * (tr_save_hf), generation_config.json, and the tokenizer files. docs/hf.md has the user's
 * view; tests/parity_hf.c loads the result with transformers itself. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tinyr1/io.h"
#include "tinyr1/train.h"

/* Files transformers reads from a model folder besides config.json and model.safetensors.
 * An export overwrites some of them; one it does not overwrite but finds in the folder would
 * shadow or contradict the export (AutoTokenizer prefers tokenizer.json to vocab.json,
 * from_pretrained reads an index before model.safetensors), so it is refused. */
static const char *const watched[] = {
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
};
#define N_WATCHED ((int)(sizeof watched / sizeof watched[0]))
/* What tr_tokenizer_save_hf writes. */
static const char *const tok_files[] = {"vocab.json", "merges.txt", "tokenizer_config.json"};
/* What is copied from a Hugging Face source folder, when present. */
static const char *const copied[] = {
    "tokenizer.json",          "tokenizer_config.json", "vocab.json",      "merges.txt",
    "special_tokens_map.json", "added_tokens.json",     "tokenizer.model", "generation_config.json",
};
#define N_COPIED ((int)(sizeof copied / sizeof copied[0]))

const char *tr_model_format_name(tr_model_format f) {
    switch (f) {
    case TR_FMT_HF:
        return "hf";
    case TR_FMT_LLAMA2C:
        return "llama2c";
    case TR_FMT_TINYR1:
        return "tinyr1";
    }
    return "?";
}

tr_export_params tr_export_default_params(void) {
    tr_export_params p = {0};
    return p;
}

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int join(char *out, size_t cap, const char *dir, const char *name, tr_err *err) {
    if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap)
        return tr_fail(err, "%s: path too long", dir);
    return 0;
}

static int in_list(const char *name, const char *const *list, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0) return 1;
    return 0;
}

/* Refuses dir if it holds a watched file that is not among `writes`. */
static int check_dir(const char *dir, const char *const *writes, int n_writes, tr_err *err) {
    char path[4096];
    for (int i = 0; i < N_WATCHED; i++) {
        if (in_list(watched[i], writes, n_writes)) continue;
        if (join(path, sizeof path, dir, watched[i], err) != 0) return -1;
        if (is_file(path))
            return tr_fail(err,
                           "%s: already holds %s, which the export does not write but "
                           "transformers would read with it; export into an empty folder or "
                           "remove that file",
                           dir, watched[i]);
    }
    return 0;
}

static int write_generation_config(const char *dir, int bos, int eos, tr_err *err) {
    char text[256], path[4096], b[16] = "null", e[16] = "null";
    if (bos >= 0) snprintf(b, sizeof b, "%d", bos);
    if (eos >= 0) snprintf(e, sizeof e, "%d", eos);
    snprintf(text, sizeof text,
             "{\n  \"_from_model_config\": true,\n  \"bos_token_id\": %s,\n"
             "  \"eos_token_id\": %s\n}\n",
             b, e);
    if (join(path, sizeof path, dir, "generation_config.json", err) != 0) return -1;
    return tr_write_file_atomic(path, text, strlen(text), err);
}

static int check_model(const tr_model *m, const char *dir, tr_err *err) {
    const tr_config *c = &m->cfg;
    if (c->qkv_bias && c->head_dim * c->n_heads != c->dim)
        return tr_fail(err,
                       "%s: a Qwen2 model (q/k/v biases) with head_dim %d x %d heads != "
                       "hidden size %d cannot be written: transformers' Qwen2 derives "
                       "head_dim from hidden_size / num_attention_heads",
                       dir, c->head_dim, c->n_heads, c->dim);
    return 0;
}

static int check_tokenizer(const tr_model *m, const tr_tokenizer *tok, const char *dir,
                           tr_err *err) {
    if (tr_tokenizer_kind_of(tok) != TR_TOK_BYTE_BPE)
        return tr_fail(err,
                       "%s: the tokenizer is a llama2.c (SentencePiece-style) scored "
                       "tokenizer, which has no vocab.json/merges.txt form; export without "
                       "it (--no-tokenizer) or give a byte-level BPE one (--tokenizer)",
                       dir);
    if (tr_tokenizer_vocab_size(tok) > m->cfg.vocab)
        return tr_fail(err, "%s: the tokenizer has %d tokens but the model only %d embedding rows",
                       dir, (int)tr_tokenizer_vocab_size(tok), m->cfg.vocab);
    return 0;
}

/* The common path: checks, weights, config, generation config, tokenizer. `extra` names
 * files the caller writes afterwards (copied tokenizer files). */
static int export_model(const tr_model *m, const tr_tokenizer *tok, const char *dir, int bf16,
                        int bos, int eos, const char *const *extra, int n_extra, int gen_config,
                        tr_err *err) {
    if (check_model(m, dir, err) != 0) return -1;
    if (tok && check_tokenizer(m, tok, dir, err) != 0) return -1;
    const char *writes[N_WATCHED + 8];
    int n = 0;
    if (tok)
        for (int i = 0; i < 3; i++) writes[n++] = tok_files[i];
    for (int i = 0; i < n_extra && n < (int)(sizeof writes / sizeof writes[0]); i++)
        writes[n++] = extra[i];
    if (check_dir(dir, writes, n, err) != 0) return -1;
    if (tr_save_hf(m, dir, bf16, bos, eos, err) != 0) return -1;
    if (gen_config && write_generation_config(dir, bos, eos, err) != 0) return -1;
    if (tok && tr_tokenizer_save_hf(tok, dir, err) != 0)
        return tr_fail_context(err, "%s: writing the tokenizer", dir);
    return 0;
}

int tr_export_hf_model(const tr_model *m, const tr_tokenizer *tok, const char *dir, int bf16,
                       int bos_id, int eos_id, tr_err *err) {
    return export_model(m, tok, dir, bf16, bos_id, eos_id, NULL, 0, 1, err);
}

/* ---- from a path ---------------------------------------------------------------- */
static int detect(const char *path, char *file, size_t cap, tr_model_format *fmt, tr_err *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return tr_fail(err, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        if (join(file, cap, path, "config.json", err) != 0) return -1;
        if (is_file(file)) {
            *fmt = TR_FMT_HF;
            snprintf(file, cap, "%s", path);
            return 0;
        }
        if (join(file, cap, path, "checkpoint.bin", err) != 0) return -1;
        if (tr_is_checkpoint(file)) {
            *fmt = TR_FMT_TINYR1;
            return 0;
        }
    } else {
        snprintf(file, cap, "%s", path);
        if (tr_is_checkpoint(path)) {
            *fmt = TR_FMT_TINYR1;
            return 0;
        }
        size_t n = strlen(path);
        if (n >= 4 && strcmp(path + n - 4, ".bin") == 0) {
            *fmt = TR_FMT_LLAMA2C;
            return 0;
        }
    }
    return tr_fail(err,
                   "%s: not a model: expected a tinyr1 checkpoint (or a run folder holding "
                   "checkpoint.bin), a Hugging Face folder (config.json + model.safetensors) "
                   "or a llama2.c .bin file",
                   path);
}

/* bos/eos from a Hugging Face folder's config.json. */
static int hf_special_ids(const char *dir, int *bos, int *eos, tr_err *err) {
    char path[4096];
    if (join(path, sizeof path, dir, "config.json", err) != 0) return -1;
    size_t len;
    char *text = tr_read_file(path, &len, err);
    if (!text) return -1;
    tr_config cfg;
    tr_hf_info hi;
    int rc = tr_hf_parse_config(text, len, path, &cfg, &hi, err);
    free(text);
    if (rc == 0) {
        *bos = hi.bos_token_id;
        *eos = hi.eos_token_id;
    }
    return rc;
}

static int copy_file(const char *from_dir, const char *to_dir, const char *name, tr_err *err) {
    char src[4096], dst[4096];
    if (join(src, sizeof src, from_dir, name, err) != 0 ||
        join(dst, sizeof dst, to_dir, name, err) != 0)
        return -1;
    size_t len;
    char *data = tr_read_file(src, &len, err);
    if (!data) return -1;
    int rc = tr_write_file_atomic(dst, data, len, err);
    free(data);
    return rc;
}

static int same_folder(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0; /* b may not exist yet */
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void note(tr_export_info *info, const char *fmt, ...) TR_PRINTF(2, 3);
static void note(tr_export_info *info, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info->tokenizer, sizeof info->tokenizer, fmt, ap);
    va_end(ap);
}

int tr_export_hf(const char *model_path, const char *dir, const tr_export_params *p,
                 tr_export_info *info, tr_err *err) {
    tr_export_params defaults = tr_export_default_params();
    if (!p) p = &defaults;
    tr_export_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    info->bos_id = info->eos_id = -1;
    char file[4096];
    tr_model_format fmt = TR_FMT_HF;
    if (detect(model_path, file, sizeof file, &fmt, err) != 0) return -1;
    info->source = fmt;
    if (fmt == TR_FMT_HF && same_folder(model_path, dir))
        return tr_fail(err, "%s: the export folder is the source folder; choose another", dir);

    tr_model m;
    tr_tokenizer *tok = NULL;
    tr_checkpoint_info ck = {0};
    int bos = -1, eos = -1, rc = -1;
    memset(&m, 0, sizeof m);
    if (fmt == TR_FMT_HF) {
        if (tr_load_hf(&m, file, err) != 0 || hf_special_ids(file, &bos, &eos, err) != 0) goto done;
    } else if (fmt == TR_FMT_TINYR1) {
        if (tr_checkpoint_load(file, &m, NULL, tr_adamw_default_params(), &ck, err) != 0) goto done;
    } else {
        if (tr_load_llama2c(&m, file, err) != 0) goto done;
        bos = 1; /* llama2.c's SentencePiece vocabularies: 1 = <s>, 2 = </s> */
        eos = 2;
    }
    info->n_params = m.table.total;

    /* the tokenizer */
    const char *copies[N_COPIED];
    int n_copies = 0;
    if (p->no_tokenizer) {
        note(info, "none (--no-tokenizer)");
    } else if (p->tokenizer) {
        if (tr_tokenizer_load(&tok, p->tokenizer, err) != 0) goto done;
        note(info, "%s written as vocab.json + merges.txt + tokenizer_config.json (%ld tokens)",
             p->tokenizer, (long)tr_tokenizer_vocab_size(tok));
    } else if (fmt == TR_FMT_TINYR1 && ck.tokenizer) {
        tr_tokenizer_files f = {
            .format = TR_TOKFMT_AUTO, .data = ck.tokenizer, .len = ck.tokenizer_len, .name = file};
        if (tr_tokenizer_load_files(&tok, &f, err) != 0) {
            tr_fail_context(err, "%s: the embedded tokenizer", file);
            goto done;
        }
        note(info,
             "the checkpoint's embedded tokenizer written as vocab.json + merges.txt + "
             "tokenizer_config.json (%ld tokens)",
             (long)tr_tokenizer_vocab_size(tok));
    } else if (fmt == TR_FMT_TINYR1) {
        note(info, "none: the checkpoint embeds no tokenizer (byte ids); give --tokenizer");
    } else if (fmt == TR_FMT_HF) {
        char path[4096];
        for (int i = 0; i < N_COPIED; i++) {
            if (join(path, sizeof path, file, copied[i], err) != 0) goto done;
            if (is_file(path)) copies[n_copies++] = copied[i];
        }
        note(info, "%d tokenizer/generation file(s) copied from %s", n_copies, file);
    } else {
        note(info, "none: llama2.c tokenizers are SentencePiece-style, not byte-level BPE "
                   "(give --tokenizer for a byte-level one)");
    }
    if (tok) {
        bos = tr_tokenizer_bos(tok);
        eos = tr_tokenizer_eos(tok);
    }
    int own_gen_config = !in_list("generation_config.json", copies, n_copies);
    if (export_model(&m, tok, dir, p->bf16, bos, eos, copies, n_copies, own_gen_config, err) != 0)
        goto done;
    for (int i = 0; i < n_copies; i++)
        if (copy_file(file, dir, copies[i], err) != 0) goto done;
    info->bos_id = bos;
    info->eos_id = eos;
    info->tokenizer_files = tok ? 3 : 0;
    for (int i = 0; i < n_copies; i++)
        if (strcmp(copies[i], "generation_config.json") != 0) info->tokenizer_files++;
    rc = 0;
done:
    tr_tokenizer_free(tok);
    tr_checkpoint_info_free(&ck);
    tr_model_free(&m);
    return rc;
}
