/* tinyr1 — text: byte-level BPE tokenizers (train, encode, decode, file formats) and chat
 * templates with completion-only loss masks.
 *
 * Two kinds of tokenizer share one opaque handle:
 *
 *   TR_TOK_BYTE_BPE  GPT-2 / Qwen2 style. Text is split at added tokens (<|im_start|>, <think>,
 *                    ...), each remaining segment is pre-tokenized by a regex (PCRE2, UTF-8 +
 *                    UCP: the GPT-2 or the Qwen2 pattern, or the one a tokenizer.json names), and
 *                    each pre-token's bytes start as one symbol per byte and are merged pair by
 *                    pair, lowest merge rank first (a min-heap over a linked list of symbols,
 *                    ties broken leftmost). Every byte has a token, so any input encodes.
 *                    Bytes that are not valid UTF-8 are pre-tokens of their own (one byte each).
 *   TR_TOK_SCORED    llama2.c tokenizer.bin (SentencePiece BPE exported by llama2.c): no regex;
 *                    a dummy-prefix " " token, one symbol per UTF-8 character (byte fallback to
 *                    <0xNN> tokens when the character is not in the vocabulary), then merges of
 *                    the adjacent pair whose concatenation is the vocabulary piece with the
 *                    highest score (ties leftmost), exactly as run.c's encode() does.
 *
 * Normalizer: a byte-level tokenizer may normalise text before the steps above, as its files
 * declare (tokenizer.json "normalizer": {"type": "NFC"}; tokenizer_config.json
 * "tokenizer_class": "Qwen2Tokenizer"). tinyr1 implements Unicode NFC (through utf8proc) and
 * refuses any other normalizer at load time. With NFC, each plain-text segment between added
 * tokens is normalised (valid UTF-8 runs; invalid bytes are kept as they are), then
 * pre-tokenized; the added tokens themselves are matched on the text as given.
 *
 * Token ids are int32_t in [0, vocab_size). Pieces are stored as raw bytes (the GPT-2
 * byte-to-unicode alphabet of vocab.json is undone at load time and redone at save time).
 *
 * Files (tr_tokenizer_load detects the format from the path; docs/tokenizer.md has details):
 *   - tinyr1's own format (magic "TR1TOKEN", version 1), written by tr_tokenizer_save;
 *   - Hugging Face vocab.json + merges.txt (also named encoder.json + vocab.bpe), with an
 *     optional tokenizer_config.json next to them (added/special tokens, bos/eos);
 *   - Hugging Face tokenizer.json (model.vocab, model.merges as "a b" strings or [a, b]
 *     pairs, added_tokens, the pre_tokenizer's Split regex or ByteLevel use_regex, the
 *     normalizer: null, NFC, or a Sequence of those);
 *   - llama2.c tokenizer.bin (int32 max_token_length, then per token: float32 score,
 *     int32 length, bytes; the vocabulary size is the number of records in the file).
 * Every loader checks every count, length and id and reports "FILE: field: what was expected".
 *
 * Thread safety: a loaded tokenizer is read-only; encode/decode on one tokenizer may run
 * from many threads at once. tr_tokenizer_add_special modifies it (not concurrently).
 */
#ifndef TINYR1_TEXT_H
#define TINYR1_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "tinyr1/base.h"

typedef struct tr_tokenizer tr_tokenizer;

typedef enum { TR_TOK_BYTE_BPE = 0, TR_TOK_SCORED = 1 } tr_tokenizer_kind;

/* Pre-tokenizer regex of a byte-level BPE tokenizer. */
typedef enum {
    TR_PRETOK_NONE = 0,   /* no regex (llama2.c tokenizers) */
    TR_PRETOK_GPT2 = 1,   /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    TR_PRETOK_QWEN2 = 2,  /* (?i:'s|'t|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|... */
    TR_PRETOK_CUSTOM = 3, /* any other regex given by a tokenizer.json */
} tr_pretok;

/* The regex source of a known pattern ("" for NONE, NULL for CUSTOM). */
const char *tr_pretok_pattern(tr_pretok p);

/* Text normalization applied before pre-tokenization (byte-level BPE only). */
typedef enum {
    TR_NORM_NONE = 0, /* the text as given */
    TR_NORM_NFC = 1,  /* Unicode Normalization Form C (Qwen2: tokenizer.json {"type": "NFC"}) */
} tr_normalizer;

/* "none" or "NFC". */
const char *tr_normalizer_name(tr_normalizer n);

