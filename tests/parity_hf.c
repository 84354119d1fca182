/* Hugging Face parity, both ways, with transformers itself as the oracle (tests/hf_oracle.py,
 * run by the oracle venv .venv-hf that scripts/install-deps.sh makes).
 *
 * In:  tiny random LlamaForCausalLM / Qwen2ForCausalLM built and save_pretrained() by
 *      transformers (GQA; Qwen2 q/k/v biases; tied and untied; a Llama with head_dim !=
 *      hidden/heads) are loaded with tr_load_hf (and tr_model_load). Logits on a batch of
 *      random token sequences must match transformers' float64 logits, and greedy
 *      continuations (tinyr1: argmax of tr_model_forward over the growing sequence;
 *      transformers: generate(do_sample=False)) must be equal token for token.
 * Out: tinyr1 models (random, with a tokenizer trained here and embedded in a tinyr1
 *      checkpoint; and the real llama2.c stories260K) are exported with tr_export_hf (F32 and
 *      BF16) and loaded with AutoModelForCausalLM.from_pretrained / AutoTokenizer: logits
 *      equal, token ids equal.
 *
 * Error measure for logits: max |tinyr1 - transformers| / max |transformers| over the whole
 * [B, T, V] tensor (relative to the tensor's largest magnitude); must be < 1e-4. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "testutil.h"

static char python[1024];

static int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

static double scaled_err(const float *a, const tr_st_tensor *ref) {
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < ref->numel; i++) {
        double r;
        memcpy(&r, (const char *)ref->data + i * 8, 8);
        double d = fabs((double)a[i] - r);
        if (isnan(d)) return INFINITY;
        if (d > diff) diff = d;
        if (fabs(r) > scale) scale = fabs(r);
    }
    return diff / (scale > 0 ? scale : 1);
}

static const tr_st_tensor *need(const tr_safetensors *st, const char *name, tr_dtype dt,
                                int64_t numel) {
    const tr_st_tensor *t = tr_st_find(st, name);
    CHECK_MSG(t && t->dtype == dt && (numel < 0 || t->numel == numel),
              "%s: tensor %s missing or of the wrong dtype/size", tr_st_path(st), name);
    return t && t->dtype == dt && (numel < 0 || t->numel == numel) ? t : NULL;
}

static int32_t get_i32(const tr_st_tensor *t, int64_t i) {
    int32_t v;
    memcpy(&v, (const char *)t->data + i * 4, 4);
    return v;
}

/* Logits of tokens[B*T] compared with the oracle's "logits" F64 tensor. */
static double compare_logits(const tr_model *m, const int32_t *tokens, int B, int T,
                             const tr_safetensors *ref, const char *label) {
    tr_err err;
    tr_activations *acts = NULL;
    if (tr_activations_init(&acts, &m->cfg, B, T, &err) != 0) {
        CHECK_MSG(0, "%s: %s", label, err.msg);
        return INFINITY;
    }
    const float *logits = tr_model_forward(m, acts, tokens, B, T);
    const tr_st_tensor *lt = need(ref, "logits", TR_DT_F64, (int64_t)B * T * m->cfg.vocab);
    double e = lt ? scaled_err(logits, lt) : INFINITY;
    CHECK_MSG(e < 1e-4, "%s: logits relative error %.3g", label, e);
    tr_activations_free(acts);
    return e;
}

/* Greedy decoding with the training forward: argmax of the last position, appended. */
static void greedy(const tr_model *m, const int32_t *prompt, int tp, int n, int32_t *out) {
    tr_err err;
    tr_activations *acts = NULL;
    int32_t *seq = malloc((size_t)(tp + n) * sizeof *seq);
    CHECK(seq && tr_activations_init(&acts, &m->cfg, 1, tp + n, &err) == 0);
    if (!seq || !acts) return;
    memcpy(seq, prompt, (size_t)tp * sizeof *seq);
    const int V = m->cfg.vocab;
    for (int s = 0; s < n; s++) {
        int T = tp + s;
        const float *row = tr_model_forward(m, acts, seq, 1, T) + (size_t)(T - 1) * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (row[v] > row[best]) best = v;
        seq[T] = out[s] = best;
    }
    tr_activations_free(acts);
    free(seq);
}

