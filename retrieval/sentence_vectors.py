"""Sentence vectors for the few paragraphs quotes are taken from, embedded when first needed.

Quote selection scores the sentences of the best few paragraphs by their own vectors. The index
stores paragraph vectors only (embedding every sentence at index time would repeat each
paragraph's tokens), and the sentences of a paragraph are embedded the first time an answer
quotes from it and kept in a bounded cache. An index that stored sentence vectors
(`sync_index(sentence_vectors=True)`) is read as it is.

The vectors are those the index would have stored (same model, same text, rounded to float16
as the store keeps them), so answers are the same either way.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from index.documents import Chunk
from index.embedders import Embedder
from index.stores.base import StoreReader
from index.sync import embed_distinct
from retrieval.chunk_cache import ChunkCache


class SentenceVectors:
    """Per paragraph, its sentences' unit vectors: stored ones if the index has them, else
    embedded now and cached. Safe to share between threads (a chunk's id is derived from its
    text, so a cached entry stays right across snapshots).

    cache_chunks: paragraphs whose sentence vectors are kept (~1.5 KB per paragraph of
        four sentences at 384 dimensions in float16; 20,000 of them take ~30 MB).
    """

    def __init__(self, embedder: Embedder, *, cache_chunks: int = 20_000) -> None:
        self.embedder = embedder
        self.cache_chunks = cache_chunks
        self._cache: ChunkCache[np.ndarray] = ChunkCache(cache_chunks)
        self._lock = threading.Lock()  # guards the counter
        self.embedded_sentences = 0  # sentences embedded on demand so far (for measuring)

    def lookup(self, store: StoreReader, chunks: Sequence[Chunk]) -> dict[int, np.ndarray]:
        wanted = {c.id: c for c in chunks if c.sentences}
        found = self._cache.found(wanted)
        missing = [key for key in wanted if key not in found]
        if missing:
            found.update(store.sentence_vectors(missing))
        todo = [wanted[key] for key in missing if key not in found]
        if todo:
            embedded = self._embed(todo)
            found.update(embedded)
            self._cache.keep(embedded)
        return {key: vectors.astype(np.float32) for key, vectors in found.items()}

    def _embed(self, chunks: list[Chunk]) -> dict[int, np.ndarray]:
        """One model call for all their sentences, each distinct text once (as a sync would)."""
        texts = [s.text for c in chunks for s in c.sentences]
        vectors = embed_distinct(self.embedder, texts).astype(np.float16)
        with self._lock:
            self.embedded_sentences += len(set(texts))
        ends = np.cumsum([len(c.sentences) for c in chunks])
        pieces = zip(chunks, ends, strict=True)
        return {c.id: vectors[end - len(c.sentences) : end] for c, end in pieces}
