/* Hugging Face import/export: config.json parsing (real-model configs written here by
 * hand), a hand-made model folder (tensor names and shapes listed here, not taken from the
 * parameter table) loaded into a tr_model, every refusal, sharded indexes, and the
 * tr_save_hf -> tr_load_hf round trip in F32 (exact) and BF16 (within rounding). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "testutil.h"

static char tmpdir[64];

/* DeepSeek-R1-Distill-Qwen-1.5B's config.json, as published. */
static const char *qwen_distill_config =
    "{\n"
    "  \"_name_or_path\": \"/cpfs01/user/qwen/Qwen2.5-Math-1.5B\",\n"
    "  \"architectures\": [\"Qwen2ForCausalLM\"],\n"
    "  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": 151643,\n"
    "  \"eos_token_id\": 151643,\n"
    "  \"hidden_act\": \"silu\",\n"
    "  \"hidden_size\": 1536,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 8960,\n"
    "  \"max_position_embeddings\": 131072,\n"
    "  \"max_window_layers\": 21,\n"
    "  \"model_type\": \"qwen2\",\n"
    "  \"num_attention_heads\": 12,\n"
    "  \"num_hidden_layers\": 28,\n"
    "  \"num_key_value_heads\": 2,\n"
    "  \"rms_norm_eps\": 1e-06,\n"
    "  \"rope_theta\": 10000,\n"
    "  \"sliding_window\": 4096,\n"
    "  \"tie_word_embeddings\": false,\n"
    "  \"torch_dtype\": \"bfloat16\",\n"
    "  \"transformers_version\": \"4.44.0\",\n"
    "  \"use_cache\": true,\n"
    "  \"use_mrope\": false,\n"
    "  \"use_sliding_window\": false,\n"
    "  \"vocab_size\": 151936\n"
    "}\n";

/* TinyLlama-1.1B's config.json (a Llama 2 architecture with GQA). */
static const char *tinyllama_config =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"bos_token_id\": 1, \"eos_token_id\": 2,"
    " \"hidden_act\": \"silu\", \"hidden_size\": 2048, \"initializer_range\": 0.02,"
    " \"intermediate_size\": 5632, \"max_position_embeddings\": 2048, \"model_type\": \"llama\","
    " \"num_attention_heads\": 32, \"num_hidden_layers\": 22, \"num_key_value_heads\": 4,"
    " \"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05, \"rope_scaling\": null,"
    " \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, \"torch_dtype\": \"float32\","
    " \"transformers_version\": \"4.35.0\", \"use_cache\": true, \"vocab_size\": 32000}";

static int parse(const char *json, tr_config *c, tr_hf_info *info, tr_err *err) {
    return tr_hf_parse_config(json, strlen(json), "cfg.json", c, info, err);
}

static void expect_config_refused(const char *json, const char *want) {
    tr_config c;
    tr_err err = {{0}};
    CHECK_MSG(parse(json, &c, NULL, &err) == -1, "accepted: %s", json);
    CHECK_MSG(strstr(err.msg, "cfg.json") && strstr(err.msg, want), "message '%s' lacks '%s'",
              err.msg, want);
}