/* Unicode NFC (canonical decomposition, canonical ordering, canonical composition; UAX #15)
 * of text[0..len): each maximal run of valid UTF-8 is normalised, bytes that are not valid
 * UTF-8 are copied as they are (they separate runs). *out receives a malloc'd, NUL-terminated
 * string (*out_len bytes without the NUL; the caller frees it). The Unicode version is
 * utf8proc's (15.0 with Debian 12's libutf8proc 2.8). Characters below U+0300 (bytes below
 * 0xCC) are always NFC and never compose with what precedes them: the text is cut before
 * them and only the stretches between that hold a code point >= U+0300 are looked up. */
int tr_text_nfc(const char *text, size_t len, char **out, size_t *out_len, tr_err *err);

/* ---- growable id buffer ------------------------------------------------------------ */
typedef struct tr_ids {
    int32_t *v;
    size_t n, cap;
} tr_ids;
int tr_ids_push(tr_ids *ids, int32_t id, tr_err *err);
void tr_ids_free(tr_ids *ids); /* frees v and zeroes the struct */

/* ---- loading and saving ------------------------------------------------------------ */
typedef enum {
    TR_TOKFMT_AUTO = 0,     /* sniff the content (tr_tokenizer_load_files only) */
    TR_TOKFMT_TINYR1 = 1,   /* "TR1TOKEN" binary */
    TR_TOKFMT_HF_JSON = 2,  /* tokenizer.json */
    TR_TOKFMT_HF_VOCAB = 3, /* vocab.json + merges.txt (+ tokenizer_config.json) */
    TR_TOKFMT_LLAMA2C = 4,  /* llama2.c tokenizer.bin */
} tr_tokenizer_format;

/* Loads a tokenizer from PATH: a file in any format above (a vocab.json/encoder.json finds
 * merges.txt/vocab.bpe and tokenizer_config.json in its folder), or a folder holding one of
 * (checked in this order) tokenizer.tr1, tokenizer.json, vocab.json + merges.txt,
 * encoder.json + vocab.bpe, tokenizer.bin. On success *tok is a new tokenizer (free it with
 * tr_tokenizer_free); on failure *tok is NULL and err names the file and field. */
int tr_tokenizer_load(tr_tokenizer **tok, const char *path, tr_err *err);

/* The same from memory (what fuzzers and tests use). `data` is the main file (tinyr1,
 * tokenizer.json, llama2.c .bin, or vocab.json); `merges` is merges.txt for HF_VOCAB;
 * `config` is an optional tokenizer_config.json (HF_VOCAB and HF_JSON). The *_name strings
 * only label error messages (NULL: "tokenizer", "merges.txt", "tokenizer_config.json"). */
typedef struct tr_tokenizer_files {
    tr_tokenizer_format format;
    const char *data;
    size_t len;
    const char *merges;
    size_t merges_len;
    const char *config;
    size_t config_len;
    const char *name, *merges_name, *config_name;
} tr_tokenizer_files;
int tr_tokenizer_load_files(tr_tokenizer **tok, const tr_tokenizer_files *files, tr_err *err);

/* Writes tinyr1's own format (atomically). Every tokenizer kind round-trips through it. */
int tr_tokenizer_save(const tr_tokenizer *tok, const char *path, tr_err *err);
/* Serialises tinyr1's format to a malloc'd buffer (*len bytes); the caller frees it. */
int tr_tokenizer_serialize(const tr_tokenizer *tok, char **data, size_t *len, tr_err *err);
/* Writes DIR/vocab.json, DIR/merges.txt and DIR/tokenizer_config.json (byte-level BPE only),
 * loadable by Hugging Face's GPT2Tokenizer/Qwen2Tokenizer and by tr_tokenizer_load. */
int tr_tokenizer_save_hf(const tr_tokenizer *tok, const char *dir, tr_err *err);

void tr_tokenizer_free(tr_tokenizer *tok);

/* ---- training ---------------------------------------------------------------------- */
/* Byte-level BPE training, GPT-2 style: the corpus is split at the special tokens (which are
 * never learned), pre-tokenized by the regex into words with counts, and the most frequent
 * adjacent pair (count = sum over words of occurrences x word count; ties: smaller left id,
 * then smaller right id) is merged repeatedly. Pair counts live in a hash table with a lazy
 * max-heap and per-pair lists of the words containing them, updated incrementally after each
 * merge (only the words that contain the merged pair are touched).
 * Vocabulary layout: ids 0..255 are the single bytes (id = byte value), then one id per merge
 * in merge order, then the special tokens. vocab_size counts all of them. */
