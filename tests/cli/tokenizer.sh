#!/usr/bin/env bash
# End-to-end: tinyr1 tokenizer encode|decode|train|info against the shared tokenizer files.
# usage: bash tokenizer.sh TINYR1_BINARY SHARED_DATA_DIR
set -euo pipefail
BIN=$1
DATA=$2
GPT2=$DATA/tokenizers/gpt2
QWEN2=$DATA/tokenizers/qwen2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# encode reads standard input verbatim: no newline -> no 198 ("\n" is id 198 in encoder.json)
got=$(printf 'Hello world' | "$BIN" tokenizer encode --tokenizer "$GPT2")
[ "$got" = "15496 995" ] || fail "gpt2 'Hello world' -> '$got'"
got=$(printf 'Hello world\n' | "$BIN" tokenizer encode --tokenizer "$GPT2")
[ "$got" = "15496 995 198" ] || fail "gpt2 'Hello world\\n' -> '$got'"
# the same through the file name of the vocabulary
got=$(printf 'Hello world' | "$BIN" tokenizer encode --tokenizer "$GPT2/encoder.json")
[ "$got" = "15496 995" ] || fail "gpt2 via encoder.json -> '$got'"

# decode is the inverse, byte for byte (a trailing newline and UTF-8 included)
printf 'caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87!\n\n' > "$TMP/in.txt"
"$BIN" tokenizer encode --tokenizer "$QWEN2" < "$TMP/in.txt" > "$TMP/ids.txt"
"$BIN" tokenizer decode --tokenizer "$QWEN2" < "$TMP/ids.txt" > "$TMP/out.txt"
cmp "$TMP/in.txt" "$TMP/out.txt" || fail "qwen2 round trip"
# special tokens only with --special (151644 = <|im_start|> in tokenizer_config.json)
got=$(printf '<|im_start|>' | "$BIN" tokenizer encode --tokenizer "$QWEN2" --special)
[ "$got" = "151644" ] || fail "qwen2 --special -> '$got'"
got=$(printf '<|im_start|>' | "$BIN" tokenizer encode --tokenizer "$QWEN2")
[ "$got" != "151644" ] || fail "qwen2 without --special matched the special token"

# llama2.c tok512.bin: --bos adds id 1, and decode after BOS drops the dummy-prefix space
got=$(printf 'Once upon a time' | "$BIN" tokenizer encode --tokenizer "$DATA/models/stories260K/tok512.bin" --bos)
[ "${got%% *}" = "1" ] || fail "tok512 --bos -> '$got'"
back=$("$BIN" tokenizer decode --tokenizer "$DATA/models/stories260K/tok512.bin" --skip-special $got)
[ "$back" = "Once upon a time" ] || fail "tok512 decode -> '$back'"

# train, then info and a special token that must stay whole
head -c 300000 "$DATA/gsm8k/train.jsonl" > "$TMP/corpus.txt"
"$BIN" tokenizer train --input "$TMP/corpus.txt" --vocab-size 600 --out "$TMP/tok.tr1" --quiet > "$TMP/train.log"
grep -q "trained 600 tokens" "$TMP/train.log" || fail "train: $(cat "$TMP/train.log")"
"$BIN" tokenizer info --tokenizer "$TMP/tok.tr1" > "$TMP/info.txt"
grep -q "vocab size: 600" "$TMP/info.txt" || fail "info: vocab size"
grep -q '"<think>" special' "$TMP/info.txt" || fail "info: <think>"
think=$(grep '"<think>"' "$TMP/info.txt" | awk '{print $1}')
got=$(printf '<think>' | "$BIN" tokenizer encode --tokenizer "$TMP/tok.tr1" --special)
[ "$got" = "$think" ] || fail "trained <think> -> '$got', info says $think"
"$BIN" tokenizer encode --tokenizer "$TMP/tok.tr1" < "$TMP/corpus.txt" > "$TMP/ids.txt"
"$BIN" tokenizer decode --tokenizer "$TMP/tok.tr1" < "$TMP/ids.txt" > "$TMP/back.txt"
cmp "$TMP/corpus.txt" "$TMP/back.txt" || fail "trained round trip"

# errors name the file and exit non-zero
if "$BIN" tokenizer info --tokenizer "$TMP/nope" 2> "$TMP/err.txt"; then fail "missing file accepted"; fi
grep -q "nope" "$TMP/err.txt" || fail "error message: $(cat "$TMP/err.txt")"
echo "cli tokenizer: ok"
