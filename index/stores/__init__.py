"""Where an index lives, and the one interface its readers and its writer have there.

A location is either a folder (the embedded store, `index.stores.sqlite`, the default) or a
`postgresql://…` URL (`index.stores.postgres`: pgvector in a PostgreSQL server that several
processes on several machines share). Everything above `index` (sync, the answerer, the
front ends) opens stores through the functions here and sees only `StoreReader` /
`StoreWriter` (`index.stores.base`), so both stores pass the same contract tests.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from index.stores.base import ArticleState, Manifest, StoreError, StoreReader, StoreWriter

POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")

Location = Path | str  # a folder, or a postgresql:// URL


def redacted(url: str) -> str:
    """The URL with its password (in the user part or a `password=` parameter) as `***`."""
    scheme = next((s for s in POSTGRESQL_SCHEMES if url.startswith(s)), "")
    address, question, query = url[len(scheme) :].partition("?")
    user_info, at, host = address.rpartition("@")  # a password may hold a raw "@" or "/"
    if at and ":" in user_info:
        address = f"{user_info.split(':', 1)[0]}:***@{host}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", query)
    return f"{scheme}{address}{question}{query}"


def url_problem(url: str) -> str | None:
    """What is wrong with a `postgresql://` URL, in a sentence that never shows its password
    (which may be the very part that is wrong); None when libpq can read it."""
    scheme = next((s for s in POSTGRESQL_SCHEMES if url.startswith(s)), None)
    if scheme is None:
        return "expected a postgresql://… URL"
    address = url[len(scheme) :].partition("?")[0]
    user_info, at, rest = address.rpartition("@")
    host_port = rest.partition("/")[0]
    parts = {"the password": user_info.partition(":")[2] if at else ""}
    parts["the user name"] = user_info.partition(":")[0] if at else ""
    parts["the host"] = host_port
    parts["the database name or options"] = rest.partition("/")[2] + url.partition("?")[2]
    if "@" in user_info:  # libpq ends the user part at the first "@"
        return "the user name or password contains an @; write it as %40"
    for part, text in parts.items():
        if re.search(r"\s", text):
            return f"{part} contains a space or other blank; write a space as %20"
        if re.search(r"%(?![0-9A-Fa-f]{2})", text):
            return f"{part} contains a % not followed by two hex digits; write a % as %25"
    for one_host in host_port.split(","):  # libpq accepts host1:port1,host2:port2
        port = one_host.rpartition("]")[2].partition(":")[2] if one_host else ""
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            return f"the port {port!r} is not a number from 1 to 65535"
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return None  # opening the store says what to install
    try:
        conninfo_to_dict(url)
    except Exception as exc:  # libpq's message may quote any part: the password goes
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        secret = parts["the password"]
        for piece in {secret, *re.split(r"[@:/]", secret)} - {""}:
            detail = detail.replace(piece, "***")
        return f"libpq cannot read it: {detail}"
    return None


def check_url(url: str) -> None:
    """Raise `ValueError` naming what is wrong with a `postgresql://` URL, password hidden."""
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(f"{problem} ({redacted(url)})")


def is_postgresql(location: object) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRESQL_SCHEMES)


def as_location(location: str | os.PathLike[str]) -> Location:
    """A URL stays a string (`Path` would fold its `//`); anything else becomes a `Path`."""
    return location if is_postgresql(location) else Path(location)


def _pg():
    """`index.stores.postgres`, or an `StoreError` that says what to install."""
    try:
        import pgvector.psycopg  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise StoreError(
            f"NEWSBOT_STORE=postgresql://… needs the PostgreSQL client ({exc.name} is missing): "
            "pip install -e '.[postgresql]'"
        ) from None
    from index.stores import postgres

    return postgres


def open_store(location: Location, embedder_id: str | None = None) -> StoreReader:
    """Open the live generation; raises an `StoreError` that says how to recover."""
    if is_postgresql(location):
        return _pg().PgIndexStore.open(str(location), embedder_id)
    from index.stores.sqlite import IndexStore

    return IndexStore.open(Path(location), embedder_id)


def read_live(
    location: Location,
    embedder_id: str | None = None,
    *,
    paths: Sequence[str] | None = None,
    folders: Sequence[str] = (),
) -> tuple[Manifest, dict[str, ArticleState]]:
    """The live manifest and article states, without loading vectors (what a sync needs).
    With `paths` (and `folders`), only the articles at those paths or below those folders."""
    if is_postgresql(location):
        manifest, states = _pg().read_live(str(location), embedder_id)
        if paths is None:
            return manifest, states
        wanted = set(paths)
        prefixes = tuple(f"{f.rstrip('/')}/" for f in folders)
        return manifest, {
            name: state
            for name, state in states.items()
            if name in wanted or (prefixes and name.startswith(prefixes))
        }
    from index.stores import sqlite

    return sqlite.read_live(Path(location), embedder_id, paths=paths, folders=folders)


def open_writer(
    location: Location,
    embedder_id: str,
    dimension: int,
    base: Manifest | None,
    *,
    pipeline: str = "",
) -> StoreWriter:
    if is_postgresql(location):
        return _pg().PgIndexWriter(str(location), embedder_id, dimension, base, pipeline=pipeline)
    from index.stores.sqlite import IndexWriter

    return IndexWriter(Path(location), embedder_id, dimension, base, pipeline=pipeline)


def published_generation(published: object) -> int:
    """The number of what `StoreWriter.publish` returned: the embedded store's generation
    folder (`gen-000007`) or the PostgreSQL store's generation number."""
    if isinstance(published, int):
        return published
    return int(Path(str(published)).name.split("-")[-1])


