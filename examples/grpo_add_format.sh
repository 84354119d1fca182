#!/usr/bin/env bash
# GRPO learns the verifiable format (R1-Zero's format reward) on addition: issue #5's goal.
# Start: the addition model of examples/add_teacher.sh (dim 128, 4 layers, 0.85M parameters,
# pretrain + 1000 SFT steps; greedy pass@1 about 88%), given a habit of ending some answers in
# plain text ("... </think> So the answer is 137.") that the verifier cannot read, by 60 SFT
# steps on its own SFT problems with those endings: greedy pass@1 falls to about 35% (the
# habit also costs some arithmetic: the last number it writes is right for about 70%).
# GRPO with accuracy + format rewards then moves it back to the tagged <answer> format.
# Held-out evaluation before and after (200 problems, greedy and 8 samples at T 0.6), the
# table, time per step and the curves (tinyr1 report).
# Usage: examples/grpo_add_format.sh [BUILD_DIR] [WORK_DIR]  (defaults: build, runs/grpo_add_format)
#        SEED=2 examples/grpo_add_format.sh ...            (the GRPO seed; default 1)
#        SFT_STEPS=400 examples/grpo_add_format.sh ...     (SFT steps of the addition model; default 1000)
# A finished stage is skipped when its output exists (a WORK_DIR holding a teacher/ of
# examples/grpo_add.sh or distill_add.sh, 400 SFT steps, starts at step 3 with that model).
# OMP_NUM_THREADS=1 is faster on a shared machine. docs/grpo.md has the figures.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$here/build}" && pwd)/tinyr1
mkdir -p "${2:-$here/runs/grpo_add_format}"; W=$(cd "${2:-$here/runs/grpo_add_format}" && pwd)
SEED=${SEED:-1}
cd "$W"
t0=$(date +%s)
# 1-2. data, tokenizer, the addition model (pretrain 200 steps + SFT_STEPS): examples/add_teacher.sh
. "$here/examples/add_teacher.sh"
add_teacher "$B" "${SFT_STEPS:-1000}"
# 3. the plain-text habit: the teacher's own SFT problems (seed 1000), where 9 in 10 of the
#    solutions whose ones column carries and 2 in 10 of the others end in plain text; 60 SFT
#    steps. Greedy decoding then answers in plain text when the ones column carries (about
#    half the problems), sampling about half the time; both leave room to explore the tags.
if [ ! -f plain.jsonl ]; then
    "$B" data gen "${task[@]:0:4}" --n 4000 --seed 1000 --out sft_problems.jsonl
    python3 - <<'PY'
import json, re
with open("plain.jsonl", "w") as out:
    for i, line in enumerate(open("sft_problems.jsonl")):
        r = json.loads(line)
        c = r["completion"]
        carry = c.split("\n")[1].endswith("carry 1.")     # the "ones: ..." line
        if i % 10 < (9 if carry else 2):
            c = re.sub(r" <answer> (.*) </answer>$", r" So the answer is \1.", c)
        out.write(json.dumps({"prompt": r["prompt"], "completion": c}) + "\n")
PY
fi
[ -f start/checkpoint.bin ] || "$B" sft --init teacher --data plain.jsonl --template chat \
    --steps 60 --batch 16 --seq 128 --lr 1e-3 --warmup 5 --checkpoint-every 0 --quiet \
    --out start 2> start.log
add_eval "$B" start start
# 4. GRPO: accuracy + format rewards, 16 prompts x 8 samples a step at T 0.7, lr 5e-5 (3 warmup
#    steps), k3 KL to the start model with beta 0.1, 20 steps; in-run greedy pass@1 on 100
#    held-out problems every 5 steps
R=grpo_s$SEED
add_grpo "$B" start "$R" --temp 0.7 --beta 0.1 --lr 5e-5 --eval-n 100 --eval-k 1 \
    --eval-temp 0 --eval-every 5 --seed "$SEED"
add_eval "$B" "$R" "$R"
# 5. before/after table (the arithmetic told from the format; the addition model for
#    reference), per-step table, time per step, curves
add_eval "$B" teacher teacher
python3 "$here/examples/eval_table.py" "start: plain-text habit=eval_start.json" \
    "after 20 GRPO steps ($R)=eval_$R.json" "the addition model before the habit=eval_teacher.json"
python3 "$here/examples/grpo_table.py" "$R" 5
"$B" report "$R" > /dev/null
echo "curves: $W/$R/fig-run-reward.svg fig-run-accuracy.svg fig-run-response-len.svg"
echo "wall time of this script: $(( $(date +%s) - t0 )) s"