static void test_config(void) {
    tr_config c;
    tr_hf_info info;
    tr_err err;
    CHECK_MSG(parse(qwen_distill_config, &c, &info, &err) == 0, "%s", err.msg);
    CHECK(c.dim == 1536 && c.n_layers == 28 && c.n_heads == 12 && c.n_kv_heads == 2);
    CHECK(c.head_dim == 128 && c.hidden_dim == 8960 && c.vocab == 151936);
    CHECK(c.rope_theta == 10000.0f && c.norm_eps == 1e-6f && c.max_seq == 131072);
    CHECK(c.tied_embeddings == 0 && c.qkv_bias == 1);
    CHECK(info.is_qwen2 == 1 && info.bos_token_id == 151643 && info.eos_token_id == 151643);
    CHECK(strcmp(info.torch_dtype, "bfloat16") == 0);
    /* 1.5B parameters: the published count is 1,777,088,000 (with the untied lm_head) */
    CHECK(tr_config_num_params(&c) == 1777088000u);

    CHECK_MSG(parse(tinyllama_config, &c, &info, &err) == 0, "%s", err.msg);
    CHECK(c.dim == 2048 && c.n_layers == 22 && c.n_heads == 32 && c.n_kv_heads == 4);
    CHECK(c.head_dim == 64 && c.hidden_dim == 5632 && c.vocab == 32000 && c.max_seq == 2048);
    CHECK(c.norm_eps == 1e-5f && c.rope_theta == 10000.0f && c.qkv_bias == 0 && !c.tied_embeddings);
    CHECK(info.is_qwen2 == 0 && info.bos_token_id == 1 && info.eos_token_id == 2);
    CHECK(tr_config_num_params(&c) == 1100048384u); /* TinyLlama-1.1B's published count */

    /* defaults: no kv heads, theta, eps, tie, max positions; eos as a list */
    CHECK(parse("{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,"
                "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"intermediate_size\":96,"
                "\"vocab_size\":100,\"eos_token_id\":[7,8],\"num_key_value_heads\":null}",
                &c, &info, &err) == 0);
    CHECK(c.n_kv_heads == 4 && c.rope_theta == 10000.0f && c.norm_eps == 1e-6f);
    CHECK(c.tied_embeddings == 0 && c.max_seq == 2048 && c.qkv_bias == 0);
    CHECK(info.bos_token_id == -1 && info.eos_token_id == 7);
    CHECK(parse("{\"model_type\":\"qwen2\",\"hidden_size\":64,\"num_hidden_layers\":2,"
                "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"intermediate_size\":96,"
                "\"vocab_size\":100,\"tie_word_embeddings\":true,\"head_dim\":32,"
                "\"rope_scaling\":{\"rope_type\":\"default\"}}",
                &c, NULL, &err) == 0);
    CHECK(c.qkv_bias == 1 && c.max_seq == 32768 && c.tied_embeddings == 1 && c.head_dim == 32);

    const char *base = "\"hidden_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                       "\"intermediate_size\":96,\"vocab_size\":100";
    char j[1024];
#define REFUSE(extra, want)                                                                        \
    do {                                                                                           \
        snprintf(j, sizeof j, "{%s,%s}", base, extra);                                             \
        expect_config_refused(j, want);                                                            \
    } while (0)
    REFUSE("\"architectures\":[\"MistralForCausalLM\"]", "'MistralForCausalLM' is not supported");
    REFUSE("\"model_type\":\"gpt2\"", "'gpt2' is not supported");
    REFUSE("\"vocab\":1", "neither \"architectures\" nor \"model_type\"");
    REFUSE("\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}",
           "rope_scaling type 'linear'");
    REFUSE("\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0}",
           "rope_scaling type 'llama3'");
    REFUSE("\"model_type\":\"llama\",\"attention_bias\":true", "attention_bias");
    REFUSE("\"model_type\":\"llama\",\"mlp_bias\":true", "mlp_bias");
    REFUSE("\"model_type\":\"llama\",\"hidden_act\":\"gelu\"", "silu");
    REFUSE("\"model_type\":\"qwen2\",\"use_sliding_window\":true", "use_sliding_window");
    REFUSE("\"model_type\":\"llama\",\"num_key_value_heads\":3", "n_kv_heads");
    REFUSE("\"model_type\":\"llama\",\"head_dim\":7", "head_dim");
    REFUSE("\"model_type\":\"llama\",\"rms_norm_eps\":-1", "rms_norm_eps");
    REFUSE("\"model_type\":\"llama\",\"tie_word_embeddings\":1", "tie_word_embeddings");
    REFUSE("\"model_type\":\"llama\",\"max_position_embeddings\":1.5", "max_position_embeddings");
#undef REFUSE
    expect_config_refused("{\"model_type\":\"llama\",\"num_hidden_layers\":2}", "hidden_size");
    expect_config_refused("{\"model_type\": ", "not valid JSON");
    expect_config_refused("[1]", "JSON object");
}

