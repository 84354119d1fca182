#!/usr/bin/env python3
"""Markdown tables of a tinyr1 grpo run: held-out evaluations and per-step curves.
Usage: examples/grpo_table.py RUN_DIR [EVERY]"""
import json
import sys

run = sys.argv[1]
every = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rows = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
evals = [r for r in rows if r["stage"] == "grpo_eval"]
steps = [r for r in rows if r["stage"] == "grpo"]
print("| step | held-out pass@1 | format | language | length |")
print("|---:|---:|---:|---:|---:|")
for r in evals:
    print(f"| {r['step']} | {100 * r['pass1']:.1f}% | {r['format']:.3f} | {r['language']:.3f} | "
          f"{r['length']:.1f} |")
print()
comps = [k[7:] for k in steps[0] if k.startswith("reward_") and not k.endswith("_std") and k != "reward_seconds"] if steps else []
head = ["step", "reward"] + ["r_" + c for c in comps] + ["correct", "length", "entropy", "zero-std groups",
                                    "gen s", "train s"]
print("| " + " | ".join(head) + " |")
print("|" + "---:|" * len(head))
for r in steps:
    if r["step"] % every and r["step"] != steps[-1]["step"]:
        continue
    cells = [str(r["step"]), f"{r['reward']:.3f} ± {r['reward_std']:.3f}"]
    cells += [f"{r['reward_' + c]:.3f}" for c in comps]
    cells += [f"{r['accuracy']:.3f}", f"{r['response_len']:.1f}", f"{r['entropy']:.3f}",
              f"{r['zero_var_frac']:.2f}", f"{r['gen_seconds']:.1f}",
              f"{r['train_seconds'] + r['ref_seconds']:.1f}"]
    print("| " + " | ".join(cells) + " |")
if steps:
    g = sum(r["gen_seconds"] for r in steps) / len(steps)
    t = sum(r["train_seconds"] + r["ref_seconds"] for r in steps) / len(steps)
    w = sum(r["reward_seconds"] for r in steps) / len(steps)
    print(f"\nmean per step: generation {g:.1f} s, rewards {w:.2f} s, training {t:.1f} s "
          f"({100 * g / (g + t + w):.0f}% generating)")
