"""Cleaning: every layout rule checked on the real, deliberately messy sample articles."""

from __future__ import annotations

import textwrap
from itertools import pairwise

import pytest

from index.cleaning import parse_article, split_sentences
from index.documents import ParsedArticle
from index.verbatim import check_verbatim, collapse_whitespace
from tests.conftest import SAMPLE_ARTICLES, SHARED

ARTICLES = SAMPLE_ARTICLES
FILES = sorted(path.name for path in ARTICLES.glob("*.txt"))


def read(name: str) -> str:
    return (ARTICLES / name).read_text(encoding="utf-8")


def parse(name: str) -> ParsedArticle:
    return parse_article(read(name), name)


def file_named(prefix: str) -> str:
    return next(name for name in FILES if name.startswith(prefix))


def all_sentences(article: ParsedArticle) -> list[str]:
    return [s.text for p in article.paragraphs for s in p.sentences]


def assert_verbatim(raw: str, article: ParsedArticle) -> None:
    for paragraph in article.paragraphs:
        assert paragraph.sentences
        for s in paragraph.sentences:
            check_verbatim(raw, s.start, s.end, s.text)
            assert s.text == collapse_whitespace(raw[s.start : s.end])
            assert not raw[s.start].isspace() and not raw[s.end - 1].isspace()


def test_there_are_five_sample_articles():
    assert len(FILES) == 5


@pytest.mark.parametrize("name", FILES)
def test_offsets_round_trip(name: str):
    assert_verbatim(read(name), parse(name))


@pytest.mark.parametrize("name", FILES)
def test_sentences_are_in_order_and_do_not_overlap(name: str):
    sentences = [s for p in parse(name).paragraphs for s in p.sentences]
    for before, after in pairwise(sentences):
        assert before.end <= after.start


@pytest.mark.parametrize(
    ("prefix", "paragraphs", "sections"),
    [("000", 16, 6), ("001", 19, 3), ("002", 13, 4), ("003", 5, 0), ("004", 11, 2)],
)
def test_paragraph_and_section_counts(prefix: str, paragraphs: int, sections: int):
    article = parse(file_named(prefix))
    assert [p.number for p in article.paragraphs] == list(range(1, paragraphs + 1))
    assert len(article.sections) == sections


@pytest.mark.parametrize(
    ("prefix", "title"),
    [
        (
            "000",
            "Eine hochrangige US-Delegation ist auf dem Weg nach Moskau, um Verhandlungen über "
            "einen möglichen Waffenstillstand in…",
        ),
        (
            "001",
            "US-Präsident Donald Trump und Russlands Präsident Wladimir Putin werden am Dienstag "
            "ein Telefongespräch führen, um…",
        ),
        (
            "002",
            "US-Präsident Donald Trump hat sich nach getrennten Gesprächen mit dem russischen "
            "Staatsoberhaupt Wladimir Putin und…",
        ),
        ("003", "Trump initiiert neuen Anlauf zur Konfliktlösung zwischen Russland und Ukraine"),
        (
            "004",
            "Die Außenminister der USA und Russlands haben nach Angaben aus Washington über das "
            "weitere Vorgehen bei den Gesprächen…",
        ),
    ],
)
def test_titles(prefix: str, title: str):
    assert parse(file_named(prefix)).title == title
    assert len(title) <= 120


def test_heading_at_the_top_is_the_title_not_a_section():
    article = parse(file_named("003"))
    assert article.sections == ()
    assert {p.section for p in article.paragraphs} == {None}
    assert not article.paragraphs[0].text.startswith("Trump initiiert")


def test_inline_date_prefix_is_metadata():
    article = parse(file_named("004"))
    assert article.date == "2025-03"
    assert article.paragraphs[0].text.startswith("Die Außenminister")
    for name in FILES:
        assert not any(p.text.lower().startswith("date") for p in parse(name).paragraphs)


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003"])
def test_no_date_means_none(prefix: str):
    assert parse(file_named(prefix)).date is None


def test_artifact_line_is_dropped():
    article = parse(file_named("001"))
    assert article.paragraphs[-1].text.endswith("nicht auf dem Tisch liege.")
    for name in FILES:
        assert "MAB" not in [p.text for p in parse(name).paragraphs]


def test_compound_hyphen_across_blank_lines_is_joined():
    article = parse(file_named("001"))
    matches = [p for p in article.paragraphs if "NATO-Mitgliedschaft verzichte" in p.text]
    assert len(matches) == 1
    assert matches[0].text.startswith("Russland hat stets weitreichende Forderungen")


