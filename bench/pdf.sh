#!/usr/bin/env bash
# PDF extraction against poppler's pdftotext, file by file: word recall (NFKC, case-folded word
# multisets), pages per second of each (best of 3), and the extractor's peak memory.
#   bench/pdf.sh [FILES...]        (default: every PDF of ../shared/realdocs and ../shared/samples)
# PROFILE=debug uses the debug build of the example (faster to build, slower to run). Recall is
# measured on the laid-out page text (`pdf_text --raw`: running headers and footers, which
# ingestion later drops on purpose, still in); speed and memory on the whole extraction.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then
  cargo build -q --release -p brandstream-ingest --example pdf_text
else
  cargo build -q -p brandstream-ingest --example pdf_text
fi
BIN="target/$PROFILE/examples/pdf_text"
command -v pdftotext >/dev/null || { echo "pdftotext (poppler-utils) is needed: apt-get install poppler-utils"; exit 1; }
if [ "$#" -eq 0 ]; then
  set -- ../shared/realdocs/*.pdf ../shared/samples/*.pdf
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
best_of_3() { # prints the best wall time in seconds of running "$@" three times
  local best=""
  for _ in 1 2 3; do
    local start end
    start=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; end=$(date +%s.%N)
    best=$(python3 -c "import sys; a=float('$end')-float('$start'); b='$best'; print(a if not b else min(a,float(b)))")
  done
  echo "$best"
}
printf '| file | pages | word recall | pdftotext pages/s | ours pages/s | ratio | peak RSS MB |\n|---|---|---|---|---|---|---|\n'
for file in "$@"; do
  name=$(basename "$file")
  pdftotext "$file" "$WORK/ref.txt" 2>/dev/null || true
  if ! /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" "$file" >/dev/null 2>"$WORK/err"; then
    printf '| %s | – | %s | | | | |\n' "$name" "$(tail -1 "$WORK/err")"
    continue
  fi
  pages=$(grep -o 'pages [0-9]*' "$WORK/err" | cut -d' ' -f2)
  "$BIN" --raw "$file" >"$WORK/ours.txt" 2>/dev/null
  recall=$(python3 - "$WORK/ref.txt" "$WORK/ours.txt" <<'PY'
import collections, re, sys, unicodedata
def words(path):
    text = unicodedata.normalize("NFKC", open(path, encoding="utf-8", errors="replace").read()).lower()
    out = []
    for w in re.findall(r"\w+", text):
        # CJK text has no spaces: compare it character by character.
        out.extend(list(w) if re.search(r"[\u3040-\u30ff\u3400-\u9fff]", w) else [w])
    return collections.Counter(out)
ref, ours = words(sys.argv[1]), words(sys.argv[2])
total = sum(ref.values())
print(f"{100 * sum((ref & ours).values()) / total:.1f} %" if total else "–")
PY
)
  ref_s=$(best_of_3 pdftotext "$file" "$WORK/x.txt")
  ours_s=$(best_of_3 "$BIN" "$file")
  python3 - "$name" "$pages" "$recall" "$ref_s" "$ours_s" "$(cat "$WORK/rss")" <<'PY'
import sys
name, pages, recall, ref_s, ours_s, rss = sys.argv[1:]
p = int(pages)
ref, ours = p / float(ref_s), p / float(ours_s)
print(f"| {name} | {p} | {recall} | {ref:.0f} | {ours:.0f} | {ours / ref:.2f} | {int(rss) / 1024:.0f} |")
PY
done
