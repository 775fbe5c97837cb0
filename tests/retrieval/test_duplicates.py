"""Collapsing copies: a paragraph several articles repeat ranks once and cites the others."""

from __future__ import annotations

from pathlib import Path

from evaluation.stages import KeepEveryCandidate
from index.documents import Chunk, Sentence
from index.stores.sqlite import IndexStore
from index.sync import sync_index
from retrieval.answerer import Answerer
from retrieval.candidates import Candidate
from retrieval.duplicates import DuplicateFilter, near_copies
from tests.fakes.embedder import FakeEmbedder

PARAGRAPH = (
    "The city council approved the new tram line on Tuesday after a debate of four hours. "
    "Construction is to start in the spring and the first trams are to run in 2028, "
    "the mayor said after the vote."
)


def candidate(text: str, article: str, score: float, chunk_id: int) -> Candidate:
    chunk = Chunk(
        id=chunk_id,
        article=article,
        title=None,
        date=None,
        section=None,
        paragraph=1,
        sentences=(Sentence(text, 0, len(text)),),
    )
    return Candidate(chunk, score, 0.0, score)


def test_an_identical_paragraph_ranks_once_and_its_copies_are_kept_in_rank_order() -> None:
    ranked = [
        candidate(PARAGRAPH, "a.txt", 0.9, 1),
        candidate(PARAGRAPH, "b.txt", 0.9, 2),
        candidate("The weather stays dry and warm all week.", "c.txt", 0.8, 3),
        candidate(PARAGRAPH, "d.txt", 0.7, 4),
    ]
    collapsed = DuplicateFilter().collapse(ranked)
    assert [c.chunk.article for c in collapsed.candidates] == ["a.txt", "c.txt"]
    assert [c.article for c in collapsed.copies[1]] == ["b.txt", "d.txt"]


def test_other_quotes_and_line_breaks_are_a_copy_a_changed_figure_is_not() -> None:
    reformatted = PARAGRAPH.replace("after a debate", "after a\n  debate").replace(
        "the mayor said", "„the mayor“ said"
    )
    updated = PARAGRAPH.replace("2028", "2029")  # the point of an update: both stay quotable
    ranked = [
        candidate(PARAGRAPH, "a.txt", 0.9, 1),
        candidate(reformatted, "b.txt", 0.9, 2),
        candidate(updated, "c.txt", 0.89, 3),
    ]
    collapsed = DuplicateFilter().collapse(ranked)
    assert [c.chunk.article for c in collapsed.candidates] == ["a.txt", "c.txt"]
    assert [c.article for c in collapsed.copies[1]] == ["b.txt"]


def test_the_stage_substituted_to_turn_it_off_keeps_every_candidate() -> None:
    ranked = [candidate(PARAGRAPH, "a.txt", 0.9, 1), candidate(PARAGRAPH, "b.txt", 0.9, 2)]
    collapsed = KeepEveryCandidate().collapse(ranked)
    assert collapsed.candidates == ranked and collapsed.copies == {}


ARTICLE = f"""Tram line approved

{PARAGRAPH}

The new line will connect the main station with the university hospital in the north.
"""
OTHER = """Harbour festival

The harbour festival opens on Friday with a parade of tall ships and fireworks at night.
"""


def test_a_republished_article_is_quoted_once_citing_both(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "tram.txt").write_text(ARTICLE, encoding="utf-8")
    (articles / "tram-update.txt").write_text(ARTICLE, encoding="utf-8")
    (articles / "harbour.txt").write_text(OTHER, encoding="utf-8")
    sync_index(articles, tmp_path / "index", FakeEmbedder())
    store = IndexStore.open(tmp_path / "index")
    question = "When are the first trams to run after the city council approved the tram line?"

    answer = Answerer(store, FakeEmbedder()).answer(question)
    first = answer.quotes[0]
    assert "2028" in first.text
    assert [s.article for s in first.also_in] == [
        ({"tram.txt", "tram-update.txt"} - {first.article}).pop()
    ]
    texts = [q.text for q in answer.quotes]
    assert len(texts) == len(set(texts))

    plain = Answerer(store, FakeEmbedder(), duplicates=KeepEveryCandidate())
    assert plain.answer(question).quotes[0].also_in == ()  # the stage is what cites the copy


def test_an_edited_version_of_a_paragraph_is_a_near_copy_and_a_related_one_is_not() -> None:
    news = "Der Zoo hat seit Montag 14 Zebras, teilte die Stadt mit."
    assert near_copies(news, "Der Zoo hat seit Montag 15 Zebras, teilte die Stadt am Dienstag mit.")
    assert near_copies(news, news + " Sie kamen aus Kenia.")  # a sentence added
    assert not near_copies(news, "Die Stadt teilte mit, der Tierpark plane ein neues Gehege.")
