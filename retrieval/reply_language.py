"""The question's language, German or English: the language replies are written in.

Detection is `index.language` (py3langid's bundled model, the same that identifies articles),
restricted to the two reply languages. A message with too little evidence ("Dupont?", "Und
Berlin?") keeps `default`, which callers set to the language of the conversation so far.
"""

from __future__ import annotations

import functools

from index.language import ENGLISH, GERMAN, identify

__all__ = ["ENGLISH", "GERMAN", "MIN_ODDS_CONFIDENCE", "detect_language", "language_of"]

# One language must be at least twice as likely as the other (probability 2/3); on the 2,380
# xquad questions the least sure correct guess is 0.67, a bare surname scored ~0.6.
MIN_ODDS_CONFIDENCE = 2 / 3


def detect_language(text: str, default: str = ENGLISH) -> str:
    """Return "de" or "en"; `default` when neither is twice as likely as the other."""
    guess = identify(text, (GERMAN, ENGLISH))
    if guess is None or guess.confidence < MIN_ODDS_CONFIDENCE:
        return default
    return guess.language


@functools.lru_cache(maxsize=65536)
def language_of(text: str, default: str) -> str:
    """A paragraph's language (cached: the same paragraphs come back question after question)."""
    return detect_language(text, default=default)
