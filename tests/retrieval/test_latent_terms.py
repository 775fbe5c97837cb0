from __future__ import annotations

import numpy as np
import pytest

from index.documents import Chunk, Sentence
from index.embedders import LatentTerms
from index.stores import open_store
from index.sync import sync_index
from retrieval.candidates import Candidate
from retrieval.latent_terms import LatentTermRerank
from tests.fakes.embedder import FakeEmbedder


def candidate(number: int, text: str, score: float) -> Candidate:
    chunk = Chunk(number, f"a{number}.txt", None, None, None, 1, (Sentence(text, 0, len(text)),))
    return Candidate(chunk, score, 0.0, score)


RANKED = [
    candidate(1, "The harbour opened a new ferry terminal.", 0.83),
    candidate(2, "The council voted on the budget for schools.", 0.82),
    candidate(3, "Ferry tickets became cheaper this summer.", 0.81),
    candidate(4, "A ferry strike stopped all ferry crossings.", 0.70),
]
QUESTION = "Why did the ferry council vote on the budget?"


def ids(ranked: list[Candidate]) -> list[int]:
    return [c.chunk.id for c in ranked]


def test_similarity_is_the_cosine_of_the_sparse_vectors() -> None:
    a = LatentTerms.from_pairs(np.array([7, 2, 5]), np.array([1.0, 2.0, 2.0]))
    b = LatentTerms.from_pairs(np.array([5, 9, 2]), np.array([3.0, 4.0, 0.0]))
    dense_a, dense_b = np.zeros(10), np.zeros(10)
    dense_a[[7, 2, 5]] = [1.0, 2.0, 2.0]
    dense_b[[5, 9, 2]] = [3.0, 4.0, 0.0]
    expected = dense_a @ dense_b / np.linalg.norm(dense_a) / np.linalg.norm(dense_b)
    assert a.similarity(b) == pytest.approx(expected)
    assert list(a.ids) == [2, 5, 7]  # kept sorted
    assert a.similarity(LatentTerms.from_pairs(np.array([1]), np.array([1.0]))) == 0.0


def test_rerank_lifts_the_paragraph_sharing_the_questions_terms() -> None:
    rerank = LatentTermRerank(FakeEmbedder(latent_terms=True), weight=0.3)
    reranked = rerank.rerank(RANKED, rerank.start(QUESTION), head=3)
    assert ids(reranked)[0] == 2  # "council", "vote", "budget" outweigh a .01 cosine gap
    assert ids(reranked)[3] == 4  # beyond `head`: never scored, stays where it was
    assert reranked[0].score > RANKED[1].score
    assert reranked[3] == RANKED[3]


def test_rerank_without_latent_terms_or_weight_keeps_the_fused_order() -> None:
    for embedder, weight in ((FakeEmbedder(), 0.3), (FakeEmbedder(latent_terms=True), 0.0)):
        rerank = LatentTermRerank(embedder, weight=weight)
        assert rerank.rerank(RANKED, rerank.start(QUESTION), head=4) == RANKED
        assert not getattr(embedder, "latent_texts", [])


GERMAN = candidate(
    5, "Der Stadtrat stimmte am Dienstag über den Haushalt für die Schulen ab.", 0.80
)


def test_one_language_head_is_not_reranked_and_costs_no_model_pass() -> None:
    embedder = FakeEmbedder(latent_terms=True)
    rerank = LatentTermRerank(embedder, weight=0.3)
    asked = rerank.start(QUESTION)
    assert rerank.rerank(RANKED, asked, head=3, language="en") == RANKED
    assert asked is not None
    asked.result()  # the question's pass runs on a worker thread either way
    assert embedder.latent_texts == [QUESTION]  # no paragraph was scored


def test_head_with_another_language_is_reranked() -> None:
    ranked = [RANKED[0], RANKED[2], GERMAN, RANKED[3]]
    for across_only in (True, False):
        embedder = FakeEmbedder(latent_terms=True)
        rerank = LatentTermRerank(embedder, weight=0.3, across_languages_only=across_only)
        reranked = rerank.rerank(ranked, rerank.start(QUESTION), head=3, language="en")
        assert len(embedder.latent_texts) == 1 + 3  # the question and the three paragraphs
        assert reranked[3] == ranked[3]
    # turned off, a one-language head is scored as well
    embedder = FakeEmbedder(latent_terms=True)
    rerank = LatentTermRerank(embedder, across_languages_only=False)
    assert ids(rerank.rerank(RANKED, rerank.start(QUESTION), head=3, language="en"))[0] == 2


def test_paragraph_terms_are_computed_once() -> None:
    embedder = FakeEmbedder(latent_terms=True)
    rerank = LatentTermRerank(embedder)
    first = rerank.rerank(RANKED, rerank.start(QUESTION), head=4)
    assert len(embedder.latent_texts) == 1 + 4  # the question and four paragraphs
    assert rerank.rerank(RANKED, rerank.start(QUESTION), head=4) == first
    assert len(embedder.latent_texts) == 1 + 4 + 1  # only the question again


def test_stored_paragraph_terms_are_read_not_computed(articles_dir, tmp_path) -> None:
    sync_index(articles_dir, tmp_path / "index", FakeEmbedder(latent_terms=True))
    store = open_store(tmp_path / "index", FakeEmbedder().model_id)
    chunks = store.chunks(store.article_chunk_ids("001_d3691be0234ce99a.txt"))[:4]
    ranked = [Candidate(c, 0.8 - i / 100, 0.0, 0.8 - i / 100) for i, c in enumerate(chunks)]
    question = "Was sagte der Kreml über die Verhandlungen?"
    computing = LatentTermRerank(FakeEmbedder(latent_terms=True), weight=0.3)
    embedder = FakeEmbedder(latent_terms=True)
    reading = LatentTermRerank(embedder, weight=0.3)

    reranked = reading.rerank(ranked, reading.start(question), head=4, store=store)

    assert embedder.latent_texts == [question]  # no paragraph pass
    assert reranked == computing.rerank(ranked, computing.start(question), head=4)


def test_cache_is_bounded() -> None:
    embedder = FakeEmbedder(latent_terms=True)
    rerank = LatentTermRerank(embedder, cache_chunks=2)
    rerank.rerank(RANKED, rerank.start(QUESTION), head=4)
    rerank.rerank(RANKED, rerank.start(QUESTION), head=4)
    assert len(embedder.latent_texts) == (1 + 4) + (1 + 2)  # two of four were kept


def test_the_bundled_model_shares_latent_terms_across_languages(real_embedder) -> None:
    question, answer, other = real_embedder.latent_terms(
        [
            "When was the university founded?",
            "Die Universität wurde im Jahr 1891 von einem Eisenbahnunternehmer gegründet.",
            "Am Wochenende bleibt es in ganz Bayern trocken und sonnig.",
        ]
    )
    assert question.similarity(answer) > question.similarity(other) + 0.1
