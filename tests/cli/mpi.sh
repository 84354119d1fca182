#!/usr/bin/env bash
# MPI data parallelism: 2 processes give the same losses (to 1e-5) as 1 process with the
# same global batch, for pretrain and SFT; a rank that dies stops the whole job (no hang).
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
# yield_when_idle: a rank waiting in a collective sleeps instead of spinning, so two ranks on
# a loaded machine do not starve each other
export OMPI_MCA_mpi_yield_when_idle=1
mpi() { OMP_NUM_THREADS=1 timeout 600 mpirun --allow-run-as-root --oversubscribe -np "$@"; }
# relative difference of the loss columns of two metrics files, at most 1e-5
same_losses() {
  paste <(grep -o '"loss":[^,]*' "$1" | cut -d: -f2) <(grep -o '"loss":[^,]*' "$2" | cut -d: -f2) |
    awk 'BEGIN{n=0; bad=0} {n++; d=$1-$2; if (d<0) d=-d; s=$2<0?-$2:$2; if (d > 1e-5*s + 1e-7) bad=1} END{exit !(n>0 && !bad)}'
}

common=(--preset tiny --steps 6 --batch 4 --seq 64 --accum 2 --quiet)
OMP_NUM_THREADS=1 "$bin" pretrain "${common[@]}" --out "$tmp/p1" > "$tmp/log" 2>&1
mpi 2 "$bin" pretrain "${common[@]}" --out "$tmp/p2" >> "$tmp/log" 2>&1
check "pretrain: 2 ranks = 1 rank" "same_losses '$tmp/p1/metrics.jsonl' '$tmp/p2/metrics.jsonl'"
check "only rank 0 writes metrics (6 lines)" "[ \$(wc -l < '$tmp/p2/metrics.jsonl') -eq 6 ]"

# resume under MPI continues the same curve
mpi 2 "$bin" pretrain --preset tiny --steps 3 --batch 4 --seq 64 --accum 2 --quiet --out "$tmp/p3" >> "$tmp/log" 2>&1
mpi 2 "$bin" pretrain "${common[@]}" --out "$tmp/p3" --resume >> "$tmp/log" 2>&1
# (the 20 warmup steps make the learning rate of steps 1-6 independent of --steps)
check "pretrain: 2 ranks stopped at 3 and resumed = 1 rank straight" \
  "[ \$(wc -l < '$tmp/p3/metrics.jsonl') -eq 6 ] && same_losses '$tmp/p1/metrics.jsonl' '$tmp/p3/metrics.jsonl'"

# SFT on generated tasks needs a tokenizer: train a small one on the logs
"$bin" tokenizer train --input "$tmp/log" --vocab-size 300 --out "$tmp/tok.tr1" --quiet >> "$tmp/log" 2>&1
OMP_NUM_THREADS=1 "$bin" pretrain --preset tiny --tokenizer "$tmp/tok.tr1" --steps 2 --batch 4 --seq 64 --quiet --out "$tmp/pt" >> "$tmp/log" 2>&1
sft=(--init "$tmp/pt" --task add --n 64 --steps 4 --batch 4 --seq 160 --template none --quiet)
OMP_NUM_THREADS=1 "$bin" sft "${sft[@]}" --out "$tmp/s1" >> "$tmp/log" 2>&1
mpi 2 "$bin" sft "${sft[@]}" --out "$tmp/s2" >> "$tmp/log" 2>&1
check "sft: 2 ranks = 1 rank" "same_losses '$tmp/s1/metrics.jsonl' '$tmp/s2/metrics.jsonl'"
check "a batch not divisible by the ranks is refused" \
  "! mpi 2 '$bin' pretrain --preset tiny --steps 1 --batch 3 --seq 32 --quiet --out '$tmp/x' > '$tmp/e' 2>&1 && grep -q 'multiple of' '$tmp/e'"

# a rank that dies stops the job: kill rank 1 in the middle of a long run
start=$(date +%s)
OMP_NUM_THREADS=1 timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2 "$bin" pretrain --preset tiny --steps 100000 --batch 4 --seq 64 --quiet --out "$tmp/die" > "$tmp/die.log" 2>&1 &
job=$!
sleep 3
victim=$(pgrep -f "tinyr1 pretrain --preset tiny --steps 100000" | tail -n 1)
[ -n "$victim" ] && kill -9 "$victim"
wait $job
rc=$?
elapsed=$(( $(date +%s) - start ))
check "the job exits non-zero when a rank dies" "[ $rc -ne 0 ]"
check "and does not hang (exited in ${elapsed}s)" "[ $elapsed -lt 120 ]"
echo "cli_mpi: $pass passed, $fail failed"
[ $fail -eq 0 ] || { cat "$tmp/log" | tail -20; cat "$tmp/die.log" | tail -5; }
[ $fail -eq 0 ]