def writer_lock(location: Location, *, wait_seconds: float = 0.0) -> AbstractContextManager:
    """One writer per index: a `flock` beside the embedded store, an advisory lock in
    PostgreSQL. Both die with their process (or its connection)."""
    if is_postgresql(location):
        return _pg().PgWriterLock(str(location), wait_seconds=wait_seconds)
    from index.lock import WriterLock

    return WriterLock(Path(location), wait_seconds=wait_seconds)


def service_lock(
    location: Location, *, on_lost: Callable[[Exception], object] | None = None
) -> AbstractContextManager:
    """Held for the life of `newsbot watch` / `newsbot telegram`: one indexer per index.

    PostgreSQL's lock lives on a connection: when a restart drops it and another process
    takes it before this one can take it again, the lock's `lost` is set and `on_lost(error)`
    called (from a thread of the lock's). A `flock` is never lost."""
    if is_postgresql(location):
        return _pg().PgServiceLock(str(location), on_lost=on_lost)
    from index.lock import ServiceLock

    return ServiceLock(Path(location))


def live_generation(location: Location) -> int:
    """The live generation's number: one small read (a file, or one row). Raises
    `StoreError` when the index is missing, damaged or (PostgreSQL) unreachable."""
    if is_postgresql(location):
        return _pg().live_generation(str(location))
    from index.stores.sqlite import current_generation_dir

    return published_generation(current_generation_dir(Path(location)))


def describe(location: Location) -> str:
    """The location for messages: a URL without its password."""
    if is_postgresql(location):
        return _pg().describe(str(location))
    return str(location)


def copy_index(source: StoreReader, location: Location) -> int:
    """Copy one generation of an index to `location` as a fresh index (what `--rebuild`
    would make), vectors and all: the embedded index moves into PostgreSQL (or back)
    without embedding anything again. Returns the generation published at `location`."""
    with writer_lock(location, wait_seconds=30):
        manifest = source.manifest
        writer = open_writer(
            location, source.embedder_id, manifest.dimension, None, pipeline=manifest.pipeline
        )
        try:
            states = source.article_states()
            for record in source.articles():
                ids = source.article_chunk_ids(record.path)
                found = source.sentence_vectors(ids)
                terms = source.latent_terms(ids)
                raw = source.article_text(record.path)
                if raw is None:
                    raise RuntimeError(f"{record.path} vanished from the source while copying")
                writer.add_article(
                    path=record.path,
                    raw=raw,
                    content_hash=record.content_hash,
                    title=record.title,
                    date=record.date,
                    chunks=source.chunks(ids),
                    chunk_vectors=source.chunk_vectors(ids),
                    sentence_vectors=[found[i] for i in ids] if len(found) == len(ids) else None,
                    latent_terms=[terms.get(i) for i in ids],
                    size=states[record.path].size,
                    mtime_ns=states[record.path].mtime_ns,
                )
            return published_generation(writer.publish())
        finally:
            writer.close()
