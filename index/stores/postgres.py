"""The index in PostgreSQL with pgvector: one archive for bots on several machines.

The same model as the embedded store (`index.stores.sqlite`): every article and chunk row carries
`added` (the generation that published it) and `removed` (the one that dropped it, or NULL),
and a reader of generation G sees the rows with `added <= G` and `removed` NULL or above G.
A writer works in one open transaction and publishes by inserting the generation's row and
committing, so other processes see all of a generation or none of it; a writer that dies
leaves nothing (PostgreSQL rolls its transaction back).

Tables, in the connection's current schema (`?options=-csearch_path%3Dname,public` in the
URL keeps several indexes in one database)::

    newsbot_generations    one row per published generation: its manifest; the live one is
                           the highest
    newsbot_t<N>_articles  raw text and file state per article version
    newsbot_t<N>_chunks    one row per chunk: its sentences, its vector (`vector(dim)` with an
                           HNSW index, inner product = cosine of unit vectors), float16
                           sentence vectors if the sync stored them, and the folded words as
                           a `tsvector` (GIN) for the lexical signal (BM25 computed in SQL, as
                           FTS5's `bm25`)

`<N>` is the generation that created the table set: the first index and every `--rebuild`
start a new set (another model may have another dimension), published like any generation;
sets no kept generation uses are dropped.

Readers hold a shared advisory lock per generation they read (the lease; it dies with its
connection, as the embedded store's `flock` dies with its process), and a writer deletes only
rows no leased generation can see. One writer at a time: an advisory lock. A lost connection
(the server restarted) is opened again and the read retried for up to `RECONNECT_SECONDS`.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import socket
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np

from index.dates import Coverage, DateRange
from index.documents import Chunk, Sentence
from index.embedders import LatentTerms
from index.lock import IndexLockedError, ServiceLockedError
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
from index.words import tokens

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # of the PostgreSQL layout (the embedded store counts its own)
GENERATIONS = "newsbot_generations"
TABLE_PREFIX = "newsbot_t"
POOL_SIZE = 8  # connections per location and process; a thread beyond waits for one
RECONNECT_SECONDS = 30.0  # how long a read retries while the server is unreachable
LIVE_RETRY_SECONDS = 2.0  # the per-question look at the live generation gives up sooner
CONNECT_TIMEOUT = 5
EF_SEARCH = 100  # HNSW candidates per search (pgvector's default is 40)
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's bm25() defaults
MAX_LEXEME_BYTES = 2046  # PostgreSQL refuses longer words in a tsvector
MAX_POSITION = 16383  # tsvector positions stop there

T = TypeVar("T")


class StoreUnavailableError(StoreError):
    """The PostgreSQL server cannot be reached (yet)."""


class StoreRefusedError(StoreError):
    """The server answered and refused the login (password, user, database, pg_hba.conf):
    asking again will not help, so it is never retried."""


# What libpq says when the server turns a login away (a connection failure has no SQLSTATE
# in psycopg): wrong password, unknown role or database, no pg_hba.conf line for us.
_REFUSALS = (
    "authentication failed",
    "no password supplied",
    "pg_hba.conf",
    "does not exist",
    "not permitted to log in",
)


# --- connections --------------------------------------------------------------------------


def describe(location: str) -> str:
    """host:port/database[ schema] — never the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(location)
    except Exception:
        return "a PostgreSQL database (unparsable URL)"
    where = f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
    options = str(info.get("options", ""))
    if "search_path" in options:
        where += f" ({options.split('search_path', 1)[1].lstrip('= ').split(',')[0]})"
    return f"postgresql://{where}"


def with_schema(location: str, schema: str) -> str:
    """The URL of the index kept in `schema` of the same database (created by its writer)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"not a plain schema name: {schema!r}")
    separator = "&" if "?" in location else "?"
    return f"{location}{separator}options=-csearch_path%3D{schema},public"


def named_schema(location: str) -> str | None:
    """The first schema of a `search_path` the URL sets, if it sets one."""
    from psycopg.conninfo import conninfo_to_dict

    options = str(conninfo_to_dict(location).get("options") or "")
    found = re.search(r"search_path\s*=\s*([^,\s]+)", options)
    return found.group(1).strip('"') if found else None


def connect(location: str, *, autocommit: bool = True, vectors: bool = True):
    """A connection named after this process (what lock errors show), with pgvector's types
    registered when the extension exists."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from index.stores import redacted, url_problem

    problem = url_problem(location)  # libpq's own message would quote the password
    if problem is not None:
        raise StoreError(f"cannot use the index URL {redacted(location)}: {problem}")
    extra: dict[str, object] = {
        "application_name": f"newsbot pid {os.getpid()} on {socket.gethostname()}"[:63]
    }
    if "connect_timeout" not in conninfo_to_dict(location):
        extra["connect_timeout"] = CONNECT_TIMEOUT
    try:
        connection = psycopg.connect(location, autocommit=True, **extra)
    except psycopg.OperationalError as exc:
        if any(refusal in str(exc) for refusal in _REFUSALS):
            detail = str(exc).strip().splitlines()[-1].split("FATAL:")[-1].strip()
            raise StoreRefusedError(
                f"the PostgreSQL server at {describe(location)} refused the login: {detail} "
                "(check the user, password and database in NEWSBOT_STORE)"
            ) from None
        raise
    try:
        connection.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        # keep scanning the graph past rows the snapshot filter drops (pgvector >= 0.8)
        connection.execute("SET hnsw.iterative_scan = strict_order")
        if vectors:
            _register_vector(connection)
        connection.autocommit = autocommit
    except BaseException:
        connection.close()
        raise
    return connection


