/* Export to Hugging Face folders (src/io/export.c) without Python: round trips through
 * tr_load_hf and tr_tokenizer_load, BF16 rounding by hand, the files written, the tokenizer
 * chosen per source, and every refusal. (transformers itself loads exports in parity_hf.) */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static int exists(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    return stat(p, &sb) == 0;
}

static char *slurp(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    size_t len;
    tr_err err;
    return tr_read_file(p, &len, &err);
}

static void put(const char *dir, const char *name, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    tr_err err;
    CHECK(tr_write_file_atomic(p, text, strlen(text), &err) == 0);
}

/* bf16 round to nearest even, written out from the definition. */
static float bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
    memcpy(&f, &u, 4);
    return f;
}

static tr_tokenizer *small_tokenizer(void) {
    const char *text = "the cat sat on the mat. the dog sat on the log. 12 + 30 = 42. "
                       "the cat and the dog. <think>so the answer is 42</think>";
    tr_bpe_train_params p = tr_bpe_train_default_params();
    p.vocab_size = 280;
    p.min_frequency = 1;
    p.pretok = TR_PRETOK_QWEN2;
    tr_tokenizer *tok = NULL;
    tr_err err;
    CHECK_MSG(tr_tokenizer_train(&tok, text, strlen(text), &p, NULL, &err) == 0, "%s", err.msg);
    return tok;
}

static void random_model(tr_model *m, int vocab, int qwen2, int tied) {
    tr_config c = tr_config_default();
    c.vocab = vocab;
    c.dim = 32;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.hidden_dim = 48;
    c.max_seq = 32;
    c.qkv_bias = qwen2;
    c.tied_embeddings = tied;
    c.rope_theta = qwen2 ? 1e6f : 1e4f;
    tr_err err;
    CHECK(tr_model_init(m, &c, &err) == 0);
    tr_model_init_random(m, 5, 0.3f);
}

