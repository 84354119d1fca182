#!/usr/bin/env bash
# Installs every Debian package tinyr1 needs to build, test and benchmark.
# Idempotent: a second run only confirms that everything is there.
set -euo pipefail
packages=(
  build-essential cmake pkg-config clang
  libopenblas-openmp-dev   # BLAS (sgemm) threaded by OpenMP, the same pool as ours
  libcjson-dev             # JSON: configs, metrics, HF config.json, tokenizer.json
  libpcre2-dev             # the GPT-2 / Qwen2 pre-tokenizer regexes
  libopenmpi-dev openmpi-bin   # scale-out (tr_dist)
  python3 python3-torch python3-numpy   # test oracle and benchmark peer only
  chromium fonts-dejavu-core   # render test of the HTML report (headless screenshots)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
