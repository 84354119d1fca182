/* The command-line layer: one declarative option table per command generates both the
 * parser and --help, so they cannot drift apart. Only src/cli/ prints errors and exits. */
#ifndef TINYR1_CLI_H
#define TINYR1_CLI_H

#include <signal.h>
#include <stdint.h>

#include "tinyr1.h"

typedef enum { CLI_FLAG, CLI_INT, CLI_INT64, CLI_FLOAT, CLI_DOUBLE, CLI_STR } cli_kind;

typedef struct cli_opt {
    const char *name;    /* long name without dashes, e.g. "lr" for --lr */
    cli_kind kind;
    void *dst;           /* int*, int64_t*, float*, double*, const char** ; pre-filled = default */
    const char *metavar; /* shown in --help, e.g. "N" */
    const char *help;
} cli_opt;

typedef struct cli_spec {
    const char *command;  /* "sft", "tokenizer encode", ... */
    const char *summary;  /* one line */
    const char *usage;    /* positional part of the usage line, e.g. "FILE.jsonl" or "" */
    const cli_opt *opts;  /* terminated by {0} */
    int min_positional, max_positional;
    const char *details;  /* optional paragraph after the options */
} cli_spec;

/* Parses argv[1..argc-1] (argv[0] is the command name). Positional arguments are stored
 * in positional[] (capacity max_positional). Returns 0 on success, 1 when --help was
 * printed (the caller exits 0), -1 on a bad argument (message already printed). */
int cli_parse(const cli_spec *spec, int argc, char **argv, char **positional, int *n_positional);
void cli_print_help(const cli_spec *spec);
/* Prints the resolved option values, one "name = value" per line, to stderr. */
void cli_print_resolved(const cli_spec *spec);

/* Prints "tinyr1 <command>: <message>" to stderr and returns 1 (the exit code). */
int cli_error(const char *command, const char *message);

/* A subcommand group ("tokenizer train|encode|..."): dispatches on argv[1]. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;
int cli_dispatch(const char *group, const cli_command *commands, int argc, char **argv);


/* ---- helpers shared by the training commands (src/cli/common.c) ---- */
/* Installs SIGINT/SIGTERM handlers that set the returned flag (the one process-wide
 * variable: a signal handler can reach nothing else). A second signal exits at once. */
volatile sig_atomic_t *cli_install_stop_handler(void);
/* Resolves a preset name ("tiny") to configs/models/tiny.json (TINYR1_CONFIGS overrides the
 * folder) or takes a path; loads its "model" object into cfg and returns the "train"
 * object's numbers through the callback-free struct below. */
typedef struct cli_train_defaults {
    int batch, seq, steps, warmup;
    float lr;
} cli_train_defaults;
int cli_load_preset(const char *name, tr_config *cfg, cli_train_defaults *train, tr_err *err);
/* The process's MPI context (rank 0 of 1 without mpirun); main() sets it up. */
int cli_dist_init(int *argc, char ***argv);
void cli_dist_finalize(void);
const tr_dist *cli_dist(void);
/* The value of --NAME in argv (both "--name v" and "--name=v"), or NULL. */
const char *cli_peek_option(int argc, char **argv, const char *name);
/* Writes DIR/args.json: the command, its resolved options and the model config. */
int cli_write_run_args(const char *dir, const cli_spec *spec, const tr_config *cfg, tr_err *err);

/* ---- the options and the run shared by every training command (src/cli/train_common.c) */
typedef struct cli_train_opts {
    const char *out, *schedule;
    int steps, batch, seq, accum, warmup, threads, checkpoint_every, resume, quiet;
    int64_t seed, logits_chunk;
    float lr, min_lr, wd, beta2, clip;
} cli_train_opts;

/* Defaults (before a preset or flags change them). */
cli_train_opts cli_train_opts_default(const char *out);
/* Writes the shared option entries into opts (room for CLI_TRAIN_N_OPTS) and returns how
 * many it wrote; the command adds its own before or after. */
#define CLI_TRAIN_N_OPTS 17
int cli_train_opts_table(cli_train_opts *t, cli_opt *opts);

/* A training run: the model, its optimizer state and progress, the tokenizer. */
struct tr_tokenizer;
typedef struct cli_run {
    tr_model model;
    tr_adamw restored;  /* optimizer moments from a checkpoint (moved into the trainer) */
    int has_restored;
    tr_train_state st;
    struct tr_tokenizer *tok; /* may be NULL (byte vocabulary) */
} cli_run;

