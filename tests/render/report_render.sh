#!/usr/bin/env bash
# Render test (CTest label "render"): headless Chromium opens the HTML reports that
# `tinyr1 report` (on a synthetic four-stage pipeline) and the chart gallery of test_report
# write, and checks what it rendered:
#   - the DOM after loading: one <svg> per figure file, every series' path holding as many
#     points as its data-n says and as many as the metrics have, bars and error bars present,
#     text with <, & and > shown as text;
#   - a screenshot at 1200x2000: a PNG of that size, not blank (non-white and coloured pixels,
#     and the first series colour present).
# Needs chromium (scripts/install-deps.sh installs it): without it the test FAILS.
# Usage: bash report_render.sh TINYR1_BINARY TEST_REPORT_BINARY
set -u
bin=$1
gallery_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
    echo "FAIL: chromium is not installed; run scripts/install-deps.sh (Debian package 'chromium')"
    exit 1
fi
run_chrome() { # URL, then extra flags; stdout is the page output (--dump-dom)
    local url=$1; shift
    timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --no-first-run --user-data-dir="$tmp/profile" "$@" "$url" 2>>"$tmp/chrome.log"
}

"$py" "$here/make_pipeline.py" "$tmp/run" > "$tmp/lines" || { echo "FAIL: make_pipeline.py"; exit 1; }
"$bin" report "$tmp/run" --out "$tmp/out" > "$tmp/report.log" 2>&1
check "tinyr1 report succeeds" "[ \$? -eq 0 ] && [ -s '$tmp/out/report.html' ] && [ -s '$tmp/out/report.md' ]"
"$gallery_bin" "$tmp/gallery" > "$tmp/gallery.log" 2>&1
check "test_report writes the gallery" "[ \$? -eq 0 ] && [ -s '$tmp/gallery/report.html' ]"

for name in out gallery; do
    dir="$tmp/$name"
    [ -s "$dir/report.html" ] || continue
    run_chrome "file://$dir/report.html" --dump-dom > "$dir/dom.html"
    check "$name: chromium --dump-dom" "[ -s '$dir/dom.html' ]"
    "$py" - "$dir" "$name" "$tmp/lines" > "$dir/dom.check" 2>&1 <<'PY'
import glob, os, re, sys
from html.parser import HTMLParser
d, name, lines_file = sys.argv[1], sys.argv[2], sys.argv[3]

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.svgs, self.paths, self.bars, self.errs, self.series_g = 0, [], 0, 0, []
        self.texts, self.in_text, self.h1 = [], False, None
        self.in_h1 = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg": self.svgs += 1
        if tag == "path" and "data-n" in a: self.paths.append(a)
        if tag == "rect" and a.get("class") == "bar": self.bars += 1
        if tag == "path" and a.get("class") == "err": self.errs += 1
        if tag == "g" and "data-n" in a: self.series_g.append(a)
        if tag == "h1": self.in_h1 = True
    def handle_endtag(self, tag):
        if tag == "h1": self.in_h1 = False
    def handle_data(self, data):
        if self.in_h1: self.h1 = (self.h1 or "") + data

p = P()
p.feed(open(os.path.join(d, "dom.html"), encoding="utf-8").read())
errors = []
figs = len(glob.glob(os.path.join(d, "*.svg")))
if p.svgs != figs: errors.append(f"{p.svgs} <svg> elements for {figs} figure files")
for a in p.paths:
    pts = len(re.findall(r"[ML]", a.get("d", "")))
    if pts != int(a["data-n"]):
        errors.append(f"path {a.get('data-series')}: {pts} points, data-n {a['data-n']}")
if name == "out":
    lines = dict(l.split() for l in open(lines_file))
    # every stage's loss curve holds every metrics line
    for stage, n in lines.items():
        ok = [a for a in p.paths if a.get("data-series") == "loss" and a["data-n"] == n]
        if not ok: errors.append(f"no loss path with {n} points (stage {stage})")
    for field in ("reward", "accuracy", "response_len", "kl", "entropy", "clip_frac",
                  "zero_var_frac", "lr", "grad_norm", "tok_s", "mfu", "kd", "ce", "pg"):
        if not any(a.get("data-series") == field for a in p.paths):
            errors.append(f"no chart of {field}")
    if p.h1 != "tinyr1 run report: run": errors.append(f"title {p.h1!r}")
else:
    if p.bars != 14 + 6: errors.append(f"{p.bars} bars, expected 20")
    if p.errs != 14: errors.append(f"{p.errs} error bars, expected 14")
    if p.h1 != "tinyr1 chart gallery <test & check>": errors.append(f"title {p.h1!r}")
print(f"{p.svgs} svg, {len(p.paths)} paths, {sum(int(a['data-n']) for a in p.paths)} points")
for e in errors: print("ERROR", e)
sys.exit(1 if errors else 0)
PY
    rc=$?
    cat "$dir/dom.check"
    check "$name: rendered DOM holds every figure and data point" "[ $rc -eq 0 ]"

    (cd "$dir" && run_chrome "file://$dir/report.html" --screenshot="$dir/shot.png" \
        --window-size=1200,2000 > /dev/null)
    check "$name: screenshot written" "[ -s '$dir/shot.png' ]"
    if [ -s "$dir/shot.png" ]; then
        read -r w h nonwhite colored blue < <("$py" "$here/png_stats.py" "$dir/shot.png")
        echo "$name: screenshot ${w}x${h}, non-white $nonwhite, coloured $colored, series blue $blue"
        check "$name: screenshot is 1200x2000" "[ '$w' = 1200 ] && [ '$h' = 2000 ]"
        check "$name: screenshot is not blank" \
            "$py -c 'import sys; n,c,b=map(float,sys.argv[1:]); sys.exit(not (0.02 < n < 0.6 and c > 0.001 and b > 0.0005))' $nonwhite $colored $blue"
    fi
    if [ -n "${TINYR1_RENDER_KEEP:-}" ]; then mkdir -p "$TINYR1_RENDER_KEEP"; cp "$dir/shot.png" "$TINYR1_RENDER_KEEP/$name.png" 2>/dev/null; fi
done
if [ $fail -ne 0 ]; then echo "--- chromium log"; tail -20 "$tmp/chrome.log"; fi
echo "render_report: $pass passed, $fail failed"
[ $fail -eq 0 ]
