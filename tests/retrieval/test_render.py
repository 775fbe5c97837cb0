"""Plain-text answers: quotes in „…“ with one citation line each that a reader can use."""

from __future__ import annotations

import pytest

from retrieval.answer import Answer, Quote, Source
from retrieval.render import (
    NOT_ANSWERED,
    citation,
    focus_span,
    not_answered,
    render_plain,
    shorten,
)

SECTION = "Moskaus Zurückhaltung gegenüber dem US-Waffenstillstandsvorschlag"


def make_quote(text: str = "Dabei deutete er Bedingungen an.", **fields) -> Quote:
    values = {
        "article": "001_d3691be0234ce99a.txt",
        "title": "Moskau lässt Washington warten",
        "date": "2025-03",
        "section": SECTION,
        "paragraph": 7,
        "start": 10,
        "end": 40,
        "score": 0.83,
    }
    values.update(fields)
    return Quote(text, **values)


def test_citation_names_the_article_by_title_and_date() -> None:
    assert citation(make_quote(section=None)) == "Moskau lässt Washington warten, 2025-03, ¶7"
    untitled = make_quote(title=None, date=None, section=None)
    assert citation(untitled) == "001_d3691be0234ce99a.txt, ¶7"  # the file only as a fallback
    assert citation(make_quote(title="  ", section=None)).startswith("001_d3691be0234ce99a.txt")


def test_citation_shortens_long_sections_on_a_word_boundary() -> None:
    assert citation(make_quote()).endswith(', ¶7, "Moskaus Zurückhaltung gegenüber dem…"')
    assert citation(make_quote(section="Der Ball liegt bei Russland")).endswith(
        ', ¶7, "Der Ball liegt bei Russland"'
    )


def test_a_quote_spanning_paragraphs_cites_the_range() -> None:
    assert ", ¶5–7, " in citation(make_quote(paragraph=5, paragraph_end=7))
    assert ", ¶5, " in citation(make_quote(paragraph=5, paragraph_end=5))
    assert ", ¶5, " in citation(make_quote(paragraph=5, paragraph_end=None))


def test_json_keeps_the_contract_fields_and_adds_range_and_focus() -> None:
    old = make_quote().to_json()
    assert list(old)[:9] == [
        *("text", "article", "title", "date", "section", "paragraph", "start", "end", "score")
    ]
    assert old["paragraph_end"] == 7 and old["focus"] is None
    new = make_quote(paragraph=5, paragraph_end=7, focus=(6, 15)).to_json()
    assert new["paragraph"] == 5 and new["paragraph_end"] == 7 and new["focus"] == [6, 15]


def test_focus_span_ignores_empty_whole_or_out_of_range_spans() -> None:
    text = "Erstens. Zweitens."
    assert focus_span(make_quote(text, focus=(9, 18))) == (9, 18)
    assert focus_span(make_quote(text, focus=(9, 99))) == (9, 18)
    assert focus_span(make_quote(text, focus=(0, 18))) is None  # bold on everything says nothing
    assert focus_span(make_quote(text, focus=(5, 5))) is None
    assert focus_span(make_quote(text)) is None


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("Kurz", "Kurz"),
        (
            "Differenzen zwischen Russland und der Ukraine über den Weg zu einer Waffenruhe",
            "Differenzen zwischen Russland und der Ukraine über den Weg…",
        ),
        ("A" * 75, "A" * 60 + "…"),
        ("Zeilen\n  umbruch", "Zeilen umbruch"),
    ],
)
def test_shorten(text: str, short: str) -> None:
    assert shorten(text) == short


def test_answer_lists_numbered_quotes_in_german_quotation_marks() -> None:
    answer = Answer("q", True, (make_quote("Erstens."), make_quote("Zweitens.", paragraph=8)), "en")
    section = '"Moskaus Zurückhaltung gegenüber dem…"'
    assert render_plain(answer).splitlines() == [
        f"[1] „Erstens.“ — Moskau lässt Washington warten, 2025-03, ¶7, {section}",
        f"[2] „Zweitens.“ — Moskau lässt Washington warten, 2025-03, ¶8, {section}",
    ]


@pytest.mark.parametrize("language", ["en", "de"])
def test_not_answered_in_the_cli_speaks_the_questions_language_without_sources(
    language: str,
) -> None:
    """`newsbot ask` has no /sources, so it doesn't point to it; the bot and chat do."""
    text = render_plain(Answer("q", False, (), language))
    assert text == NOT_ANSWERED[language]
    assert "/sources" not in text
    assert not_answered(language, sources_hint=True).startswith(text)
    assert "/sources" in not_answered(language, sources_hint=True)


def test_unknown_language_falls_back_to_english() -> None:
    assert render_plain(Answer("q", False, (), "fr")) == NOT_ANSWERED["en"]


def test_a_quote_other_articles_repeat_cites_them_after_its_own_source() -> None:
    update = Source("update.txt", "Moskau lässt Washington weiter warten", "2025-03-14", 6)
    copy = Source("copy.txt", None, None, 7)
    quote = make_quote(section=None, also_in=(update, copy))
    assert citation(quote) == (
        "Moskau lässt Washington warten, 2025-03, ¶7 "
        "(also in: Moskau lässt Washington weiter warten, 2025-03-14; +1 more)"
    )
    assert citation(quote, "de").endswith(
        "(auch in: Moskau lässt Washington weiter warten, 2025-03-14; +1 weitere)"
    )
    # a copy under another file name with the same title and date is named by its file
    same = Source("copy.txt", "Moskau lässt Washington warten", "2025-03", 7)
    assert citation(make_quote(section=None, also_in=(same,))).endswith(
        "(also in: copy.txt, 2025-03)"
    )
    assert "also in" not in citation(make_quote())
    assert make_quote(also_in=(copy,)).to_json()["also_in"] == [
        {"article": "copy.txt", "title": None, "date": None, "paragraph": 7}
    ]


def test_an_answer_on_a_covered_story_says_so_and_shows_the_nearest_quotes_as_context() -> None:
    from retrieval.answer import Answer, Quote
    from retrieval.render import render_plain, render_unanswered

    near = Quote("Der Zoo öffnet um neun Uhr.", "zoo.txt", "Der Zoo", None, None, 2, 0, 27, 0.8)
    answer = Answer("Wer leitet den Zoo?", False, (), "de", nearest=(near,))
    text = render_plain(answer)
    first, header, quote = text.splitlines()[:3]
    assert first == "Die Artikel berichten über „Der Zoo“, sagen aber nicht, was du gefragt hast."
    assert header.startswith("Die nächsten Stellen, als Kontext")
    assert "Der Zoo öffnet um neun Uhr." in quote and quote.startswith("[1]")
    # nothing covered: the plain statement, with the /sources hint where asked for
    bare = Answer("Wer leitet den Zoo?", False, (), "de")
    assert render_unanswered(bare) == "Die Artikel beantworten diese Frage nicht."
    assert "/sources" in render_unanswered(bare, sources_hint=True)
    assert "/sources" not in render_unanswered(answer, sources_hint=True)
