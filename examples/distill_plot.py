#!/usr/bin/env python3
"""Figures for a distillation comparison: KL(teacher || student) per training step of each
run (from RUN/metrics.jsonl, the "kl" part) as an SVG, and the held-out results
(OUT/results.jsonl) as a Markdown table. Usage: distill_plot.py OUT_DIR [KEY]"""
import json, math, os, sys

out = sys.argv[1]
key = sys.argv[2] if len(sys.argv) > 2 else "kl"
res = [json.loads(l) for l in open(os.path.join(out, "results.jsonl"))]
curves = {}
for r in res:
    pts = []
    for line in open(os.path.join(out, r["run"], "metrics.jsonl")):
        m = json.loads(line)
        if key in m:
            pts.append((m["step"], m[key]))
    curves[r["run"]] = pts

W, H, L, B = 640, 360, 60, 40
xs = [s for p in curves.values() for s, _ in p]
ys = [v for p in curves.values() for _, v in p]
x0, x1 = min(xs), max(xs)
y0, y1 = 0.0, max(ys) * 1.05
def sx(x): return L + (x - x0) / max(x1 - x0, 1) * (W - L - 20)
def sy(y): return H - B - (y - y0) / (y1 - y0) * (H - B - 20)
colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="20" x2="{L}" y2="{H-B}" stroke="black"/>',
       f'<text x="{W/2}" y="{H-8}" text-anchor="middle">step</text>',
       f'<text x="14" y="{H/2}" transform="rotate(-90 14 {H/2})" text-anchor="middle">{key} (nats/token, training batch)</text>']
for i in range(5):
    y = y0 + (y1 - y0) * i / 4
    svg.append(f'<text x="{L-6}" y="{sy(y)+4:.1f}" text-anchor="end">{y:.2f}</text>')
    svg.append(f'<line x1="{L}" y1="{sy(y):.1f}" x2="{W-20}" y2="{sy(y):.1f}" stroke="#ddd"/>')
for i in range(5):
    x = x0 + (x1 - x0) * i / 4
    svg.append(f'<text x="{sx(x):.1f}" y="{H-B+16}" text-anchor="middle">{x:.0f}</text>')
for i, (name, pts) in enumerate(curves.items()):
    c = colors[i % len(colors)]
    d = " ".join(f"{sx(s):.1f},{sy(v):.1f}" for s, v in pts)
    svg.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{d}"/>')
    svg.append(f'<text x="{W-30}" y="{36+16*i}" text-anchor="end" fill="{c}">{name}</text>')
svg.append("</svg>")
open(os.path.join(out, f"{key}_curves.svg"), "w").write("\n".join(svg))

print("| run | held-out NLL (nats/token) | KL(teacher \u2016 student) | train seconds |")
print("|---|---|---|---|")
for r in res:
    print(f"| {r['run']} | {r['nll']:.4f} | {r.get('kl_teacher_student', float('nan')):.4f} | {r.get('train_seconds', '')} |")
if res and "teacher_nll" in res[0]:
    print(f"\nTeacher's own NLL on the held-out samples: {res[0]['teacher_nll']:.4f} nats/token "
          f"({res[0]['tokens']} tokens).")