/* ---- a hand-made folder ---------------------------------------------------------- */
/* Tiny Qwen2: D 8, L 2, NH 2, KVH 1, HD 4, H 12, V 10. Names and shapes as HF writes them. */
enum { D = 8, L = 2, NH = 2, KVH = 1, HD = 4, H = 12, V = 10, MAXT = 64 };
static const char *tiny_config =
    "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":8,\"num_hidden_layers\":2,"
    "\"num_attention_heads\":2,\"num_key_value_heads\":1,\"intermediate_size\":12,"
    "\"vocab_size\":10,\"rms_norm_eps\":1e-06,\"rope_theta\":1000000.0,"
    "\"max_position_embeddings\":64,\"tie_word_embeddings\":%s}";

typedef struct {
    char name[96];
    int ndim;
    int64_t shape[2];
    float *data;
    tr_dtype dtype;
} hand_tensor;

typedef struct {
    hand_tensor t[MAXT];
    int n;
} hand_model;

/* value of element e of tensor k: exact in float, and in bf16 for the tensors stored so */
static float hand_value(int k, int64_t e, tr_dtype dt) {
    if (dt == TR_DT_BF16 || dt == TR_DT_F16) return (float)((k + e) % 16) * 0.25f - 2.0f;
    return (float)(k * 1000 + e);
}

static void add(hand_model *hm, const char *name, int64_t r, int64_t c, tr_dtype dt) {
    hand_tensor *t = &hm->t[hm->n];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = c ? 2 : 1;
    t->shape[0] = r;
    t->shape[1] = c;
    t->dtype = dt;
    int64_t n = r * (c ? c : 1);
    t->data = malloc((size_t)n * sizeof(float));
    for (int64_t e = 0; e < n; e++) t->data[e] = hand_value(hm->n, e, dt);
    hm->n++;
}

static void hand_build(hand_model *hm, int with_lm_head) {
    hm->n = 0;
    char nm[96];
    add(hm, "model.embed_tokens.weight", V, D, TR_DT_F32);
    for (int l = 0; l < L; l++) {
#define A(suffix, r, c, dt)                                                                        \
    do {                                                                                           \
        snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix);                                  \
        add(hm, nm, r, c, dt);                                                                     \
    } while (0)
        A("input_layernorm.weight", D, 0, TR_DT_F32);
        A("self_attn.q_proj.weight", NH * HD, D, TR_DT_BF16);
        A("self_attn.q_proj.bias", NH * HD, 0, TR_DT_F32);
        A("self_attn.k_proj.weight", KVH * HD, D, TR_DT_F16);
        A("self_attn.k_proj.bias", KVH * HD, 0, TR_DT_F32);
        A("self_attn.v_proj.weight", KVH * HD, D, TR_DT_F64);
        A("self_attn.v_proj.bias", KVH * HD, 0, TR_DT_F32);
        A("self_attn.o_proj.weight", D, NH * HD, TR_DT_F32);
        A("post_attention_layernorm.weight", D, 0, TR_DT_F32);
        A("mlp.gate_proj.weight", H, D, TR_DT_F32);
        A("mlp.up_proj.weight", H, D, TR_DT_F32);
        A("mlp.down_proj.weight", D, H, TR_DT_F32);
        A("self_attn.rotary_emb.inv_freq", HD / 2, 0, TR_DT_F32); /* harmless extra */
#undef A
    }
    add(hm, "model.norm.weight", D, 0, TR_DT_F32);
    if (with_lm_head) add(hm, "lm_head.weight", V, D, TR_DT_F32);
}

static void hand_free(hand_model *hm) {
    for (int i = 0; i < hm->n; i++) free(hm->t[i].data);
    hm->n = 0;
}

