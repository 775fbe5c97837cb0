"""The Answerer: its API, what it costs per question, multi-article answers and follow-ups."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.stores import open_store
from index.stores.sqlite import IndexStore
from index.sync import sync_index
from index.verbatim import canonical
from retrieval.answerer import Answerer
from retrieval.latent_terms import LatentTermRerank
from tests.conftest import KRYWYJ_SENTENCE, SAMPLE_ARTICLES, STORES, new_pg_index
from tests.fakes.embedder import FakeEmbedder

PUTIN_001 = "001_d3691be0234ce99a.txt"
PUTIN_004 = "004_4a36d75bdf1d0814.txt"


@pytest.fixture(scope="module", params=STORES)
def fake_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The sample articles with the fake model, in each store."""
    if request.param == "embedded":
        index = tmp_path_factory.mktemp("answerer") / "index"
    else:
        index = new_pg_index(request.getfixturevalue("pg_server"))
    sync_index(SAMPLE_ARTICLES, index, FakeEmbedder())
    return open_store(index)


def test_answer_api_timing_and_top(fake_store) -> None:
    answerer = Answerer(fake_store, FakeEmbedder(), candidates=20)
    answer = answerer.answer(KRYWYJ_SENTENCE, top=4)
    assert answer.answered and 1 <= len(answer.quotes) <= 4
    assert answer.quotes[0].article == "000_c5834305b38bf562.txt"
    assert "Krywyj Rih" in answer.quotes[0].text
    assert set(answer.timing_ms) >= {"embed", "search", "total"}
    assert answer.timing_ms["total"] >= answer.timing_ms["embed"] + answer.timing_ms["search"]
    assert answer.language == "de"
    assert answerer.answer("Which cities reported attacks?").language == "en"


def test_one_query_embedding_per_question_two_for_a_follow_up(fake_store) -> None:
    embedder = FakeEmbedder()
    answerer = Answerer(fake_store, embedder)
    queries = embedder.queries_embedded
    answerer.answer(KRYWYJ_SENTENCE)
    assert embedder.queries_embedded - queries == 1
    answerer.answer("Und Dnipro?", context=KRYWYJ_SENTENCE)
    assert embedder.queries_embedded - queries == 3


def test_a_quoted_paragraphs_sentences_are_read_or_embedded_once(fake_store, tmp_path) -> None:
    embedder = FakeEmbedder()
    assert Answerer(fake_store, embedder).answer(KRYWYJ_SENTENCE).quotes
    assert embedder.passages_embedded == 0  # the index stores them

    sync_index(SAMPLE_ARTICLES, tmp_path / "index", FakeEmbedder(), sentence_vectors=False)
    paragraphs_only = open_store(tmp_path / "index")
    answerer = Answerer(paragraphs_only, embedder)
    assert answerer.answer(KRYWYJ_SENTENCE).quotes
    embedded = embedder.passages_embedded
    ids = [i for a in fake_store.articles() for i in fake_store.article_chunk_ids(a.path)]
    assert 1 <= embedded < sum(len(c.sentences) for c in fake_store.chunks(ids)) / 4

    answerer.answer(KRYWYJ_SENTENCE)
    assert embedder.passages_embedded == embedded  # the second time from the cache


def test_latent_terms_once_per_question_and_once_per_reranked_paragraph(fake_store) -> None:
    embedder = FakeEmbedder(latent_terms=True)
    rerank = LatentTermRerank(embedder, across_languages_only=False)
    answerer = Answerer(fake_store, embedder, latent_terms=rerank)
    assert answerer.answer(KRYWYJ_SENTENCE).quotes
    question, *paragraphs = embedder.latent_texts
    assert question == KRYWYJ_SENTENCE and len(paragraphs) == answerer.quotes.paragraphs
    answerer.answer("Und Dnipro?", context=KRYWYJ_SENTENCE)
    asked = set(embedder.latent_texts[1 + len(paragraphs) :])  # worker threads: any order
    assert {f"{KRYWYJ_SENTENCE} Und Dnipro?", "Und Dnipro?"} <= asked  # searched, judged


def test_a_question_in_its_paragraphs_language_costs_no_paragraph_pass(fake_store) -> None:
    embedder = FakeEmbedder(latent_terms=True)
    assert Answerer(fake_store, embedder).answer(KRYWYJ_SENTENCE).quotes  # German on German
    # the question's own pass runs on a worker thread and may not have finished; no paragraph's
    assert set(embedder.latent_texts) <= {KRYWYJ_SENTENCE}


