"""An embedder wrapper that remembers vectors on disk, for evaluation runs.

`make eval` indexes the same articles into several archives (each corpus alone, all of them
mixed, a leave-out subset) and asks thousands of questions; with the cache each distinct text is
embedded once per model, ever, so a second run costs only retrieval.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embedders import Embedder, LatentTerms, has_latent_terms

BATCH = 64


class CachedEmbedder:
    """Same interface and `model_id` as the wrapped embedder (indexes stay interchangeable)."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, v BLOB)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS terms (key BLOB PRIMARY KEY, ids BLOB, weights BLOB)"
        )
        self.supports_latent_terms = has_latent_terms(inner)
        self._lock = threading.Lock()  # one connection, used from several threads
        self.computed = 0  # texts embedded by the model (not found in the cache)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._embed(texts, "query")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._embed(texts, "passage")

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def latent_terms(self, texts: Sequence[str]) -> list[LatentTerms]:
        with self._lock:  # answers compute the question's terms on a worker thread
            return self._latent_terms(texts)

    def _latent_terms(self, texts: Sequence[str]) -> list[LatentTerms]:
        keys = self._keys(texts, "terms")
        found: dict[bytes, LatentTerms] = {}
        for part in _parts(keys):
            marks = ",".join("?" * len(part))
            query = f"SELECT key, ids, weights FROM terms WHERE key IN ({marks})"
            for key, ids, weights in self._db.execute(query, part):
                found[key] = LatentTerms(
                    np.frombuffer(ids, dtype=np.int32), np.frombuffer(weights, dtype=np.float32)
                )
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if missing:
            computed = self.inner.latent_terms(list(missing.values()))  # type: ignore[attr-defined]
            self.computed += len(missing)
            found.update(zip(missing, computed, strict=True))
            rows = [(k, found[k].ids.tobytes(), found[k].weights.tobytes()) for k in missing]
            self._db.executemany("INSERT OR REPLACE INTO terms VALUES (?, ?, ?)", rows)
            self._db.commit()
        return [found[key] for key in keys]

    def _keys(self, texts: Sequence[str], kind: str) -> list[bytes]:
        return [hashlib.sha1(f"{self.model_id}\0{kind}\0{t}".encode()).digest() for t in texts]

    def _embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        keys = self._keys(texts, kind)
        found: dict[bytes, np.ndarray] = {}
        for part in _parts(keys):
            marks = ",".join("?" * len(part))
            for key, blob in self._db.execute(
                f"SELECT key, v FROM vectors WHERE key IN ({marks})", part
            ):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        first: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in found:
                first.setdefault(key, i)
        missing = list(first.values())
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            batch_texts = [texts[i] for i in batch]
            embed = self.inner.embed_queries if kind == "query" else self.inner.embed_passages
            vectors = embed(batch_texts)
            self.computed += len(batch)
            rows = []
            for i, vector in zip(batch, vectors, strict=True):
                vector = np.ascontiguousarray(vector, dtype=np.float32)
                found[keys[i]] = vector
                rows.append((keys[i], vector.tobytes()))
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            self._db.commit()
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([found[k] for k in keys])


def _parts(keys: list[bytes], size: int = 500) -> list[list[bytes]]:
    """SQLite limits the parameters of one statement."""
    return [keys[start : start + size] for start in range(0, len(keys), size)]
