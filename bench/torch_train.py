#!/usr/bin/python3
"""PyTorch training-throughput peer for tinyr1 (the same Llama/Qwen2 model, float32, CPU).

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_train.py --dim 256 --layers 6 \
        --heads 8 --vocab 4096 --seq 256 --batch 8 --threads 2

Prints one JSON line: {"tok_s": tokens per second, "step_s": seconds per step, ...}.
A step = forward + cross-entropy + backward + AdamW over B*T tokens, same random batch.

What makes it fast (measured on Debian's python3-torch 1.13, see docs/oracle.md):
- q/k/v fused into one [(NH+2 KVH) HD, D] matrix and gate/up into one [2H, D] matrix, so
  each layer does 4 GEMMs forward instead of 7; RoPE applied to q and k in one pass.
- attention as one baddbmm over [B*NH, T, HD] with a precomputed additive causal mask
  (fuses scale + mask), softmax, one bmm (1.13 has no scaled_dot_product_attention; a
  newer torch that has it uses it).
- AdamW with foreach=True (multi-tensor; fused=True is CUDA-only in 1.13: tried, it fails).
- torch.set_num_threads(N); OMP_WAIT_POLICY=PASSIVE: Debian's torch links the pthread
  OpenBLAS, whose threads fight with spinning OpenMP workers otherwise.
- no per-step Python beyond zero_grad/forward/backward/step; grads set to None.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F


def set_blas_threads(n):
    """Debian's torch is built against the generic BLAS interface, so torch.set_num_threads
    does not reach OpenBLAS (which uses every core by default); set it directly. Returns
    the library's thread count afterwards, or None when no OpenBLAS is loaded."""
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0", mode=ctypes.RTLD_GLOBAL)
        if n > 0:
            lib.openblas_set_num_threads(int(n))
        return lib.openblas_get_num_threads()
    except (OSError, AttributeError):
        return None


def hidden_llama(dim, multiple_of=256):
    h = (8 * dim + 2) // 3
    return (h + multiple_of - 1) // multiple_of * multiple_of


def add_model_args(ap):
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0, help="0 = heads (no GQA)")
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=0, help="0 = 8*dim/3 rounded up to 256")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blas-threads", type=int, default=0, help="OpenBLAS threads; 0 = --threads")
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--eps", type=float, default=1e-5)


class Softmax(torch.autograd.Function):
    """softmax over the last dim with the backward written as y*g - y*sum(y*g): measured
    faster in 1.13 than aten::_softmax_backward_data on [B*NH, T, T]."""

    @staticmethod
    def forward(ctx, x):
        y = x.softmax(-1)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        return torch.addcmul(gy, y, gy.sum(-1, keepdim=True), value=-1)


