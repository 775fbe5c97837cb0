"""German common nouns and first names, from the `german-nouns` package (Wiktionary DE).

German capitalises every noun, so "is this capitalised word a name?" needs a dictionary: the
package lists ~100,000 nouns with all their inflected forms and marks proper nouns (Toponym,
Vorname, Nachname, Eigenname). Loading its CSV takes about a second, so it is read once per
process and only when first needed.
"""

from __future__ import annotations

import csv
import functools
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

_PROPER = frozenset({"Toponym", "Vorname", "Nachname", "Eigenname"})
_FIRST_COLUMN_OF_FORMS = 7  # lemma, pos, then five genus columns, then the inflected forms


@dataclass(frozen=True, slots=True)
class Lexicon:
    common_nouns: frozenset[str]  # every inflected form of a noun that is never a proper noun
    first_names: frozenset[str]

    def is_common_noun(self, word: str) -> bool:
        return word in self.common_nouns

    def is_first_name(self, word: str) -> bool:
        return word in self.first_names


EMPTY = Lexicon(frozenset(), frozenset())


@functools.cache
def german_lexicon() -> Lexicon:
    """The German lexicon, or an empty one (with a warning) if the package is missing."""
    try:
        from german_nouns.config import CSV_FILE_PATH
    except ImportError:
        log.warning("german-nouns is not installed: German nouns cannot be told from names")
        return EMPTY
    common: set[str] = set()
    proper: set[str] = set()
    first_names: set[str] = set()
    with open(CSV_FILE_PATH, encoding="utf-8", newline="") as file:
        rows = csv.reader(file)
        next(rows, None)
        for row in rows:
            if len(row) < 2:
                continue
            kinds = set(row[1].split(","))
            forms = {row[0], *(form for form in row[_FIRST_COLUMN_OF_FORMS:] if form)}
            if "Vorname" in kinds:
                first_names.update(forms)
            (proper if kinds & _PROPER else common).update(forms)
    # "China" is also porcelain: a word that can be a proper noun is not a common one.
    return Lexicon(frozenset(common - proper), frozenset(first_names))
