#!/usr/bin/env python3
"""Markdown table of `tinyr1 eval --json` results (examples/add_teacher.sh's add_eval), one row
per model, and the change of each measure from the first row to each later one.
Usage: examples/eval_table.py LABEL=eval_NAME.json [LABEL=eval_NAME.json ...]
When eval_NAME/samples.jsonl is there, two more columns tell the arithmetic from the format:
the share of answers (greedy; samples) whose last number is the gold answer, whether or not the
answer is in the verifiable <answer> tags (the verifier gives "So the answer is 137." 0)."""
import json
import os
import re
import sys


def any_format(samples):
    """Greedy and sampled share of responses whose last number equals the gold answer."""
    hits = {"greedy": [0, 0], "sample": [0, 0]}
    for line in open(samples):
        s = json.loads(line)
        nums = re.findall(r"-?\d+", s["response"])
        h = hits[s["kind"]]
        h[0] += bool(nums) and nums[-1] == s["gold"]
        h[1] += 1
    return {k: a / n if n else float("nan") for k, (a, n) in hits.items()}


rows = []
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    r = json.load(open(path))
    samples = os.path.join(path[:-len(".json")], "samples.jsonl")
    r["any"] = any_format(samples) if os.path.exists(samples) else None
    rows.append((label, r))
keys = [("greedy", "greedy pass@1"), ("pass@1", "pass@1 (T 0.6, 8 samples)"),
        ("pass@8", "pass@8 (T 0.6)")]
anyk = all(r["any"] for _, r in rows)


def cell(r, k):
    v = r[k]
    return f"{100 * v['value']:.1f}% ({100 * v['lo']:.1f}-{100 * v['hi']:.1f})"


head = [h for _, h in keys] + ["well formed (samples)"]
if anyk:
    head += ["right in any format: greedy", "samples"]
print("| model | " + " | ".join(head) + " |")
print("|---|" + "---:|" * len(head))
for label, r in rows:
    cells = [cell(r, k) for k, _ in keys] + [f"{r['well_formed']['value']:.3f}"]
    if anyk:
        cells += [f"{100 * r['any']['greedy']:.1f}%", f"{100 * r['any']['sample']:.1f}%"]
    print(f"| {label} | " + " | ".join(cells) + " |")
base = rows[0][1]
for label, r in rows[1:]:
    d = [f"{h} {100 * (r[k]['value'] - base[k]['value']):+.1f}" for k, h in keys]
    if anyk:
        d += [f"right in any format {100 * (r['any'][k] - base['any'][k]):+.1f} ({k})"
              for k in ("greedy", "sample")]
    print(f"\n{label} vs {rows[0][0]}: " + ", ".join(d) + " points", end="")
print()
