"""The start-up vector block saved to disk: reused by the next start, rebuilt when damaged."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from index import saved_blocks, vectors
from index.stores import sqlite as store
from index.stores.sqlite import IndexStore
from index.sync import sync_index

SAMPLE = "004_4a36d75bdf1d0814.txt"


@pytest.fixture(autouse=True)
def save_every_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saved_blocks, "SAVE_ABOVE", 1)


@pytest.fixture
def rows_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Vectors read from SQLite by each snapshot load (one entry per read)."""
    counts: list[int] = []
    original = store._vector_pages

    def counting(connection, condition):
        counts.append(0)
        for page in original(connection, condition):
            counts[-1] += len(page[0])
            yield page

    monkeypatch.setattr(store, "_vector_pages", counting)
    return counts


def start(index_dir: Path, model_id: str) -> IndexStore:
    """An `IndexStore.open` as a fresh process does it: no snapshot of this one to extend."""
    gc.collect()
    mine = [v for k, v in store._open_snapshots.items() if k.startswith(str(index_dir.resolve()))]
    assert not any(mine), "a snapshot of this index is still open"
    return IndexStore.open(index_dir, model_id)


def answers(opened: IndexStore, embedder, texts: list[str]) -> list[list[int]]:
    return [[c for c, _ in opened.search(v, 5)] for v in embedder.embed_queries(texts)]


QUESTIONS = ["Pinguine in Kiel", "Werft Flensburg", "Putin Bedingungen", "Leuchtturm"]


@pytest.mark.parametrize("kind", ["flat", "approximate"])
def test_a_saved_block_is_reused_by_the_next_start(
    articles_dir: Path,
    index_dir: Path,
    fake_embedder,
    rows_read: list[int],
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
):
    if kind == "approximate":  # IVF of fast-scan codes + the float vectors beside it
        monkeypatch.setattr(vectors, "APPROXIMATE_ABOVE", 16)
        monkeypatch.setattr(vectors, "PROBE_FRACTION", 1)  # every list: comparable answers
    sync_index(articles_dir, index_dir, fake_embedder)
    first = start(index_dir, fake_embedder.model_id)
    chunks = len(first)
    assert rows_read == [chunks]  # built from SQLite, then saved
    assert vectors.is_coded(first._vectors.blocks[0].index) == (kind == "approximate")
    assert len(list((index_dir / saved_blocks.BLOCKS_DIR).glob("*.faiss"))) == 1
    first.close()
    del first

    rows_read.clear()
    again = start(index_dir, fake_embedder.model_id)
    assert len(again) == chunks and rows_read == [0]  # nothing read but the newer rows
    if kind == "approximate":  # the float vectors are mapped from the file
        assert isinstance(again._vectors.blocks[0].exact, np.memmap)
    again.close()
    del again

    # an article added, one edited, one removed: the saved block plus what changed since
    (articles_dir / "neu.txt").write_text("Neu\n\nIn Kiel legte ein Frachter voller Pinguine an.\n")
    (articles_dir / SAMPLE).write_text("Geändert\n\nDie Werft in Flensburg wird geschlossen.\n")
    next(p for p in sorted(articles_dir.glob("00*.txt")) if p.name != SAMPLE).unlink()
    sync_index(articles_dir, index_dir, fake_embedder)
    rows_read.clear()
    later = start(index_dir, fake_embedder.model_id)
    assert rows_read == [2]  # the new article's chunk and the edited one's
    from_saved = answers(later, fake_embedder, QUESTIONS)
    later.close()
    del later

    for path in (index_dir / saved_blocks.BLOCKS_DIR).iterdir():
        path.unlink()
    rows_read.clear()
    rebuilt = start(index_dir, fake_embedder.model_id)
    assert rows_read == [len(rebuilt)]
    assert answers(rebuilt, fake_embedder, QUESTIONS) == from_saved


@pytest.mark.parametrize("damage", ["truncated", "garbled vectors", "metadata missing"])
def test_a_damaged_saved_block_is_rebuilt(
    articles_dir: Path, index_dir: Path, fake_embedder, rows_read: list[int], damage: str
):
    sync_index(articles_dir, index_dir, fake_embedder)
    first = start(index_dir, fake_embedder.model_id)
    expected = answers(first, fake_embedder, QUESTIONS)
    first.close()
    del first
    [faiss_file] = (index_dir / saved_blocks.BLOCKS_DIR).glob("*.faiss")
    if damage == "truncated":
        data = faiss_file.read_bytes()
        faiss_file.write_bytes(data[: len(data) // 2])
    elif damage == "garbled vectors":  # same size, other numbers: only the sample check sees it
        data = bytearray(faiss_file.read_bytes())
        tail = np.frombuffer(bytes(data[-4 * 64 * 8 :]), np.float32) + np.float32(0.5)
        data[-len(tail.tobytes()) :] = tail.tobytes()
        faiss_file.write_bytes(bytes(data))
        # every row checked, so the garbled ones are among them
        saved_blocks.CHECK_ROWS, old = 10_000, saved_blocks.CHECK_ROWS
    else:
        faiss_file.with_suffix(".npz").unlink()

    rows_read.clear()
    try:
        reopened = start(index_dir, fake_embedder.model_id)
    finally:
        if damage == "garbled vectors":
            saved_blocks.CHECK_ROWS = old
    assert rows_read == [len(reopened)]  # built from SQLite again
    assert answers(reopened, fake_embedder, QUESTIONS) == expected
    reopened.close()
    del reopened
    rows_read.clear()
    start(index_dir, fake_embedder.model_id)  # and saved again
    assert rows_read == [0]


def test_a_block_saved_for_a_database_that_was_rebuilt_is_not_used(
    articles_dir: Path, index_dir: Path, fake_embedder, rows_read: list[int]
):
    sync_index(articles_dir, index_dir, fake_embedder)
    start(index_dir, fake_embedder.model_id).close()
    gc.collect()
    sync_index(articles_dir, index_dir, fake_embedder, rebuild=True)
    rows_read.clear()
    opened = start(index_dir, fake_embedder.model_id)
    assert rows_read == [len(opened)]
    saved = {p.name.split(".g")[0] for p in (index_dir / saved_blocks.BLOCKS_DIR).glob("*.npz")}
    assert Path(opened.manifest.database).stem in saved
