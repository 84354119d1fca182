/* tinyr1 export: a model (tinyr1 checkpoint, llama2.c .bin, Hugging Face folder) to a
 * Hugging Face folder that transformers loads unchanged (docs/hf.md). */
#include <stdio.h>

#include "cli.h"

int cmd_export(int argc, char **argv) {
    const char *model = NULL, *to = NULL, *tokenizer = NULL;
    int bf16 = 0, no_tokenizer = 0, quiet = 0;
    const cli_opt opts[] = {
        {"model", CLI_STR, &model, "PATH",
         "tinyr1 checkpoint.bin or run folder, llama2.c .bin, or Hugging Face folder"},
        {"to", CLI_STR, &to, "DIR", "folder to write (created; must not hold other model files)"},
        {"bf16", CLI_FLAG, &bf16, NULL,
         "store the weights as BF16 (round to nearest even), not F32"},
        {"tokenizer", CLI_STR, &tokenizer, "PATH",
         "write this byte-level BPE tokenizer instead of the model's own"},
        {"no-tokenizer", CLI_FLAG, &no_tokenizer, NULL, "write no tokenizer files"},
        {"quiet", CLI_FLAG, &quiet, NULL, "print nothing on success"},
        {0},
    };
    const cli_spec spec = {
        "export",
        "write a model as a Hugging Face folder (config.json, model.safetensors, tokenizer)",
        "",
        opts,
        0,
        0,
        "Writes DIR/config.json (LlamaForCausalLM, or Qwen2ForCausalLM when the model has q/k/v\n"
        "biases), DIR/model.safetensors, DIR/generation_config.json and the tokenizer:\n"
        "vocab.json + merges.txt + tokenizer_config.json for the tokenizer embedded in a tinyr1\n"
        "checkpoint (or --tokenizer), the source's own files (copied) for a Hugging Face folder,\n"
        "none for llama2.c. transformers' AutoModelForCausalLM and AutoTokenizer load DIR as it "
        "is."};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 1 : 0;
    if (!model || !to) return cli_error(spec.command, "--model PATH and --to DIR are required");
    if (tokenizer && no_tokenizer)
        return cli_error(spec.command, "--tokenizer and --no-tokenizer exclude each other");
    if (!quiet) cli_print_resolved(&spec);
    tr_export_params p = tr_export_default_params();
    p.bf16 = bf16;
    p.tokenizer = tokenizer;
    p.no_tokenizer = no_tokenizer;
    tr_export_info info;
    tr_err err;
    double t0 = tr_now();
    if (tr_export_hf(model, to, &p, &info, &err) != 0) return cli_error(spec.command, err.msg);
    if (!quiet) {
        printf("export: %s model (%zu parameters) -> %s (%s, %.1f s)\n",
               tr_model_format_name(info.source), info.n_params, to, bf16 ? "BF16" : "F32",
               tr_now() - t0);
        printf("export: tokenizer: %s\n", info.tokenizer);
        printf("export: bos_token_id %d, eos_token_id %d (-1: null)\n", info.bos_id, info.eos_id);
    }
    return 0;
}
