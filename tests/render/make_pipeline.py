"""Writes a synthetic pipeline folder like the R1 recipe's (base/, r1zero/, teacher/,
students/kd/) with metrics.jsonl, args.json and cost.json in the documented formats, for the
report render test. Deterministic (fixed seed). Prints the number of metrics lines per stage
as "stage lines" pairs."""
import json
import math
import os
import random
import sys

root = sys.argv[1]
rng = random.Random(5)
base_time = 1_700_000_000


def cost(stage, seconds, tokens, flops, gen=(0, 0, 0)):
    phases = {"train": {"seconds": seconds, "tokens": tokens, "flops": flops, "calls": 100}}
    if gen[0] > 0:
        phases["generate"] = {"seconds": gen[0], "tokens": gen[1], "flops": gen[2], "calls": 50}
    return {"format": "tinyr1-cost", "version": 1, "stage": stage,
            "model": {"vocab": 512, "dim": 64, "n_layers": 4, "n_heads": 4, "n_kv_heads": 2,
                      "head_dim": 16, "hidden_dim": 192, "tied_embeddings": 1, "qkv_bias": 0,
                      "params": 232000, "params_matmul": 229000},
            "machine": {"cpu": "test CPU", "threads": 2, "peak_gflops": 120.0,
                        "peak_source": "env"},
            "wall_seconds": seconds + gen[0] + 3.5, "peak_rss_bytes": 180 * 2**20,
            "phases": phases}


def write(stage_dir, command, rows, cost_doc, order):
    d = os.path.join(root, stage_dir)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "metrics.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(d, "args.json"), "w") as f:
        json.dump({"command": command, "version": "0.1.0",
                   "options": {"steps": len(rows), "lr": 0.003, "out": d, "note": "a<b & c"}},
                  f, indent=2)
    with open(os.path.join(d, "cost.json"), "w") as f:
        json.dump(cost_doc, f, indent=2)
    t = base_time + 1000 * order  # the stages ran in this order
    for name in ("metrics.jsonl", "args.json", "cost.json"):
        os.utime(os.path.join(d, name), (t, t))
    print(stage_dir, len(rows))


def lr_at(s, n, peak=3e-3, warm=20):
    return peak * s / warm if s < warm else peak * 0.5 * (1 + math.cos(math.pi * (s - warm) / (n - warm)))


n = 400
rows = []
for s in range(1, n + 1):
    loss = 1.6 + 4.6 * math.exp(-s / 60) + rng.gauss(0, 0.08)
    rows.append({"stage": "pretrain", "step": s, "loss": loss, "lr": lr_at(s, n),
                 "grad_norm": 0.3 + 3 * math.exp(-s / 40) * abs(1 + rng.gauss(0, 0.4)),
                 "tokens": 256 * s, "tok_s": 5000 + rng.gauss(0, 300), "elapsed": 0.05 * s,
                 "mfu": 0.42 + rng.gauss(0, 0.02)})
write("base", "pretrain", rows, cost("pretrain", 20.0, 256 * n, 6 * 229000 * 256 * n), 1)

n = 200
rows = []
for s in range(1, n + 1):
    acc = min(0.95, 0.1 + 0.6 * (1 - math.exp(-s / 70)) + rng.gauss(0, 0.05))
    rows.append({"stage": "grpo", "step": s, "loss": rng.gauss(0, 0.02), "lr": 1e-5,
                 "grad_norm": 0.5 + abs(rng.gauss(0, 0.2)), "tokens": 4096 * s,
                 "reward": acc * 1.1 + rng.gauss(0, 0.03), "reward_std": 0.3,
                 "accuracy": acc, "response_len": 40 + 80 * (1 - math.exp(-s / 90)) + rng.gauss(0, 4),
                 "kl": 0.002 * s / 20 + abs(rng.gauss(0, 0.001)), "clip_frac": abs(rng.gauss(0.05, 0.02)),
                 "entropy": 1.8 * math.exp(-s / 150) + 0.3, "zero_var_frac": max(0, 0.5 - s / 500),
                 "pg": rng.gauss(0, 0.02), "elapsed": 0.4 * s})
write("r1zero", "grpo", rows, cost("grpo", 30.0, 4096 * n, 4.2e12, (50.0, 300000, 2.1e12)), 2)

n = 150
rows = [{"stage": "sft", "step": s, "loss": 0.9 + 1.5 * math.exp(-s / 30) + rng.gauss(0, 0.05),
         "ce": 0.9 + 1.5 * math.exp(-s / 30), "lr": 1e-3, "grad_norm": 0.8, "tokens": 512 * s,
         "elapsed": 0.1 * s} for s in range(1, n + 1)]
write("teacher", "sft", rows, cost("sft", 15.0, 512 * n, 1.1e11), 3)

n = 120
rows = [{"stage": "distill", "step": s, "loss": 1.2 * math.exp(-s / 40) + 0.4 + rng.gauss(0, 0.03),
         "kd": 0.8 * math.exp(-s / 40) + 0.2, "ce": 0.4 * math.exp(-s / 40) + 0.2,
         "lr": 1e-3, "grad_norm": 0.6, "tokens": 512 * s, "elapsed": 0.12 * s}
        for s in range(1, n + 1)]
write("students/kd", "distill", rows, cost("distill", 14.0, 512 * n, 9e10), 4)