typedef struct tr_bpe_train_params {
    int vocab_size;              /* total, >= 256 + n_specials */
    const char *const *specials; /* NULL: tr_default_specials */
    int n_specials;
    tr_pretok pretok;            /* GPT2 (default) or QWEN2 */
    int64_t min_frequency;       /* stop when the best pair occurs fewer times (default 2) */
    int verbose;                 /* progress lines on stderr */
} tr_bpe_train_params;
tr_bpe_train_params tr_bpe_train_default_params(void);

/* The special tokens a tinyr1-trained tokenizer has (in this order, ids at the end):
 * <|endoftext|> <|im_start|> <|im_end|> <think> </think> <answer> </answer>. eos = <|endoftext|>. */
extern const char *const tr_default_specials[];
extern const int tr_n_default_specials;

typedef struct tr_bpe_train_stats {
    int64_t n_words, n_unique_words, n_merges;
    double seconds_pretokenize, seconds_merge;
} tr_bpe_train_stats;

/* Trains on text[0..len) (UTF-8; invalid bytes are kept as single-byte words). stats may be NULL. */
int tr_tokenizer_train(tr_tokenizer **tok, const char *text, size_t len,
                       const tr_bpe_train_params *params, tr_bpe_train_stats *stats, tr_err *err);

/* ---- encoding ---------------------------------------------------------------------- */
enum {
    TR_ENC_ALLOW_SPECIAL = 1, /* match added/special tokens whole; otherwise they are plain text */
    TR_ENC_BOS = 2,           /* prepend bos (error if the tokenizer has none) */
    TR_ENC_EOS = 4,           /* append eos (error if none) */
    TR_ENC_NO_PREFIX = 8,     /* scored kind: skip SentencePiece's dummy " " prefix */
};
/* Appends the ids of text[0..len) to *ids (initialise it to {0}). Returns 0 or -1. */
int tr_tokenizer_encode(const tr_tokenizer *tok, const char *text, size_t len, int flags,
                        tr_ids *ids, tr_err *err);

/* ---- decoding ---------------------------------------------------------------------- */
enum {
    TR_DEC_SKIP_SPECIAL = 1, /* drop tokens marked special (bos, eos, <|im_end|>, ...) */
};
/* The bytes decode emits for token `id` following token `prev` (-1: none), as run.c's
 * decode() does: <0xNN> byte tokens give their byte, and in the scored kind a piece after
 * the bos token loses its leading space. Pointer into the tokenizer; NULL if id is out of
 * range. *len receives the byte count (pieces may contain NUL bytes). */
const char *tr_tokenizer_token_bytes(const tr_tokenizer *tok, int32_t prev, int32_t id,
                                     size_t *len);
/* The vocabulary entry as stored: raw bytes for byte-level BPE, the piece text ("<0x0A>",
 * " the") for the scored kind. NULL if out of range. */
const char *tr_tokenizer_piece(const tr_tokenizer *tok, int32_t id, size_t *len);

/* Decodes ids[0..n) into a malloc'd, NUL-terminated string (*len bytes without the NUL; the
 * caller frees it). Fails on an id out of range. Byte sequences are emitted as they are, so
 * decode(encode(s)) == s for every string s (with TR_ENC_BOS for the scored kind, whose
 * dummy prefix is removed after bos). */
int tr_tokenizer_decode(const tr_tokenizer *tok, const int32_t *ids, size_t n, int flags,
                        char **text, size_t *len, tr_err *err);

/* Streaming decoder: feeds one token at a time and returns only complete UTF-8 characters,
 * holding back the 1-3 bytes of a character split across tokens until it completes. Bytes
 * that can never complete a valid character are released as they are. */
typedef struct tr_decoder {
    const tr_tokenizer *tok;
    int flags;
    int32_t prev;
    unsigned char pending[4];
    int n_pending;
    char *buf; /* output buffer, owned */
    size_t cap;
} tr_decoder;
int tr_decoder_init(tr_decoder *dec, const tr_tokenizer *tok, int flags, tr_err *err);
/* Pushes token id; *out points to the bytes ready now (*len of them, possibly 0), valid
 * until the next call. */
int tr_decoder_push(tr_decoder *dec, int32_t id, const char **out, size_t *len, tr_err *err);
/* Releases any held-back bytes (an incomplete character at the end of the stream). */
void tr_decoder_flush(tr_decoder *dec, const char **out, size_t *len);
void tr_decoder_free(tr_decoder *dec);

