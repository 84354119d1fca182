#!/usr/bin/env bash
# tinyr1 generate end to end on llama2.c's stories260K: greedy output equals run.c's text
# byte for byte (expected_stdout_t0_n200.txt holds the text; run.c prints one more newline
# after it, and so does tinyr1), a seed reproduces a sample, --stop stops, -n and --n agree,
# and a .bin without --tokenizer is refused with a message.
set -euo pipefail
BIN="$1"
DATA="$2/models/stories260K"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
M=(--model "$DATA/stories260K.bin" --tokenizer "$DATA/tok512.bin")

"$BIN" generate "${M[@]}" --temp 0 -n 200 > "$TMP/out.txt" 2> "$TMP/err.txt"
{ cat "$DATA/expected_stdout_t0_n200.txt"; printf '\n'; } > "$TMP/want.txt"
cmp "$TMP/out.txt" "$TMP/want.txt" || fail "greedy stories260K text differs from run.c's"
grep -q "200 tokens" "$TMP/err.txt" || fail "statistics line missing: $(cat "$TMP/err.txt")"

"$BIN" generate "${M[@]}" --temp 0 --n 200 --quiet > "$TMP/out2.txt"
cmp "$TMP/out.txt" "$TMP/out2.txt" || fail "--n 200 and -n 200 differ"

a=$("$BIN" generate "${M[@]}" --prompt "Lily and Tom" -n 40 --seed 7 --quiet)
b=$("$BIN" generate "${M[@]}" --prompt "Lily and Tom" -n 40 --seed 7 --quiet --threads 1)
c=$("$BIN" generate "${M[@]}" --prompt "Lily and Tom" -n 40 --seed 8 --quiet)
[ "$a" = "$b" ] || fail "the same seed gave different samples"
[ "$a" != "$c" ] || fail "different seeds gave the same sample"
[[ "$a" == "Lily and Tom"* ]] || fail "the prompt is not echoed: $a"

s=$("$BIN" generate "${M[@]}" --prompt "Lily and Tom" -n 100 --seed 7 --stop "." --quiet)
[[ "$s" == *. ]] || fail "--stop . did not end the text at a period: $s"
[ "$(grep -o '\.' <<<"$s" | wc -l)" -eq 1 ] || fail "--stop . let more than one period through: $s"

if "$BIN" generate --model "$DATA/stories260K.bin" -n 5 2> "$TMP/err.txt"; then
    fail "a llama2.c model without --tokenizer was accepted"
fi
grep -qi "tokenizer" "$TMP/err.txt" || fail "no message about the tokenizer: $(cat "$TMP/err.txt")"
if "$BIN" generate "${M[@]}" --top-p 0 -n 5 2> "$TMP/err.txt"; then fail "top-p 0 accepted"; fi
grep -q "top-p" "$TMP/err.txt" || fail "no message about top-p"
# --weights: auto keeps an F32 model's exact output; bf16 decodes the rounded weights
"$BIN" generate "${M[@]}" --temp 0 -n 200 --weights f32 --quiet > "$TMP/f32.txt"
"$BIN" generate "${M[@]}" --temp 0 -n 200 --weights bf16 --quiet > "$TMP/bf16.txt"
cmp -s "$TMP/f32.txt" "$TMP/out.txt" || fail "--weights f32 changed the greedy text"
[ -s "$TMP/bf16.txt" ] || fail "--weights bf16 wrote nothing"
if "$BIN" generate "${M[@]}" --weights f16 -n 5 2> "$TMP/err.txt"; then fail "--weights f16 accepted"; fi
grep -q "weights" "$TMP/err.txt" || fail "no message about --weights"
# --kv bf16: a BF16 cache decodes the whole length (the text may differ from F32's late in
# a long greedy run, so only its start is held to run.c's text); a bad type is refused
"$BIN" generate "${M[@]}" --temp 0 -n 200 --kv bf16 > "$TMP/kv.txt" 2> "$TMP/err.txt"
grep -q "200 tokens" "$TMP/err.txt" || fail "--kv bf16 did not decode 200 tokens: $(cat "$TMP/err.txt")"
cmp -s <(head -c 40 "$TMP/kv.txt") <(head -c 40 "$TMP/want.txt") || fail "--kv bf16: the text starts differently"
if "$BIN" generate "${M[@]}" --kv f16 -n 5 2> "$TMP/err.txt"; then fail "--kv f16 accepted"; fi
grep -q -- "--kv: expected f32 or bf16" "$TMP/err.txt" || fail "no message about --kv: $(cat "$TMP/err.txt")"
echo "generate: ok"