/* Writes tensors [from, to) of hm, in reverse order, to dir/file; raw bytes per dtype. */
static int write_tensors(const hand_model *hm, int from, int to, const char *dir,
                         const char *file) {
    tr_st_write_tensor ws[MAXT];
    void *bufs[MAXT] = {0};
    int n = 0;
    for (int i = to - 1; i >= from; i--) {
        const hand_tensor *t = &hm->t[i];
        int64_t ne = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
        size_t es = tr_dtype_size(t->dtype);
        uint8_t *b = malloc((size_t)ne * es);
        for (int64_t e = 0; e < ne; e++) {
            float x = t->data[e];
            if (t->dtype == TR_DT_F32) memcpy(b + 4 * e, &x, 4);
            if (t->dtype == TR_DT_F64) {
                double d = x;
                memcpy(b + 8 * e, &d, 8);
            }
            if (t->dtype == TR_DT_BF16) { /* exact: the value has <= 8 significant bits */
                uint32_t u;
                memcpy(&u, &x, 4);
                uint16_t h = (uint16_t)(u >> 16);
                memcpy(b + 2 * e, &h, 2);
            }
            if (t->dtype == TR_DT_I32) {
                int32_t v = (int32_t)x;
                memcpy(b + 4 * e, &v, 4);
            }
            if (t->dtype == TR_DT_F16) { /* values in {-2, -1.75, ..., 1.75}: build halves */
                uint16_t h = 0;
                if (x != 0) {
                    float a = fabsf(x);
                    int ex = (int)floorf(log2f(a));
                    float mant = a / ldexpf(1, ex) - 1.0f; /* in [0,1) */
                    h = (uint16_t)(((ex + 15) << 10) | (uint16_t)(mant * 1024));
                    if (x < 0) h |= 0x8000;
                }
                memcpy(b + 2 * e, &h, 2);
            }
        }
        bufs[n] = b;
        ws[n] = (tr_st_write_tensor){t->name, t->dtype, t->ndim, t->shape, b, NULL};
        n++;
    }
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    const char *mk = "format", *mv = "pt";
    tr_err err;
    int rc = tr_st_write(p, ws, n, &mk, &mv, 1, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    for (int i = 0; i < n; i++) free(bufs[i]);
    return rc;
}

static void write_text(const char *dir, const char *file, const char *text) {
    char p[512];
    tr_err err;
    snprintf(p, sizeof p, "%s/%s", dir, file);
    CHECK_MSG(tr_write_file_atomic(p, text, strlen(text), &err) == 0, "%s", err.msg);
}

static void make_dir(char *out, size_t cap, const char *name) {
    tr_err err;
    snprintf(out, cap, "%s/%s", tmpdir, name);
    CHECK(tr_mkdirs(out, &err) == 0);
}

/* Every hand tensor (except the harmless extras) sits where the model's views point. */
static void check_loaded(const tr_model *m, const hand_model *hm) {
    for (int i = 0; i < hm->n; i++) {
        const hand_tensor *t = &hm->t[i];
        if (strstr(t->name, "inv_freq")) continue;
        if (m->cfg.tied_embeddings && strcmp(t->name, "lm_head.weight") == 0) continue;
        const float *p = NULL;
        int l = -1;
        char suffix[96] = "";
        if (sscanf(t->name, "model.layers.%d.%95s", &l, suffix) == 2) {
            const tr_layer_view *lv = &m->view.layers[l];
            p = !strcmp(suffix, "input_layernorm.weight")            ? lv->attn_norm
                : !strcmp(suffix, "self_attn.q_proj.weight")         ? lv->wq
                : !strcmp(suffix, "self_attn.q_proj.bias")           ? lv->bq
                : !strcmp(suffix, "self_attn.k_proj.weight")         ? lv->wk
                : !strcmp(suffix, "self_attn.k_proj.bias")           ? lv->bk
                : !strcmp(suffix, "self_attn.v_proj.weight")         ? lv->wv
                : !strcmp(suffix, "self_attn.v_proj.bias")           ? lv->bv
                : !strcmp(suffix, "self_attn.o_proj.weight")         ? lv->wo
                : !strcmp(suffix, "post_attention_layernorm.weight") ? lv->mlp_norm
                : !strcmp(suffix, "mlp.gate_proj.weight")            ? lv->w_gate
                : !strcmp(suffix, "mlp.up_proj.weight")              ? lv->w_up
                : !strcmp(suffix, "mlp.down_proj.weight")            ? lv->w_down
                                                                     : NULL;
        } else if (!strcmp(t->name, "model.embed_tokens.weight"))
            p = m->view.embed;
        else if (!strcmp(t->name, "model.norm.weight"))
            p = m->view.final_norm;
        else if (!strcmp(t->name, "lm_head.weight"))
            p = m->view.lm_head;
        CHECK_MSG(p != NULL, "no view for %s", t->name);
        if (!p) continue;
        int64_t ne = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
        CHECK_MSG(memcmp(p, t->data, (size_t)ne * sizeof(float)) == 0, "%s differs", t->name);
    }
}

static void expect_load_refused(const char *dir, const char *want1, const char *want2) {
    tr_model m;
    tr_err err = {{0}};
    CHECK_MSG(tr_load_hf(&m, dir, &err) == -1, "%s: accepted", dir);
    CHECK(m.params == NULL);
    CHECK_MSG(strstr(err.msg, want1) && (!want2 || strstr(err.msg, want2)),
              "message '%s' lacks '%s' / '%s'", err.msg, want1, want2 ? want2 : "");
}

static void test_hand_folder(void) {
    char dir[256], cfg[512];
    tr_err err;
    hand_model hm;
    tr_model m;

    /* 1. single file, untied, mixed dtypes, an inv_freq extra, reverse order */
    make_dir(dir, sizeof dir, "hand");
    hand_build(&hm, 1);
    snprintf(cfg, sizeof cfg, tiny_config, "false");
    write_text(dir, "config.json", cfg);
    CHECK(write_tensors(&hm, 0, hm.n, dir, "model.safetensors") == 0);
    CHECK_MSG(tr_load_hf(&m, dir, &err) == 0, "%s", err.msg);
    if (m.params) {
        CHECK(m.cfg.qkv_bias == 1 && m.cfg.dim == D && m.cfg.rope_theta == 1e6f);
        check_loaded(&m, &hm);
        tr_model_free(&m);
    }
    CHECK(tr_model_load(&m, dir, &err) == 0); /* detection: a folder with config.json */
    tr_model_free(&m);

    /* 2. sharded: two shards + index (split at tensor 9) */
    make_dir(dir, sizeof dir, "sharded");
    write_text(dir, "config.json", cfg);
    int split = 9;
    CHECK(write_tensors(&hm, 0, split, dir, "model-00001-of-00002.safetensors") == 0);
    CHECK(write_tensors(&hm, split, hm.n, dir, "model-00002-of-00002.safetensors") == 0);
    cJSON *idx = cJSON_CreateObject(), *wm = cJSON_AddObjectToObject(idx, "weight_map");
    cJSON_AddObjectToObject(idx, "metadata");
    for (int i = 0; i < hm.n; i++)
        cJSON_AddStringToObject(wm, hm.t[i].name,
                                i < split ? "model-00001-of-00002.safetensors"
                                          : "model-00002-of-00002.safetensors");
    char *text = cJSON_Print(idx);
    write_text(dir, "model.safetensors.index.json", text);
    free(text);
    CHECK_MSG(tr_load_hf(&m, dir, &err) == 0, "%s", err.msg);
    if (m.params) {
        check_loaded(&m, &hm);
        tr_model_free(&m);
    }
    /* index naming the wrong shard for one tensor */
    cJSON_ReplaceItemInObject(wm, hm.t[0].name,
                              cJSON_CreateString("model-00002-of-00002.safetensors"));
    text = cJSON_Print(idx);
    write_text(dir, "model.safetensors.index.json", text);
    free(text);
    expect_load_refused(dir, "names another shard", hm.t[0].name);
    /* index escaping the folder */
    cJSON_ReplaceItemInObject(wm, hm.t[0].name, cJSON_CreateString("../hand/model.safetensors"));
    text = cJSON_Print(idx);
    write_text(dir, "model.safetensors.index.json", text);
    free(text);
    expect_load_refused(dir, "file name inside the folder", NULL);
    /* index listing a tensor no shard has */
    cJSON_ReplaceItemInObject(wm, hm.t[0].name,
                              cJSON_CreateString("model-00001-of-00002.safetensors"));
    cJSON_AddStringToObject(wm, "model.extra.weight", "model-00001-of-00002.safetensors");
    text = cJSON_Print(idx);
    write_text(dir, "model.safetensors.index.json", text);
    free(text);
    expect_load_refused(dir, "weight_map lists", NULL);
    cJSON_Delete(idx);

    /* 3. refusals on a single file */
    make_dir(dir, sizeof dir, "bad");
    write_text(dir, "config.json", cfg);
    expect_load_refused(dir, "no model.safetensors", NULL);
    CHECK(write_tensors(&hm, 1, hm.n, dir, "model.safetensors") == 0); /* no embedding */
    expect_load_refused(dir, "missing tensor 'model.embed_tokens.weight'", NULL);
    hm.t[5].shape[0] = 2; /* layer 0 k_proj.bias: 2 instead of 4 */
    CHECK(write_tensors(&hm, 0, hm.n, dir, "model.safetensors") == 0);
    expect_load_refused(dir, "k_proj.bias", "shape [2], expected [4]");
    hm.t[5].shape[0] = KVH * HD;
    hm.t[2].dtype = TR_DT_I32; /* layer 0 q_proj.weight as integers */
    CHECK(write_tensors(&hm, 0, hm.n, dir, "model.safetensors") == 0);
    expect_load_refused(dir, "q_proj.weight", "I32");
    hm.t[2].dtype = TR_DT_BF16;
    snprintf(hm.t[13].name, sizeof hm.t[13].name, "model.layers.0.self_attn.o_proj.bias");
    CHECK(write_tensors(&hm, 0, hm.n, dir, "model.safetensors") == 0);
    expect_load_refused(dir, "unexpected tensor 'model.layers.0.self_attn.o_proj.bias'", NULL);
    hand_free(&hm);

    /* 4. tied: lm_head.weight may be omitted, or present and ignored */
    make_dir(dir, sizeof dir, "tied");
    snprintf(cfg, sizeof cfg, tiny_config, "true");
    write_text(dir, "config.json", cfg);
    hand_build(&hm, 0);
    CHECK(write_tensors(&hm, 0, hm.n, dir, "model.safetensors") == 0);
    CHECK_MSG(tr_load_hf(&m, dir, &err) == 0, "%s", err.msg);
    if (m.params) {
        CHECK(m.cfg.tied_embeddings == 1 && m.view.lm_head == m.view.embed);
        check_loaded(&m, &hm);
        tr_model_free(&m);
    }
    hand_free(&hm);
    hand_build(&hm, 1);
    CHECK(write_tensors(&hm, 0, hm.n, dir, "model.safetensors") == 0);
    CHECK_MSG(tr_load_hf(&m, dir, &err) == 0, "%s", err.msg);
    if (m.params) tr_model_free(&m);
    hand_free(&hm);

    /* 5. tr_model_load on things that are not models */
    make_dir(dir, sizeof dir, "empty");
    CHECK(tr_model_load(&m, dir, &err) == -1 && strstr(err.msg, "not a model: expected"));
    write_text(dir, "notes.txt", "hello");
    snprintf(cfg, sizeof cfg, "%s/notes.txt", dir);
    CHECK(tr_model_load(&m, cfg, &err) == -1 && strstr(err.msg, "not a model: expected"));
    snprintf(cfg, sizeof cfg, "%s/absent", dir);
    CHECK(tr_model_load(&m, cfg, &err) == -1 && strstr(err.msg, "absent"));
}

/* ---- export round trip -------------------------------------------------------------- */
static void round_trip(int qwen2, int tied) {
    tr_config c = tr_config_default();
    c.dim = 16;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.hidden_dim = 40;
    c.vocab = 33;
    c.max_seq = 128;
    c.rope_theta = 1e6f;
    c.norm_eps = 1e-6f;
    c.qkv_bias = qwen2;
    c.tied_embeddings = tied;
    tr_model a, b;
    tr_err err;
    CHECK(tr_model_init(&a, &c, &err) == 0);
    tr_model_init_random(&a, 1234, 0.5f);
    for (size_t i = 0; i < a.table.total; i += 7) a.params[i] *= 1000.0f; /* spread exponents */
    char dir[256];
    snprintf(dir, sizeof dir, "%s/export_%d%d", tmpdir, qwen2, tied);

    CHECK_MSG(tr_save_hf(&a, dir, 0, 1, 2, &err) == 0, "%s", err.msg);
    CHECK_MSG(tr_load_hf(&b, dir, &err) == 0, "%s", err.msg);
    if (b.params) {
        CHECK(memcmp(&a.cfg, &b.cfg, sizeof c) == 0);
        CHECK(b.table.total == a.table.total);
        CHECK(memcmp(a.params, b.params, a.table.total * sizeof(float)) == 0);
        tr_model_free(&b);
    }
    /* the config as transformers would read it */
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", dir);
    size_t len;
    char *text = tr_read_file(p, &len, &err);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    CHECK(j != NULL);
    if (j) {
        cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "architectures"), 0);
        CHECK(arch &&
              strcmp(arch->valuestring, qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM") == 0);
        CHECK(
            !strcmp(cJSON_GetObjectItem(j, "model_type")->valuestring, qwen2 ? "qwen2" : "llama"));
        CHECK(!strcmp(cJSON_GetObjectItem(j, "torch_dtype")->valuestring, "float32"));
        CHECK(cJSON_GetObjectItem(j, "bos_token_id")->valueint == 1);
        CHECK(cJSON_GetObjectItem(j, "eos_token_id")->valueint == 2);
        CHECK(cJSON_GetObjectItem(j, "rms_norm_eps")->valuedouble == 1e-6); /* not 9.99999997e-07 */
        CHECK(cJSON_GetObjectItem(j, "rope_theta")->valuedouble == 1e6);
        CHECK(cJSON_IsBool(cJSON_GetObjectItem(j, "tie_word_embeddings")));
        cJSON_Delete(j);
    }
    free(text);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    tr_safetensors *st;
    CHECK(tr_st_open(&st, p, &err) == 0);
    if (st) {
        CHECK(tr_st_metadata(st, "format") && !strcmp(tr_st_metadata(st, "format"), "pt"));
        CHECK((tr_st_find(st, "lm_head.weight") != NULL) == !tied);
        const tr_st_tensor *q = tr_st_find(st, "model.layers.1.self_attn.k_proj.weight");
        CHECK(q && q->dtype == TR_DT_F32 && q->ndim == 2 && q->shape[0] == 8 && q->shape[1] == 16);
        tr_st_close(st);
    }

    /* BF16: each value within half a bf16 ulp (relative 2^-8 of the value's binade) */
    CHECK_MSG(tr_save_hf(&a, dir, 1, -1, -1, &err) == 0, "%s", err.msg);
    CHECK_MSG(tr_load_hf(&b, dir, &err) == 0, "%s", err.msg);
    if (b.params) {
        size_t bad = 0, exact = 0;
        for (size_t i = 0; i < a.table.total; i++) {
            float x = a.params[i], y = b.params[i];
            if (!(fabsf(x - y) <= ldexpf(fabsf(x), -8))) bad++;
            uint32_t u;
            memcpy(&u, &y, 4);
            if ((u & 0xffff) != 0) bad++; /* a bf16 value has zero low 16 bits */
            exact += x == y;
        }
        CHECK_MSG(bad == 0, "%zu values off", bad);
        CHECK(exact < a.table.total); /* some rounding did happen */
        tr_model_free(&b);
    }
    snprintf(p, sizeof p, "%s/config.json", dir);
    text = tr_read_file(p, &len, &err);
    CHECK(text && strstr(text, "\"bfloat16\"") && strstr(text, "\"bos_token_id\":\tnull"));
    free(text);
    tr_model_free(&a);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tinyr1_hf_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_config();
    test_hand_folder();
    round_trip(1, 0);
    round_trip(0, 1);
    round_trip(0, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return tu_finish("test_io_hf");
}