/* Greedy decoding with the KV-cache generator (tr_generate, temperature 0), all prompts in
 * one call over 2 slots (continuous batching), compared with transformers' generate(). */
static void generator_greedy(const tr_model *m, const tr_st_tensor *pr, const tr_st_tensor *gr,
                             const char *label) {
    int P = (int)pr->shape[0], tp = (int)pr->shape[1], n = (int)gr->shape[1];
    tr_err err;
    tr_infer *ctx = NULL;
    if (tr_infer_init(&ctx, m, 2, tp + n, &err) != 0) {
        CHECK_MSG(0, "%s: %s", label, err.msg);
        return;
    }
    int32_t *prompts = malloc((size_t)P * tp * sizeof *prompts);
    tr_gen_request *reqs = calloc((size_t)P, sizeof *reqs);
    tr_gen_result *out = calloc((size_t)P, sizeof *out);
    for (int i = 0; i < P * tp; i++) prompts[i] = get_i32(pr, i);
    for (int p = 0; p < P; p++) reqs[p] = (tr_gen_request){prompts + (size_t)p * tp, tp, 1};
    tr_gen_params gp = tr_gen_default_params();
    gp.sampler.temperature = 0;
    gp.max_new_tokens = n;
    int rc = tr_generate(ctx, reqs, P, &gp, out, NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s: %s", label, err.msg);
    int same = 0;
    for (int p = 0; rc == 0 && p < P; p++) {
        int ok = out[p].n == n;
        for (int i = 0; ok && i < n; i++) ok = out[p].tokens[i] == get_i32(gr, (int64_t)p * n + i);
        CHECK_MSG(ok, "%s: tr_generate's greedy continuation %d differs from transformers'", label,
                  p);
        same += ok;
    }
    printf("%-24s greedy (KV-cache tr_generate): %d/%d continuations equal\n", label, same, P);
    for (int p = 0; p < P; p++) tr_gen_result_free(&out[p]);
    free(out);
    free(reqs);
    free(prompts);
    tr_infer_free(ctx);
}

/* ---- in: transformers -> tinyr1 ------------------------------------------------------- */
typedef struct import_case {
    const char *arch;
    int tied, seed;
} import_case;

static void import_compare(const import_case *c, const char *work) {
    const char *arch = c->arch;
    int tied = c->tied;
    char label[64], model_dir[600], ref_path[600];
    snprintf(label, sizeof label, "import %s %s", arch, tied ? "tied" : "untied");
    snprintf(model_dir, sizeof model_dir, "%s/%s_%d", work, arch, tied);
    snprintf(ref_path, sizeof ref_path, "%s/%s_%d.safetensors", work, arch, tied);
    tr_err err;
    tr_safetensors *ref = NULL;
    tr_model m;
    if (tr_st_open(&ref, ref_path, &err) != 0 || tr_load_hf(&m, model_dir, &err) != 0) {
        CHECK_MSG(0, "%s: %s", label, err.msg);
        tr_st_close(ref);
        return;
    }
    CHECK_MSG(m.cfg.tied_embeddings == tied && m.cfg.qkv_bias == (strcmp(arch, "qwen2") == 0) &&
                  m.cfg.n_kv_heads * 2 == m.cfg.n_heads,
              "%s: config read as tied %d, qkv_bias %d, %d/%d heads", label, m.cfg.tied_embeddings,
              m.cfg.qkv_bias, m.cfg.n_heads, m.cfg.n_kv_heads);
    /* tr_model_load takes the same path */
    tr_model m2;
    CHECK(tr_model_load(&m2, model_dir, &err) == 0 && m2.table.total == m.table.total &&
          memcmp(m2.params, m.params, m.table.total * sizeof(float)) == 0);
    tr_model_free(&m2);

    const tr_st_tensor *tk = need(ref, "tokens", TR_DT_I32, -1);
    if (tk && tk->ndim == 2) {
        int B = (int)tk->shape[0], T = (int)tk->shape[1];
        int32_t *tokens = malloc((size_t)B * T * sizeof *tokens);
        for (int i = 0; i < B * T; i++) tokens[i] = get_i32(tk, i);
        double e = compare_logits(&m, tokens, B, T, ref, label);
        printf("%-24s logits [%d x %d x %d]: max |diff| / max |ref| = %.2e\n", label, B, T,
               m.cfg.vocab, e);
        /* the inference forward (KV cache): each sequence prefilled, logits at every position */
        tr_infer *ctx = NULL;
        float *il = malloc((size_t)B * T * m.cfg.vocab * sizeof(float));
        int rc = tr_infer_init(&ctx, &m, 1, T, &err);
        for (int b = 0; rc == 0 && b < B; b++) {
            rc = tr_infer_truncate(ctx, 0, 0, &err);
            if (rc == 0)
                rc = tr_infer_prefill(ctx, 0, tokens + (size_t)b * T, T, 1,
                                      il + (size_t)b * T * m.cfg.vocab, &err);
        }
        CHECK_MSG(rc == 0, "%s: %s", label, err.msg);
        const tr_st_tensor *lt = need(ref, "logits", TR_DT_F64, (int64_t)B * T * m.cfg.vocab);
        double ei = rc == 0 && lt ? scaled_err(il, lt) : INFINITY;
        CHECK_MSG(ei < 1e-4, "%s: inference logits relative error %.3g", label, ei);
        printf("%-24s logits via tr_infer_prefill: max |diff| / max |ref| = %.2e\n", label, ei);
        tr_infer_free(ctx);
        free(il);
        free(tokens);
    }
    const tr_st_tensor *pr = need(ref, "prompt", TR_DT_I32, -1);
    const tr_st_tensor *gr = need(ref, "greedy", TR_DT_I32, -1);
    const tr_st_tensor *mg = need(ref, "margin", TR_DT_F64, -1);
    if (pr && gr && mg && pr->ndim == 2 && gr->ndim == 2 && pr->shape[0] == gr->shape[0]) {
        int P = (int)pr->shape[0], tp = (int)pr->shape[1], n = (int)gr->shape[1];
        int same = 0;
        double min_margin = INFINITY;
        for (int64_t i = 0; i < mg->numel; i++) {
            double v;
            memcpy(&v, (const char *)mg->data + i * 8, 8);
            if (v < min_margin) min_margin = v;
        }
        for (int p = 0; p < P; p++) {
            int32_t prompt[64], out[64];
            for (int i = 0; i < tp; i++) prompt[i] = get_i32(pr, (int64_t)p * tp + i);
            greedy(&m, prompt, tp, n, out);
            int ok = 1;
            for (int i = 0; i < n; i++) ok &= out[i] == get_i32(gr, (int64_t)p * n + i);
            CHECK_MSG(ok, "%s: greedy continuation %d differs from transformers' generate()", label,
                      p);
            same += ok;
        }
        printf("%-24s greedy (training forward): %d/%d continuations of %d tokens equal "
               "(smallest top-1/top-2 margin %.3f)\n",
               label, same, P, n, min_margin);
        generator_greedy(&m, pr, gr, label);
    }
    tr_model_free(&m);
    tr_st_close(ref);
}

static void import_all(const import_case *cases, int n, const char *work) {
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "%s %s/hf_oracle.py make", python, TR_TESTS_DIR);
    for (int i = 0; i < n && k < (int)sizeof cmd; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %s %d %d %s/%s_%d %s/%s_%d.safetensors",
                      cases[i].arch, cases[i].tied, cases[i].seed, work, cases[i].arch,
                      cases[i].tied, work, cases[i].arch, cases[i].tied);
    int rc = run("%s", cmd);
    CHECK_MSG(rc == 0, "the transformers oracle failed to build the models");
    if (rc != 0) return;
    for (int i = 0; i < n; i++) import_compare(&cases[i], work);
}

