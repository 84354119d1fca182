#!/usr/bin/env bash
# tinyr1 pipeline --preset quick end to end: every stage runs, the report's tables are
# filled (not their numbers: the quick preset is a smoke run), a killed pipeline resumes and
# ends with the same evaluation numbers as an uninterrupted one.
set -u
bin=$1
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
