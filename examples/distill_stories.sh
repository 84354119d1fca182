#!/usr/bin/env bash
# Distillation of a real model: stories260K (llama2.c, 260K parameters) into a student of a
# quarter of its size, three ways, for the same steps and tokens:
#   (i)   CE only on teacher-generated stories (sequence-level distillation),
#   (ii)  forward-KL soft targets at T = 1 and at T = 2 on the same stories (logit KD),
#   (iii) on-policy: the student's own samples scored token by token by the teacher, reverse KL.
# Then held-out NLL on fresh teacher samples and KL(teacher || student) for each.
# Usage: examples/distill_stories.sh [BUILD_DIR] [OUT_DIR]   (a few minutes on 2 cores)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-$here/build}" && pwd)/tinyr1
out=${2:-$here/runs/distill_stories}
M=$here/../shared/data/models/stories260K
STEPS=${STEPS:-150}
N_TRAIN=${N_TRAIN:-400}
mkdir -p "$out"
tok=(--tokenizer "$M/tok512.bin")
common=(--teacher "$M/stories260K.bin" --teacher-tokenizer "$M/tok512.bin"
        --student-preset tiny --dim 32 --layers 4 --heads 4 --kv-heads 2 --hidden 96
        --template none --end-token bos --steps "$STEPS" --batch 8 --seq 128 --lr 3e-3
        --warmup 10 --seed 7 --checkpoint-every 0 --quiet)

# teacher samples: training stories and held-out stories (other seeds)
[ -f "$out/train.jsonl" ] || "$bin" distill traces --teacher "$M/stories260K.bin" "${tok[@]}" \
    --prompt "" --template none --n "$N_TRAIN" --n-per-prompt 1 --keep all --temp 1 \
    --max-new 300 --seed 1 --out "$out/train.jsonl" 2>&1 | grep kept
[ -f "$out/heldout.jsonl" ] || "$bin" distill traces --teacher "$M/stories260K.bin" "${tok[@]}" \
    --prompt "" --template none --n 64 --n-per-prompt 1 --keep all --temp 1 \
    --max-new 300 --seed 900001 --out "$out/heldout.jsonl" 2>&1 | grep kept

run() { # name, extra flags
    local name=$1; shift
    local t0=$(date +%s)
    "$bin" distill "${common[@]}" --data "$out/train.jsonl" --out "$out/$name" "$@" 2> "$out/$name.log"
    local t1=$(date +%s)
    "$bin" distill eval --student "$out/$name" --teacher "$M/stories260K.bin" "${tok[@]}" \
        --data "$out/heldout.jsonl" --template none --end-token bos --seq 128 \
        | sed "s/^{/{\"run\":\"$name\",\"train_seconds\":$((t1 - t0)),/" >> "$out/results.jsonl"
    tail -1 "$out/results.jsonl"
}
rm -f "$out/results.jsonl"
run ce       --loss fkl --alpha 1
run fkl_t1   --loss fkl --temp 1
run fkl_t2   --loss fkl --temp 2
run onpolicy_rkl --loss rkl --lambda 1 --sample-temp 1
python3 "$here/examples/distill_plot.py" "$out" || true
