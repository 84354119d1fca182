#include <cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "model/config_json.h"

static volatile sig_atomic_t stop_requested = 0;
/* The process's place in an MPI job, set once by main() before any command runs (like the
 * signal flag, a fact about the process, not state a command owns). */
static tr_dist process_dist = {.rank = 0, .world = 1, .mpi = 0};

int cli_dist_init(int *argc, char ***argv) {
    tr_err err;
    if (tr_dist_init(&process_dist, argc, argv, &err) != 0) {
        fprintf(stderr, "tinyr1: %s\n", err.msg);
        return -1;
    }
    return 0;
}

void cli_dist_finalize(void) { tr_dist_finalize(&process_dist); }

const tr_dist *cli_dist(void) { return &process_dist; }

static void on_signal(int sig) {
    if (stop_requested) {
        /* second Ctrl-C: the user means it */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_requested = 1;
    static const char msg[] = "\nstopping after this step (saving a checkpoint); "
                              "press Ctrl-C again to abort at once\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
}

volatile sig_atomic_t *cli_install_stop_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_requested;
}

const char *cli_peek_option(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0) continue;
        if (a[2 + n] == '=') return a + 3 + n;
        if (a[2 + n] == '\0' && i + 1 < argc) return argv[i + 1];
    }
    return NULL;
}

int cli_load_preset(const char *name, tr_config *cfg, cli_train_defaults *train, tr_err *err) {
    char path[4096];
    if (strchr(name, '/') || strstr(name, ".json")) {
        snprintf(path, sizeof path, "%s", name);
    } else {
        const char *dir = getenv("TINYR1_CONFIGS");
        if (dir) snprintf(path, sizeof path, "%s/models/%s.json", dir, name);
        else snprintf(path, sizeof path, "%s/configs/models/%s.json", TR_SOURCE_DIR, name);
    }
    size_t len;
    char *text = tr_read_file(path, &len, err);
    if (!text)
        return tr_fail_context(err, "preset '%s' (presets are configs/models/*.json; or give a "
                                    "path)", name);
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return tr_fail(err, "%s: not valid JSON", path);
    int rc = tr_config_from_json(cJSON_GetObjectItemCaseSensitive(root, "model"), cfg, 0, path, err);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "train");
    if (rc == 0 && train && cJSON_IsObject(t)) {
        const cJSON *v;
        if ((v = cJSON_GetObjectItemCaseSensitive(t, "batch")) && cJSON_IsNumber(v)) train->batch = v->valueint;
        if ((v = cJSON_GetObjectItemCaseSensitive(t, "seq")) && cJSON_IsNumber(v)) train->seq = v->valueint;
        if ((v = cJSON_GetObjectItemCaseSensitive(t, "steps")) && cJSON_IsNumber(v)) train->steps = v->valueint;
        if ((v = cJSON_GetObjectItemCaseSensitive(t, "warmup")) && cJSON_IsNumber(v)) train->warmup = v->valueint;
        if ((v = cJSON_GetObjectItemCaseSensitive(t, "lr")) && cJSON_IsNumber(v)) train->lr = (float)v->valuedouble;
    }
    cJSON_Delete(root);
    return rc;
}

int cli_write_run_args(const char *dir, const cli_spec *spec, const tr_config *cfg, tr_err *err) {
    if (cli_dist()->rank != 0) return 0; /* one writer per run folder */
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "command", spec->command);
    cJSON_AddStringToObject(root, "version", TR_VERSION);
    cJSON *opts = cJSON_AddObjectToObject(root, "options");
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        switch (o->kind) {
        case CLI_FLAG: cJSON_AddBoolToObject(opts, o->name, *(int *)o->dst); break;
        case CLI_INT: cJSON_AddNumberToObject(opts, o->name, *(int *)o->dst); break;
        case CLI_INT64: cJSON_AddNumberToObject(opts, o->name, (double)*(int64_t *)o->dst); break;
        case CLI_FLOAT: cJSON_AddNumberToObject(opts, o->name, *(float *)o->dst); break;
        case CLI_DOUBLE: cJSON_AddNumberToObject(opts, o->name, *(double *)o->dst); break;
        case CLI_STR: {
            const char *s = *(const char **)o->dst;
            if (s) cJSON_AddStringToObject(opts, o->name, s);
            else cJSON_AddNullToObject(opts, o->name);
            break;
        }
        }
    }
    if (cfg) cJSON_AddItemToObject(root, "model", tr_config_to_json(cfg));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char path[4096];
    snprintf(path, sizeof path, "%s/args.json", dir);
    int rc = tr_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