/* ---- vocabulary queries ------------------------------------------------------------ */
tr_tokenizer_kind tr_tokenizer_kind_of(const tr_tokenizer *tok);
int32_t tr_tokenizer_vocab_size(const tr_tokenizer *tok);
/* Id of the token whose bytes are exactly `text` (a special such as "<think>", or any
 * ordinary token such as " the"); -1 if absent. */
int32_t tr_tokenizer_token_id(const tr_tokenizer *tok, const char *text);
int32_t tr_tokenizer_bos(const tr_tokenizer *tok); /* -1 if none */
int32_t tr_tokenizer_eos(const tr_tokenizer *tok); /* -1 if none */
/* Whether encoding normally starts with bos (llama2.c: yes; tokenizer_config add_bos_token). */
int tr_tokenizer_adds_bos(const tr_tokenizer *tok);
/* Added tokens (matched whole when encoding with TR_ENC_ALLOW_SPECIAL), in id order. */
int tr_tokenizer_n_added(const tr_tokenizer *tok);
int32_t tr_tokenizer_added(const tr_tokenizer *tok, int i);
/* 1 if id is a special (control) token: skipped by TR_DEC_SKIP_SPECIAL. */
int tr_tokenizer_is_special(const tr_tokenizer *tok, int32_t id);
int32_t tr_tokenizer_n_merges(const tr_tokenizer *tok);
tr_pretok tr_tokenizer_pretok(const tr_tokenizer *tok);
tr_normalizer tr_tokenizer_normalizer(const tr_tokenizer *tok);
/* Sets the normalizer (NFC needs the byte-level kind). Encoding applies it from then on;
 * tr_tokenizer_save keeps it. */
int tr_tokenizer_set_normalizer(tr_tokenizer *tok, tr_normalizer n, tr_err *err);
const char *tr_tokenizer_pattern(const tr_tokenizer *tok); /* regex source, "" if none */
/* Makes `text` an added special token: marks the existing token with those bytes, or appends
 * a new id (vocab_size grows by one). *id receives its id (may be NULL). */
int tr_tokenizer_add_special(tr_tokenizer *tok, const char *text, int32_t *id, tr_err *err);

/* ---- chat templates ---------------------------------------------------------------- */
/* A template turns (prompt, optional completion) into token ids and a per-token loss mask:
 *
 *   TR_TEMPLATE_R1ZERO  "A conversation between User and Assistant. ... User: {prompt}.
 *                       Assistant:" then the completion, then eos (<|endoftext|>).
 *   TR_TEMPLATE_CHAT    ["<|im_start|>system\n{system}<|im_end|>\n"]
 *                       "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
 *                       then the completion, then <|im_end|>.
 *   TR_TEMPLATE_NONE    the prompt as it is, then the completion, then eos.
 *
 * The template's fixed text and the completion are encoded with added tokens matched
 * (so "<think>" in a completion is the <think> token when the tokenizer has it); the prompt
 * and system text are encoded as plain text (a prompt cannot inject control tokens). Pieces
 * are encoded separately and concatenated, so the prompt's ids are exactly what generation
 * is fed. If the tokenizer adds bos (llama2.c), bos comes first.
 * mask[i] = 1 for the completion tokens and the end token (completion-only loss), 0 for the
 * rest. Without a completion, the ids are the generation prompt and no end token is added. */
typedef enum { TR_TEMPLATE_NONE = 0, TR_TEMPLATE_R1ZERO = 1, TR_TEMPLATE_CHAT = 2 } tr_template_kind;

/* Parses "r1zero", "chat", "none"; -1 if unknown. */
int tr_template_from_name(const char *name);
const char *tr_template_name(tr_template_kind kind);

typedef struct tr_template_out {
    tr_ids ids;
    uint8_t *mask;   /* [ids.n] */
    size_t n_prompt; /* ids[0..n_prompt) are the prompt (mask 0) */
} tr_template_out;

/* Fills *out (initialise to {0}; free with tr_template_out_free). system may be NULL
 * (CHAT only), completion may be NULL. */
int tr_template_encode(const tr_tokenizer *tok, tr_template_kind kind, const char *system,
                       const char *prompt, const char *completion, tr_template_out *out,
                       tr_err *err);
void tr_template_out_free(tr_template_out *out);

/* The template's text for (prompt, completion) as one malloc'd string, without the end
 * token (what a human or the reward functions see). */
char *tr_template_render(tr_template_kind kind, const char *system, const char *prompt,
                         const char *completion, tr_err *err);

#endif
