#!/usr/bin/env bash
# tinyr1 grpo end to end on a tiny model: a run, an interrupted + resumed run that must
# give the same per-step figures, evaluation-only mode, and bad arguments.
# Usage: grpo.sh TINYR1_BINARY SHARED_DATA_DIR
set -euo pipefail
BIN=$1
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" data gen --task add --n 300 --out "$W/add.jsonl" 2>/dev/null
python3 -c "
import json
with open('$W/text.txt','w') as f:
    for l in open('$W/add.jsonl'):
        r=json.loads(l); f.write(r['prompt']+' '+r['completion']+'\n')
"
"$BIN" tokenizer train --input "$W/text.txt" --vocab-size 300 --out "$W/tok.tr1" --quiet 2>/dev/null
"$BIN" pretrain --preset tiny --tokenizer "$W/tok.tr1" --data "$W/text.txt" --steps 3 --batch 2 \
    --seq 32 --out "$W/pt" --quiet 2>/dev/null

COMMON=(--init "$W/pt" --task add --template none --group 3 --prompts-per-step 2 --max-new 8
        --batch 4 --seq 64 --lr 1e-2 --eval-n 2 --eval-k 1 --quiet --threads 2
        --reward accuracy:1,tags:0.5,language:0.1 --beta 0.05 --mu 2 --minibatches 2)
"$BIN" grpo "${COMMON[@]}" --steps 4 --out "$W/a" 2>"$W/a.log" || { cat "$W/a.log"; fail "grpo run"; }
test -f "$W/a/checkpoint.bin" || fail "no checkpoint"
test -f "$W/a/samples.jsonl" || fail "no samples.jsonl"
[ "$(grep -c '"stage":"grpo"' "$W/a/metrics.jsonl")" = 4 ] || fail "expected 4 step lines"
[ "$(grep -c '"stage":"grpo_eval"' "$W/a/metrics.jsonl")" = 2 ] || fail "expected 2 eval lines"
for key in reward reward_std reward_accuracy reward_tags_std accuracy response_len kl clip_frac \
           entropy zero_var_frac gen_seconds train_seconds; do
    grep -q "\"$key\":" "$W/a/metrics.jsonl" || fail "metrics.jsonl lacks $key"
done

# interrupted after 2 steps, resumed to 4: the same figures at every step
"$BIN" grpo "${COMMON[@]}" --steps 2 --out "$W/b" 2>/dev/null
"$BIN" grpo "${COMMON[@]}" --steps 4 --out "$W/b" --resume 2>"$W/b.log" || { cat "$W/b.log"; fail "resume"; }
grep -q "resuming from" "$W/b.log" || fail "did not resume"
strip() { grep '"stage":"grpo"' "$1" | python3 -c "
import json,sys
for l in sys.stdin:
    r=json.loads(l)
    # measured time and what is derived from it differ between runs; FLOPs may not
    timed = ('seconds', 'elapsed', 'gflops', 'mfu', 'wall_s', 'peak_rss')
    print({k:v for k,v in r.items() if not any(t in k for t in timed)})"; }
diff <(strip "$W/a/metrics.jsonl") <(strip "$W/b/metrics.jsonl") || fail "resumed run differs"

# evaluation only
"$BIN" grpo --init "$W/a" --task add --template none --steps 0 --eval-n 2 --eval-k 1 \
    --max-new 8 --seq 64 --out "$W/e" --quiet 2>/dev/null
grep -q grpo_eval "$W/e/metrics.jsonl" || fail "no eval line"
test ! -f "$W/e/checkpoint.bin" || fail "evaluation wrote a checkpoint"

# bad arguments
! "$BIN" grpo --init "$W/pt" --reward speed:1 --out "$W/x" 2>/dev/null || fail "bad reward accepted"
! "$BIN" grpo --init "$W/pt" --task gsm8k --out "$W/x" 2>/dev/null || fail "task without generator accepted"
! "$BIN" grpo --init "$W/pt" --group 1 --out "$W/x" --steps 1 2>/dev/null || fail "group 1 accepted"
! "$BIN" grpo --out "$W/x" 2>/dev/null || fail "missing --init accepted"
echo "grpo CLI: ok"
