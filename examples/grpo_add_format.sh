#!/usr/bin/env bash
# GRPO on addition, the whole R1 path at toy scale: tokenizer -> pretrain -> SFT -> GRPO
# (accuracy + format rewards) -> evaluation of the SFT and GRPO models on held-out problems.
# Usage: examples/grpo_add_format.sh [BUILD_DIR] [WORK_DIR]   (defaults: build, runs/grpo_add_format)
# (session 1's experiment: a start model that half the time answers outside the tags)
# Takes about 15-25 minutes on 2 busy cores; docs/grpo.md shows the figures of one run.
set -euo pipefail
B=${1:-build}/tinyr1
W=${2:-runs/grpo_add_format}
mkdir -p "$W"

# 1. a tokenizer and a pretraining corpus from generated problems (both languages)
"$B" data gen --task add,wordprob,countdown --lang both --n 6000 --seed 7 --out "$W/corpus.jsonl"
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
tpl = ("A conversation between User and Assistant. The user asks a question, and the "
       "Assistant solves it. ")
with open(f"{w}/corpus.txt", "w") as f, open(f"{w}/pt.jsonl", "w") as g:
    for line in open(f"{w}/corpus.jsonl"):
        r = json.loads(line)
        t = r["prompt"] + " " + r["completion"]
        f.write(t + "\n")
        g.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    for _ in range(300):
        f.write(tpl + "\n")
PY
"$B" tokenizer train --input "$W/corpus.txt" --vocab-size 512 --out "$W/tok.tr1" --quiet

# 2. pretrain the tiny model (0.23M parameters)
nice "$B" pretrain --preset tiny --tokenizer "$W/tok.tr1" --data "$W/pt.jsonl" --steps 300 \
    --out "$W/pt" --quiet
# 3. SFT on worked additions (chat template: a short prompt keeps the sequences short),
#    then a short SFT on data where half the solutions end in plain text ("So the answer is
#    137.") instead of <answer> 137 </answer>: the verifier cannot read those, so the model
#    starts GRPO with a held-out greedy pass@1 of about 20-25% (it answers in the verifiable
#    format about half the time)
nice "$B" sft --init "$W/pt" --task add --n 3000 --template chat --steps 150 --batch 16 \
    --seq 160 --lr 2e-3 --warmup 10 --out "$W/sft1" --quiet
nice "$B" sft --init "$W/sft1" --task add --difficulty 1 --n 4000 --template chat --steps 200 \
    --batch 16 --seq 128 --lr 2e-3 --warmup 10 --out "$W/sft2" --quiet
"$B" data gen --task add --difficulty 1 --n 3000 --seed 1000 --out "$W/add1.jsonl"
python3 - "$W" <<'PY'
import json, re, sys
w = sys.argv[1]
with open(f"{w}/add_mix.jsonl", "w") as out:
    for i, line in enumerate(open(f"{w}/add1.jsonl")):
        r = json.loads(line)
        c = r["completion"]
        if i % 2 == 1:
            c = re.sub(r" <answer> (.*) </answer>$", r" So the answer is \1.", c)
        out.write(json.dumps({"prompt": r["prompt"], "completion": c}) + "\n")
PY
nice "$B" sft --init "$W/sft2" --data "$W/add_mix.jsonl" --template chat --steps 60 --batch 16 \
    --seq 128 --lr 1e-3 --warmup 5 --out "$W/sft" --quiet
# 4. GRPO with accuracy + format rewards; greedy held-out pass@1 on 128 problems before the
#    first step, every 5 steps and after the last
nice "$B" grpo --init "$W/sft" --task add --difficulty 1 --template chat \
    --reward accuracy:1,format:0.5 --group 8 --prompts-per-step 16 --max-new 96 --temp 1.0 \
    --beta 0 --eps 0.2 --lr 3e-5 --steps 20 --batch 16 --seq 128 --eval-n 128 --eval-k 1 \
    --eval-temp 0 --eval-every 5 --out "$W/grpo"
# 5. the held-out pass@1 before and after, and the curves
python3 "$(dirname "$0")/grpo_table.py" "$W/grpo"
"$B" report "$W/grpo"
# 6. a more precise measurement of the start and the end: 512 held-out problems, greedy
#    and at R1's evaluation temperature (0.6, top-p 0.95, 4 samples)
for m in sft grpo; do
    for T in 0 0.6; do
        "$B" grpo --init "$W/$m" --task add --difficulty 1 --template chat --steps 0 \
            --eval-n 512 --eval-k 4 --eval-temp "$T" --max-new 96 --seq 128 --out "$W/eval_${m}_$T"
    done
done