/* If --resume and OUT/checkpoint.bin exists: loads model, optimizer, state and the
 * embedded tokenizer into run and returns 1. Otherwise returns 0 (the caller builds the
 * model), -1 on error. */
int cli_run_resume(cli_run *run, const cli_train_opts *t, tr_err *err);
/* Fresh state: seeds the run's RNGs from --seed. */
void cli_run_fresh_state(cli_run *run, const cli_train_opts *t);
/* Trains run->model with the objective and batch source (progress, metrics, checkpoints,
 * Ctrl-C), then prints where the checkpoint is. Returns the process exit code (0, 1, or
 * 130 when interrupted). meta_json describes the stage for the checkpoint. */
int cli_run_train(cli_run *run, const char *stage, const cli_train_opts *t,
                  const tr_objective *obj, tr_batch_fn next, void *next_ctx,
                  const char *meta_json);
/* The same with an evaluation every eval_every steps (and at step 0 of a fresh run and at
 * the end): eval writes JSON fields ("\"pass1\":0.42") into buf; they are appended to
 * OUT/metrics.jsonl as {"stage", "step", fields}. The loop then runs in segments that end
 * at the evaluation steps (each segment ends with a checkpoint). */
typedef int (*cli_eval_fn)(void *ctx, const tr_model *m, int64_t step, char *buf, size_t cap,
                           tr_err *err);
int cli_run_train_eval(cli_run *run, const char *stage, const cli_train_opts *t,
                       const tr_objective *obj, tr_batch_fn next, void *next_ctx,
                       const char *meta_json, int eval_every, cli_eval_fn eval, void *eval_ctx);
void cli_run_free(cli_run *run);

/* ---- commands (one file each in src/cli/); each returns the process exit code ---- */
int cmd_pretrain(int argc, char **argv);
int cmd_sft(int argc, char **argv);
int cmd_pipeline(int argc, char **argv);
/* Runs a tinyr1 command in-process: argv[0] is the command name (main.c's table). */
int cli_run_command(int argc, char **argv);
int cmd_distill(int argc, char **argv);
int cmd_grpo(int argc, char **argv);
int cmd_cost(int argc, char **argv);
/* ---- generation commands (generate, chat, eval; helpers in src/cli/cmd_generate.c) ---- */
typedef struct cli_sampling {
    tr_sampler_params p;
    int64_t seed;
} cli_sampling;
/* Writes the sampling options (--temp --top-p --top-k --min-p --repeat-penalty
 * --repeat-window --seed) into opts and returns how many (CLI_SAMPLING_N_OPTS). */
#define CLI_SAMPLING_N_OPTS 7
int cli_sampling_opts(cli_sampling *s, cli_opt *opts);
/* The stop tokens for a tokenizer and template: eos; BOS for llama2.c tokenizers (run.c
 * stops there); <|im_end|> for the chat template. Returns the count (<= max). */
int cli_stop_tokens(const tr_tokenizer *tok, tr_template_kind tpl, int32_t *ids, int max);
/* Writes the --model and --tokenizer entries (into *model, *tokenizer) into opts and returns
 * how many (CLI_MODEL_N_OPTS). */
#define CLI_MODEL_N_OPTS 2
int cli_model_opts(const char **model, const char **tokenizer, cli_opt *opts);
/* Loads the model and its tokenizer (tr_load_bundle) for `command`. Returns 0, or prints
 * "tinyr1 COMMAND: ..." (also when model is NULL: --model is required) and returns the exit
 * code 1; nothing to free then. On success free with tr_tokenizer_free + tr_model_free. */
int cli_load_model(const char *command, const char *model, const char *tokenizer, tr_model *m,
                   tr_tokenizer **tok);
/* The --weights entry (f32|bf16|auto, default auto) and the --kv entry (f32|bf16, default
 * f32), their parsers (0, or print "tinyr1 COMMAND: --OPTION: expected ..." and return 1),
 * and their application to a fresh decoding context (tr_infer_set_weights, tr_infer_set_kv;
 * 0, or print the error and return 1). */
cli_opt cli_weights_opt(const char **weights);
int cli_parse_weights(const char *command, const char *weights, tr_infer_weights *out);
cli_opt cli_kv_opt(const char **kv);
int cli_parse_kv(const char *command, const char *kv, tr_infer_kv *out);
int cli_set_decoding(const char *command, tr_infer *ctx, tr_infer_weights w, tr_infer_kv kv);
int cmd_generate(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Commands (one file each in src/cli/). Each returns the process exit code. */
int cmd_tokenizer(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
