/* tinyr1 tokenizer train|encode|decode|info */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *read_stdin(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) break;
        if (n == cap) {
            cap *= 2;
            char *b = realloc(buf, cap + 1);
            if (!b) free(buf);
            buf = b;
        }
    }
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

static int load(const char *cmd, const char *path, tr_tokenizer **tok) {
    tr_err err;
    if (!path) return cli_error(cmd, "--tokenizer PATH is required");
    if (tr_tokenizer_load(tok, path, &err)) return cli_error(cmd, err.msg);
    return 0;
}

/* ---- train ------------------------------------------------------------------------ */
static int cmd_train(int argc, char **argv) {
    const char *input = NULL, *out = NULL, *hf = NULL, *pattern = "gpt2";
    int vocab = 1000, no_specials = 0, quiet = 0;
    int64_t min_freq = 2;
    const cli_opt opts[] = {
        {"input", CLI_STR, &input, "FILE", "training text (UTF-8; read whole)"},
        {"vocab-size", CLI_INT, &vocab, "N", "vocabulary size: 256 bytes + merges + specials"},
        {"out", CLI_STR, &out, "FILE", "tokenizer file to write (tinyr1 format)"},
        {"pattern", CLI_STR, &pattern, "NAME", "pre-tokenizer regex: gpt2 or qwen2"},
        {"min-frequency", CLI_INT64, &min_freq, "N", "stop when the best pair occurs fewer times"},
        {"hf-dir", CLI_STR, &hf, "DIR", "also write vocab.json, merges.txt, tokenizer_config.json"},
        {"no-specials", CLI_FLAG, &no_specials, NULL, "do not add the default special tokens"},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress lines"},
        {0},
    };
    const cli_spec spec = {"tokenizer train", "train a byte-level BPE tokenizer on a text file", "",
                           opts, 0, 0,
                           "The default special tokens (<|endoftext|> <|im_start|> <|im_end|> <think>\n"
                           "</think> <answer> </answer>) take the last ids and are never split."};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 1 : 0;
    if (!input || !out) return cli_error(spec.command, "--input FILE and --out FILE are required");
    tr_bpe_train_params p = tr_bpe_train_default_params();
    p.vocab_size = vocab;
    p.min_frequency = min_freq;
    p.verbose = !quiet;
    if (no_specials) {
        p.specials = tr_default_specials;
        p.n_specials = 0;
    }
    if (strcmp(pattern, "gpt2") == 0) p.pretok = TR_PRETOK_GPT2;
    else if (strcmp(pattern, "qwen2") == 0) p.pretok = TR_PRETOK_QWEN2;
    else return cli_error(spec.command, "--pattern: expected gpt2 or qwen2");
    if (!quiet) cli_print_resolved(&spec);
    tr_err err;
    size_t len;
    double t0 = tr_now();
    char *text = tr_read_file(input, &len, &err);
    if (!text) return cli_error(spec.command, err.msg);
    double t1 = tr_now();
    tr_tokenizer *tok = NULL;
    tr_bpe_train_stats st;
    rc = tr_tokenizer_train(&tok, text, len, &p, &st, &err);
    double t2 = tr_now();
    free(text);
    if (rc) return cli_error(spec.command, err.msg);
    if (tr_tokenizer_save(tok, out, &err) || (hf && tr_tokenizer_save_hf(tok, hf, &err))) {
        tr_tokenizer_free(tok);
        return cli_error(spec.command, err.msg);
    }
    printf("trained %d tokens (%lld merges) on %.1f MB: %lld words, %lld distinct; read %.2f s, "
           "pre-tokenize %.2f s, merge %.2f s, train total %.2f s\n",
           tr_tokenizer_vocab_size(tok), (long long)st.n_merges, (double)len / 1e6,
           (long long)st.n_words, (long long)st.n_unique_words, t1 - t0, st.seconds_pretokenize,
           st.seconds_merge, t2 - t1);
    tr_tokenizer_free(tok);
    return 0;
}

/* ---- encode ----------------------------------------------------------------------- */
static int cmd_encode(int argc, char **argv) {
    const char *path = NULL;
    int special = 0, bos = 0, eos = 0;
    const cli_opt opts[] = {
        {"tokenizer", CLI_STR, &path, "PATH", "tokenizer file or folder"},
        {"special", CLI_FLAG, &special, NULL, "match special tokens (<|im_end|>, <think>, ...) whole"},
        {"bos", CLI_FLAG, &bos, NULL, "prepend the bos token"},
        {"eos", CLI_FLAG, &eos, NULL, "append the eos token"},
        {0},
    };
    const cli_spec spec = {"tokenizer encode", "encode standard input (verbatim) to token ids", "",
                           opts, 0, 0,
                           "Prints the ids on one line, separated by spaces. PATH: a tinyr1 tokenizer\n"
                           "file, a tokenizer.json, a llama2.c tokenizer.bin, or a folder with\n"
                           "vocab.json + merges.txt (or encoder.json + vocab.bpe)."};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 1 : 0;
    tr_tokenizer *tok = NULL;
    if ((rc = load(spec.command, path, &tok))) return rc;
    size_t len;
    char *text = read_stdin(&len);
    tr_err err;
    tr_ids ids = {0};
    int flags = (special ? TR_ENC_ALLOW_SPECIAL : 0) | (bos ? TR_ENC_BOS : 0) | (eos ? TR_ENC_EOS : 0);
    rc = !text ? tr_fail(&err, "out of memory reading standard input")
               : tr_tokenizer_encode(tok, text, len, flags, &ids, &err);
    if (rc == 0) {
        for (size_t i = 0; i < ids.n; i++) printf(i ? " %d" : "%d", ids.v[i]);
        printf("\n");
    }
    free(text);
    tr_ids_free(&ids);
    tr_tokenizer_free(tok);
    return rc ? cli_error(spec.command, err.msg) : 0;
}