/* ---- out: tinyr1 -> transformers ------------------------------------------------------ */
static const char *texts[] = {
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many.",
    "<|im_start|>user\nWhat is 12*7?<|im_end|>\n<|im_start|>assistant\n<think>12*7 = 84"
    "</think> <answer>84</answer><|im_end|>",
    "  leading spaces, tabs\tand\nnew lines\r\n\n and numbers 1234567 and 3.14159",
    "Ünïcödé: naïve café, 東京, Привет, emoji \xF0\x9F\x98\x80 and math \xE2\x88\x91 x_i",
    "<|endoftext|>after the end<think>inside</think>",
};
#define N_TEXTS ((int)(sizeof texts / sizeof texts[0]))

static char *read_slice(const char *path, size_t max, tr_err *err) {
    size_t len;
    char *s = tr_read_file(path, &len, err);
    if (s && len > max) s[max] = '\0';
    return s;
}

/* One exported folder to check with transformers: the model as tinyr1 holds it (with BF16
 * rounding applied when the export is BF16), the tokens, and the tokenizer when the texts
 * are to be compared. */
typedef struct export_check {
    char label[64], dir[600], in[600], out[600];
    tr_model m;
    tr_tokenizer *tok; /* borrowed, or NULL */
    const char *arch;  /* expected class, or NULL */
    int32_t tokens[3 * 24];
    int B, T;
} export_check;

