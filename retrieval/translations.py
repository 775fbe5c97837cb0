"""Word translations between German and English, from a bilingual dictionary.

Shared words are the lexical signal (`retrieval.candidates`), but an English question shares
only names and numbers with a German paragraph: "When was the university founded?" has no word
in common with "Die Universität wurde 1386 gegründet". A dictionary lookup gives each question
word its usual translations ("founded" -> "gegründet", "aufgebaut"), and in a paragraph of the
other language the word counts as present when one of them is there. This is dictionary-based
cross-language retrieval: no model call, a table lookup per question word.

The dictionary is Ding's German-English word list (TU Chemnitz, GPL; Debian package
`trans-de-en`, ~200,000 entries with inflected forms: "gründen | gründend | gegründet ::
to found | founding | founded"). It is read once per process and reduced to each word's most
frequent single-word translations; the reduced table is cached in `cache_dir`, because reading
the dictionary itself takes seconds. Without the dictionary nothing is translated and retrieval
works on shared words alone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from index.files import atomic_write
from index.words import fold
from retrieval.reply_language import ENGLISH, GERMAN
from retrieval.terms import FUNCTION_WORDS

log = logging.getLogger(__name__)

DING = Path("/usr/share/trans/de-en")  # Debian's trans-de-en

Table = dict[str, tuple[str, ...]]  # folded word -> translations, most frequent first

# Ding's markup: {f} gender, [Am.] usage labels, (comments), <variants>; "a/b" alternatives keep
# the first ("er/sie gewinnt" -> "er"), so that a word's own entries outweigh the phrases that
# merely mention it; and placeholders for the objects of a phrase ("jdn.", "sth.", "to", "sich").
_MARKUP = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\([^)]*\)|<[^>]*>|/.*")
_WORD = re.compile(r"[^\W\d_]+")
_PLACEHOLDERS = frozenset(
    ["etw", "jdn", "jdm", "jds", "sth", "sb", "sich", "to", "be", "s", "o", "es"]
) | frozenset(fold(w) for w in FUNCTION_WORDS)
KEPT = 8  # translations kept per word in the reduced table (the cache)
FORMAT = 1  # bump when the reduction changes, so old caches are not read


class WordTranslations:
    def __init__(
        self,
        dictionary: Path | None = DING,
        *,
        per_word: int = 5,
        cache_dir: Path | None = None,
    ) -> None:
        """
        dictionary: a Ding-format word list ("Deutsch | … :: English | …" per line); None or a
            missing file: nothing is translated.
        per_word: a word counts as present if one of its this many most frequent translations
            is (by the 5-character stem, as words are compared everywhere).
        cache_dir: where the reduced table is kept between processes (None: not kept).
        """
        self.dictionary = dictionary
        self.per_word = min(per_word, KEPT)
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._tables: dict[str, Table] | None = None

    @property
    def available(self) -> bool:
        return self.dictionary is not None and self.dictionary.is_file()

    def translate(self, terms: Iterable[str], language: str) -> dict[str, tuple[str, ...]]:
        """Each folded question term of `language` -> its `per_word` most frequent translations
        into the other language, folded (terms the dictionary lacks are left out)."""
        table = self.tables().get(language, {})
        return {t: table[t][: self.per_word] for t in terms if table.get(t)}

    def tables(self) -> dict[str, Table]:
        """{"en": English -> German, "de": German -> English}, read on first use."""
        if self._tables is None:
            with self._lock:
                if self._tables is None:
                    self._tables = self._load()
        return self._tables

    def _load(self) -> dict[str, Table]:
        if not self.available:
            if self.dictionary is not None:
                log.warning(
                    "no word dictionary at %s: questions are not translated", self.dictionary
                )
            return {}
        assert self.dictionary is not None
        cached = self._cache_file()
        if cached is not None and cached.is_file():
            try:
                return _decode(json.loads(cached.read_text(encoding="utf-8")))
            except (OSError, ValueError) as error:
                log.warning(
                    "unreadable translation cache %s (%s): reading the dictionary", cached, error
                )
        tables = read_dictionary(self.dictionary)
        if cached is not None:
            _write(cached, json.dumps(tables, ensure_ascii=False, separators=(",", ":")))
        return tables

    def _cache_file(self) -> Path | None:
        if self.cache_dir is None or self.dictionary is None:
            return None
        stat = self.dictionary.stat()
        stamp = f"{self.dictionary.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{FORMAT}|{KEPT}"
        digest = hashlib.sha256(stamp.encode()).hexdigest()[:16]
        return self.cache_dir / f"translations-{digest}.json"


@functools.lru_cache(maxsize=4)
def read_dictionary(path: Path) -> dict[str, Table]:
    """The reduced tables of a Ding-format file (once per process and file)."""
    counts: dict[str, defaultdict[str, Counter[str]]] = {
        ENGLISH: defaultdict(Counter),
        GERMAN: defaultdict(Counter),
    }
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            german, separator, english = line.rstrip("\n").partition(" :: ")
            if separator:
                _count_entry(german, english, counts)
    return {
        language: {
            word: tuple(w for w, _ in found.most_common(KEPT)) for word, found in table.items()
        }
        for language, table in counts.items()
    }


def _count_entry(
    german: str, english: str, counts: dict[str, defaultdict[str, Counter[str]]]
) -> None:
    """One dictionary line: "|" separates aligned forms (headword | plural | …), ";" synonyms.
    A one-word synonym on one side is translated by every synonym of one or two words on the
    other ("Stadt" -> "city", "town"; "city" -> "Stadt", "Großstadt")."""
    german_forms, english_forms = german.split(" | "), english.split(" | ")
    if len(german_forms) != len(english_forms):
        return
    for german_form, english_form in zip(german_forms, english_forms, strict=True):
        sides = {
            GERMAN: [_words(s) for s in german_form.split(";")],
            ENGLISH: [_words(s) for s in english_form.split(";")],
        }
        for source, target in ((GERMAN, ENGLISH), (ENGLISH, GERMAN)):
            for synonym in sides[source]:
                if len(synonym) != 1:
                    continue
                for translation in sides[target]:
                    if len(translation) <= 2:
                        counts[source][synonym[0]].update(translation)


def _words(text: str) -> list[str]:
    """Folded content words of one synonym, without markup and placeholders."""
    words = (fold(w) for w in _WORD.findall(_MARKUP.sub(" ", text)))
    return [w for w in words if w not in _PLACEHOLDERS]


def _decode(data: object) -> dict[str, Table]:
    if not isinstance(data, dict):
        raise ValueError("not a translation table")
    return {lang: {w: tuple(t) for w, t in table.items()} for lang, table in data.items()}


def _write(path: Path, text: str) -> None:
    """Write atomically: a process reading the cache never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    except OSError as error:
        log.warning("could not cache translations in %s: %s", path, error)
