"""What every front end checks before retrieval, and example questions taken from the index.

One rule for all front ends: a question the Telegram bot calls too long is too long in the
chat as well, and examples name what this archive holds, not a story the code was written for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from index.stores.base import ArticleRecord
from retrieval.render import shorten

MAX_QUESTION_CHARS = 500
EXAMPLE_TITLE_CHARS = 60
# Longer than any word in use in either language (German compounds in official use reach 63
# letters; the German-English dictionary's longest is 45, the longest in the 3,770 dev and xquad
# questions 31): a run of letters beyond it is not a word, whatever it is made of.
MAX_WORD_CHARS = 64

Problem = Literal["too_long", "no_words"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Used when the index has no titled article yet: they name no topic at all.
NEUTRAL_EXAMPLE = {
    "en": "What happened, and who said what about it?",
    "de": "Was ist passiert, und wer hat was dazu gesagt?",
}
FROM_TITLE = {
    "en": "What do the articles say about “{title}”?",
    "de": "Was steht in den Artikeln zu „{title}“?",
}
FOLLOW_UP_EXAMPLE = {
    "en": "And what happened next?",
    "de": "Und was geschah danach?",
}


def question_problem(question: str) -> Problem | None:
    """Why `question` is not searched: too long, or no word in it (no run of letters or
    digits, or only runs too long to be words: 499 × "x"); None when it is fine."""
    if len(question) > MAX_QUESTION_CHARS:
        return "too_long"
    if not any(len(word) <= MAX_WORD_CHARS for word in _WORD.findall(question)):
        return "no_words"
    return None


def example_question(articles: Sequence[ArticleRecord], language: str) -> str:
    """A question about the newest titled article (by date, then path), else a neutral one."""
    titled = [a for a in articles if a.title and a.title.strip()]
    if not titled:
        return NEUTRAL_EXAMPLE.get(language, NEUTRAL_EXAMPLE["en"])
    newest = max(titled, key=lambda a: (a.date or "", a.path))
    title = shorten(" ".join((newest.title or "").split()), EXAMPLE_TITLE_CHARS)
    return FROM_TITLE.get(language, FROM_TITLE["en"]).format(title=title)


def follow_up_example(language: str) -> str:
    return FOLLOW_UP_EXAMPLE.get(language, FOLLOW_UP_EXAMPLE["en"])
