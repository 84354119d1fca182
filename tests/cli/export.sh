#!/usr/bin/env bash
# tinyr1 export end to end: help and refusals; a llama2.c model (F32, BF16); a pretrained
# tinyr1 run folder with a tokenizer, loaded by transformers' AutoModelForCausalLM and
# AutoTokenizer (the oracle venv .venv-hf), whose ids equal tinyr1's; Hugging Face -> Hugging
# Face with the tokenizer files copied.
set -u
bin=$1
data=$2
py="$(cd "$(dirname "$0")/../.." && pwd)/.venv-hf/bin/python"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }
stories="$data/models/stories260K/stories260K.bin"

"$bin" export --help > "$tmp/help" 2>&1
check "help exits 0 and lists --bf16" "[ \$? -eq 0 ] && grep -q -- '--bf16' '$tmp/help'"
"$bin" export --model "$stories" > "$tmp/out" 2>&1
check "--to is required" "[ \$? -ne 0 ] && grep -q -- '--to DIR' '$tmp/out'"
"$bin" export --model /nonexistent --to "$tmp/x" > "$tmp/out" 2>&1
check "a missing model is named" "[ \$? -ne 0 ] && grep -q '/nonexistent' '$tmp/out'"
echo hello > "$tmp/notamodel.txt"
"$bin" export --model "$tmp/notamodel.txt" --to "$tmp/x" > "$tmp/out" 2>&1
check "not a model is refused" "[ \$? -ne 0 ] && grep -q 'not a model' '$tmp/out'"
"$bin" export --model "$stories" --to "$tmp/x" --no-tokenizer --tokenizer foo > "$tmp/out" 2>&1
check "--tokenizer with --no-tokenizer is refused" "[ \$? -ne 0 ] && grep -q 'exclude' '$tmp/out'"

# llama2.c: F32 and BF16 sizes, config, no tokenizer
"$bin" export --model "$stories" --to "$tmp/s32" > "$tmp/out" 2>&1
check "llama2.c export succeeds" "[ \$? -eq 0 ] && grep -q 'llama2c model (260032 parameters)' '$tmp/out'"
check "config.json says LlamaForCausalLM, 5 layers, 4 KV heads" \
  "grep -q 'LlamaForCausalLM' '$tmp/s32/config.json' && grep -q '\"num_hidden_layers\":[[:space:]]*5' '$tmp/s32/config.json' && grep -q '\"num_key_value_heads\":[[:space:]]*4' '$tmp/s32/config.json'"
check "no tokenizer files for llama2.c" "[ ! -e '$tmp/s32/vocab.json' ] && grep -q 'SentencePiece' '$tmp/out'"
"$bin" export --model "$stories" --to "$tmp/s16" --bf16 --quiet > "$tmp/out" 2>&1
check "--quiet prints nothing" "[ \$? -eq 0 ] && [ ! -s '$tmp/out' ]"
s32=$(stat -c %s "$tmp/s32/model.safetensors"); s16=$(stat -c %s "$tmp/s16/model.safetensors")
check "F32 holds 4 bytes a parameter, BF16 2" \
  "[ $s32 -gt 1040128 ] && [ $s32 -lt 1060000 ] && [ $s16 -gt 520064 ] && [ $s16 -lt 540000 ]"
check "BF16 config says bfloat16" "grep -q bfloat16 '$tmp/s16/config.json'"
"$bin" export --model "$stories" --to "$tmp/s32" --tokenizer "$data/models/stories260K/tok512.bin" > "$tmp/out" 2>&1
check "a llama2.c (scored) tokenizer is refused" "[ \$? -ne 0 ] && grep -q 'no vocab.json' '$tmp/out'"

# refusals around the destination
mkdir -p "$tmp/stale" && echo '{}' > "$tmp/stale/tokenizer.json"
"$bin" export --model "$stories" --to "$tmp/stale" > "$tmp/out" 2>&1
check "a folder with a stale tokenizer.json is refused" "[ \$? -ne 0 ] && grep -q 'tokenizer.json' '$tmp/out' && [ ! -e '$tmp/stale/model.safetensors' ]"
"$bin" export --model "$tmp/s32" --to "$tmp/s32" > "$tmp/out" 2>&1
check "exporting a folder onto itself is refused" "[ \$? -ne 0 ] && grep -q 'source folder' '$tmp/out'"

