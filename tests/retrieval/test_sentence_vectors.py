"""Sentence vectors of an index built without them, embedded when an answer first quotes a
paragraph: the same vectors an index stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.stores import open_store
from index.sync import sync_index
from retrieval.answerer import Answerer
from retrieval.sentence_vectors import SentenceVectors
from tests.fakes.embedder import FakeEmbedder

SAMPLE = "001_d3691be0234ce99a.txt"


def both_indexes(articles_dir: Path, tmp_path: Path):
    """The same articles indexed with sentence vectors and latent terms stored, and with
    paragraphs only."""
    sync_index(articles_dir, tmp_path / "stored", FakeEmbedder(latent_terms=True))
    sync_index(
        articles_dir,
        tmp_path / "lazy",
        FakeEmbedder(latent_terms=True),
        sentence_vectors=False,
        latent_terms=False,
    )
    model = FakeEmbedder().model_id
    return open_store(tmp_path / "stored", model), open_store(tmp_path / "lazy", model)


def test_on_demand_vectors_equal_the_ones_an_index_would_store(articles_dir, tmp_path) -> None:
    stored, lazy = both_indexes(articles_dir, tmp_path)
    chunks = lazy.chunks(lazy.article_chunk_ids(SAMPLE))
    assert lazy.sentence_vectors([c.id for c in chunks]) == {}

    embedded = SentenceVectors(FakeEmbedder()).lookup(lazy, chunks)
    kept = stored.sentence_vectors([c.id for c in chunks])

    assert embedded.keys() == kept.keys() == {c.id for c in chunks}
    for key, vectors in embedded.items():
        np.testing.assert_array_equal(vectors, kept[key])  # both float16-rounded unit rows


def test_a_paragraph_is_embedded_once_then_cached(articles_dir, tmp_path) -> None:
    _, lazy = both_indexes(articles_dir, tmp_path)
    chunks = lazy.chunks(lazy.article_chunk_ids(SAMPLE))[:3]
    embedder = FakeEmbedder()
    sentences = SentenceVectors(embedder)

    first = sentences.lookup(lazy, chunks)
    count = embedder.passages_embedded
    again = sentences.lookup(lazy, chunks[:2])

    assert count == len({s.text for c in chunks for s in c.sentences})
    assert embedder.passages_embedded == count  # nothing embedded the second time
    for key, vectors in again.items():
        np.testing.assert_array_equal(vectors, first[key])


def test_the_cache_keeps_at_most_its_size(articles_dir, tmp_path) -> None:
    _, lazy = both_indexes(articles_dir, tmp_path)
    a, b = lazy.chunks(lazy.article_chunk_ids(SAMPLE))[:2]
    embedder = FakeEmbedder()
    sentences = SentenceVectors(embedder, cache_chunks=1)

    sentences.lookup(lazy, [a])
    sentences.lookup(lazy, [b])  # evicts a
    count = embedder.passages_embedded
    sentences.lookup(lazy, [b])
    assert embedder.passages_embedded == count
    sentences.lookup(lazy, [a])
    assert embedder.passages_embedded == count + len(a.sentences)


def test_stored_vectors_are_read_not_embedded(articles_dir, tmp_path) -> None:
    stored, _ = both_indexes(articles_dir, tmp_path)
    chunks = stored.chunks(stored.article_chunk_ids(SAMPLE))
    embedder = FakeEmbedder()

    assert len(SentenceVectors(embedder).lookup(stored, chunks)) == len(chunks)
    assert embedder.passages_embedded == 0


def test_answers_are_the_same_from_either_index(articles_dir, tmp_path) -> None:
    stored, lazy = both_indexes(articles_dir, tmp_path)
    questions = [
        "Welche Bedingungen stellte Putin?",
        "What did Zelensky say about the ceasefire?",
        "Wo fanden die Gespräche statt?",
    ]
    reading = FakeEmbedder(latent_terms=True)
    for question in questions:
        left = Answerer(stored, reading).answer(question)
        right = Answerer(lazy, FakeEmbedder(latent_terms=True)).answer(question)
        assert left.answered == right.answered
        assert [q.text for q in left.quotes] == [q.text for q in right.quotes]
    assert any(Answerer(lazy, FakeEmbedder()).answer(q).quotes for q in questions)
    # from the stored index: no sentence embedded, latent terms of the questions only
    assert reading.passages_embedded == 0
    assert set(reading.latent_texts) <= set(questions)
