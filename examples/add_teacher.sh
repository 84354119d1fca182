# Sourced by examples/grpo_add.sh and examples/distill_add.sh: the addition data, tokenizer and
# teacher they share, built in the current folder (a stage is skipped when its output exists).
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
