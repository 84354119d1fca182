#!/usr/bin/env bash
# tinyr1 eval end to end (with llama2.c's stories260K, which cannot do arithmetic: the point
# is the pipeline, not the scores): the JSON summary has every figure with an interval in
# [0, 1], samples.jsonl has one line per sample with the verifier's verdict, the samples do
# not depend on the batch (--slots) or the thread count, a real set is read from the shared
# data, and bad input fails with a message.
set -euo pipefail
BIN="$1"
DATA="$2"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
M=(--model "$DATA/models/stories260K/stories260K.bin" --tokenizer "$DATA/models/stories260K/tok512.bin")

"$BIN" eval "${M[@]}" --task add --n 4 --k 3 --max-tokens 24 --slots 5 --threads 2 --json \
    --out "$TMP/a" --quiet > "$TMP/a.json"
"$BIN" eval "${M[@]}" --task add --n 4 --k 3 --max-tokens 24 --slots 1 --threads 1 \
    --out "$TMP/b" --quiet > "$TMP/b.txt"
cmp "$TMP/a/samples.jsonl" "$TMP/b/samples.jsonl" || fail "samples depend on --slots/--threads"
# contexts are sized to what a run needs, not to the model's declared context: the same
# model exported as a Hugging Face folder that declares 131,072 positions (as Qwen2 models
# do; a full cache for 12 slots would be 2 GB here, 90 GB for a 1.5B model) stays small
"$BIN" export --model "$DATA/models/stories260K/stories260K.bin" --to "$TMP/hf" --quiet
python3 - "$TMP/hf/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["max_position_embeddings"] = 131072
json.dump(c, open(sys.argv[1], "w"))
PY
H=(--model "$TMP/hf" --tokenizer "$DATA/models/stories260K/tok512.bin")
# (an address-space limit, not the resident size: the cache is not zeroed, so untouched
# pages would not show; the old sizing asked for 2 GB here. timeout: under too low a limit
# OpenBLAS's start-up retries its buffer allocation forever)
if ! (ulimit -v 600000; timeout 120 "$BIN" eval "${H[@]}" --task add --n 4 --k 3 --max-tokens 24 \
        --slots 16 --out "$TMP/hfe" --quiet > /dev/null 2> "$TMP/hfe.err"); then
    fail "eval on a model declaring 131072 positions failed in 600 MB of address space: $(cat "$TMP/hfe.err")"
fi
# a BF16 KV cache (--kv bf16) keeps the samples independent of the batch too
for sl in 5 1; do
    "$BIN" eval "${M[@]}" --task add --n 4 --k 3 --max-tokens 24 --slots $sl --kv bf16 \
        --out "$TMP/kv$sl" --quiet > /dev/null
done
cmp "$TMP/kv5/samples.jsonl" "$TMP/kv1/samples.jsonl" || fail "--kv bf16 samples depend on --slots"
# ... and it is in effect: rounded keys and values change some samples of this model
! cmp -s "$TMP/kv1/samples.jsonl" "$TMP/b/samples.jsonl" || fail "--kv bf16 gave the F32 cache's samples"
grep -q "pass@1" "$TMP/b.txt" || fail "no table without --json"
python3 - "$TMP/a.json" "$TMP/a/samples.jsonl" "$TMP/a/eval.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {**json.load(open(sys.argv[3])), "seconds": d["seconds"]}, "eval.json differs"
assert d["task"] == "add" and d["n_problems"] == 4 and d["k"] == 3, d
assert d["temperature"] == 0.6 and abs(d["top_p"] - 0.95) < 1e-6, d
for key in ["greedy", "pass@1", "pass@3", "maj@3", "well_formed"]:
    c = d[key]
    assert 0 <= c["lo"] <= c["value"] <= c["hi"] <= 1, (key, c)
assert d["mean_length"]["value"] <= 24
assert set(d["pass_at"]) == {"1", "2", "3"}
rows = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == 4 * (1 + 3), len(rows)
assert sum(r["kind"] == "greedy" for r in rows) == 4
for r in rows:
    assert r["gold"] and r["prompt"] and r["tokens"] <= 24
    assert r["correct"] in (True, False) and r["well_formed"] in (True, False)
    assert r["stop"] in ("max_tokens", "stop_token", "stop_string", "context")
seeds = {r["seed"] for r in rows if r["kind"] == "sample"}
assert len(seeds) == 12, "sample seeds are not distinct"
PY

# a real set from the shared data folder
"$BIN" eval "${M[@]}" --task gsm8k --data "$DATA/gsm8k/test.jsonl" --n 2 --k 1 --no-greedy \
    --max-tokens 8 --json --out "$TMP/g" --quiet > "$TMP/g.json"
python3 - "$TMP/g.json" "$TMP/g/samples.jsonl" "$DATA/gsm8k/test.jsonl" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["n_problems"] == 2 and d["greedy"] is None, d
rows = [json.loads(l) for l in open(sys.argv[2])]
gold = [json.loads(l)["answer"].split("####")[-1].strip() for l in open(sys.argv[3])][:2]
assert [r["gold"] for r in rows] == gold, ([r["gold"] for r in rows], gold)
PY

# a prompt longer than the model's 512 positions (the second row) is refused, naming it,
# before anything is generated (no sample line written)
python3 - "$TMP/long.jsonl" <<'PY'
import json, sys
rows = [{"question": "What is 2+2?", "answer": "2+2=4\n#### 4"},
        {"question": "How many eggs are in all of these baskets? " * 40, "answer": "x\n#### 4"}]
open(sys.argv[1], "w").write("".join(json.dumps(r) + "\n" for r in rows))
PY
if "$BIN" eval "${M[@]}" --task gsm8k --data "$TMP/long.jsonl" --k 1 --max-tokens 8 \
        --out "$TMP/long" --quiet 2> "$TMP/err"; then fail "an over-long prompt was accepted"; fi
grep -q "problem 1: prompt of [0-9]* tokens leaves no room in the model's context of 512" "$TMP/err" ||
    fail "no message naming the over-long prompt: $(cat "$TMP/err")"
[ ! -s "$TMP/long/samples.jsonl" ] || fail "samples were generated before the over-long prompt was refused"
if "$BIN" eval "${M[@]}" --task nosuchtask 2> "$TMP/err"; then fail "unknown task accepted"; fi
grep -q "unknown --task" "$TMP/err" || fail "no message for an unknown task"
if "$BIN" eval --task add 2> "$TMP/err"; then fail "missing --model accepted"; fi
grep -q "model" "$TMP/err" || fail "no message for a missing model"
echo "eval: ok"
