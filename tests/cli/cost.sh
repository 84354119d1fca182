#!/usr/bin/env bash
# tinyr1 cost end to end: scenarios reproduce the public figures (table and --json), a run
# folder's cost.json (written here by hand in the documented format) becomes a table, a
# pipeline folder becomes one row per stage, and bad input fails with a message.
set -euo pipefail
BIN="$1"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$BIN" cost --scenario deepseek-v3)
grep -q "2,788,000" <<<"$out" || fail "deepseek-v3: no 2,788,000 GPU-hours"
grep -q "5,576,000" <<<"$out" || fail "deepseek-v3: no \$5,576,000"
grep -q "34.63% of dense bf16" <<<"$out" || fail "deepseek-v3: implied MFU missing"
! grep -q MISMATCH <<<"$out" || fail "deepseek-v3: a figure is not reproduced"

"$BIN" cost --scenario deepseek-v3 --json > "$TMP/v3.json"
python3 - "$TMP/v3.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["gpu_hours"] == 2788000 and d["rental_usd"] == 5576000, d
assert d["checks_failed"] == 0
assert abs(d["stages"][0]["mfu"] - 6*37e9*14.8e12/(2664000*3600*989.4e12)) < 1e-12
assert len(d["ownership"]) == 2 and d["ownership"][0]["gpus"] == 2048
for o in d["ownership"]:
    assert set(o["assumptions"]) == {"lifetime_years", "utilization", "capex_overhead",
                                     "power_overhead", "pue", "electricity_usd_per_kwh"}
PY

out=$("$BIN" cost --scenario deepseek-r1-rl)
grep -q "147,000" <<<"$out" && grep -q "294,000" <<<"$out" || fail "deepseek-r1-rl figures"

"$BIN" cost --scenario api-price --params 7e9 --tps 2000 --gpus 1 --gpu-hour-usd 2.5 --json > "$TMP/api.json"
python3 - "$TMP/api.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
line = [a for a in d["api"] if a["name"] == "command line"][0]
assert abs(line["usd_per_mtok"] - 2.5 / (2000 * 3600) * 1e6) < 1e-12, line
assert [r["usd_per_mtok"] for r in d["compare_usd_per_mtok"]] == [2.19, 60]
PY

# a run folder (cost.json as the training loop writes it, docs/cost.md)
mkdir -p "$TMP/pipe/1-pretrain" "$TMP/pipe/2-sft"
write_cost() { # dir stage train_seconds train_flops
cat > "$1/cost.json" <<JSON
{"format": "tinyr1-cost", "version": 1, "stage": "$2",
 "model": {"vocab": 512, "dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4, "head_dim": 16,
           "hidden_dim": 192, "tied_embeddings": 0, "qkv_bias": 0, "params": 173120, "params_matmul": 172800},
 "machine": {"cpu": "test", "threads": 2, "peak_gflops": 100, "peak_source": "env"},
 "wall_seconds": 10, "peak_rss_bytes": 104857600,
 "phases": {"train": {"seconds": $3, "tokens": 1000000, "flops": $4, "calls": 100},
            "generate": {"seconds": 0, "tokens": 0, "flops": 0, "calls": 0}}}
JSON
}
write_cost "$TMP/pipe/1-pretrain" pretrain 8 4e11
write_cost "$TMP/pipe/2-sft" sft 2 1e11
out=$("$BIN" cost --run "$TMP/pipe/1-pretrain")
grep -q "| train     |       8.00 |      1000000 |       4e+11 |     50.00 |  50.00% |" <<<"$out" || fail "run table: $out"
grep -q "H100" <<<"$out" || fail "run table: no projection"
out=$("$BIN" cost --run "$TMP/pipe")
grep -q "1-pretrain" <<<"$out" && grep -q "2-sft" <<<"$out" && grep -q "total" <<<"$out" || fail "pipeline table: $out"
"$BIN" cost --run "$TMP/pipe" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [s["stage"] for s in d["stages"]] == ["pretrain", "sft"]
assert d["stages"][0]["phases"]["train"]["mfu"] == 0.5
assert d["stages"][1]["total"]["flops"] == 1e11
'

# errors: exit non-zero with a message
! "$BIN" cost --run "$TMP/nothing" 2>"$TMP/err" || fail "missing run accepted"
grep -q "cost.json" "$TMP/err" || fail "no message for missing run"
echo '{"format": "tinyr1-scenario", "name": "x", "hardware": "Z80"}' > "$TMP/bad.json"
! "$BIN" cost --scenario "$TMP/bad.json" 2>"$TMP/err" || fail "bad scenario accepted"
grep -q "hardware" "$TMP/err" || fail "no message for bad scenario"
! "$BIN" cost 2>/dev/null || fail "no mode accepted"
"$BIN" cost --help | grep -q -- "--scenario" || fail "help"
echo "cli cost: ok"
