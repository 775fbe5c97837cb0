"""Language identification: articles in their own language, questions in one of the two the
replies speak; checked on the xquad corpus (the same 48 articles in German and in English)."""

from __future__ import annotations

import json

import pytest

from index.language import ENGLISH, GERMAN, article_language, identify
from retrieval.reply_language import detect_language
from tests.conftest import SAMPLE_ARTICLES, SHARED

XQUAD = SHARED / "xquad"
SAMPLE = SAMPLE_ARTICLES
needs_xquad = pytest.mark.skipif(not XQUAD.is_dir(), reason="../shared/xquad is not there")


@needs_xquad
@pytest.mark.parametrize("language", [GERMAN, ENGLISH])
def test_every_xquad_article_and_paragraph_in_its_language(language: str) -> None:
    for path in sorted((XQUAD / f"articles-{language}").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        assert article_language(text) == language, path.name
        for paragraph in text.split("\n\n"):
            assert article_language(paragraph) == language, paragraph[:60]


def test_the_sample_articles_are_german() -> None:
    for path in SAMPLE.glob("*.txt"):
        assert article_language(path.read_text(encoding="utf-8")) == GERMAN


@needs_xquad
def test_xquad_question_language_at_least_99_percent() -> None:
    lines = (XQUAD / "questions-de-corpus.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines]
    right = sum(detect_language(q["question"]) == q["lang"] for q in questions)
    assert len(questions) == 2380
    assert right / len(questions) >= 0.99  # measured: 2,379 of 2,380


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Le gouvernement a annoncé mardi une nouvelle réforme des retraites.", "fr"),
        ("El gobierno anunció el martes una nueva reforma de las pensiones.", "es"),
        ("De regering heeft dinsdag een nieuwe hervorming van de pensioenen aangekondigd.", "nl"),
    ],
)
def test_another_language_is_kept_when_the_model_is_sure(text: str, language: str) -> None:
    assert article_language(text) == language


@pytest.mark.parametrize("text", ["", "   ", "12 345 678", "—– …"])
def test_no_evidence_gives_the_default(text: str) -> None:
    assert article_language(text, default=GERMAN) == GERMAN
    assert article_language(text) == ENGLISH
    assert detect_language(text, default=GERMAN) == GERMAN


@pytest.mark.parametrize("question", ["Kellogg?", "Und Putin?", "?", "Trump"])
def test_a_bare_name_keeps_the_conversation_language(question: str) -> None:
    assert detect_language(question, default=GERMAN) == GERMAN
    assert detect_language(question, default=ENGLISH) == ENGLISH


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Wer ist Macron?", GERMAN),
        ("Who is Macron?", ENGLISH),
        ("Was bedeutet „Plastid“?", GERMAN),  # "was" is also English: the old vote got it wrong
        ("Wann startete Sky Digital?", GERMAN),
        ("When did the season start?", ENGLISH),
    ],
)
def test_short_questions(question: str, language: str) -> None:
    assert detect_language(question, default="xx") == language


def test_identify_among_given_languages_sums_to_one() -> None:
    guess = identify("Die Regierung hat am Dienstag eine Reform angekündigt.", (GERMAN, ENGLISH))
    assert guess is not None and guess.language == GERMAN and 0.5 < guess.confidence <= 1.0
