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
# 3. held-out evaluation (add_eval in examples/add_teacher.sh: 200 problems of seed 9000,
#    greedy and 8 samples at T 0.6 / top-p 0.95)
add_eval "$B" teacher sft
# 4. GRPO: accuracy + format rewards, 16 prompts x 8 samples a step at T 0.7, lr 1e-4
#    (3 warmup steps), no KL, 20 steps; in-run held-out pass@1 (100 problems x 4 samples at
#    T 0.6) before the first step, at step 10 and after the last
R=grpo_s$SEED
add_grpo "$B" teacher "$R" --temp 0.7 --beta 0 --lr 1e-4 --eval-n 100 --eval-k 4 \
    --eval-temp 0.6 --eval-every 10 --seed "$SEED"
add_eval "$B" "$R" "$R"
# 5. before/after table, time per step, curves
python3 "$here/examples/eval_table.py" "SFT model=eval_sft.json" \
    "after 20 GRPO steps ($R)=eval_$R.json"
python3 "$here/examples/grpo_table.py" "$R" 5
"$B" report "$R" > /dev/null
echo "curves: $W/$R/fig-run-reward.svg fig-run-accuracy.svg fig-run-response-len.svg"
