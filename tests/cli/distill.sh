#!/usr/bin/env bash
# tinyr1 distill end to end with the real stories260K teacher: bad input (missing teacher,
# mismatched tokenizers, corrupt or mismatched cache, on-policy with a cache), a short run of
# each mode (online KD, cache, on-policy, traces, eval), the cache at K = V giving the online
# loss, and exact resume of an on-policy run.
set -u
bin=$1
data=$2
M=$data/models/stories260K
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
T=(--teacher "$M/stories260K.bin" --teacher-tokenizer "$M/tok512.bin")
S=(--student-preset tiny --dim 16 --layers 1 --heads 2 --kv-heads 1 --hidden 32)
D=(--template none --end-token bos --batch 2 --seq 32 --quiet --checkpoint-every 0)

"$bin" distill --help > "$tmp/help" 2>&1
check "help lists --lambda and the subcommands" "grep -q -- '--lambda' '$tmp/help' && grep -q 'cache|traces|eval' '$tmp/help'"
for s in cache traces eval; do
    "$bin" distill $s --help > "$tmp/help" 2>&1
    check "distill $s --help" "[ \$? -eq 0 ] && grep -q -- '--out\|--student' '$tmp/help'"
done

# teacher samples for the runs below
"$bin" distill traces --teacher "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --prompt "" \
    --template none --n 6 --n-per-prompt 1 --keep all --max-new 40 --out "$tmp/s.jsonl" > "$tmp/out" 2>&1
check "traces without a task (unconditional stories)" "[ \$? -eq 0 ] && [ \$(wc -l < '$tmp/s.jsonl') -eq 6 ] && grep -q '\"completion\"' '$tmp/s.jsonl'"

# bad input
"$bin" distill --teacher /nonexistent/model.bin "${S[@]}" --data "$tmp/s.jsonl" --out "$tmp/x" > "$tmp/out" 2>&1
check "missing teacher is named" "[ \$? -ne 0 ] && grep -q '/nonexistent/model.bin' '$tmp/out'"
"$bin" distill --teacher "$M/stories260K.bin" "${S[@]}" --data "$tmp/s.jsonl" --out "$tmp/x" > "$tmp/out" 2>&1
check "a llama2.c teacher without its tokenizer is refused" "[ \$? -ne 0 ] && grep -q 'tokenizer' '$tmp/out'"
"$bin" distill "${T[@]}" "${S[@]}" --tokenizer "$data/tokenizers/gpt2/encoder.json" --data "$tmp/s.jsonl" "${D[@]}" --out "$tmp/x" > "$tmp/out" 2>&1
check "different tokenizers: refused, pointing to sequence-level distillation" "[ \$? -ne 0 ] && grep -q 'tokenizers differ' '$tmp/out' && grep -q 'distill traces' '$tmp/out'"
"$bin" distill "${T[@]}" "${S[@]}" --data "$tmp/s.jsonl" --loss nope "${D[@]}" --out "$tmp/x" > "$tmp/out" 2>&1
check "unknown divergence" "[ \$? -ne 0 ] && grep -q 'fkl' '$tmp/out'"
"$bin" distill "${S[@]}" --data "$tmp/s.jsonl" "${D[@]}" --out "$tmp/x" > "$tmp/out" 2>&1
check "no teacher and no cache" "[ \$? -ne 0 ] && grep -q -- '--cache' '$tmp/out'"

# online KD, short run
"$bin" distill "${T[@]}" "${S[@]}" --data "$tmp/s.jsonl" "${D[@]}" --steps 4 --loss jsd --beta 0.3 --alpha 0.2 --out "$tmp/online" > "$tmp/out" 2>&1
check "online KD run" "[ \$? -eq 0 ] && [ -f '$tmp/online/checkpoint.bin' ] && [ \$(wc -l < '$tmp/online/metrics.jsonl') -eq 4 ] && grep -q '\"kl\":' '$tmp/online/metrics.jsonl'"

