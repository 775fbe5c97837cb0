"""Generations of one database: a sync writes what changed, a swap loads what changed, rows
no reader can see are deleted, snapshots in memory stay exact through merges."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from index.stores.sqlite import IndexStore
from index.sync import sync_index
from index.vectors import MAX_BLOCKS, Block, VectorSet

SAMPLE = "004_4a36d75bdf1d0814.txt"


def rows(index_dir: Path, sql: str) -> list[tuple]:
    store = IndexStore.open(index_dir)
    with sqlite3.connect(index_dir / store.manifest.database) as db:
        return db.execute(sql).fetchall()


def test_a_sync_writes_only_the_changed_article(articles_dir: Path, index_dir: Path, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    before = dict(rows(index_dir, "SELECT key, article FROM chunks"))
    database = index_dir / IndexStore.open(index_dir).manifest.database
    inode = database.stat().st_ino
    (articles_dir / "neu.txt").write_text("Neu\n\nIn Kiel wurde eine Werft eröffnet.\n")

    sync_index(articles_dir, index_dir, fake_embedder)

    after = dict(rows(index_dir, "SELECT key, article FROM chunks"))
    assert database.stat().st_ino == inode  # the same file, not a copy
    assert {k: a for k, a in after.items() if k in before} == before  # old rows untouched
    assert {a for k, a in after.items() if k not in before} == {"neu.txt"}


def test_replaced_rows_are_deleted_once_no_reader_needs_them(
    articles_dir: Path, index_dir: Path, fake_embedder
):
    sync_index(articles_dir, index_dir, fake_embedder)
    reader = IndexStore.open(index_dir)
    old_text = reader.article_text(SAMPLE)
    (articles_dir / SAMPLE).write_text("Neu\n\nPinguine in Kiel.\n")
    for n in range(3):
        (articles_dir / f"extra{n}.txt").write_text(f"Zusatz {n}\n\nEin Artikel über Sylt.\n")
        sync_index(articles_dir, index_dir, fake_embedder)

    assert reader.article_text(SAMPLE) == old_text  # kept for the reader of generation 1
    assert rows(index_dir, "SELECT count(*) FROM articles WHERE removed IS NOT NULL") == [(1,)]
    reader.close()
    (articles_dir / "extra9.txt").write_text("Zusatz\n\nEin Artikel über Föhr.\n")
    sync_index(articles_dir, index_dir, fake_embedder)
    assert rows(index_dir, "SELECT count(*) FROM articles WHERE removed IS NOT NULL") == [(0,)]
    assert rows(index_dir, "SELECT count(*) FROM chunks WHERE removed IS NOT NULL") == [(0,)]


def test_the_next_snapshot_reuses_the_loaded_vectors(
    articles_dir: Path, index_dir: Path, fake_embedder
):
    sync_index(articles_dir, index_dir, fake_embedder)
    first = IndexStore.open(index_dir)
    (articles_dir / SAMPLE).write_text("Neu\n\nPinguine in Kiel.\n")
    sync_index(articles_dir, index_dir, fake_embedder)

    second = IndexStore.open(index_dir)

    assert second._vectors.blocks[0] is first._vectors.blocks[0]  # shared, not reloaded
    assert len(second._vectors.blocks[-1]) == 1  # only the new chunk was read
    query = fake_embedder.embed_queries(["Pinguine in Kiel"])[0]
    assert second.search(query, 1)[0][0] == second.article_chunk_ids(SAMPLE)[0]
    old_ids = set(first.article_chunk_ids(SAMPLE))
    assert not old_ids & {i for i, _ in second.search(query, len(second))}
    assert old_ids <= {i for i, _ in first.search(query, len(first))}  # first is unchanged
    fresh = IndexStore.open.__func__  # a process starting now loads everything at once
    assert len(second) == second.manifest.chunks == len(fresh(IndexStore, index_dir))


def test_vector_snapshots_stay_exact_through_merges():
    rng = np.random.default_rng(7)
    dimension, key = 16, 0
    snapshot = VectorSet.of(dimension, [], set())
    alive: dict[int, tuple[int, np.ndarray]] = {}
    for step in range(3 * MAX_BLOCKS):
        count = int(rng.integers(1, 30))
        keys = np.arange(key, key + count, dtype=np.int64)
        key += count
        vectors = rng.standard_normal((count, dimension)).astype(np.float32)
        chunk_ids = keys * 1000 + 7
        removed = [k for k in list(alive) if rng.random() < 0.2]
        for k in removed:
            del alive[k]
        alive.update(
            {int(k): (int(c), v) for k, c, v in zip(keys, chunk_ids, vectors, strict=True)}
        )
        previous = snapshot
        snapshot = snapshot.extended(Block.build(keys, chunk_ids, vectors), removed)
        assert len(snapshot.blocks) <= MAX_BLOCKS
        assert snapshot.ntotal == len(alive), step
        assert previous.ntotal == len(alive) - count + len(removed)

        query = rng.standard_normal(dimension).astype(np.float32)
        expected = sorted(((float(v @ query), c) for c, v in alive.values()), reverse=True)
        found = snapshot.search(query, 10)
        assert [c for c, _ in found] == [c for _, c in expected[:10]]
        np.testing.assert_allclose([s for _, s in found], [s for s, _ in expected[:10]], rtol=1e-5)


def test_a_block_whose_rows_are_all_removed_is_dropped():
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((6, 8)).astype(np.float32)
    keys = np.arange(6, dtype=np.int64)
    snapshot = VectorSet.of(8, [Block.build(keys[:4], keys[:4], vectors[:4])], set())
    snapshot = snapshot.extended(Block.build(keys[4:], keys[4:], vectors[4:]), [0, 1, 2, 3])
    assert len(snapshot.blocks) == 1 and snapshot.ntotal == 2
    assert {c for c, _ in snapshot.search(vectors[0], 5)} == {4, 5}


def test_a_large_block_is_searched_approximately_with_recall_at_20_of_097():
    import faiss

    rng = np.random.default_rng(11)
    rows, dimension = 20_000, 32
    # clustered like text embeddings: topics plus noise, unit length
    centres = rng.standard_normal((200, dimension))
    vectors = centres[rng.integers(0, 200, rows)] + 0.6 * rng.standard_normal((rows, dimension))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    keys = np.arange(rows, dtype=np.int64)
    exact = VectorSet.of(dimension, [Block.build(keys, keys, vectors)], set())
    block = Block.build(keys, keys, vectors, approximate_above=rows - 1)
    assert isinstance(block.index, faiss.IndexIVF)
    removed = set(range(0, rows, 50))  # and rows a snapshot no longer sees stay hidden
    approximate = VectorSet.of(dimension, [block], set(removed))
    exact = VectorSet.of(dimension, exact.blocks, set(removed))

    queries = vectors[rng.integers(0, rows, 100)] + 0.1 * rng.standard_normal((100, dimension))
    recall = []
    for query in queries.astype(np.float32):
        truth = {c for c, _ in exact.search(query, 20)}
        found = {c for c, _ in approximate.search(query, 20)}
        assert not found & removed
        recall.append(len(truth & found) / 20)
    assert np.mean(recall) >= 0.97, np.mean(recall)
