#!/usr/bin/env bash
# make bench: every benchmark program, each against its PyTorch peer, in one run.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
threads=${BENCH_THREADS:-2}
echo "== training throughput (tinyr1 vs PyTorch, $threads threads)"
"$build/bench/bench_train" --threads "$threads"
for b in "$build"/bench/bench_*; do
  name=$(basename "$b")
  [ "$name" = bench_train ] && continue
  [ -x "$b" ] || continue
  echo "== $name"
  "$b" --threads "$threads"
done
echo "== MFU of a real pretraining run against the benchmark (config b)"
"$here/mfu_check.sh" "$build" "$threads"
