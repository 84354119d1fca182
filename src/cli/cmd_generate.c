/* tinyr1 generate: text from a prompt, streamed token by token. Also the pieces shared by
 * generate, chat and eval (sampling options, -n, stop tokens). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_sampling_opts(cli_sampling *s, cli_opt *opts) {
    int n = 0;
    opts[n++] =
        (cli_opt){"temp", CLI_FLOAT, &s->p.temperature, "T", "sampling temperature; 0 = greedy"};
    opts[n++] = (cli_opt){
        "top-p", CLI_FLOAT, &s->p.top_p, "P",
        "nucleus sampling: keep the smallest set of tokens with probability >= P (1 = off)"};
    opts[n++] =
        (cli_opt){"top-k", CLI_INT, &s->p.top_k, "K", "keep the K most likely tokens (0 = off)"};
    opts[n++] = (cli_opt){"min-p", CLI_FLOAT, &s->p.min_p, "M",
                          "keep tokens with probability >= M x the most likely one's (0 = off)"};
    opts[n++] = (cli_opt){"repeat-penalty", CLI_FLOAT, &s->p.repetition_penalty, "R",
                          "penalty on tokens already in the context (1 = off)"};
    opts[n++] = (cli_opt){"repeat-window", CLI_INT, &s->p.repetition_window, "N",
                          "the last N tokens count for the penalty (0 = all)"};
    opts[n++] = (cli_opt){"seed", CLI_INT64, &s->seed, "S",
                          "random seed: the same seed gives the same text"};
    return n;
}

int cli_stop_tokens(const tr_tokenizer *tok, tr_template_kind tpl, int32_t *ids, int max) {
    int n = 0;
    int32_t eos = tr_tokenizer_eos(tok), bos = tr_tokenizer_bos(tok);
    if (eos >= 0 && n < max) ids[n++] = eos;
    /* llama2.c's run.c stops when the next token is BOS (its models mark story boundaries
     * with BOS) */
    if (tr_tokenizer_kind_of(tok) == TR_TOK_SCORED && bos >= 0 && bos != eos && n < max)
        ids[n++] = bos;
    if (tpl == TR_TEMPLATE_CHAT) {
        int32_t im_end = tr_tokenizer_token_id(tok, "<|im_end|>");
        if (im_end >= 0 && im_end != eos && n < max) ids[n++] = im_end;
    }
    return n;
}

static const char *token_text(const void *ctx, int32_t prev, int32_t id, size_t *len) {
    return tr_tokenizer_token_bytes((const tr_tokenizer *)ctx, prev, id, len);
}

typedef struct {
    tr_decoder dec;
    const int32_t *stops;
    int n_stops;
    tr_err *err;
} stream_ctx;