/* Writes the oracle's input for c: tokens and (when c->tok) the texts. */
static void write_check_input(export_check *c) {
    int64_t shape[2] = {c->B, c->T};
    tr_st_write_tensor w = {"tokens", TR_DT_I32, 2, shape, c->tokens, NULL};
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < N_TEXTS; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(texts[i]));
    char *json = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    const char *key = "texts";
    tr_err err;
    CHECK_MSG(tr_st_write(c->in, &w, 1, &key, (const char *const *)&json, c->tok ? 1 : 0, &err) ==
                  0,
              "%s: %s", c->label, err.msg);
    free(json);
}

static void verify_check(export_check *c, const char *what) {
    tr_err err;
    tr_safetensors *out = NULL;
    if (tr_st_open(&out, c->out, &err) != 0) {
        CHECK_MSG(0, "%s: %s", c->label, err.msg);
        return;
    }
    const char *arch = tr_st_metadata(out, "architecture");
    if (c->arch)
        CHECK_MSG(arch && strcmp(arch, c->arch) == 0, "%s: transformers built %s", c->label,
                  arch ? arch : "?");
    const char *np = tr_st_metadata(out, "n_params");
    CHECK_MSG(np && strtoull(np, NULL, 10) == c->m.table.total,
              "%s: transformers counts %s parameters, tinyr1 %zu", c->label, np ? np : "?",
              c->m.table.total);
    double e = compare_logits(&c->m, c->tokens, c->B, c->T, out, c->label);
    printf("%-24s %s logits: max |diff| / max |ref| = %.2e (%s)\n", c->label, what, e,
           arch ? arch : "?");
    if (c->tok) {
        int same = 0;
        for (int i = 0; i < N_TEXTS; i++) {
            char name[16];
            snprintf(name, sizeof name, "ids_%d", i);
            tr_ids ids = {0};
            CHECK(tr_tokenizer_encode(c->tok, texts[i], strlen(texts[i]), TR_ENC_ALLOW_SPECIAL,
                                      &ids, &err) == 0);
            const tr_st_tensor *t = need(out, name, TR_DT_I32, -1);
            int ok = t && (size_t)t->numel == ids.n;
            for (size_t j = 0; ok && j < ids.n; j++) ok = get_i32(t, (int64_t)j) == ids.v[j];
            CHECK_MSG(ok, "%s: AutoTokenizer's ids for text %d differ from tinyr1's", c->label, i);
            same += ok;
            tr_ids_free(&ids);
        }
        printf("%-24s AutoTokenizer (%s): %d/%d texts encode to the same ids\n", c->label,
               tr_st_metadata(out, "tokenizer"), same, N_TEXTS);
    }
    tr_st_close(out);
}

static void set_paths(export_check *c, const char *work, const char *name) {
    snprintf(c->dir, sizeof c->dir, "%s/%s", work, name);
    snprintf(c->in, sizeof c->in, "%s/%s.in.safetensors", work, name);
    snprintf(c->out, sizeof c->out, "%s/%s.out.safetensors", work, name);
}

