"""The store contract: what every store (`index.stores.base.StoreReader` / `StoreWriter`) must do.

Every test in `TestStoreContract` runs once per store through the `index_location` fixture: a
folder for the embedded store, a schema on a real PostgreSQL server for the PostgreSQL store.
A new store passes when it is added to `tests.conftest.STORES`. Store-specific behaviour (files,
pools, reconnects) is tested in `test_store.py` and `test_pg_store.py`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from index.chunking import chunk_article
from index.cleaning import parse_article
from index.files import read_article
from index.lock import IndexLockedError
from index.stores import copy_index, live_generation, open_store, open_writer, writer_lock
from index.stores.base import (
    IndexMismatchError,
    IndexMissingError,
    StoreReader,
    StoreWriter,
)
from index.stores.sqlite import IndexStore
from index.sync import sync_index
from tests.fakes.embedder import FakeEmbedder

SAMPLE = "004_4a36d75bdf1d0814.txt"
ARTICLE = "Zebras im Zoo\n\nDer Zoo in Zürich zeigt 14 Zebras.\n\nDas Gehege ist neu.\n"


LATENT = FakeEmbedder(latent_terms=True)


def chunks_of(text: str, path: str, embedder: FakeEmbedder):
    return chunk_article(parse_article(text, path), embedder.count_tokens, embedder.max_tokens)


def write_one(location, embedder: FakeEmbedder, text: str = ARTICLE, path: str = "zebra.txt"):
    """One article through the writer protocol alone; returns its chunks."""
    chunks = chunks_of(text, path, embedder)
    with writer_lock(location):
        writer = open_writer(location, embedder.model_id, embedder.dimension, None)
        try:
            assert isinstance(writer, StoreWriter)
            writer.add_article(
                path=path,
                raw=text,
                content_hash="h1",
                title=chunks[0].title,
                date=None,
                chunks=chunks,
                chunk_vectors=embedder.embed_passages([c.text for c in chunks]),
                sentence_vectors=[
                    embedder.embed_passages([s.text for s in c.sentences]) for c in chunks
                ],
                latent_terms=[*LATENT.latent_terms([c.text for c in chunks[:-1]]), None],
                size=len(text),
                mtime_ns=7,
            )
            writer.publish()
        finally:
            writer.close()
    return chunks


class TestStoreContract:
    def test_what_the_writer_adds_the_reader_returns(self, index_location, fake_embedder):
        chunks = write_one(index_location, fake_embedder)
        store = open_store(index_location, fake_embedder.model_id)
        try:
            assert isinstance(store, StoreReader)
            assert store.embedder_id == fake_embedder.model_id
            assert store.generation == live_generation(index_location)
            assert len(store) == len(chunks) == store.manifest.chunks
            assert store.manifest.articles == 1
            assert store.chunks([c.id for c in chunks]) == chunks
            assert store.article_chunk_ids("zebra.txt") == [c.id for c in chunks]
            assert store.article_text("zebra.txt") == ARTICLE
            assert store.article_text("nowhere.txt") is None
            [record] = store.articles()
            assert (record.path, record.content_hash, record.chunk_count) == (
                "zebra.txt",
                "h1",
                len(chunks),
            )
            state = store.article_states()["zebra.txt"]
            assert (state.content_hash, state.size, state.mtime_ns) == ("h1", len(ARTICLE), 7)
            expected = fake_embedder.embed_passages([c.text for c in chunks])
            np.testing.assert_allclose(
                store.chunk_vectors([c.id for c in chunks]), expected, atol=1e-6
            )
            sentences = store.sentence_vectors([chunks[0].id])[chunks[0].id]
            assert sentences.shape == (len(chunks[0].sentences), fake_embedder.dimension)
            terms = store.latent_terms([c.id for c in chunks])
            assert terms.keys() == {c.id for c in chunks[:-1]}  # the last was stored without
            wanted_terms = LATENT.latent_terms([c.text for c in chunks[:-1]])
            for chunk, wanted in zip(chunks[:-1], wanted_terms, strict=True):
                np.testing.assert_array_equal(terms[chunk.id].ids, wanted.ids)
                np.testing.assert_array_equal(terms[chunk.id].weights, wanted.weights)
            assert store.search(expected[-1], 1)[0][0] == chunks[-1].id
        finally:
            store.close()

    def test_save_load_round_trip_of_a_sync(
        self, articles_dir: Path, index_location, fake_embedder
    ):
        sync_index(articles_dir, index_location, fake_embedder, sentence_vectors=True)
        article = read_article(articles_dir, articles_dir / SAMPLE)
        expected = chunks_of(article.text, SAMPLE, fake_embedder)

        store = open_store(index_location, fake_embedder.model_id)

        assert store.chunks([c.id for c in expected]) == expected
        assert store.article_text(SAMPLE) == article.text
        vectors = store.sentence_vectors([expected[0].id])[expected[0].id]
        assert vectors.shape == (len(expected[0].sentences), fake_embedder.dimension)
        query = fake_embedder.embed_passages([expected[2].text])[0]
        assert store.search(query, 1)[0][0] == expected[2].id
        assert store.manifest.articles == 5 and store.manifest.chunks == len(store)
        assert store.article_states()[SAMPLE].content_hash == article.content_hash

    def test_missing_index_says_how_to_build_it(self, index_location):
        with pytest.raises(IndexMissingError, match="newsbot index"):
            open_store(index_location)

    def test_another_model_is_refused_with_the_rebuild_hint(self, index_location, fake_embedder):
        write_one(index_location, fake_embedder)
        with pytest.raises(IndexMismatchError, match=r"newsbot index --rebuild"):
            open_store(index_location, FakeEmbedder(model_id="other").model_id)

    def test_one_writer_at_a_time(self, index_location):
        with (
            writer_lock(index_location),
            pytest.raises(IndexLockedError),
            writer_lock(index_location),
        ):
            pass  # the second lock is refused while the first is held

    def test_lexical_search_finds_words_and_follows_removal(
        self, articles_dir: Path, index_location, fake_embedder
    ):
        (articles_dir / "zebra.txt").write_text(ARTICLE)
        sync_index(articles_dir, index_location, fake_embedder)
        store = open_store(index_location, fake_embedder.model_id)

        hits = store.lexical_search(["zebras", "zurich"], 5)  # diacritics and case folded
        [zebra_chunk] = store.chunks([hits[0][0]])
        assert zebra_chunk.article == "zebra.txt" and "14 Zebras" in zebra_chunk.text
        # both paragraphs carry the title "Zebras im Zoo"
        assert store.document_frequencies(["zebras", "pinguine"]) == {"zebras": 2, "pinguine": 0}
        assert store.lexical_search(['"unbalanced'], 5) == []  # quotes in terms are escaped

        (articles_dir / "zebra.txt").unlink()
        sync_index(articles_dir, index_location, fake_embedder)
        after = open_store(index_location, fake_embedder.model_id)
        assert after.lexical_search(["zebras"], 5) == []
        assert after.document_frequencies(["zebras"]) == {"zebras": 0}
        # the snapshot opened before the removal still finds it (its rows are kept for it)
        assert store.lexical_search(["zebras"], 5)[0][0] == zebra_chunk.id
        assert store.document_frequencies(["zebras"]) == {"zebras": 2}

    def test_removing_an_article_publishes_a_generation_without_it(
        self, index_location, fake_embedder
    ):
        chunks = write_one(index_location, fake_embedder)
        before = open_store(index_location, fake_embedder.model_id)
        with writer_lock(index_location):
            writer = open_writer(
                index_location, fake_embedder.model_id, fake_embedder.dimension, before.manifest
            )
            try:
                assert writer.remove_article("zebra.txt") == len(chunks)
                writer.publish()
            finally:
                writer.close()
        after = open_store(index_location, fake_embedder.model_id)
        assert after.generation > before.generation
        assert after.articles() == [] and len(after) == 0
        assert before.article_text("zebra.txt") == ARTICLE  # an open snapshot keeps its rows

    def test_many_threads_read_one_snapshot_after_it_was_pruned(
        self, articles_dir: Path, index_location, fake_embedder
    ):
        sync_index(articles_dir, index_location, fake_embedder)
        reader = open_store(index_location, fake_embedder.model_id)
        expected = reader.chunks(reader.article_chunk_ids(SAMPLE))
        (articles_dir / SAMPLE).write_text("Neu\n\nPinguine in Kiel.\n")  # its rows are replaced
        for n in range(3):
            (articles_dir / f"extra{n}.txt").write_text(f"Artikel Nummer {n} über Pinguine.\n")
            sync_index(articles_dir, index_location, fake_embedder)
        assert open_store(index_location).article_text(SAMPLE) != reader.article_text(SAMPLE)
        if isinstance(reader, IndexStore):
            assert not reader.generation_dir.exists()

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda _: reader.chunks([c.id for c in expected]), range(64)))
        assert all(result == expected for result in results)

    def test_a_copy_holds_the_same_articles_and_vectors(
        self, articles_dir: Path, index_location, tmp_path: Path, fake_embedder
    ):
        sync_index(articles_dir, index_location, LATENT)
        source = open_store(index_location, LATENT.model_id)
        copy_index(source, tmp_path / "copy")
        copy = open_store(tmp_path / "copy", fake_embedder.model_id)
        assert [a.path for a in copy.articles()] == [a.path for a in source.articles()]
        ids = source.article_chunk_ids(SAMPLE)
        assert copy.chunks(ids) == source.chunks(ids)
        np.testing.assert_array_equal(copy.chunk_vectors(ids), source.chunk_vectors(ids))
        copied, kept = copy.sentence_vectors(ids), source.sentence_vectors(ids)
        assert copied.keys() == kept.keys() == set(ids)
        for i in ids:
            np.testing.assert_array_equal(copied[i], kept[i])
        copied_terms, kept_terms = copy.latent_terms(ids), source.latent_terms(ids)
        assert copied_terms.keys() == kept_terms.keys() == set(ids)
        for i in ids:
            np.testing.assert_array_equal(copied_terms[i].ids, kept_terms[i].ids)
            np.testing.assert_array_equal(copied_terms[i].weights, kept_terms[i].weights)
