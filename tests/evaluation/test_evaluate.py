"""`newsbot eval` scoring and report, and the extra development questions themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.scoring import (
    Gold,
    evaluate,
    evaluate_file,
    format_report,
    hit_rank,
    load_questions,
)
from retrieval.answer import Answer, Quote
from retrieval.reply_language import detect_language
from tests.conftest import ROOT, SAMPLE_ARTICLES

EXTRA_DEV = ROOT / "evaluation" / "data" / "extra_dev.jsonl"


def quote(text: str, article: str = "a.txt") -> Quote:
    return Quote(text, article, None, None, None, 1, 0, len(text), 0.8)


def test_hit_rank_is_whitespace_insensitive_and_needs_the_gold_article() -> None:
    gold = [Gold("a.txt", "30-tägige\nWaffenruhe")]
    answer = Answer(
        "q",
        True,
        (quote("Die 30-tägige Waffenruhe", "b.txt"), quote("eine 30-tägige   Waffenruhe mit")),
        "de",
    )
    assert hit_rank(answer, gold) == 2
    assert hit_rank(Answer("q", False, (), "de"), gold) is None


class Canned:
    """Answers from a table, with a fixed timing."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str | None]] = []

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        self.calls.append((question, context))
        return self.answers[question]


def write(path: Path, *items: dict) -> Path:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items))
    return path


def test_metrics_per_language_and_report(tmp_path: Path) -> None:
    gold = [{"doc": "a.txt", "quote": "Krywyj Rih"}]
    path = write(
        tmp_path / "gold.jsonl",
        {"id": "1", "lang": "en", "question": "hit first", "answerable": True, "gold": gold},
        {"id": "2", "lang": "en", "question": "hit third", "answerable": True, "gold": gold},
        {"id": "3", "lang": "de", "question": "abstained", "answerable": True, "gold": gold},
        {"id": "4", "lang": "de", "question": "off topic", "answerable": False, "gold": []},
        {
            "id": "5",
            "lang": "en",
            "question": "and?",
            "context": "hit first",
            "answerable": False,
            "gold": [],
        },
    )
    timing = {"embed": 10.0, "search": 1.0, "total": 12.0}
    hit = quote("trafen Krywyj Rih und Odessa")
    miss = quote("nichts")
    answerer = Canned(
        {
            "hit first": Answer("hit first", True, (hit,), "en", timing),
            "hit third": Answer("hit third", True, (miss, miss, hit), "en", timing),
            "abstained": Answer("abstained", False, (), "de", timing, strength=0.5),
            "off topic": Answer("off topic", False, (), "de", timing, strength=0.1),
            "and?": Answer("and?", True, (miss,), "en", timing, strength=3.0),
        }
    )
    report = evaluate_file(answerer, path)
    assert ("and?", "hit first") in answerer.calls  # the follow-up got its context
    en, de, everything = (report["metrics"][k] for k in ("en", "de", "all"))
    assert (en["hit@1"], en["hit@3"], en["mrr"]) == (0.5, 1.0, round((1 + 1 / 3) / 2, 4))
    assert en["abstained_unanswerable"] == 0.0
    assert (de["hit@3"], de["abstained_answerable"], de["abstained_unanswerable"]) == (0, 1, 1)
    assert everything["questions"] == 5 and everything["answerable"] == 3
    # the mean over all quotes shown, and over the first quote of each answer
    assert en["quote_chars"] == round((len(hit.text) * 2 + len(miss.text) * 2) / 4, 1)
    assert en["first_quote_chars"] == round((len(hit.text) + len(miss.text)) / 2, 1)
    assert de["first_quote_chars"] is None  # nothing shown
    # "hit third" shows the same quote twice: one of the three English answers shown
    assert (en["repeated_quotes"], de["repeated_quotes"]) == (round(1 / 3, 4), None)
    assert everything["latency_ms"] == {"p50": 12.0, "p95": 12.0, "embed_p50": 10.0}
    json.dumps(report)  # --json prints it as it is

    text = format_report(report)
    lines = text.splitlines()
    assert lines[1].split()[:6] == ["lang", "n", "ans", "hit@1", "hit@3", "MRR"]
    assert any(line.startswith("all    5   3") for line in lines)
    assert "3: abstained (strength 0.5)" in text
    assert "5: answered (strength 3.0)" in text


def test_warm_up_runs_before_the_clock(tmp_path: Path) -> None:
    events = []

    class Warm(Canned):
        def warm_up(self) -> None:
            events.append("warm")

        def answer(self, question: str, **kwargs) -> Answer:
            events.append("answer")
            return Answer(question, False, (), "en")

    path = write(tmp_path / "g.jsonl", {"question": "x", "answerable": False, "gold": []})
    evaluate(Warm({}), load_questions(path))
    assert events == ["warm", "answer"]


def test_a_broken_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "ok", "answerable": false}\n{"answerable": true}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        load_questions(path)


def test_extra_dev_questions_are_well_formed() -> None:
    questions = load_questions(EXTRA_DEV)
    assert len(questions) >= 30
    assert len({q.id for q in questions}) == len(questions)
    assert {q.lang for q in questions} == {"en", "de"}
    assert sum(not q.answerable for q in questions) >= 10
    assert sum(q.context is not None for q in questions) >= 5
    for q in questions:
        assert detect_language(q.question) == q.lang, q.id
        assert q.answerable == bool(q.gold), q.id
        for gold in q.gold:
            article = (SAMPLE_ARTICLES / gold.doc).read_text(encoding="utf-8")
            assert gold.quote in article, (q.id, gold.quote)