int main(void) {
    char root[] = "/tmp/tinyr1_export_XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char d1[256], d2[256], d3[256], d4[256], d5[256], d6[256], d7[256], ck[256], ck2[256];
    snprintf(d1, sizeof d1, "%s/f32", root);
    snprintf(d2, sizeof d2, "%s/bf16", root);
    snprintf(d3, sizeof d3, "%s/stale", root);
    snprintf(d4, sizeof d4, "%s/from_ckpt", root);
    snprintf(d5, sizeof d5, "%s/from_hf", root);
    snprintf(d6, sizeof d6, "%s/stories", root);
    snprintf(d7, sizeof d7, "%s/no_tok", root);
    snprintf(ck, sizeof ck, "%s/checkpoint.bin", root);
    snprintf(ck2, sizeof ck2, "%s/plain.bin", root);
    tr_err err;
    tr_tokenizer *tok = small_tokenizer();
    if (!tok) return tu_finish("test_io_export");
    int V = tr_tokenizer_vocab_size(tok);
    tr_model m, back;

    /* F32: exact round trip, files, generation config, tokenizer */
    random_model(&m, V + 3, 1, 0);
    CHECK_MSG(tr_export_hf_model(&m, tok, d1, 0, 5, tr_tokenizer_eos(tok), &err) == 0, "%s",
              err.msg);
    CHECK(exists(d1, "config.json") && exists(d1, "model.safetensors") &&
          exists(d1, "generation_config.json") && exists(d1, "vocab.json") &&
          exists(d1, "merges.txt") && exists(d1, "tokenizer_config.json"));
    CHECK(tr_load_hf(&back, d1, &err) == 0);
    CHECK(back.table.total == m.table.total && back.cfg.qkv_bias == 1 && back.cfg.vocab == V + 3 &&
          memcmp(back.params, m.params, m.table.total * sizeof(float)) == 0);
    tr_model_free(&back);
    char *gc = slurp(d1, "generation_config.json");
    char want[64];
    snprintf(want, sizeof want, "\"eos_token_id\": %d", tr_tokenizer_eos(tok));
    CHECK(gc && strstr(gc, "\"bos_token_id\": 5") && strstr(gc, want));
    free(gc);
    tr_tokenizer *tok2 = NULL;
    CHECK(tr_tokenizer_load(&tok2, d1, &err) == 0);
    if (tok2) {
        const char *s = "the cat<think> sat 42</think> on the log";
        tr_ids a = {0}, b = {0};
        CHECK(tr_tokenizer_encode(tok, s, strlen(s), TR_ENC_ALLOW_SPECIAL, &a, &err) == 0);
        CHECK(tr_tokenizer_encode(tok2, s, strlen(s), TR_ENC_ALLOW_SPECIAL, &b, &err) == 0);
        CHECK(a.n == b.n && a.n > 0 && memcmp(a.v, b.v, a.n * sizeof(int32_t)) == 0);
        tr_ids_free(&a);
        tr_ids_free(&b);
        tr_tokenizer_free(tok2);
    }

    /* BF16: every value rounded to nearest even */
    CHECK(tr_export_hf_model(&m, NULL, d2, 1, -1, -1, &err) == 0);
    CHECK(!exists(d2, "vocab.json"));
    CHECK(tr_load_hf(&back, d2, &err) == 0);
    size_t wrong = 0;
    for (size_t i = 0; back.params && i < m.table.total; i++)
        wrong += back.params[i] != bf16_round(m.params[i]);
    CHECK_MSG(wrong == 0, "%zu values not rounded to nearest even bf16", wrong);
    tr_model_free(&back);
    gc = slurp(d2, "generation_config.json");
    CHECK(gc && strstr(gc, "\"bos_token_id\": null") && strstr(gc, "\"eos_token_id\": null"));
    free(gc);
    gc = slurp(d2, "config.json");
    CHECK(gc && strstr(gc, "bfloat16") && strstr(gc, "Qwen2ForCausalLM"));
    free(gc);

    /* refusals */
    CHECK(tr_mkdirs(d3, &err) == 0);
    put(d3, "tokenizer.json", "{}");
    CHECK(tr_export_hf_model(&m, tok, d3, 0, -1, -1, &err) != 0 &&
          strstr(err.msg, "tokenizer.json"));
    CHECK(!exists(d3, "model.safetensors"));
    CHECK(tr_export_hf_model(&m, NULL, d3, 0, -1, -1, &err) != 0); /* stale without one too */
    {
        char stale[512];
        snprintf(stale, sizeof stale, "%s/tokenizer.json", d3);
        CHECK(unlink(stale) == 0);
    }
    put(d3, "pytorch_model.bin", "x");
    CHECK(tr_export_hf_model(&m, NULL, d3, 0, -1, -1, &err) != 0 &&
          strstr(err.msg, "pytorch_model.bin"));
    tr_model small;
    random_model(&small, V - 1, 0, 1);
    CHECK(tr_export_hf_model(&small, tok, d7, 0, -1, -1, &err) != 0 &&
          strstr(err.msg, "embedding rows"));
    tr_model_free(&small);
    tr_config odd = m.cfg;
    odd.head_dim = 16; /* 4 x 16 != 32 */
    CHECK(tr_model_init(&small, &odd, &err) == 0);
    CHECK(tr_export_hf_model(&small, NULL, d7, 0, -1, -1, &err) != 0 &&
          strstr(err.msg, "head_dim"));
    odd.qkv_bias = 0; /* a Llama may have it */
    tr_model_free(&small);
    CHECK(tr_model_init(&small, &odd, &err) == 0);
    CHECK_MSG(tr_export_hf_model(&small, NULL, d7, 0, -1, -1, &err) == 0, "%s", err.msg);
    CHECK(tr_load_hf(&back, d7, &err) == 0 && back.cfg.head_dim == 16);
    tr_model_free(&back);
    tr_model_free(&small);
    char path[512];
    snprintf(path, sizeof path, "%s/models/stories260K/tok512.bin", TR_SHARED_DATA);
    tr_tokenizer *scored = NULL;
    CHECK(tr_tokenizer_load(&scored, path, &err) == 0);
    if (scored) {
        CHECK(tr_export_hf_model(&m, scored, d7, 0, -1, -1, &err) != 0 &&
              strstr(err.msg, "SentencePiece"));
        tr_tokenizer_free(scored);
    }
    CHECK(tr_export_hf("/nonexistent/model", d7, NULL, NULL, &err) != 0 &&
          strstr(err.msg, "/nonexistent/model"));
    put(root, "notes.txt", "hello");
    snprintf(path, sizeof path, "%s/notes.txt", root);
    CHECK(tr_export_hf(path, d7, NULL, NULL, &err) != 0 && strstr(err.msg, "not a model"));
    CHECK(tr_export_hf(d1, d1, NULL, NULL, &err) != 0 && strstr(err.msg, "source folder"));

    /* from a tinyr1 checkpoint with the tokenizer embedded */
    char *blob = NULL;
    size_t blob_len = 0;
    CHECK(tr_tokenizer_serialize(tok, &blob, &blob_len, &err) == 0);
    tr_train_state st = {0};
    CHECK(tr_checkpoint_save(ck, &m, NULL, &st, NULL, (tr_checkpoint_blob){blob, blob_len}, &err) ==
          0);
    CHECK(tr_checkpoint_save(ck2, &m, NULL, &st, NULL, (tr_checkpoint_blob){NULL, 0}, &err) == 0);
    free(blob);
    tr_export_info info;
    CHECK_MSG(tr_export_hf(root, d4, NULL, &info, &err) == 0, "%s", err.msg); /* a run folder */
    CHECK(info.source == TR_FMT_TINYR1 && info.tokenizer_files == 3 &&
          info.n_params == m.table.total && info.eos_id == tr_tokenizer_eos(tok) &&
          info.bos_id == tr_tokenizer_bos(tok));
    CHECK(tr_load_hf(&back, d4, &err) == 0 &&
          memcmp(back.params, m.params, m.table.total * sizeof(float)) == 0);
    tr_model_free(&back);
    /* no embedded tokenizer: weights only, over an earlier export without tokenizer files */
    CHECK_MSG(tr_export_hf(ck2, d7, NULL, &info, &err) == 0, "%s", err.msg);
    CHECK(info.tokenizer_files == 0 && strstr(info.tokenizer, "embeds no tokenizer") &&
          !exists(d7, "vocab.json"));
    tr_export_params p = tr_export_default_params();
    p.no_tokenizer = 1;
    CHECK(tr_export_hf(ck, d2, &p, &info, &err) == 0 && info.tokenizer_files == 0 &&
          strstr(info.tokenizer, "--no-tokenizer"));

    /* from a Hugging Face folder: tokenizer files copied byte for byte */
    put(d4, "tokenizer_config.json", "{\"chat_template\": \"{{ messages }}\", \"x\": 1}\n");
    CHECK_MSG(tr_export_hf(d4, d5, NULL, &info, &err) == 0, "%s", err.msg);
    CHECK(info.source == TR_FMT_HF && info.tokenizer_files == 3);
    const char *names[] = {"vocab.json", "merges.txt", "tokenizer_config.json",
                           "generation_config.json"};
    for (int i = 0; i < 4; i++) {
        char *a = slurp(d4, names[i]), *b = slurp(d5, names[i]);
        CHECK_MSG(a && b && strcmp(a, b) == 0, "%s not copied as it is", names[i]);
        free(a);
        free(b);
    }

    /* from llama2.c: no tokenizer, bos 1 / eos 2, the same weights as tr_load_llama2c */
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", TR_SHARED_DATA);
    CHECK_MSG(tr_export_hf(path, d6, NULL, &info, &err) == 0, "%s", err.msg);
    CHECK(info.source == TR_FMT_LLAMA2C && info.tokenizer_files == 0 && info.bos_id == 1 &&
          info.eos_id == 2 && strstr(info.tokenizer, "SentencePiece"));
    tr_model l2c;
    CHECK(tr_load_llama2c(&l2c, path, &err) == 0);
    CHECK(tr_load_hf(&back, d6, &err) == 0 && back.table.total == l2c.table.total &&
          memcmp(back.params, l2c.params, l2c.table.total * sizeof(float)) == 0);
    tr_model_free(&back);
    tr_model_free(&l2c);

    CHECK(strcmp(tr_model_format_name(TR_FMT_HF), "hf") == 0 &&
          strcmp(tr_model_format_name(TR_FMT_TINYR1), "tinyr1") == 0);
    tr_model_free(&m);
    tr_tokenizer_free(tok);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    return tu_finish("test_io_export");
}
