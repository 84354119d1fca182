#!/usr/bin/env bash
# MPI data parallelism: 2 processes give the same losses (to 1e-5) as 1 process with the
# same global batch, for pretrain, SFT, GRPO and distillation (online teacher and top-K
# cache; the cache file itself is the same bytes), the same eval numbers and samples; the
# cost report has the allreduce volume; a rank that dies stops the whole job (no hang).
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

# the cost report of the 2-rank pretraining has the allreduce volume and time per step
check "cost.json: allreduce bytes per step = 4 x params + 64, seconds > 0" \
  "python3 -c \"
import json,sys; c=json.load(open('$tmp/p2/cost.json')); a=c['allreduce']
assert a['ranks']==2 and a['steps']==6 and a['bytes_per_step']==4*c['model']['params']+64 and a['seconds']>0, a
\""

# keys of the lines of two metrics files (of one stage if given) agree to 1e-5 (relative;
# absolute below 1e-7)
same_keys() {
  python3 - "$@" <<'PY'
import json, sys
a, b, keys = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
stage = sys.argv[4] if len(sys.argv) > 4 else None  # only the lines of this stage
la = [json.loads(l) for l in open(a)]
lb = [json.loads(l) for l in open(b)]
if stage:
    la = [x for x in la if x["stage"] == stage]
    lb = [x for x in lb if x["stage"] == stage]
assert len(la) == len(lb) and la, (len(la), len(lb))
n = 0
for x, y in zip(la, lb):
    assert x["stage"] == y["stage"] and x["step"] == y["step"]
    for k in keys:
        if k in x:
            n += 1
            d = abs(x[k] - y[k])
            assert d <= 1e-5 * abs(y[k]) + 1e-7, (x["step"], k, x[k], y[k])
assert n > 0
PY
}

# GRPO: 4 prompts x 4 samples, 2 mini-batches (each rank holds one group of each), batch-
# scaled advantages (gathered rewards), KL to the reference, mu 2; the held-out evaluation
# is sharded too. Losses, KL, rewards and eval numbers of 2 ranks = 1 rank.
grpo=(--init "$tmp/pt" --task add --template none --group 4 --prompts-per-step 4 --max-new 12
      --batch 4 --seq 96 --lr 1e-3 --eval-n 5 --eval-k 2 --quiet
      --reward accuracy:1,tags:0.5,language:0.1 --beta 0.05 --mu 2 --minibatches 2 --adv-scale batch)
OMP_NUM_THREADS=1 "$bin" grpo "${grpo[@]}" --steps 3 --out "$tmp/g1" >> "$tmp/log" 2>&1
mpi 2 "$bin" grpo "${grpo[@]}" --steps 3 --out "$tmp/g2" >> "$tmp/log" 2>&1
check "grpo: 2 ranks = 1 rank (loss, kl, reward, grad norm, eval pass@1)" \
  "same_keys '$tmp/g1/metrics.jsonl' '$tmp/g2/metrics.jsonl' loss,kl,reward,reward_std,accuracy,response_len,zero_var_frac,grad_norm,pass1,format,length"
check "grpo: the same held-out samples" "cmp -s '$tmp/g1/samples.jsonl' '$tmp/g2/samples.jsonl'"
mpi 2 "$bin" grpo "${grpo[@]}" --steps 2 --out "$tmp/g3" >> "$tmp/log" 2>&1
mpi 2 "$bin" grpo "${grpo[@]}" --steps 3 --resume --out "$tmp/g3" >> "$tmp/log" 2>&1
check "grpo: 2 ranks stopped at 2 and resumed = 1 rank straight" \
  "same_keys '$tmp/g1/metrics.jsonl' '$tmp/g3/metrics.jsonl' loss,kl,reward,grad_norm grpo"
check "grpo: prompts not divisible by minibatches x ranks are refused" \
  "! mpi 2 '$bin' grpo --init '$tmp/pt' --task add --template none --prompts-per-step 2 --minibatches 2 --steps 1 --quiet --out '$tmp/gx' > '$tmp/e' 2>&1 && grep -q 'multiple of' '$tmp/e'"

# distillation with an online teacher (each rank scores its rows), then the top-K cache
# built by 2 ranks (teacher batches shared out) = by 1 rank byte for byte, and KD on it
kd=(--student-preset tiny --dim 32 --layers 1 --task add --n 64 --template none --steps 4
    --batch 4 --accum 2 --seq 64 --loss fkl --temp 2 --alpha 0.2 --quiet)
ev=(--eval-n 5 --eval-every 2 --eval-max-new 8)
OMP_NUM_THREADS=1 "$bin" distill --teacher "$tmp/pt" "${kd[@]}" "${ev[@]}" --out "$tmp/k1" >> "$tmp/log" 2>&1
mpi 2 "$bin" distill --teacher "$tmp/pt" "${kd[@]}" "${ev[@]}" --out "$tmp/k2" >> "$tmp/log" 2>&1
check "distill (online teacher): 2 ranks = 1 rank, held-out checks included" \
  "same_keys '$tmp/k1/metrics.jsonl' '$tmp/k2/metrics.jsonl' loss,ce,kd,kl,eval_pass1,eval_well_formed,eval_n"
cache=(--teacher "$tmp/pt" --task add --n 64 --template none --top-k 8 --temp 2 --batch 4)
OMP_NUM_THREADS=1 "$bin" distill cache "${cache[@]}" --out "$tmp/c1.kdc" >> "$tmp/log" 2>&1
mpi 2 "$bin" distill cache "${cache[@]}" --out "$tmp/c2.kdc" >> "$tmp/log" 2>&1
check "distill cache: 2 ranks write the same file as 1" "cmp -s '$tmp/c1.kdc' '$tmp/c2.kdc'"
OMP_NUM_THREADS=1 "$bin" distill --cache "$tmp/c1.kdc" --tokenizer "$tmp/tok.tr1" "${kd[@]}" --eval-n 0 --out "$tmp/k3" >> "$tmp/log" 2>&1
mpi 2 "$bin" distill --cache "$tmp/c2.kdc" --tokenizer "$tmp/tok.tr1" "${kd[@]}" --eval-n 0 --out "$tmp/k4" >> "$tmp/log" 2>&1
check "distill (cache): 2 ranks = 1 rank" "same_keys '$tmp/k3/metrics.jsonl' '$tmp/k4/metrics.jsonl' loss,ce,kd,kl"

# eval: 5 problems over 2 ranks (3 + 2): the same eval.json numbers and samples.jsonl
m=(--model "$2/models/stories260K/stories260K.bin" --tokenizer "$2/models/stories260K/tok512.bin"
   --task add --n 5 --k 3 --max-tokens 24 --slots 4 --quiet --json)
OMP_NUM_THREADS=1 "$bin" eval "${m[@]}" --out "$tmp/e1" > "$tmp/e1.json" 2>> "$tmp/log"
mpi 2 "$bin" eval "${m[@]}" --out "$tmp/e2" > "$tmp/e2.json" 2>> "$tmp/log"
check "eval: 2 ranks give the same eval.json numbers as 1" \
  "python3 -c \"
import json; a=json.load(open('$tmp/e1/eval.json')); b=json.load(open('$tmp/e2/eval.json'))
a.pop('seconds'); b.pop('seconds'); assert a==b and a['n_problems']==5, (a, b)
assert json.load(open('$tmp/e2.json'))['pass@1']==a['pass@1']
\""
check "eval: the same samples.jsonl" "cmp -s '$tmp/e1/samples.jsonl' '$tmp/e2/samples.jsonl'"

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
