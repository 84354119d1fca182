/* tinyr1 pretrain: next-token cross-entropy on a text corpus, from a preset or flags. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* Byte-level vocabulary until a tokenizer is given: ids 0..255 are bytes, 256 ends a
 * document. */
#define BYTE_EOT 256

typedef struct {
    int32_t *ids;
    size_t n, cap;
    const tr_tokenizer *tok; /* NULL: bytes */
    int32_t eot;
} id_buf;

static int reserve(id_buf *b, size_t more, tr_err *err) {
    if (b->n + more <= b->cap) return 0;
    size_t cap = (b->n + more) * 2;
    int32_t *p = realloc(b->ids, cap * sizeof *p);
    if (!p) return tr_fail(err, "out of memory reading the corpus");
    b->ids = p;
    b->cap = cap;
    return 0;
}

/* Appends one document's ids and the end-of-text id. */
static int push_bytes(id_buf *b, const char *text, size_t len, tr_err *err) {
    if (!b->tok) {
        if (reserve(b, len + 1, err) != 0) return -1;
        for (size_t i = 0; i < len; i++) b->ids[b->n++] = (unsigned char)text[i];
    } else {
        tr_ids ids = {0};
        if (tr_tokenizer_encode(b->tok, text, len, 0, &ids, err) != 0) return -1;
        int rc = reserve(b, ids.n + 1, err);
        if (rc == 0) memcpy(b->ids + b->n, ids.v, ids.n * sizeof *ids.v);
        b->n += rc == 0 ? ids.n : 0;
        tr_ids_free(&ids);
        if (rc != 0) return -1;
    }
    if (reserve(b, 1, err) != 0) return -1;
    b->ids[b->n++] = b->eot;
    return 0;
}

/* A .jsonl file: any dataset kind tinyr1 reads (docs/data.md): "text" rows as they are;
 * rows with a prompt and a completion (prompt-completion, GSM8K, MATH-style, messages)
 * rendered through the template. Anything else: one plain-text document. */
static int read_corpus(const char *path, tr_template_kind tpl, id_buf *out, tr_err *err) {
    size_t plen = strlen(path);
    if (!(plen > 6 && strcmp(path + plen - 6, ".jsonl") == 0)) {
        size_t len;
        char *text = tr_read_file(path, &len, err);
        if (!text) return -1;
        int rc = push_bytes(out, text, len, err);
        free(text);
        return rc;
    }
    tr_dataset ds = {0};
    tr_dataset_params dp = tr_dataset_default_params();
    if (tr_dataset_load(&ds, path, &dp, err) != 0) return -1;
    int rc = 0;
    for (int64_t i = 0; i < ds.n && rc == 0; i++) {
        const tr_example *ex = &ds.ex[i];
        if (ex->text) {
            rc = push_bytes(out, ex->text, strlen(ex->text), err);
        } else if (ex->prompt && ex->completion) {
            char *doc = tr_template_render(tpl, NULL, ex->prompt, ex->completion, err);
            if (!doc) rc = -1;
            else rc = push_bytes(out, doc, strlen(doc), err);
            free(doc);
        } else {
            rc = tr_fail(err, "%s:%lld: a %s row without text or prompt + completion", path,
                         (long long)ex->line, tr_ds_kind_name(ex->kind));
        }
    }
    tr_dataset_free(&ds);
    return rc;
}

/* Built-in corpus: addition facts with worked digits, enough to see a loss curve fall. */
static int builtin_corpus(id_buf *out, uint64_t seed, tr_err *err) {
    tr_rng rng;
    tr_rng_seed(&rng, seed ^ 0x5eedULL);
    char line[128];
    for (int i = 0; i < 20000; i++) {
        int a = (int)tr_rng_below(&rng, 1000), b = (int)tr_rng_below(&rng, 1000);
        int n = snprintf(line, sizeof line, "%d + %d = %d\n", a, b, a + b);
        if (push_bytes(out, line, (size_t)n, err) != 0) return -1;
    }
    return 0;
}

typedef struct {
    const tr_token_stream *stream;
} stream_ctx;

static int next_batch(void *ctx, tr_batch *b, tr_train_state *st, tr_err *err) {
    (void)err;
    stream_ctx *c = ctx;
    tr_token_stream_sample(c->stream, b, &st->data_rng);
    st->data_cursor++;
    return 0;
}