/* A random tinyr1 model with a tokenizer trained here on GSM8K text (tinyr1's default
 * special tokens), saved as a tinyr1 checkpoint with the tokenizer embedded, exported in
 * F32 (checks[0]) and BF16 (checks[1]). Returns the tokenizer (caller frees). */
static tr_tokenizer *export_case(int qwen2, int tied, const char *work, export_check *checks) {
    char label[64];
    snprintf(label, sizeof label, "export %s %s", qwen2 ? "qwen2" : "llama",
             tied ? "tied" : "untied");
    tr_err err;
    char path[512];
    snprintf(path, sizeof path, "%s/gsm8k/train.jsonl", TR_SHARED_DATA);
    char *corpus = read_slice(path, 200000, &err);
    CHECK_MSG(corpus != NULL, "%s: %s", label, err.msg);
    if (!corpus) return NULL;
    tr_bpe_train_params bp = tr_bpe_train_default_params();
    bp.vocab_size = 400;
    bp.pretok = qwen2 ? TR_PRETOK_QWEN2 : TR_PRETOK_GPT2;
    tr_tokenizer *tok = NULL;
    CHECK(tr_tokenizer_train(&tok, corpus, strlen(corpus), &bp, NULL, &err) == 0);
    free(corpus);
    if (!tok) return NULL;

    tr_config cfg = tr_config_default();
    cfg.vocab = tr_tokenizer_vocab_size(tok) + 13; /* padding rows, as real models have */
    cfg.dim = 64;
    cfg.n_layers = 2;
    cfg.n_heads = 4;
    cfg.n_kv_heads = 2;
    cfg.head_dim = 0;
    cfg.hidden_dim = 144;
    cfg.max_seq = 64;
    cfg.rope_theta = qwen2 ? 1e6f : 1e4f;
    cfg.norm_eps = qwen2 ? 1e-6f : 1e-5f;
    cfg.tied_embeddings = tied;
    cfg.qkv_bias = qwen2;
    tr_model m;
    CHECK(tr_model_init(&m, &cfg, &err) == 0);
    tr_model_init_random(&m, 99 + (uint64_t)qwen2, 0.15f);
    tr_rng rng;
    tr_rng_seed(&rng, 7);
    for (int i = 0; i < m.table.n_tensors; i++) { /* non-trivial norms and biases */
        tr_tensor_info *t = &m.table.tensors[i];
        if (t->kind == TR_TENSOR_NORM || t->kind == TR_TENSOR_BIAS)
            for (size_t j = 0; j < t->numel; j++)
                m.params[t->offset + j] += 0.2f * tr_rng_normal(&rng);
    }
    char ckpt[600], name[64];
    snprintf(ckpt, sizeof ckpt, "%s/%s_%d_checkpoint.bin", work, qwen2 ? "qwen2" : "llama", tied);
    char *blob = NULL;
    size_t blob_len = 0;
    CHECK(tr_tokenizer_serialize(tok, &blob, &blob_len, &err) == 0);
    tr_train_state st = {0};
    CHECK(tr_checkpoint_save(ckpt, &m, NULL, &st, NULL, (tr_checkpoint_blob){blob, blob_len},
                             &err) == 0);
    free(blob);
    for (int bf16 = 0; bf16 < 2; bf16++) {
        export_check *c = &checks[bf16];
        snprintf(c->label, sizeof c->label, "%s", label);
        snprintf(name, sizeof name, "%s_%d_%s", qwen2 ? "qwen2" : "llama", tied,
                 bf16 ? "bf16" : "f32");
        set_paths(c, work, name);
        tr_export_params p = tr_export_default_params();
        p.bf16 = bf16;
        tr_export_info info;
        CHECK_MSG(tr_export_hf(ckpt, c->dir, &p, &info, &err) == 0, "%s: %s", label, err.msg);
        CHECK(info.source == TR_FMT_TINYR1 && info.tokenizer_files == 3 &&
              info.eos_id == tr_tokenizer_eos(tok) && info.n_params == m.table.total);
        CHECK(tr_model_init(&c->m, &cfg, &err) == 0);
        memcpy(c->m.params, m.params, m.table.total * sizeof(float));
        if (bf16) /* transformers upcasts the stored bf16 weights; tinyr1 rounds its own alike */
            for (size_t i = 0; i < m.table.total; i++)
                c->m.params[i] = tr_bf16_to_f32(tr_f32_to_bf16(c->m.params[i]));
        c->tok = bf16 ? NULL : tok;
        c->arch = qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
        c->B = 3;
        c->T = 16;
        for (int i = 0; i < c->B * c->T; i++)
            c->tokens[i] = (int32_t)tr_rng_below(&rng, (uint64_t)cfg.vocab);
        write_check_input(c);
    }
    tr_model_free(&m);
    return tok;
}

