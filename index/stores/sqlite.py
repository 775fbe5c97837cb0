"""The embedded store: one SQLite database (WAL) with every row stamped by generation.

Layout of an index directory::

    CURRENT              name of the live generation, replaced atomically (os.replace)
    gen-000007/          manifest.json: format, embedder, dimension, database file, chunk count
    index-000001.sqlite  articles (raw text), chunks (+ vector; float16 sentence vectors and
                         latent terms where the sync stored them), sentences, the full-text
                         table; WAL mode (-wal, -shm beside it)
    readers/gen-000007   shared `flock` of every process reading generation 7
    writer.lock          see index.lock

Every article and chunk row carries `added` (the generation that published it) and `removed`
(the one that dropped it, or NULL). A reader of generation G sees exactly the rows with
`added <= G` and `removed` NULL or above G, so a sync writes only what changed: new rows, and
`removed` on the rows it replaces. It publishes by committing, writing the small generation
folder and then replacing CURRENT; a crash before that leaves rows no published generation
sees, which the next writer deletes. Rows no reader can see any more (removed at or before
the live generation's predecessor and every generation a live reader holds) are deleted at
the next publish. `--rebuild` writes a fresh database file, published like any generation.

Chunk vectors are kept in memory per snapshot as shared immutable blocks (`index.vectors`):
a process that opens the next generation loads only the rows published since its last one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import queue
import shutil
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from index import saved_blocks
from index.dates import Coverage, DateRange
from index.documents import Chunk, Sentence
from index.embedders import LatentTerms
from index.files import atomic_write, fsync_dir
from index.stores.base import (
    REBUILD_HINT,
    ArticleRecord,
    ArticleState,
    IndexCorruptError,
    Manifest,
    ManifestView,
    StoredChunk,
    StoreError,
    check_compatible,
    chunk_rows,
    latent_terms_from,
    missing,
    sentence_vectors_from,
    visible,
)
from index.vectors import SEARCH_THREADS, Block, VectorSet

__all__ = ["SEARCH_THREADS"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 3: one WAL database with generation-stamped rows; float16 sentence vectors
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
DATABASE_PREFIX = "index-"
GENERATION_PREFIX = "gen-"
TEMP_PREFIX = "tmp-"
READERS_DIR = "readers"
KEEP_GENERATIONS = 2  # the live one and its predecessor, which readers may still be opening
DEFAULT_READERS = 8  # SQLite connections per open snapshot
SQL_VARIABLES = 10_000  # ids per `IN (...)`; stock SQLite allows 32,766 variables
LOAD_ROWS = 20_000  # vectors read per step when a snapshot is loaded

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    key INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: snapshots in memory know keys
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    title TEXT,
    date TEXT,
    chunk_count INTEGER NOT NULL,
    indexed_at REAL NOT NULL,
    raw TEXT NOT NULL,
    added INTEGER NOT NULL,
    removed INTEGER
);
CREATE INDEX IF NOT EXISTS articles_by_path ON articles(path);
-- Covers what a sync compares with the files, so reading it never touches the raw texts.
CREATE INDEX IF NOT EXISTS articles_by_added
    ON articles(added, removed, path, content_hash, size, mtime_ns);
CREATE INDEX IF NOT EXISTS articles_by_removed ON articles(removed) WHERE removed IS NOT NULL;
CREATE TABLE IF NOT EXISTS chunks (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    id INTEGER NOT NULL,
    article TEXT NOT NULL,
    position INTEGER NOT NULL,
    title TEXT,
    date TEXT,
    section TEXT,
    paragraph INTEGER NOT NULL,
    vector BLOB NOT NULL,  -- float32, unit length
    sentence_vectors BLOB,  -- float16 (sentences, dimension), unit rows; optional
    latent_terms BLOB,  -- int32 feature ids, then float32 weights; optional
    added INTEGER NOT NULL,
    removed INTEGER
);
CREATE INDEX IF NOT EXISTS chunks_by_id ON chunks(id);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article, position);
CREATE INDEX IF NOT EXISTS chunks_by_added ON chunks(added);
CREATE INDEX IF NOT EXISTS chunks_by_removed ON chunks(removed) WHERE removed IS NOT NULL;
-- A question's date window is a range of this index (`index.dates.DateRange`).
CREATE INDEX IF NOT EXISTS chunks_by_date ON chunks(date) WHERE date IS NOT NULL;
CREATE TABLE IF NOT EXISTS sentences (
    chunk INTEGER NOT NULL,  -- chunks.key
    position INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (chunk, position)
) WITHOUT ROWID;
-- Full-text index of each chunk (rowid = chunks.key) for the lexical signal: names, numbers and
-- rare words that a small embedding model blurs. Diacritics are folded (Muenchen ~ München is
-- not, but Zürich ~ Zurich is), case too; `chunk_vocab` gives document frequencies.
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5(
    text, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vocab USING fts5vocab(chunk_terms, row);
"""


