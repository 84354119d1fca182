/* tinyr1: one program, one subcommand per stage of the R1 recipe. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("tinyr1 %s\n", TR_VERSION);
    return 0;
}

static const cli_command commands[] = {
    {"pretrain", "train a model from scratch on text (next-token cross-entropy)", cmd_pretrain},
    {"sft", "supervised fine-tuning on prompt/completion pairs (completion-only loss)", cmd_sft},
    {"version", "print the version", cmd_version},
    {"cost", "FLOPs, time, MFU and money of a run or a scenario", cmd_cost},
    {"tokenizer", "train, encode, decode, inspect tokenizers", cmd_tokenizer},
    {"data", "datasets and tasks: gen, check, score, tasks", cmd_data},
    {"generate", "generate text from a prompt (streaming)", cmd_generate},
    {"chat", "talk with a model in its chat template (streaming)", cmd_chat},
    {"eval", "pass@1, pass@k, maj@k, greedy accuracy on a task, with confidence intervals", cmd_eval},
    {0},
};

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) return cmd_version(argc, argv);
    return cli_dispatch("", commands, argc, argv);
}