/* The real llama2.c stories260K, exported: exercises the RoPE row permutation end to end. */
static void export_llama2c(const char *work, export_check *c) {
    snprintf(c->label, sizeof c->label, "export stories260K");
    char path[512];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", TR_SHARED_DATA);
    set_paths(c, work, "stories260K");
    tr_err err;
    if (tr_model_load(&c->m, path, &err) != 0) {
        CHECK_MSG(0, "%s: %s", c->label, err.msg);
        return;
    }
    tr_export_info info;
    CHECK_MSG(tr_export_hf(path, c->dir, NULL, &info, &err) == 0, "%s: %s", c->label, err.msg);
    CHECK(info.source == TR_FMT_LLAMA2C && info.tokenizer_files == 0 && info.bos_id == 1);
    c->arch = "LlamaForCausalLM";
    c->B = 2;
    c->T = 24;
    tr_rng rng;
    tr_rng_seed(&rng, 3);
    for (int i = 0; i < c->B * c->T; i++)
        c->tokens[i] = (int32_t)tr_rng_below(&rng, (uint64_t)c->m.cfg.vocab);
    c->tokens[0] = c->tokens[c->T] = 1; /* bos */
    write_check_input(c);
}

int main(void) {
    const char *env = getenv("TR_HF_PYTHON");
    snprintf(python, sizeof python, "%s", env ? env : TR_TESTS_DIR "/../.venv-hf/bin/python");
    if (access(python, X_OK) != 0) {
        fprintf(stderr,
                "parity_hf: no oracle at %s: run scripts/install-deps.sh (it makes .venv-hf), "
                "or set TR_HF_PYTHON\n",
                python);
        return 1;
    }
    char work[] = "/tmp/tinyr1_hf_XXXXXX";
    CHECK(mkdtemp(work) != NULL);

    static const import_case cases[] = {
        {"llama", 0, 11}, {"llama", 1, 12}, {"qwen2", 1, 13}, {"qwen2", 0, 14}, {"llama_hd", 1, 15},
    };
    import_all(cases, (int)(sizeof cases / sizeof cases[0]), work);

    export_check checks[5];
    memset(checks, 0, sizeof checks);
    tr_tokenizer *toks[2];
    toks[0] = export_case(0, 0, work, &checks[0]); /* Llama, untied, GPT-2 regex */
    toks[1] = export_case(1, 1, work, &checks[2]); /* Qwen2, tied, Qwen2 regex */
    export_llama2c(work, &checks[4]);
    char cmd[8192];
    int k = snprintf(cmd, sizeof cmd, "%s %s/hf_oracle.py check", python, TR_TESTS_DIR);
    for (int i = 0; i < 5 && k < (int)sizeof cmd; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %s %s %s", checks[i].dir, checks[i].in,
                      checks[i].out);
    int rc = run("%s", cmd);
    CHECK_MSG(rc == 0, "transformers could not load the exports");
    for (int i = 0; i < 5; i++) {
        if (rc == 0) verify_check(&checks[i], i == 4 ? "F32 " : i % 2 ? "BF16" : "F32 ");
        tr_model_free(&checks[i].m);
    }
    tr_tokenizer_free(toks[0]);
    tr_tokenizer_free(toks[1]);
    if (tu_failures == 0)
        run("rm -rf %s", work);
    else
        fprintf(stderr, "parity_hf: files kept in %s\n", work);
    return tu_finish("parity_hf");
}
