"""Stage 1 and 2: candidates from both indexes, lexical shares, fusion."""

from __future__ import annotations

import math

import pytest

from index.model import Chunk, Sentence
from index.store import IndexStore
from retrieval.candidates import Candidate, HybridRetriever, idf
from retrieval.fusion import LexicalFusion
from tests.conftest import FakeEmbedder, index_of

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


def candidate(number: int, text: str, dense: float, lexical: float) -> Candidate:
    chunk = Chunk(number, f"a{number}.txt", None, None, None, 1, (Sentence(text, 0, len(text)),))
    return Candidate(chunk, dense, lexical, dense)


ENGLISH_OTHER_TOPIC = (
    "The city's population grew by ten percent last year, the council said on Tuesday, "
    "and most of the new residents moved into the northern districts."
)
GERMAN_ANSWER = (
    "Nach der Volkszählung von 1890 waren 38 Prozent der Einwohner von Fresno katholisch, "
    "die meisten von ihnen Einwanderer aus Italien und Portugal."
)


def test_lexical_shares_are_compared_within_each_paragraph_language() -> None:
    # An English question: the English paragraph on another topic shares its everyday words
    # (share .6), the German paragraph that answers it only the name and the year (share .3).
    candidates = (
        candidate(1, ENGLISH_OTHER_TOPIC, dense=0.80, lexical=0.6),
        candidate(2, GERMAN_ANSWER, dense=0.81, lexical=0.3),
    )
    blind = LexicalFusion(weight=0.1, per_language=False).fuse(candidates, "en")
    assert [c.chunk.id for c in blind] == [1, 2]
    fused = LexicalFusion(weight=0.1).fuse(candidates, "en")
    assert [c.chunk.id for c in fused] == [2, 1]  # the German paragraph's best counts as .6
    assert fused[0].score == pytest.approx(0.81 + 0.1 * 0.6)
    assert fused[1].score == pytest.approx(0.80 + 0.1 * 0.6)


def test_in_one_language_per_language_fusion_changes_nothing(store) -> None:
    result = retrieve(store, "Wann fährt die Straßenbahn nach Rotterdam?")
    assert 0 < max(c.lexical for c in result.candidates) < 1
    fusions = (LexicalFusion(per_language=True), LexicalFusion(per_language=False))
    both = [fusion.fuse(result.candidates, "de") for fusion in fusions]
    assert [c.score for c in both[0]] == [c.score for c in both[1]]


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