int cli_model_opts(const char **model, const char **tokenizer, cli_opt *opts) {
    opts[0] = (cli_opt){"model", CLI_STR, model, "PATH",
                        "tinyr1 checkpoint or run folder, Hugging Face folder, or llama2.c .bin"};
    opts[1] = (cli_opt){"tokenizer", CLI_STR, tokenizer, "PATH",
                        "tokenizer (default: the one inside the model; required for a llama2.c "
                        ".bin)"};
    return CLI_MODEL_N_OPTS;
}

cli_opt cli_weights_opt(const char **weights) {
    return (cli_opt){"weights", CLI_STR, weights, "f32|bf16|auto",
                     "weights while decoding: f32; bf16 (a bfloat16 copy, half the bytes a token "
                     "reads: faster on large models, results those of the rounded weights); auto "
                     "(bf16 when every weight is exactly a bfloat16, e.g. a BF16 checkpoint: same "
                     "results)"};
}

/* The index of `value` among names[0..n), or -1 after printing "tinyr1 COMMAND: --OPTION:
 * expected ..., got '...'". */
static int parse_choice(const char *command, const char *option, const char *value,
                        const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(value, names[i]) == 0) return i;
    char msg[256];
    size_t at = 0;
    at += (size_t)snprintf(msg, sizeof msg, "--%s: expected ", option);
    for (int i = 0; i < n && at < sizeof msg; i++)
        at += (size_t)snprintf(msg + at, sizeof msg - at, "%s%s", names[i],
                               i + 2 < n ? ", " : i + 1 < n ? " or " : "");
    if (at < sizeof msg) snprintf(msg + at, sizeof msg - at, ", got '%s'", value);
    cli_error(command, msg);
    return -1;
}

int cli_parse_weights(const char *command, const char *weights, tr_infer_weights *out) {
    static const char *const names[] = {"f32", "bf16", "auto"}; /* the enum's order */
    int i = parse_choice(command, "weights", weights, names, 3);
    if (i < 0) return 1;
    *out = (tr_infer_weights)i;
    return 0;
}

cli_opt cli_kv_opt(const char **kv) {
    return (cli_opt){"kv", CLI_STR, kv, "f32|bf16",
                     "KV cache: f32 (default: the training forward's results) or bf16 (keys and "
                     "values rounded to bfloat16: half the memory and half the bytes the "
                     "attention reads; logits within ~1e-2, texts may diverge)"};
}

int cli_parse_kv(const char *command, const char *kv, tr_infer_kv *out) {
    static const char *const names[] = {"f32", "bf16"}; /* the enum's order */
    int i = parse_choice(command, "kv", kv, names, 2);
    if (i < 0) return 1;
    *out = (tr_infer_kv)i;
    return 0;
}

int cli_set_decoding(const char *command, tr_infer *ctx, tr_infer_weights w, tr_infer_kv kv) {
    tr_err err;
    if (tr_infer_set_weights(ctx, w, &err) != 0 || tr_infer_set_kv(ctx, kv, &err) != 0)
        return cli_error(command, err.msg);
    return 0;
}

int cli_load_model(const char *command, const char *model, const char *tokenizer, tr_model *m,
                   tr_tokenizer **tok) {
    if (!model) return cli_error(command, "--model PATH is required");
    tr_err err;
    *tok = NULL;
    if (tr_load_bundle(model, tokenizer, m, tok, &err) != 0) return cli_error(command, err.msg);
    return 0;
}
