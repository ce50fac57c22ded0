#!/usr/bin/env python3
"""Structure variants of the sample brand books, to see how filling holds up when a book's
heading structure differs from the samples' (held-out books differ in more than wording).

    python3 bench/fill-variants.py /tmp/variants        # writes flat/, notitle/, reversed/
    FILL_SAMPLES=/tmp/variants/flat BRANDSTREAM_TEST_MODEL_DIR=… \
      cargo nextest run -p brandstream-ingest --test fill_quality sample_facts --no-capture

From each sample's Markdown (the facts to find are the same, so each variant reuses the
sample's expected.json):
- flat: every heading below the title at one level (a DOCX styled with one heading style);
- notitle: no title heading, every other heading one level up;
- reversed: the chapters in reverse order (the foreword last, the history chapter first).
"""
import glob
import os
import re
import shutil
import sys

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "samples")


def write(out, variant, brand, text):
    folder = os.path.join(out, variant)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{brand}.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    shutil.copy(os.path.join(SAMPLES, f"{brand}.expected.json"), folder)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    for expected in sorted(glob.glob(os.path.join(SAMPLES, "*.expected.json"))):
        brand = os.path.basename(expected)[: -len(".expected.json")]
        with open(os.path.join(SAMPLES, f"{brand}.md"), encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        write(out, "flat", brand, "\n".join(re.sub(r"^#{2,6} ", "## ", line) for line in lines))
        promoted = []
        for line in lines:
            if line.startswith("# "):
                continue
            match = re.match(r"^(#{2,6}) (.*)", line)
            promoted.append("#" * (len(match.group(1)) - 1) + " " + match.group(2) if match else line)
        write(out, "notitle", brand, "\n".join(promoted))
        head, chapters = [], []
        for line in lines:
            if line.startswith("## "):
                chapters.append([line])
            elif chapters:
                chapters[-1].append(line)
            else:
                head.append(line)
        reordered = head + [line for chapter in reversed(chapters) for line in chapter]
        write(out, "reversed", brand, "\n".join(reordered))
    print(f"wrote {out}/flat, {out}/notitle, {out}/reversed")


if __name__ == "__main__":
    main()
