"""The persistent index: FAISS vectors + SQLite metadata, written as immutable generations.

Layout of an index directory::

    CURRENT            name of the live generation, replaced atomically (os.replace)
    gen-000007/        one complete, never-modified snapshot
        manifest.json  format version, embedder id, dimension, per-article content hashes
        chunks.faiss   IndexIDMap2(IndexFlatIP) over normalised chunk vectors, ids = chunk ids
        meta.sqlite    articles (with their raw text), chunks, sentences (+ sentence vectors)
    writer.lock        see index.lock

A writer builds the next generation in a temporary folder and only then points CURRENT at it,
so a crash at any moment leaves the previous generation in place, and a reader that opened a
generation keeps a consistent snapshot however many syncs happen after it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from index.files import fsync_dir
from index.model import Chunk, Sentence

FORMAT_VERSION = 2  # 2: full-text table `chunk_terms` (BM25) beside the chunks
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
VECTORS_FILE = "chunks.faiss"
META_FILE = "meta.sqlite"
GENERATION_PREFIX = "gen-"
TEMP_PREFIX = "tmp-"
KEEP_GENERATIONS = 2  # the live one and its predecessor, which readers may still be opening

REBUILD_HINT = "run `newsbot index --rebuild` to rebuild it from the articles"

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    path TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    title TEXT,
    date TEXT,
    chunk_count INTEGER NOT NULL,
    indexed_at REAL NOT NULL,
    raw TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    article TEXT NOT NULL REFERENCES articles(path),
    position INTEGER NOT NULL,
    title TEXT,
    date TEXT,
    section TEXT,
    paragraph INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article, position);
CREATE TABLE IF NOT EXISTS sentences (
    chunk_id INTEGER NOT NULL REFERENCES chunks(id),
    position INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (chunk_id, position)
);
-- Full-text index of each chunk (rowid = chunk id) for the lexical signal: names, numbers and
-- rare words that a small embedding model blurs. Diacritics are folded (Muenchen ~ München is
-- not, but Zürich ~ Zurich is), case too; `chunk_vocab` gives document frequencies.
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5(
    text, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vocab USING fts5vocab(chunk_terms, row);
"""


class IndexError_(RuntimeError):
    """Base of the errors that make an index unusable; messages say how to recover."""


class IndexMissingError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    """Built with another model or format: vectors must never be mixed."""


class IndexCorruptError(IndexError_):
    pass


@dataclass(frozen=True, slots=True)
class Manifest:
    format_version: int
    embedder_id: str
    dimension: int
    generation: int
    created_at: float
    articles: dict[str, str]  # path -> content hash
    pipeline: str = ""  # version of what cleaning + chunking make of an article

    def to_json(self) -> dict:
        return {
            "format_version": self.format_version,
            "embedder_id": self.embedder_id,
            "dimension": self.dimension,
            "generation": self.generation,
            "created_at": self.created_at,
            "articles": dict(sorted(self.articles.items())),
            "pipeline": self.pipeline,
        }

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        return cls(
            format_version=int(data["format_version"]),
            embedder_id=str(data["embedder_id"]),
            dimension=int(data["dimension"]),
            generation=int(data["generation"]),
            created_at=float(data["created_at"]),
            articles={str(k): str(v) for k, v in data["articles"].items()},
            pipeline=str(data.get("pipeline", "")),
        )


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    path: str
    title: str | None
    date: str | None
    chunk_count: int
    content_hash: str


# --- reading -------------------------------------------------------------------------------


def current_generation_dir(index_dir: Path) -> Path:
    index_dir = Path(index_dir)
    pointer = index_dir / CURRENT_FILE
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        raise IndexMissingError(
            f"no index at {index_dir}: run `newsbot index` to build it"
        ) from None
    if not name.startswith(GENERATION_PREFIX) or "/" in name:
        raise IndexCorruptError(
            f"the index at {index_dir} is damaged (bad {CURRENT_FILE}); {REBUILD_HINT}"
        )
    return index_dir / name


