"""The store: save/load round trip, crash safety, corruption detection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index import store as store_module
from index.chunking import chunk_article
from index.cleaning import parse_article
from index.files import read_article
from index.store import (
    CURRENT_FILE,
    IndexCorruptError,
    IndexMissingError,
    IndexStore,
    list_generations,
)
from index.sync import sync_index

SAMPLE = "004_4a36d75bdf1d0814.txt"


def test_save_load_round_trip(articles_dir: Path, index_dir: Path, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    article = read_article(articles_dir, articles_dir / SAMPLE)
    expected = chunk_article(
        parse_article(article.text, SAMPLE), fake_embedder.count_tokens, fake_embedder.max_tokens
    )

    store = IndexStore.open(index_dir, fake_embedder.model_id)

    assert store.chunks([c.id for c in expected]) == expected
    assert store.article_text(SAMPLE) == article.text
    vectors = store.sentence_vectors([expected[0].id])[expected[0].id]
    assert vectors.shape == (len(expected[0].sentences), fake_embedder.dimension)
    query = fake_embedder.embed_passages([expected[2].text])[0]
    assert store.search(query, 1)[0][0] == expected[2].id
    manifest = store.manifest
    assert manifest.embedder_id == fake_embedder.model_id
    assert manifest.articles[SAMPLE] == article.content_hash


def test_missing_index_says_how_to_build_it(tmp_path: Path):
    with pytest.raises(IndexMissingError, match="newsbot index"):
        IndexStore.open(tmp_path / "nothing")


@pytest.mark.parametrize("stage", ["insert", "faiss", "manifest", "rename", "current"])
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
        "insert": (store_module.GenerationWriter, "add_article"),
        "faiss": (store_module.faiss, "write_index"),
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


def test_truncated_vectors_are_detected(articles_dir: Path, index_dir: Path, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    vectors = list_generations(index_dir)[-1] / store_module.VECTORS_FILE
    vectors.write_bytes(vectors.read_bytes()[:100])

    with pytest.raises(IndexCorruptError, match=r"damaged.*--rebuild"):
        IndexStore.open(index_dir)
    sync_index(articles_dir, index_dir, fake_embedder, rebuild=True)
    assert len(IndexStore.open(index_dir)) > 0


def test_broken_sqlite_is_detected(articles_dir: Path, index_dir: Path, fake_embedder):
    sync_index(articles_dir, index_dir, fake_embedder)
    meta = list_generations(index_dir)[-1] / store_module.META_FILE
    meta.write_bytes(b"this is not a database" * 100)

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


def test_lexical_search_finds_words_and_follows_removal(
    articles_dir: Path, index_dir: Path, fake_embedder
):
    (articles_dir / "zebra.txt").write_text(
        "Zebras im Zoo\n\nDer Zoo in Zürich zeigt 14 Zebras.\n\nDas Gehege ist neu.\n"
    )
    sync_index(articles_dir, index_dir, fake_embedder)
    store = IndexStore.open(index_dir, fake_embedder.model_id)

    hits = store.lexical_search(["zebras", "zurich"], 5)  # diacritics and case folded
    [zebra_chunk] = store.chunks([hits[0][0]])
    assert zebra_chunk.article == "zebra.txt" and "14 Zebras" in zebra_chunk.text
    # both paragraphs carry the title "Zebras im Zoo"
    assert store.document_frequencies(["zebras", "pinguine"]) == {"zebras": 2, "pinguine": 0}
    assert store.lexical_search(['"unbalanced'], 5) == []  # quotes in terms are escaped

    (articles_dir / "zebra.txt").unlink()
    sync_index(articles_dir, index_dir, fake_embedder)
    after = IndexStore.open(index_dir, fake_embedder.model_id)
    assert after.lexical_search(["zebras"], 5) == []
    assert after.document_frequencies(["zebras"]) == {"zebras": 0}
