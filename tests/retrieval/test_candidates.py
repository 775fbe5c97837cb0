"""Stage 1 and 2: candidates from both indexes, lexical shares, fusion."""

from __future__ import annotations

import math

import pytest

from index.stores.sqlite import IndexStore
from retrieval.candidates import HybridRetriever, idf
from retrieval.fusion import LexicalFusion
from tests.conftest import index_of
from tests.fakes.embedder import FakeEmbedder

ARTICLE = """Stadtnachrichten

Der Zoo öffnet um neun Uhr und die Zebras stammen aus Kenia.

Die Stadt plant eine neue Straßenbahn. Sie soll 2027 fahren.

Im Hafen legte gestern ein Frachtschiff aus Rotterdam an.
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> IndexStore:
    return index_of(tmp_path_factory.mktemp("candidates"), ARTICLE)


def retrieve(store: IndexStore, question: str, **kwargs):
    vector = FakeEmbedder().embed_queries([question])[0]
    return HybridRetriever(**kwargs).retrieve(store, vector, question)


def test_lexical_share_is_the_idf_weighted_share_of_question_terms(store) -> None:
    result = retrieve(store, "Aus welchem Land stammen die Zebras im Zoo?")
    assert set(result.weights) == {"land", "stammen", "zebras", "zoo"}
    assert result.unknown == ("land",)  # in no paragraph: weighs most, matches nothing
    best = max(result.candidates, key=lambda c: c.lexical)
    assert "Zebras" in best.chunk.text
    total = sum(result.weights.values())
    expected = (
        result.weights["stammen"] + result.weights["zebras"] + result.weights["zoo"]
    ) / total
    assert best.lexical == pytest.approx(expected)


def test_full_text_candidates_join_when_the_vector_search_is_narrow(store) -> None:
    only_dense = retrieve(store, "Frachtschiff Rotterdam", dense_k=1, lexical_k=0)
    both = retrieve(store, "Frachtschiff Rotterdam", dense_k=1, lexical_k=5)
    assert len(only_dense.candidates) == 1
    assert any("Rotterdam" in c.chunk.text for c in both.candidates)


def test_idf_never_negative_and_highest_for_unseen_terms() -> None:
    assert idf(0, 100) > idf(1, 100) > idf(100, 100) > 0
    assert idf(0, 100) == pytest.approx(math.log(1 + 100.5 / 0.5))


def test_fusion_adds_the_lexical_share_to_the_cosine(store) -> None:
    result = retrieve(store, "Wann fährt die Straßenbahn?")
    fused = LexicalFusion(weight=0.5).fuse(result.candidates)
    for candidate in fused:
        assert candidate.score == pytest.approx(candidate.dense + 0.5 * candidate.lexical)
    assert [c.score for c in fused] == sorted((c.score for c in fused), reverse=True)
    plain = LexicalFusion(weight=0.0).fuse(result.candidates)
    assert [c.score for c in plain] == [c.dense for c in plain]


def test_the_full_text_query_is_bounded_by_how_many_paragraphs_its_terms_match(store) -> None:
    asked: list[list[str]] = []

    class Spy:
        def __getattr__(self, name):
            return getattr(store, name)

        def __len__(self) -> int:
            return len(store)

        def lexical_search(self, terms, k):
            asked.append(list(terms))
            return store.lexical_search(terms, k)

    vector = FakeEmbedder().embed_queries(["Frachtschiff Rotterdam Zebras"])[0]
    question = "Frachtschiff aus Rotterdam, Zebras aus Kenia"
    for limit in (10, 2, 0):
        HybridRetriever(max_term_share=1.0, max_query_matches=limit).retrieve(
            Spy(), vector, question
        )
    # each term is in one paragraph: all four, then the two rarest (ties by question order),
    # then none (no full-text query)
    assert asked == [
        ["frachtschiff", "rotterdam", "zebras", "kenia"],
        ["frachtschiff", "rotterdam"],
    ]
