"""The embedded store's own behaviour: crash safety of its files, corruption detection,
generations on disk, its reader pool. What every store does is in `test_store_contract.py`."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from index.stores import sqlite as store_module
from index.stores.base import IndexCorruptError
from index.stores.sqlite import CURRENT_FILE, IndexStore, list_generations
from index.sync import sync_index

SAMPLE = "004_4a36d75bdf1d0814.txt"


@pytest.mark.parametrize("stage", ["insert", "manifest", "rename", "current"])
def test_crash_mid_write_leaves_previous_index_usable(
    articles_dir: Path, index_dir: Path, fake_embedder, monkeypatch, stage: str
):
    sync_index(articles_dir, index_dir, fake_embedder)
    before = IndexStore.open(index_dir, fake_embedder.model_id)
    (articles_dir / SAMPLE).write_text("Neuer Inhalt über Pinguine.\n")

    class Crash(Exception):
        pass

    def crash(*args, **kwargs):
        raise Crash(stage)

    targets = {
        "insert": (store_module.IndexWriter, "add_article"),
        "manifest": (store_module, "_fsync_file"),
        "rename": (store_module.os, "rename"),
        "current": (store_module.os, "replace"),
    }
    owner, name = targets[stage]
    monkeypatch.setattr(owner, name, crash)
    with pytest.raises(Crash):
        sync_index(articles_dir, index_dir, fake_embedder)
    monkeypatch.undo()

    after = IndexStore.open(index_dir, fake_embedder.model_id)
    assert after.generation == before.generation
    assert after.article_text(SAMPLE) == before.article_text(SAMPLE)
    # the next sync completes the work and leaves no temporary folders behind
    report = sync_index(articles_dir, index_dir, fake_embedder)
    assert report.updated == [SAMPLE]
    assert not list(index_dir.glob("tmp-*"))
    assert "Pinguine" in IndexStore.open(index_dir).article_text(SAMPLE)


def database_of(index_dir: Path) -> Path:
    return index_dir / IndexStore.open(index_dir).manifest.database


def test_truncated_database_is_detected(articles_dir: Path, index_dir: Path, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    database = database_of(index_dir)
    database.write_bytes(database.read_bytes()[:100])

    with pytest.raises(IndexCorruptError, match=r"damaged.*--rebuild"):
        IndexStore.open(index_dir)
    sync_index(articles_dir, index_dir, fake_embedder, rebuild=True)
    assert len(IndexStore.open(index_dir)) > 0


def test_broken_sqlite_is_detected(articles_dir: Path, index_dir: Path, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    database = database_of(index_dir)
    database.write_bytes(b"this is not a database" * 100)

    with pytest.raises(IndexCorruptError, match=r"damaged.*--rebuild"):
        IndexStore.open(index_dir)


def test_dangling_current_pointer_is_detected(index_dir: Path):
    index_dir.mkdir(parents=True)
    (index_dir / CURRENT_FILE).write_text("gen-000042\n")
    with pytest.raises(IndexCorruptError, match="gen-000042"):
        IndexStore.open(index_dir)


def test_old_generations_are_pruned_but_an_open_reader_keeps_working(
    articles_dir: Path, index_dir: Path, fake_embedder
):
    sync_index(articles_dir, index_dir, fake_embedder)
    reader = IndexStore.open(index_dir)
    ids = reader.article_chunk_ids(SAMPLE)
    for n in range(3):
        (articles_dir / f"extra{n}.txt").write_text(f"Artikel Nummer {n} über Pinguine.\n")
        sync_index(articles_dir, index_dir, fake_embedder)

    assert len(list_generations(index_dir)) == store_module.KEEP_GENERATIONS
    assert not reader.generation_dir.exists()
    assert reader.chunks(ids)[0].article == SAMPLE  # still served from its open snapshot
    assert os.path.exists(index_dir / CURRENT_FILE)


def test_readers_do_not_wait_for_each_other(articles_dir: Path, index_dir: Path, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    store = IndexStore.open(index_dir, fake_embedder.model_id)
    busy = store._pool.get()  # another thread in the middle of a long read
    try:
        done = threading.Event()
        reader = threading.Thread(target=lambda: (store.articles(), done.set()))
        reader.start()
        assert done.wait(10), "a reader waited for another reader's connection"
    finally:
        store._pool.put(busy)
    reader.join()


def test_search_uses_one_openmp_thread_in_whichever_thread_asks(
    articles_dir: Path, index_dir: Path, fake_embedder
):
    import faiss

    sync_index(articles_dir, index_dir, fake_embedder)
    store = IndexStore.open(index_dir, fake_embedder.model_id)
    query = fake_embedder.embed_queries(["Putin"])[0]
    seen = {}

    def ask() -> None:
        seen["before"] = faiss.omp_get_max_threads()
        store.search(query, 5)
        seen["after"] = faiss.omp_get_max_threads()

    worker = threading.Thread(target=ask)  # a new thread starts at OpenMP's default
    worker.start()
    worker.join()
    assert seen["after"] == store_module.SEARCH_THREADS == 1


def test_a_closed_store_fails_reads_instead_of_hanging(
    articles_dir: Path, index_dir: Path, fake_embedder
):
    sync_index(articles_dir, index_dir, fake_embedder)
    store = IndexStore.open(index_dir, fake_embedder.model_id)
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(sqlite3.ProgrammingError):
        store.articles()


def test_an_index_written_before_latent_terms_were_stored_is_read_and_extended(
    articles_dir: Path, index_dir: Path
):
    from tests.fakes.embedder import FakeEmbedder

    embedder = FakeEmbedder(latent_terms=True)
    sync_index(articles_dir, index_dir, embedder, latent_terms=False)
    database = index_dir / IndexStore.open(index_dir, embedder.model_id).manifest.database
    with sqlite3.connect(database) as db:  # the chunks table as it was before the column
        db.execute("ALTER TABLE chunks DROP COLUMN latent_terms")
    old = IndexStore.open(index_dir, embedder.model_id)
    ids = old.article_chunk_ids(SAMPLE)
    assert old.latent_terms(ids) == {}  # read as an index without them
    assert len(old.chunks(ids)) == len(ids)

    (articles_dir / "neu.txt").write_text("Pinguine\n\nDer Zoo zeigt neue Pinguine.\n")
    report = sync_index(articles_dir, index_dir, embedder)  # the writer adds the column

    assert report.added == ["neu.txt"] and len(report.updated) == 5  # the others gain terms
    store = IndexStore.open(index_dir, embedder.model_id)
    assert store.latent_terms(ids).keys() == set(ids)
    new = store.article_chunk_ids("neu.txt")
    assert store.latent_terms(new).keys() == set(new)
