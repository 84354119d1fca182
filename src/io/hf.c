/* Hugging Face folders: config.json <-> tr_config, safetensors weights <-> the parameter
 * buffer. Tensor names are the parameter table's names (they follow HF), so import and
 * export are a table lookup; no renaming happens here. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tinyr1/gen.h"
#include "tinyr1/io.h"

/* ---- config.json --------------------------------------------------------------- */
static const cJSON *field(const cJSON *root, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsNull(j) ? NULL : j; /* null means "use the default" */
}

/* An integer field in [lo, INT_MAX]: required (def == REQUIRED) or defaulted to def. */
#define REQUIRED INT_MIN
static int get_int(const cJSON *root, const char *label, const char *key, int lo, int def, int *out,
                   tr_err *err) {
    const cJSON *j = field(root, key);
    if (!j) {
        if (def == REQUIRED) return tr_fail(err, "%s: missing \"%s\"", label, key);
        *out = def;
        return 0;
    }
    double d = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(d >= lo && d <= INT_MAX && d == floor(d)))
        return tr_fail(err, "%s: \"%s\" must be an integer >= %d", label, key, lo);
    *out = (int)d;
    return 0;
}

static int get_float(const cJSON *root, const char *label, const char *key, double def, float *out,
                     tr_err *err) {
    const cJSON *j = field(root, key);
    if (!j) {
        *out = (float)def;
        return 0;
    }
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0) || j->valuedouble > 1e30)
        return tr_fail(err, "%s: \"%s\" must be a positive number", label, key);
    *out = (float)j->valuedouble;
    return 0;
}

static int get_bool(const cJSON *root, const char *label, const char *key, int def, int *out,
                    tr_err *err) {
    const cJSON *j = field(root, key);
    if (!j) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(j)) return tr_fail(err, "%s: \"%s\" must be true or false", label, key);
    *out = cJSON_IsTrue(j) ? 1 : 0;
    return 0;
}

/* bos/eos: an integer, a list of integers (the first is taken), null or absent (-1). */
static int get_token_id(const cJSON *root, const char *label, const char *key, int *out,
                        tr_err *err) {
    const cJSON *j = field(root, key);
    *out = -1;
    if (cJSON_IsArray(j)) j = j->child;
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble <= INT_MAX) ||
        j->valuedouble != floor(j->valuedouble))
        return tr_fail(err, "%s: \"%s\" must be a token id (non-negative integer)", label, key);
    *out = (int)j->valuedouble;
    return 0;
}