def _array(value: object) -> np.ndarray:
    """pgvector's `Vector` (or an array) as float32."""
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


def _register_vector(connection) -> bool:
    from pgvector.psycopg import register_vector

    try:
        register_vector(connection)
    except Exception:  # the extension is not installed: no index here yet
        return False
    return True


def _lost(exc: BaseException) -> bool:
    """A dead connection or an unreachable server (worth a new connection and a retry)."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _unavailable(location: str, exc: BaseException) -> StoreUnavailableError:
    detail = _first_line(exc)
    return StoreUnavailableError(
        f"cannot reach the index at {describe(location)}: {detail} (is the PostgreSQL server "
        "running? newsbot retries when asked again)"
    )


def retrying(location: str, action: Callable[[], T], *, seconds: float | None = None) -> T:
    """Run `action`, retrying while the server is unreachable, up to `seconds`."""
    limit = RECONNECT_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + limit
    delay = 0.1
    while True:
        try:
            return action()
        except Exception as exc:
            if not _lost(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise _unavailable(location, exc) from None
            log.warning("the index database is unreachable (%s); retrying", exc)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class _Pool:
    """Autocommit connections of one process to one location, opened as needed; reads of
    every snapshot share them (a snapshot is a generation number in the SQL, not a
    connection). A connection that failed is dropped, not returned."""

    def __init__(
        self,
        location: str,
        size: int = POOL_SIZE,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self.location = location
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: weakref.WeakSet = weakref.WeakSet()
        self._on_reconnect = on_reconnect
        self._lost = False  # a connection died: the server may have restarted

    def run(self, work: Callable, *, seconds: float | None = None):
        def once():
            self._slots.acquire()
            try:
                try:
                    connection = self._idle.get_nowait()
                except queue.Empty:
                    connection = connect(self.location)
                    self._all.add(connection)
                    if self._lost and self._on_reconnect is not None:
                        self._lost = False
                        self._on_reconnect()
                try:
                    result = work(connection)
                except BaseException as exc:
                    if _lost(exc) or connection.closed:
                        connection.close()
                        self._drop_idle()
                    else:
                        self._idle.put(connection)
                    raise
                self._idle.put(connection)
                return result
            finally:
                self._slots.release()

        return retrying(self.location, once, seconds=seconds)

    def _drop_idle(self) -> None:
        """One connection died: the others most likely did too (a restart)."""
        self._lost = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def close(self) -> None:
        for connection in list(self._all):
            connection.close()


class _Leases:
    """Shared advisory locks (key: the index's reader namespace, the generation) held on one
    connection per process and location, one per generation some open snapshot reads."""

    def __init__(self, location: str) -> None:
        self.location = location
        # reentrant: a snapshot collected mid-`hold` releases its lease in the same thread
        self._lock = threading.RLock()
        self._held: dict[tuple[int, int], int] = {}
        self._connection = None

    def _ensure(self):
        if self._connection is None or self._connection.closed:
            self._connection = connect(self.location, vectors=False)
            for namespace, generation in self._held:  # a new session: take them again
                self._connection.execute(
                    "SELECT pg_advisory_lock_shared(%s, %s)", (namespace, generation)
                )
        return self._connection

    def _do(self, sql: str, key: tuple[int, int]) -> None:
        def once():
            try:
                self._ensure().execute(sql, key)
            except BaseException as exc:
                if _lost(exc) and self._connection is not None:
                    self._connection.close()
                raise

        retrying(self.location, once)

    def hold(self, namespace: int, generation: int) -> None:
        key = (namespace, generation)
        with self._lock:
            if self._held.get(key, 0) == 0:
                # not in `_held` yet: a new session (`_ensure`) takes only the others again
                self._do("SELECT pg_advisory_lock_shared(%s, %s)", key)
            self._held[key] = self._held.get(key, 0) + 1

    def release(self, namespace: int, generation: int) -> None:
        key = (namespace, generation)
        with self._lock:
            count = self._held.get(key, 0)
            if count > 1:
                self._held[key] = count - 1
                return
            self._held.pop(key, None)
            if count and self._connection is not None and not self._connection.closed:
                try:
                    self._connection.execute("SELECT pg_advisory_unlock_shared(%s, %s)", key)
                except Exception as exc:  # the lease died with its connection anyway
                    log.debug("releasing a lease failed: %s", exc)

    def restore(self) -> None:
        """After the server restarted: a new session with the leases taken again."""
        with self._lock:
            if self._connection is not None and not self._connection.closed:
                try:
                    self._connection.execute("SELECT 1")
                    return
                except Exception:
                    self._connection.close()
            retrying(self.location, self._ensure)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


_shared: dict[str, tuple[_Pool, _Leases]] = {}
_shared_lock = threading.Lock()


def _resources(location: str) -> tuple[_Pool, _Leases]:
    with _shared_lock:
        if location not in _shared:
            leases = _Leases(location)
            _shared[location] = (_Pool(location, on_reconnect=leases.restore), leases)
        return _shared[location]


def close_connections(location: str | None = None) -> None:
    """Close this process's reader connections (tests; a front end that switches index)."""
    with _shared_lock:
        for key in [location] if location else list(_shared):
            pool, leases = _shared.pop(key, (None, None))
            if pool is not None:
                pool.close()
                leases.close()


def _namespace(schema: str, kind: str) -> int:
    """Advisory-lock key of one index (a schema in a database) and one purpose."""
    return zlib.crc32(f"newsbot:{schema}:{kind}".encode()) & 0x7FFFFFFF


# --- words --------------------------------------------------------------------------------


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: Sequence[str]) -> str:
    """The tokens with their positions (so a word's count in the chunk is known for BM25),
    written as tsvector input: PostgreSQL's parser never sees the text."""
    positions: dict[str, list[int]] = {}
    for number, token in enumerate(tokens, 1):
        if len(token.encode()) <= MAX_LEXEME_BYTES:
            positions.setdefault(token, []).append(min(number, MAX_POSITION))
    return " ".join(
        f"{_quote(t)}:{','.join(map(str, dict.fromkeys(p)))}" for t, p in positions.items()
    )


