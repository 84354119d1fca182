#!/usr/bin/env bash
# End-to-end tests of `tinyr1 data gen|check|score|tasks`.
# usage: bash data.sh TINYR1_BINARY SHARED_DATA_DIR
set -u
BIN=$1
DATA=$2
TMP=$(mktemp -d /tmp/tinyr1_cli_data.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_grep() { # expect_grep PATTERN FILE WHAT
  grep -q -- "$1" "$2" || { fail "$3: '$1' not in output:"; head -c 2000 "$2"; echo; }
}

# --- help and listing ------------------------------------------------------------------
for c in gen check score tasks; do
  "$BIN" data $c --help >"$TMP/help" 2>&1 || fail "data $c --help exits non-zero"
  expect_grep "usage: tinyr1 data $c" "$TMP/help" "data $c --help"
done
"$BIN" data tasks >"$TMP/tasks" || fail "data tasks"
for t in add mul countdown wordprob gsm8k math aime amc; do expect_grep "^$t " "$TMP/tasks" "data tasks"; done

# --- gen -------------------------------------------------------------------------------
"$BIN" data gen --task add,countdown,wordprob --n 60 --seed 5 --lang both --out "$TMP/g.jsonl" 2>"$TMP/err" \
  || { fail "data gen"; cat "$TMP/err"; }
[ "$(wc -l <"$TMP/g.jsonl")" -eq 60 ] || fail "gen wrote $(wc -l <"$TMP/g.jsonl") rows, expected 60"
python3 - "$TMP/g.jsonl" <<'EOF' || fail "gen rows do not have the expected fields"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
tasks = {}
for r in rows:
    for k in ("prompt", "completion", "answer", "task", "lang"):
        assert isinstance(r[k], str) and r[k], (k, r)
    assert r["completion"].startswith("<think> ") and r["completion"].endswith(" </answer>"), r
    assert ("<answer> %s </answer>" % r["answer"]) in r["completion"], r
    if r["task"] == "countdown":
        assert isinstance(r["nums"], list) and isinstance(r["target"], int), r
    tasks[(r["task"], r["lang"])] = tasks.get((r["task"], r["lang"]), 0) + 1
# 20 rows per task; wordprob alternates en/zh with the same index
assert tasks == {("add", "en"): 20, ("countdown", "en"): 20, ("wordprob", "en"): 10, ("wordprob", "zh"): 10}, tasks
wp = [r for r in rows if r["task"] == "wordprob"]
for en, zh in zip(wp[0::2], wp[1::2]):
    assert en["index"] == zh["index"] and en["answer"] == zh["answer"] and en["lang"] == "en" and zh["lang"] == "zh"
EOF
# deterministic, and the seed matters
"$BIN" data gen --task add,countdown,wordprob --n 60 --seed 5 --lang both --out "$TMP/g2.jsonl" 2>/dev/null
cmp -s "$TMP/g.jsonl" "$TMP/g2.jsonl" || fail "gen is not deterministic"
"$BIN" data gen --task add,countdown,wordprob --n 60 --seed 6 --lang both --out "$TMP/g3.jsonl" 2>/dev/null
cmp -s "$TMP/g.jsonl" "$TMP/g3.jsonl" && fail "gen ignores --seed"
# to stdout, mul, difficulty, zh
"$BIN" data gen --task mul --n 3 --difficulty 4 --out - 2>/dev/null >"$TMP/m.jsonl" || fail "gen --out -"
[ "$(wc -l <"$TMP/m.jsonl")" -eq 3 ] || fail "gen --out - wrote $(wc -l <"$TMP/m.jsonl") rows"
"$BIN" data gen --task wordprob --n 4 --lang zh --out "$TMP/zh.jsonl" 2>/dev/null || fail "gen --lang zh"
expect_grep '"lang":"zh"' "$TMP/zh.jsonl" "gen --lang zh"
# errors
"$BIN" data gen --task add --lang zh --out "$TMP/x.jsonl" >"$TMP/err" 2>&1 && fail "gen add --lang zh should fail"
expect_grep "has no 'zh' problems" "$TMP/err" "gen add --lang zh"
"$BIN" data gen --task nope --out "$TMP/x.jsonl" >"$TMP/err" 2>&1 && fail "gen --task nope should fail"
expect_grep "unknown task 'nope'" "$TMP/err" "gen --task nope"
"$BIN" data gen --task gsm8k --out "$TMP/x.jsonl" >"$TMP/err" 2>&1 && fail "gen --task gsm8k should fail"
"$BIN" data gen --task add >"$TMP/err" 2>&1 && fail "gen without --out should fail"

# --- check -----------------------------------------------------------------------------
"$BIN" data check "$TMP/g.jsonl" --verify >"$TMP/out" 2>&1 || { fail "check --verify on generated"; cat "$TMP/out"; }
expect_grep "kind prompt-completion, 60 rows, 0 bad lines" "$TMP/out" "check generated"
expect_grep "verified: 60 of 60" "$TMP/out" "check --verify generated"
"$BIN" data check "$DATA/gsm8k/test.jsonl" >"$TMP/out" 2>&1 || fail "check gsm8k"
expect_grep "kind gsm8k, 1319 rows, 0 bad lines" "$TMP/out" "check gsm8k"
"$BIN" data check "$DATA/math500/test.jsonl" --verify >"$TMP/out" 2>&1 || fail "check math500"
expect_grep "kind problem, 500 rows" "$TMP/out" "check math500"
expect_grep "verified: 500 of 500" "$TMP/out" "check math500 --verify"
"$BIN" data check "$DATA/countdown/train.jsonl" >"$TMP/out" 2>&1 || fail "check countdown"
expect_grep "kind countdown, 10240 rows" "$TMP/out" "check countdown"
# a malformed file: line 2 bad JSON, line 4 not an object, line 5 wrong fields
printf '{"text": "a"}\n{"text": \n{"text": "b"}\n[1]\n{"prompt": "p"}\n{"text": "c"}\n' >"$TMP/bad.jsonl"
"$BIN" data check "$TMP/bad.jsonl" >"$TMP/out" 2>&1 && fail "check on a malformed file should fail"
expect_grep "$TMP/bad.jsonl:2: invalid JSON" "$TMP/out" "check FILE:LINE"
expect_grep "$TMP/bad.jsonl:4: expected a JSON object" "$TMP/out" "check FILE:LINE"
expect_grep "$TMP/bad.jsonl:5: missing field \"text\"" "$TMP/out" "check FILE:LINE"
expect_grep "kind text, 3 rows, 3 bad lines (of 6 lines)" "$TMP/out" "check counts"
"$BIN" data check "$TMP/bad.jsonl" --skip-bad >"$TMP/out" 2>&1 || fail "check --skip-bad should exit 0"
expect_grep "3 bad lines" "$TMP/out" "check --skip-bad"
# a wrong worked solution fails --verify
sed 's/<answer> \([0-9]*\) <\/answer>/<answer> 0\1 1 <\/answer>/' "$TMP/m.jsonl" >"$TMP/mbad.jsonl"
"$BIN" data check "$TMP/mbad.jsonl" --verify >"$TMP/out" 2>&1 && fail "check --verify should fail on wrong solutions"
expect_grep "worked solution not verified" "$TMP/out" "check --verify wrong"
"$BIN" data check "$TMP/missing.jsonl" >"$TMP/out" 2>&1 && fail "check on a missing file should fail"
expect_grep "cannot open" "$TMP/out" "check missing file"

# --- score -----------------------------------------------------------------------------
"$BIN" data score --task gsm8k --in "$DATA/gsm8k/test.jsonl" --response-field answer >"$TMP/out" 2>/dev/null \
  || fail "score gsm8k"
expect_grep "^1319 scored, 1319 correct$" "$TMP/out" "score gsm8k"
"$BIN" data score --task math --in "$DATA/math500/test.jsonl" --response-field solution >"$TMP/out" 2>/dev/null \
  || fail "score math"
grep -Eq "^500 scored, 49[5-9]|500 correct" "$TMP/out" || fail "score math: $(cat "$TMP/out")"
"$BIN" data score --task countdown --in "$DATA/countdown/train.jsonl" --response-field solution --out "$TMP/cd.jsonl" \
  >"$TMP/out" 2>/dev/null || fail "score countdown"
expect_grep "^10240 scored, 10240 correct$" "$TMP/out" "score countdown"
[ "$(grep -c '"correct":true' "$TMP/cd.jsonl")" -eq 10240 ] || fail "score --out: not every row has correct:true"
# generated rows scored on their own completions; then a wrong response
"$BIN" data score --task wordprob --in "$TMP/zh.jsonl" --response-field completion >"$TMP/out" 2>/dev/null
expect_grep "^4 scored, 4 correct$" "$TMP/out" "score generated"
cat >"$TMP/resp.jsonl" <<'EOF'
{"q": "1+1", "gold": "2", "response": "<think> 1+1 </think> <answer> 2 </answer>"}
{"q": "half", "gold": "\\frac{1}{2}", "response": "so \\boxed{0.5}"}
{"q": "x", "gold": "3", "response": "I think 3"}
{"q": "y", "gold": "(1,2)", "response": "<answer>(2,1)</answer>"}
EOF
"$BIN" data score --task math --in "$TMP/resp.jsonl" --response-field response --answer-field gold \
  --out "$TMP/scored.jsonl" >"$TMP/out" 2>/dev/null || fail "score with --answer-field"
expect_grep "^4 scored, 2 correct$" "$TMP/out" "score --answer-field"
python3 - "$TMP/scored.jsonl" <<'EOF' || fail "score --out rows"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["correct"] for r in rows] == [True, True, False, False], rows
assert all(r["q"] for r in rows)
EOF
# a row without the response field is an error (FILE:LINE), or skipped with --skip-bad
printf '{"gold": "2"}\n' >>"$TMP/resp.jsonl"
"$BIN" data score --task math --in "$TMP/resp.jsonl" --response-field response --answer-field gold >"$TMP/out" 2>&1 \
  && fail "score on a row without a response should fail"
expect_grep "resp.jsonl:5: field \"response\"" "$TMP/out" "score missing response"
"$BIN" data score --task math --in "$TMP/resp.jsonl" --response-field response --answer-field gold --skip-bad \
  >"$TMP/out" 2>/dev/null || fail "score --skip-bad"
expect_grep "^4 scored, 2 correct$" "$TMP/out" "score --skip-bad"
"$BIN" data score --task nope --in "$TMP/resp.jsonl" --response-field response >"$TMP/out" 2>&1 \
  && fail "score --task nope should fail"

if [ "$fails" -ne 0 ]; then
  echo "data.sh: $fails failures"
  exit 1
fi
echo "data.sh: all passed"