int cmd_pretrain(int argc, char **argv) {
    tr_err err;
    tr_config cfg = tr_config_default();
    cli_train_defaults td = {.batch = 8, .seq = 128, .steps = 200, .warmup = 20, .lr = 1e-3f};
    const char *preset = cli_peek_option(argc, argv, "preset");
    if (!preset) preset = "tiny";
    if (cli_load_preset(preset, &cfg, &td, &err) != 0) return cli_error("pretrain", err.msg);

    cli_train_opts t = cli_train_opts_default("runs/pretrain");
    t.steps = td.steps;
    t.batch = td.batch;
    t.seq = td.seq;
    t.warmup = td.warmup;
    t.lr = td.lr;
    const char *data = NULL, *tokenizer = NULL, *tpl_name = "none";
    float init_std = 0.02f;
    cli_opt opts[CLI_TRAIN_N_OPTS + 20];
    int n = 0;
    opts[n++] = (cli_opt){"preset", CLI_STR, &preset, "NAME", "model and training preset: tiny|small|base (configs/models/NAME.json) or a path"};
    opts[n++] = (cli_opt){"data", CLI_STR, &data, "FILE", "training text: a .jsonl file of {\"text\": ...} rows or a plain text file (default: built-in arithmetic corpus)"};
    opts[n++] = (cli_opt){"template", CLI_STR, &tpl_name, "NAME", "how prompt/completion rows become text: none (prompt, newline, completion), r1zero, chat"};
    opts[n++] = (cli_opt){"tokenizer", CLI_STR, &tokenizer, "PATH", "tokenizer (default: bytes, ids 0-255, 256 = end of text); stored in the checkpoint"};
    n += cli_train_opts_table(&t, opts + n);
    opts[n++] = (cli_opt){"init-std", CLI_FLOAT, &init_std, "S", "standard deviation of the initial weights"};
    opts[n++] = (cli_opt){"vocab", CLI_INT, &cfg.vocab, "V", "model: vocabulary rows of the byte vocabulary (with --tokenizer: the tokenizer's size)"};
    opts[n++] = (cli_opt){"dim", CLI_INT, &cfg.dim, "D", "model: width"};
    opts[n++] = (cli_opt){"layers", CLI_INT, &cfg.n_layers, "L", "model: layers"};
    opts[n++] = (cli_opt){"heads", CLI_INT, &cfg.n_heads, "NH", "model: attention heads"};
    opts[n++] = (cli_opt){"kv-heads", CLI_INT, &cfg.n_kv_heads, "KVH", "model: key/value heads (grouped-query attention)"};
    opts[n++] = (cli_opt){"hidden", CLI_INT, &cfg.hidden_dim, "H", "model: MLP width"};
    opts[n++] = (cli_opt){"max-seq", CLI_INT, &cfg.max_seq, "T", "model: longest sequence"};
    opts[n++] = (cli_opt){"rope-theta", CLI_FLOAT, &cfg.rope_theta, "THETA", "model: RoPE base"};
    opts[n++] = (cli_opt){"tied", CLI_INT, &cfg.tied_embeddings, "0|1", "model: tie the LM head to the embedding"};
    opts[n++] = (cli_opt){"qkv-bias", CLI_INT, &cfg.qkv_bias, "0|1", "model: q/k/v biases (Qwen2)"};
    opts[n++] = (cli_opt){"quiet", CLI_FLAG, &t.quiet, NULL, "no progress display"};
    opts[n] = (cli_opt){0};
    const cli_spec spec = {"pretrain", "Train a model from scratch with next-token cross-entropy.",
                           "", opts, 0, 0,
                           "Ctrl-C saves a checkpoint and exits; run again with --resume to continue "
                           "exactly where it stopped."};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    tr_set_threads(t.threads);
    if (tr_mkdirs(t.out, &err) != 0) return cli_error("pretrain", err.msg);

    cli_run run;
    int resumed = cli_run_resume(&run, &t, &err);
    if (resumed < 0) return cli_error("pretrain", err.msg);
    if (!resumed && tokenizer && tr_tokenizer_load(&run.tok, tokenizer, &err) != 0)
        return cli_error("pretrain", err.msg);
    int32_t eot = run.tok ? tr_tokenizer_eos(run.tok) : BYTE_EOT;
    int min_vocab = run.tok ? tr_tokenizer_vocab_size(run.tok) : BYTE_EOT + 1;
    if (eot < 0) {
        cli_run_free(&run);
        return cli_error("pretrain", "the tokenizer has no end-of-text token");
    }
    id_buf corpus = {0};
    corpus.tok = run.tok;
    corpus.eot = eot;
    int tpl = tr_template_from_name(tpl_name);
    if (tpl < 0) {
        cli_run_free(&run);
        return cli_error("pretrain", "--template must be none, r1zero or chat");
    }
    int rc = data ? read_corpus(data, (tr_template_kind)tpl, &corpus, &err) : builtin_corpus(&corpus, (uint64_t)t.seed, &err);
    tr_token_stream stream = {0};
    if (rc == 0) rc = tr_token_stream_init(&stream, corpus.ids, corpus.n, &err);
    else free(corpus.ids);
    if (rc == 0 && !resumed) {
        /* a fresh model gets exactly the tokenizer's rows: padding rows would never be
         * trained, yet a sampler could still pick them */
        if (run.tok || cfg.vocab < min_vocab) cfg.vocab = min_vocab;
        rc = tr_model_init(&run.model, &cfg, &err);
        if (rc == 0) tr_model_init_random(&run.model, (uint64_t)t.seed, init_std);
        cli_run_fresh_state(&run, &t);
    }
    if (rc == 0) rc = cli_write_run_args(t.out, &spec, &run.model.cfg, &err);
    if (rc != 0) {
        tr_token_stream_free(&stream);
        cli_run_free(&run);
        return cli_error("pretrain", err.msg);
    }
    cli_print_resolved(&spec);
    fprintf(stderr, "pretrain: model %.2fM parameters (dim %d, %d layers, %d heads / %d kv, "
                    "vocab %d); corpus %zu tokens; %d threads\n",
            run.model.table.total / 1e6, run.model.cfg.dim, run.model.cfg.n_layers,
            run.model.cfg.n_heads, run.model.cfg.n_kv_heads, run.model.cfg.vocab, stream.n,
            tr_get_threads());
    stream_ctx sc = {&stream};
    tr_objective ce = tr_objective_ce();
    rc = cli_run_train(&run, "pretrain", &t, &ce, next_batch, &sc,
                       run.tok ? "{\"stage\":\"pretrain\"}" : "{\"stage\":\"pretrain\",\"tokenizer\":\"bytes\"}");
    tr_token_stream_free(&stream);
    cli_run_free(&run);
    return rc;
}
