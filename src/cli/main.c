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
    {"distill", "knowledge distillation: logit KD (online or cached teacher), on-policy, traces", cmd_distill},
    {"grpo", "reinforcement learning with rule-based rewards (GRPO)", cmd_grpo},
    {"cost", "FLOPs, time, MFU and money of a run or a scenario", cmd_cost},
    {"tokenizer", "train, encode, decode, inspect tokenizers", cmd_tokenizer},
    {"data", "datasets and tasks: gen, check, score, tasks", cmd_data},
    {"report", "charts and tables of a run or a pipeline: report.md, report.html", cmd_report},
    {"export", "write a model as a Hugging Face folder (transformers loads it)", cmd_export},
    {"pipeline", "the whole R1 recipe, distillation, evaluation and a report", cmd_pipeline},
    {"generate", "generate text from a prompt (streaming)", cmd_generate},
    {"chat", "talk with a model in its chat template (streaming)", cmd_chat},
    {"eval", "pass@1, pass@k, maj@k, greedy accuracy on a task, with confidence intervals", cmd_eval},
    {"version", "print the version", cmd_version},
    {0},
};

int cli_run_command(int argc, char **argv) {
    /* cli_dispatch looks at argv[1]: give it a dummy program name in front */
    char *args[128];
    if (argc > 126) return cli_error("pipeline", "too many arguments");
    args[0] = "tinyr1";
    for (int i = 0; i < argc; i++) args[i + 1] = argv[i];
    args[argc + 1] = NULL;
    return cli_dispatch("", commands, argc + 1, args);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) return cmd_version(argc, argv);
    if (cli_dist_init(&argc, &argv) != 0) return 1;
    int rc = cli_dispatch("", commands, argc, argv);
    /* a rank that failed alone takes the job down instead of leaving the others waiting */
    if (rc != 0 && rc != 130 && cli_dist()->world > 1) {
        fprintf(stderr, "tinyr1: rank %d failed; stopping the whole MPI job\n", cli_dist()->rank);
        tr_dist_abort(cli_dist(), rc);
    }
    cli_dist_finalize();
    return rc;
}
