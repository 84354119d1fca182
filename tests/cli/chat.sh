#!/usr/bin/env bash
# tinyr1 chat end to end: with stories260K (no chat tokens: plain continuation) a greedy reply
# is exactly generate's continuation of the same text, /reset starts over, end of input
# quits with status 0, --template chat is refused without <|im_start|>; with the Qwen2
# tokenizer and a random Qwen2-shaped model (written here as a Hugging Face folder), the
# ChatML path runs two turns and a system message.
set -euo pipefail
BIN="$1"
DATA="$2"
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
M=(--model "$DATA/models/stories260K/stories260K.bin" --tokenizer "$DATA/models/stories260K/tok512.bin")

gen=$("$BIN" generate "${M[@]}" --prompt "Once upon a time" --temp 0 -n 30 --quiet)
printf 'Once upon a time\n/reset\nOnce upon a time\n' |
    "$BIN" chat "${M[@]}" --temp 0 -n 30 > "$TMP/chat.txt"
[ "$(wc -l < "$TMP/chat.txt")" -eq 2 ] || fail "expected two replies: $(cat "$TMP/chat.txt")"
first=$(sed -n 1p "$TMP/chat.txt")
[ "Once upon a time$first" = "$gen" ] || fail "chat reply '$first' is not generate's '$gen'"
[ "$(sed -n 2p "$TMP/chat.txt")" = "$first" ] || fail "/reset did not start over"

if echo hi | "$BIN" chat "${M[@]}" --template chat 2> "$TMP/err"; then
    fail "--template chat accepted without chat tokens"
fi
grep -q "im_start" "$TMP/err" || fail "no message about the missing chat tokens"

# ChatML with a real chat tokenizer and a random model
/usr/bin/python3 - "$TMP/qwen" "$HERE/.." <<'PY'
import json, os, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
import tensorfile
out = sys.argv[1]
os.makedirs(out)
V, D, H, L, NH, KVH = 151936, 16, 32, 1, 2, 1
HD = D // NH
json.dump({"architectures": ["Qwen2ForCausalLM"], "vocab_size": V, "hidden_size": D,
           "intermediate_size": H, "num_hidden_layers": L, "num_attention_heads": NH,
           "num_key_value_heads": KVH, "max_position_embeddings": 256, "rope_theta": 10000.0,
           "rms_norm_eps": 1e-6, "tie_word_embeddings": True, "hidden_act": "silu"},
          open(os.path.join(out, "config.json"), "w"))
r = np.random.default_rng(0)
f = lambda *s: (r.standard_normal(s) * 0.5).astype(np.float32)
t = {"model.embed_tokens.weight": f(V, D), "model.norm.weight": np.ones(D, np.float32)}
p = "model.layers.0."
t.update({p + "input_layernorm.weight": np.ones(D, np.float32),
          p + "post_attention_layernorm.weight": np.ones(D, np.float32),
          p + "self_attn.q_proj.weight": f(NH * HD, D), p + "self_attn.q_proj.bias": f(NH * HD),
          p + "self_attn.k_proj.weight": f(KVH * HD, D), p + "self_attn.k_proj.bias": f(KVH * HD),
          p + "self_attn.v_proj.weight": f(KVH * HD, D), p + "self_attn.v_proj.bias": f(KVH * HD),
          p + "self_attn.o_proj.weight": f(D, NH * HD), p + "mlp.gate_proj.weight": f(H, D),
          p + "mlp.up_proj.weight": f(H, D), p + "mlp.down_proj.weight": f(D, H)})
tensorfile.save(os.path.join(out, "model.safetensors"), t)
PY
printf 'hello\nhow are you?\n' | "$BIN" chat --model "$TMP/qwen" --tokenizer "$DATA/tokenizers/qwen2" \
    --system "Be brief." -n 8 --seed 3 > "$TMP/q.txt" 2> "$TMP/qerr" || fail "chat failed: $(cat "$TMP/qerr")"
[ -s "$TMP/q.txt" ] || fail "no reply from the ChatML path"
printf 'hello\nhow are you?\n' | "$BIN" chat --model "$TMP/qwen" --tokenizer "$DATA/tokenizers/qwen2" \
    --system "Be brief." -n 8 --seed 3 > "$TMP/q2.txt" 2>/dev/null
cmp "$TMP/q.txt" "$TMP/q2.txt" || fail "the same seed gave a different conversation"
echo "chat: ok"
