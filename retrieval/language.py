"""The question's language, German or English: the language replies are written in.

Detection is `index.language` (py3langid's bundled model, the same that identifies articles),
restricted to the two reply languages. A message with too little evidence ("Kellogg?", "Und
Putin?") keeps `default`, which callers set to the language of the conversation so far.
"""

from __future__ import annotations

from index.language import ENGLISH, GERMAN, identify

__all__ = [
    "ENGLISH",
    "ENGLISH_FUNCTION_WORDS",
    "GERMAN",
    "GERMAN_FUNCTION_WORDS",
    "MIN_ODDS_CONFIDENCE",
    "detect_language",
    "word_set",
]

# One language must be at least twice as likely as the other (probability 2/3); on the 2,380
# xquad questions the least sure correct guess is 0.67, a bare name ("Kellogg?") scores ~0.6.
MIN_ODDS_CONFIDENCE = 2 / 3


def word_set(text: str) -> frozenset[str]:
    """Word lists are written as one string: easier to read and to extend."""
    return frozenset(text.split())


# Language-level function words (not topic words). Detection no longer uses them; `retrieval.
# abstain` uses them to tell a question's content words from its grammar.
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


def detect_language(text: str, default: str = ENGLISH) -> str:
    """Return "de" or "en"; `default` when neither is twice as likely as the other."""
    guess = identify(text, (GERMAN, ENGLISH))
    if guess is None or guess.confidence < MIN_ODDS_CONFIDENCE:
        return default
    return guess.language