static int parse_config_obj(const cJSON *root, const char *label, tr_config *cfg, tr_hf_info *info,
                            tr_err *err) {
    if (!cJSON_IsObject(root)) return tr_fail(err, "%s: expected a JSON object", label);
    const char *arch = NULL;
    const cJSON *archs = field(root, "architectures");
    if (archs) {
        if (!cJSON_IsArray(archs) || cJSON_GetArraySize(archs) != 1 ||
            !cJSON_IsString(archs->child))
            return tr_fail(err, "%s: \"architectures\" must be a list of one string", label);
        arch = archs->child->valuestring;
    } else {
        const cJSON *mt = field(root, "model_type");
        if (!cJSON_IsString(mt))
            return tr_fail(err, "%s: neither \"architectures\" nor \"model_type\" given", label);
        arch = strcmp(mt->valuestring, "llama") == 0   ? "LlamaForCausalLM"
               : strcmp(mt->valuestring, "qwen2") == 0 ? "Qwen2ForCausalLM"
                                                       : mt->valuestring;
    }
    int qwen2;
    if (strcmp(arch, "LlamaForCausalLM") == 0)
        qwen2 = 0;
    else if (strcmp(arch, "Qwen2ForCausalLM") == 0)
        qwen2 = 1;
    else
        return tr_fail(err,
                       "%s: architecture '%.64s' is not supported (expected LlamaForCausalLM or "
                       "Qwen2ForCausalLM)",
                       label, arch);

    const cJSON *rs = field(root, "rope_scaling");
    if (rs) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
        if (!cJSON_IsString(ty)) ty = cJSON_GetObjectItemCaseSensitive(rs, "type");
        const char *name = cJSON_IsString(ty) ? ty->valuestring : "?";
        if (strcmp(name, "default") != 0)
            return tr_fail(err,
                           "%s: rope_scaling type '%.32s' is not supported (only none: "
                           "rope_scaling null or absent)",
                           label, name);
    }
    const cJSON *act = field(root, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0))
        return tr_fail(err, "%s: hidden_act must be \"silu\" (SwiGLU)", label);

    tr_config c = tr_config_default();
    int kv = 0, attn_bias = 0, mlp_bias = 0, sliding = 0, mrope = 0;
    if (get_int(root, label, "hidden_size", 1, REQUIRED, &c.dim, err) ||
        get_int(root, label, "num_hidden_layers", 1, REQUIRED, &c.n_layers, err) ||
        get_int(root, label, "num_attention_heads", 1, REQUIRED, &c.n_heads, err) ||
        get_int(root, label, "num_key_value_heads", 1, c.n_heads, &kv, err) ||
        get_int(root, label, "head_dim", 1, 0, &c.head_dim, err) ||
        get_int(root, label, "intermediate_size", 1, REQUIRED, &c.hidden_dim, err) ||
        get_int(root, label, "vocab_size", 1, REQUIRED, &c.vocab, err) ||
        get_int(root, label, "max_position_embeddings", 1, qwen2 ? 32768 : 2048, &c.max_seq, err) ||
        get_float(root, label, "rope_theta", 10000.0, &c.rope_theta, err) ||
        get_float(root, label, "rms_norm_eps", 1e-6, &c.norm_eps, err) ||
        get_bool(root, label, "tie_word_embeddings", 0, &c.tied_embeddings, err) ||
        get_bool(root, label, "attention_bias", 0, &attn_bias, err) ||
        get_bool(root, label, "mlp_bias", 0, &mlp_bias, err) ||
        get_bool(root, label, "use_sliding_window", 0, &sliding, err) ||
        get_bool(root, label, "use_mrope", 0, &mrope, err))
        return -1;
    c.n_kv_heads = kv;
    if (!qwen2 && attn_bias)
        return tr_fail(err,
                       "%s: attention_bias true (Llama) adds an o_proj bias, which tinyr1 "
                       "does not support",
                       label);
    if (mlp_bias) return tr_fail(err, "%s: mlp_bias true is not supported", label);
    if (qwen2 && sliding)
        return tr_fail(err, "%s: use_sliding_window true is not supported (full attention only)",
                       label);
    if (mrope) return tr_fail(err, "%s: use_mrope true is not supported", label);
    c.qkv_bias = qwen2; /* Qwen2 always has q/k/v biases */
    if (tr_config_validate(&c, err) != 0) return tr_fail_context(err, "%s", label);
    *cfg = c;
    if (info) {
        memset(info, 0, sizeof *info);
        info->is_qwen2 = qwen2;
        if (get_token_id(root, label, "bos_token_id", &info->bos_token_id, err) ||
            get_token_id(root, label, "eos_token_id", &info->eos_token_id, err))
            return -1;
        const cJSON *td = field(root, "torch_dtype");
        snprintf(info->torch_dtype, sizeof info->torch_dtype, "%s",
                 cJSON_IsString(td) ? td->valuestring : "");
    }
    return 0;
}

int tr_hf_parse_config(const char *json, size_t len, const char *label, tr_config *cfg,
                       tr_hf_info *info, tr_err *err) {
    if (!label) label = "config.json";
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return tr_fail(err, "%s: not valid JSON", label);
    int rc = parse_config_obj(root, label, cfg, info, err);
    cJSON_Delete(root);
    return rc;
}

/* ---- weights ------------------------------------------------------------------- */
static int is_harmless_extra(const char *name) {
    const char *suffix = "rotary_emb.inv_freq";
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcmp(name + n - s, suffix) == 0;
}

typedef struct {
    tr_model *m;
    unsigned char *loaded; /* per table tensor */
    uint16_t *bf16;        /* NULL, or the BF16 buffer that receives matrices and embeddings */
} load_ctx;

static int is_bf16_resident(const tr_tensor_info *ti) {
    return ti->kind == TR_TENSOR_MATRIX || ti->kind == TR_TENSOR_EMBED;
}

/* A matrix into the BF16 buffer: BF16 bytes copied as they are, other dtypes converted
 * (through f32, rounded to nearest even) in blocks of rows. */
static int load_bf16(load_ctx *c, const tr_safetensors *st, const tr_st_tensor *t,
                     const tr_tensor_info *ti, tr_err *err) {
    int same = t->ndim == ti->ndim;
    for (int d = 0; same && d < ti->ndim; d++) same = t->shape[d] == ti->shape[d];
    if (!same || t->dtype != TR_DT_BF16) {
        /* other dtypes (and every shape error, with tr_st_to_f32's message) via f32 */
        float *tmp = malloc(ti->numel * sizeof(float));
        if (!tmp) return tr_fail(err, "%s: out of memory for tensor '%s'", tr_st_path(st), t->name);
        int rc = tr_st_to_f32(st, t, tmp, ti->ndim, ti->shape, err);
        if (rc == 0) tr_bf16_round_to(c->bf16 + ti->offset, tmp, ti->numel);
        free(tmp);
        return rc;
    }
    memcpy(c->bf16 + ti->offset, t->data, ti->numel * sizeof(uint16_t));
    return 0;
}

