#!/usr/bin/env bash
# Distillation on a reasoning task (addition of 1-2 digit numbers with worked <think> steps):
# a teacher trained by tinyr1 (dim 128, 0.85M parameters: pretrain + SFT), then two students
# of about a quarter of its size (the tiny preset, 0.23M), both starting from the same
# pretrained student base, for the same steps on the same tokens:
#   seq  sequence-level distillation (R1-Distill): the teacher's verified-correct traces
#        (rejection sampling, `distill traces --keep correct`), then `tinyr1 sft` on them;
#   kd   logit distillation on the same traces: forward KL at T = 2 mixed with CE (alpha 0.5).
# Held-out evaluation of the teacher, the student base and both students: greedy pass@1 and
# pass@1 over 4 samples at T 0.6 (R1's setting), with 95% intervals.
# Usage: examples/distill_add.sh [BUILD_DIR] [OUT_DIR]   (OMP_NUM_THREADS=1 is faster on a
# busy machine). A finished stage is skipped when its checkpoint exists (delete OUT_DIR to redo).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-$here/build}" && pwd)/tinyr1
mkdir -p "${2:-$here/runs/distill_add}"; out=$(cd "${2:-$here/runs/distill_add}" && pwd)
TSTEPS=${TSTEPS:-400}
SSTEPS=${SSTEPS:-300}
cd "$out"
# 1-2. data, tokenizer, teacher (pretrain 200 steps + SFT): examples/add_teacher.sh
. "$here/examples/add_teacher.sh"
add_teacher "$bin" "$TSTEPS"
# 3. student base: the tiny preset (dim 64, 0.23M parameters: 0.27 of the teacher), pretrained
#    like the teacher's base (same text, same steps)
[ -f student0/checkpoint.bin ] || "$bin" pretrain --preset tiny --tokenizer tok.tr1 \
    --data corpus.jsonl --steps 200 --checkpoint-every 0 --quiet --out student0 2> student0.log
# 4. sequence-level data: 2 teacher samples (T 0.7) for each of 2000 training problems, only
#    the verified-correct ones kept
[ -f traces.jsonl ] || "$bin" distill traces --teacher teacher "${task[@]}" --n 2000 \
    --n-per-prompt 2 --temp 0.7 --max-new 96 --keep correct --out traces.jsonl 2>&1 | grep kept
# 5. the two students: same initial weights, data, steps, batch, learning rate and seed
S=(--template chat --steps "$SSTEPS" --batch 16 --seq 128 --lr 2e-3 --checkpoint-every 0 --quiet --seed 3)
[ -f seq/checkpoint.bin ] || "$bin" sft --init student0 --data traces.jsonl "${S[@]}" --out seq 2> seq.log
[ -f kd/checkpoint.bin ] || "$bin" distill --teacher teacher --student-init student0 --data traces.jsonl \
    --loss fkl --temp 2 --alpha 0.5 "${S[@]}" --out kd 2> kd.log
# 6. held-out evaluation (generator seed 9000; training problems use 1000, the pretraining
#    text 7): greedy pass@1 with a Wilson interval, pass@1 over 4 samples at T 0.6 / top-p
#    0.95 with a bootstrap interval over problems
rm -f results.jsonl
for m in teacher student0 seq kd; do
    "$bin" eval --model "$m" --task add --difficulty 1 --template chat --n 200 --k 4 \
        --temp 0.6 --task-seed 9000 --max-tokens 96 --out "eval_$m" --json --quiet \
        | sed "s/^{/{\"run\":\"$m\",/" >> results.jsonl
done
python3 - <<'PY'
import json
names = {"teacher": "teacher (dim 128, 0.85M)", "student0": "student base (0.23M, no distillation)",
         "seq": "student, sequence-level (SFT on verified traces)",
         "kd": "student, logit KD (fkl T=2 + 0.5 CE)"}
def last(run, key):
    rows = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
    return [r[key] for r in rows if key in r][-1]
print("| model | greedy pass@1 (95% CI) | pass@1, T 0.6, 4 samples (95% CI) | well formed |")
print("|---|---:|---:|---:|")
for line in open("results.jsonl"):
    r = json.loads(line)
    g, p = r["greedy"], r["pass@1"]
    print(f"| {names[r['run']]} | {100*g['value']:.1f}% ({100*g['lo']:.1f}-{100*g['hi']:.1f}) "
          f"| {100*p['value']:.1f}% ({100*p['lo']:.1f}-{100*p['hi']:.1f}) | {r['well_formed']['value']:.2f} |")
print(f"final training CE: seq {last('seq', 'loss'):.3f}, kd {last('kd', 'ce'):.3f}; "
      f"KL(teacher||student) of kd at the end {last('kd', 'kl'):.3f}")
PY