# the cache: K = V (exact, f32) gives the online loss
"$bin" distill cache --teacher "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$tmp/s.jsonl" --template none --end-token bos --top-k 512 --dtype f32 --temp 2 --out "$tmp/full.kdc" > "$tmp/cache.json" 2> "$tmp/out"
check "cache K=V written, size per token reported" "[ \$? -eq 0 ] && grep -q 'bytes per trained token' '$tmp/out' && grep -q '\"bytes_per_token\"' '$tmp/cache.json'"
"$bin" distill "${T[@]}" "${S[@]}" --data "$tmp/s.jsonl" "${D[@]}" --steps 2 --temp 2 --out "$tmp/on2" > /dev/null 2>&1
"$bin" distill --cache "$tmp/full.kdc" "${S[@]}" --tokenizer "$M/tok512.bin" "${D[@]}" --steps 2 --temp 2 --out "$tmp/c2" > "$tmp/out" 2>&1
check "training from the cache (no --data: the cache's own sequences)" "[ \$? -eq 0 ] && [ \$(wc -l < '$tmp/c2/metrics.jsonl') -eq 2 ]"
loss() { grep -o '"loss":[^,]*' "$1" | cut -d: -f2; }
check "cache with K = V: the same losses as the online teacher" "python3 -c \"
import sys; a=[float(x) for x in '''\$(loss $tmp/on2/metrics.jsonl)'''.split()]; b=[float(x) for x in '''\$(loss $tmp/c2/metrics.jsonl)'''.split()]
sys.exit(not (len(a)==2 and all(abs(x-y) <= 1e-5*abs(x) for x,y in zip(a,b))))\""
"$bin" distill cache --teacher "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$tmp/s.jsonl" --template none --end-token bos --top-k 8 --temp 2 --out "$tmp/k8.kdc" > "$tmp/k8.json" 2>&1
check "K=8 f16 cache: at most 6K+4 bytes per token" "python3 -c \"
import json,sys; r=[json.loads(l) for l in open('$tmp/k8.json') if l.startswith('{')][0]; sys.exit(not (r['bytes_per_token'] <= 6*8+4+8))\""
"$bin" distill --cache "$tmp/k8.kdc" "${S[@]}" --tokenizer "$M/tok512.bin" --data "$tmp/s.jsonl" "${D[@]}" --steps 3 --temp 2 --out "$tmp/c8" > "$tmp/out" 2>&1
check "top-8 cache run with --data (sequence hash checked)" "[ \$? -eq 0 ] && [ \$(wc -l < '$tmp/c8/metrics.jsonl') -eq 3 ]"
"$bin" distill --cache "$tmp/k8.kdc" "${S[@]}" --tokenizer "$M/tok512.bin" --data "$tmp/s.jsonl" "${D[@]}" --steps 3 --temp 1 --out "$tmp/x" > "$tmp/out" 2>&1
check "cache at another temperature is refused" "[ \$? -ne 0 ] && grep -q 'temperature 2' '$tmp/out'"
head -3 "$tmp/s.jsonl" > "$tmp/s3.jsonl"
"$bin" distill --cache "$tmp/k8.kdc" "${S[@]}" --tokenizer "$M/tok512.bin" --data "$tmp/s3.jsonl" "${D[@]}" --steps 3 --temp 2 --out "$tmp/x" > "$tmp/out" 2>&1
check "data that is not the cache's is refused" "[ \$? -ne 0 ] && grep -q 'not the ones the cache' '$tmp/out'"
"$bin" distill --cache "$tmp/k8.kdc" "${S[@]}" --tokenizer "$M/tok512.bin" "${D[@]}" --steps 3 --temp 2 --lambda 0.5 --out "$tmp/x" > "$tmp/out" 2>&1
check "on-policy with a cache is refused" "[ \$? -ne 0 ] && grep -q 'online --teacher' '$tmp/out'"
cp "$tmp/k8.kdc" "$tmp/bad.kdc"
size=$(stat -c %s "$tmp/bad.kdc")
printf '\x55' | dd of="$tmp/bad.kdc" bs=1 seek=$((size - 5)) conv=notrunc status=none
"$bin" distill --cache "$tmp/bad.kdc" "${S[@]}" --tokenizer "$M/tok512.bin" "${D[@]}" --steps 3 --temp 2 --out "$tmp/x" > "$tmp/out" 2>&1
check "corrupt cache: checksum refused" "[ \$? -ne 0 ] && grep -q 'checksum' '$tmp/out'"
head -c 1000 "$tmp/k8.kdc" > "$tmp/short.kdc"
"$bin" distill --cache "$tmp/short.kdc" "${S[@]}" --tokenizer "$M/tok512.bin" "${D[@]}" --steps 3 --temp 2 --out "$tmp/x" > "$tmp/out" 2>&1
check "truncated cache refused" "[ \$? -ne 0 ] && grep -q 'truncated' '$tmp/out'"
echo "not a cache" > "$tmp/junk.kdc"
"$bin" distill --cache "$tmp/junk.kdc" "${S[@]}" --tokenizer "$M/tok512.bin" "${D[@]}" --steps 3 --temp 2 --out "$tmp/x" > "$tmp/out" 2>&1
check "a file that is not a cache is refused" "[ \$? -ne 0 ] && grep -q 'too short\|not a tinyr1 KD cache' '$tmp/out'"