# --- reading -------------------------------------------------------------------------------


def current_generation_dir(index_dir: Path) -> Path:
    index_dir = Path(index_dir)
    pointer = index_dir / CURRENT_FILE
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        raise missing(str(index_dir)) from None
    if not name.startswith(GENERATION_PREFIX) or "/" in name:
        raise IndexCorruptError(
            f"the index at {index_dir} is damaged (bad {CURRENT_FILE}); {REBUILD_HINT}"
        )
    return index_dir / name


def manifest_from_json(data: dict) -> Manifest:
    """A manifest file's contents; an older format keeps only what `check_compatible` reads."""
    format_version = int(data["format_version"])
    if format_version != FORMAT_VERSION:  # older layouts lack the newer fields
        return Manifest(format_version, str(data.get("embedder_id", "")), 0, 0, 0.0, "", 0, 0)
    return Manifest(
        format_version=format_version,
        embedder_id=str(data["embedder_id"]),
        dimension=int(data["dimension"]),
        generation=int(data["generation"]),
        created_at=float(data["created_at"]),
        database=str(data["database"]),
        chunks=int(data["chunks"]),
        articles=int(data["articles"]),
        pipeline=str(data.get("pipeline", "")),
    )


def read_manifest(generation_dir: Path) -> Manifest:
    try:
        return manifest_from_json(json.loads((generation_dir / MANIFEST_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(
            f"the index at {generation_dir.parent} is damaged (manifest: {exc}); {REBUILD_HINT}"
        ) from None


def _corrupt(index_dir: Path, what: str, exc: object) -> IndexCorruptError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return IndexCorruptError(
        f"the index at {index_dir} is damaged ({what}: {detail}); {REBUILD_HINT}"
    )


def _batches(ids: Sequence[int]) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), SQL_VARIABLES):
        yield ids[start : start + SQL_VARIABLES]


class ReaderLock:
    """A shared `flock` on `readers/gen-N` for as long as a snapshot of generation N is open,
    so a writer keeps the rows it sees. The kernel drops it when the process dies."""

    def __init__(self, index_dir: Path, generation: int) -> None:
        self._fd: int | None = None
        folder = Path(index_dir) / READERS_DIR
        path = folder / f"{GENERATION_PREFIX}{generation:06d}"
        try:
            folder.mkdir(exist_ok=True)
            for _ in range(5):  # a writer may unlink the file between our open and flock
                fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_SH)
                if os.path.exists(path) and os.stat(path).st_ino == os.fstat(fd).st_ino:
                    self._fd = fd
                    break
                os.close(fd)
        except OSError as exc:  # a read-only index folder: readers cannot announce themselves
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
        self._finalizer = weakref.finalize(self, _close_fd, self._fd)

    def release(self) -> None:
        self._finalizer()


def _close_fd(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def generations_in_use(index_dir: Path) -> set[int]:
    """Generations some live process is reading; stale lock files are removed."""
    in_use = set()
    folder = Path(index_dir) / READERS_DIR
    for path in folder.glob(f"{GENERATION_PREFIX}*") if folder.is_dir() else ():
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)
        except BlockingIOError:
            number = _generation_number(path)
            if number >= 0:
                in_use.add(number)
        finally:
            os.close(fd)
    return in_use


# Snapshots open in this process per database, so the next open loads only what changed since
# the newest of them.
_open_snapshots: dict[str, weakref.WeakSet] = {}
_open_lock = threading.Lock()


