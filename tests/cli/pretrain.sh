#!/usr/bin/env bash
# tinyr1 pretrain end to end: help, bad input, a short run, Ctrl-C + --resume giving the
# same loss curve as an uninterrupted run.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

"$bin" pretrain --help > "$tmp/help" 2>&1
check "help exits 0 and lists --steps" "grep -q -- '--steps' '$tmp/help'"
"$bin" pretrain --steps abc > "$tmp/out" 2>&1
check "non-numeric --steps is refused" "[ \$? -ne 0 ] && grep -q 'expects an integer' '$tmp/out'"
"$bin" pretrain --bogus > "$tmp/out" 2>&1
check "unknown option is refused" "[ \$? -ne 0 ] && grep -q 'unknown option' '$tmp/out'"
"$bin" pretrain --data /nonexistent.jsonl --out "$tmp/x" > "$tmp/out" 2>&1
check "missing data file is named" "[ \$? -ne 0 ] && grep -q '/nonexistent.jsonl' '$tmp/out'"
printf '{"text": "ok"}\n{"txt": 1}\n' > "$tmp/bad.jsonl"
"$bin" pretrain --data "$tmp/bad.jsonl" --out "$tmp/x" > "$tmp/out" 2>&1
check "malformed JSONL names file:line" "[ \$? -ne 0 ] && grep -q 'bad.jsonl:2' '$tmp/out'"

common=(--preset tiny --steps 40 --batch 4 --seq 64 --checkpoint-every 5 --seed 3 --quiet)
"$bin" pretrain "${common[@]}" --out "$tmp/straight" > "$tmp/log1" 2>&1
check "straight run succeeds" "[ -f '$tmp/straight/checkpoint.bin' ] && [ \$(wc -l < '$tmp/straight/metrics.jsonl') -eq 40 ]"

# interrupted run: SIGINT after the first checkpoint appears, then --resume
"$bin" pretrain "${common[@]}" --out "$tmp/resumed" > "$tmp/log2" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -f "$tmp/resumed/checkpoint.bin" ] && break; sleep 0.05; done
kill -INT $pid
wait $pid
rc=$?
check "SIGINT exits 130 (or 0 if it had already finished)" "[ $rc -eq 130 ] || [ $rc -eq 0 ]"
check "SIGINT leaves a checkpoint" "[ -f '$tmp/resumed/checkpoint.bin' ]"
"$bin" pretrain "${common[@]}" --out "$tmp/resumed" --resume > "$tmp/log3" 2>&1
check "resume succeeds" "[ \$? -eq 0 ]"
loss() { grep -o '"loss":[^,]*' "$1" | cut -d: -f2; }
check "resumed loss curve equals the straight one" "[ \"\$(loss '$tmp/straight/metrics.jsonl')\" = \"\$(loss '$tmp/resumed/metrics.jsonl')\" ]"
check "the loss went down" "awk -F'\"loss\":' 'NR==1{split(\$2,a,\",\");f=a[1]} END{split(\$2,b,\",\"); exit !(b[1] < f)}' '$tmp/straight/metrics.jsonl'"
# logits in chunks of 37 positions (4 x 64 = 256 rows: six full chunks and one of 34): the
# loss curve of the one-chunk run up to float rounding
"$bin" pretrain "${common[@]}" --logits-chunk 37 --out "$tmp/chunked" > "$tmp/log4" 2>&1
check "chunked run succeeds" "[ \$? -eq 0 ] && [ \$(wc -l < '$tmp/chunked/metrics.jsonl') -eq 40 ]"
check "chunked loss curve equals the one-chunk one to 1e-4" "paste <(loss '$tmp/straight/metrics.jsonl') <(loss '$tmp/chunked/metrics.jsonl') | awk '{d=\$1-\$2; if (d<0) d=-d; if (d > 1e-4*\$1) bad=1} END{exit bad+0}'"
"$bin" pretrain "${common[@]}" --logits-chunk -1 --out "$tmp/neg" > "$tmp/out" 2>&1
check "negative --logits-chunk is refused" "[ \$? -ne 0 ] && grep -q 'logits-chunk' '$tmp/out'"
echo "cli_pretrain: $pass passed, $fail failed"
[ $fail -eq 0 ]
