#!/usr/bin/env bash
# tinyr1 report end to end: help and bad input, a real (short) pretraining run turned into
# report.md/report.html with every metrics line in the loss chart, a pipeline folder, a
# corrupt metrics.jsonl named by file:line, a diverged run (nan) still reported.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() { if eval "$2"; then pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi; }

"$bin" report --help > "$tmp/help" 2>&1
check "help exits 0 and lists --out" "[ \$? -eq 0 ] && grep -q -- '--out' '$tmp/help'"
"$bin" report > "$tmp/out" 2>&1
check "a missing RUN_DIR is refused" "[ \$? -ne 0 ]"
"$bin" report "$tmp/nonexistent" > "$tmp/out" 2>&1
check "a missing folder is named" "[ \$? -ne 0 ] && grep -q '$tmp/nonexistent' '$tmp/out'"
mkdir -p "$tmp/empty/sub"
"$bin" report "$tmp/empty" > "$tmp/out" 2>&1
check "a folder without runs is refused" "[ \$? -ne 0 ] && grep -q 'no metrics.jsonl' '$tmp/out'"

# a real run, in a pipeline-like folder
"$bin" pretrain --preset tiny --steps 6 --batch 2 --seq 32 --quiet --out "$tmp/p/base" > "$tmp/log" 2>&1
check "pretrain runs" "[ \$? -eq 0 ] && [ \$(wc -l < '$tmp/p/base/metrics.jsonl') -eq 6 ]"
"$bin" report "$tmp/p" --out "$tmp/rep" > "$tmp/out" 2>&1
check "report succeeds" "[ \$? -eq 0 ] && grep -q 'wrote $tmp/rep/report.md' '$tmp/out'"
check "report.md has the stage row" "grep -q '^| base | pretrain | 6 | ' '$tmp/rep/report.md'"
check "report.md links the loss chart" "grep -q '](fig-base-loss.svg)' '$tmp/rep/report.md'"
check "the loss chart holds the 6 steps" "grep -q 'data-series=\"loss\" data-n=\"6\"' '$tmp/rep/fig-base-loss.svg'"
check "report.html inlines the charts" "[ \$(grep -c '<svg ' '$tmp/rep/report.html') -ge 3 ]"
check "report.html fetches nothing" "! grep -qE 'src=|href=|<script|<link|url\\(' '$tmp/rep/report.html'"
check "the arguments are listed" "grep -q '| options.steps | 6 |' '$tmp/rep/report.md'"
check "no file left half-written" "! ls '$tmp/rep' | grep -q '\\.tmp\$'"

# the run folder itself (no --out): the report lands there
"$bin" report "$tmp/p/base" > "$tmp/out" 2>&1
check "report into the run folder" "[ \$? -eq 0 ] && [ -s '$tmp/p/base/report.html' ] && [ -s '$tmp/p/base/fig-run-loss.svg' ]"

# corrupt line in the middle: named by file:line
mkdir -p "$tmp/bad"
printf '{"step":1,"loss":2}\n{"step":2,"loss"\n{"step":3,"loss":1}\n' > "$tmp/bad/metrics.jsonl"
"$bin" report "$tmp/bad" > "$tmp/out" 2>&1
check "a corrupt line is named" "[ \$? -ne 0 ] && grep -q 'metrics.jsonl:2' '$tmp/out'"
# a diverged run: printf's nan/inf are not JSON, but the report still draws the rest
mkdir -p "$tmp/nan"
printf '{"step":1,"loss":2}\n{"step":2,"loss":nan}\n{"step":3,"loss":-inf}\n{"step":4,"loss":1}\n' > "$tmp/nan/metrics.jsonl"
"$bin" report "$tmp/nan" > "$tmp/out" 2>&1
check "nan/inf lines are gaps" "[ \$? -eq 0 ] && grep -q 'data-series=\"loss\" data-n=\"2\"' '$tmp/nan/fig-run-loss.svg'"
echo "cli_report: $pass passed, $fail failed"
[ $fail -eq 0 ]