/* Copies one file tensor into the buffer (or skips / refuses it). */
static int load_tensor(load_ctx *c, const tr_safetensors *st, const tr_st_tensor *t, tr_err *err) {
    int idx = tr_param_table_find(&c->m->table, t->name);
    if (idx < 0) {
        if (is_harmless_extra(t->name)) return 0;
        if (c->m->cfg.tied_embeddings && strcmp(t->name, "lm_head.weight") == 0) return 0;
        return tr_fail(err,
                       "%s: unexpected tensor '%s' (not part of this %s model: the config and "
                       "the weights disagree)",
                       tr_st_path(st), t->name, c->m->cfg.qkv_bias ? "Qwen2" : "Llama");
    }
    if (c->loaded[idx]) return tr_fail(err, "%s: tensor '%s' given twice", tr_st_path(st), t->name);
    const tr_tensor_info *ti = &c->m->table.tensors[idx];
    if (c->bf16 && is_bf16_resident(ti)) {
        if (load_bf16(c, st, t, ti, err) != 0) return -1;
    } else if (tr_st_to_f32(st, t, c->m->params + ti->offset, ti->ndim, ti->shape, err) != 0) {
        return -1;
    }
    c->loaded[idx] = 1;
    return 0;
}

static int load_file(load_ctx *c, const char *path, const cJSON *weight_map, const char *shard,
                     int *n_seen, tr_err *err) {
    tr_safetensors *st;
    if (tr_st_open(&st, path, err) != 0) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < tr_st_count(st); i++) {
        const tr_st_tensor *t = tr_st_get(st, i);
        if (weight_map) {
            const cJSON *where = cJSON_GetObjectItemCaseSensitive(weight_map, t->name);
            if (!cJSON_IsString(where) || strcmp(where->valuestring, shard) != 0) {
                rc = tr_fail(err, "%s: tensor '%s' is in shard %s but the index's weight_map %s",
                             path, t->name, shard,
                             cJSON_IsString(where) ? "names another shard" : "does not list it");
                break;
            }
            (*n_seen)++;
        }
        rc = load_tensor(c, st, t, err);
    }
    tr_st_close(st);
    return rc;
}

static int valid_shard_name(const char *s) {
    return s[0] && s[0] != '.' && !strchr(s, '/') && !strchr(s, '\\') && strlen(s) < 1024;
}

/* Reads and checks model.safetensors.index.json: *root owns it, *wm is its weight_map
 * (every value a plain file name, no tensor twice). */
static int read_index(const char *index_path, cJSON **root, const cJSON **wm, tr_err *err) {
    size_t len;
    char *text = tr_read_file(index_path, &len, err);
    if (!text) return -1;
    *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!*root) return tr_fail(err, "%s: not valid JSON", index_path);
    *wm = cJSON_GetObjectItemCaseSensitive(*root, "weight_map");
    if (!cJSON_IsObject(*wm)) return tr_fail(err, "%s: missing \"weight_map\" object", index_path);
    for (const cJSON *e = (*wm)->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !valid_shard_name(e->valuestring))
            return tr_fail(err, "%s: weight_map['%s'] must be a file name inside the folder",
                           index_path, e->string);
        for (const cJSON *d = (*wm)->child; d != e; d = d->next)
            if (strcmp(d->string, e->string) == 0)
                return tr_fail(err, "%s: weight_map lists '%s' twice", index_path, e->string);
    }
    return 0;
}

/* Whether e is the first entry of wm naming its shard (each shard is read once). */
static int first_mention(const cJSON *wm, const cJSON *e) {
    for (const cJSON *d = wm->child; d != e; d = d->next)
        if (strcmp(d->valuestring, e->valuestring) == 0) return 0;
    return 1;
}

static int load_sharded(load_ctx *c, const char *dir, const char *index_path, const cJSON *wm,
                        tr_err *err) {
    char path[4096];
    int n_seen = 0, n_listed = cJSON_GetArraySize(wm);
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!first_mention(wm, e)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        if (load_file(c, path, wm, e->valuestring, &n_seen, err) != 0) return -1;
    }
    if (n_seen != n_listed) {
        for (const cJSON *e = wm->child; e; e = e->next) {
            int idx = tr_param_table_find(&c->m->table, e->string);
            if (idx >= 0 && !c->loaded[idx])
                return tr_fail(err, "%s: weight_map lists '%s' in %s but the shard lacks it",
                               index_path, e->string, e->valuestring);
        }
        return tr_fail(err, "%s: weight_map lists %d tensors but the shards hold %d", index_path,
                       n_listed, n_seen);
    }
    return 0;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Bytes of the weight files (the shards of wm, or model.safetensors when wm is NULL);
 * a missing file counts 0 (it is refused later, by name). */
