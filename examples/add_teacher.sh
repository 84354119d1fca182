# shellcheck shell=bash
# Sourced by examples/grpo_add.sh, grpo_add_format.sh and distill_add.sh: the addition data,
# tokenizer and teacher they share, built in the current folder (a stage is skipped when its
# output exists), and the held-out evaluation of the GRPO scripts.
#   add_teacher BIN SFT_STEPS
# Leaves add.jsonl, corpus.jsonl/.txt, tok.tr1, teacher_base/ (dim 128, 4 layers, 0.85M
# parameters, pretrained 200 steps) and teacher/ (SFT, chat template, SFT_STEPS steps), and sets
# task=(--task add --difficulty 1 --template chat).
add_teacher() {
    local bin=$1 sft_steps=$2
    task=(--task add --difficulty 1 --template chat)
    # tokenizer and pretraining text: worked additions (prompt + solution, no template)
    [ -f add.jsonl ] || "$bin" data gen --task add --difficulty 1 --n 4000 --seed 7 --out add.jsonl
    [ -f corpus.jsonl ] || python3 -c "
import json
with open('corpus.jsonl','w') as f, open('corpus.txt','w') as g:
    for l in open('add.jsonl'):
        r=json.loads(l); t=r['prompt']+' '+r['completion']
        f.write(json.dumps({'text': t})+'\n'); g.write(t+'\n')"
    [ -f tok.tr1 ] || "$bin" tokenizer train --input corpus.txt --vocab-size 512 --out tok.tr1 --quiet
    [ -f teacher_base/checkpoint.bin ] || "$bin" pretrain --preset tiny --dim 128 --layers 4 \
        --heads 4 --kv-heads 2 --hidden 384 --tokenizer tok.tr1 --data corpus.jsonl --steps 200 \
        --checkpoint-every 0 --quiet --out teacher_base 2> teacher_base.log
    [ -f teacher/checkpoint.bin ] || "$bin" sft --init teacher_base "${task[@]}" --n 4000 \
        --steps "$sft_steps" --batch 16 --seq 128 --lr 2e-3 --checkpoint-every 0 --quiet \
        --out teacher 2> teacher.log
}

# add_eval BIN MODEL NAME: held-out evaluation of MODEL on 200 problems of generator seed 9000
# (SFT's problems use 1000, GRPO's prompts 2000): greedy pass@1 (Wilson interval), pass@1 and
# pass@8 over 8 samples at T 0.6 / top-p 0.95 (bootstrap intervals over problems). Writes
# eval_NAME/ (samples) and eval_NAME.json; skipped when eval_NAME.json exists.
# examples/eval_table.py prints such files as a table.
add_eval() {
    [ -f "eval_$3.json" ] && return
    "$1" eval --model "$2" "${task[@]}" --n 200 --k 8 --temp 0.6 --task-seed 9000 \
        --max-tokens 96 --out "eval_$3" --json --quiet > "eval_$3.json.tmp"
    mv "eval_$3.json.tmp" "eval_$3.json"
}

# add_grpo BIN INIT OUT [GRPO OPTIONS]: the GRPO run of the addition scripts, skipped when
# OUT/checkpoint.bin exists: accuracy + format rewards, 16 prompts x 8 samples a step (training
# prompts of seed 2000), 96 new tokens at most, 3 warmup steps, 20 steps; the options given
# (temperature, learning rate, beta, evaluation, seed) complete it.
add_grpo() {
    local bin=$1 init=$2 out=$3
    shift 3
    [ -f "$out/checkpoint.bin" ] || "$bin" grpo --init "$init" "${task[@]}" \
        --reward accuracy:1,format:0.5 --group 8 --prompts-per-step 16 --max-new 96 \
        --warmup 3 --steps 20 --batch 32 --seq 128 --checkpoint-every 0 --quiet "$@" --out "$out"
}