# a tinyr1 run folder with a tokenizer trained here
head -c 100000 "$data/gsm8k/train.jsonl" > "$tmp/corpus.txt"
"$bin" tokenizer train --input "$tmp/corpus.txt" --vocab-size 400 --pattern qwen2 --out "$tmp/tok.tr1" --quiet > "$tmp/out" 2>&1
check "tokenizer trains" "[ \$? -eq 0 ] && [ -f '$tmp/tok.tr1' ]"
"$bin" pretrain --preset tiny --steps 2 --batch 2 --seq 32 --quiet --out "$tmp/run" > "$tmp/out" 2>&1
check "a 2-step pretraining writes a checkpoint" "[ -f '$tmp/run/checkpoint.bin' ]"
"$bin" export --model "$tmp/run" --to "$tmp/r0" > "$tmp/out" 2>&1
check "a checkpoint without a tokenizer exports weights only" "[ \$? -eq 0 ] && grep -q 'embeds no tokenizer' '$tmp/out' && [ -f '$tmp/r0/model.safetensors' ]"
"$bin" export --model "$tmp/run/checkpoint.bin" --to "$tmp/r1" --tokenizer "$tmp/tok.tr1" > "$tmp/out" 2>&1
check "checkpoint + tokenizer export succeeds" "[ \$? -eq 0 ] && [ -f '$tmp/r1/vocab.json' ] && [ -f '$tmp/r1/merges.txt' ] && [ -f '$tmp/r1/tokenizer_config.json' ]"
"$bin" pretrain --preset tiny --steps 2 --batch 2 --seq 32 --quiet --tokenizer "$tmp/tok.tr1" --out "$tmp/runtok" > "$tmp/out" 2>&1
"$bin" export --model "$tmp/runtok" --to "$tmp/rt" > "$tmp/out" 2>&1
check "a run trained with --tokenizer exports its embedded tokenizer" "[ \$? -eq 0 ] && grep -q 'embedded tokenizer' '$tmp/out' && cmp -s '$tmp/rt/vocab.json' '$tmp/r1/vocab.json' && cmp -s '$tmp/rt/merges.txt' '$tmp/r1/merges.txt'"
eos=$(echo -n '<|endoftext|>' | "$bin" tokenizer encode --special --tokenizer "$tmp/tok.tr1")
check "config.json's eos_token_id is the tokenizer's <|endoftext|> ($eos)" "grep -q '\"eos_token_id\":[[:space:]]*$eos' '$tmp/r1/config.json' && grep -q '\"eos_token_id\": $eos' '$tmp/r1/generation_config.json'"
"$bin" export --model "$tmp/run" --to "$tmp/rq" --tokenizer "$data/tokenizers/qwen2" > "$tmp/out" 2>&1
check "a tokenizer larger than the model's vocabulary is refused" "[ \$? -ne 0 ] && grep -q 'embedding rows' '$tmp/out'"

# Hugging Face -> Hugging Face: tokenizer files copied byte for byte
"$bin" export --model "$tmp/r1" --to "$tmp/r2" --bf16 > "$tmp/out" 2>&1
check "HF -> HF export copies the tokenizer files" "[ \$? -eq 0 ] && cmp -s '$tmp/r1/vocab.json' '$tmp/r2/vocab.json' && cmp -s '$tmp/r1/merges.txt' '$tmp/r2/merges.txt' && cmp -s '$tmp/r1/generation_config.json' '$tmp/r2/generation_config.json'"

# transformers loads the student unchanged; AutoTokenizer agrees with tinyr1
text='<|im_start|>user
Natalia sold 48 clips in April<|im_end|>
<|im_start|>assistant
<think>48 / 2 = 24</think>'
mine=$(printf '%s' "$text" | "$bin" tokenizer encode --special --tokenizer "$tmp/tok.tr1")
mine_hf=$(printf '%s' "$text" | "$bin" tokenizer encode --special --tokenizer "$tmp/r1")
check "tinyr1 reads its own export's tokenizer identically" "[ -n '$mine' ] && [ '$mine' = '$mine_hf' ]"
if [ -x "$py" ]; then
  for d in r1 r2; do
    HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error "$py" - "$tmp/$d" "$text" > "$tmp/py.out" 2>&1 <<'EOF'
import sys, torch, transformers
d, text = sys.argv[1], sys.argv[2]
m = transformers.AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32)
t = transformers.AutoTokenizer.from_pretrained(d)
ids = t.encode(text, add_special_tokens=False)
with torch.no_grad():
    logits = m(torch.tensor([ids])).logits
assert torch.isfinite(logits).all()
print(type(m).__name__, type(t).__name__, " ".join(map(str, ids)))
EOF
    got=$(tail -1 "$tmp/py.out")
    check "transformers loads the $d export (model + AutoTokenizer) and encodes like tinyr1" \
      "[ '$got' = 'LlamaForCausalLM Qwen2TokenizerFast $mine' ]"
    [ "$got" = "LlamaForCausalLM Qwen2TokenizerFast $mine" ] || cat "$tmp/py.out"
  done
else
  echo "FAIL: no oracle at $py (run scripts/install-deps.sh)"; fail=$((fail+1))
fi
echo "cli_export: $pass passed, $fail failed"
[ $fail -eq 0 ]