def read_manifest(generation_dir: Path) -> Manifest:
    try:
        return Manifest.from_json(json.loads((generation_dir / MANIFEST_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(
            f"the index at {generation_dir.parent} is damaged (manifest: {exc}); {REBUILD_HINT}"
        ) from None


def check_compatible(manifest: Manifest, index_dir: Path, embedder_id: str | None) -> None:
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {index_dir} has format version {manifest.format_version}, this "
            f"newsbot reads version {FORMAT_VERSION}; {REBUILD_HINT}"
        )
    if embedder_id is not None and manifest.embedder_id != embedder_id:
        raise IndexMismatchError(
            f"the index at {index_dir} was built with the model {manifest.embedder_id!r}, but "
            f"the configured model is {embedder_id!r}; {REBUILD_HINT} (or set "
            f"NEWSBOT_EMBEDDING_MODEL back)"
        )


class IndexStore:
    """A read-only view of one generation. Safe to share between threads."""

    def __init__(self, generation_dir: Path, manifest: Manifest, vectors: faiss.Index) -> None:
        self.generation_dir = generation_dir
        self.manifest = manifest
        self._vectors = vectors
        self._db_lock = threading.Lock()
        uri = f"file:{generation_dir / META_FILE}?mode=ro&immutable=1"
        try:
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise IndexCorruptError(
                f"the index at {generation_dir.parent} is damaged (metadata: {exc}); {REBUILD_HINT}"
            ) from None

    @classmethod
    def open(cls, index_dir: Path, embedder_id: str | None = None) -> IndexStore:
        """Open the live generation; raise an `IndexError_` that says how to recover."""
        index_dir = Path(index_dir)
        for attempt in range(3):
            generation_dir = current_generation_dir(index_dir)
            if generation_dir.is_dir():
                break
            time.sleep(0.05 * (attempt + 1))  # a writer may just have replaced CURRENT
        else:
            raise IndexCorruptError(
                f"the index at {index_dir} is damaged ({generation_dir.name} is missing); "
                f"{REBUILD_HINT}"
            )
        manifest = read_manifest(generation_dir)
        check_compatible(manifest, index_dir, embedder_id)
        try:
            vectors = faiss.read_index(str(generation_dir / VECTORS_FILE))
        except RuntimeError as exc:
            raise IndexCorruptError(
                f"the index at {index_dir} is damaged (vectors: {str(exc).splitlines()[0]}); "
                f"{REBUILD_HINT}"
            ) from None
        store = cls(generation_dir, manifest, vectors)
        store._verify()
        return store

    def _verify(self) -> None:
        """Cheap consistency checks, so damage shows at start and not mid-conversation."""
        index_dir = self.generation_dir.parent
        try:
            [(chunk_count,)] = self._query("SELECT count(*) FROM chunks")
            [(check,)] = self._query("PRAGMA quick_check")
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(
                f"the index at {index_dir} is damaged (metadata: {exc}); {REBUILD_HINT}"
            ) from None
        if check != "ok":
            raise IndexCorruptError(
                f"the index at {index_dir} is damaged (metadata: {check}); {REBUILD_HINT}"
            )
        if chunk_count != self._vectors.ntotal or self._vectors.d != self.manifest.dimension:
            raise IndexCorruptError(
                f"the index at {index_dir} is damaged ({self._vectors.ntotal} vectors for "
                f"{chunk_count} chunks); {REBUILD_HINT}"
            )

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """All reads go through one connection opened at start (so the snapshot survives the
        generation being pruned later) and one lock (so threads can share it)."""
        with self._db_lock:
            return self._db.execute(sql, params).fetchall()

    @property
    def generation(self) -> int:
        return self.manifest.generation

    @property
    def embedder_id(self) -> str:
        return self.manifest.embedder_id

    def __len__(self) -> int:
        return int(self._vectors.ntotal)

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Chunk ids and cosine scores, best first. `k` larger than the index returns all."""
        k = min(int(k), len(self))
        if k <= 0:
            return []
        query = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(1, -1)
        scores, ids = self._vectors.search(query, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def chunks(self, ids: Sequence[int]) -> list[Chunk]:
        """Chunks with their sentences, in the order of `ids` (unknown ids are left out)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(
            "SELECT id, article, title, date, section, paragraph FROM chunks "
            f"WHERE id IN ({marks})",
            list(ids),
        )
        sentences: dict[int, list[Sentence]] = {}
        for chunk, start, end, text in self._query(
            f'SELECT chunk_id, start, "end", text FROM sentences WHERE chunk_id IN ({marks}) '
            "ORDER BY chunk_id, position",
            list(ids),
        ):
            sentences.setdefault(chunk, []).append(Sentence(text, start, end))
        by_id = {row[0]: Chunk(*row, sentences=tuple(sentences.get(row[0], ()))) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def sentence_vectors(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Per chunk, its sentences' vectors as one (n_sentences, dim) array."""
        ids = list(chunk_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        grouped: dict[int, list[bytes]] = {}
        for chunk, blob in self._query(
            f"SELECT chunk_id, vector FROM sentences WHERE chunk_id IN ({marks}) "
            "ORDER BY chunk_id, position",
            ids,
        ):
            grouped.setdefault(chunk, []).append(blob)
        return {
            chunk: np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
            for chunk, blobs in grouped.items()
        }

    def lexical_search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Chunk ids and BM25 scores (higher is better) for chunks containing any of `terms`."""
        terms = [t for t in dict.fromkeys(terms) if t]
        if not terms or k <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = self._query(
            "SELECT rowid, -bm25(chunk_terms) FROM chunk_terms WHERE chunk_terms MATCH ? "
            "ORDER BY bm25(chunk_terms) LIMIT ?",
            (match, int(k)),
        )
        return [(int(i), float(s)) for i, s in rows]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each term (terms as the full-text tokenizer folds them)."""
        terms = list(dict.fromkeys(terms))
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        rows = self._query(f"SELECT term, doc FROM chunk_vocab WHERE term IN ({marks})", terms)
        found = dict(rows)
        return {t: int(found.get(t, 0)) for t in terms}

    def chunk_vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        return np.vstack([self._vectors.reconstruct(int(i)) for i in chunk_ids])

    def article_text(self, path: str) -> str | None:
        rows = self._query("SELECT raw FROM articles WHERE path = ?", (path,))
        return rows[0][0] if rows else None

    def articles(self) -> list[ArticleRecord]:
        rows = self._query(
            "SELECT path, title, date, chunk_count, content_hash FROM articles ORDER BY path"
        )
        return [ArticleRecord(*row) for row in rows]

    def article_chunk_ids(self, path: str) -> list[int]:
        rows = self._query("SELECT id FROM chunks WHERE article = ? ORDER BY position", (path,))
        return [row[0] for row in rows]

    def close(self) -> None:
        with self._db_lock:
            self._db.close()


# --- writing -------------------------------------------------------------------------------


def new_vector_index(dimension: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def _generation_number(path: Path) -> int:
    try:
        return int(path.name.removeprefix(GENERATION_PREFIX))
    except ValueError:
        return -1


def list_generations(index_dir: Path) -> list[Path]:
    return sorted(
        (p for p in Path(index_dir).glob(f"{GENERATION_PREFIX}*") if _generation_number(p) >= 0),
        key=_generation_number,
    )


class GenerationWriter:
    """Builds the next generation from a copy of `base` (or from nothing) and publishes it.

    Callers must hold the index's `WriterLock`.
    """

    def __init__(
        self,
        index_dir: Path,
        embedder_id: str,
        dimension: int,
        base: IndexStore | None,
        *,
        pipeline: str = "",
    ) -> None:
        self.index_dir = Path(index_dir)
        self.pipeline = pipeline
        self.index_dir.mkdir(parents=True, exist_ok=True)
        remove_leftovers(self.index_dir)
        self.embedder_id = embedder_id
        self.dimension = dimension
        self.work_dir = self.index_dir / f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}"
        self.work_dir.mkdir()
        self._db = sqlite3.connect(self.work_dir / META_FILE)
        if base is not None:
            source = sqlite3.connect(f"file:{base.generation_dir / META_FILE}?mode=ro", uri=True)
            source.backup(self._db)
            source.close()
            self._vectors = faiss.read_index(str(base.generation_dir / VECTORS_FILE))
            self._articles = dict(base.manifest.articles)
            previous = [_generation_number(p) for p in list_generations(self.index_dir)]
            self._generation = max([base.generation, *previous]) + 1
        else:
            self._vectors = new_vector_index(dimension)
            self._articles = {}
            previous = [_generation_number(p) for p in list_generations(self.index_dir)]
            self._generation = max(previous, default=0) + 1
        self._db.executescript(SCHEMA)

    def remove_article(self, path: str) -> int:
        """Drop an article's vectors and rows; returns how many chunks it had."""
        ids = [
            row[0] for row in self._db.execute("SELECT id FROM chunks WHERE article = ?", (path,))
        ]
        if ids:
            self._vectors.remove_ids(np.asarray(ids, dtype=np.int64))
            marks = ",".join("?" * len(ids))
            self._db.execute(f"DELETE FROM sentences WHERE chunk_id IN ({marks})", ids)
            self._db.execute(f"DELETE FROM chunks WHERE id IN ({marks})", ids)
            self._db.execute(f"DELETE FROM chunk_terms WHERE rowid IN ({marks})", ids)
        self._db.execute("DELETE FROM articles WHERE path = ?", (path,))
        self._articles.pop(path, None)
        return len(ids)

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
        sentence_vectors: Sequence[np.ndarray],
    ) -> None:
        """Add (or replace) one article with its chunk and per-chunk sentence vectors."""
        self.remove_article(path)
        self._db.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?)",
            (path, content_hash, title, date, len(chunks), time.time(), raw),
        )
        for position, (chunk, vectors) in enumerate(zip(chunks, sentence_vectors, strict=True)):
            self._db.execute(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
                (chunk.id, path, position, chunk.title, chunk.date, chunk.section, chunk.paragraph),
            )
            self._db.execute(
                "INSERT INTO chunk_terms(rowid, text) VALUES (?, ?)",
                (chunk.id, " ".join(filter(None, [chunk.title, chunk.section, chunk.text]))),
            )
            self._db.executemany(
                "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        chunk.id,
                        i,
                        s.start,
                        s.end,
                        s.text,
                        np.ascontiguousarray(v, dtype=np.float32).tobytes(),
                    )
                    for i, (s, v) in enumerate(zip(chunk.sentences, vectors, strict=True))
                ],
            )
        if chunks:
            ids = np.asarray([c.id for c in chunks], dtype=np.int64)
            self._vectors.add_with_ids(np.ascontiguousarray(chunk_vectors, np.float32), ids)
        self._articles[path] = content_hash

    def commit(self) -> Path:
        """Write, fsync and publish the generation; only the final rename makes it live."""
        self._db.commit()
        self._db.close()
        faiss.write_index(self._vectors, str(self.work_dir / VECTORS_FILE))
        manifest = Manifest(
            FORMAT_VERSION,
            self.embedder_id,
            self.dimension,
            self._generation,
            time.time(),
            self._articles,
            self.pipeline,
        )
        (self.work_dir / MANIFEST_FILE).write_text(json.dumps(manifest.to_json(), indent=1))
        for name in (META_FILE, VECTORS_FILE, MANIFEST_FILE):
            _fsync_file(self.work_dir / name)
        fsync_dir(self.work_dir)
        final = self.index_dir / f"{GENERATION_PREFIX}{self._generation:06d}"
        os.rename(self.work_dir, final)
        _atomic_write(self.index_dir / CURRENT_FILE, final.name + "\n")
        prune_generations(self.index_dir)
        return final

    def abort(self) -> None:
        try:
            self._db.close()
        finally:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(temp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    fsync_dir(path.parent)


def remove_leftovers(index_dir: Path) -> None:
    """Temporary folders of writers that died; only called under the writer lock."""
    for path in Path(index_dir).glob(f"{TEMP_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in Path(index_dir).glob(f".{CURRENT_FILE}.*"):
        path.unlink(missing_ok=True)


def prune_generations(index_dir: Path, keep: int = KEEP_GENERATIONS) -> None:
    """Delete old generations. Readers that already opened one keep working: their FAISS
    vectors are in memory and their open SQLite file survives the unlink."""
    try:
        live = current_generation_dir(index_dir).name
    except IndexError_:
        return
    generations = list_generations(index_dir)
    for path in generations[:-keep]:
        if path.name != live:
            shutil.rmtree(path, ignore_errors=True)


def reset_index(index_dir: Path) -> None:
    """Forget every generation (for --rebuild); the new one is published atomically later, so
    the old CURRENT stays usable until then."""
    remove_leftovers(index_dir)
