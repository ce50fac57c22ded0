"""The reference side of bench/embed.sh: sentence-transformers (PyTorch, CPU, one thread).

    python bench/embed_peer.py MODEL_DIR TEXTS_FILE BATCH [OURS_VECTORS]

Embeds the texts of TEXTS_FILE (one per line, as written by `embed_rate --save-texts`) with
`SentenceTransformer.encode(texts, batch_size=BATCH)` after one warm-up batch, exactly as
embed_rate times our side, and prints the same line: texts, tokens, seconds, texts/s, tokens/s.
With OURS_VECTORS (`embed_rate --save-vectors`), it also prints the lowest cosine between our
embedding and sentence-transformers' over all the texts.

The model loads from MODEL_DIR only (HF_HUB_OFFLINE=1). bench/embed.sh pins the process to one
core and sets OMP_NUM_THREADS/MKL_NUM_THREADS=1; torch is held to one thread here as well.
"""

import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

try:  # sentence-transformers 6
    from sentence_transformers.sentence_transformer.modules import (  # noqa: E402
        Normalize, Pooling, Transformer)
except ImportError:  # up to 5
    from sentence_transformers.models import Normalize, Pooling, Transformer  # noqa: E402

# Our side truncates at 256 tokens (brandstream_embed::MAX_TOKENS), as all-MiniLM-L6-v2's
# sentence_bert_config.json asks.
MAX_TOKENS = 256


def load(model_dir):
    """The model as sentence-transformers runs it: its own module list when the directory has
    one (modules.json), else the same pipeline built by hand (BERT, mean pooling, L2
    normalisation). Returns the model and how it was loaded."""
    if os.path.exists(os.path.join(model_dir, "modules.json")):
        try:
            model = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
            model.max_seq_length = MAX_TOKENS
            return model, "modules.json"
        except Exception as error:  # fall back to the explicit pipeline below
            print(f"modules.json did not load ({error!r}); building the pipeline by hand",
                  file=sys.stderr)
    transformer = Transformer(model_dir, max_seq_length=MAX_TOKENS)
    dimension = getattr(transformer, "get_embedding_dimension", None) or getattr(
        transformer, "get_word_embedding_dimension")
    pooling = Pooling(dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
    return model, "explicit Transformer + mean Pooling + Normalize"


def check_pipeline(model):
    """Refuses a pipeline that would not compute what ours computes."""
    names = [type(module).__name__ for module in model]
    if names[-1] != "Normalize" or "Pooling" not in names:
        raise SystemExit(f"unexpected sentence-transformers pipeline: {names}")
    pooling = next(module for module in model if type(module).__name__ == "Pooling")
    mode = getattr(pooling, "pooling_mode", None)
    if not isinstance(mode, str):  # up to 5: flags, and a method that names the mode
        mode = pooling.get_pooling_mode_str()
    if mode != "mean":
        raise SystemExit(f"pooling is {mode}, not mean")
    return names


def main():
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    model_dir, texts_file, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ours_file = sys.argv[4] if len(sys.argv) == 5 else None
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    with open(texts_file, encoding="utf-8") as file:
        # One text per line; not splitlines(), which also breaks at \x1c, \u2028, ...
        texts = [line for line in file.read().split("\n") if line]
    model, how = load(model_dir)
    names = check_pipeline(model)
    tokens = sum(
        len(ids)
        for ids in model.tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]
    )
    print(
        f"sentence-transformers {sys.modules['sentence_transformers'].__version__}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} thread), "
        f"model from {how}: {' > '.join(names)}, max {model.max_seq_length} tokens",
        file=sys.stderr,
    )
    # One warm-up batch, then the timed pass (as embed_rate does).
    model.encode(texts[:batch], batch_size=batch, show_progress_bar=False)
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch, show_progress_bar=False,
                           convert_to_numpy=True)
    seconds = time.perf_counter() - started
    print(
        f"{len(texts)} texts ({tokens} tokens, batch {batch}) in {seconds:.2f} s: "
        f"{len(texts) / seconds:.1f} texts/s, {tokens / seconds:.0f} tokens/s"
    )
    if ours_file:
        ours = np.loadtxt(ours_file, dtype=np.float64, ndmin=2)
        theirs = vectors.astype(np.float64)
        if ours.shape != theirs.shape:
            raise SystemExit(f"vector shapes differ: ours {ours.shape}, theirs {theirs.shape}")
        cosines = (ours * theirs).sum(axis=1) / (
            np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
        )
        print(f"min cosine {cosines.min():.6f} over {len(cosines)} texts")


if __name__ == "__main__":
    main()