def test_split_word_across_blank_line_is_joined():
    raw = "Die Verhand-\n\nlungen laufen. Die NATO-\n\nMitgliedschaft bleibt offen."
    article = parse_article(raw, "synthetic.txt")
    assert all_sentences(article) == [
        "Die Verhandlungen laufen.",
        "Die NATO-Mitgliedschaft bleibt offen.",
    ]
    assert_verbatim(raw, article)


def test_headings_of_the_single_newline_file():
    article = parse(file_named("000"))
    assert article.sections == (
        "Trump und Putin: Ein mögliches Gespräch?",
        "Wer leitet die Moskauer Gespräche?",
        "Putins Besuch in Kursk: Eine Machtdemonstration?",
        "Ukraines strategischer Rückzug",
        "Trumps Druckmittel gegenüber Russland",
        "Was kommt als Nächstes?",
    )
    witkoff = next(p for p in article.paragraphs if "Steve Witkoff" in p.text)
    assert witkoff.section == "Wer leitet die Moskauer Gespräche?"
    assert article.paragraphs[0].section is None


def test_quote_intro_ending_in_colon_is_content():
    article = parse(file_named("000"))
    assert (
        "In einem Beitrag auf Telegram schrieb er: „In den schwierigsten Situationen bleibt "
        "meine Priorität, das Leben ukrainischer Soldaten zu retten.“"
    ) in all_sentences(article)


def test_list_items_are_one_paragraph_with_their_intro():
    article = parse(file_named("000"))
    listing = next(p for p in article.paragraphs if p.text.startswith("Angesichts"))
    assert listing.section == "Was kommt als Nächstes?"
    assert [s.text for s in listing.sentences[1:]] == [
        "Wird Russland den von den USA unterstützten Waffenstillstand akzeptieren?",
        "Kann die Ukraine eine langfristige Sicherheitsgarantie erreichen?",
        "Wird Trump Finanzsanktionen verhängen, um Moskau unter Druck zu setzen?",
    ]


@pytest.mark.parametrize("name", FILES)
def test_sections_are_short_and_never_list_items(name: str):
    for section in parse(name).sections:
        assert len(section.split()) <= 12
        assert not section.startswith("-")


def test_ordinal_date_is_not_a_sentence_end():
    sentences = all_sentences(parse(file_named("001")))
    assert any(s.startswith("Am 17. März skizzierte Präsident Trump") for s in sentences)
    assert "Am 17." not in sentences


@pytest.mark.parametrize(
    "text",
    [
        "Im Laufe des 18. und 19. Jahrhunderts zogen viele nach Westen.",
        "Die 2., 3. und 4. Zeitachse sind gleich lang.",
    ],
)
def test_an_ordinal_inside_a_sentence_starts_no_sentence(text: str):
    # pysbd alone reads "18." after a space as a numbered list item and cuts the sentence there
    assert [text[a:b] for a, b in split_sentences(text, "de")] == [text]


def test_an_ordinal_after_a_sentence_end_stays_with_its_sentence():
    text = "Das Team wurde 2. in der Tabelle. Dann kam der 3. Platz."
    assert [text[a:b] for a, b in split_sentences(text, "de")] == [
        "Das Team wurde 2. in der Tabelle.",
        "Dann kam der 3. Platz.",
    ]


def test_a_numbered_item_after_a_finished_sentence_still_starts_one():
    text = "Die Punkte lauten: 1. Waffenruhe. 2. Austausch der Gefangenen."
    assert [text[a:b] for a, b in split_sentences(text, "de")] == [
        "Die Punkte lauten:",
        "1. Waffenruhe.",
        "2. Austausch der Gefangenen.",
    ]


def test_quote_with_a_period_inside_stays_one_sentence():
    sentences = all_sentences(parse(file_named("001")))
    assert "„Wir werden über Land sprechen. Wir werden über Kraftwerke sprechen“, sagte er." in (
        sentences
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("date: 2025-03-17\n", "2025-03-17"),
        ("Datum: 17.03.2025\n", "2025-03-17"),
        ("Date: 2025-03\n", "2025-03"),
        ("DATUM: 17. März 2025\n", "2025-03-17"),
        ("Date: March 17, 2025\n", "2025-03-17"),
        ("date: 2025-03-17T09:30:00Z\n", "2025-03-17"),
        ("Datum: 17.03.2025, 14:30 Uhr\n", "2025-03-17T14:30"),  # the time is kept
        ("2025-03-17\n", "2025-03-17"),
        ("Überschrift\nDatum: 17.03.2025\n", "2025-03-17"),
        ("Datum: 31.02.2025\n", None),
        ("", None),
    ],
)
def test_date_lines(header: str, expected: str | None):
    raw = header + "Die Ukraine stimmte zu. Russland zögert."
    article = parse_article(raw, "synthetic.txt")
    assert article.date == expected
    if expected:
        assert not any("2025" in s for s in all_sentences(article))
    assert_verbatim(raw, article)


