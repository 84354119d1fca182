"""Checks the plots of a pipeline report (tinyr1 pipeline's report.html) as a browser built it.

Usage: python3 pipeline_dom.py RUN_DIR DOM_HTML
  RUN_DIR   the pipeline folder (report.html, fig-*.svg, one folder per stage)
  DOM_HTML  what `chromium --headless --dump-dom file://RUN_DIR/report.html` printed (the
            DOM after parsing), or report.html itself when no browser is at hand

The expected values come from the stage folders, not from the report: every training stage's
metrics.jsonl (lines holding "loss", and for GRPO stages "reward" and "response_len") and
the pipeline's eval folders. Checks, each printed as ERROR on failure:
  - every fig-*.svg file of RUN_DIR is a <figure id=NAME> holding an <svg> in the DOM;
  - every data path (<path data-n=...>) draws exactly data-n points (M/L commands), n >= 1;
  - every training stage has a loss curve with one point per metrics line that has a loss;
  - every GRPO stage has a reward and a response-length curve with one point per step;
  - the pass@1 chart has one bar per (model, task) pair and an error bar for each.
Exit status 1 when anything is missing or empty; the last line sums up what was found."""
import glob
import json
import os
import re
import sys
from html.parser import HTMLParser


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figure = None  # id of the <figure> we are in
        self.figures = {}  # id -> {"svg": n, "paths": [attrs], "bars": n, "errs": n}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure":
            self.figure = a.get("id", "")
            self.figures[self.figure] = {"svg": 0, "paths": [], "bars": 0, "errs": 0}
            return
        f = self.figures.get(self.figure) if self.figure is not None else None
        if f is None:
            return
        if tag == "svg":
            f["svg"] += 1
        elif tag == "path" and "data-n" in a:
            f["paths"].append(a)
        elif tag == "path" and a.get("class") == "err":
            f["errs"] += 1
        elif tag == "rect" and a.get("class") == "bar":
            f["bars"] += 1

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figure = None


def metric_lines(path, field):
    """Lines of a metrics.jsonl that hold `field` (the report plots one point per line)."""
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row.get(field), (int, float)):
                n += 1
    return n


def series(fig, name):
    return [p for p in fig["paths"] if p.get("data-series") == name] if fig else []


def main():
    run, dom_file = sys.argv[1], sys.argv[2]
    dom = Dom()
    dom.feed(open(dom_file, encoding="utf-8").read())
    errors = []
    files = sorted(os.path.basename(f)[:-4] for f in glob.glob(os.path.join(run, "fig-*.svg")))
    if not files:
        errors.append("no fig-*.svg in the run folder")
    for name in files:
        f = dom.figures.get(name)
        if f is None or f["svg"] != 1:
            errors.append(f"figure {name}: not in the rendered page (or without its <svg>)")
    points = 0
    for name, f in dom.figures.items():
        for p in f["paths"]:
            n = int(p["data-n"])
            drawn = len(re.findall(r"[ML]", p.get("d", "")))
            points += drawn
            if n < 1 or drawn != n:
                errors.append(f"figure {name}, series {p.get('data-series')}: "
                              f"{drawn} points drawn, data-n {n}")
    stages = 0
    for metrics in sorted(glob.glob(os.path.join(run, "*", "metrics.jsonl"))):
        stage = os.path.basename(os.path.dirname(metrics))
        n_loss = metric_lines(metrics, "loss")
        if n_loss == 0:
            continue
        stages += 1
        fig = dom.figures.get(f"fig-{stage}-loss")
        if n_loss < 2:
            errors.append(f"stage {stage}: only {n_loss} metrics line with a loss")
        if not any(int(p["data-n"]) == n_loss for p in series(fig, "loss")):
            errors.append(f"stage {stage}: no loss curve with its {n_loss} points")
        n_reward = metric_lines(metrics, "reward")
        for field in ("reward", "response_len") if n_reward else ():
            figs = [f for k, f in dom.figures.items() if k.startswith(f"fig-{stage}-")]
            if not any(int(p["data-n"]) == n_reward for f in figs for p in series(f, field)):
                errors.append(f"GRPO stage {stage}: no {field} curve with its {n_reward} points")
    if stages == 0:
        errors.append("no training stage with a loss in its metrics.jsonl")
    evals = glob.glob(os.path.join(run, "eval", "*", "eval.json"))
    bars = dom.figures.get("fig-pass1")
    if bars is None:
        errors.append("no pass@1 chart (figure fig-pass1)")
    elif bars["bars"] != len(evals) or bars["errs"] != len(evals) or not evals:
        errors.append(f"pass@1 chart: {bars['bars']} bars and {bars['errs']} error bars for "
                      f"{len(evals)} evaluations")
    print(f"{len(dom.figures)} figures, {sum(len(f['paths']) for f in dom.figures.values())} "
          f"data paths, {points} points, {stages} training stages, {len(evals)} evaluations")
    for e in errors:
        print("ERROR", e)
    sys.exit(1 if errors else 0)


main()
