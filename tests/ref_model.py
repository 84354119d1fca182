#!/usr/bin/python3
"""PyTorch oracle for tinyr1's transformer: forward, loss, every gradient, AdamW steps.

Usage:
    /usr/bin/python3 tests/ref_model.py IN.safetensors OUT.safetensors
    /usr/bin/python3 tests/ref_model.py --selftest

Written from the math (Llama / Qwen2 family), not from the C code. Everything is computed
in float64 (the C side is float32; the oracle should be the more exact of the two).

IN (see docs/oracle.md):
  metadata "config": JSON with the tr_config fields (vocab, dim, n_layers, n_heads,
      n_kv_heads, head_dim, hidden_dim, max_seq, rope_theta, norm_eps, tied_embeddings,
      qkv_bias); head_dim 0 = dim / n_heads, hidden_dim 0 = 8*dim/3 rounded up to 32.
  metadata "train" (optional): JSON {lr, beta1, beta2, eps, weight_decay, steps,
      grad_clip (0 = none), norm (loss normaliser; absent = sum of the weights of the
      positions whose target is not -1)}.
  tensors: every parameter by its Hugging Face name (any float dtype), "tokens" I32 [B,T],
      "targets" I32 [B,T] (-1 = ignored), "weights" F32 [B,T] (absent = all ones).
OUT (all float tensors F64):
  "logits" [B,T,V], "loss" [1] = sum_n w_n CE_n / norm, "dlogits" [B,T,V] (d loss / d logits),
  "grad.<name>" per parameter (tied: the embedding's total gradient),
  "losses" [steps] (the loss before each AdamW step), "grad_norms" [steps] (global L2 norm
  of the gradient before clipping), "final.<name>" per parameter after the steps.
"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensorfile  # noqa: E402

DTYPE = torch.float64
CONFIG_FIELDS = ("vocab", "dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "hidden_dim",
                 "max_seq", "rope_theta", "norm_eps", "tied_embeddings", "qkv_bias")
MATRIX_SUFFIXES = ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight",
                   "gate_proj.weight", "up_proj.weight", "down_proj.weight")


class Config:
    def __init__(self, d):
        missing = [k for k in ("vocab", "dim", "n_layers", "n_heads") if k not in d]
        if missing:
            raise ValueError(f"config: missing fields {missing}")
        self.vocab = int(d["vocab"])
        self.dim = int(d["dim"])
        self.n_layers = int(d["n_layers"])
        self.n_heads = int(d["n_heads"])
        self.n_kv_heads = int(d.get("n_kv_heads", 0) or self.n_heads)
        self.head_dim = int(d.get("head_dim", 0) or self.dim // self.n_heads)
        hidden = int(d.get("hidden_dim", 0))
        if hidden == 0:
            hidden = (8 * self.dim + 2) // 3
            hidden = (hidden + 31) // 32 * 32
        self.hidden_dim = hidden
        self.max_seq = int(d.get("max_seq", 0))
        self.rope_theta = float(d.get("rope_theta", 10000.0))
        self.norm_eps = float(d.get("norm_eps", 1e-5))
        self.tied_embeddings = int(d.get("tied_embeddings", 0))
        self.qkv_bias = int(d.get("qkv_bias", 0))
        if self.n_heads % self.n_kv_heads != 0:
            raise ValueError("config: n_kv_heads must divide n_heads")
        if self.head_dim % 2 != 0:
            raise ValueError("config: head_dim must be even")

    def as_dict(self):
        return {k: getattr(self, k) for k in CONFIG_FIELDS}


def param_shapes(c):
    """Every parameter, in the order of the C parameter table: name -> shape."""
    D, H, V = c.dim, c.hidden_dim, c.vocab
    Q, KV = c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim
    s = {"model.embed_tokens.weight": (V, D)}
    for i in range(c.n_layers):
        p = f"model.layers.{i}."
        s[p + "input_layernorm.weight"] = (D,)
        s[p + "self_attn.q_proj.weight"] = (Q, D)
        if c.qkv_bias:
            s[p + "self_attn.q_proj.bias"] = (Q,)
        s[p + "self_attn.k_proj.weight"] = (KV, D)
        if c.qkv_bias:
            s[p + "self_attn.k_proj.bias"] = (KV,)
        s[p + "self_attn.v_proj.weight"] = (KV, D)
        if c.qkv_bias:
            s[p + "self_attn.v_proj.bias"] = (KV,)
        s[p + "self_attn.o_proj.weight"] = (D, Q)
        s[p + "post_attention_layernorm.weight"] = (D,)
        s[p + "mlp.gate_proj.weight"] = (H, D)
        s[p + "mlp.up_proj.weight"] = (H, D)
        s[p + "mlp.down_proj.weight"] = (D, H)
    s["model.norm.weight"] = (D,)
    if not c.tied_embeddings:
        s["lm_head.weight"] = (V, D)
    return s


def decays(name):
    """AdamW weight decay applies to the projection matrices and an untied lm_head only."""
    return name.endswith(MATRIX_SUFFIXES) or name == "lm_head.weight"


# ---- the model, functional over a dict of parameters ------------------------------------

def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * w


def rope_tables(c, T):
    """cos, sin of shape [T, HD]: angle(pos, i) = pos * theta^(-2i/HD), duplicated over the
    two halves (Hugging Face "rotate half": dimension i pairs with i + HD/2)."""
    half = c.head_dim // 2
    i = torch.arange(half, dtype=DTYPE)
    inv_freq = c.rope_theta ** (-2.0 * i / c.head_dim)
    ang = torch.arange(T, dtype=DTYPE)[:, None] * inv_freq[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos(), ang.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def linear(x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


def forward(c, P, tokens):
    """tokens: int64 [B,T]; P: name -> tensor. Returns logits [B,T,V]."""
    B, T = tokens.shape
    NH, KVH, HD = c.n_heads, c.n_kv_heads, c.head_dim
    embed = P["model.embed_tokens.weight"]
    x = embed[tokens]
    cos, sin = rope_tables(c, T)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(c.n_layers):
        p = f"model.layers.{i}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], c.norm_eps)
        q = linear(h, P[p + "self_attn.q_proj.weight"], P.get(p + "self_attn.q_proj.bias"))
        k = linear(h, P[p + "self_attn.k_proj.weight"], P.get(p + "self_attn.k_proj.bias"))
        v = linear(h, P[p + "self_attn.v_proj.weight"], P.get(p + "self_attn.v_proj.bias"))
        q = q.view(B, T, NH, HD).transpose(1, 2)   # [B,NH,T,HD]
        k = k.view(B, T, KVH, HD).transpose(1, 2)  # [B,KVH,T,HD]
        v = v.view(B, T, KVH, HD).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # GQA: query head h reads kv head h // (NH / KVH)
        k = k.repeat_interleave(NH // KVH, dim=1)
        v = v.repeat_interleave(NH // KVH, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(HD)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, NH * HD)
        x = x + linear(y, P[p + "self_attn.o_proj.weight"])
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], c.norm_eps)
        g = linear(h, P[p + "mlp.gate_proj.weight"])
        u = linear(h, P[p + "mlp.up_proj.weight"])
        x = x + linear(torch.nn.functional.silu(g) * u, P[p + "mlp.down_proj.weight"])
    x = rms_norm(x, P["model.norm.weight"], c.norm_eps)
    head = embed if c.tied_embeddings else P["lm_head.weight"]
    return x @ head.t()


def loss_fn(logits, targets, weights, norm):
    """sum_n w_n * CE_n / norm over positions with target != -1."""
    V = logits.shape[-1]
    valid = targets >= 0
    logp = torch.log_softmax(logits.reshape(-1, V), dim=-1)
    t = targets.reshape(-1).clamp(min=0)
    ce = -logp.gather(1, t[:, None])[:, 0]
    w = weights.reshape(-1) * valid.reshape(-1).to(logits.dtype)
    return (w * ce).sum() / norm


def default_norm(targets, weights):
    return float((weights * (targets >= 0).to(weights.dtype)).sum())


# ---- the oracle ---------------------------------------------------------------------------

def run_oracle(c, params_np, tokens_np, targets_np, weights_np, train):
    """Returns a dict of float64 numpy outputs (see the module docstring)."""
    shapes = param_shapes(c)
    P = {}
    for name, shape in shapes.items():
        if name not in params_np:
            raise ValueError(f"input: missing parameter {name}")
        a = np.asarray(params_np[name], dtype=np.float64)
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f"input: {name} has shape {list(a.shape)}, expected {list(shape)}")
        P[name] = torch.tensor(a, dtype=DTYPE, requires_grad=True)
    tokens = torch.tensor(np.asarray(tokens_np), dtype=torch.int64)
    targets = torch.tensor(np.asarray(targets_np), dtype=torch.int64)
    if weights_np is None:
        weights = torch.ones(tokens.shape, dtype=DTYPE)
    else:
        weights = torch.tensor(np.asarray(weights_np, dtype=np.float64), dtype=DTYPE)
    if tokens.dim() != 2 or targets.shape != tokens.shape or weights.shape != tokens.shape:
        raise ValueError("input: tokens, targets, weights must all be [B,T]")
    if tokens.min() < 0 or tokens.max() >= c.vocab or targets.max() >= c.vocab:
        raise ValueError("input: token id out of range")
    norm = train.get("norm")
    norm = default_norm(targets, weights) if norm is None else float(norm)

    out = {}
    logits = forward(c, P, tokens)
    logits.retain_grad()
    loss = loss_fn(logits, targets, weights, norm)
    loss.backward()
    out["logits"] = logits.detach().numpy()
    out["loss"] = np.array([loss.item()])
    out["dlogits"] = logits.grad.numpy()
    for name in shapes:
        out["grad." + name] = P[name].grad.numpy().copy()

    steps = int(train.get("steps", 0))
    decay = [P[n] for n in shapes if decays(n)]
    no_decay = [P[n] for n in shapes if not decays(n)]
    groups = [{"params": decay, "weight_decay": float(train.get("weight_decay", 0.0))},
              {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    opt = torch.optim.AdamW(groups, lr=float(train.get("lr", 1e-3)),
                            betas=(float(train.get("beta1", 0.9)), float(train.get("beta2", 0.999))),
                            eps=float(train.get("eps", 1e-8)))
    clip = float(train.get("grad_clip", 0.0))
    losses, norms = [], []
    params = list(P.values())
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(c, P, tokens), targets, weights, norm)
        loss.backward()
        losses.append(loss.item())
        gn = torch.sqrt(sum((p.grad ** 2).sum() for p in params)).item()
        norms.append(gn)
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, max_norm=clip)
        opt.step()
    out["losses"] = np.array(losses, dtype=np.float64)
    out["grad_norms"] = np.array(norms, dtype=np.float64)
    for name in shapes:
        out["final." + name] = P[name].detach().numpy().copy()
    return out


def main_files(inp, outp):
    tensors, meta = tensorfile.load(inp)
    if "config" not in meta:
        raise ValueError(f"{inp}: metadata 'config' is missing")
    c = Config(json.loads(meta["config"]))
    train = json.loads(meta.get("train", "{}"))
    for k in ("tokens", "targets"):
        if k not in tensors:
            raise ValueError(f"{inp}: tensor '{k}' is missing")
    out = run_oracle(c, tensors, tensors["tokens"], tensors["targets"], tensors.get("weights"),
                     train)
    tensorfile.save(outp, {k: np.asarray(v, dtype=np.float64) for k, v in out.items()},
                    {"config": json.dumps(c.as_dict()), "train": json.dumps(train)})


# ---- self-test ---------------------------------------------------------------------------

def random_params(c, rng, std=0.3):
    P = {}
    for name, shape in param_shapes(c).items():
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            P[name] = 1.0 + 0.2 * rng.standard_normal(shape)
        else:
            P[name] = std * rng.standard_normal(shape)
    return P


def naive_logits(c, P, tokens):
    """Loop-by-loop numpy forward of one batch, written independently of forward(): RoPE
    rotates the explicit pair (i, i + HD/2), attention walks past positions one by one."""
    B, T = tokens.shape
    NH, KVH, HD = c.n_heads, c.n_kv_heads, c.head_dim
    V = c.vocab

    def norm(x, w):
        return x / math.sqrt(float(np.mean(x * x)) + c.norm_eps) * w

    def rope(vec, pos):
        out = vec.copy()
        for i in range(HD // 2):
            a, b = vec[i], vec[i + HD // 2]
            ang = pos * c.rope_theta ** (-2.0 * i / HD)
            out[i] = a * math.cos(ang) - b * math.sin(ang)
            out[i + HD // 2] = a * math.sin(ang) + b * math.cos(ang)
        return out

    logits = np.zeros((B, T, V))
    for bi in range(B):
        xs = [P["model.embed_tokens.weight"][tokens[bi, t]].copy() for t in range(T)]
        for li in range(c.n_layers):
            p = f"model.layers.{li}."
            get = lambda n: P.get(p + n)  # noqa: E731
            ks, vs, qs = [], [], []
            for t in range(T):
                h = norm(xs[t], get("input_layernorm.weight"))
                q = get("self_attn.q_proj.weight") @ h
                k = get("self_attn.k_proj.weight") @ h
                v = get("self_attn.v_proj.weight") @ h
                if c.qkv_bias:
                    q = q + get("self_attn.q_proj.bias")
                    k = k + get("self_attn.k_proj.bias")
                    v = v + get("self_attn.v_proj.bias")
                qs.append([rope(q[hh * HD:(hh + 1) * HD], t) for hh in range(NH)])
                ks.append([rope(k[hh * HD:(hh + 1) * HD], t) for hh in range(KVH)])
                vs.append([v[hh * HD:(hh + 1) * HD] for hh in range(KVH)])
            new = []
            for t in range(T):
                y = np.zeros(NH * HD)
                for hh in range(NH):
                    kv = hh // (NH // KVH)
                    s = np.array([qs[t][hh] @ ks[u][kv] / math.sqrt(HD) for u in range(t + 1)])
                    a = np.exp(s - s.max())
                    a /= a.sum()
                    y[hh * HD:(hh + 1) * HD] = sum(a[u] * vs[u][kv] for u in range(t + 1))
                x = xs[t] + get("self_attn.o_proj.weight") @ y
                h = norm(x, get("post_attention_layernorm.weight"))
                g = get("mlp.gate_proj.weight") @ h
                u_ = get("mlp.up_proj.weight") @ h
                x = x + get("mlp.down_proj.weight") @ (g / (1.0 + np.exp(-g)) * u_)
                new.append(x)
            xs = new
        head = P["model.embed_tokens.weight"] if c.tied_embeddings else P["lm_head.weight"]
        for t in range(T):
            logits[bi, t] = head @ norm(xs[t], P["model.norm.weight"])
    return logits


def naive_adamw_step(P, G, decays_of, lr, b1, b2, eps, wd):
    """One AdamW step from zero moments, from the formula (Loshchilov & Hutter, PyTorch's
    placement of eps): p <- p(1 - lr wd) - lr * mhat / (sqrt(vhat) + eps)."""
    out = {}
    for n, p in P.items():
        g = G[n]
        m = (1 - b1) * g
        v = (1 - b2) * g * g
        mhat, vhat = m / (1 - b1), v / (1 - b2)
        w = wd if decays_of(n) else 0.0
        out[n] = p * (1 - lr * w) - lr * mhat / (np.sqrt(vhat) + eps)
    return out


def selftest():
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    rng = np.random.default_rng(1234)
    configs = [
        dict(vocab=11, dim=8, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=0, hidden_dim=12,
             max_seq=8, rope_theta=10000.0, norm_eps=1e-5, tied_embeddings=0, qkv_bias=1),
        dict(vocab=13, dim=12, n_layers=1, n_heads=2, n_kv_heads=1, head_dim=0, hidden_dim=20,
             max_seq=8, rope_theta=100.0, norm_eps=1e-6, tied_embeddings=1, qkv_bias=0),
    ]
    for ci, cd in enumerate(configs):
        c = Config(cd)
        B, T = 2, 5
        Pn = random_params(c, rng)
        tokens = rng.integers(0, c.vocab, size=(B, T)).astype(np.int32)
        targets = rng.integers(0, c.vocab, size=(B, T)).astype(np.int32)
        targets[0, 1] = -1
        weights = rng.uniform(0.2, 1.5, size=(B, T))
        train = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, steps=1)

        out = run_oracle(c, Pn, tokens, targets, weights, train)

        # 1. forward against the naive loop implementation
        ref = naive_logits(c, Pn, tokens)
        err = np.abs(out["logits"] - ref).max()
        check(err < 1e-10, f"config {ci}: logits match the naive forward (max err {err:.2e})")

        # 2. loss by hand
        lp = ref - ref.max(-1, keepdims=True)
        lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
        valid = targets >= 0
        ce = -np.take_along_axis(lp, np.maximum(targets, 0)[..., None], -1)[..., 0]
        want = (weights * valid * ce).sum() / (weights * valid).sum()
        check(abs(out["loss"][0] - want) < 1e-12, f"config {ci}: loss by hand")

        # 3. every gradient against central finite differences (a sample of entries)
        def loss_at(Pd):
            P_t = {k: torch.tensor(v, dtype=DTYPE) for k, v in Pd.items()}
            with torch.no_grad():
                lo = loss_fn(forward(c, P_t, torch.tensor(tokens, dtype=torch.int64)),
                             torch.tensor(targets, dtype=torch.int64),
                             torch.tensor(weights, dtype=DTYPE),
                             default_norm(torch.tensor(targets), torch.tensor(weights)))
            return lo.item()

        h = 1e-5
        worst = 0.0
        nchecked = 0
        for name in param_shapes(c):
            flat = Pn[name].reshape(-1)
            idx = rng.choice(flat.size, size=min(6, flat.size), replace=False)
            for j in idx:
                Pp = {k: v.copy() for k, v in Pn.items()}
                Pm = {k: v.copy() for k, v in Pn.items()}
                Pp[name].reshape(-1)[j] += h
                Pm[name].reshape(-1)[j] -= h
                fd = (loss_at(Pp) - loss_at(Pm)) / (2 * h)
                an = out["grad." + name].reshape(-1)[j]
                # relative error, with an absolute floor for entries near zero
                worst = max(worst, abs(fd - an) / max(1e-3, abs(fd) + abs(an)))
                nchecked += 1
        check(worst < 1e-7, f"config {ci}: {nchecked} gradient entries vs central finite "
              f"differences (worst rel {worst:.2e})")

        # 4. one AdamW step with the decay groups, against the formula
        G = {n: out["grad." + n] for n in param_shapes(c)}
        want = naive_adamw_step(Pn, G, decays, train["lr"], train["beta1"], train["beta2"],
                                train["eps"], train["weight_decay"])
        err = max(np.abs(out["final." + n] - want[n]).max() for n in want)
        check(err < 1e-12, f"config {ci}: one AdamW step by the formula (max err {err:.2e})")
        check(abs(out["losses"][0] - out["loss"][0]) < 1e-14, f"config {ci}: losses[0] == loss")

    # 5. clipping: with a tiny max norm the update uses the clipped gradient
    c = Config(configs[0])
    Pn = random_params(c, rng)
    tokens = rng.integers(0, c.vocab, size=(1, 4)).astype(np.int32)
    targets = rng.integers(0, c.vocab, size=(1, 4)).astype(np.int32)
    base = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.0, steps=2, norm=3.0)
    a = run_oracle(c, Pn, tokens, targets, None, dict(base, grad_clip=0.0))
    b = run_oracle(c, Pn, tokens, targets, None, dict(base, grad_clip=1e-3))
    d = max(np.abs(a["final." + n] - b["final." + n]).max() for n in param_shapes(c))
    check(d > 1e-6 and a["grad_norms"][0] > 1e-3, "clipping changes the second step")
    check(abs(a["loss"][0] * 3.0 - run_oracle(c, Pn, tokens, targets, None,
                                               dict(base, norm=1.0))["loss"][0]) < 1e-12,
          "norm divides the loss")

    # 6. file round trip through main_files
    import tempfile
    with tempfile.TemporaryDirectory() as dd:
        inp, outp = os.path.join(dd, "in.safetensors"), os.path.join(dd, "out.safetensors")
        t = {k: v.astype(np.float32) for k, v in Pn.items()}
        t.update(tokens=tokens, targets=targets, weights=np.ones((1, 4), np.float32))
        tensorfile.save(inp, t, {"config": json.dumps(configs[0]), "train": json.dumps(base)})
        main_files(inp, outp)
        o, _ = tensorfile.load(outp)
        check(o["logits"].dtype == np.float64 and o["losses"].shape == (2,)
              and "final.lm_head.weight" in o, "file round trip")

    print("selftest: " + ("FAILED" if failures else "passed"))
    return 1 if failures else 0


def main(argv):
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if len(argv) == 2 and argv[1] == "--selftest":
        return selftest()
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        main_files(argv[1], argv[2])
    except (ValueError, OSError, KeyError) as e:
        print(f"ref_model: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
