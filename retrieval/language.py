"""Cheap question-language detection: German or English, from function words and umlauts.

Questions are short, so a stop-word vote is as good as a library here and costs microseconds.
"""

from __future__ import annotations

import re

GERMAN = "de"
ENGLISH = "en"

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def word_set(text: str) -> frozenset[str]:
    """Word lists are written as one string: easier to read and to extend."""
    return frozenset(text.split())


GERMAN_FUNCTION_WORDS = word_set(
    "aber alle als am an auch auf aus bei beim bin bis da dabei damit dann darüber das dass "
    "dem den denn der des die dies diese diesem diesen dieser dieses doch dort durch ein eine "
    "einem einen einer eines er es etwas für gab gegen gibt hat hatte haben hätte ich ihm ihn "
    "ihr ihre im in ist ja jetzt kann kein keine man mehr mit nach nicht noch nun nur ob oder "
    "ohne seit sein seine sich sie sind so soll sollen über um und uns unter vom von vor war "
    "waren warum was weil welche welchem welchen welcher welches wenn wer werden wie wieso "
    "wieviel wird wo woher wohin worauf worüber wurde wurden zu zum zur zwischen sagte sagt "
    "gesagt gilt geht"
)
ENGLISH_FUNCTION_WORDS = word_set(
    "a about after all also an and any are as at be been before but by can could did do does "
    "for from had has have he her his how i if in into is it its of on or say said says she "
    "should so than that the their them then there these they this those to under was were "
    "what when where which who whom whose why will with would you"
)
# Tie-breakers: umlauts, "sch" and typical German noun endings.
_GERMAN_SHAPE = re.compile(r"[äöüß]|sch|(?:ungen|ung|heit|keit|schaft|ruhe)\b", re.IGNORECASE)


def detect_language(text: str, default: str = ENGLISH) -> str:
    """Return "de" or "en": function words decide, then umlauts and German word shapes, then
    `default` (for a follow-up like "Kellogg?", the language of the question before)."""
    words = [w.lower() for w in _WORD.findall(text)]
    german = sum(w in GERMAN_FUNCTION_WORDS for w in words)
    english = sum(w in ENGLISH_FUNCTION_WORDS for w in words)
    if german != english:
        return GERMAN if german > english else ENGLISH
    return GERMAN if _GERMAN_SHAPE.search(text) else default
