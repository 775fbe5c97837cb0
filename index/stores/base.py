"""What every store shares: the reader and writer protocols, the records they pass, the
manifest of a generation, the errors, and the helpers both stores use to check and to write.

A store is `index.stores.sqlite` (a folder: FAISS-style vectors in memory + SQLite) or
`index.stores.postgres` (pgvector); `index.stores` picks one by location.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from index.dates import Coverage, DateRange
from index.documents import Chunk
from index.embedders import LatentTerms

REBUILD_HINT = "run `newsbot index --rebuild` to rebuild it from the articles"


class StoreError(RuntimeError):
    """Base of the errors that make an index unusable; messages say how to recover."""


class IndexMissingError(StoreError):
    pass


class IndexMismatchError(StoreError):
    """Built with another model or format: vectors must never be mixed."""


class IndexCorruptError(StoreError):
    pass


@dataclass(frozen=True, slots=True)
class Manifest:
    format_version: int
    embedder_id: str
    dimension: int
    generation: int
    created_at: float
    database: str  # file name of the SQLite database in the index folder
    chunks: int  # chunks this generation sees (checked against the vectors on open)
    articles: int  # articles this generation sees
    pipeline: str = ""  # version of what cleaning + chunking make of an article

    def to_json(self) -> dict:
        return {
            "format_version": self.format_version,
            "embedder_id": self.embedder_id,
            "dimension": self.dimension,
            "generation": self.generation,
            "created_at": self.created_at,
            "database": self.database,
            "chunks": self.chunks,
            "articles": self.articles,
            "pipeline": self.pipeline,
        }


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    path: str
    title: str | None
    date: str | None
    chunk_count: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class ArticleState:
    """What a sync compares with the file: size and mtime first, the hash only if they differ."""

    content_hash: str
    size: int
    mtime_ns: int


def visible(generation: int, table: str = "") -> str:
    """SQL condition for the rows generation `generation` sees (an int, never user input)."""
    g, t = int(generation), f"{table}." if table else ""
    return f"{t}added <= {g} AND ({t}removed IS NULL OR {t}removed > {g})"


class ManifestView:
    """What a reader derives from the manifest of the generation it reads."""

    manifest: Manifest

    @property
    def generation(self) -> int:
        return self.manifest.generation

    @property
    def embedder_id(self) -> str:
        return self.manifest.embedder_id


def sentence_vectors_from(blob: bytes, dimension: int) -> np.ndarray:
    """Stored sentence vectors (float16 bytes) as a (sentences, dimension) float32 array."""
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(-1, dimension)


def latent_terms_blob(terms: LatentTerms) -> bytes:
    """A paragraph's latent terms as stored: its int32 feature ids, then their float32 weights
    (exact, so a stored paragraph ranks as one computed at question time)."""
    ids = np.ascontiguousarray(terms.ids, dtype=np.int32)
    weights = np.ascontiguousarray(terms.weights, dtype=np.float32)
    return ids.tobytes() + weights.tobytes()


def latent_terms_from(blob: bytes) -> LatentTerms:
    """Stored latent terms (`latent_terms_blob`) read back."""
    count = len(blob) // 8
    ids = np.frombuffer(blob, dtype=np.int32, count=count)
    weights = np.frombuffer(blob, dtype=np.float32, count=count, offset=4 * count)
    return LatentTerms(ids, weights)


class StoredChunk(NamedTuple):
    """What the index holds for one of an article's current chunks, so an update that leaves
    a paragraph as it was reuses it instead of running the model again (`index.sync`)."""

    section: str | None
    vector: np.ndarray
    sentence_vectors: np.ndarray | None
    latent_terms: LatentTerms | None


def check_compatible(
    manifest: Manifest, where: str, format_version: int, embedder_id: str | None
) -> None:
    """Raise `IndexMismatchError` unless the index at `where` has the store's
    `format_version` and (if given) was built with the model `embedder_id`."""
    if manifest.format_version != format_version:
        raise IndexMismatchError(
            f"the index at {where} has format version {manifest.format_version}, this "
            f"newsbot reads version {format_version}; {REBUILD_HINT}"
        )
    if embedder_id is not None and manifest.embedder_id != embedder_id:
        raise IndexMismatchError(
            f"the index at {where} was built with the model {manifest.embedder_id!r}, but "
            f"the configured model is {embedder_id!r}; {REBUILD_HINT} (or set "
            f"NEWSBOT_EMBEDDING_MODEL back)"
        )


def missing(where: str) -> IndexMissingError:
    """The error for a location that holds no index yet."""
    return IndexMissingError(f"no index at {where}: run `newsbot index` to build it")


def chunk_rows(
    chunks: Sequence[Chunk],
    chunk_vectors: np.ndarray,
    sentence_vectors: Sequence[np.ndarray | None] | None,
    latent_terms: Sequence[LatentTerms | None] | None = None,
) -> Iterator[tuple[int, Chunk, np.ndarray, bytes | None, bytes | None]]:
    """What a writer stores per chunk of one article: position, chunk, its float32 vector,
    its sentence vectors as float16 bytes and its latent terms (`latent_terms_blob`); None
    where the sync did not compute them."""
    per_chunk = sentence_vectors if sentence_vectors is not None else [None] * len(chunks)
    terms = latent_terms if latent_terms is not None else [None] * len(chunks)
    vectors = np.ascontiguousarray(chunk_vectors, dtype=np.float32).reshape(len(chunks), -1)
    for position, (chunk, vector, sentences, latent) in enumerate(
        zip(chunks, vectors, per_chunk, terms, strict=True)
    ):
        blob = None
        if sentences is not None:
            blob = np.ascontiguousarray(sentences, dtype=np.float16).tobytes()
        yield position, chunk, vector, blob, None if latent is None else latent_terms_blob(latent)


@runtime_checkable
class StoreReader(Protocol):
    """A read-only view of one published generation; safe to share between threads."""

    manifest: Manifest

    @property
    def generation(self) -> int: ...

    @property
    def embedder_id(self) -> str: ...

    def __len__(self) -> int: ...

    def search(
        self, query_vector: np.ndarray, k: int, window: DateRange | None = None
    ) -> list[tuple[int, float]]: ...

    def chunks(self, ids: Sequence[int]) -> list[Chunk]: ...

    def sentence_vectors(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]: ...

    def latent_terms(self, chunk_ids: Iterable[int]) -> dict[int, LatentTerms]: ...

    def chunk_vectors(self, chunk_ids: Sequence[int]) -> np.ndarray: ...

    def lexical_search(
        self, terms: Sequence[str], k: int, window: DateRange | None = None
    ) -> list[tuple[int, float]]: ...

    def coverage(self) -> Coverage: ...

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...

    def article_text(self, path: str) -> str | None: ...

    def articles(self) -> list[ArticleRecord]: ...

    def article_states(self) -> dict[str, ArticleState]: ...

    def article_chunk_ids(self, path: str) -> list[int]: ...

    def close(self) -> None: ...


@runtime_checkable
class StoreWriter(Protocol):
    """Writes changes as generations; the caller holds `writer_lock(location)`."""

    generation: int  # the generation the next `publish` makes live
    changed: bool

    def remove_article(self, path: str) -> int: ...

    def touch(self, path: str, size: int, mtime_ns: int) -> None: ...

    def stored_vectors(self, path: str) -> dict[int, StoredChunk]: ...

    def add_article(
        self,
        *,
        path: str,
        raw: str,
        content_hash: str,
        title: str | None,
        date: str | None,
        chunks: Sequence[Chunk],
        chunk_vectors: np.ndarray,
        sentence_vectors: Sequence[np.ndarray | None] | None = None,
        latent_terms: Sequence[LatentTerms | None] | None = None,
        size: int = -1,
        mtime_ns: int = -1,
    ) -> None: ...

    def publish(self) -> object: ...  # what `published_generation` reads the number from

    def commit(self) -> None: ...

    def close(self) -> None: ...
