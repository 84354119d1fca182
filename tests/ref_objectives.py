#!/usr/bin/python3
"""PyTorch oracle for tinyr1's KD and GRPO objectives (tests/parity_objectives.c drives it).

Written from the papers' formulas (Hinton 2015; MiniLLM; GKD, Agarwal et al. 2024;
DistiLLM, Ko et al. 2024; DeepSeek-R1 / Dr. GRPO / DAPO), in float64, with autograd
giving every gradient. It deliberately computes things the direct way (mixtures in
probability space, the rest bucket as a masked sum, torch.min/torch.clamp for the clipped
surrogate) so that it is independent of the C code's log-space and closed-form gradients.

Usage: ref_objectives.py DIR
  DIR/manifest.json = {"cases": [ {...}, ... ]}; every input is a raw little-endian file
  (float32 ".f32" or int32 ".i32") in DIR named in the case's "files". Outputs are written
  as raw float64 files DIR/<name>.<what>.f64 (and .i64 for ids).
"""
import json
import math
import os
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
NEG_INF = float("-inf")


def load(d, case, key, shape):
    fn = case["files"].get(key)
    if fn is None:
        return None
    dt = np.int32 if fn.endswith(".i32") else np.float32
    a = np.fromfile(os.path.join(d, fn), dtype=dt)
    return torch.from_numpy(a.reshape(shape).astype(np.int64 if dt == np.int32 else np.float64))


def save(d, name, what, t):
    arr = t.detach().numpy() if torch.is_tensor(t) else np.asarray(t)
    if arr.dtype.kind in "iu":
        arr.astype(np.int64).tofile(os.path.join(d, f"{name}.{what}.i64"))
    else:
        arr.astype(np.float64).tofile(os.path.join(d, f"{name}.{what}.f64"))


def safe_log(x):
    """log x with a zero gradient (not NaN) where x == 0; the value there is -inf."""
    pos = x > 0
    return torch.where(pos, torch.log(torch.where(pos, x, torch.ones_like(x))),
                       torch.full_like(x, NEG_INF))


def plogp_over(p, logp, logm):
    """sum_i p_i (log p_i - log m_i) with 0 log 0 = 0, differentiable where p > 0."""
    pos = p > 0
    zero = torch.zeros_like(p)
    term = torch.where(pos, p * (torch.where(pos, logp, zero) - torch.where(pos, logm, zero)), zero)
    return term.sum(-1)


def divergence(kind, p, q, beta, a):
    """D(p, q) per row over the last axis; p teacher, q student (probabilities)."""
    logp, logq = safe_log(p), safe_log(q)
    if kind == "fkl":
        return plogp_over(p, logp, logq)  # KL(p || q)
    if kind == "rkl":
        return plogp_over(q, logq, logp)  # KL(q || p)
    if kind == "jsd":
        m = beta * p + (1 - beta) * q  # beta weighs the teacher
        logm = safe_log(m)
        return beta * plogp_over(p, logp, logm) + (1 - beta) * plogp_over(q, logq, logm)
    if kind == "skl":
        m = a * p + (1 - a) * q
        return plogp_over(p, logp, safe_log(m))
    if kind == "srkl":
        m = (1 - a) * p + a * q
        return plogp_over(q, logq, safe_log(m))
    if kind == "tvd":
        return 0.5 * (p - q).abs().sum(-1)
    raise ValueError(kind)


def effective_kind(kind, beta, a):
    # documented endpoint conventions: JSD beta=0 is forward KL, beta=1 reverse KL;
    # SKL a=0 is forward KL; SRKL a=0 is reverse KL
    if kind == "jsd" and beta == 0:
        return "fkl"
    if kind == "jsd" and beta == 1:
        return "rkl"
    if kind == "skl" and a == 0:
        return "fkl"
    if kind == "srkl" and a == 0:
        return "rkl"
    return kind


def run_kd(d, c):
    N, V, T = c["N"], c["V"], c["T"]
    kind = effective_kind(c["div"], c["beta"], c["skew"])
    z = load(d, c, "student", (N, V)).requires_grad_(True)
    w = load(d, c, "weights", (N,))
    s = z / T
    sparse = "K" in c
    if not sparse:
        u = load(d, c, "teacher", (N, c["ld"]))[:, :V]
        t = u / T
        support = torch.isfinite(t)
        p = torch.softmax(t, -1)
        if kind == "rkl":
            # the student restricted to the teacher's support, renormalised there
            q = torch.softmax(s.masked_fill(~support, NEG_INF), -1)
        else:
            q = torch.softmax(s, -1)
        D = divergence(kind, p, q, c["beta"], c["skew"])
    else:
        K = c["K"]
        ids = load(d, c, "ids", (N, K))
        lpt = load(d, c, "logprobs", (N, K))
        rest = load(d, c, "rest", (N, 1))
        tb = torch.cat([lpt, rest], 1)
        pb = torch.softmax(tb, -1)  # renormalised teacher buckets
        in_topk = torch.zeros(N, V, dtype=torch.bool)
        in_topk.scatter_(1, ids, True)
        s_eff = s
        if kind == "rkl":
            unsupported = torch.zeros(N, V, dtype=torch.bool)
            unsupported.scatter_(1, ids, torch.isinf(lpt))
            unsupported |= (~in_topk) & torch.isinf(rest)
            s_eff = s.masked_fill(unsupported, NEG_INF)
        qfull = torch.softmax(s_eff, -1)
        qk = qfull.gather(1, ids)
        qrest = (qfull * (~in_topk)).sum(-1, keepdim=True)
        qb = torch.cat([qk, qrest], 1)
        D = divergence(kind, pb, qb, c["beta"], c["skew"])
    scale = T * T if c["scale_t2"] else 1.0
    norm = c["norm"]
    kd = (w * scale * D).sum() / norm
    alpha = c["alpha"]
    ce = torch.zeros(())
    if alpha > 0:
        y = load(d, c, "targets", (N,))
        yy = torch.where(w > 0, y, torch.zeros_like(y))
        logq1 = torch.log_softmax(z, -1)  # CE at temperature 1
        ce = (w * -logq1.gather(1, yy[:, None])[:, 0]).sum() / norm
    total = alpha * ce + (1 - alpha) * kd
    total.backward()
    save(d, c["name"], "loss", torch.stack([total, ce, kd]))
    save(d, c["name"], "grad", z.grad)


