/* llama2.c version-0 ("legacy") .bin models, and format detection (tr_model_load).
 *
 * Layout: int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab (negative: the
 * classifier is stored separately), seq_len; then float32 tensors, each [out, in] like
 * PyTorch's nn.Linear weight, all layers of one kind together:
 *   embed [V,D]; rms_att [L,D]; wq [L,NH*HD,D]; wk [L,KVH*HD,D]; wv [L,KVH*HD,D];
 *   wo [L,D,NH*HD]; rms_ffn [L,D]; w1 [L,H,D] (gate); w2 [L,D,H] (down); w3 [L,H,D] (up);
 *   rms_final [D]; freq_cis_real, freq_cis_imag [seq_len, HD/2] each (skipped);
 *   wcls [V,D] if not shared.
 * HD = D / NH. The file length must equal 28 bytes + 4 x (the float count above).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tinyr1/io.h"
#include "tinyr1/train.h"

int tr_permute_rope_rows(float *w, int n_heads, int head_dim, int64_t cols, tr_err *err) {
    if (head_dim <= 0 || head_dim % 2 != 0 || n_heads <= 0 || cols <= 0)
        return tr_fail(err, "rope permutation: head_dim must be positive and even");
    int half = head_dim / 2;
    size_t row = (size_t)cols;
    float *tmp = malloc((size_t)head_dim * row * sizeof(float));
    if (!tmp) return tr_fail(err, "rope permutation: out of memory");
    for (int h = 0; h < n_heads; h++) {
        float *head = w + (size_t)h * (size_t)head_dim * row;
        memcpy(tmp, head, (size_t)head_dim * row * sizeof(float));
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(head + (size_t)(j * half + i) * row, tmp + (size_t)(2 * i + j) * row,
                       row * sizeof(float));
    }
    free(tmp);
    return 0;
}

static int read_floats(FILE *f, float *dst, size_t n, const char *path, const char *what,
                       tr_err *err) {
    if (fread(dst, sizeof(float), n, f) != n)
        return tr_fail(err, "%s: short read in %s", path, what);
    return 0;
}

int tr_load_llama2c(tr_model *m, const char *path, tr_err *err) {
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f) return tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    int32_t h[7];
    if (fstat(fileno(f), &sb) != 0 || fread(h, sizeof h, 1, f) != 1) {
        fclose(f);
        return tr_fail(err, "%s: too short for a llama2.c header (7 int32)", path);
    }
    if ((uint32_t)h[0] == 0x616b3432u) {
        fclose(f);
        return tr_fail(err,
                       "%s: a llama2.c version-%d export (magic ak42); only version 0 "
                       "(legacy, export.py --version 0) is read",
                       path, h[1]);
    }
    int64_t dim = h[0], hidden = h[1], L = h[2], NH = h[3], KVH = h[4], V = h[5], seq = h[6];
    int shared = V > 0;
    if (V < 0) V = -V;
    if (dim <= 0 || hidden <= 0 || L <= 0 || NH <= 0 || KVH <= 0 || V <= 0 || seq <= 0 ||
        dim % NH != 0 || NH % KVH != 0 || (dim / NH) % 2 != 0 || dim > (1 << 20) ||
        hidden > (1 << 22) || L > 4096 || V > (1 << 24)) {
        fclose(f);
        return tr_fail(
            err,
            "%s: implausible llama2.c header (dim %lld, hidden %lld, layers %lld, heads "
            "%lld, kv heads %lld, vocab %lld, seq %lld): not a version-0 llama2.c model?",
            path, (long long)dim, (long long)hidden, (long long)L, (long long)NH, (long long)KVH,
            (long long)V, (long long)seq);
    }
    int64_t HD = dim / NH, KV = KVH * HD;
    int64_t per_layer = 2 * dim + dim * dim + 2 * KV * dim + dim * dim + 3 * hidden * dim;
    int64_t floats = V * dim + L * per_layer + dim + seq * HD + (shared ? 0 : V * dim);
    int64_t want = 28 + 4 * floats;
    if ((int64_t)sb.st_size != want) {
        fclose(f);
        return tr_fail(err,
                       "%s: %lld bytes, but its header (dim %lld, hidden %lld, layers %lld, heads "
                       "%lld, kv heads %lld, vocab %lld%s, seq %lld) implies %lld",
                       path, (long long)sb.st_size, (long long)dim, (long long)hidden, (long long)L,
                       (long long)NH, (long long)KVH, (long long)V, shared ? "" : " unshared",
                       (long long)seq, (long long)want);
    }
    tr_config c = tr_config_default();
    c.dim = (int)dim;
    c.hidden_dim = (int)hidden;
    c.n_layers = (int)L;
    c.n_heads = (int)NH;
    c.n_kv_heads = (int)KVH;
    c.head_dim = (int)HD;
    c.vocab = (int)V;
    c.max_seq = (int)seq;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    c.tied_embeddings = shared;
    c.qkv_bias = 0;
    if (tr_model_init(m, &c, err) != 0) {
        fclose(f);
        return tr_fail_context(err, "%s", path);
    }
    const tr_model_view *v = &m->view;
    int rc = read_floats(f, v->embed, (size_t)(V * dim), path, "token embedding", err);
#define EACH_LAYER(field, n, what)                                                                 \
    for (int64_t l = 0; rc == 0 && l < L; l++)                                                     \
        rc = read_floats(f, v->layers[l].field, (size_t)(n), path, what, err);
    EACH_LAYER(attn_norm, dim, "rms_att_weight")
    EACH_LAYER(wq, dim * dim, "wq")
    EACH_LAYER(wk, KV * dim, "wk")
    EACH_LAYER(wv, KV * dim, "wv")
    EACH_LAYER(wo, dim * dim, "wo")
    EACH_LAYER(mlp_norm, dim, "rms_ffn_weight")
    EACH_LAYER(w_gate, hidden * dim, "w1")
    EACH_LAYER(w_down, dim * hidden, "w2")
    EACH_LAYER(w_up, hidden * dim, "w3")
#undef EACH_LAYER
    if (rc == 0) rc = read_floats(f, v->final_norm, (size_t)dim, path, "rms_final_weight", err);
    if (rc == 0 && fseek(f, (long)(seq * HD * 4), SEEK_CUR) != 0) /* freq_cis_real + imag */
        rc = tr_fail(err, "%s: cannot skip the freq_cis tables", path);
    if (rc == 0 && !shared) rc = read_floats(f, v->lm_head, (size_t)(V * dim), path, "wcls", err);
    fclose(f);
    for (int64_t l = 0; rc == 0 && l < L; l++) {
        rc = tr_permute_rope_rows(v->layers[l].wq, (int)NH, (int)HD, dim, err);
        if (rc == 0) rc = tr_permute_rope_rows(v->layers[l].wk, (int)KVH, (int)HD, dim, err);
    }
    if (rc != 0) tr_model_free(m);
    return rc;
}

