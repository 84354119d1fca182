#!/usr/bin/env bash
# Does a real training run reach the benchmark's MFU? Trains config (b) of bench_train
# (dim 256, 6 layers, 8 heads, vocab 4096, seq 256, batch 8, untied) with `tinyr1 pretrain`
# on the built-in corpus, then runs bench_train on the same shapes, both against the same
# peak (TINYR1_PEAK_GFLOPS from one probe), and prints
#   bench mfu pretrain=... bench=... rel_diff=...
# The pretraining run pays for what the benchmark leaves out (data, metrics, progress,
# checkpoints, the learning-rate schedule), so the two agree only if those are cheap.
# Usage: bench/mfu_check.sh BUILD_DIR THREADS
set -euo pipefail
build=${1:-build}
threads=${2:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
peak=$("$build/bench/bench_train" --threads "$threads" --configs b --no-torch --seconds 8)
gflops=$(sed -n 's/^bench peak sgemm_gflops=\([0-9.]*\).*/\1/p' <<<"$peak")
bench_mfu=$(sed -n 's/^bench train b .* mfu=\([0-9.]*\).*/\1/p' <<<"$peak")
TINYR1_PEAK_GFLOPS=$gflops "$build/tinyr1" pretrain --dim 256 --layers 6 --heads 8 \
  --kv-heads 8 --hidden 768 --vocab 4096 --seq 256 --max-seq 256 --batch 8 --tied 0 \
  --steps 40 --threads "$threads" --checkpoint-every 1000 --out "$out/run" --quiet \
  >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
run_mfu=$(python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["phases"]["train"]["mfu"])' "$out/run/cost.json")
python3 -c 'import sys; r, b = float(sys.argv[1]), float(sys.argv[2]); print("bench mfu pretrain=%.3f bench=%.3f rel_diff=%.3f peak_gflops=%s" % (r, b, (r - b) / b, sys.argv[3]))' "$run_mfu" "$bench_mfu" "$gflops"
