#!/usr/bin/python3
"""PyTorch KV-cache decoding peer for tinyr1 (greedy, float32, CPU).

Random weights (timing):
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_decode.py --dim 128 --layers 4 \
        --heads 4 --vocab 512 --seq 256 --batch 1 --new-tokens 200 --threads 2
A llama2.c model, checked against llama2.c's own greedy output:
    /usr/bin/python3 bench/torch_decode.py --llama2c ../shared/data/models/stories260K/stories260K.bin \
        --tokenizer ../shared/data/models/stories260K/tok512.bin \
        --expect ../shared/data/models/stories260K/expected_stdout_t0_n200.txt --new-tokens 200

Prints one JSON line {"tok_s": generated tokens per second over the decode loop (all
sequences of the batch counted), "prefill_tok_s": ..., ...}; with --expect, also whether
the text matched (exit status 1 when it did not).

Conventions. The model is kept in Hugging Face layout (rotate-half RoPE: pair (i, i+HD/2)).
llama2.c .bin files use interleaved pairs (2i, 2i+1); their q/k rows are permuted on load to
rotate-half, exactly as HF's convert_llama_weights_to_hf does (the same choice as tinyr1's C
loader), so the file check below validates that permutation. The fast engine then re-lays
the weights for speed (all exact rewrites, float rounding aside):
- q/k rows back to interleaved order inside each head, so RoPE is one complex multiply;
- q|k|v fused into one matrix and gate|up into one; 1/sqrt(HD) folded into the q rows;
- RMSNorm weights folded into the columns of the matrix that follows each norm;
- batch 1 runs on 1-D tensors with torch.mv / torch.addmv (residual add fused), batch > 1
  on [B, D] with addmm; the KV cache is preallocated [B, KVH, S, HD] per layer.
"""

import argparse
import json
import math
import os
import struct
import sys
import time
from typing import List

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import add_model_args, hidden_llama, set_blas_threads  # noqa: E402


# ---- weights ------------------------------------------------------------------------------

def random_weights(cfg, seed=0, std=0.02):
    g = torch.Generator().manual_seed(seed)
    D, H, V, L = cfg["dim"], cfg["hidden_dim"], cfg["vocab"], cfg["n_layers"]
    HD = D // cfg["n_heads"]
    Q, KV = cfg["n_heads"] * HD, cfg["n_kv_heads"] * HD

    def r(*s):
        return torch.randn(*s, generator=g) * std

    W = {"model.embed_tokens.weight": r(V, D), "model.norm.weight": torch.ones(D),
         "lm_head.weight": r(V, D)}
    for i in range(L):
        p = f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = torch.ones(D)
        W[p + "self_attn.q_proj.weight"] = r(Q, D)
        W[p + "self_attn.k_proj.weight"] = r(KV, D)
        W[p + "self_attn.v_proj.weight"] = r(KV, D)
        W[p + "self_attn.o_proj.weight"] = r(D, Q) / math.sqrt(2 * L)
        W[p + "post_attention_layernorm.weight"] = torch.ones(D)
        W[p + "mlp.gate_proj.weight"] = r(H, D)
        W[p + "mlp.up_proj.weight"] = r(H, D)
        W[p + "mlp.down_proj.weight"] = r(D, H) / math.sqrt(2 * L)
    return W


