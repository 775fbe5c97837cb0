"""Words as the lexical signal sees them: folded like the index's full-text tokenizer.

Folding is `index.words`, where the stores take their words from; `terms` folds a question the
same way and drops function words — the only word lists here, and they are language-level
(English and German articles, pronouns, auxiliaries, question words), not about any topic.
"""

from __future__ import annotations

from index.words import fold, raw_tokens


def word_set(text: str) -> frozenset[str]:
    """Word lists are written as one string: easier to read and to extend."""
    return frozenset(text.split())


FUNCTION_WORDS = word_set(
    # English
    "a about after again against all also am an and any are as at be because been before "
    "being between both but by can could did do does doing done during each few for from "
    "further had has have having he her here hers herself him himself his how i if in into is "
    "it its itself just me more most my myself no nor not now of off on once only or other our "
    "ours out over own same she should so some such than that the their theirs them themselves "
    "then there these they this those through to too under until up upon very was we were what "
    "when where which while who whom whose why will with would you your yours yourself also "
    "many much whats name named called according one s t "
    # German
    "aber alle allem allen aller alles als also am an andere anderen auch auf aus bei beim "
    "bin bis bist da damit dann das dass dem den denen denn der deren des dessen die dies diese "
    "diesem diesen dieser dieses doch dort du durch ein eine einem einen einer eines er es etwa "
    "etwas euch euer für gegen gewesen hab habe haben hat hatte hatten hier hin ich ihm ihn "
    "ihnen ihr ihre ihrem ihren ihrer im in ist ja jede jedem jeden jeder jedes kann kein keine "
    "können könnte man manche mehr mein mit muss musste nach nicht nichts noch nun nur ob oder "
    "ohne sehr sein seine seinem seinen seiner sich sie sind so solche soll sollte sondern "
    "sonst über um und uns unter viel viele vom von vor war waren warum was weil welche welchem "
    "welchen welcher welches wem wen wenn wer werden wessen wie wieso wieviel wird wo woher "
    "wohin womit wurde wurden zu zum zur zwischen wann weshalb welch gibt gab worden"
)


def terms(text: str) -> list[str]:
    """The content terms of a question or passage: folded tokens minus function words, once."""
    folded = (fold(t) for t in raw_tokens(text))
    return list(dict.fromkeys(t for t in folded if t not in _FOLDED_FUNCTION_WORDS))


_FOLDED_FUNCTION_WORDS = frozenset(fold(w) for w in FUNCTION_WORDS)

# Truncation stemming: two words match when their first 5 characters do (Verteidigung ~
# Verteidigungen, defense ~ defensive). Language-independent, so it also serves a question in one
# language and an article in the other; on xquad it ranked the answering paragraph first more
# often than exact words (German questions .946 -> .953).
STEM_CHARS = 5


def stem(term: str) -> str:
    return term[:STEM_CHARS]


def stems(text: str) -> frozenset[str]:
    return frozenset(stem(t) for t in terms(text))


# Greetings, thanks and chat filler (language-level): a message made only of these and function
# words asks nothing, however close its vector happens to fall to some paragraph.
CHAT_WORDS = word_set(
    "hi hello hey hallo moin servus ok okay thanks thank thx danke bitte yes no ja nein lol "
    "test testing please pls hm hmm ah oh na tell show give explain describe sag erzähl zeig"
)
_FOLDED_CHAT_WORDS = frozenset(fold(w) for w in CHAT_WORDS)


def has_content(text: str) -> bool:
    """At least one content term with a letter that is not chat filler ("?", "ok thanks",
    emoji and "what" are not questions to search for)."""
    return any(t not in _FOLDED_CHAT_WORDS and not t.isdigit() and len(t) > 1 for t in terms(text))
