/* tinyr1 chat: an interactive loop in the model's chat template, streaming the replies.
 * The conversation stays in one KV-cache slot: each turn prefills only its new tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Reads one line from stdin without its newline (malloc'd); NULL at end of input. */
static char *read_line(void) {
    size_t cap = 256, n = 0;
    char *buf = malloc(cap);
    int c;
    while (buf && (c = getchar()) != EOF && c != '\n') {
        if (n + 1 >= cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
            if (!buf) break;
        }
        buf[n++] = (char)c;
    }
    if (!buf || (c == EOF && n == 0)) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (n && buf[n - 1] == '\r') buf[n - 1] = 0;
    return buf;
}

typedef struct {
    const tr_tokenizer *tok;
    tr_template_kind tpl;
    const char *system;
} chat_style;

static int push_text(const tr_tokenizer *tok, const char *text, int flags, tr_ids *ids,
                     tr_err *err) {
    return tr_tokenizer_encode(tok, text, strlen(text), flags, ids, err);
}

/* The tokens of one user turn. first: the conversation is empty (BOS, system message). */
static int turn_tokens(const chat_style *cs, const char *user, int first, tr_ids *ids,
                       tr_err *err) {
    const tr_tokenizer *tok = cs->tok;
    ids->n = 0;
    if (cs->tpl == TR_TEMPLATE_R1ZERO) {
        tr_template_out out = {0};
        if (tr_template_encode(tok, TR_TEMPLATE_R1ZERO, NULL, user, NULL, &out, err) != 0)
            return -1;
        int rc = 0;
        for (size_t i = 0; i < out.ids.n && rc == 0; i++) rc = tr_ids_push(ids, out.ids.v[i], err);
        tr_template_out_free(&out);
        return rc;
    }
    const int special = TR_ENC_ALLOW_SPECIAL | TR_ENC_NO_PREFIX, plain = TR_ENC_NO_PREFIX;
    if (first && tr_tokenizer_adds_bos(tok) && tr_tokenizer_bos(tok) >= 0 &&
        tr_ids_push(ids, tr_tokenizer_bos(tok), err) != 0)
        return -1;
    if (cs->tpl == TR_TEMPLATE_NONE) return push_text(tok, user, first ? 0 : plain, ids, err);
    if (first && cs->system &&
        (push_text(tok, "<|im_start|>system\n", special, ids, err) != 0 ||
         push_text(tok, cs->system, plain, ids, err) != 0 ||
         push_text(tok, "<|im_end|>\n", special, ids, err) != 0))
        return -1;
    if (push_text(tok, "<|im_start|>user\n", special, ids, err) != 0 ||
        push_text(tok, user, plain, ids, err) != 0 ||
        push_text(tok, "<|im_end|>\n<|im_start|>assistant\n", special, ids, err) != 0)
        return -1;
    return 0;
}

