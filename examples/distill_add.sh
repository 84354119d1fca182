#!/usr/bin/env bash
# Distillation on a reasoning task (2-digit addition with worked <think> steps): a teacher
# trained by tinyr1 (tokenizer, pretrain, SFT), then two students of a quarter of its size
# from the same initial weights and for the same steps:
#   seq  sequence-level distillation: the teacher's verified-correct traces (rejection
#        sampling, `distill traces --keep correct`), then `tinyr1 sft` on them (R1-Distill);
#   kd   logit distillation on the same traces: forward KL at T = 2 (`tinyr1 distill`).
# pass@1 (greedy) on 200 held-out problems for the teacher and both students.
# Usage: examples/distill_add.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-$here/build}" && pwd)/tinyr1
mkdir -p "${2:-$here/runs/distill_add}"; out=$(cd "${2:-$here/runs/distill_add}" && pwd)
TSTEPS=${TSTEPS:-400}
SSTEPS=${SSTEPS:-300}
mkdir -p "$out"
cd "$out"
task=(--task add --difficulty 1 --task-seed 1000 --template none)
[ -f add.jsonl ] || "$bin" data gen --task add --difficulty 1 --n 4000 --seed 1000 --out add.jsonl
[ -f corpus.jsonl ] || python3 -c "
import json
with open('corpus.jsonl','w') as f:
    for l in open('add.jsonl'):
        r=json.loads(l); f.write(json.dumps({'text': r['prompt']+' '+r['completion']})+'\n')
with open('corpus.txt','w') as f:
    for l in open('add.jsonl'):
        r=json.loads(l); f.write(r['prompt']+' '+r['completion']+'\n')"
[ -f tok.tr1 ] || "$bin" tokenizer train --input corpus.txt --vocab-size 320 --out tok.tr1 --quiet
# teacher: pretrain on the worked solutions, then SFT (template none: the r1zero header is
# ~400 tokens with this small tokenizer and would not fit in --seq)
[ -f base/checkpoint.bin ] || "$bin" pretrain --preset tiny --tokenizer tok.tr1 --data corpus.jsonl \
    --steps 150 --batch 16 --seq 128 --checkpoint-every 0 --quiet --out base 2> base.log
[ -f teacher/checkpoint.bin ] || "$bin" sft --init base "${task[@]}" --n 4000 --steps "$TSTEPS" \
    --batch 16 --seq 192 --lr 2e-3 --checkpoint-every 0 --quiet --out teacher 2> teacher.log
# students start from the same quarter-size initial weights (a 1-step pretrain writes them)
[ -f student0/checkpoint.bin ] || "$bin" pretrain --preset tiny --dim 32 --layers 4 --heads 4 \
    --kv-heads 2 --hidden 96 --tokenizer tok.tr1 --data corpus.jsonl --steps 1 --lr 1e-9 \
    --checkpoint-every 0 --quiet --out student0 2> student0.log
# sequence-level data: teacher samples on the training problems, only the correct ones kept
[ -f traces.jsonl ] || "$bin" distill traces --teacher teacher "${task[@]}" --n 1000 \
    --n-per-prompt 2 --temp 0.7 --max-new 96 --keep correct --out traces.jsonl 2>&1 | grep kept
S=(--template none --steps "$SSTEPS" --batch 16 --seq 192 --lr 2e-3 --checkpoint-every 0 --quiet --seed 3)
[ -f seq/checkpoint.bin ] || "$bin" sft --init student0 --data traces.jsonl "${S[@]}" --out seq 2> seq.log
[ -f kd/checkpoint.bin ] || "$bin" distill --teacher teacher --student-init student0 --data traces.jsonl \
    --loss fkl --temp 2 "${S[@]}" --out kd 2> kd.log
rm -f results.jsonl
for m in teacher student0 seq kd; do
    "$bin" distill eval --student "$m" --eval-task add --eval-n 200 --eval-first 100000 \
        --task-seed 1000 --difficulty 1 --template none --max-new 96 --data traces.jsonl --seq 192 \
        | sed "s/^{/{\"run\":\"$m\",/" >> results.jsonl
    tail -1 results.jsonl
done
