"""The one definition of "verbatim": equal up to whitespace and line-break hyphenation repair."""

from __future__ import annotations

import functools
import re

# A hyphen at a line end followed by a lower-case letter joined a split word ("Verhand-\nlungen");
# before an upper-case letter it is a real compound hyphen ("NATO-\n\nMitgliedschaft").
_SPLIT_WORD = re.compile(r"(?<=\w)-[ \t]*(?:\r?\n[ \t]*)+(?=[a-zäöüß])")
_COMPOUND_BREAK = re.compile(r"(?<=\w)-[ \t]*(?:\r?\n[ \t]*)+(?=\w)")
_WHITESPACE = re.compile(r"\s+")


class NotVerbatimError(AssertionError):
    """A quote would not match its source file: a bug, never shown to users as an answer."""


def repair_hyphenation(text: str) -> str:
    """Join words that were split with a hyphen across line breaks or blank lines."""
    return _COMPOUND_BREAK.sub("-", _SPLIT_WORD.sub("", text))


@functools.lru_cache(maxsize=16384)
def canonical(text: str) -> str:
    """The form two texts are compared in: hyphenation repaired, all whitespace removed.
    Cached: every answer re-checks the same sentences."""
    return _WHITESPACE.sub("", repair_hyphenation(text))


@functools.lru_cache(maxsize=4096)
def collapse_whitespace(text: str) -> str:
    """Display form: hyphenation repaired and runs of whitespace turned into one space."""
    return _WHITESPACE.sub(" ", repair_hyphenation(text)).strip()


def is_verbatim(raw: str, start: int, end: int, text: str) -> bool:
    return 0 <= start <= end <= len(raw) and canonical(raw[start:end]) == canonical(text)


def check_verbatim(raw: str, start: int, end: int, text: str) -> None:
    """Raise unless `text` is `raw[start:end]` up to whitespace and hyphenation repair."""
    if not is_verbatim(raw, start, end, text):
        raise NotVerbatimError(
            f"quote does not match source span {start}:{end}: {text[:80]!r} vs "
            f"{raw[start:end][:80]!r}"
        )