/* A tinyr1 checkpoint, weights only (the optimizer state stays on disk). */
static int load_tinyr1(tr_model *m, const char *path, tr_err *err) {
    tr_checkpoint_info info;
    if (tr_checkpoint_load(path, m, NULL, tr_adamw_default_params(), &info, err) != 0) return -1;
    tr_checkpoint_info_free(&info);
    return 0;
}

int tr_model_load(tr_model *m, const char *path, tr_err *err) {
    memset(m, 0, sizeof *m);
    struct stat sb;
    if (stat(path, &sb) != 0) return tr_fail(err, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        char cfg[4096];
        snprintf(cfg, sizeof cfg, "%s/config.json", path);
        if (stat(cfg, &sb) == 0) return tr_load_hf(m, path, err);
        snprintf(cfg, sizeof cfg, "%s/checkpoint.bin", path);
        if (tr_is_checkpoint(cfg)) return load_tinyr1(m, cfg, err);
        return tr_fail(err,
                       "%s: not a model: expected a tinyr1 run folder (checkpoint.bin), a "
                       "Hugging Face folder (config.json + model.safetensors) or a llama2.c "
                       ".bin file",
                       path);
    }
    if (tr_is_checkpoint(path)) return load_tinyr1(m, path, err);
    size_t n = strlen(path);
    if (n >= 4 && strcmp(path + n - 4, ".bin") == 0) return tr_load_llama2c(m, path, err);
    return tr_fail(err,
                   "%s: not a model: expected a Hugging Face folder (config.json + "
                   "model.safetensors) or a llama2.c .bin file",
                   path);
}