class IndexStore(ManifestView):
    """A read-only view of one generation. Safe to share between threads.

    readers: SQLite connections opened at once; each read borrows one, so many threads read
        in parallel (SQLite releases the GIL while it steps). A thread beyond `readers` waits.
    """

    def __init__(
        self,
        generation_dir: Path,
        manifest: Manifest,
        vectors: VectorSet,
        *,
        readers: int = DEFAULT_READERS,
    ) -> None:
        self.generation_dir = Path(generation_dir)
        self.index_dir = self.generation_dir.parent
        self.manifest = manifest
        self._vectors = vectors
        self._visible = visible(manifest.generation)
        self._lock = ReaderLock(self.index_dir, manifest.generation)
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._connections: list[sqlite3.Connection] = []
        try:
            for _ in range(max(1, readers)):
                connection = _connect_reader(self.index_dir / manifest.database)
                self._connections.append(connection)
                self._pool.put(connection)
        except sqlite3.Error as exc:
            raise _corrupt(self.index_dir, "metadata", exc) from None

    @classmethod
    def open(
        cls, index_dir: Path, embedder_id: str | None = None, *, readers: int = DEFAULT_READERS
    ) -> IndexStore:
        """Open the live generation; raise an `StoreError` that says how to recover."""
        index_dir = Path(index_dir)
        generation_dir, manifest, database = _live_manifest(index_dir, embedder_id, attempts=3)
        # Lock first, so no writer deletes rows of this generation while they are read.
        lock = ReaderLock(index_dir, manifest.generation)
        try:
            vectors = _load_vectors(database, manifest)
            store = cls(generation_dir, manifest, vectors, readers=readers)
        except (sqlite3.Error, ValueError) as exc:
            raise _corrupt(index_dir, "metadata", exc) from None
        finally:
            lock.release()
        store._verify()
        with _open_lock:
            _open_snapshots.setdefault(_database_key(database), weakref.WeakSet()).add(store)
        return store

    def _verify(self) -> None:
        """Cheap checks, so damage shows at start and not mid-conversation: the vectors loaded
        are as many as the manifest says, and the schema is readable. (A full `quick_check`
        reads the whole database, which at a million articles is minutes per open.)"""
        try:
            self._query("SELECT name, value FROM settings")
        except sqlite3.DatabaseError as exc:
            raise _corrupt(self.index_dir, "metadata", exc) from None
        if len(self) != self.manifest.chunks or self._vectors.dimension != self.manifest.dimension:
            raise IndexCorruptError(
                f"the index at {self.index_dir} is damaged ({len(self)} vectors for "
                f"{self.manifest.chunks} chunks); {REBUILD_HINT}"
            )

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        connection = self._pool.get()
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            self._pool.put(connection)

    def __len__(self) -> int:
        return int(self._vectors.ntotal)

    def search(
        self, query_vector: np.ndarray, k: int, window: DateRange | None = None
    ) -> list[tuple[int, float]]:
        """Chunk ids and cosine scores, best first. `k` larger than the index returns all.
        `window`: only chunks of articles dated inside it, filtered before the top `k`."""
        k = min(int(k), len(self))
        if k <= 0:
            return []
        if window is not None:
            return self._vectors.search_keys(query_vector, k, self._window_keys(window))
        return self._vectors.search(query_vector, k)

    def _window_keys(self, window: DateRange) -> np.ndarray:
        """Row keys of the chunks this snapshot sees whose article is dated inside `window`."""
        condition, params = window.sql()
        rows = self._query(f"SELECT key FROM chunks WHERE {condition} AND {self._visible}", params)
        return np.fromiter((key for (key,) in rows), np.int64, len(rows))

    def chunks(self, ids: Sequence[int]) -> list[Chunk]:
        """Chunks with their sentences, in the order of `ids` (unknown ids are left out)."""
        rows = []
        for batch in _batches(ids):
            rows += self._query(
                "SELECT key, id, article, title, date, section, paragraph FROM chunks "
                f"WHERE id IN ({','.join('?' * len(batch))}) AND {self._visible}",
                batch,
            )
        sentences: dict[int, list[Sentence]] = {}
        for batch in _batches([row[0] for row in rows]):
            for key, start, end, text in self._query(
                f'SELECT chunk, start, "end", text FROM sentences WHERE chunk IN '
                f"({','.join('?' * len(batch))}) ORDER BY chunk, position",
                batch,
            ):
                sentences.setdefault(key, []).append(Sentence(text, start, end))
        by_id = {
            row[1]: Chunk(*row[1:], sentences=tuple(sentences.get(row[0], ()))) for row in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def sentence_vectors(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Per chunk, its sentences' vectors as one (n_sentences, dim) float32 array (stored
        as float16); chunks stored without sentence vectors are left out."""
        dimension = self.manifest.dimension
        found = self._stored("sentence_vectors", chunk_ids)
        return {chunk: sentence_vectors_from(blob, dimension) for chunk, blob in found.items()}

    def latent_terms(self, chunk_ids: Iterable[int]) -> dict[int, LatentTerms]:
        """Per chunk, its stored latent terms; chunks stored without them are left out (an
        index written before they were stored has no such column: nothing is found)."""
        try:
            found = self._stored("latent_terms", chunk_ids)
        except sqlite3.OperationalError as exc:
            if "no such column" not in str(exc):
                raise
            return {}
        return {chunk: latent_terms_from(blob) for chunk, blob in found.items()}

    def _stored(self, column: str, chunk_ids: Iterable[int]) -> dict[int, bytes]:
        """The visible chunks' non-null `column` (an optional blob) by chunk id."""
        found = {}
        for batch in _batches(list(dict.fromkeys(chunk_ids))):
            for chunk, blob in self._query(
                f"SELECT id, {column} FROM chunks WHERE id IN "
                f"({','.join('?' * len(batch))}) AND {self._visible} "
                f"AND {column} IS NOT NULL",
                batch,
            ):
                found[chunk] = blob
        return found

    def chunk_vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """The chunks' vectors in the order given; an unknown id raises KeyError."""
        found = {}
        for batch in _batches(list(dict.fromkeys(chunk_ids))):
            for chunk, blob in self._query(
                f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(batch))}) "
                f"AND {self._visible}",
                batch,
            ):
                found[chunk] = np.frombuffer(blob, dtype=np.float32)
        if not chunk_ids:
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        return np.vstack([found[int(i)] for i in chunk_ids])

    def _hidden_keys(self) -> set[int]:
        """Row keys in the database this snapshot does not see: replaced ones not yet deleted
        and ones not yet published. Few, and found through indexes, not a scan."""
        g = self.generation
        return {
            key
            for (key,) in self._query(
                f"SELECT key FROM chunks WHERE added > {g} "
                f"UNION ALL SELECT key FROM chunks WHERE removed <= {g}"
            )
        }

    def lexical_search(
        self, terms: Sequence[str], k: int, window: DateRange | None = None
    ) -> list[tuple[int, float]]:
        """Chunk ids and BM25 scores (higher is better) for chunks containing any of `terms`.

        The full-text query runs alone (a join to filter the snapshot is much slower) and asks
        for as many more rows as the snapshot hides, which are then dropped. With a `window`,
        only chunks of the window's articles (a range of the date index) are kept."""
        terms = [t for t in dict.fromkeys(terms) if t]
        if not terms or k <= 0:
            return []
        if window is not None:
            # every match, best first, kept when in the window: FTS5 given the window's rowids
            # evaluates its query once per rowid (35 ms for a 1 % window of 50,000 chunks),
            # while the matches of the retriever's queries are bounded (`max_query_matches`)
            allowed = set(self._window_keys(window).tolist())
            rows = self._query(
                "SELECT rowid, -bm25(chunk_terms) FROM chunk_terms WHERE chunk_terms MATCH ? "
                "ORDER BY bm25(chunk_terms)",
                (_match_any(terms),),
            )
            return self._ids_of([(key, score) for key, score in rows if key in allowed][: int(k)])
        hidden = self._hidden_keys()
        rows = self._query(
            "SELECT rowid, -bm25(chunk_terms) FROM chunk_terms WHERE chunk_terms MATCH ? "
            "ORDER BY bm25(chunk_terms) LIMIT ?",
            (_match_any(terms), int(k) + len(hidden)),
        )
        rows = [(key, score) for key, score in rows if key not in hidden][: int(k)]
        return self._ids_of(rows)

    def _ids_of(self, rows: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """(row key, score) -> (chunk id, score)."""
        if not rows:
            return []
        ids = dict(
            self._query(
                f"SELECT key, id FROM chunks WHERE key IN ({','.join('?' * len(rows))})",
                [key for key, _ in rows],
            )
        )
        return [(int(ids[key]), float(score)) for key, score in rows if key in ids]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks this snapshot sees contain each term (terms as the full-text
        tokenizer folds them). The vocabulary counts every row in the database; the few rows
        this snapshot does not see are subtracted."""
        terms = list(dict.fromkeys(terms))
        if not terms:
            return {}
        counts: dict[str, int] = {}
        for batch in _batches(terms):
            marks = ",".join("?" * len(batch))
            rows = self._query(f"SELECT term, doc FROM chunk_vocab WHERE term IN ({marks})", batch)
            counts.update(rows)
        hidden = sorted(self._hidden_keys())
        if hidden:
            for term in [t for t in terms if counts.get(t)]:
                for batch in _batches(hidden):
                    [(n,)] = self._query(
                        "SELECT count(*) FROM chunk_terms WHERE chunk_terms MATCH ? AND rowid IN "
                        f"({','.join('?' * len(batch))})",
                        [_match_any([term]), *batch],
                    )
                    counts[term] -= n
        return {t: int(counts.get(t, 0)) for t in terms}

    def article_text(self, path: str) -> str | None:
        rows = self._query(f"SELECT raw FROM articles WHERE path = ? AND {self._visible}", (path,))
        return rows[0][0] if rows else None

    def coverage(self) -> Coverage:
        """Oldest and newest article date, and how many articles are dated and undated."""
        [(oldest, newest, dated, total)] = self._query(
            "SELECT min(date), max(date), count(date), count(*) FROM articles "
            f"WHERE {self._visible}"
        )
        return Coverage(oldest, newest, int(dated), int(total) - int(dated))

    def articles(self) -> list[ArticleRecord]:
        rows = self._query(
            "SELECT path, title, date, chunk_count, content_hash FROM articles "
            f"WHERE {self._visible} ORDER BY path"
        )
        return [ArticleRecord(*row) for row in rows]

    def article_states(self) -> dict[str, ArticleState]:
        """Per article path: content hash, size and mtime of the file when it was indexed."""
        rows = self._query(
            f"SELECT path, content_hash, size, mtime_ns FROM articles WHERE {self._visible}"
        )
        return {path: ArticleState(*state) for path, *state in rows}

    def article_chunk_ids(self, path: str) -> list[int]:
        rows = self._query(
            f"SELECT id FROM chunks WHERE article = ? AND {self._visible} ORDER BY position",
            (path,),
        )
        return [row[0] for row in rows]

    def close(self) -> None:
        """Close every connection (waits for reads in flight to give theirs back); a read after
        this fails as on any closed SQLite connection instead of waiting forever."""
        closing = [self._pool.get() for _ in self._connections]
        for connection in closing:
            connection.close()
            self._pool.put(connection)
        with _open_lock:  # without its reader lock, its rows may go: no base for the next
            for snapshots in _open_snapshots.values():
                snapshots.discard(self)
        self._lock.release()


def _live_manifest(
    index_dir: Path, embedder_id: str | None, *, attempts: int
) -> tuple[Path, Manifest, Path]:
    """The live generation's folder, manifest (checked against `embedder_id`) and database.
    A reader retries briefly: a writer may just have replaced CURRENT. The writer, which holds
    the lock, looks once."""
    for attempt in range(attempts):
        generation_dir = current_generation_dir(index_dir)
        if generation_dir.is_dir():
            break
        if attempt + 1 < attempts:
            time.sleep(0.05 * (attempt + 1))
    else:
        raise IndexCorruptError(
            f"the index at {index_dir} is damaged ({generation_dir.name} is missing); "
            f"{REBUILD_HINT}"
        )
    manifest = read_manifest(generation_dir)
    check_compatible(manifest, str(index_dir), FORMAT_VERSION, embedder_id)
    database = index_dir / manifest.database
    if not database.is_file():
        raise IndexCorruptError(
            f"the index at {index_dir} is damaged ({manifest.database} is missing); {REBUILD_HINT}"
        )
    return generation_dir, manifest, database


def read_live(
    index_dir: Path,
    embedder_id: str | None = None,
    *,
    paths: Sequence[str] | None = None,
    folders: Sequence[str] = (),
) -> tuple[Manifest, dict[str, ArticleState]]:
    """The live generation's manifest and article states, without loading vectors (what a
    sync needs); raises like `IndexStore.open`. With `paths` (and `folders`, relative folder
    names), only the states of those articles and of the articles below those folders are
    read, through the index on `path`: a sync of a few changed files costs what they do."""
    index_dir = Path(index_dir)
    _, manifest, database = _live_manifest(index_dir, embedder_id, attempts=1)
    lock = ReaderLock(index_dir, manifest.generation)
    select = "SELECT path, content_hash, size, mtime_ns FROM articles"
    seen = visible(manifest.generation)
    try:
        connection = _connect_reader(database)
        try:
            if paths is None:
                rows = connection.execute(f"{select} WHERE {seen}").fetchall()
            else:
                rows = []
                for batch in _batches(list(dict.fromkeys(paths))):
                    marks = ",".join("?" * len(batch))
                    rows += connection.execute(
                        f"{select} WHERE path IN ({marks}) AND {seen}", batch
                    ).fetchall()
                for folder in dict.fromkeys(f.rstrip("/") for f in folders):
                    # every path that starts with "folder/" ("/" + 1 is "0")
                    rows += connection.execute(
                        f"{select} WHERE path >= ? AND path < ? AND {seen}",
                        (f"{folder}/", f"{folder}0"),
                    ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise _corrupt(index_dir, "metadata", exc) from None
    finally:
        lock.release()
    if paths is not None:
        return manifest, {path: ArticleState(*state) for path, *state in rows}
    if len(rows) != manifest.articles:
        raise IndexCorruptError(
            f"the index at {index_dir} is damaged ({len(rows)} articles, the manifest says "
            f"{manifest.articles}); {REBUILD_HINT}"
        )
    return manifest, {path: ArticleState(*state) for path, *state in rows}


def _match_any(terms: Sequence[str]) -> str:
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _connect_reader(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(
        f"file:{database}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
    )
    connection.execute("PRAGMA query_only = 1")
    return connection


def _database_key(database: Path) -> str:
    stat = database.stat()
    return f"{database.resolve()}:{stat.st_ino}"


def _load_vectors(database: Path, manifest: Manifest) -> VectorSet:
    """The generation's chunk vectors: from the last snapshot this process opened on the same
    database plus the rows published since (O(change)), else from the block a start-up saved
    (`index.saved_blocks`) plus the rows published since, else all of them from SQLite."""
    with _open_lock:
        alive = [  # alive, so their reader locks kept their rows
            s
            for s in _open_snapshots.get(_database_key(database), ())
            if s.generation <= manifest.generation
        ]
    previous = max(alive, key=lambda s: s.generation, default=None)
    connection = _connect_reader(database)
    dimension = manifest.dimension
    try:
        if previous is not None:
            since, until = previous.generation, manifest.generation
            added = Block.from_pages(
                _vector_pages(
                    connection,
                    f"added > {since} AND added <= {until} AND "
                    f"(removed IS NULL OR removed > {until})",
                ),
                dimension,
            )
            removed = [
                key
                for (key,) in connection.execute(
                    f"SELECT key FROM chunks WHERE removed > {since} AND removed <= {until} "
                    f"AND added <= {since}"
                )
            ]
            vectors = previous._vectors.extended(added, removed)
            if vectors.ntotal == manifest.chunks:
                return vectors
            log.warning("the index changed under a snapshot; loading all vectors again")
        index_dir = database.parent
        saved = saved_blocks.load(
            index_dir,
            database,
            manifest.generation,
            dimension,
            connection,
            lambda condition: _vector_pages(connection, condition),
        )
        if saved is not None and saved.ntotal == manifest.chunks:
            return saved
        pages = _vector_pages(connection, visible(manifest.generation))
        block = Block.from_pages(pages, dimension, manifest.chunks)
        saved_blocks.save(index_dir, database, manifest.generation, block)
        return VectorSet.of(dimension, [block], set())
    finally:
        connection.close()


def _vector_pages(
    connection: sqlite3.Connection, condition: str
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    cursor = connection.execute(
        f"SELECT key, id, vector FROM chunks WHERE {condition} ORDER BY key"
    )
    while rows := cursor.fetchmany(LOAD_ROWS):
        yield (
            np.fromiter((r[0] for r in rows), np.int64, len(rows)),
            np.fromiter((r[1] for r in rows), np.int64, len(rows)),
            np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32),
        )


# --- writing -------------------------------------------------------------------------------


def _generation_number(path: Path) -> int:
    try:
        return int(path.name.removeprefix(GENERATION_PREFIX))
    except ValueError:
        return -1


def list_generations(index_dir: Path) -> list[Path]:
    return sorted(
        (
            p
            for p in Path(index_dir).glob(f"{GENERATION_PREFIX}*")
            if _generation_number(p) >= 0 and p.is_dir()
        ),
        key=_generation_number,
    )


class IndexWriter:
    """Writes changes as generations of one database. Callers hold the index's `WriterLock`.

    base: the live generation's manifest, or None to start a fresh database (first index,
        `--rebuild`); the previous index stays live until the first `publish`.
    """

    def __init__(
        self,
        index_dir: Path,
        embedder_id: str,
        dimension: int,
        base: Manifest | None,
        *,
        pipeline: str = "",
    ) -> None:
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        remove_leftovers(self.index_dir)
        self.embedder_id = embedder_id
        self.dimension = dimension
        self.pipeline = pipeline
        previous = [_generation_number(p) for p in list_generations(self.index_dir)]
        self.generation = max([base.generation if base else 0, *previous], default=0) + 1
        if base is None:
            self.database = f"{DATABASE_PREFIX}{self.generation:06d}.sqlite"
            _remove_database(self.index_dir / self.database)  # a rebuild that crashed
            self._chunks = self._articles = 0
            live = 0
        else:
            self.database = base.database
            self._chunks, self._articles = base.chunks, base.articles
            live = base.generation
        self._db = sqlite3.connect(self.index_dir / self.database, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")  # a published generation survives power loss
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(chunks)")}
        if "latent_terms" not in columns:  # an index written before they were stored
            self._db.execute("ALTER TABLE chunks ADD COLUMN latent_terms BLOB")
        self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany(
            "INSERT OR REPLACE INTO settings VALUES (?, ?)",
            [("embedder_id", embedder_id), ("dimension", str(dimension))],
        )
        self._forget_unpublished(live)
        self.changed = False

    def _forget_unpublished(self, live: int) -> None:
        """Rows a writer that died wrote after the live generation: no reader ever saw them."""
        stale = f"SELECT key FROM chunks WHERE added > {live}"
        self._db.execute(f"DELETE FROM chunk_terms WHERE rowid IN ({stale})")
        self._db.execute(f"DELETE FROM sentences WHERE chunk IN ({stale})")
        self._db.execute(f"DELETE FROM chunks WHERE added > {live}")
        self._db.execute(f"DELETE FROM articles WHERE added > {live}")
        self._db.execute(f"UPDATE chunks SET removed = NULL WHERE removed > {live}")
        self._db.execute(f"UPDATE articles SET removed = NULL WHERE removed > {live}")

    def remove_article(self, path: str) -> int:
        """Drop an article from the next generation; returns how many chunks it had."""
        g = self.generation
        current = "path = ? AND removed IS NULL"
        chunks = self._db.execute(
            f"UPDATE chunks SET removed = {g} WHERE article = ? AND removed IS NULL", (path,)
        ).rowcount
        articles = self._db.execute(f"UPDATE articles SET removed = {g} WHERE {current}", (path,))
        self._chunks -= chunks
        self._articles -= articles.rowcount
        self.changed = self.changed or bool(articles.rowcount)
        return chunks

    def stored_vectors(self, path: str) -> dict[int, StoredChunk]:
        """The article's current chunks by id, so an update that leaves a paragraph as it was
        keeps its vectors and latent terms (`index.sync`)."""
        rows = self._db.execute(
            "SELECT id, section, vector, sentence_vectors, latent_terms FROM chunks "
            "WHERE article = ? AND removed IS NULL",
            (path,),
        ).fetchall()
        return {
            int(chunk): StoredChunk(
                section,
                np.frombuffer(vector, np.float32),
                None if blob is None else sentence_vectors_from(blob, self.dimension),
                None if terms is None else latent_terms_from(terms),
            )
            for chunk, section, vector, blob, terms in rows
        }

    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        """Record a new size/mtime for an unchanged file (no reader looks at them)."""
        self._db.execute(
            "UPDATE articles SET size = ?, mtime_ns = ? WHERE path = ? AND removed IS NULL",
            (size, mtime_ns, path),
        )

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
    ) -> None:
        """Add (or replace) one article with its chunk vectors and, optionally, its sentence
        vectors and latent terms."""
        self.remove_article(path)
        g = self.generation
        self._db.execute(
            "INSERT INTO articles (path, content_hash, size, mtime_ns, title, date, chunk_count, "
            "indexed_at, raw, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (path, content_hash, size, mtime_ns, title, date, len(chunks), time.time(), raw, g),
        )
        rows = chunk_rows(chunks, chunk_vectors, sentence_vectors, latent_terms)
        for position, chunk, vector, blob, terms in rows:
            key = self._db.execute(
                "INSERT INTO chunks (id, article, position, title, date, section, paragraph, "
                "vector, sentence_vectors, latent_terms, added) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chunk.id,
                    path,
                    position,
                    chunk.title,
                    chunk.date,
                    chunk.section,
                    chunk.paragraph,
                    vector.tobytes(),
                    blob,
                    terms,
                    g,
                ),
            ).lastrowid
            self._db.execute(
                "INSERT INTO chunk_terms(rowid, text) VALUES (?, ?)",
                (key, " ".join(filter(None, [chunk.title, chunk.section, chunk.text]))),
            )
            self._db.executemany(
                "INSERT INTO sentences VALUES (?, ?, ?, ?, ?)",
                [(key, i, s.start, s.end, s.text) for i, s in enumerate(chunk.sentences)],
            )
        self._chunks += len(chunks)
        self._articles += 1
        self.changed = True

    def publish(self) -> Path:
        """Commit, write the generation folder, point CURRENT at it; then delete rows no
        reader can see any more. Writing may go on: the next changes form the next one."""
        self._db.execute("COMMIT")
        manifest = Manifest(
            FORMAT_VERSION,
            self.embedder_id,
            self.dimension,
            self.generation,
            time.time(),
            self.database,
            self._chunks,
            self._articles,
            self.pipeline,
        )
        work = self.index_dir / f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}"
        work.mkdir()
        (work / MANIFEST_FILE).write_text(json.dumps(manifest.to_json(), indent=1))
        _fsync_file(work / MANIFEST_FILE)
        fsync_dir(work)
        final = self.index_dir / f"{GENERATION_PREFIX}{self.generation:06d}"
        os.rename(work, final)
        atomic_write(self.index_dir / CURRENT_FILE, final.name + "\n")
        self._db.execute("BEGIN IMMEDIATE")
        self._delete_unseen(min(generations_in_use(self.index_dir), default=self.generation))
        self._db.execute("COMMIT")
        prune_generations(self.index_dir)
        self.generation += 1
        self.changed = False
        self._db.execute("BEGIN IMMEDIATE")
        return final

    def _delete_unseen(self, oldest_reader: int) -> None:
        """Rows removed at or before every generation still wanted are invisible to all."""
        upto = min(oldest_reader, self.generation - 1)
        gone = f"SELECT key FROM chunks WHERE removed <= {upto}"
        self._db.execute(f"DELETE FROM chunk_terms WHERE rowid IN ({gone})")
        self._db.execute(f"DELETE FROM sentences WHERE chunk IN ({gone})")
        self._db.execute(f"DELETE FROM chunks WHERE removed <= {upto}")
        self._db.execute(f"DELETE FROM articles WHERE removed <= {upto}")

    def commit(self) -> None:
        """Keep in-place updates (`touch`) without publishing a generation."""
        self._db.execute("COMMIT")
        self._db.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        """Roll back whatever was not published."""
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        finally:
            self._db.close()

    abort = close


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def remove_leftovers(index_dir: Path) -> None:
    """Temporary folders of writers that died; only called under the writer lock."""
    for path in Path(index_dir).glob(f"{TEMP_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in Path(index_dir).glob(f".{CURRENT_FILE}.*"):
        path.unlink(missing_ok=True)


def prune_generations(index_dir: Path, keep: int = KEEP_GENERATIONS) -> None:
    """Delete old generation folders, and databases that no kept generation and no reader
    uses (after a `--rebuild`; readers that have one open keep reading it)."""
    try:
        live = current_generation_dir(index_dir).name
    except StoreError:
        return
    generations = list_generations(index_dir)
    for path in generations[:-keep]:
        if path.name != live:
            shutil.rmtree(path, ignore_errors=True)
    kept = list_generations(index_dir)
    wanted = set()
    for path in kept:
        try:
            wanted.add(read_manifest(path).database)
        except IndexCorruptError:
            return  # be safe: delete no database while a manifest cannot be read
    if not kept or any(g < _generation_number(kept[0]) for g in generations_in_use(index_dir)):
        return
    for path in Path(index_dir).glob(f"{DATABASE_PREFIX}*.sqlite"):
        if path.name not in wanted:
            _remove_database(path)
