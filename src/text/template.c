/* Chat templates: (prompt, completion) -> token ids + completion-only loss mask. */
#include <stdlib.h>
#include <string.h>

#include "text/tok_internal.h"

static const char r1zero_head[] =
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>. User: ";
static const char r1zero_tail[] = ". Assistant:";

int tr_template_from_name(const char *name) {
    if (strcmp(name, "r1zero") == 0 || strcmp(name, "r1-zero") == 0) return TR_TEMPLATE_R1ZERO;
    if (strcmp(name, "chat") == 0) return TR_TEMPLATE_CHAT;
    if (strcmp(name, "none") == 0) return TR_TEMPLATE_NONE;
    return -1;
}

const char *tr_template_name(tr_template_kind kind) {
    switch (kind) {
    case TR_TEMPLATE_NONE: return "none";
    case TR_TEMPLATE_R1ZERO: return "r1zero";
    case TR_TEMPLATE_CHAT: return "chat";
    }
    return "?";
}

/* One piece of a rendered template. */
typedef struct piece {
    const char *text;
    int plain;   /* encode without matching added tokens (user-provided text) */
    int trained; /* mask 1 */
} piece;

/* Fills parts[] for kind; returns the count. */
static int layout(tr_template_kind kind, const char *system, const char *prompt,
                  const char *completion, piece *parts) {
    int n = 0;
    switch (kind) {
    case TR_TEMPLATE_R1ZERO:
        parts[n++] = (piece){r1zero_head, 0, 0};
        parts[n++] = (piece){prompt, 1, 0};
        parts[n++] = (piece){r1zero_tail, 0, 0};
        break;
    case TR_TEMPLATE_CHAT:
        if (system) {
            parts[n++] = (piece){"<|im_start|>system\n", 0, 0};
            parts[n++] = (piece){system, 1, 0};
            parts[n++] = (piece){"<|im_end|>\n", 0, 0};
        }
        parts[n++] = (piece){"<|im_start|>user\n", 0, 0};
        parts[n++] = (piece){prompt, 1, 0};
        parts[n++] = (piece){"<|im_end|>\n<|im_start|>assistant\n", 0, 0};
        break;
    case TR_TEMPLATE_NONE:
        parts[n++] = (piece){prompt, 1, 0};
        break;
    }
    if (completion) parts[n++] = (piece){completion, 0, 1};
    return n;
}

static int push_mask(tr_template_out *out, size_t from, uint8_t value, tr_err *err) {
    uint8_t *m = realloc(out->mask, out->ids.cap ? out->ids.cap : 1);
    if (!m) return tr_fail(err, "template: out of memory");
    out->mask = m;
    for (size_t i = from; i < out->ids.n; i++) m[i] = value;
    return 0;
}

int tr_template_encode(const tr_tokenizer *tok, tr_template_kind kind, const char *system,
                       const char *prompt, const char *completion, tr_template_out *out,
                       tr_err *err) {
    tr_template_out_free(out);
    if (kind != TR_TEMPLATE_NONE && kind != TR_TEMPLATE_R1ZERO && kind != TR_TEMPLATE_CHAT)
        return tr_fail(err, "template: unknown kind %d", (int)kind);
    if (!prompt) return tr_fail(err, "template: no prompt");
    int32_t end = tok->eos;
    if (kind == TR_TEMPLATE_CHAT) {
        static const char *const need[2] = {"<|im_start|>", "<|im_end|>"};
        for (int i = 0; i < 2; i++) {
            int32_t id = tr_tokenizer_token_id(tok, need[i]);
            if (id < 0 || !(tok->attr[id] & TOK_ADDED))
                return tr_fail(err, "template chat: the tokenizer has no added token %s", need[i]);
            end = id;
        }
    }
    if (completion && end < 0)
        return tr_fail(err, "template %s: the tokenizer has no end-of-sequence token",
                       tr_template_name(kind));
    piece parts[8];
    int n = layout(kind, system, prompt, completion, parts);
    int first = 1;
    if (tr_tokenizer_adds_bos(tok)) {
        if (tr_ids_push(&out->ids, tok->bos, err) || push_mask(out, 0, 0, err)) goto fail;
    }
    for (int i = 0; i < n; i++) {
        size_t from = out->ids.n;
        int flags = (parts[i].plain ? 0 : TR_ENC_ALLOW_SPECIAL) | (first ? 0 : TR_ENC_NO_PREFIX);
        if (tr_tokenizer_encode(tok, parts[i].text, strlen(parts[i].text), flags, &out->ids, err) ||
            push_mask(out, from, (uint8_t)parts[i].trained, err))
            goto fail;
        if (!parts[i].trained) out->n_prompt = out->ids.n;
        if (parts[i].text[0]) first = 0;
    }
    if (completion) {
        size_t from = out->ids.n;
        if (tr_ids_push(&out->ids, end, err) || push_mask(out, from, 1, err)) goto fail;
    }
    return 0;
fail:
    tr_fail_context(err, "template %s", tr_template_name(kind));
    tr_template_out_free(out);
    return -1;
}

void tr_template_out_free(tr_template_out *out) {
    if (!out) return;
    tr_ids_free(&out->ids);
    free(out->mask);
    out->mask = NULL;
    out->n_prompt = 0;
}

char *tr_template_render(tr_template_kind kind, const char *system, const char *prompt,
                         const char *completion, tr_err *err) {
    if (kind != TR_TEMPLATE_NONE && kind != TR_TEMPLATE_R1ZERO && kind != TR_TEMPLATE_CHAT) {
        tr_fail(err, "template: unknown kind %d", (int)kind);
        return NULL;
    }
    if (!prompt) {
        tr_fail(err, "template: no prompt");
        return NULL;
    }
    piece parts[8];
    int n = layout(kind, system, prompt, completion, parts);
    size_t total = 1;
    for (int i = 0; i < n; i++) total += strlen(parts[i].text);
    char *s = malloc(total);
    if (!s) {
        tr_fail(err, "template: out of memory");
        return NULL;
    }
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(parts[i].text);
        memcpy(s + at, parts[i].text, k);
        at += k;
    }
    s[at] = '\0';
    return s;
}
