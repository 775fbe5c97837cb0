"""Plain-text answers: quotes in „…“ with one compact citation line each."""

from __future__ import annotations

import pytest

from retrieval.model import Answer, Quote
from retrieval.render import NOT_ANSWERED, citation, render_plain, shorten

SECTION = "Moskaus Zurückhaltung gegenüber dem US-Waffenstillstandsvorschlag"


def make_quote(text: str = "Dabei deutete er Bedingungen an.", **fields) -> Quote:
    values = {
        "article": "001_d3691be0234ce99a.txt",
        "title": "Titel",
        "date": "2025-03",
        "section": SECTION,
        "paragraph": 7,
        "start": 10,
        "end": 40,
        "score": 0.83,
    }
    values.update(fields)
    return Quote(text, **values)


def test_citation_is_compact_and_shortens_long_sections() -> None:
    assert citation(make_quote()) == (
        '001_d3691be0234ce99a.txt, 2025-03, ¶7 "Moskaus Zurückhaltung…"'
    )
    assert citation(make_quote(date=None, section=None)) == "001_d3691be0234ce99a.txt, ¶7"
    assert citation(make_quote(section="Der Ball liegt bei Russland")).endswith(
        '"Der Ball liegt bei Russland"'
    )


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("Kurz", "Kurz"),
        ("Differenzen zwischen Russland und der Ukraine", "Differenzen zwischen Russland…"),
        ("A" * 45, "A" * 30 + "…"),
    ],
)
def test_shorten(text: str, short: str) -> None:
    assert shorten(text) == short


def test_answer_lists_numbered_quotes_in_german_quotation_marks() -> None:
    answer = Answer("q", True, (make_quote("Erstens."), make_quote("Zweitens.", paragraph=8)), "en")
    assert render_plain(answer).splitlines() == [
        '[1] „Erstens.“ — 001_d3691be0234ce99a.txt, 2025-03, ¶7 "Moskaus Zurückhaltung…"',
        '[2] „Zweitens.“ — 001_d3691be0234ce99a.txt, 2025-03, ¶8 "Moskaus Zurückhaltung…"',
    ]


@pytest.mark.parametrize("language", ["en", "de"])
def test_not_answered_speaks_the_questions_language_and_points_to_sources(language: str) -> None:
    text = render_plain(Answer("q", False, (), language))
    assert text == NOT_ANSWERED[language]
    assert "/sources" in text


def test_unknown_language_falls_back_to_english() -> None:
    assert render_plain(Answer("q", False, (), "fr")) == NOT_ANSWERED["en"]