/* ---- decode ----------------------------------------------------------------------- */
static int cmd_decode(int argc, char **argv) {
    const char *path = NULL;
    int skip = 0;
    const cli_opt opts[] = {
        {"tokenizer", CLI_STR, &path, "PATH", "tokenizer file or folder"},
        {"skip-special", CLI_FLAG, &skip, NULL, "leave out special tokens"},
        {0},
    };
    const cli_spec spec = {"tokenizer decode", "decode token ids to text", "[ID...]", opts, 0, 1 << 20,
                           "Ids come from the arguments or, if there are none, from standard input\n"
                           "(separated by spaces, commas or newlines). The text is written as it is."};
    char **pos = malloc((size_t)argc * sizeof *pos + 1);
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, pos, &npos);
    if (rc) {
        free(pos);
        return rc < 0 ? 1 : 0;
    }
    tr_tokenizer *tok = NULL;
    if ((rc = load(spec.command, path, &tok))) {
        free(pos);
        return rc;
    }
    tr_ids ids = {0};
    tr_err err;
    char *input = NULL;
    size_t len = 0;
    if (npos == 0) input = read_stdin(&len);
    for (int a = 0; a < (npos ? npos : 1) && rc == 0; a++) {
        const char *s = npos ? pos[a] : input ? input : "";
        while (*s && rc == 0) {
            while (*s == ' ' || *s == ',' || *s == '\n' || *s == '\t' || *s == '\r') s++;
            if (!*s) break;
            char *end;
            errno = 0;
            long v = strtol(s, &end, 10);
            if (end == s || errno || v < INT32_MIN || v > INT32_MAX) {
                rc = tr_fail(&err, "expected integer ids, got '%.20s'", s);
                break;
            }
            rc = tr_ids_push(&ids, (int32_t)v, &err);
            s = end;
        }
    }
    char *text = NULL;
    if (rc == 0) rc = tr_tokenizer_decode(tok, ids.v, ids.n, skip ? TR_DEC_SKIP_SPECIAL : 0, &text, &len, &err);
    if (rc == 0) fwrite(text, 1, len, stdout);
    free(text);
    free(input);
    free(pos);
    tr_ids_free(&ids);
    tr_tokenizer_free(tok);
    return rc ? cli_error(spec.command, err.msg) : 0;
}

/* ---- info ------------------------------------------------------------------------- */
static void print_token(const tr_tokenizer *tok, int32_t id) {
    size_t n;
    const char *p = tr_tokenizer_piece(tok, id, &n);
    putchar('"');
    for (size_t i = 0; p && i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02X", c);
        else putchar(c);
    }
    putchar('"');
}

static int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    const cli_opt opts[] = {
        {"tokenizer", CLI_STR, &path, "PATH", "tokenizer file or folder"},
        {0},
    };
    const cli_spec spec = {"tokenizer info", "print a tokenizer's vocabulary size, specials, pattern",
                           "", opts, 0, 0, NULL};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 1 : 0;
    double t0 = tr_now();
    tr_tokenizer *tok = NULL;
    if ((rc = load(spec.command, path, &tok))) return rc;
    double t1 = tr_now();
    printf("tokenizer: %s\n", path);
    printf("kind: %s\n", tr_tokenizer_kind_of(tok) == TR_TOK_BYTE_BPE ? "byte-level BPE" : "scored (llama2.c)");
    printf("vocab size: %d\n", tr_tokenizer_vocab_size(tok));
    printf("merges: %d\n", tr_tokenizer_n_merges(tok));
    static const char *const names[] = {"none", "gpt2", "qwen2", "custom"};
    printf("pattern: %s %s\n", names[tr_tokenizer_pretok(tok)], tr_tokenizer_pattern(tok));
    printf("normalizer: %s\n", tr_normalizer_name(tr_tokenizer_normalizer(tok)));
    int32_t ids[2] = {tr_tokenizer_bos(tok), tr_tokenizer_eos(tok)};
    for (int i = 0; i < 2; i++) {
        printf("%s: ", i ? "eos" : "bos");
        if (ids[i] < 0) printf("none");
        else {
            printf("%d ", ids[i]);
            print_token(tok, ids[i]);
        }
        printf("\n");
    }
    printf("adds bos: %s\n", tr_tokenizer_adds_bos(tok) ? "yes" : "no");
    printf("added tokens: %d\n", tr_tokenizer_n_added(tok));
    for (int i = 0; i < tr_tokenizer_n_added(tok); i++) {
        int32_t id = tr_tokenizer_added(tok, i);
        printf("  %d ", id);
        print_token(tok, id);
        printf("%s\n", tr_tokenizer_is_special(tok, id) ? " special" : "");
    }
    printf("load time: %.3f s\n", t1 - t0);
    tr_tokenizer_free(tok);
    return 0;
}

int cmd_tokenizer(int argc, char **argv) {
    static const cli_command commands[] = {
        {"train", "train a byte-level BPE tokenizer", cmd_train},
        {"encode", "text (standard input) -> ids", cmd_encode},
        {"decode", "ids -> text", cmd_decode},
        {"info", "vocabulary size, special tokens, pattern", cmd_info},
        {0},
    };
    return cli_dispatch("tokenizer", commands, argc, argv);
}
