#!/usr/bin/env bash
# GRPO on addition from a model that already has the format: tokenizer -> pretrain -> SFT
# (chat template, worked <think>/<answer> solutions) -> held-out evaluation -> GRPO with
# accuracy + format rewards -> the same evaluation -> curves (report SVGs).
# The SFT model is the teacher of examples/distill_add.sh (same commands and seeds), a
# dim-128, 4-layer model (0.85M parameters) at about 45% greedy pass@1 on 1-2 digit sums.
# Usage: examples/grpo_add.sh [BUILD_DIR] [WORK_DIR]   (defaults: build, runs/grpo_add)
#        SEED=2 examples/grpo_add.sh ...               (the GRPO seed; default 1)
# A finished stage is skipped when its checkpoint exists (so a WORK_DIR holding
# distill_add.sh's tok.tr1, teacher_base/ and teacher/ starts at the evaluation).
# OMP_NUM_THREADS=1 is faster when the machine is shared. docs/grpo.md has the figures.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$here/build}" && pwd)/tinyr1
mkdir -p "${2:-$here/runs/grpo_add}"; W=$(cd "${2:-$here/runs/grpo_add}" && pwd)
SEED=${SEED:-1}
cd "$W"
# 1-2. data, tokenizer, teacher (pretrain 200 steps + SFT): examples/add_teacher.sh
. "$here/examples/add_teacher.sh"
add_teacher "$B" 400
# 3. held-out evaluation of a model (generator seed 9000; GRPO's prompts use 2000): greedy
#    pass@1 (Wilson interval), pass@1 and pass@8 over 8 samples at T 0.6 / top-p 0.95
#    (bootstrap intervals over problems)
evaluate() {
    "$B" eval --model "$1" "${task[@]}" --n 200 --k 8 --temp 0.6 --task-seed 9000 \
        --max-tokens 96 --out "eval_$2" --json --quiet > "eval_$2.json"
}
[ -f eval_sft.json ] || evaluate teacher sft
# 4. GRPO: accuracy + format rewards, 16 prompts x 8 samples a step at T 0.7, lr 1e-4
#    (3 warmup steps), no KL, 20 steps; in-run held-out pass@1 (100 problems x 4 samples at
#    T 0.6) before the first step, at step 10 and after the last
R=grpo_s$SEED
[ -f "$R/checkpoint.bin" ] || "$B" grpo --init teacher "${task[@]}" --reward accuracy:1,format:0.5 \
    --group 8 --prompts-per-step 16 --max-new 96 --temp 0.7 --beta 0 --lr 1e-4 --warmup 3 \
    --steps 20 --batch 32 --seq 128 --eval-n 100 --eval-k 4 --eval-temp 0.6 --eval-every 10 \
    --seed "$SEED" --checkpoint-every 0 --quiet --out "$R"
evaluate "$R" "$R"
# 5. before/after table, time per step, curves
python3 - "$R" <<'PY'
import json, sys
run = sys.argv[1]
def row(name, f):
    r = json.load(open(f))
    c = lambda k: f"{100*r[k]['value']:.1f}% ({100*r[k]['lo']:.1f}-{100*r[k]['hi']:.1f})"
    print(f"| {name} | {c('greedy')} | {c('pass@1')} | {c('pass@8')} | {r['well_formed']['value']:.3f} |")
print("| model | greedy pass@1 | pass@1 (T 0.6, 8 samples) | pass@8 (T 0.6) | well formed |")
print("|---|---:|---:|---:|---:|")
row("SFT model", "eval_sft.json")
row(f"after 20 GRPO steps ({run})", f"eval_{run}.json")
steps = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
st = [s for s in steps if s["stage"] == "grpo"]
g = sum(s["gen_seconds"] for s in st) / len(st)
t = sum(s["train_seconds"] + s["ref_seconds"] for s in st) / len(st)
print(f"time per GRPO step: generation {g:.2f} s, training {t:.2f} s ({100*g/(g+t):.0f}% generating)")
PY
python3 "$here/examples/grpo_table.py" "$R" 5
"$B" report "$R" > /dev/null
echo "curves: $W/$R/fig-run-reward.svg fig-run-accuracy.svg fig-run-response-len.svg"
