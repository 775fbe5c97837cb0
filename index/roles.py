"""Who "der ukrainische Staatschef" is: names for role references, for the embedder only.

News text names a person once ("dem ukrainischen Präsidenten Wolodymyr Selenskyj") and then
refers to the role ("Der ukrainische Staatschef erklärte …"). A paragraph that never names its
subject embeds far from a question that does ("What did Zelensky offer?"). So, per article, each
role given with a name (an apposition) is remembered under (affiliation, role family), and a later
mention of the same role without a name gets that surname added to the text the model embeds:
"Der ukrainische Staatschef Selenskyj erklärte …". Quotes are never taken from this text: it only
moves vectors, the raw article stays the source of every quote.

Deliberately narrow: a role resolves only with an affiliation (ukrainisch, US-, Kreml…) to the
same family (head of state, spokesperson …) named earlier or later in the same article, so
"dem Präsidenten" alone, with several presidents around, stays as it is.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from index.lexicon import EMPTY, Lexicon


def _words(text: str) -> tuple[str, ...]:
    """Word lists are written as one string: easier to read and to extend."""
    return tuple(text.split())


# Role nouns (lower case, nominative singular) -> family. Inflected forms are found by stripping
# endings in `_role_family`.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "head": _words(
        "präsident präsidentin staatschef staatschefin staatsoberhaupt kremlchef kremlherr "
        "president leader"
    ),
    "government": _words(
        "kanzler kanzlerin bundeskanzler bundeskanzlerin regierungschef regierungschefin "
        "ministerpräsident ministerpräsidentin premierminister premierministerin premier "
        "chancellor"
    ),
    "foreign": _words("außenminister außenministerin chefdiplomat chefdiplomatin"),
    "defence": _words("verteidigungsminister verteidigungsministerin"),
    "spokes": _words(
        "sprecher sprecherin regierungssprecher regierungssprecherin pressesprecher "
        "pressesprecherin kremlsprecher spokesman spokeswoman spokesperson"
    ),
    "envoy": _words(
        "gesandte gesandter sondergesandte sondergesandter sonderbeauftragte "
        "sonderbeauftragter envoy"
    ),
    "military": _words("generalstabschef oberbefehlshaber armeechef"),
}
_ROLE_FAMILY = {word: family for family, words in _FAMILIES.items() for word in words}
# Compounds carrying their affiliation: "Kremlchef", "Kremlsprecher".
_BUILT_IN_AFFILIATION = dict.fromkeys(_words("kremlchef kremlherr kremlsprecher"), "russisch")
_ENDINGS = ("innen", "en", "es", "n", "s")

# Country names, capitals and English adjectives -> the German adjective stem used as the key.
_AFFILIATION = {
    "russland": "russisch", "kreml": "russisch", "moskau": "russisch", "russian": "russisch",
    "ukraine": "ukrainisch", "kiew": "ukrainisch", "ukrainian": "ukrainisch",
    "us": "us", "usa": "us", "amerikanisch": "us", "us-amerikanisch": "us", "american": "us",
    "washington": "us", "frankreich": "französisch", "french": "französisch",
    "deutschland": "deutsch", "bundes": "deutsch", "german": "deutsch",
    "italien": "italienisch", "italian": "italienisch", "großbritannien": "britisch",
    "british": "britisch", "china": "chinesisch", "chinese": "chinesisch",
    "europa": "europäisch", "eu": "europäisch", "european": "europäisch",
}  # fmt: skip
_ADJECTIVE = re.compile(r"^([a-zäöüß-]+isch)(?:e|en|em|er|es)?$")
_ENGLISH_ADJECTIVE = re.compile(r"^[A-Z][a-z]+(?:ian|ish|ese|an|ch)$")
_WORD = re.compile(r"[^\W\d_][\w\-]*", re.UNICODE)
_NAME_TOKEN = re.compile(r"^[A-ZÄÖÜ][a-zäöüßéèáàíóúçñ]+(?:-[A-ZÄÖÜ][a-zäöüßéèáàíóúçñ]+)?$")
# Capitalised words after a role that are not a name ("Präsident Putin Kontakt aufnimmt").
_NOT_NAMES = frozenset(
    _words(
        "Der Die Das Den Dem Des Ein Eine Einen Einem Einer Und Oder Aber Im Am Zum Zur Vom Beim "
        "The A An And Of In On At Mit Von Zu Bei Für Nach"
    )
)
MAX_NAME_TOKENS = 2


@dataclass(frozen=True, slots=True)
class RoleMention:
    """A role noun in a sentence; `name` is set when the text names the person right after it."""

    sentence: int
    end: int  # offset in the sentence just after the role noun
    key: tuple[str, str] | None  # (affiliation, family); None without an affiliation
    name: str | None


def _role_family(word: str) -> tuple[str | None, str] | None:
    """(built-in or prefixed affiliation, family) of a role noun, or None."""
    lower = word.lower()
    prefix: str | None = None
    if "-" in lower:  # "US-Präsident", "Kreml-Sprecher", "Nahost-Gesandte"
        head, _, rest = lower.rpartition("-")
        prefix, lower = head, rest
    for candidate in (lower, *(lower[: -len(e)] for e in _ENDINGS if lower.endswith(e))):
        family = _ROLE_FAMILY.get(candidate)
        if family is None:
            continue
        affiliation = _BUILT_IN_AFFILIATION.get(candidate)
        if prefix is not None:
            affiliation = _AFFILIATION.get(prefix, prefix)
        return affiliation, family
    return None


def _affiliation(word: str) -> str | None:
    """ "ukrainischen" -> ukrainisch, "Russlands" -> russisch, "Ukrainian" -> ukrainisch."""
    match = _ADJECTIVE.match(word)
    if match:
        stem = match.group(1)
        return _AFFILIATION.get(stem, stem)
    lower = word.lower()
    if lower in _AFFILIATION:
        return _AFFILIATION[lower]
    if word[:1].isupper() and lower.endswith("s") and lower[:-1] in _AFFILIATION:
        return _AFFILIATION[lower[:-1]]  # "Russlands Präsident"
    if _ENGLISH_ADJECTIVE.match(word) and lower in _AFFILIATION:
        return _AFFILIATION[lower]
    return None


def find_mentions(sentences: Sequence[str], lexicon: Lexicon = EMPTY) -> list[RoleMention]:
    """Role nouns in the sentences, in order, with their affiliation and any name after them."""
    tokens = [[m.group() for m in _WORD.finditer(sentence)] for sentence in sentences]
    words_seen = Counter(word for words in tokens for word in words)
    pairs_seen = Counter(pair for words in tokens for pair in pairwise(words))
    mentions = []
    for number, sentence in enumerate(sentences):
        words = list(_WORD.finditer(sentence))
        for position, match in enumerate(words):
            role = _role_family(match.group())
            if role is None:
                continue
            affiliation, family = role
            if affiliation is None and position > 0:
                affiliation = _affiliation(words[position - 1].group())
            name_tokens = []
            for following in words[position + 1 : position + 1 + MAX_NAME_TOKENS]:
                token = following.group()
                if (
                    not _NAME_TOKEN.match(token)
                    or token in _NOT_NAMES
                    or lexicon.is_common_noun(token)
                ):
                    break
                name_tokens.append(token)
            key = (affiliation, family) if affiliation else None
            name = _surname(name_tokens, words_seen, pairs_seen, lexicon)
            mentions.append(RoleMention(number, match.end(), key, name))
    return mentions


def _surname(
    tokens: list[str],
    words_seen: Counter[str],
    pairs_seen: Counter[tuple[str, str]],
    lexicon: Lexicon,
) -> str | None:
    """ "Wladimir Putin" -> Putin, but "Präsident Putin Kellogg …" (Kellogg is the object) ->
    Putin: the first word is a first name only if the lexicon says so or it never stands alone
    (the article has it only right before the second word)."""
    if not tokens:
        return None
    if len(tokens) == 1:
        return tokens[0]
    first, second = tokens
    if lexicon.is_first_name(first) or words_seen[first] == pairs_seen[first, second]:
        return second
    return first


def resolve_roles(sentences: Sequence[str], lexicon: Lexicon = EMPTY) -> list[str]:
    """The sentences of one article with a surname after each role reference that has one.

    A reference takes the closest earlier apposition with the same key, else the first later one
    (a lede may say "der Kremlchef" before the body names Putin).
    """
    mentions = find_mentions(sentences, lexicon)
    named = [m for m in mentions if m.key and m.name]
    insertions: dict[int, list[tuple[int, str]]] = {}
    for mention in mentions:
        if mention.name or mention.key is None:
            continue
        earlier = [m for m in named if m.key == mention.key and m.sentence <= mention.sentence]
        later = [m for m in named if m.key == mention.key and m.sentence > mention.sentence]
        source = earlier[-1] if earlier else (later[0] if later else None)
        if source is not None and source.name is not None:
            insertions.setdefault(mention.sentence, []).append((mention.end, source.name))
    resolved = list(sentences)
    for number, places in insertions.items():
        text = resolved[number]
        for end, surname in sorted(places, reverse=True):
            if surname not in text:
                text = f"{text[:end]} {surname}{text[end:]}"
        resolved[number] = text
    return resolved