def test_a_deleted_article_between_search_and_quote_is_skipped(fake_store) -> None:
    class Vanishing:
        def __getattr__(self, name: str):
            return getattr(fake_store, name)

        def __len__(self) -> int:
            return len(fake_store)

        def article_text(self, path: str) -> str | None:
            return None if path.startswith("000") else fake_store.article_text(path)

    answer = Answerer(Vanishing(), FakeEmbedder()).answer(KRYWYJ_SENTENCE, top=10)
    assert all(not q.article.startswith("000") for q in answer.quotes)


# --- with the real model ---------------------------------------------------------------------


@pytest.fixture(params=STORES)
def answerer(request: pytest.FixtureRequest) -> Answerer:
    """The real model's answerer over the sample articles, in each store."""
    name = "real_answerer" if request.param == "embedded" else "real_pg_answerer"
    return request.getfixturevalue(name)


def gold_rank(quotes, article: str, text: str) -> int | None:
    for rank, quote in enumerate(quotes, start=1):
        if quote.article == article and canonical(text) in canonical(quote.text):
            return rank
    return None


@pytest.mark.slow
def test_the_truce_reported_in_three_articles_is_quoted_without_repeats(
    answerer: Answerer,
) -> None:
    answer = answerer.answer("Wie lange soll die vorgeschlagene Waffenruhe dauern?", top=10)
    texts = [canonical(q.text) for q in answer.quotes]
    assert len(texts) == len(set(texts))
    truce = {q.article for q in answer.quotes if "30-tägig" in q.text}
    assert len(truce) >= 2  # differently worded reports are not duplicates
    assert gold_rank(answer.quotes[:3], PUTIN_004, "30-tägige Waffenruhe")


@pytest.mark.slow
def test_follow_up_context_finds_what_the_question_alone_does_not(answerer: Answerer) -> None:
    question, context = "And how did Zelensky react to that?", "What conditions did Putin set?"
    followed = answerer.answer(question, context=context)
    assert gold_rank(followed.quotes[:3], PUTIN_004, "sehr manipulativ")


@pytest.mark.slow
def test_an_unrelated_context_does_not_hurt_a_standalone_question(answerer: Answerer) -> None:
    question = "Which Ukrainian cities were hit by Russian drones and missiles?"
    alone = answerer.answer(question)
    noisy = answerer.answer(question, context="Why did Putin criticise Kellogg?")
    gold = ("000_c5834305b38bf562.txt", "Krywyj Rih, Odessa, Dnipro und Charkiw")
    assert gold_rank(alone.quotes, *gold) == 1
    assert gold_rank(noisy.quotes, *gold) == 1


def test_a_follow_up_without_language_cues_answers_in_the_conversations_language(
    fake_store,
) -> None:
    answerer = Answerer(fake_store, FakeEmbedder())
    assert answerer.answer("Kellogg?", context="Wer ist der Sondergesandte?").language == "de"
    assert answerer.answer("Kellogg?", context="Who is the envoy?").language == "en"
    assert answerer.answer("Kellogg?").language == "en"


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "What did Zelensky offer after his call with Trump?",
        "What conditions did Putin set?",
        "Wer begleitete Putin bei seinem Besuch in Kursk?",
        "What did Witkoff say about his meeting with Putin?",
    ],
)
def test_no_text_is_quoted_twice(answerer: Answerer, question: str) -> None:
    quotes = answerer.answer(question, top=10).quotes
    for i, a in enumerate(quotes):
        for b in quotes[i + 1 :]:
            assert a.article != b.article or a.end <= b.start or b.end <= a.start, (a, b)


TALLINN = """Tallinn opens new ferry terminal

The port of Tallinn will open its new ferry terminal on 14 June, the port authority said on
Monday. The terminal can handle four ships at once and replaces a building from 1979.

Passenger numbers between Tallinn and Helsinki rose by 8 percent last year, to 9.1 million.
"""


@pytest.mark.slow
def test_an_english_article_about_a_city_no_list_names_is_answered(
    tmp_path: Path, real_embedder
) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    for name in (PUTIN_001, PUTIN_004):
        (articles / name).write_bytes((SAMPLE_ARTICLES / name).read_bytes())
    (articles / "tallinn.txt").write_text(TALLINN, encoding="utf-8")
    sync_index(articles, tmp_path / "index", real_embedder)
    answerer = Answerer(IndexStore.open(tmp_path / "index"), real_embedder)
    for question in (
        "When does the new ferry terminal in Tallinn open?",
        "Wann öffnet Tallinns neues Fährterminal?",
    ):
        answer = answerer.answer(question)
        assert answer.answered, question
        assert answer.quotes[0].article == "tallinn.txt" and "14 June" in answer.quotes[0].text
    # Known limit: "… in Riga?" is answered with the Tallinn quote (an on-topic question with one
    # name swapped looks answerable to the model; see the README's "Not in the articles").
