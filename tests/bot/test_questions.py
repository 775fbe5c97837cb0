"""The checks every front end makes before searching (bot.questions)."""

from __future__ import annotations

import pytest

from bot.questions import MAX_WORD_CHARS, question_problem


@pytest.mark.parametrize(
    "question",
    ["x" * 499, "y" * 200 + " " + "z" * 200 + "?", "?!", "   ", "🙂🙂", "x" * (MAX_WORD_CHARS + 1)],
)
def test_a_question_without_a_word_is_not_searched(question: str):
    assert question_problem(question) == "no_words"


@pytest.mark.parametrize(
    "question",
    [
        "What did Putin want?",
        "Was regelt das Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz?",
        "x" * 300 + " Putin?",  # one word is enough
        "2025?",
        "x" * MAX_WORD_CHARS,
    ],
)
def test_questions_with_a_word_are_searched(question: str):
    assert question_problem(question) is None


def test_too_long_comes_first():
    assert question_problem("x" * 501) == "too_long"