static uint64_t weight_bytes(const char *dir, const cJSON *wm) {
    char path[4096];
    struct stat sb;
    uint64_t total = 0;
    if (!wm) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    }
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!first_mention(wm, e)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        if (stat(path, &sb) == 0) total += (uint64_t)sb.st_size;
    }
    return total;
}

int tr_model_init_bf16(tr_model *m, uint16_t **bf16, const tr_config *cfg, tr_err *err) {
    memset(m, 0, sizeof *m);
    *bf16 = NULL;
    m->cfg = *cfg;
    if (tr_config_validate(&m->cfg, err) != 0) return -1;
    if (tr_param_table_build(&m->table, &m->cfg, err) != 0) return -1;
    /* calloc: a large block comes fresh from the OS, so the pages of the F32 matrices that
     * are never written are never backed by memory */
    m->params = calloc(m->table.total, sizeof(float));
    *bf16 = calloc(m->table.total, sizeof(uint16_t));
    if (!m->params || !*bf16) {
        tr_fail(err, "out of memory for a %zu-parameter model", m->table.total);
        goto fail;
    }
    if (tr_model_view_init(&m->view, &m->table, &m->cfg, m->params, err) != 0) goto fail;
    for (int i = 0; i < m->table.n_tensors; i++) {
        const tr_tensor_info *t = &m->table.tensors[i];
        if (t->kind == TR_TENSOR_NORM)
            for (size_t j = 0; j < t->numel; j++) m->params[t->offset + j] = 1.0f;
    }
    return 0;
fail:
    free(*bf16);
    *bf16 = NULL;
    tr_model_free(m);
    return -1;
}

/* tr_load_hf, or tr_load_hf_bf16 when bf16 is not NULL. */
static int load_hf(tr_model *m, uint16_t **bf16, const char *dir, tr_err *err) {
    memset(m, 0, sizeof *m);
    if (bf16) *bf16 = NULL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return tr_fail(err, "%s: path too long", dir);
    size_t len;
    char *text = tr_read_file(path, &len, err);
    if (!text) return -1;
    tr_config cfg;
    int rc = tr_hf_parse_config(text, len, path, &cfg, NULL, err);
    free(text);
    if (rc != 0) return -1;
    char index[4096];
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    cJSON *index_root = NULL;
    const cJSON *wm = NULL;
    if (file_exists(index) && read_index(index, &index_root, &wm, err) != 0) {
        cJSON_Delete(index_root);
        return -1;
    }
    char st_path[4096];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    if (!wm && !file_exists(st_path)) {
        snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
        return tr_fail(err, "%s: no model.safetensors or model.safetensors.index.json%s", dir,
                       file_exists(path) ? " (pytorch_model.bin is not read: convert it to "
                                           "safetensors)"
                                         : "");
    }
    /* the sizes in config.json are a stranger's word: the weight files must be able to hold
     * that many parameters (2 bytes each at least: F16/BF16) before anything is allocated */
    uint64_t have = weight_bytes(dir, wm);
    size_t n_params = tr_config_num_params(&cfg);
    if (have / 2 < n_params) {
        cJSON_Delete(index_root);
        return tr_fail(err,
                       "%s: config.json describes %zu parameters (%zu bytes at least), but the "
                       "weight files hold %" PRIu64 " bytes",
                       dir, n_params, 2 * n_params, have);
    }
    if ((bf16 ? tr_model_init_bf16(m, bf16, &cfg, err) : tr_model_init(m, &cfg, err)) != 0) {
        cJSON_Delete(index_root);
        return tr_fail_context(err, "%s", path);
    }
    load_ctx c = {m, calloc((size_t)m->table.n_tensors + 1, 1), bf16 ? *bf16 : NULL};
    if (!c.loaded)
        rc = tr_fail(err, "%s: out of memory", dir);
    else if (wm)
        rc = load_sharded(&c, dir, index, wm, err);
    else
        rc = load_file(&c, st_path, NULL, NULL, NULL, err);
    for (int i = 0; rc == 0 && i < m->table.n_tensors; i++)
        if (!c.loaded[i])
            rc = tr_fail(err, "%s: missing tensor '%s' (expected by config.json)", dir,
                         m->table.tensors[i].name);
    free(c.loaded);
    cJSON_Delete(index_root);
    if (rc != 0) {
        tr_model_free(m);
        if (bf16) {
            free(*bf16);
            *bf16 = NULL;
        }
    }
    return rc;
}

