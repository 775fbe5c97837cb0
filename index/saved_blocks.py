"""The start-up vector block saved to disk, so the next start memory-maps it instead of
reading every vector from SQLite and training the IVF index again.

Layout, in the index folder::

    blocks/index-000001.g000042.faiss   the FAISS index (flat or trained IVF) of the rows
                                        generation 42 saw, in key order
    blocks/index-000001.g000042.npy     their float vectors, if the index holds only codes
    blocks/index-000001.g000042.npz     their row keys and chunk ids, and what they belong to
                                        (database, generation, rows, dimension); written last

A process that loads every vector of a generation (a start-up) saves its block when it has
at least `SAVE_ABOVE` rows. The next start-up of generation G takes the newest saved block
of the same database with generation G0 <= G, hides its rows that G no longer sees (removed
since, or deleted) and reads only the rows published after G0. The rows of G0 can only
shrink (new rows always get a later generation), so what changed is found through the
indexes on `added` and `removed`, never by reading the table.

The files are a cache: written to a temporary name and renamed, never changed in place (a
process that mapped one keeps reading it after it is replaced or deleted). One that does not
load, does not match its metadata, or whose sampled vectors differ from the database is
deleted and the block built from SQLite again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import faiss
import numpy as np

from index.vectors import Block, VectorSet, is_coded, probes

log = logging.getLogger(__name__)

BLOCKS_DIR = "blocks"
# Blocks of fewer rows load from SQLite in about a second: not worth a file.
SAVE_ABOVE = 50_000
# A saved block older than this share of its rows in newer rows is built again instead.
MAX_NEWER_SHARE = 0.25
CHECK_ROWS = 16  # vectors compared with the database when a saved block is loaded
STALE_TEMP_SECONDS = 3600  # a temporary file this old belongs to a process that died

Pages = Callable[[str], Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]]


def _name(database: Path, generation: int) -> str:
    return f"{database.stem}.g{generation:06d}"


def _saved(index_dir: Path, database: Path) -> list[tuple[int, Path]]:
    """(generation, metadata file) of the saved blocks of `database`, newest first."""
    folder = index_dir / BLOCKS_DIR
    found = []
    for path in folder.glob(f"{database.stem}.g*.npz") if folder.is_dir() else ():
        try:
            found.append((int(path.stem.rsplit(".g", 1)[1]), path))
        except ValueError:
            continue
    return sorted(found, reverse=True)


def save(index_dir: Path, database: Path, generation: int, block: Block) -> Path | None:
    """Save `block` (all rows generation `generation` sees); delete older saved blocks and
    those of databases that are gone. Failing to save (a read-only folder) only costs time."""
    if len(block) < SAVE_ABOVE:
        return None
    folder = index_dir / BLOCKS_DIR
    name = _name(database, generation)
    temp = f".tmp-{uuid.uuid4().hex[:12]}"
    try:
        folder.mkdir(exist_ok=True)
        faiss.write_index(block.index, str(folder / f"{temp}.faiss"))
        if block.exact is not None:
            np.save(folder / f"{temp}.npy", np.asarray(block.exact, np.float32))
        with open(folder / f"{temp}.npz", "wb") as handle:
            np.savez(
                handle,
                keys=block.keys,
                chunk_ids=block.chunk_ids,
                meta=np.array(
                    [
                        generation,
                        len(block),
                        block.index.d,
                        os.path.getsize(folder / f"{temp}.faiss"),
                    ],
                    np.int64,
                ),
                database=np.array(database.name),
            )
        os.replace(folder / f"{temp}.faiss", folder / f"{name}.faiss")
        if block.exact is not None:
            os.replace(folder / f"{temp}.npy", folder / f"{name}.npy")
        os.replace(folder / f"{temp}.npz", folder / f"{name}.npz")  # last: the block is whole
    except (OSError, RuntimeError) as exc:
        log.info("could not save the vector block (%s); the next start builds it again", exc)
        for suffix in (".faiss", ".npy", ".npz"):
            (folder / f"{temp}{suffix}").unlink(missing_ok=True)
        return None
    _prune(index_dir, keep=folder / f"{name}.npz")
    return folder / f"{name}.npz"


def _prune(index_dir: Path, keep: Path) -> None:
    """Delete the other saved blocks of the same database, and those of deleted databases
    (after a `--rebuild`). A process that mapped one keeps its pages."""
    database = keep.name.split(".g", 1)[0]
    for path in (index_dir / BLOCKS_DIR).iterdir():
        if path.name.startswith(".tmp-"):  # of a process still saving, or one that died
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > STALE_TEMP_SECONDS:
                    path.unlink()
            continue
        if path.suffix not in (".npz", ".npy", ".faiss"):
            continue
        if path.with_suffix(".npz") == keep:
            continue
        owner = path.name.split(".g", 1)[0]
        if owner == database or not (index_dir / f"{owner}.sqlite").exists():
            path.unlink(missing_ok=True)


def _remove(meta: Path) -> None:
    meta.unlink(missing_ok=True)
    meta.with_suffix(".faiss").unlink(missing_ok=True)
    meta.with_suffix(".npy").unlink(missing_ok=True)


def load(
    index_dir: Path,
    database: Path,
    generation: int,
    dimension: int,
    connection: sqlite3.Connection,
    pages: Pages,
) -> VectorSet | None:
    """The vectors generation `generation` sees, from the newest usable saved block plus
    the rows published since; None if there is none (the caller builds from SQLite)."""
    for saved_generation, meta in _saved(index_dir, database):
        if saved_generation > generation:
            continue  # saved by a reader of a newer generation
        try:
            block = _read(meta, database, saved_generation, dimension, connection)
        except (OSError, RuntimeError, ValueError, KeyError, sqlite3.Error) as exc:
            log.warning("a saved vector block is unusable (%s); building it again", exc)
            _remove(meta)
            continue
        return _brought_forward(block, saved_generation, generation, connection, pages)
    return None


def _read(
    meta: Path, database: Path, generation: int, dimension: int, connection: sqlite3.Connection
) -> Block:
    with np.load(meta) as data:
        keys, chunk_ids = data["keys"], data["chunk_ids"]
        saved_generation, rows, saved_dimension, size = (int(v) for v in data["meta"])
        saved_database = str(data["database"])
    index_file = meta.with_suffix(".faiss")
    if (saved_database, saved_generation, saved_dimension) != (
        database.name,
        generation,
        dimension,
    ):
        raise ValueError("it belongs to another database, generation or model")
    if os.path.getsize(index_file) != size or len(keys) != rows or len(chunk_ids) != rows:
        raise ValueError("its files are incomplete")
    index = faiss.read_index(str(index_file), faiss.IO_FLAG_MMAP_IFC)
    if index.ntotal != rows or index.d != dimension:
        raise ValueError(f"{index.ntotal} vectors of {index.d} dimensions, expected {rows}")
    exact = None
    if is_coded(index):
        index.nprobe = probes(index.nlist)  # today's rule, not the one it was saved under
        exact = np.load(meta.with_suffix(".npy"), mmap_mode="r")
        if exact.shape != (rows, dimension) or exact.dtype != np.float32:
            raise ValueError(f"its vectors are {exact.shape} {exact.dtype}")
    block = Block(keys, chunk_ids, index, exact)
    _check_sample(block, connection)
    return block


def _check_sample(block: Block, connection: sqlite3.Connection) -> None:
    """A few vectors and chunk ids compared with the database (a stale or garbled file)."""
    rng = np.random.default_rng()
    positions = rng.choice(len(block), min(CHECK_ROWS, len(block)), replace=False)
    wanted = {int(block.keys[p]): int(p) for p in positions}
    marks = ",".join("?" * len(wanted))
    for key, chunk_id, blob in connection.execute(
        f"SELECT key, id, vector FROM chunks WHERE key IN ({marks})", list(wanted)
    ):
        position = wanted[key]
        stored = np.frombuffer(blob, dtype=np.float32)
        if chunk_id != block.chunk_ids[position] or not np.array_equal(
            stored, block.rows(np.array([position]))[0]
        ):
            raise ValueError(f"row {key} differs from the database")


def _brought_forward(
    block: Block,
    saved: int,
    generation: int,
    connection: sqlite3.Connection,
    pages: Pages,
) -> VectorSet | None:
    (newer,) = connection.execute(
        f"SELECT count(*) FROM chunks WHERE added > {saved} AND added <= {generation}"
    ).fetchone()
    if newer > MAX_NEWER_SHARE * len(block):
        return None  # cheaper overall to build and save a block of today's rows
    (alive,) = connection.execute(f"SELECT count(*) FROM chunks WHERE added <= {saved}").fetchone()
    hidden: set[int] = set()
    if alive != len(block):  # rows deleted since (they are never re-added)
        keys = np.fromiter(
            (k for (k,) in connection.execute(f"SELECT key FROM chunks WHERE added <= {saved}")),
            np.int64,
        )
        hidden.update(int(k) for k in block.keys[~np.isin(block.keys, keys)])
    hidden.update(
        key
        for (key,) in connection.execute(
            f"SELECT key FROM chunks WHERE removed <= {generation} AND added <= {saved}"
        )
    )
    added = Block.from_pages(
        pages(
            f"added > {saved} AND added <= {generation} "
            f"AND (removed IS NULL OR removed > {generation})"
        ),
        block.index.d,
    )
    return VectorSet.of(block.index.d, [block, added], hidden)
