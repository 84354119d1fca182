#!/usr/bin/env bash
# Language consistency (R1's second RL stage) at toy scale: a model fine-tuned on Chinese
# word problems whose worked solutions are half Chinese, half English mixes languages in
# its chains of thought; GRPO with and without the language reward (same seeds, same
# steps) shows the reward's effect on held-out Chinese problems.
# Usage: examples/grpo_lang.sh [BUILD_DIR] [WORK_DIR]   (defaults: build, runs/grpo_lang)
set -euo pipefail
B=${1:-build}/tinyr1
W=${2:-runs/grpo_lang}
mkdir -p "$W"
# 1. a tokenizer and a pretrained tiny model (0.23M parameters) on generated problems of
#    both languages (session 1's examples/grpo_add_format.sh made this model; same commands)
if [ ! -f "$W/pt/checkpoint.bin" ]; then
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
nice "$B" pretrain --preset tiny --tokenizer "$W/tok.tr1" --data "$W/pt.jsonl" --steps 300 \
    --out "$W/pt" --quiet
fi
# 2. SFT on Chinese word problems, half the solutions in English; GRPO without / with the
#    language reward
"$B" data gen --task wordprob --lang both --n 4000 --seed 11 --out "$W/wp_both.jsonl"
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
rows = [json.loads(l) for l in open(f"{w}/wp_both.jsonl")]
en = {r["index"]: r for r in rows if r["lang"] == "en"}
zh = {r["index"]: r for r in rows if r["lang"] == "zh"}
with open(f"{w}/wp_mix.jsonl", "w") as out:
    for i in sorted(zh):   # Chinese prompt; the solution in Chinese (even i) or English (odd i)
        comp = zh[i]["completion"] if i % 2 == 0 else en[i]["completion"]
        out.write(json.dumps({"prompt": zh[i]["prompt"], "completion": comp},
                             ensure_ascii=False) + "\n")
PY
nice "$B" sft --init "$W/pt" --data "$W/wp_mix.jsonl" --template chat --steps 300 --batch 16 \
    --seq 192 --lr 2e-3 --warmup 10 --out "$W/sft" --quiet
COMMON=(--init "$W/sft" --task wordprob --lang zh --template chat --group 8 --prompts-per-step 4
        --max-new 128 --temp 1.0 --beta 0 --lr 1e-4 --steps 15 --batch 16 --seq 192
        --eval-n 32 --eval-k 4 --eval-temp 1 --eval-every 5 --seed 1)
nice "$B" grpo "${COMMON[@]}" --reward accuracy:1,format:0.5 --out "$W/off"
nice "$B" grpo "${COMMON[@]}" --reward accuracy:1,format:0.5,language:1 --out "$W/on"
for r in off on; do echo "$r:"; python3 "$(dirname "$0")/grpo_table.py" "$W/$r"; done