def interleaved_to_half(w, n_heads):
    """Rows of a q/k projection from llama2.c/Meta order (pairs 2i, 2i+1 within a head) to
    HF rotate-half order (pairs i, i+HD/2): new row i = old 2i, new row i+HD/2 = old 2i+1."""
    rows, cols = w.shape
    hd = rows // n_heads
    return w.reshape(n_heads, hd // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def half_to_interleaved(w, n_heads):
    rows = w.shape[0]
    hd = rows // n_heads
    rest = w.shape[1:]
    return w.reshape(n_heads, 2, hd // 2, *rest).transpose(1, 2).reshape(rows, *rest)


def load_llama2c(path):
    """llama2.c version-0 .bin -> (config dict, HF-named float32 weights, rotate-half)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 28:
        raise ValueError(f"{path}: shorter than the 28-byte header")
    dim, hidden, L, NH, KVH, vocab, seq = struct.unpack("<7i", data[:28])
    shared = vocab > 0
    V = abs(vocab)
    HD = dim // NH
    arr = np.frombuffer(data, dtype="<f4", offset=28)
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        if off + n > arr.size:
            raise ValueError(f"{path}: file too short for the tensors of its header")
        t = torch.from_numpy(arr[off:off + n].copy()).reshape(*shape)
        off += n
        return t

    emb = take(V, dim)
    rms_att = take(L, dim)
    wq = take(L, NH * HD, dim)
    wk = take(L, KVH * HD, dim)
    wv = take(L, KVH * HD, dim)
    wo = take(L, dim, NH * HD)
    rms_ffn = take(L, dim)
    w1 = take(L, hidden, dim)
    w2 = take(L, dim, hidden)
    w3 = take(L, hidden, dim)
    rms_final = take(dim)
    take(seq * HD // 2)  # freq_cis_real (legacy, unused)
    take(seq * HD // 2)  # freq_cis_imag
    wcls = emb if shared else take(V, dim)
    W = {"model.embed_tokens.weight": emb, "model.norm.weight": rms_final, "lm_head.weight": wcls}
    for i in range(L):
        p = f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = rms_att[i]
        W[p + "self_attn.q_proj.weight"] = interleaved_to_half(wq[i], NH)
        W[p + "self_attn.k_proj.weight"] = interleaved_to_half(wk[i], KVH)
        W[p + "self_attn.v_proj.weight"] = wv[i]
        W[p + "self_attn.o_proj.weight"] = wo[i]
        W[p + "post_attention_layernorm.weight"] = rms_ffn[i]
        W[p + "mlp.gate_proj.weight"] = w1[i]
        W[p + "mlp.up_proj.weight"] = w3[i]
        W[p + "mlp.down_proj.weight"] = w2[i]
    cfg = dict(vocab=V, dim=dim, n_layers=L, n_heads=NH, n_kv_heads=KVH, head_dim=HD,
               hidden_dim=hidden, max_seq=seq, rope_theta=10000.0, norm_eps=1e-5,
               tied_embeddings=int(shared), qkv_bias=0)
    return cfg, W


def load_tokenizer(path, vocab):
    with open(path, "rb") as f:
        data = f.read()
    off = 4  # int32 max_token_length
    pieces = []
    for _ in range(vocab):
        _score, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + n])
        off += n
    return pieces


def decode_like_run_c(pieces, tokens):
    """Bytes llama2.c's run.c prints for a sequence that starts with BOS (1): the leading
    space of the piece after BOS is dropped, <0xNN> pieces are raw bytes, lone unprintable
    bytes are skipped, generation stops at BOS."""
    out = bytearray()
    for prev, tok in zip(tokens[:-1], tokens[1:]):
        if tok == 1:
            break
        piece = pieces[tok]
        if prev == 1 and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            try:
                piece = bytes([int(piece[3:5], 16)])
            except ValueError:
                pass
        if not piece:
            continue
        if len(piece) == 1 and not (32 <= piece[0] < 127 or piece[0] in b" \t\n\v\f\r"):
            continue
        out += piece
    return bytes(out)


# ---- TorchScript twins of Decoder.step1 / stepB (same math; the interpreter removes most
# of Python's per-op overhead, which dominates batch-1 decoding of small models) ----------

@torch.jit.script
def _step1_jit(tok: torch.Tensor, pos: int, embed: torch.Tensor, wqkv: List[torch.Tensor],
               bqkv: List[torch.Tensor], wo: List[torch.Tensor], wgu: List[torch.Tensor],
               wdown: List[torch.Tensor], kc: List[torch.Tensor], vc: List[torch.Tensor],
               fr: torch.Tensor, head: torch.Tensor, NH: int, KVH: int, HD: int, H: int,
               deps: float, has_bias: bool) -> torch.Tensor:
    G = NH // KVH
    n = pos + 1
    nqk = (NH + KVH) * HD
    x = embed[tok]
    for i in range(len(wqkv)):
        h = x * torch.dot(x, x).add_(deps).rsqrt_()
        if has_bias:
            qkv = torch.addmv(bqkv[i], wqkv[i], h)
        else:
            qkv = torch.mv(wqkv[i], h)
        qk = torch.view_as_real(torch.view_as_complex(qkv[:nqk].view(NH + KVH, HD // 2, 2)) * fr)
        k = kc[i]
        v = vc[i]
        k[:, pos] = qk[NH:].view(KVH, HD)
        v[:, pos] = qkv[nqk:].view(KVH, HD)
        att = torch.bmm(qk[:NH].view(KVH, G, HD), k[:, :n].transpose(1, 2)).softmax(-1)
        y = torch.bmm(att, v[:, :n]).view(-1)
        x = torch.addmv(x, wo[i], y)
        gu = torch.mv(wgu[i], x * torch.dot(x, x).add_(deps).rsqrt_())
        x = torch.addmv(x, wdown[i], torch.nn.functional.silu(gu[:H]) * gu[H:])
    return torch.mv(head, x * torch.dot(x, x).add_(deps).rsqrt_())


@torch.jit.script
def _stepB_jit(tok: torch.Tensor, pos: int, embed: torch.Tensor, wqkv: List[torch.Tensor],
               bqkv: List[torch.Tensor], wo: List[torch.Tensor], wgu: List[torch.Tensor],
               wdown: List[torch.Tensor], kc: List[torch.Tensor], vc: List[torch.Tensor],
               fr: torch.Tensor, head: torch.Tensor, NH: int, KVH: int, HD: int, H: int,
               deps: float, has_bias: bool) -> torch.Tensor:
    B = tok.shape[0]
    G = NH // KVH
    n = pos + 1
    nqk = (NH + KVH) * HD
    x = torch.nn.functional.embedding(tok, embed)
    for i in range(len(wqkv)):
        h = x * x.square().sum(-1, keepdim=True).add_(deps).rsqrt_()
        if has_bias:
            qkv = torch.addmm(bqkv[i], h, wqkv[i].t())
        else:
            qkv = torch.mm(h, wqkv[i].t())
        qk = torch.view_as_real(torch.view_as_complex(qkv[:, :nqk].reshape(B, NH + KVH, HD // 2, 2)) * fr)
        k = kc[i]
        v = vc[i]
        k[:, :, pos] = qk[:, NH:].reshape(B, KVH, HD)
        v[:, :, pos] = qkv[:, nqk:].view(B, KVH, HD)
        # broadcast multiply + sum: 1.13's CPU bmm loops over the B*KVH tiny matrices
        q = qk[:, :NH].reshape(B, KVH, G, 1, HD)
        att = (q * k[:, :, :n].unsqueeze(2)).sum(-1).softmax(-1)
        y = (att.unsqueeze(-1) * v[:, :, :n].unsqueeze(2)).sum(-2).reshape(B, NH * HD)
        x = torch.addmm(x, y, wo[i].t())
        gu = torch.mm(x * x.square().sum(-1, keepdim=True).add_(deps).rsqrt_(), wgu[i].t())
        x = torch.addmm(x, torch.nn.functional.silu(gu[:, :H]) * gu[:, H:], wdown[i].t())
    return torch.mm(x * x.square().sum(-1, keepdim=True).add_(deps).rsqrt_(), head.t())


# ---- the engine ---------------------------------------------------------------------------

class Decoder:
    def __init__(self, cfg, W, batch, max_seq):
        self.cfg = cfg
        D, L = cfg["dim"], cfg["n_layers"]
        NH, KVH = cfg["n_heads"], cfg["n_kv_heads"]
        HD = cfg.get("head_dim") or D // NH
        self.D, self.L, self.NH, self.KVH, self.HD = D, L, NH, KVH, HD
        self.H, self.V, self.eps = cfg["hidden_dim"], cfg["vocab"], cfg["norm_eps"]
        self.B, self.S = batch, max_seq
        self.embed = W["model.embed_tokens.weight"].float().contiguous()
        rd = math.sqrt(D)  # see _norm
        self.deps = D * self.eps
        self.layers = []
        for i in range(L):
            p = f"model.layers.{i}."
            an = W[p + "input_layernorm.weight"].float()
            mn = W[p + "post_attention_layernorm.weight"].float()
            wq = half_to_interleaved(W[p + "self_attn.q_proj.weight"].float(), NH) / math.sqrt(HD)
            wk = half_to_interleaved(W[p + "self_attn.k_proj.weight"].float(), KVH)
            wv = W[p + "self_attn.v_proj.weight"].float()
            wqkv = (torch.cat([wq, wk, wv]) * (an * rd)[None, :]).contiguous()
            bias = None
            if (p + "self_attn.q_proj.bias") in W:
                bias = torch.cat([half_to_interleaved(W[p + "self_attn.q_proj.bias"].float(), NH)
                                  / math.sqrt(HD),
                                  half_to_interleaved(W[p + "self_attn.k_proj.bias"].float(), KVH),
                                  W[p + "self_attn.v_proj.bias"].float()]).contiguous()
            wgu = (torch.cat([W[p + "mlp.gate_proj.weight"], W[p + "mlp.up_proj.weight"]]).float()
                   * (mn * rd)[None, :]).contiguous()
            self.layers.append(dict(
                wqkv=wqkv, bqkv=bias, wo=W[p + "self_attn.o_proj.weight"].float().contiguous(),
                wgu=wgu, wdown=W[p + "mlp.down_proj.weight"].float().contiguous(),
                k=torch.zeros(batch, KVH, max_seq, HD), v=torch.zeros(batch, KVH, max_seq, HD)))
        head = W.get("lm_head.weight", W["model.embed_tokens.weight"]).float()
        self.head = (head * (W["model.norm.weight"].float() * rd)[None, :]).contiguous()
        half = HD // 2
        inv = cfg["rope_theta"] ** (-2.0 * torch.arange(half, dtype=torch.float64) / HD)
        ang = torch.arange(max_seq, dtype=torch.float64)[:, None] * inv[None, :]
        self.freqs = torch.polar(torch.ones_like(ang), ang).to(torch.complex64)  # [S, HD/2]

    # RMSNorm x * rsqrt(mean(x^2) + eps) * w = x * rsqrt(sum(x^2) + D eps) * (sqrt(D) w):
    # w * sqrt(D) is folded into the columns of the next matrix
    def _norm(self, x):
        return x * x.square().sum(-1, keepdim=True).add_(self.deps).rsqrt_()

    def _norm1(self, x):
        return x * torch.dot(x, x).add_(self.deps).rsqrt_()

    def prefill(self, tokens):
        """tokens [B, T] from position 0; fills the caches; returns last logits [B, V]."""
        B, T = tokens.shape
        NH, KVH, HD, D = self.NH, self.KVH, self.HD, self.D
        G = NH // KVH
        x = F.embedding(tokens, self.embed)
        fr = self.freqs[:T][:, None, :]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for ly in self.layers:
            qkv = F.linear(self._norm(x), ly["wqkv"], ly["bqkv"])
            qk = qkv[..., :(NH + KVH) * HD].reshape(B, T, NH + KVH, HD // 2, 2)
            qk = torch.view_as_real(torch.view_as_complex(qk) * fr).reshape(B, T, NH + KVH, HD)
            v = qkv[..., (NH + KVH) * HD:].reshape(B, T, KVH, HD)
            q, k = qk[:, :, :NH], qk[:, :, NH:]
            ly["k"][:, :, :T] = k.transpose(1, 2)
            ly["v"][:, :, :T] = v.transpose(1, 2)
            q = q.transpose(1, 2).reshape(B, KVH, G * T, HD)
            att = (q @ ly["k"][:, :, :T].transpose(-1, -2)).view(B, KVH, G, T, T) + mask
            att = att.softmax(-1).view(B, KVH, G * T, T)
            y = (att @ ly["v"][:, :, :T]).view(B, NH, T, HD).transpose(1, 2).reshape(B, T, NH * HD)
            x = x + F.linear(y, ly["wo"])
            g, u = F.linear(self._norm(x), ly["wgu"]).split(self.H, dim=-1)
            x = x + F.linear(F.silu(g) * u, ly["wdown"])
        return F.linear(self._norm(x[:, -1]), self.head)

    def step1(self, tok, pos):
        """Batch 1: tok a 1-element long tensor; returns logits [V]."""
        NH, KVH, HD = self.NH, self.KVH, self.HD
        G, n = NH // KVH, pos + 1
        nqk = (NH + KVH) * HD
        fr = self.freqs[pos]
        x = self.embed[tok[0]]
        for ly in self.layers:
            h = self._norm1(x)
            qkv = torch.mv(ly["wqkv"], h) if ly["bqkv"] is None else torch.addmv(ly["bqkv"], ly["wqkv"], h)
            qk = torch.view_as_real(torch.view_as_complex(qkv[:nqk].view(NH + KVH, HD // 2, 2)) * fr)
            kc, vc = ly["k"][0], ly["v"][0]
            kc[:, pos] = qk[NH:].view(KVH, HD)
            vc[:, pos] = qkv[nqk:].view(KVH, HD)
            q = qk[:NH].view(KVH, G, HD)
            att = torch.bmm(q, kc[:, :n].transpose(1, 2)).softmax(-1)
            y = torch.bmm(att, vc[:, :n]).view(-1)
            x = torch.addmv(x, ly["wo"], y)
            gu = torch.mv(ly["wgu"], self._norm1(x))
            x = torch.addmv(x, ly["wdown"], F.silu(gu[:self.H]) * gu[self.H:])
        return torch.mv(self.head, self._norm1(x))

    def stepB(self, tok, pos):
        """Batch B: tok [B] long; all sequences at the same position; returns [B, V]."""
        B, NH, KVH, HD = self.B, self.NH, self.KVH, self.HD
        G, n = NH // KVH, pos + 1
        nqk = (NH + KVH) * HD
        fr = self.freqs[pos]
        x = F.embedding(tok, self.embed)
        for ly in self.layers:
            qkv = F.linear(self._norm(x), ly["wqkv"], ly["bqkv"])
            qk = torch.view_as_real(torch.view_as_complex(qkv[:, :nqk].reshape(B, NH + KVH, HD // 2, 2)) * fr)
            ly["k"][:, :, pos] = qk[:, NH:].reshape(B, KVH, HD)
            ly["v"][:, :, pos] = qkv[:, nqk:].view(B, KVH, HD)
            q = qk[:, :NH].reshape(B, KVH, G, 1, HD)
            att = (q * ly["k"][:, :, :n].unsqueeze(2)).sum(-1).softmax(-1)
            y = (att.unsqueeze(-1) * ly["v"][:, :, :n].unsqueeze(2)).sum(-2).reshape(B, NH * HD)
            x = torch.addmm(x, y, ly["wo"].t())
            gu = F.linear(self._norm(x), ly["wgu"])
            x = torch.addmm(x, F.silu(gu[:, :self.H]) * gu[:, self.H:], ly["wdown"].t())
        return F.linear(self._norm(x), self.head)

    def _jit_args(self):
        Ls = self.layers
        bias = [ly["bqkv"] if ly["bqkv"] is not None else torch.empty(0) for ly in Ls]
        return ([ly["wqkv"] for ly in Ls], bias, [ly["wo"] for ly in Ls],
                [ly["wgu"] for ly in Ls], [ly["wdown"] for ly in Ls])

    def step1_jit(self, tok, pos):
        wqkv, bias, wo, wgu, wdown = self._jargs
        return _step1_jit(tok[0], pos, self.embed, wqkv, bias, wo, wgu, wdown, self._k1, self._v1,
                          self.freqs[pos], self.head, self.NH, self.KVH, self.HD, self.H,
                          self.deps, self.layers[0]["bqkv"] is not None)

    def stepB_jit(self, tok, pos):
        wqkv, bias, wo, wgu, wdown = self._jargs
        return _stepB_jit(tok, pos, self.embed, wqkv, bias, wo, wgu, wdown,
                          [ly["k"] for ly in self.layers], [ly["v"] for ly in self.layers],
                          self.freqs[pos], self.head, self.NH, self.KVH, self.HD, self.H,
                          self.deps, self.layers[0]["bqkv"] is not None)

    def use_jit(self, on):
        self._jargs = self._jit_args()
        self._k1 = [ly["k"][0] for ly in self.layers]
        self._v1 = [ly["v"][0] for ly in self.layers]
        self.step1_fn = self.step1_jit if on else self.step1
        self.stepB_fn = self.stepB_jit if on else self.stepB

    def generate(self, prompt, new_tokens):
        """prompt [B, P] long. Greedy. Returns (tokens [B, P + new], prefill_s, decode_s)."""
        B, P = prompt.shape
        if P + new_tokens > self.S:
            raise ValueError(f"prompt {P} + new tokens {new_tokens} exceed max_seq {self.S}")
        outs = [prompt]
        with torch.inference_mode():
            t0 = time.perf_counter()
            logits = self.prefill(prompt)
            nxt = logits.argmax(-1)
            t1 = time.perf_counter()
            c1 = time.process_time()
            if B == 1:
                nxt = nxt.view(1)
                for i in range(new_tokens):
                    outs.append(nxt.view(1, 1))
                    if i + 1 < new_tokens:
                        nxt = self.step1_fn(nxt, P + i).argmax().view(1)
            else:
                for i in range(new_tokens):
                    outs.append(nxt.view(B, 1))
                    if i + 1 < new_tokens:
                        nxt = self.stepB_fn(nxt, P + i).argmax(-1)
            t2 = time.perf_counter()
            self.decode_cpu_s = time.process_time() - c1
        return torch.cat(outs, 1), t1 - t0, t2 - t1


def oracle_check(cfg, W, tokens, n_prompt):
    """Greedy agreement with the float64 oracle (tests/ref_model.py, rotate-half RoPE, full
    sequence): every generated token (after the n_prompt prompt tokens) must be the oracle's
    argmax, up to near-ties (top-2 margin <= 1e-4)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    import ref_model
    c = ref_model.Config(cfg)
    P = {k: v.double() for k, v in W.items()}
    if c.tied_embeddings:
        P.pop("lm_head.weight", None)
    with torch.no_grad():
        logits = ref_model.forward(c, P, tokens[:, :-1])
    top2 = logits.topk(2, dim=-1)
    agree = (top2.indices[:, n_prompt - 1:, 0] == tokens[:, n_prompt:])
    margin = top2.values[:, n_prompt - 1:, 0] - top2.values[:, n_prompt - 1:, 1]
    bad = (~agree & (margin > 1e-4)).sum().item()
    return bad, agree.float().mean().item()


def main():
    ap = argparse.ArgumentParser(description="PyTorch KV-cache greedy decoding benchmark")
    add_model_args(ap)
    ap.set_defaults(batch=1)
    ap.add_argument("--new-tokens", type=int, default=200)
    ap.add_argument("--prompt-len", type=int, default=1, help="prompt tokens (random; BOS=1 first)")
    ap.add_argument("--llama2c", help="a llama2.c .bin model instead of random weights")
    ap.add_argument("--tokenizer", help="llama2.c tokenizer .bin, to print the text")
    ap.add_argument("--expect", help="file with the exact text greedy decoding must produce")
    ap.add_argument("--jit", type=int, default=1, help="1: TorchScript decode step (faster)")
    ap.add_argument("--reps", type=int, default=3, help="timed runs; the fastest is reported")
    ap.add_argument("--oracle", action="store_true",
                    help="also check every greedy token against tests/ref_model.py (float64)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    blas = set_blas_threads(a.blas_threads or a.threads)
    if a.llama2c:
        cfg, W = load_llama2c(a.llama2c)
        max_seq = cfg["max_seq"]
    else:
        kvh = a.kv_heads or a.heads
        cfg = dict(vocab=a.vocab, dim=a.dim, n_layers=a.layers, n_heads=a.heads, n_kv_heads=kvh,
                   head_dim=a.dim // a.heads, hidden_dim=a.hidden or hidden_llama(a.dim),
                   max_seq=a.seq, rope_theta=a.rope_theta, norm_eps=a.eps, tied_embeddings=0,
                   qkv_bias=0)
        W = random_weights(cfg)
        max_seq = a.seq
    max_seq = max(max_seq, a.prompt_len + a.new_tokens)
    dec = Decoder(cfg, W, a.batch, max_seq)
    dec.use_jit(bool(a.jit))
    g = torch.Generator().manual_seed(2)
    prompt = torch.randint(3, cfg["vocab"], (a.batch, a.prompt_len), generator=g)
    prompt[:, 0] = 1
    # warm-up (allocator, OpenBLAS threads), not timed
    dec.generate(prompt, min(4, a.new_tokens))
    # the best of --reps runs (the machine is shared: a run is as fast as its quietest part)
    tokens, tp, td = dec.generate(prompt, a.new_tokens)
    for _ in range(a.reps - 1):
        _, tp2, td2 = dec.generate(prompt, a.new_tokens)
        tp, td = min(tp, tp2), min(td, td2)
    res = {"tok_s": round(a.batch * (a.new_tokens - 1) / td, 1) if a.new_tokens > 1 else None,
           "prefill_tok_s": round(a.batch * a.prompt_len / tp, 1), "batch": a.batch,
           "new_tokens": a.new_tokens, "prompt_len": a.prompt_len, "threads": a.threads, "blas_threads": blas, "jit": a.jit,
           "decode_s": round(td, 3), "decode_cpu_s": round(dec.decode_cpu_s, 3),
           "loadavg": os.getloadavg()[0],
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}
    rc = 0
    if a.tokenizer:
        pieces = load_tokenizer(a.tokenizer, cfg["vocab"])
        text = decode_like_run_c(pieces, tokens[0].tolist())
        sys.stderr.write(text.decode("utf-8", "replace") + "\n")
        if a.expect:
            with open(a.expect, "rb") as f:
                want = f.read()
            res["expected_match"] = text == want
            if text != want:
                rc = 1
    if a.oracle:
        bad, frac = oracle_check(cfg, W, tokens[-1:], a.prompt_len)
        res["oracle_disagreements"] = bad
        res["oracle_argmax_agreement"] = round(frac, 4)
        if bad:
            rc = 1
    print(json.dumps(res))
    return rc


if __name__ == "__main__":
    sys.exit(main())