def chunk_words(chunk: Chunk) -> list[str]:
    """What the embedded store's full-text table holds for a chunk: title, section, text."""
    return tokens(" ".join(filter(None, [chunk.title, chunk.section, chunk.text])))


# --- reading ------------------------------------------------------------------------------


def _schema_exists(connection) -> str:
    return connection.execute("SELECT current_schema()").fetchone()[0]


def _quoted(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


_schemas: dict[str, str] = {}


def index_schema(location: str, connection) -> str | None:
    """The schema the index at `location` lives in: the one its URL names, else the
    connection's current schema; None when the named schema does not exist (yet). Every
    table is read qualified with it: a missing table must never be found in `public`."""
    if location in _schemas:
        return _schemas[location]
    schema = _schema_exists(connection)
    named = named_schema(location)
    if named and named != "$user" and named != schema:
        return None
    _schemas[location] = schema
    return schema


def _live_row(connection, schema: str) -> tuple | None:
    """The live generation's row, or None when there is no index (yet)."""
    import psycopg

    try:
        return connection.execute(
            f"SELECT generation, format_version, embedder_id, dimension, created_at, tables, "
            f"chunks, articles, pipeline, tokens FROM {_quoted(schema)}.{GENERATIONS} "
            "ORDER BY generation DESC LIMIT 1"
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        if not connection.autocommit:
            connection.rollback()
        return None


def _manifest(row: tuple) -> tuple[Manifest, int]:
    generation, version, embedder_id, dimension, created, tables, chunks, articles, pipeline = row[
        :9
    ]
    manifest = Manifest(
        int(version),
        str(embedder_id),
        int(dimension),
        int(generation),
        float(created),
        str(tables),
        int(chunks),
        int(articles),
        str(pipeline),
    )
    return manifest, int(row[9])


def _missing(location: str) -> StoreError:
    return missing(describe(location))


def _live(location: str, connection) -> tuple | None:
    schema = index_schema(location, connection)
    return None if schema is None else _live_row(connection, schema)


def live_generation(location: str) -> int:
    pool, _ = _resources(location)
    row = pool.run(lambda c: _live(location, c), seconds=LIVE_RETRY_SECONDS)
    if row is None:
        raise _missing(location)
    return int(row[0])


def read_live(
    location: str, embedder_id: str | None = None
) -> tuple[Manifest, dict[str, ArticleState]]:
    """The live manifest and article states (what a sync compares with the files)."""

    def work(connection):
        schema = index_schema(location, connection)
        row = None if schema is None else _live_row(connection, schema)
        if row is None:
            raise _missing(location)
        manifest, _ = _manifest(row)
        check_compatible(manifest, describe(location), FORMAT_VERSION, embedder_id)
        rows = connection.execute(
            "SELECT path, content_hash, size, mtime_ns FROM "
            f"{_quoted(schema)}.{manifest.database}_articles "
            f"WHERE {visible(manifest.generation)}"
        ).fetchall()
        return manifest, rows

    manifest, rows = retrying(location, lambda: _once(location, work), seconds=0)
    if len(rows) != manifest.articles:
        raise IndexCorruptError(
            f"the index at {describe(location)} is damaged ({len(rows)} articles, the "
            f"manifest says {manifest.articles}); {REBUILD_HINT}"
        )
    return manifest, {path: ArticleState(*state) for path, *state in rows}


def _once(location: str, work: Callable):
    with connect(location) as connection:
        return work(connection)


class PgIndexStore(ManifestView):
    """A read-only view of one generation in PostgreSQL. Safe to share between threads."""

    def __init__(self, location: str, manifest: Manifest, tokens: int, schema: str) -> None:
        self.location = location
        self.manifest = manifest
        self.tokens = tokens  # words in the snapshot's chunks: BM25's average length
        self._articles = f"{_quoted(schema)}.{manifest.database}_articles"
        self._chunks = f"{_quoted(schema)}.{manifest.database}_chunks"
        self._visible = visible(manifest.generation)
        self._pool, leases = _resources(location)
        self._lease = (_namespace(schema, "readers"), manifest.generation)
        self._release = weakref.finalize(self, leases.release, *self._lease)

    @classmethod
    def open(cls, location: str, embedder_id: str | None = None) -> PgIndexStore:
        """Open the live generation; raise an `StoreError` that says how to recover."""
        pool, leases = _resources(location)
        schema = pool.run(lambda c: index_schema(location, c))
        if schema is None:
            raise _missing(location)
        for _ in range(10):
            row = pool.run(lambda c: _live_row(c, schema))
            if row is None:
                raise _missing(location)
            manifest, tokens = _manifest(row)
            check_compatible(manifest, describe(location), FORMAT_VERSION, embedder_id)
            namespace = _namespace(schema, "readers")
            leases.hold(namespace, manifest.generation)
            # A writer deletes only rows the live generation's predecessor cannot see:
            # leased while at most one generation newer exists, none of ours are gone.
            now = pool.run(lambda c: _live_row(c, schema))
            if now is not None and int(now[0]) <= manifest.generation + 1:
                break
            leases.release(namespace, manifest.generation)
        else:
            raise StoreUnavailableError(
                f"the index at {describe(location)} changes too fast to open; try again"
            )
        store = cls(location, manifest, tokens, schema)  # releases the lease when it goes
        store._verify()
        return store

    def _verify(self) -> None:
        import psycopg

        try:
            self._query(f"SELECT 1 FROM {self._chunks} LIMIT 0")
        except psycopg.errors.UndefinedTable as exc:
            raise IndexCorruptError(
                f"the index at {describe(self.location)} is damaged ({exc}); {REBUILD_HINT}"
            ) from None

    def _query(self, sql: str, params: Sequence[object] | dict = ()) -> list[tuple]:
        return self._pool.run(lambda c: c.execute(sql, params).fetchall())

    def __len__(self) -> int:
        return self.manifest.chunks

    def search(
        self, query_vector: np.ndarray, k: int, window: DateRange | None = None
    ) -> list[tuple[int, float]]:
        """Chunk ids and cosine scores (inner products of unit vectors), best first, from the
        HNSW index; when it returns fewer than asked (filtered snapshot, k beyond the graph's
        reach) the exact scan answers instead. `k` larger than the index returns all.
        `window`: only chunks of articles dated inside it — a WHERE on the date, which the
        HNSW scan applies as it goes (pgvector's iterative scan keeps looking until it has `k`
        rows or `hnsw.max_scan_tuples`), before the top `k`; a window too narrow for that is
        answered by the exact scan of its rows through the date index."""
        k = min(int(k), len(self))
        if k <= 0:
            return []
        vector = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(-1)
        params: dict[str, object] = {"q": vector, "k": k}
        condition = ""
        if window is not None:
            clause, values = window.named_sql()
            params.update(values)
            condition = f" AND {clause}"
        sql = (
            f"SELECT id, (vector <#> %(q)s) * -1 FROM {self._chunks} WHERE {self._visible}"
            f"{condition} ORDER BY vector <#> %(q)s LIMIT %(k)s"
        )
        rows = self._query(sql, params)
        if len(rows) < k:

            def exact(connection):
                with connection.transaction():
                    connection.execute("SET LOCAL enable_indexscan = off")
                    return connection.execute(sql, params).fetchall()

            rows = self._pool.run(exact)
        return [(int(i), float(s)) for i, s in rows]

    def chunks(self, ids: Sequence[int]) -> list[Chunk]:
        """Chunks with their sentences, in the order of `ids` (unknown ids are left out)."""
        if not ids:
            return []
        rows = self._query(
            "SELECT id, article, title, date, section, paragraph, starts, ends, texts "
            f"FROM {self._chunks} WHERE id = ANY(%s) AND {self._visible}",
            (list(map(int, ids)),),
        )
        by_id = {
            row[0]: Chunk(
                *row[:6],
                sentences=tuple(
                    Sentence(text, start, end)
                    for start, end, text in zip(row[6], row[7], row[8], strict=True)
                ),
            )
            for row in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def sentence_vectors(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        ids = list(dict.fromkeys(map(int, chunk_ids)))
        if not ids:
            return {}
        found = {}
        for chunk, blob in self._query(
            f"SELECT id, sentence_vectors FROM {self._chunks} WHERE id = ANY(%s) "
            f"AND {self._visible} AND sentence_vectors IS NOT NULL",
            (ids,),
        ):
            found[chunk] = sentence_vectors_from(blob, self.manifest.dimension)
        return found

    def latent_terms(self, chunk_ids: Iterable[int]) -> dict[int, LatentTerms]:
        """Per chunk, its stored latent terms; chunks stored without them are left out (a
        table set written before they were stored has no such column: nothing is found)."""
        import psycopg

        ids = list(dict.fromkeys(map(int, chunk_ids)))
        if not ids:
            return {}
        try:
            rows = self._query(
                f"SELECT id, latent_terms FROM {self._chunks} WHERE id = ANY(%s) "
                f"AND {self._visible} AND latent_terms IS NOT NULL",
                (ids,),
            )
        except psycopg.errors.UndefinedColumn:
            return {}
        return {chunk: latent_terms_from(blob) for chunk, blob in rows}

    def chunk_vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """The chunks' vectors in the order given; an unknown id raises KeyError."""
        if not len(chunk_ids):
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        found = dict(
            self._query(
                f"SELECT id, vector FROM {self._chunks} WHERE id = ANY(%s) AND {self._visible}",
                (list(dict.fromkeys(map(int, chunk_ids))),),
            )
        )
        return np.vstack([_array(found[int(i)]) for i in chunk_ids]).astype(np.float32)

    def lexical_search(
        self, terms: Sequence[str], k: int, window: DateRange | None = None
    ) -> list[tuple[int, float]]:
        """Chunk ids and BM25 scores (higher is better) for chunks containing any of `terms`:
        FTS5's `bm25()` (k1 1.2, b 0.75, idf floored at 1e-6) over the snapshot's chunks. A
        term of several words (never one from `retrieval.terms`) counts as its words, where
        FTS5 would look for the phrase."""
        lexemes = list(dict.fromkeys(w for t in terms if t for w in tokens(t)))
        if not lexemes or k <= 0:
            return []
        documents = max(len(self), 1)
        in_window, window_params = "", {}
        if window is not None:
            clause, window_params = window.named_sql()
            in_window = f" AND {clause}"
        rows = self._query(
            f"""
            WITH hits AS (
                SELECT key, id, length, terms FROM {self._chunks}
                WHERE terms @@ %(query)s::tsquery AND {self._visible}{in_window}
            ), counts AS (
                SELECT h.key, h.id, h.length, w.lexeme,
                       coalesce(array_length(w.positions, 1), 1) AS tf
                -- only the query's words: marked (weight A), kept, then unnested
                FROM hits h, unnest(ts_filter(setweight(h.terms, 'A', %(lexemes)s), '{{a}}')) w
            ), df AS (SELECT lexeme, count(*) AS n FROM counts GROUP BY lexeme)
            SELECT c.id, sum(
                greatest(ln((%(n)s - df.n + 0.5) / (df.n + 0.5)), 1e-6)
                * c.tf * {BM25_K1 + 1}
                / (c.tf + {BM25_K1} * ({1 - BM25_B} + {BM25_B} * c.length / %(avgdl)s))
            ) AS score
            FROM counts c JOIN df USING (lexeme)
            GROUP BY c.key, c.id ORDER BY score DESC, c.key LIMIT %(k)s
            """,
            {
                "query": " | ".join(map(_quote, lexemes)),
                "lexemes": lexemes,
                "n": documents,
                "avgdl": max(self.tokens / documents, 1e-9),
                "k": int(k),
                **window_params,
            },
        )
        return [(int(i), float(score)) for i, score in rows]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks this snapshot sees contain each (folded) term."""
        terms = list(dict.fromkeys(terms))
        if not terms:
            return {}
        rows = self._query(
            f"""
            SELECT u.term, (SELECT count(*) FROM {self._chunks} c
                            WHERE c.terms @@ u.query AND {visible(self.generation, "c")})
            FROM unnest(%s::text[], %s::tsquery[]) AS u(term, query)
            """,
            (terms, [_quote(t) for t in terms]),
        )
        counts = dict(rows)
        return {t: int(counts.get(t, 0)) for t in terms}

    def article_text(self, path: str) -> str | None:
        rows = self._query(
            f"SELECT raw FROM {self._articles} WHERE path = %s AND {self._visible}", (path,)
        )
        return rows[0][0] if rows else None

    def coverage(self) -> Coverage:
        """Oldest and newest article date, and how many articles are dated and undated."""
        [(oldest, newest, dated, total)] = self._query(
            f"SELECT min(date), max(date), count(date), count(*) FROM {self._articles} "
            f"WHERE {self._visible}"
        )
        return Coverage(oldest, newest, int(dated), int(total) - int(dated))

    def articles(self) -> list[ArticleRecord]:
        rows = self._query(
            f"SELECT path, title, date, chunk_count, content_hash FROM {self._articles} "
            f'WHERE {self._visible} ORDER BY path COLLATE "C"'
        )
        return [ArticleRecord(*row) for row in rows]

    def article_states(self) -> dict[str, ArticleState]:
        rows = self._query(
            f"SELECT path, content_hash, size, mtime_ns FROM {self._articles} WHERE {self._visible}"
        )
        return {path: ArticleState(*state) for path, *state in rows}

    def article_chunk_ids(self, path: str) -> list[int]:
        rows = self._query(
            f"SELECT id FROM {self._chunks} WHERE article = %s AND {self._visible} "
            "ORDER BY position",
            (path,),
        )
        return [row[0] for row in rows]

    def close(self) -> None:
        """Give up the lease on this generation (the process's connections stay open for
        the next snapshot; `close_connections` closes them)."""
        self._release()


# --- writing ------------------------------------------------------------------------------

GENERATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS {g} (
    generation bigint PRIMARY KEY,
    format_version integer NOT NULL,
    embedder_id text NOT NULL,
    dimension integer NOT NULL,
    created_at double precision NOT NULL,
    tables text NOT NULL,  -- prefix of the table set this generation reads
    chunks bigint NOT NULL,
    articles bigint NOT NULL,
    pipeline text NOT NULL,
    tokens bigint NOT NULL  -- words in its chunks: BM25's average chunk length
)
"""

TABLES_SCHEMA = """
CREATE TABLE {t}_articles (
    key bigserial PRIMARY KEY,
    path text NOT NULL,
    content_hash text NOT NULL,
    size bigint NOT NULL,
    mtime_ns bigint NOT NULL,
    title text,
    date text,
    chunk_count integer NOT NULL,
    indexed_at double precision NOT NULL,
    raw text NOT NULL,
    added bigint NOT NULL,
    removed bigint
);
CREATE INDEX {n}_articles_by_path ON {t}_articles (path);
CREATE INDEX {n}_articles_by_removed ON {t}_articles (removed) WHERE removed IS NOT NULL;
CREATE TABLE {t}_chunks (
    key bigserial PRIMARY KEY,
    id bigint NOT NULL,
    article text NOT NULL,
    position integer NOT NULL,
    title text,
    date text,
    section text,
    paragraph integer NOT NULL,
    starts integer[] NOT NULL,
    ends integer[] NOT NULL,
    texts text[] NOT NULL,
    vector vector({dimension}) NOT NULL,  -- unit length: inner product = cosine
    sentence_vectors bytea,  -- float16 (sentences, dimension), optional
    latent_terms bytea,  -- int32 feature ids, then float32 weights (optional)
    terms tsvector NOT NULL,  -- folded words with positions
    length integer NOT NULL,  -- words in title + section + text
    added bigint NOT NULL,
    removed bigint
);
CREATE INDEX {n}_chunks_by_id ON {t}_chunks (id);
CREATE INDEX {n}_chunks_by_article ON {t}_chunks (article, position);
CREATE INDEX {n}_chunks_by_removed ON {t}_chunks (removed) WHERE removed IS NOT NULL;
CREATE INDEX {n}_chunks_by_date ON {t}_chunks (date) WHERE date IS NOT NULL;
"""
# Built at a new table set's first publish: over the rows written so far at once (a rebuild:
# all of them), which is several times faster than growing an HNSW graph row by row.
SEARCH_INDEXES = """
CREATE INDEX {n}_chunks_vector ON {t}_chunks USING hnsw (vector vector_ip_ops);
CREATE INDEX {n}_chunks_terms ON {t}_chunks USING gin (terms);
"""


class _AdvisoryLock:
    """An exclusive advisory lock of one index, on a connection of its own, with the owner
    (its application name: newsbot pid N on host) in the error when taken."""

    kind = "writer"

    def __init__(self, location: str, *, wait_seconds: float = 0.0) -> None:
        self.location = location
        self.wait_seconds = wait_seconds
        self._connection = None

    def acquire(self) -> None:
        connection = self._connect()
        try:
            key = self._key(connection)
            deadline = time.monotonic() + self.wait_seconds
            while not self._try(connection, key):
                if time.monotonic() >= deadline:
                    raise self._locked_error(self._owner(connection, key))
                time.sleep(0.1)
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _connect(self):
        try:
            return connect(self.location, vectors=False)
        except Exception as exc:
            if _lost(exc):
                raise _unavailable(self.location, exc) from None
            raise

    def _key(self, connection) -> tuple[int, int]:
        return (_namespace(_schema_exists(connection), self.kind), 0)

    @staticmethod
    def _try(connection, key: tuple[int, int]) -> bool:
        return bool(connection.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()[0])

    @staticmethod
    def _owner(connection, key: tuple[int, int]) -> str:
        owner = connection.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND "
            "l.database = (SELECT oid FROM pg_database WHERE datname = "
            "current_database()) AND l.classid = %s AND l.objid = %s AND "
            "l.objsubid = 2",
            key,
        ).fetchone()
        return owner[0] if owner else "unknown"

    def _locked_error(self, owner: str) -> IndexLockedError:
        return IndexLockedError(
            f"the index at {describe(self.location)} is being written by another newsbot "
            f"process ({owner}); wait for it to finish or stop it"
        )

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()  # the lock goes with the session
            self._connection = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class PgWriterLock(_AdvisoryLock):
    kind = "writer"


class PgServiceLock(_AdvisoryLock):
    """Held by `newsbot watch` / `newsbot telegram` for their whole life: one indexer.

    The lock lives on its connection, so a server restart drops it silently. A keeper thread
    looks at the connection every `check_seconds`; when it died, the keeper takes the lock
    again on a new one as soon as the server answers, or, when another process took it
    meanwhile, sets `lost` and calls `on_lost(error)`: the holder must stop syncing.
    """

    kind = "service"
    check_seconds = 2.0

    def __init__(
        self,
        location: str,
        *,
        wait_seconds: float = 0.0,
        on_lost: Callable[[IndexLockedError], object] | None = None,
        check_seconds: float | None = None,
    ) -> None:
        super().__init__(location, wait_seconds=wait_seconds)
        self.on_lost = on_lost
        if check_seconds is not None:
            self.check_seconds = check_seconds
        self.lost: IndexLockedError | None = None  # set when another process took the lock
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._checking = threading.Lock()  # the keeper and a caller of `check` take turns

    def _locked_error(self, owner: str) -> IndexLockedError:
        return ServiceLockedError(
            f"the index at {describe(self.location)} is already kept in sync by another "
            f"newsbot process ({owner}, `newsbot watch` or `newsbot telegram`); stop it first "
            "or use another index"
        )

    def acquire(self) -> None:
        super().acquire()
        self.lost = None
        self._stop.clear()
        self._keeper = threading.Thread(target=self._keep, name="service-lock", daemon=True)
        self._keeper.start()

    def release(self) -> None:
        self._stop.set()
        keeper, self._keeper = self._keeper, None
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join()
        with self._checking:
            super().release()

    def _keep(self) -> None:
        while not self._stop.wait(self.check_seconds):
            try:
                if not self.check():
                    return
            except Exception:  # a bug here must not end the watch over the lock
                log.exception("checking the indexer lock failed; checking again later")

    def check(self) -> bool:
        """Is the lock still ours? A dead connection is replaced and the lock taken again
        (waiting, while the server is unreachable, until it answers or the lock is
        released); False when another process holds it now (then `lost` says so)."""
        with self._checking:
            if self.lost is not None:
                return False
            if self._connection is None:
                return True  # released
            try:
                self._connection.execute("SELECT 1")
                return True
            except Exception as exc:
                if not _lost(exc):
                    raise
                detail = _first_line(exc)
            self._connection.close()
            log.warning(
                "the connection holding the indexer lock of %s was lost (%s); taking the lock "
                "again",
                describe(self.location),
                detail,
            )
            delay = 0.1
            while not self._stop.is_set():
                try:
                    connection = self._connect()
                except StoreError:  # down, or (a restart with new settings) refusing us
                    self._stop.wait(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                try:
                    key = self._key(connection)
                    if self._try(connection, key):
                        self._connection = connection
                        log.warning("took the indexer lock of %s again", describe(self.location))
                        return True
                    owner = self._owner(connection, key)
                except Exception as exc:
                    connection.close()
                    if not _lost(exc):
                        raise
                    continue
                connection.close()
                self.lost = ServiceLockedError(
                    f"lost the indexer lock of {describe(self.location)}: the database "
                    f"connection dropped and another newsbot process ({owner}) took the lock "
                    "meanwhile; this process stops keeping the index in sync"
                )
                break
        if self.lost is not None and self.on_lost is not None:
            try:
                self.on_lost(self.lost)
            except Exception:
                log.exception("handling the lost indexer lock failed")
        return self.lost is None


def _reported(method: Callable) -> Callable:
    """A writer's step that loses its connection raises `StoreUnavailableError` (an
    `StoreError`: front ends print it; the unpublished generation is rolled back)."""
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            if _lost(exc):
                raise _unavailable(self.location, exc) from exc
            raise

    return wrapper


class PgIndexWriter:
    """Writes changes as generations in one open transaction. Callers hold `PgWriterLock`.

    base: the live generation's manifest, or None to start a new table set (first index,
        `--rebuild`); the previous index stays live until the first `publish`.
    """

    def __init__(
        self,
        location: str,
        embedder_id: str,
        dimension: int,
        base: Manifest | None,
        *,
        pipeline: str = "",
    ) -> None:
        self.location = location
        self.embedder_id = embedder_id
        self.dimension = int(dimension)
        self.pipeline = pipeline
        try:
            self._db = connect(location, vectors=False)
        except Exception as exc:
            if _lost(exc):
                raise _unavailable(location, exc) from None
            raise
        try:
            # in `public`, so the indexes of every schema (search_path name,public) see it
            self._db.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
            schema = named_schema(location)
            if schema and schema != "$user":
                self._db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)}")
            self.schema = _schema_exists(self._db)
            self._g = f"{_quoted(self.schema)}.{GENERATIONS}"  # every name qualified
            self._db.execute(GENERATIONS_SCHEMA.format(g=self._g))
            _register_vector(self._db)
            self._db.autocommit = False
            live = self._db.execute(
                f"SELECT coalesce(max(generation), 0) FROM {self._g}"
            ).fetchone()[0]
            self.generation = max(base.generation if base else 0, int(live)) + 1
            if base is None:
                self.tables = f"{TABLE_PREFIX}{self.generation}"
                self._t = f"{_quoted(self.schema)}.{self.tables}"
                for name in ("articles", "chunks"):  # left by a crash between two statements
                    self._db.execute(f"DROP TABLE IF EXISTS {self._t}_{name}")
                for statement in TABLES_SCHEMA.format(
                    t=self._t, n=self.tables, dimension=self.dimension
                ).split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._chunks = self._articles = self._tokens = 0
                self._indexes_pending = True
            else:
                self._indexes_pending = False
                self.tables = base.database
                self._t = f"{_quoted(self.schema)}.{self.tables}"
                self._chunks, self._articles = base.chunks, base.articles
                self._add_latent_terms_column()
                self._tokens = int(
                    self._db.execute(
                        f"SELECT tokens FROM {self._g} WHERE generation = %s",
                        (base.generation,),
                    ).fetchone()[0]
                )
        except BaseException:
            self._db.close()
            raise
        self.changed = False

    def _add_latent_terms_column(self) -> None:
        """A table set written before latent terms were stored gains their column, committed
        at once: the brief exclusive lock must not last the whole sync."""
        present = self._db.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = %s AND column_name = 'latent_terms'",
            (self.schema, f"{self.tables}_chunks"),
        ).fetchone()
        if not present:
            self._db.execute(f"ALTER TABLE {self._t}_chunks ADD COLUMN latent_terms bytea")
            self._db.commit()

    @_reported
    def remove_article(self, path: str) -> int:
        """Drop an article from the next generation; returns how many chunks it had."""
        g = self.generation
        lengths = self._db.execute(
            f"UPDATE {self._t}_chunks SET removed = %s WHERE article = %s "
            "AND removed IS NULL RETURNING length",
            (g, path),
        ).fetchall()
        articles = self._db.execute(
            f"UPDATE {self._t}_articles SET removed = %s WHERE path = %s AND removed IS NULL",
            (g, path),
        ).rowcount
        self._chunks -= len(lengths)
        self._tokens -= sum(length for (length,) in lengths)
        self._articles -= articles
        self.changed = self.changed or bool(articles)
        return len(lengths)

    @_reported
    def stored_vectors(self, path: str) -> dict[int, StoredChunk]:
        """The article's current chunks by id, so an update that leaves a paragraph as it was
        keeps its vectors and latent terms (`index.sync`)."""
        rows = self._db.execute(
            f"SELECT id, section, vector, sentence_vectors, latent_terms FROM {self._t}_chunks "
            "WHERE article = %s AND removed IS NULL",
            (path,),
        ).fetchall()
        found = {}
        for chunk, section, vector, blob, terms in rows:
            found[int(chunk)] = StoredChunk(
                section,
                _array(vector).astype(np.float32),
                None if blob is None else sentence_vectors_from(blob, self.dimension),
                None if terms is None else latent_terms_from(terms),
            )
        return found

    @_reported
    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        self._db.execute(
            f"UPDATE {self._t}_articles SET size = %s, mtime_ns = %s WHERE path = %s "
            "AND removed IS NULL",
            (size, mtime_ns, path),
        )

    @_reported
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
            f"INSERT INTO {self._t}_articles (path, content_hash, size, mtime_ns, title, "
            "date, chunk_count, indexed_at, raw, added) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (path, content_hash, size, mtime_ns, title, date, len(chunks), time.time(), raw, g),
        )
        rows = []
        written = chunk_rows(chunks, chunk_vectors, sentence_vectors, latent_terms)
        for position, chunk, vector, blob, terms in written:
            tokens = chunk_words(chunk)
            self._tokens += len(tokens)
            rows.append(
                (
                    chunk.id,
                    path,
                    position,
                    chunk.title,
                    chunk.date,
                    chunk.section,
                    chunk.paragraph,
                    [s.start for s in chunk.sentences],
                    [s.end for s in chunk.sentences],
                    [s.text for s in chunk.sentences],
                    vector,
                    blob,
                    terms,
                    tsvector_literal(tokens),
                    len(tokens),
                    g,
                )
            )
        if rows:
            with self._db.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {self._t}_chunks (id, article, position, title, date, "
                    "section, paragraph, starts, ends, texts, vector, sentence_vectors, "
                    "latent_terms, terms, length, added) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                    "%s, %s, %s, %s, %s, %s, %s::tsvector, %s, %s)",
                    rows,
                )
        self._chunks += len(chunks)
        self._articles += 1
        self.changed = True

    @_reported
    def publish(self) -> int:
        """Insert the generation's row and commit: readers see all of it from now on. Then
        delete rows and table sets that no kept or leased generation sees."""
        if self._indexes_pending:
            # an HNSW graph built within memory is built several times faster
            self._db.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for statement in SEARCH_INDEXES.format(t=self._t, n=self.tables).split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._indexes_pending = False
        self._db.execute(
            f"INSERT INTO {self._g} (generation, format_version, embedder_id, dimension, "
            "created_at, tables, chunks, articles, pipeline, tokens) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                self.generation,
                FORMAT_VERSION,
                self.embedder_id,
                self.dimension,
                time.time(),
                self.tables,
                self._chunks,
                self._articles,
                self.pipeline,
                self._tokens,
            ),
        )
        self._db.commit()
        published = self.generation
        self._delete_unseen()
        self._db.commit()
        self.generation += 1
        self.changed = False
        return published

    def _leased(self) -> set[int]:
        return {
            int(g)
            for (g,) in self._db.execute(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                "database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = %s AND objsubid = 2",
                (_namespace(self.schema, "readers"),),
            )
        }

    def _delete_unseen(self) -> None:
        """After a publish: rows removed at or before every generation still wanted (the
        live one's predecessor, which readers may be opening, and every leased one)."""
        oldest = min(self._leased(), default=self.generation)
        upto = min(oldest, self.generation - 1)
        self._db.execute(f"DELETE FROM {self._t}_chunks WHERE removed <= %s", (upto,))
        self._db.execute(f"DELETE FROM {self._t}_articles WHERE removed <= %s", (upto,))
        self._db.execute(f"DELETE FROM {self._g} WHERE generation < %s", (upto,))
        kept = {t for (t,) in self._db.execute(f"SELECT DISTINCT tables FROM {self._g}")}
        for (name,) in self._db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
            (self.schema, f"{TABLE_PREFIX}%\\_chunks"),
        ).fetchall():
            tables = name.removesuffix("_chunks")
            if tables not in kept and tables != self.tables:
                old = f"{_quoted(self.schema)}.{tables}"
                self._db.execute(f"DROP TABLE IF EXISTS {old}_chunks, {old}_articles")

    @_reported
    def commit(self) -> None:
        """Keep in-place updates (`touch`) without publishing a generation."""
        self._db.commit()

    def close(self) -> None:
        """Roll back whatever was not published."""
        try:
            if not self._db.closed:
                self._db.rollback()
        except Exception as exc:  # a lost connection rolled back by itself
            log.debug("rollback failed: %s", exc)
        finally:
            self._db.close()

    abort = close