int cmd_chat(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *weights = "auto", *kv = "f32", *tpl_name = NULL,
               *system = NULL;
    int n_new = 512, threads = 0, context = 4096;
    cli_sampling s = {tr_sampler_default_params(), 1};
    s.p.temperature = 0.7f;
    s.p.top_p = 0.9f;
    cli_opt opts[32];
    int n = 0;
    n += cli_model_opts(&model, &tokenizer, opts + n);
    opts[n++] = cli_weights_opt(&weights);
    opts[n++] = cli_kv_opt(&kv);
    opts[n++] = (cli_opt){
        "template", CLI_STR, &tpl_name, "NAME",
        "chat (ChatML turns; the default when the tokenizer has <|im_start|>), r1zero (each turn a "
        "fresh R1-Zero prompt) or none (the conversation is plain text the model continues)"};
    opts[n++] = (cli_opt){"system", CLI_STR, &system, "TEXT", "system message (chat template)"};
    opts[n++] = (cli_opt){"n", CLI_INT, &n_new, "N", "at most N tokens per reply (also -n N)"};
    opts[n++] = (cli_opt){"ctx", CLI_INT, &context, "N",
                          "positions the conversation may fill, at most the model's own (the KV "
                          "cache is allocated for all of them)"};
    n += cli_sampling_opts(&s, opts + n);
    opts[n++] = (cli_opt){"threads", CLI_INT, &threads, "N", "threads (0 = all cores)"};
    opts[n] = (cli_opt){0};
    const cli_spec spec = {
        "chat",
        "Talk with a model: one line of input per turn, the reply streams back.",
        "",
        opts,
        0,
        0,
        "Lines '/reset' (start a new conversation) and '/quit' are commands; end of input\n"
        "quits. The whole conversation stays in the context (--ctx positions, at most the\n"
        "model's); when it is full the conversation starts over."};
    int prc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return prc > 0 ? 0 : 2;
    if (n_new < 1) return cli_error(spec.command, "-n must be at least 1");
    if (context < 2) return cli_error(spec.command, "--ctx must be at least 2");
    tr_infer_weights wkind;
    tr_infer_kv kvkind;
    if (cli_parse_weights(spec.command, weights, &wkind) || cli_parse_kv(spec.command, kv, &kvkind))
        return 1;
    tr_set_threads(threads);

    tr_err err;
    tr_model m;
    tr_tokenizer *tok;
    if (cli_load_model(spec.command, model, tokenizer, &m, &tok)) return 1;
    int has_chat = tr_tokenizer_token_id(tok, "<|im_start|>") >= 0 &&
                   tr_tokenizer_token_id(tok, "<|im_end|>") >= 0;
    int tpl = tpl_name   ? tr_template_from_name(tpl_name)
              : has_chat ? TR_TEMPLATE_CHAT
                         : TR_TEMPLATE_NONE;
    int rc = 1;
    tr_infer *ctx = NULL;
    tr_sampler smp = {0};
    tr_decoder dec = {0};
    tr_ids turn = {0}, hist = {0};
    float *logits = NULL;
    if (tpl < 0) {
        cli_error(spec.command, "--template must be chat, r1zero or none");
        goto done;
    }
    if (tpl == TR_TEMPLATE_CHAT && !has_chat) {
        cli_error(spec.command, "the tokenizer has no <|im_start|>/<|im_end|> tokens: use "
                                "--template none or r1zero");
        goto done;
    }
    chat_style cs = {tok, (tr_template_kind)tpl, system};
    int32_t stops[TR_GEN_MAX_STOP];
    int n_stops = cli_stop_tokens(tok, cs.tpl, stops, TR_GEN_MAX_STOP);
    const int V = m.cfg.vocab, max_seq = context < m.cfg.max_seq ? context : m.cfg.max_seq;
    if (tr_infer_init(&ctx, &m, 1, max_seq, &err) != 0 || tr_sampler_init(&smp, V, &s.p, &err) != 0 ||
        tr_decoder_init(&dec, tok, TR_DEC_SKIP_SPECIAL, &err) != 0 ||
        !(logits = tr_calloc((size_t)V, sizeof(float), &err))) {
        cli_error(spec.command, err.msg);
        goto done;
    }
    if (cli_set_decoding(spec.command, ctx, wkind, kvkind) != 0) goto done;
    tr_rng rng;
    tr_rng_seed(&rng, (uint64_t)s.seed);
    int slot = 0, interactive = isatty(0);
    if (interactive)
        fprintf(stderr, "tinyr1 chat (%s template); /reset, /quit, end of input quits\n",
                tr_template_name(cs.tpl));
    for (;;) {
        if (interactive) fprintf(stderr, "> ");
        char *line = read_line();
        if (!line || strcmp(line, "/quit") == 0) {
            free(line);
            break;
        }
        if (strcmp(line, "/reset") == 0) {
            tr_infer_truncate(ctx, slot, 0, NULL);
            hist.n = 0;
            free(line);
            continue;
        }
        if (cs.tpl == TR_TEMPLATE_R1ZERO) { /* every turn stands alone */
            tr_infer_truncate(ctx, slot, 0, NULL);
            hist.n = 0;
        }
        int first = tr_infer_length(ctx, slot) == 0;
        if (turn_tokens(&cs, line, first, &turn, &err) != 0) {
            free(line);
            cli_error(spec.command, err.msg);
            goto done;
        }
        if (tr_infer_length(ctx, slot) + (int64_t)turn.n + 1 > max_seq && !first) {
            fprintf(stderr, "(the context is full: the conversation starts over)\n");
            tr_infer_truncate(ctx, slot, 0, NULL);
            hist.n = 0;
            if (turn_tokens(&cs, line, 1, &turn, &err) != 0) {
                free(line);
                goto done;
            }
        }
        free(line);
        if ((int64_t)turn.n + 1 > max_seq || turn.n == 0) {
            fprintf(stderr, "(the message does not fit the context of %d tokens%s)\n", max_seq,
                    max_seq < m.cfg.max_seq ? ": see --ctx" : ", the model's own");
            tr_infer_truncate(ctx, slot, 0, NULL);
            hist.n = 0;
            continue;
        }
        for (size_t i = 0; i < turn.n; i++) {
            const char *b;
            size_t l;
            tr_ids_push(&hist, turn.v[i], &err);
            tr_decoder_push(&dec, turn.v[i], &b, &l, &err); /* keeps prev; not printed */
        }
        if (tr_infer_prefill(ctx, slot, turn.v, (int)turn.n, 0, logits, &err) != 0) {
            cli_error(spec.command, err.msg);
            goto done;
        }
        for (int t = 0; t < n_new; t++) {
            int32_t id = tr_sampler_sample(&smp, logits, hist.v, (int)hist.n, &rng, NULL);
            int is_stop = 0;
            for (int k = 0; k < n_stops; k++) is_stop |= id == stops[k];
            tr_ids_push(&hist, id, &err);
            if (!is_stop) {
                const char *b;
                size_t l;
                if (tr_decoder_push(&dec, id, &b, &l, &err) == 0 && l) fwrite(b, 1, l, stdout);
                fflush(stdout);
            }
            if (tr_infer_length(ctx, slot) >= max_seq) break;
            /* the token joins the conversation (a stop token too: it closes the turn) */
            if (tr_infer_decode(ctx, 1, &slot, &id, logits, &err) != 0) {
                cli_error(spec.command, err.msg);
                goto done;
            }
            if (is_stop) break;
        }
        if (cs.tpl == TR_TEMPLATE_CHAT && tr_infer_length(ctx, slot) < max_seq) {
            /* ChatML puts a newline after <|im_end|> */
            tr_ids nl = {0};
            if (push_text(tok, "\n", TR_ENC_NO_PREFIX, &nl, &err) == 0 && nl.n &&
                tr_infer_length(ctx, slot) + (int64_t)nl.n <= max_seq)
                tr_infer_prefill(ctx, slot, nl.v, (int)nl.n, 0, NULL, &err);
            tr_ids_free(&nl);
        }
        const char *tail;
        size_t tl;
        tr_decoder_flush(&dec, &tail, &tl);
        if (tl) fwrite(tail, 1, tl, stdout);
        printf("\n");
        fflush(stdout);
    }
    rc = 0;
done:
    free(logits);
    tr_ids_free(&turn);
    tr_ids_free(&hist);
    tr_decoder_free(&dec);
    if (smp.cand) tr_sampler_free(&smp);
    tr_infer_free(ctx);
    tr_tokenizer_free(tok);
    tr_model_free(&m);
    return rc;
}
