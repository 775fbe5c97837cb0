"""Terms as the lexical signal sees them: folded like the full-text index, no function words."""

from __future__ import annotations

import pytest

from retrieval.terms import fold, has_content, terms


def test_terms_fold_case_and_diacritics_like_the_full_text_index() -> None:
    assert fold("Zürich") == "zurich"
    assert terms("Wie viele Einwohner hat Zürich 2024?") == ["einwohner", "zurich", "2024"]
    assert terms("How many points did the Panthers' defense surrender?") == [
        "points",
        "panthers",
        "defense",
        "surrender",
    ]


def test_terms_split_where_the_tokenizer_does() -> None:
    assert terms("COVID-19, U.S. and 56,2 %") == ["covid", "19", "u", "56", "2"]


@pytest.mark.parametrize("message", ["?", "ok thanks", "Danke!", "👍", "what", "Wer?", "42"])
def test_messages_without_a_content_word_are_not_questions(message: str) -> None:
    assert not has_content(message)


@pytest.mark.parametrize("message", ["Who is Tesla?", "Warschau", "Was kostet Strom?"])
def test_messages_with_a_content_word_are_questions(message: str) -> None:
    assert has_content(message)