int tr_load_hf(tr_model *m, const char *dir, tr_err *err) {
    return load_hf(m, NULL, dir, err);
}

int tr_load_hf_bf16(tr_model *m, uint16_t **bf16, const char *dir, tr_err *err) {
    return load_hf(m, bf16, dir, err);
}

/* ---- export -------------------------------------------------------------------- */
/* The shortest decimal that reads back as the same float, as a double (so 1e-6f is written
 * "1e-06", not "9.99999997e-07"). */
static double short_float(float f) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    return strtod(buf, NULL);
}

static char *config_json(const tr_config *c, int bf16, int bos, int eos) {
    cJSON *r = cJSON_CreateObject();
    cJSON *archs = cJSON_AddArrayToObject(r, "architectures");
    cJSON_AddItemToArray(archs,
                         cJSON_CreateString(c->qkv_bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
    cJSON_AddStringToObject(r, "model_type", c->qkv_bias ? "qwen2" : "llama");
    cJSON_AddNumberToObject(r, "hidden_size", c->dim);
    cJSON_AddNumberToObject(r, "intermediate_size", c->hidden_dim);
    cJSON_AddNumberToObject(r, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(r, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(r, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(r, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(r, "vocab_size", c->vocab);
    cJSON_AddNumberToObject(r, "max_position_embeddings", c->max_seq);
    cJSON_AddNumberToObject(r, "rms_norm_eps", short_float(c->norm_eps));
    cJSON_AddNumberToObject(r, "rope_theta", short_float(c->rope_theta));
    cJSON_AddNullToObject(r, "rope_scaling");
    cJSON_AddBoolToObject(r, "tie_word_embeddings", c->tied_embeddings);
    cJSON_AddStringToObject(r, "hidden_act", "silu");
    if (c->qkv_bias) {
        cJSON_AddBoolToObject(r, "use_sliding_window", 0);
        cJSON_AddNumberToObject(r, "max_window_layers", c->n_layers);
    } else {
        cJSON_AddBoolToObject(r, "attention_bias", 0);
        cJSON_AddBoolToObject(r, "mlp_bias", 0);
    }
    cJSON_AddNumberToObject(r, "attention_dropout", 0.0);
    cJSON_AddNumberToObject(r, "initializer_range", 0.02);
    cJSON_AddBoolToObject(r, "use_cache", 1);
    cJSON_AddStringToObject(r, "torch_dtype", bf16 ? "bfloat16" : "float32");
    if (bos >= 0)
        cJSON_AddNumberToObject(r, "bos_token_id", bos);
    else
        cJSON_AddNullToObject(r, "bos_token_id");
    if (eos >= 0)
        cJSON_AddNumberToObject(r, "eos_token_id", eos);
    else
        cJSON_AddNullToObject(r, "eos_token_id");
    char *s = cJSON_Print(r);
    cJSON_Delete(r);
    return s;
}

int tr_save_hf(const tr_model *m, const char *dir, int bf16, int bos_id, int eos_id, tr_err *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir) >= (int)sizeof path)
        return tr_fail(err, "%s: path too long", dir);
    if (tr_mkdirs(dir, err) != 0) return -1;
    if (file_exists(path))
        return tr_fail(err,
                       "%s: the folder holds a sharded model (%s); export into another "
                       "folder",
                       dir, path);
    const tr_param_table *tb = &m->table;
    tr_st_write_tensor *ts = calloc((size_t)tb->n_tensors + 1, sizeof *ts);
    if (!ts) return tr_fail(err, "%s: out of memory", dir);
    for (int i = 0; i < tb->n_tensors; i++) {
        const tr_tensor_info *t = &tb->tensors[i];
        ts[i] = (tr_st_write_tensor){t->name, bf16 ? TR_DT_BF16 : TR_DT_F32, t->ndim, t->shape,
                                     NULL,    m->params + t->offset};
    }
    const char *mk = "format", *mv = "pt";
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = tr_st_write(path, ts, tb->n_tensors, &mk, &mv, 1, err);
    free(ts);
    if (rc != 0) return -1;
    char *json = config_json(&m->cfg, bf16, bos_id, eos_id);
    if (!json) return tr_fail(err, "%s: out of memory", dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    rc = tr_write_file_atomic(path, json, strlen(json), err);
    free(json);
    return rc;
}
