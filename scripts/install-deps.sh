#!/usr/bin/env bash
# Installs every Debian package tinyr1 needs to build, test and benchmark, then the
# Hugging Face oracle environment (.venv-hf, see docs/hf.md) used by the parity tests.
# Idempotent: a second run only confirms that everything is there (about a second).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  build-essential cmake pkg-config clang
  libopenblas-openmp-dev   # BLAS (sgemm) threaded by OpenMP, the same pool as ours
  libcjson-dev             # JSON: configs, metrics, HF config.json, tokenizer.json
  libpcre2-dev             # the GPT-2 / Qwen2 pre-tokenizer regexes
  libutf8proc-dev          # Unicode NFC, the Qwen2 tokenizer's normalizer (docs/tokenizer.md)
  libopenmpi-dev openmpi-bin   # scale-out (tr_dist)
  python3 python3-torch python3-numpy   # test oracle and benchmark peer only
  chromium fonts-dejavu-core   # render test of the HTML report (headless screenshots)
  python3-venv             # the Hugging Face oracle venv below
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: done"
fi

# ---- Hugging Face oracle (test-only): transformers + tokenizers + safetensors from PyPI ----
# A venv over Debian's Python that sees Debian's python3-torch (1.13) and numpy
# (--system-site-packages). transformers 4.47.1 is the last release that runs on torch < 2
# (4.48 requires torch >= 2.0) and has Qwen2 (since 4.37); tokenizers 0.21 is what it pins.
# A current torch from PyPI would pull several GB of CUDA libraries (docs/hf.md).
HF_VENV=.venv-hf
HF_REQS="transformers==4.47.1 tokenizers==0.21.4 safetensors==0.8.0 huggingface_hub==0.36.2"
stamp="$HF_VENV/tinyr1-requirements.txt"
if [ -x "$HF_VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$HF_REQS" ]; then
  echo "install-deps: Hugging Face oracle present ($HF_VENV: $HF_REQS)"
  exit 0
fi
echo "install-deps: creating the Hugging Face oracle venv $HF_VENV ($HF_REQS)"
rm -rf "$HF_VENV"
/usr/bin/python3 -m venv --system-site-packages "$HF_VENV"
# shellcheck disable=SC2086
"$HF_VENV/bin/python" -m pip install -q --disable-pip-version-check $HF_REQS
HF_HUB_OFFLINE=1 "$HF_VENV/bin/python" -c \
  'import torch, transformers, tokenizers, safetensors; from transformers import Qwen2ForCausalLM'
echo "$HF_REQS" > "$stamp"
echo "install-deps: Hugging Face oracle ready"