class Model(torch.nn.Module):
    """Weights in fused layout; names differ from HF only by the fusion."""

    def __init__(self, dim, layers, heads, kv_heads, vocab, hidden, max_seq, theta=10000.0,
                 eps=1e-5, std=0.02, tied=False):
        super().__init__()
        self.D, self.L, self.NH, self.KVH = dim, layers, heads, kv_heads
        self.HD = dim // heads
        self.H, self.V, self.eps, self.tied = hidden, vocab, eps, tied
        self.manual_softmax = False
        self.sdpa = hasattr(F, "scaled_dot_product_attention")  # False on 1.13
        g = torch.Generator().manual_seed(0)
        P = torch.nn.Parameter

        def randn(*shape, s=std):
            return P(torch.randn(*shape, generator=g) * s)

        out_std = std / math.sqrt(2 * layers)
        qkv = (heads + 2 * kv_heads) * self.HD
        self.embed = randn(vocab, dim)
        self.attn_norm = torch.nn.ParameterList([P(torch.ones(dim)) for _ in range(layers)])
        self.wqkv = torch.nn.ParameterList([randn(qkv, dim) for _ in range(layers)])
        self.wo = torch.nn.ParameterList([randn(dim, heads * self.HD, s=out_std) for _ in range(layers)])
        self.mlp_norm = torch.nn.ParameterList([P(torch.ones(dim)) for _ in range(layers)])
        self.wgu = torch.nn.ParameterList([randn(2 * hidden, dim) for _ in range(layers)])
        self.wdown = torch.nn.ParameterList([randn(dim, hidden, s=out_std) for _ in range(layers)])
        self.final_norm = P(torch.ones(dim))
        self.lm_head = None if tied else randn(vocab, dim)
        half = self.HD // 2
        inv = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / self.HD)
        ang = torch.arange(max_seq, dtype=torch.float64)[:, None] * inv[None, :]
        ang = torch.cat([ang, ang], -1)
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)
        mask = torch.full((max_seq, max_seq), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def decay_groups(self, wd):
        mats = [*self.wqkv, *self.wo, *self.wgu, *self.wdown]
        if self.lm_head is not None:
            mats.append(self.lm_head)
        ids = {id(p) for p in mats}
        rest = [p for p in self.parameters() if id(p) not in ids]
        return [{"params": mats, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def forward(self, tokens, targets):
        B, T = tokens.shape
        NH, KVH, HD, D, H = self.NH, self.KVH, self.HD, self.D, self.H
        cos, sin = self.cos[:T], self.sin[:T]
        mask = self.mask[:T, :T]
        scale = 1.0 / math.sqrt(HD)
        x = F.embedding(tokens, self.embed)
        for l in range(self.L):
            h = self.rms(x, self.attn_norm[l])
            qkv = F.linear(h, self.wqkv[l]).view(B, T, NH + 2 * KVH, HD)
            qk, v = qkv.split([NH + KVH, KVH], dim=2)
            c, s = cos[:, None, :], sin[:, None, :]
            x1, x2 = qk.split(HD // 2, dim=-1)
            rot = torch.cat([-x2, x1], -1)
            qk = qk * c + rot * s
            q, k = qk.split([NH, KVH], dim=2)
            q, k = q.transpose(1, 2), k.transpose(1, 2)
            v = v.transpose(1, 2)
            if KVH != NH:
                k = k.repeat_interleave(NH // KVH, dim=1)
                v = v.repeat_interleave(NH // KVH, dim=1)
            if self.sdpa:  # torch >= 2.0 only
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                y = y.transpose(1, 2).reshape(B, T, NH * HD)
            else:
                q = q.reshape(B * NH, T, HD)
                k = k.reshape(B * NH, T, HD)
                v = v.reshape(B * NH, T, HD)
                att = torch.baddbmm(mask, q, k.transpose(1, 2), alpha=scale)
                att = Softmax.apply(att) if self.manual_softmax else att.softmax(-1)
                y = torch.bmm(att, v).view(B, NH, T, HD).transpose(1, 2).reshape(B, T, NH * HD)
            x = x + F.linear(y, self.wo[l])
            h = self.rms(x, self.mlp_norm[l])
            g, u = F.linear(h, self.wgu[l]).split(H, dim=-1)
            x = x + F.linear(F.silu(g) * u, self.wdown[l])
        x = self.rms(x, self.final_norm)
        logits = F.linear(x, self.embed if self.lm_head is None else self.lm_head)
        return F.cross_entropy(logits.view(B * T, self.V), targets.view(B * T))


def make_optimizer(params, mode, lr=3e-4, wd=0.1):
    kw = dict(lr=lr, betas=(0.9, 0.95), eps=1e-8)
    if mode == "fused":
        return torch.optim.AdamW(params, fused=True, **kw)
    if mode == "foreach":
        return torch.optim.AdamW(params, foreach=True, **kw)
    return torch.optim.AdamW(params, foreach=False, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    add_model_args(ap)
    ap.add_argument("--steps", type=int, default=3, help="timed steps after warm-up")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--adamw", choices=["foreach", "single", "fused"], default="foreach")
    ap.add_argument("--manual-softmax", type=int, default=0)
    ap.add_argument("--flush-denormal", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    blas = set_blas_threads(a.blas_threads or a.threads)
    kvh = a.kv_heads or a.heads
    hidden = a.hidden or hidden_llama(a.dim)
    torch.set_flush_denormal(bool(a.flush_denormal))
    model = Model(a.dim, a.layers, a.heads, kvh, a.vocab, hidden, a.seq, a.rope_theta, a.eps)
    model.manual_softmax = bool(a.manual_softmax)
    try:
        opt = make_optimizer(model.decay_groups(0.1), a.adamw)
    except (RuntimeError, TypeError, ValueError) as e:
        print(f"torch_train: AdamW {a.adamw} unavailable: {e}", file=sys.stderr)
        return 1
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
    targets = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(tokens, targets)
        loss.backward()
        opt.step()
        return loss

    try:
        for _ in range(a.warmup):
            step()
    except RuntimeError as e:
        print(f"torch_train: step failed: {e}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    c0 = time.process_time()
    for _ in range(a.steps):
        loss = step()
    loss = loss.item()
    dt = (time.perf_counter() - t0) / a.steps
    cpu = (time.process_time() - c0) / a.steps
    nparams = sum(p.numel() for p in model.parameters())
    print(json.dumps({"tok_s": round(a.batch * a.seq / dt, 1), "step_s": round(dt, 4),
                      "loss": round(loss, 4), "params": nparams, "threads": a.threads, "blas_threads": blas,
                      "adamw": a.adamw, "sdpa": model.sdpa, "cpu_s_per_step": round(cpu, 4),
                      "loadavg": os.getloadavg()[0],
                      "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
