#!/usr/bin/env bash
# Language consistency (R1's second RL stage) at toy scale: a model fine-tuned on Chinese
# word problems whose worked solutions are half Chinese, half English mixes languages in
# its chains of thought; GRPO with and without the language reward (same seeds, same
# steps) shows the reward's effect on held-out Chinese problems.
# Usage: examples/grpo_lang.sh [BUILD_DIR] [WORK_DIR] [ADD_DIR]   (uses the pretrained model
# of examples/grpo_add_format.sh, ADD_DIR/pt, default runs/grpo_add_format: run that first)
set -euo pipefail
B=${1:-build}/tinyr1
W=${2:-runs/grpo_lang}
A=${3:-runs/grpo_add_format}
mkdir -p "$W"
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
nice "$B" sft --init "$A/pt" --data "$W/wp_mix.jsonl" --template chat --steps 300 --batch 16 \
    --seq 192 --lr 2e-3 --warmup 10 --out "$W/sft" --quiet
COMMON=(--init "$W/sft" --task wordprob --lang zh --template chat --group 8 --prompts-per-step 4
        --max-new 128 --temp 1.0 --beta 0 --lr 1e-4 --steps 15 --batch 16 --seq 192
        --eval-n 32 --eval-k 4 --eval-temp 1 --eval-every 5 --seed 1)
nice "$B" grpo "${COMMON[@]}" --reward accuracy:1,format:0.5 --out "$W/off"
nice "$B" grpo "${COMMON[@]}" --reward accuracy:1,format:0.5,language:1 --out "$W/on"
for r in off on; do echo "$r:"; python3 "$(dirname "$0")/grpo_table.py" "$W/$r"; done