# on-policy: exact resume (coins and samples come from the run's RNG in the checkpoint)
P=(--loss rkl --lambda 0.5 --schedule constant --seed 5)
"$bin" distill "${T[@]}" "${S[@]}" --data "$tmp/s.jsonl" "${D[@]}" "${P[@]}" --steps 6 --out "$tmp/op" > "$tmp/out" 2>&1
check "on-policy run" "[ \$? -eq 0 ] && grep -q 'were sampled from the student' '$tmp/out' && [ \$(wc -l < '$tmp/op/metrics.jsonl') -eq 6 ]"
"$bin" distill "${T[@]}" "${S[@]}" --data "$tmp/s.jsonl" "${D[@]}" "${P[@]}" --steps 3 --out "$tmp/op2" > /dev/null 2>&1
"$bin" distill "${T[@]}" "${S[@]}" --data "$tmp/s.jsonl" "${D[@]}" "${P[@]}" --steps 6 --resume --out "$tmp/op2" > "$tmp/out" 2>&1
check "resumed on-policy run: the same loss curve" "[ \"\$(loss '$tmp/op/metrics.jsonl')\" = \"\$(loss '$tmp/op2/metrics.jsonl')\" ]"

# eval and traces with a task
"$bin" distill eval --student "$tmp/online" --teacher "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$tmp/s.jsonl" --template none --end-token bos --seq 32 > "$tmp/ev.json" 2> "$tmp/out"
check "eval: NLL and KL(teacher||student)" "[ \$? -eq 0 ] && grep -q '\"kl_teacher_student\"' '$tmp/ev.json' && grep -q '\"nll\"' '$tmp/ev.json'"
"$bin" distill traces --teacher "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --task add --n 2 --n-per-prompt 2 --max-new 8 --keep correct --out "$tmp/t.jsonl" > "$tmp/out" 2>&1
check "rejection sampling that keeps nothing says so" "[ \$? -ne 0 ] && grep -q 'no trace was kept' '$tmp/out'"
"$bin" distill traces --teacher "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --task add --n 2 --n-per-prompt 2 --max-new 8 --keep all --out "$tmp/t.jsonl" > "$tmp/out" 2>&1
check "traces --keep all: prompt/completion rows with the task's answer" "[ \$? -eq 0 ] && [ \$(wc -l < '$tmp/t.jsonl') -eq 4 ] && grep -q '\"answer\"' '$tmp/t.jsonl'"
"$bin" distill traces --teacher "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --task nosuch --out "$tmp/t.jsonl" > "$tmp/out" 2>&1
check "unknown task" "[ \$? -ne 0 ] && grep -q 'unknown task' '$tmp/out'"
echo "cli_distill: $pass passed, $fail failed"
[ $fail -eq 0 ]
