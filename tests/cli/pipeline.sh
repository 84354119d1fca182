#!/usr/bin/env bash
# tinyr1 pipeline --preset quick end to end: every stage runs, the report's tables are
# filled (not their numbers: the quick preset is a smoke run), the report renders in headless
# Chromium with every plot present and holding its data points (tests/render/pipeline_dom.py
# on the DOM Chromium built, plus a screenshot that is not blank), a killed pipeline resumes
# and ends with the same evaluation numbers as an uninterrupted one.
# Without chromium the plot checks run on report.html's own markup and the screenshot is
# skipped, with a NOTE (scripts/install-deps.sh installs chromium; the render test needs it).
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

"$bin" pipeline --preset quick --out "$tmp/a" > "$tmp/a.log" 2>&1
rc=$?
check "quick pipeline exits 0" "[ $rc -eq 0 ]"
[ $rc -eq 0 ] || tail -30 "$tmp/a.log"
check "report.md and report.html exist" "[ -s '$tmp/a/report.md' ] && [ -s '$tmp/a/report.html' ]"
check "accuracy table has a row per model with numbers" \
  "[ \$(sed 's/\\\\_/_/g' '$tmp/a/report.md' | grep -cE '^\| (base|r1zero|coldstart|teacher|student_seq|student_kd|student_onpolicy|student_rl) \| [0-9.]+%') -eq 8 ]"
check "the pass@1 chart has bars" "grep -q '<rect' '$tmp/a/fig-pass1.svg'"
check "every evaluation wrote eval.json" "[ \$(ls '$tmp'/a/eval/*/eval.json | wc -l) -eq 8 ]"
check "a cost table is in the report" "grep -qi 'MFU' '$tmp/a/report.md'"
check "every stage is marked done" "[ \$(find '$tmp/a' -name .done | wc -l) -eq 24 ]"
check "every stage wrote its wall and CPU time" "[ \$(find '$tmp/a' -name stage.json | wc -l) -eq 24 ] && grep -q 'Time per stage' '$tmp/a/report.md'"
check "every GRPO stage wrote cost.json" \
  "( for s in r1zero rl teacher student_rl; do grep -q '\"generate\"' '$tmp/a/'\$s/cost.json || exit 1; done )"
check "the cost table has a row per training stage" \
  "[ \$(sed 's/\\\\_/_/g' '$tmp/a/report.md' | grep -cE '^\| (base|r1zero|coldstart|rl|rs_sft|teacher|student_base|student_seq|student_kd|student_onpolicy|student_cold|student_rl) \| [0-9.]+[kMG]? \| [0-9.]+e\+[0-9]+ \|') -eq 12 ]"

# the report renders: the plots are in the page Chromium built, each with its data points
chrome=$(command -v chromium || command -v chromium-browser || true)
dom="$tmp/a/report.html"
if [ -n "$chrome" ] && [ -s "$tmp/a/report.html" ]; then
  run_chrome() {
    timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars \
      --no-first-run --user-data-dir="$tmp/profile" "$@" "file://$tmp/a/report.html" 2>>"$tmp/chrome.log"
  }
  run_chrome --dump-dom > "$tmp/dom.html"
  check "chromium renders report.html (--dump-dom)" "[ -s '$tmp/dom.html' ]"
  dom="$tmp/dom.html"
  (cd "$tmp" && run_chrome --screenshot="$tmp/shot.png" --window-size=1200,12000 > /dev/null)
  check "chromium takes a screenshot of the report" "[ -s '$tmp/shot.png' ]"
  if [ -s "$tmp/shot.png" ]; then
    read -r w h nonwhite colored blue < <("$py" "$here/../render/png_stats.py" "$tmp/shot.png")
    echo "screenshot ${w}x${h}: non-white $nonwhite, coloured $colored, first series colour $blue"
    check "the screenshot is not blank (text, and coloured plot series)" \
      "$py -c 'import sys; n,c,b=map(float,sys.argv[1:]); sys.exit(not (0.01 < n < 0.6 and c > 0.0005 and b > 0.0001))' $nonwhite $colored $blue"
    if [ -n "${TINYR1_RENDER_KEEP:-}" ]; then mkdir -p "$TINYR1_RENDER_KEEP"; cp "$tmp/shot.png" "$TINYR1_RENDER_KEEP/pipeline.png"; fi
  fi
else
  echo "NOTE: chromium is not installed: the plots are checked in report.html's markup, no screenshot (scripts/install-deps.sh installs chromium)"
fi
"$py" "$here/../render/pipeline_dom.py" "$tmp/a" "$dom" > "$tmp/dom.check" 2>&1
rc=$?
cat "$tmp/dom.check"
check "every plot of the report is present and holds its data points" "[ $rc -eq 0 ]"
[ $rc -eq 0 ] || [ ! -s "$tmp/chrome.log" ] || tail -5 "$tmp/chrome.log"
check "a bad preset is refused with its name" \
  "! '$bin' pipeline --preset nosuch --out '$tmp/x' > '$tmp/e' 2>&1 && grep -q nosuch '$tmp/e'"
check "an unknown --set variable is refused" \
  "! '$bin' pipeline --preset quick --set bogus=1 --list > '$tmp/e' 2>&1 && grep -q bogus '$tmp/e'"

# resume: kill the pipeline during a training stage, run again with --resume
"$bin" pipeline --preset quick --out "$tmp/b" > "$tmp/b.log" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do [ -f "$tmp/b/coldstart/checkpoint.bin" ] && break; sleep 0.1; done
kill -INT $pid
wait $pid
check "interrupted pipeline exits 130" "[ $? -eq 130 ]"
"$bin" pipeline --preset quick --out "$tmp/b" --resume > "$tmp/b2.log" 2>&1
check "resumed pipeline finishes" "[ \$? -eq 0 ] && [ -s '$tmp/b/report.md' ]"
check "it skipped the finished stages" "grep -q 'done earlier, skipped' '$tmp/b2.log'"
same=1
for f in "$tmp"/a/eval/*/eval.json; do
  g="$tmp/b/eval/$(basename "$(dirname "$f")")/eval.json"
  # the numbers, without the timing field
  a=$(sed 's/"seconds":[^,]*,//' "$f"); b=$(sed 's/"seconds":[^,]*,//' "$g" 2>/dev/null)
  [ "$a" = "$b" ] || { same=0; echo "differs: $f"; }
done
check "resumed run's evaluation numbers equal the uninterrupted run's" "[ $same -eq 1 ]"
echo "cli_pipeline: $pass passed, $fail failed"
[ $fail -eq 0 ]