/* Prints each new token as it comes (stop tokens are not printed). */
static int on_token(void *ctx, int seq, const tr_gen_result *r) {
    stream_ctx *s = ctx;
    (void)seq;
    int32_t tok = r->tokens[r->n - 1];
    for (int k = 0; k < s->n_stops; k++)
        if (r->stop == TR_STOP_TOKEN && tok == s->stops[k]) return 0;
    const char *bytes;
    size_t len;
    if (tr_decoder_push(&s->dec, tok, &bytes, &len, s->err) != 0) return -1;
    if (len) fwrite(bytes, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *weights = "auto", *kv = "f32", *prompt = "",
               *tpl_name = "none", *system = NULL, *stop = NULL;
    int n_new = 256, threads = 0, no_echo = 0, quiet = 0;
    cli_sampling s = {tr_sampler_default_params(), 1};
    s.p.top_p = 0.9f; /* llama2.c run.c's defaults: temperature 1, top-p 0.9 */
    cli_opt opts[32];
    int n = 0;
    n += cli_model_opts(&model, &tokenizer, opts + n);
    opts[n++] = cli_weights_opt(&weights);
    opts[n++] = cli_kv_opt(&kv);
    opts[n++] = (cli_opt){"prompt", CLI_STR, &prompt, "TEXT",
                          "text to continue (default: empty: start from BOS)"};
    opts[n++] = (cli_opt){"n", CLI_INT, &n_new, "N", "generate at most N tokens (also -n N)"};
    n += cli_sampling_opts(&s, opts + n);
    opts[n++] = (cli_opt){"template", CLI_STR, &tpl_name, "NAME",
                          "prompt template: none (plain continuation), r1zero or chat"};
    opts[n++] = (cli_opt){"system", CLI_STR, &system, "TEXT", "system message (chat template)"};
    opts[n++] = (cli_opt){"stop", CLI_STR, &stop, "TEXT", "also stop when the text contains TEXT"};
    opts[n++] =
        (cli_opt){"no-echo", CLI_FLAG, &no_echo, NULL,
                  "do not print the prompt (template none prints it, as llama2.c's run.c does)"};
    opts[n++] = (cli_opt){"threads", CLI_INT, &threads, "N", "threads (0 = all cores)"};
    opts[n++] = (cli_opt){"quiet", CLI_FLAG, &quiet, NULL, "no statistics on stderr"};
    opts[n] = (cli_opt){0};
    const cli_spec spec = {
        "generate",
        "Generate text from a prompt, streaming tokens as they come.",
        "",
        opts,
        0,
        0,
        "Stops at the tokenizer's end token (and, for llama2.c tokenizers, at BOS, as run.c\n"
        "does), at --stop, after N tokens, or when the model's context is full. A newline\n"
        "follows the text (as run.c prints); statistics go to stderr.\n"
        "Example: tinyr1 generate --model stories260K.bin --tokenizer tok512.bin --temp 0 -n 200"};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    if (n_new < 1) return cli_error(spec.command, "-n must be at least 1");
    tr_infer_weights wkind;
    tr_infer_kv kvkind;
    if (cli_parse_weights(spec.command, weights, &wkind) || cli_parse_kv(spec.command, kv, &kvkind))
        return 1;
    int tpl = tr_template_from_name(tpl_name);
    if (tpl < 0) return cli_error(spec.command, "--template must be none, r1zero or chat");
    tr_set_threads(threads);

    tr_err err;
    tr_model m;
    tr_tokenizer *tok;
    if (cli_load_model(spec.command, model, tokenizer, &m, &tok)) return 1;
    int rc = 1;
    tr_infer *ctx = NULL;
    tr_template_out in = {0};
    stream_ctx sc = {.err = &err};
    tr_gen_result r = {0};
    if (tr_template_encode(tok, (tr_template_kind)tpl, system, prompt, NULL, &in, &err) != 0) {
        cli_error(spec.command, err.msg);
        goto done;
    }
    if (in.ids.n == 0) { /* an empty prompt and a tokenizer that adds no BOS */
        int32_t start = tr_tokenizer_bos(tok) >= 0 ? tr_tokenizer_bos(tok) : tr_tokenizer_eos(tok);
        if (start < 0) {
            cli_error(spec.command,
                      "empty prompt and the tokenizer has no BOS or EOS to start from");
            goto done;
        }
        if (tr_ids_push(&in.ids, start, &err) != 0) goto done;
    }
    if ((int64_t)in.ids.n >= m.cfg.max_seq) {
        fprintf(stderr, "tinyr1 generate: the prompt has %zu tokens; the model's context is %d\n",
                in.ids.n, m.cfg.max_seq);
        goto done;
    }
    if (tr_infer_init(&ctx, &m, 1, tr_gen_max_seq(&m, (int64_t)in.ids.n, n_new), &err) != 0) {
        cli_error(spec.command, err.msg);
        goto done;
    }
    if (cli_set_decoding(spec.command, ctx, wkind, kvkind) != 0) goto done;
    tr_gen_params gp = tr_gen_default_params();
    gp.sampler = s.p;
    gp.max_new_tokens = n_new;
    gp.n_stop_tokens = cli_stop_tokens(tok, (tr_template_kind)tpl, gp.stop_tokens, TR_GEN_MAX_STOP);
    if (stop && stop[0]) {
        gp.stop_strings[gp.n_stop_strings++] = stop;
        gp.token_text = token_text;
        gp.token_text_ctx = tok;
    }
    if (tr_decoder_init(&sc.dec, tok, TR_DEC_SKIP_SPECIAL, &err) != 0) goto done;
    sc.stops = gp.stop_tokens;
    sc.n_stops = gp.n_stop_tokens;
    /* the prompt goes through the decoder too (so the first generated piece knows the token
     * before it); template none echoes it, as run.c does */
    for (size_t i = 0; i < in.ids.n; i++) {
        const char *bytes;
        size_t len;
        if (tr_decoder_push(&sc.dec, in.ids.v[i], &bytes, &len, &err) != 0) goto done;
        if (tpl == TR_TEMPLATE_NONE && !no_echo && len) fwrite(bytes, 1, len, stdout);
    }
    fflush(stdout);
    tr_gen_request req = {in.ids.v, (int)in.ids.n, (uint64_t)s.seed};
    double t0 = tr_now();
    if (tr_generate(ctx, &req, 1, &gp, &r, on_token, &sc, &err) != 0) {
        cli_error(spec.command, err.msg);
        goto done;
    }
    double dt = tr_now() - t0;
    const char *tail;
    size_t tail_len;
    tr_decoder_flush(&sc.dec, &tail, &tail_len);
    if (tail_len) fwrite(tail, 1, tail_len, stdout);
    printf("\n");
    fflush(stdout);
    if (!quiet)
        fprintf(stderr, "generate: %d tokens (%s), %.1f tok/s, prompt %zu tokens\n", r.n,
                tr_stop_reason_name(r.stop), dt > 0 ? r.n / dt : 0.0, in.ids.n);
    rc = 0;
done:
    tr_gen_result_free(&r);
    tr_decoder_free(&sc.dec);
    tr_template_out_free(&in);
    tr_infer_free(ctx);
    tr_tokenizer_free(tok);
    tr_model_free(&m);
    return rc;
}
