"""Hugging Face oracle for tests/parity_hf.c: real transformers models on the other side.

Several models per call (groups of arguments repeated): Python + transformers start-up is
most of the time. Run with the oracle venv (.venv-hf/bin/python, made by scripts/install-deps.sh):

  hf_oracle.py make ARCH TIED SEED DIR REF [ARCH TIED SEED DIR REF ...]
      Builds a tiny random LlamaForCausalLM (ARCH=llama) or Qwen2ForCausalLM (ARCH=qwen2)
      with transformers' own classes (GQA: 4 query heads, 2 key/value heads; Qwen2 has q/k/v
      biases; TIED 0/1 = tie_word_embeddings), randomises every weight (matrices N(0, 0.15),
      norms 1 + N(0, 0.2), biases N(0, 0.2)) so logits are far apart, and save_pretrained()s
      it to DIR (safetensors). Then writes REF (safetensors):
        tokens  I32 [B, T]     random token sequences
        logits  F64 [B, T, V]  the model's logits on tokens, computed in float64
        prompt  I32 [P, Tp]    prompts for greedy decoding
        greedy  I32 [P, N]     transformers' generate(do_sample=False, max_new_tokens=N)
                               continuation (float64, KV cache)
        margin  F64 [P, N]     top-1 minus top-2 logit at each greedy step
      ARCH may be llama_hd: a Llama with head_dim 24 != hidden/heads.

  hf_oracle.py check DIR IN OUT [DIR IN OUT ...]
      AutoModelForCausalLM.from_pretrained(DIR, torch_dtype=float32) (BF16 weights are
      upcast exactly), converted to float64, logits of IN's "tokens" [B, T] -> OUT "logits" F64.
      Also writes OUT metadata "architecture" and "n_params". If IN's metadata has "texts"
      (a JSON list of strings) and DIR has tokenizer files: AutoTokenizer.from_pretrained(DIR)
      encodes each (add_special_tokens=False) -> OUT "ids_<i>" I32.
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import transformers.generation.utils as gen_utils  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensorfile  # noqa: E402

# Debian's torch 1.13 cannot import torch.distributed.fsdp under Python 3.11; generate()
# only asks whether the model is FSDP-wrapped (it is not).
gen_utils.is_fsdp_managed_module = lambda module: False

V, D, H, L, NH, KVH, MAXPOS = 96, 64, 112, 2, 4, 2, 64
B, T = 3, 12
P, TP, N = 3, 5, 12


def build(arch, tied, seed):
    torch.manual_seed(seed)
    common = dict(vocab_size=V, hidden_size=D, intermediate_size=H, num_hidden_layers=L,
                  num_attention_heads=NH, num_key_value_heads=KVH,
                  max_position_embeddings=MAXPOS, tie_word_embeddings=bool(tied),
                  bos_token_id=1, eos_token_id=2, attn_implementation="eager")
    if arch == "qwen2":
        cfg = transformers.Qwen2Config(rope_theta=1e6, rms_norm_eps=1e-6, **common)
        model = transformers.Qwen2ForCausalLM(cfg)
    elif arch in ("llama", "llama_hd"):
        extra = {"head_dim": 24} if arch == "llama_hd" else {}
        cfg = transformers.LlamaConfig(rope_theta=10000.0, rms_norm_eps=1e-5, **common, **extra)
        model = transformers.LlamaForCausalLM(cfg)
    else:
        raise SystemExit(f"unknown arch {arch}")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn_like(p))
            else:
                p.copy_(0.15 * torch.randn_like(p))
    return model.eval()


def cmd_make(arch, tied, seed, out_dir, ref_path):
    model = build(arch, int(tied), int(seed))
    model.save_pretrained(out_dir, safe_serialization=True)
    g = torch.Generator().manual_seed(int(seed) + 1)
    tokens = torch.randint(0, V, (B, T), generator=g)
    prompt = torch.randint(0, V, (P, TP), generator=g)
    m64 = model.to(torch.float64)
    with torch.no_grad():
        logits = m64(tokens).logits
        gen = m64.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=N,
                           do_sample=False, num_beams=1, min_new_tokens=N,
                           pad_token_id=0, eos_token_id=None)
        greedy = gen[:, TP:]
        # margins from one full forward over prompt + continuation (teacher forcing)
        full = m64(gen).logits[:, TP - 1:-1, :]
        top2 = torch.topk(full, 2, dim=-1).values
        margin = top2[..., 0] - top2[..., 1]
        assert torch.equal(full.argmax(-1), greedy), "generate() disagrees with argmax"
    tensorfile.save(ref_path, {
        "tokens": tokens.to(torch.int32).numpy(),
        "logits": logits.numpy(),
        "prompt": prompt.to(torch.int32).numpy(),
        "greedy": greedy.to(torch.int32).numpy(),
        "margin": margin.numpy(),
    }, {"transformers": transformers.__version__, "torch": torch.__version__})


def cmd_check(model_dir, in_path, out_path):
    inputs, meta = tensorfile.load(in_path)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, torch_dtype=torch.float32, attn_implementation="eager")
    model = model.eval().to(torch.float64)
    tokens = torch.from_numpy(inputs["tokens"].astype(np.int64))
    with torch.no_grad():
        logits = model(tokens).logits
    out = {"logits": logits.numpy()}
    texts = json.loads(meta["texts"]) if "texts" in meta else []
    if texts:
        tok = transformers.AutoTokenizer.from_pretrained(model_dir)
        for i, s in enumerate(texts):
            ids = tok.encode(s, add_special_tokens=False)
            out[f"ids_{i}"] = np.asarray(ids, dtype=np.int32)
    tensorfile.save(out_path, out, {
        "architecture": type(model).__name__,
        "n_params": str(sum(p.numel() for p in model.parameters())),
        "tokenizer": type(tok).__name__ if texts else "",
    })


if __name__ == "__main__":
    args = sys.argv[2:]
    if len(sys.argv) >= 2 and sys.argv[1] == "make" and args and len(args) % 5 == 0:
        for i in range(0, len(args), 5):
            cmd_make(*args[i:i + 5])
    elif len(sys.argv) >= 2 and sys.argv[1] == "check" and args and len(args) % 3 == 0:
        for i in range(0, len(args), 3):
            cmd_check(*args[i:i + 3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