def test_inline_date_prefix_keeps_offsets():
    raw = " date 2025-03-17 Die Ukraine stimmte zu."
    article = parse_article(raw, "synthetic.txt")
    assert article.date == "2025-03-17"
    assert all_sentences(article) == ["Die Ukraine stimmte zu."]
    assert article.paragraphs[0].start == raw.index("Die")


def test_crlf_and_bom_parse_like_the_original():
    name = file_named("001")
    original = parse(name)
    raw = "\ufeff" + read(name).replace("\n", "\r\n")
    converted = parse_article(raw, name)
    assert [p.text for p in converted.paragraphs] == [p.text for p in original.paragraphs]
    assert converted.sections == original.sections
    assert converted.title == original.title
    assert_verbatim(raw, converted)


def test_tabs_and_stray_spaces_collapse():
    raw = "\tErster\t Satz  hier.\t\n\n   Zweiter   Absatz.   "
    article = parse_article(raw, "synthetic.txt")
    assert [p.text for p in article.paragraphs] == ["Erster Satz hier.", "Zweiter Absatz."]
    assert_verbatim(raw, article)


@pytest.mark.parametrize("raw", ["", "   ", "\n\n\t\r\n", "\ufeff", "MAB"])
def test_empty_text_has_no_paragraphs(raw: str):
    article = parse_article(raw, "empty.txt")
    assert article.paragraphs == ()
    assert article.title is None
    assert article.date is None


def test_text_without_headings():
    raw = "Nur ein Absatz. Mit zwei Sätzen."
    article = parse_article(raw, "plain.txt")
    assert article.sections == ()
    assert article.title == "Nur ein Absatz."
    assert article.paragraphs[0].section is None


def test_huge_line_without_punctuation_finishes_verbatim():
    raw = "wort " * 40_000
    article = parse_article(raw, "huge.txt")
    assert_verbatim(raw, article)
    sentences = [s for p in article.paragraphs for s in p.sentences]
    assert len(sentences) > 1
    assert sentences[0].start == 0
    assert sentences[-1].end == len(raw.rstrip())


def test_parse_is_pure():
    name = file_named("000")
    assert parse(name) == parse(name)


def test_split_sentences_spans_exclude_whitespace():
    text = "  Am 17. März sprach er.  „Das ist gut.“ Dann ging er.\n"
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "Am 17. März sprach er.",
        "„Das ist gut.“",
        "Dann ging er.",
    ]


MARKDOWN_ARTICLE = """---
title: "Waffenruhe: ein Test"
date: 2025-03-18
---

# Waffenruhe in Sicht

Der **Kreml** hat am Dienstag erklärt, dass er den Vorschlag prüft. Weitere Details folgen

## Reaktionen aus Kiew ##

Selenskyj begrüßte die Gespräche.
"""


def test_markdown_front_matter_and_headings() -> None:
    article = parse_article(MARKDOWN_ARTICLE, "x.md")

    assert article.title == "Waffenruhe: ein Test"
    assert article.date == "2025-03-18"
    assert article.sections == ("Reaktionen aus Kiew",)
    first, second = article.paragraphs
    assert first.section is None and first.text.startswith("Der **Kreml**")
    assert first.text.endswith("Weitere Details folgen")  # the heading below ends it
    assert second.section == "Reaktionen aus Kiew"
    for paragraph in article.paragraphs:
        for sentence in paragraph.sentences:
            check_verbatim(MARKDOWN_ARTICLE, sentence.start, sentence.end, sentence.text)


def test_a_lone_rule_line_is_not_front_matter() -> None:
    article = parse_article("---\nEin Satz ohne Ende des Blocks.\n", "x.md")
    assert article.title == "Ein Satz ohne Ende des Blocks."


# --- each article in its own language ---------------------------------------------------------

XQUAD = SHARED / "xquad"
needs_xquad = pytest.mark.skipif(not XQUAD.is_dir(), reason="../shared/xquad is not there")


def test_english_article_is_split_by_english_rules() -> None:
    raw = (
        "The talks began on Jan. 5. He said they went well.\n\n"
        "Mr. Smith met Dr. Jones in the U.S. on Monday, the officials said. They agreed."
    )
    article = parse_article(raw, "en.txt")
    assert article.language == "en"
    assert all_sentences(article) == [
        "The talks began on Jan. 5.",
        "He said they went well.",
        "Mr. Smith met Dr. Jones in the U.S. on Monday, the officials said.",
        "They agreed.",
    ]
    assert_verbatim(raw, article)


