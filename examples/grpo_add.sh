#!/usr/bin/env bash
# GRPO on addition, the whole R1 path at toy scale: tokenizer -> pretrain -> SFT -> GRPO
# (accuracy + format rewards) -> evaluation of the SFT and GRPO models on held-out problems.
# Usage: examples/grpo_add.sh [BUILD_DIR] [WORK_DIR]    (defaults: build, runs/grpo_add)
# Takes about 15-25 minutes on 2 busy cores; docs/grpo.md shows the figures of one run.
set -euo pipefail
B=${1:-build}/tinyr1
W=${2:-runs/grpo_add}
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
# 3. SFT on worked additions (chat template: a short prompt keeps the sequences short)
nice "$B" sft --init "$W/pt" --task add --n 3000 --template chat --steps 150 --batch 16 \
    --seq 160 --lr 2e-3 --warmup 10 --out "$W/sft1" --quiet
nice "$B" sft --init "$W/sft1" --task add --difficulty 1 --n 4000 --template chat --steps 100 \
    --batch 16 --seq 128 --lr 2e-3 --warmup 10 --out "$W/sft" --quiet
# 4. GRPO with accuracy + format rewards (evaluates before the first and after the last step)
nice "$B" grpo --init "$W/sft" --task add --difficulty 1 --template chat \
    --reward accuracy:1,format:0.5 --group 8 --prompts-per-step 8 --max-new 96 --temp 1.0 \
    --beta 0 --eps 0.2 --lr 5e-4 --steps 30 --batch 16 --seq 128 --eval-n 64 --eval-k 4 \
    --eval-every 10 --out "$W/grpo"
# 5. the held-out pass@1 before and after
grep grpo_eval "$W/grpo/metrics.jsonl"
