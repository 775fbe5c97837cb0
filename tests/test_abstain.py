"""Abstention: the language of the reply, names the articles never mention, and the decision
with the real model in both languages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.store import IndexStore
from index.sync import sync_index
from retrieval.abstain import (
    Baseline,
    asks_for_quantity,
    decide,
    fold,
    has_content,
    is_mentioned,
    mentions_quantity,
    name_terms,
    split_common_nouns,
    text_keys,
    unknown_terms,
)
from retrieval.answerer import Answerer
from retrieval.language import detect_language
from retrieval.render import NOT_ANSWERED, render_plain
from tests.conftest import SAMPLE_ARTICLES, FakeEmbedder, index_of

# --- the question's language ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("What conditions did Putin set?", "en"),
        ("Wie lange soll die vorgeschlagene Waffenruhe dauern?", "de"),
        ("Wer hat die Fußball-Weltmeisterschaft 2014 gewonnen?", "de"),
        ("Who won the 2014 World Cup?", "en"),
        ("Und was ist mit Dnipro?", "de"),
        ("And what about it?", "en"),
        ("Waffenruhe?", "de"),
        ("Kellogg?", "en"),
        ("Mit wem sprach Rubio?", "de"),
    ],
)
def test_language_of_the_question(question: str, language: str) -> None:
    assert detect_language(question) == language


# --- names the passages never mention ---------------------------------------------------------

ARTICLES_TEXT = " ".join(p.read_text(encoding="utf-8") for p in SAMPLE_ARTICLES.glob("*.txt"))
KEYS = text_keys([ARTICLES_TEXT])


@pytest.mark.parametrize(
    ("name", "spelled_in_the_articles"),
    [
        ("Zelensky", "Selenskyj"),
        ("Lavrov", "Lawrow"),
        ("Peskov", "Peskow"),
        ("Kharkiv", "Charkiw"),
        ("Moscow", "Moskau"),
        ("Italy", "italienische"),
        ("Russian", "russischen"),
        ("Putin's", "Putin"),
        ("Kremlin", "Kreml"),
        ("President", "Präsident"),
        ("Regierung", "Bundesregierung"),
    ],
)
def test_names_match_across_spellings(name: str, spelled_in_the_articles: str) -> None:
    assert spelled_in_the_articles in ARTICLES_TEXT
    assert is_mentioned(name, KEYS)


@pytest.mark.parametrize(
    "name", ["China", "Erdogan", "Pope", "Brazil", "2014", "Indien", "Präsidentschaftswahl"]
)
def test_names_the_articles_never_mention(name: str) -> None:
    assert not is_mentioned(name, KEYS)


def test_name_terms_skip_question_words_and_keep_numbers() -> None:
    assert name_terms("What did China say about the ceasefire proposal?") == ["China"]
    assert name_terms("Who won the 2014 World Cup?") == ["2014", "World", "Cup"]
    assert name_terms("Wie lange soll die Waffenruhe dauern?") == ["Waffenruhe"]
    assert name_terms("What did General Syrsky say?") == ["Syrsky"]  # a rank is not a name
    assert unknown_terms("What did the UK say?", text_keys(["des britischen Premiers"])) == ()
    assert unknown_terms("What did Zelensky offer Trump?", KEYS) == ()
    assert unknown_terms("Was sagt Indien zu den Verhandlungen?", KEYS) == ("Indien",)
    assert fold("Selenskyj") == fold("Zelensky")


@pytest.mark.parametrize(
    "message", ["?", "🙂🙂", "!!!", "ok thanks", "What?", "Wer?", "hallo", "42"]
)
def test_messages_without_a_content_word_ask_nothing(message: str) -> None:
    assert not has_content(message)


@pytest.mark.parametrize("message", ["Putin", "Waffenruhe?", "ceasefire", "Who is Witkoff?"])
def test_keywords_and_questions_have_content(message: str) -> None:
    assert has_content(message)


def test_decision_needs_more_evidence_when_a_name_is_unknown() -> None:
    assert not decide(1.0, ()).answered
    assert decide(3.0, ()).answered
    assert not decide(3.0, ("China",)).answered
    assert decide(9.0, ("China",)).answered
    assert decide(3.0, ("China",)).reason == "names not in the articles"


def test_english_weekdays_months_and_openers_are_not_unknown_names() -> None:
    keys = text_keys(
        ["Am Samstag und in der Nacht zum Mittwoch, im März, sagte die Bundesregierung"]
    )
    assert unknown_terms("Who did Rubio call on Saturday?", keys | KEYS) == ()
    assert unknown_terms("What happened overnight into Wednesday in March?", keys) == ()
    assert unknown_terms("What did the German government say?", keys) == ()
    assert unknown_terms("Apart from that, what did Putin want?", KEYS) == ()
    assert unknown_terms("What happened on Friday?", keys) == ("Friday",)
    # A capital stands for its government: "Berlin" is the "Bundesregierung".
    assert unknown_terms("What did Berlin accuse Putin of?", keys | KEYS) == ()
    assert unknown_terms("What did Beijing say?", keys | KEYS) == ("Beijing",)


def test_german_common_nouns_are_told_from_names() -> None:
    terms = ("Datum", "Indien", "Vorstoß", "Selenskyj", "2014")
    assert split_common_nouns(terms, "de") == (
        ("Indien", "Selenskyj", "2014"),
        ("Datum", "Vorstoß"),
    )
    # English does not capitalise nouns: every capitalised word stays a name.
    assert split_common_nouns(("Pope", "Cup"), "en") == (("Pope", "Cup"), ())


def test_an_unknown_common_noun_raises_the_bar_less_than_a_name() -> None:
    assert not decide(3.0, (), ("Datum",)).answered
    assert decide(3.0, (), ("Datum",)).reason == "words not in the articles"
    assert decide(4.5, (), ("Vorstoß",)).answered
    assert not decide(4.5, ("China",), ("Vorstoß",)).answered


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("How many drones did Russia launch?", True),
        ("How much aid was paused?", True),
        ("How old is Kellogg?", True),
        ("Wie viele Krankenhäuser wurden zerstört?", True),
        ("Wieviele Menschen starben?", True),
        ("Wie alt ist Witkoff?", True),
        ("How did Putin react?", False),
        ("Wie lange soll die Waffenruhe dauern?", False),
    ],
)
def test_quantity_questions_are_recognised(question: str, asks: bool) -> None:
    assert asks_for_quantity(question) is asks


def test_quantities_are_digits_or_number_words_but_not_articles() -> None:
    assert mentions_quantity("Der 80-Jährige werde künftig …")
    assert mentions_quantity("Dabei wurden zwei Krankenhäuser zerstört.")
    assert mentions_quantity("Sie telefonierten anderthalb Stunden.")
    assert not mentions_quantity("Ein Mensch sprach mit einer Delegation.")
    assert not mentions_quantity("Der Austausch von Gefangenen wurde vereinbart.")


def test_strength_is_measured_against_the_off_topic_baseline() -> None:
    baseline = Baseline(
        generic={"en": np.array([1.0, 0.0], dtype=np.float32)},
        mean={"en": 0.1},
        spread={"en": 0.05},
    )
    query = np.array([0.6, 0.8], dtype=np.float32)
    vectors = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    # best of (query - generic) · v = max(0.8, -0.4) = 0.8 → (0.8 - 0.1) / 0.05 = 14
    assert baseline.strength(query, vectors, "en") == pytest.approx(14.0)
    assert baseline.strength(query, vectors[:0], "en") == float("-inf")


# --- with the fake embedder: plumbing on small and empty indexes --------------------------------


def test_an_empty_index_abstains(tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    embedder = FakeEmbedder()
    sync_index(tmp_path / "articles", tmp_path / "index", embedder)
    answer = Answerer(IndexStore.open(tmp_path / "index"), embedder).answer("Wer ist Kellogg?")
    assert not answer.answered and answer.quotes == () and answer.language == "de"
    assert answer.strength is None


def test_a_one_article_index_still_answers_what_it_holds(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    text = "Hafen\n\nIm Hafen von Kiel legte ein Frachter voller Pinguine an.\n"
    answerer = Answerer(index_of(tmp_path, text, embedder), embedder)
    assert answerer.answer("Frachter Pinguine Kiel").answered
    assert not answerer.answer("Wer gewann die Bundesliga 1997 gegen Bayern?").answered


# --- with the real model ---------------------------------------------------------------------

OFF_TOPIC = [
    ("What is the population of Brazil?", "en"),
    ("How do I make a good espresso at home?", "en"),
    ("Wer hat die Fußball-Weltmeisterschaft 2014 gewonnen?", "de"),
    ("Wie viele Einwohner hat München?", "de"),
]
ON_TOPIC_UNANSWERED = [
    ("What did China say about the ceasefire proposal?", "en"),
    ("What did the Pope say about the peace talks?", "en"),
    ("Ab welchem Datum gilt die Waffenruhe offiziell?", "de"),
    ("Was sagt Indien zu den Verhandlungen über eine Waffenruhe?", "de"),
    # The articles mention the exchange of prisoners and the strikes, but give no number.
    ("Wie viele Gefangene wurden nach dem Treffen in Istanbul ausgetauscht?", "de"),
    ("How much military aid has the US given Ukraine in total?", "en"),
]
ANSWERED = [
    ("What conditions did Putin set?", "en"),
    ("Welche Städte wurden von russischen Drohnen getroffen?", "de"),
    ("Who did US Secretary of State Rubio speak with by phone on Saturday?", "en"),
    ("Wann hat die Ukraine ihren Vorstoß über die Grenze nach Russland begonnen?", "de"),
    ("How many hospitals were destroyed in the attacks?", "en"),
]


@pytest.fixture(scope="module")
def answerer(real_index: Path, real_embedder) -> Answerer:
    answerer = Answerer(IndexStore.open(real_index, real_embedder.model_id), real_embedder)
    answerer.warm_up()
    return answerer


@pytest.mark.slow
@pytest.mark.parametrize(("question", "language"), OFF_TOPIC + ON_TOPIC_UNANSWERED)
def test_unanswered_questions_abstain_in_their_language(
    answerer: Answerer, question: str, language: str
) -> None:
    answer = answerer.answer(question)
    assert not answer.answered
    assert answer.quotes == ()
    assert answer.language == language
    assert render_plain(answer) == NOT_ANSWERED[language]
    assert "/sources" not in render_plain(answer)  # the CLI has no /sources (issue 11)


@pytest.mark.slow
@pytest.mark.parametrize(("question", "language"), ANSWERED)
def test_answerable_questions_are_answered(
    answerer: Answerer, question: str, language: str
) -> None:
    answer = answerer.answer(question)
    assert answer.answered and answer.quotes
    assert answer.language == language


@pytest.mark.slow
def test_an_off_topic_follow_up_is_not_carried_by_its_context(answerer: Answerer) -> None:
    context = "What conditions did Putin set?"
    assert not answerer.answer("And what is the capital of Australia?", context=context).answered
    assert not answerer.answer("And what did China say about it?", context=context).answered


@pytest.mark.slow
@pytest.mark.parametrize("message", ["?", "🙂🙂", "ok thanks", "test"])
def test_a_message_that_asks_nothing_gets_no_quotes(answerer: Answerer, message: str) -> None:
    answer = answerer.answer(message)
    assert not answer.answered and answer.quotes == ()