def run_topk(d, c):
    N, V, K, T = c["N"], c["V"], c["K"], c["T"]
    u = load(d, c, "teacher", (N, c["ld"]))[:, :V]
    logp = torch.log_softmax(u / T, -1)
    vals, ids = torch.topk(logp, K, dim=-1)
    mask = torch.ones(N, V, dtype=torch.bool)
    mask.scatter_(1, ids, False)
    p = torch.exp(logp)
    rest = safe_log((p * mask).sum(-1))
    save(d, c["name"], "ids", ids)
    save(d, c["name"], "lp", vals)
    save(d, c["name"], "rest", rest)


def run_grpo(d, c):
    B, L, V, T = c["B"], c["L"], c["V"], c["T"]
    N = B * L
    z = load(d, c, "logits", (N, V)).requires_grad_(True)
    y = load(d, c, "targets", (N,))
    m = load(d, c, "mask", (N,))
    A = load(d, c, "adv", (N,))
    old = load(d, c, "old", (N,))
    ref = load(d, c, "ref", (N,))
    lo, hi, beta = 1 - c["eps_low"], 1 + c["eps_high"], c["beta"]
    yy = torch.where(m > 0, y, torch.zeros_like(y))
    logq = torch.log_softmax(z / T, -1)
    lp = logq.gather(1, yy[:, None])[:, 0]
    if old is None:
        old = lp.detach()
    ratio = torch.exp(lp - old)
    pg = torch.min(ratio * A, torch.clamp(ratio, lo, hi) * A)
    per_tok = -pg
    k3 = torch.zeros(N)
    if ref is not None:
        k3 = torch.exp(ref - lp) - (ref - lp) - 1
        if beta > 0:
            per_tok = per_tok + beta * k3
    agg = c["agg"]
    if agg == "grpo":
        pt = (per_tok * m).view(B, L).sum(1)
        cnt = m.view(B, L).sum(1)
        loss = torch.where(cnt > 0, pt / cnt.clamp(min=1e-300), torch.zeros_like(pt)).sum() / c["G"]
    elif agg == "dr_grpo":
        loss = (per_tok * m).sum() / (c["Lmax"] * c["G"])
    elif agg == "dapo":
        loss = (per_tok * m).sum() / c["num_tokens"]
    else:
        raise ValueError(agg)
    loss.backward()
    q = torch.exp(logq.detach())
    ent = -(q * logq.detach()).sum(-1)
    r = ratio.detach()
    stats = torch.stack([m.sum(), (m * k3.detach()).sum(), (m * r).sum(),
                         (m * ((r < lo) & (A < 0)).double()).sum(),
                         (m * ((r > hi) & (A > 0)).double()).sum(), (m * ent).sum()])
    save(d, c["name"], "loss", loss.reshape(1))
    save(d, c["name"], "grad", z.grad)
    save(d, c["name"], "stats", stats)


def run_logprobs(d, c):
    N, V, T = c["N"], c["V"], c["T"]
    z = load(d, c, "logits", (N, V))
    y = load(d, c, "targets", (N,))
    logq = torch.log_softmax(z / T, -1)
    save(d, c["name"], "logp", logq.gather(1, y[:, None])[:, 0])
    save(d, c["name"], "entropy", -(logq.exp() * logq).sum(-1))


def run_adv(d, c):
    G, S, eps = c["groups"], c["size"], c["eps"]
    r = load(d, c, "rewards", (G, S))
    mean = r.mean(1, keepdim=True)
    if c["scale"] == "group":
        std = r.std(1, keepdim=True)  # torch.std: sample (n - 1), as TRL
        adv = (r - mean) / (std + eps)
    elif c["scale"] == "batch":
        adv = (r - mean) / (r.std() + eps)
    else:
        adv = r - mean
    zero = (r.max(1).values == r.min(1).values).double().mean()
    save(d, c["name"], "adv", adv.reshape(-1))
    save(d, c["name"], "zero", zero.reshape(1))


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "manifest.json")) as f:
        manifest = json.load(f)
    runners = {"kd": run_kd, "topk": run_topk, "grpo": run_grpo, "logprobs": run_logprobs,
               "adv": run_adv}
    for c in manifest["cases"]:
        runners[c["type"]](d, c)
    print(f"ref_objectives.py: {len(manifest['cases'])} cases, torch {torch.__version__}")


if __name__ == "__main__":
    main()
