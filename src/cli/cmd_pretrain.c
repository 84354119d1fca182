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
} id_buf;

static int push_bytes(id_buf *b, const char *text, size_t len, tr_err *err) {
    if (b->n + len + 1 > b->cap) {
        size_t cap = (b->n + len + 1) * 2;
        int32_t *p = realloc(b->ids, cap * sizeof *p);
        if (!p) return tr_fail(err, "out of memory reading the corpus");
        b->ids = p;
        b->cap = cap;
    }
    for (size_t i = 0; i < len; i++) b->ids[b->n++] = (unsigned char)text[i];
    b->ids[b->n++] = BYTE_EOT;
    return 0;
}

/* A .jsonl file: one {"text": ...} object per line. Anything else: one plain-text document. */
static int read_corpus(const char *path, id_buf *out, tr_err *err) {
    size_t len;
    char *text = tr_read_file(path, &len, err);
    if (!text) return -1;
    size_t plen = strlen(path);
    int rc = 0;
    if (plen > 6 && strcmp(path + plen - 6, ".jsonl") == 0) {
        long line_no = 0;
        for (char *line = text; *line && rc == 0;) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            line_no++;
            if (strspn(line, " \t\r") != strlen(line)) {
                cJSON *j = cJSON_Parse(line);
                const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
                if (!j) rc = tr_fail(err, "%s:%ld: not valid JSON", path, line_no);
                else if (!cJSON_IsString(t))
                    rc = tr_fail(err, "%s:%ld: expected an object with a string field \"text\"",
                                 path, line_no);
                else rc = push_bytes(out, t->valuestring, strlen(t->valuestring), err);
                cJSON_Delete(j);
            }
            line = nl ? nl + 1 : line + strlen(line);
        }
    } else {
        rc = push_bytes(out, text, len, err);
    }
    free(text);
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

    const char *data = NULL, *out = "runs/pretrain";
    int steps = td.steps, batch = td.batch, seq = td.seq, accum = 1, warmup = td.warmup;
    int threads = 0, resume = 0, ckpt_every = 100, quiet = 0;
    int64_t seed = 1;
    float lr = td.lr, min_lr = -1, wd = 0.1f, clip = 1.0f, beta2 = 0.95f, init_std = 0.02f;
    const char *schedule = "cosine";
    const cli_opt opts[] = {
        {"preset", CLI_STR, &preset, "NAME", "model and training preset: tiny|small|base (configs/models/NAME.json) or a path"},
        {"data", CLI_STR, &data, "FILE", "training text: a .jsonl file of {\"text\": ...} rows or a plain text file (default: built-in arithmetic corpus)"},
        {"out", CLI_STR, &out, "DIR", "run folder: checkpoint.bin, metrics.jsonl, args.json"},
        {"steps", CLI_INT, &steps, "N", "optimizer steps"},
        {"batch", CLI_INT, &batch, "B", "sequences per micro-batch"},
        {"seq", CLI_INT, &seq, "T", "tokens per sequence"},
        {"accum", CLI_INT, &accum, "K", "micro-batches per optimizer step (gradient accumulation)"},
        {"lr", CLI_FLOAT, &lr, "LR", "peak learning rate"},
        {"min-lr", CLI_FLOAT, &min_lr, "LR", "final learning rate of the cosine schedule (-1: lr/10)"},
        {"warmup", CLI_INT, &warmup, "N", "linear warmup steps"},
        {"schedule", CLI_STR, &schedule, "KIND", "learning-rate schedule after warmup: cosine|constant"},
        {"wd", CLI_FLOAT, &wd, "W", "AdamW weight decay (matrices only)"},
        {"beta2", CLI_FLOAT, &beta2, "B2", "AdamW beta2"},
        {"clip", CLI_FLOAT, &clip, "C", "global gradient-norm clipping (0: off)"},
        {"init-std", CLI_FLOAT, &init_std, "S", "standard deviation of the initial weights"},
        {"seed", CLI_INT64, &seed, "S", "random seed (weights and data order)"},
        {"threads", CLI_INT, &threads, "N", "threads (0: OMP_NUM_THREADS or all cores)"},
        {"checkpoint-every", CLI_INT, &ckpt_every, "N", "save a checkpoint every N steps (and at the end)"},
        {"resume", CLI_FLAG, &resume, NULL, "continue from DIR/checkpoint.bin if it exists"},
        {"vocab", CLI_INT, &cfg.vocab, "V", "model: vocabulary rows (at least 257 for the byte vocabulary)"},
        {"dim", CLI_INT, &cfg.dim, "D", "model: width"},
        {"layers", CLI_INT, &cfg.n_layers, "L", "model: layers"},
        {"heads", CLI_INT, &cfg.n_heads, "NH", "model: attention heads"},
        {"kv-heads", CLI_INT, &cfg.n_kv_heads, "KVH", "model: key/value heads (grouped-query attention)"},
        {"hidden", CLI_INT, &cfg.hidden_dim, "H", "model: MLP width"},
        {"max-seq", CLI_INT, &cfg.max_seq, "T", "model: longest sequence"},
        {"rope-theta", CLI_FLOAT, &cfg.rope_theta, "THETA", "model: RoPE base"},
        {"tied", CLI_INT, &cfg.tied_embeddings, "0|1", "model: tie the LM head to the embedding"},
        {"qkv-bias", CLI_INT, &cfg.qkv_bias, "0|1", "model: q/k/v biases (Qwen2)"},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress display"},
        {0},
    };
    const cli_spec spec = {"pretrain", "Train a model from scratch with next-token cross-entropy.",
                           "", opts, 0, 0,
                           "Ctrl-C saves a checkpoint and exits; run again with --resume to continue "
                           "exactly where it stopped."};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    tr_set_threads(threads);
    tr_schedule_kind kind;
    if (tr_schedule_parse(schedule, &kind, &err) != 0) return cli_error("pretrain", err.msg);
    if (steps <= 0 || batch <= 0 || seq <= 0 || accum <= 0)
        return cli_error("pretrain", "--steps, --batch, --seq and --accum must be positive");
    if (seq > cfg.max_seq) {
        char m[128];
        snprintf(m, sizeof m, "--seq %d exceeds the model's max_seq %d (use --max-seq)", seq, cfg.max_seq);
        return cli_error("pretrain", m);
    }
    if (cfg.vocab < BYTE_EOT + 1) return cli_error("pretrain", "--vocab must be at least 257 (byte vocabulary)");
    if (tr_mkdirs(out, &err) != 0) return cli_error("pretrain", err.msg);

    id_buf corpus = {0};
    int rc = data ? read_corpus(data, &corpus, &err) : builtin_corpus(&corpus, (uint64_t)seed, &err);
    if (rc != 0) {
        free(corpus.ids);
        return cli_error("pretrain", err.msg);
    }
    tr_token_stream stream;
    if (tr_token_stream_init(&stream, corpus.ids, corpus.n, &err) != 0) return cli_error("pretrain", err.msg);

    tr_model model;
    tr_train_state st = {0};
    tr_adamw restored = {0}, *restored_ptr = NULL;
    tr_adamw_params ap = tr_adamw_default_params();
    ap.lr = lr;
    ap.weight_decay = wd;
    ap.beta2 = beta2;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", out);
    struct stat sb;
    if (resume && stat(ckpt, &sb) == 0) {
        tr_checkpoint_info info;
        if (tr_checkpoint_load(ckpt, &model, &restored, ap, &info, &err) != 0) {
            tr_token_stream_free(&stream);
            return cli_error("pretrain", err.msg);
        }
        st = info.state;
        restored_ptr = info.has_optimizer ? &restored : NULL;
        tr_checkpoint_info_free(&info);
        fprintf(stderr, "pretrain: resuming from %s at step %lld\n", ckpt, (long long)st.step);
    } else {
        if (tr_model_init(&model, &cfg, &err) != 0) {
            tr_token_stream_free(&stream);
            return cli_error("pretrain", err.msg);
        }
        tr_model_init_random(&model, (uint64_t)seed, init_std);
        tr_rng_seed(&st.rng, (uint64_t)seed);
        tr_rng_seed(&st.data_rng, (uint64_t)seed + 1);
    }
    cli_print_resolved(&spec);
    fprintf(stderr, "pretrain: model %.2fM parameters (dim %d, %d layers, %d heads / %d kv, "
                    "vocab %d); corpus %zu tokens; %d threads\n",
            model.table.total / 1e6, model.cfg.dim, model.cfg.n_layers, model.cfg.n_heads,
            model.cfg.n_kv_heads, model.cfg.vocab, stream.n, tr_get_threads());
    if (cli_write_run_args(out, &spec, &model.cfg, &err) != 0) {
        tr_token_stream_free(&stream);
        tr_model_free(&model);
        return cli_error("pretrain", err.msg);
    }
    tr_lr_schedule sched = {kind, lr, min_lr >= 0 ? min_lr : lr / 10, warmup, steps};
    tr_trainer trainer;
    if (tr_trainer_init(&trainer, &model, ap, restored_ptr, sched, clip, batch, seq,
                        tr_dist_single(), &err) != 0) {
        tr_token_stream_free(&stream);
        tr_model_free(&model);
        return cli_error("pretrain", err.msg);
    }
    tr_loop_config lc = {.stage = "pretrain", .out_dir = out, .steps = steps,
                         .micro_batches = accum, .B = batch, .T = seq,
                         .checkpoint_every = ckpt_every, .log_every = 10,
                         .stop = cli_install_stop_handler(),
                         .meta_json = "{\"stage\":\"pretrain\",\"tokenizer\":\"bytes\"}",
                         .quiet = quiet};
    stream_ctx sc = {&stream};
    tr_objective ce = tr_objective_ce();
    rc = tr_train_loop(&trainer, &lc, next_batch, &sc, &ce, &st, &err);
    if (rc < 0) fprintf(stderr, "tinyr1 pretrain: %s\n", err.msg);
    else if (rc == 0) fprintf(stderr, "pretrain: done; checkpoint %s\n", ckpt);
    tr_trainer_free(&trainer);
    tr_model_free(&model);
    tr_token_stream_free(&stream);
    tr_adamw_free(&restored);
    return rc < 0 ? 1 : (rc == 1 ? 130 : 0);
}
