"""The answer-removed archives: xquad questions made unanswerable by cutting their answer's
sentences out of the article (`evaluation.corpora.answer_removal`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.corpora import (
    Archive,
    Source,
    archives,
    folded,
    materialise,
    reader_split,
    remove_sentences,
)
from evaluation.scoring import load_questions
from tests.conftest import ROOT, SHARED

XQUAD = SHARED / "xquad"
needs_xquad = pytest.mark.skipif(not XQUAD.is_dir(), reason="needs ../shared/xquad")


def test_remove_sentences_keeps_paragraphs_and_drops_an_emptied_one() -> None:
    text = (
        "The bridge opened in 1932. It cost  Four Million dollars. Traffic grew.\n\n"
        "It cost FOUR   million dollars.\n\n"
        "Nothing here mentions it.\n"
    )
    out = remove_sentences(text, frozenset({folded("four million")}), "en")
    assert out == "The bridge opened in 1932. Traffic grew.\n\nNothing here mentions it.\n"


def test_materialise_writes_derived_texts_once_and_rebuilds_on_change(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("Kept as it is.\n")
    (plain / "b.txt").write_text("The original.\n")

    def archive(text: str) -> Archive:
        derived = Source("x", Path("arch/derived"), texts=(("b.txt", text),))
        return Archive("arch", (Source("x", plain, exclude=frozenset({"b.txt"})), derived), ())

    root = tmp_path / "cache"
    folder = materialise(archive("Cut.\n"), root)
    assert (folder / "x/a.txt").read_text() == "Kept as it is.\n"
    assert (folder / "x/b.txt").read_text() == "Cut.\n"
    written = (root / "arch/derived/b.txt").stat().st_mtime_ns
    listing = (root / "arch/articles.json").read_text()
    materialise(archive("Cut.\n"), root)  # the same derivation: nothing rewritten
    assert (root / "arch/derived/b.txt").stat().st_mtime_ns == written
    assert (root / "arch/articles.json").read_text() == listing
    materialise(archive("Cut differently.\n"), root)
    assert (folder / "x/b.txt").read_text() == "Cut differently.\n"


@needs_xquad
def test_answer_removed_sets() -> None:
    """No chosen question's answer is left in its modified article, every control's answer is,
    the same questions are chosen in both languages, and there are enough of them."""
    by_name = {a.name: a for a in archives(ROOT, SHARED)}
    held = set(reader_split(SHARED).held_out)
    english = load_questions(XQUAD / "questions-en-corpus.jsonl")
    german = load_questions(XQUAD / "questions-de-corpus.jsonl")
    gold = {q.id: q.gold for q in english + german}
    unanswerable_ids: dict[str, set[str]] = {}
    total = 0
    for name, language in (("answer-removed-de", "de"), ("answer-removed-en", "en")):
        archive = by_name[name]
        plain, derived = archive.sources
        texts = dict(derived.texts)
        assert set(texts) == held == plain.exclude
        for question_set in archive.question_sets:
            unanswerable = [q for q in question_set.questions if not q.answerable]
            controls = [q for q in question_set.questions if q.answerable]
            print(
                f"{name} {question_set.name}: {len(unanswerable)} unanswerable, "
                f"{len(controls)} answerable controls"
            )
            total += len(unanswerable)
            for q in unanswerable:
                (answer,) = gold[q.id]
                assert answer.doc in held
                assert folded(answer.quote) not in folded(texts[answer.doc]), q.id
            for q in controls:
                (answer,) = q.gold
                doc = answer.doc.split("/", 1)[1]
                assert doc in held and folded(answer.quote) in folded(texts[doc]), q.id
            base = {
                q.id.removesuffix(f"-{q.lang}") if language == "de" else q.id for q in unanswerable
            }
            unanswerable_ids[f"{name} {question_set.name}"] = base
    assert len(set(map(frozenset, unanswerable_ids.values()))) == 1  # one choice for all sets
    print(f"unanswerable in all: {total}")
    assert total >= 150