def test_german_article_keeps_german_rules() -> None:
    raw = "Am 17. März sprach er mit Vertretern der Regierung. Dann reiste er z. B. nach Kiew."
    article = parse_article(raw, "de.txt")
    assert article.language == "de"
    assert all_sentences(article) == [
        "Am 17. März sprach er mit Vertretern der Regierung.",
        "Dann reiste er z. B. nach Kiew.",
    ]


@pytest.mark.parametrize("name", FILES)
def test_sample_articles_are_german(name: str) -> None:
    assert parse(name).language == "de"


@needs_xquad
@pytest.mark.parametrize("language", ["en", "de"])
def test_xquad_articles_in_their_language_verbatim_and_without_headings(language: str) -> None:
    for path in sorted((XQUAD / f"articles-{language}").glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        article = parse_article(raw, path.name)
        assert article.language == language, path.name
        assert article.sections == (), path.name  # xquad has no headings at all
        assert_verbatim(raw, article)


def test_a_language_pysbd_does_not_know_is_split_with_english_rules() -> None:
    raw = "O governo anunciou na terça-feira uma nova reforma. A oposição rejeitou a proposta."
    article = parse_article(raw, "pt.txt")
    assert article.language == "pt"
    assert len(all_sentences(article)) == 2


# --- bylines, captions and wrapped lines are not headings --------------------------------------

ENGLISH_NEWS = """Storm floods coastal towns in northern England
By Jane Doe and Tom Black, Associated Press

Heavy rain flooded dozens of coastal towns on Tuesday, forcing hundreds of residents to leave \
their homes. The Environment Agency issued 40 flood warnings.

Residents wade through a flooded street in Hull on Tuesday (AP Photo/Jon Super)

Rescue teams used boats to reach elderly people trapped in their houses, a spokesman said.

Cleanup could take weeks

Local officials said the damage would cost millions of pounds.

Photo: Reuters

The government promised emergency funding on Wednesday.
"""

GERMAN_NEWS = """Hochwasser in Norddeutschland
Von Anna Müller, Hamburg
Starker Regen hat am Dienstag zahlreiche Orte an der Küste überflutet. Hunderte Menschen \
mussten ihre Häuser verlassen.
Einsatzkräfte in Husum am Dienstag Foto: Marcus Brandt/dpa
Die Feuerwehr rettete mit Booten ältere Menschen aus ihren Häusern, sagte ein Sprecher.
Aufräumen kann Wochen dauern
Die Schäden gehen nach Angaben der Behörden in die Millionen.
"""


@pytest.mark.parametrize(
    ("raw", "title", "byline", "caption", "section"),
    [
        (
            ENGLISH_NEWS,
            "Storm floods coastal towns in northern England",
            "By Jane Doe and Tom Black, Associated Press",
            "Residents wade through a flooded street in Hull on Tuesday (AP Photo/Jon Super)",
            "Cleanup could take weeks",
        ),
        (
            GERMAN_NEWS,
            "Hochwasser in Norddeutschland",
            "Von Anna Müller, Hamburg",
            "Einsatzkräfte in Husum am Dienstag Foto: Marcus Brandt/dpa",
            "Aufräumen kann Wochen dauern",
        ),
    ],
)
def test_byline_and_caption_are_paragraphs_of_their_own_not_sections(
    raw: str, title: str, byline: str, caption: str, section: str
) -> None:
    article = parse_article(raw, "news.txt")
    assert article.title == title
    assert article.sections == (section,)
    texts = [p.text for p in article.paragraphs]
    assert texts[0] == byline and caption in texts
    assert all(p.section in (None, section) for p in article.paragraphs)
    assert article.paragraphs[-1].section == section
    assert_verbatim(raw, article)


def test_a_credit_line_is_never_a_heading() -> None:
    article = parse_article(ENGLISH_NEWS, "storm.txt")
    credit = next(p for p in article.paragraphs if p.text == "Photo: Reuters")
    assert credit.section == "Cleanup could take weeks"  # it stays under the real heading
    assert "Photo: Reuters" not in article.sections


def test_a_source_named_inside_body_text_is_no_caption() -> None:
    raw = (
        "Nach den Zahlen vom Montag (Quelle: Statistisches Bundesamt) stiegen die Preise im\n"
        "März für Lebensmittel und Energie um fünf\n"
        "Prozent. Die Zahlen sind vorläufig.\n"
    )
    article = parse_article(raw, "preise.txt")
    assert [p.text for p in article.paragraphs] == [collapse_whitespace(raw)]


def test_markdown_heading_right_after_the_title_is_a_section() -> None:
    raw = "# Storm floods towns\n\n## Background\n\nHeavy rain flooded the towns on Tuesday.\n"
    article = parse_article(raw, "x.md")
    assert article.title == "Storm floods towns"
    assert article.sections == ("Background",)


def test_a_short_wrapped_line_in_a_blank_line_file_is_no_heading() -> None:
    raw = (
        "Oxygen is used in medicine. Doctors rely on it every day.\n\n"
        "Hyperbaric medicine uses special chambers to increase the partial pressure of O\n"
        "2 around the patient and, when needed, the medical staff.\n\n"
        "Carbon monoxide poisoning is treated this way. It works well.\n"
    )
    article = parse_article(raw, "oxygen.txt")
    assert article.sections == ()
    assert len(article.paragraphs) == 3
    assert article.paragraphs[1].text.startswith("Hyperbaric medicine")
    assert article.paragraphs[1].text.endswith("the medical staff.")


def test_a_blank_line_ends_a_paragraph_without_final_punctuation() -> None:
    raw = (
        "Physicists have long asked how the forces unite. Many answers were proposed.\n\n"
        "One approach to answering the question of how the forces unite is string theory.:212–219"
        "\n\n"
        "The national boards of examination for such schools in India are the CBSE and the "
        "CISCE, NENBSE\n\n"
        "Some of these schools were shut down, although some continue to operate.[citation "
        "needed]\n\n"
        "The force also depends on the magnetic field. Fully stated, this is the law:\n\n"
        "Force equals mass times acceleration.\n"
    )
    article = parse_article(raw, "force.txt")
    assert [collapse_whitespace(raw[p.start : p.end]) for p in article.paragraphs][1:] == [
        "One approach to answering the question of how the forces unite is string theory.:212–219",
        "The national boards of examination for such schools in India are the CBSE and the "
        "CISCE, NENBSE",
        "Some of these schools were shut down, although some continue to operate.[citation needed]",
        "The force also depends on the magnetic field. Fully stated, this is the law: Force "
        "equals mass times acceleration.",
    ]


@pytest.mark.parametrize("line", ["It is string theory.:212–219", "Some operate.[citation needed]"])
def test_a_sentence_with_reference_marks_is_no_heading(line: str) -> None:
    raw = f"{line}\n\nThe next paragraph follows here. It has two sentences.\n"
    article = parse_article(raw, "refs.txt")
    assert article.sections == () and article.title != line
    first = article.paragraphs[0]
    assert raw[first.start : first.end] == line


@needs_xquad
@pytest.mark.parametrize("width", [60, 72, 100])
def test_hard_wrapped_articles_keep_their_paragraphs_and_get_no_headings(width: int) -> None:
    """The same xquad articles wrapped at a fixed width: every wrapped line is short in
    words and German ones go on with a capital letter, yet none is a heading."""
    for language in ("de", "en"):
        for path in sorted((XQUAD / f"articles-{language}").glob("*.txt")):
            raw = path.read_text(encoding="utf-8")
            paragraphs = [p for p in raw.split("\n\n") if p.strip()]
            # Not at hyphens: whether "nicht-" / "tertiäre" is one word is verbatim's guess.
            wrapped = "\n\n".join(
                textwrap.fill(p, width, break_on_hyphens=False) for p in paragraphs
            )
            article, unwrapped = parse_article(wrapped, path.name), parse_article(raw, path.name)
            assert article.sections == (), path.name
            assert len(article.paragraphs) == len(unwrapped.paragraphs), path.name
            assert article.title == unwrapped.title, path.name
            assert_verbatim(wrapped, article)


def test_a_dash_that_opens_a_wrapped_line_is_no_list_item() -> None:
    raw = (
        "Das bedeutet, dass - obwohl der Rat die Institution zur Vertretung der Staaten\n"
        "darstellt - im Parlament kleinere Staaten mehr Gewicht haben als größere Staaten.\n"
        "Die Liste der Forderungen ist lang und wird jeden Tag länger, sagte er:\n"
        "- erstens ein Waffenstillstand\n"
        "- zweitens Verhandlungen\n"
    )
    sentences = all_sentences(parse_article(raw, "dash.txt"))
    assert sentences[0].endswith("als größere Staaten.") and "darstellt - im" in sentences[0]
    assert sentences[-2:] == ["erstens ein Waffenstillstand", "zweitens Verhandlungen"]
