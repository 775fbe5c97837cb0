"""Between fuse and rerank: one paragraph, however many articles repeat it.

A news archive holds the same text more than once: an agency story republished by several
desks, an update re-filed with most paragraphs unchanged, a second copy of a file. Every copy
has the same vector and the same words, so copies take the best ranks side by side, and the
answer showed one passage two or three times while paragraphs that add something dropped out of
the head. This stage keeps the best-ranked copy of each paragraph and lists the others, so the
quote can cite them ("also in") and a reader still sees every source.

Copies are paragraphs with the same words (compared case-folded, ignoring whitespace and
punctuation: typographic quotes, line breaks and hyphenation differ between desks). A paragraph
that differs in one word is not a copy: in news that word is often the point of the update (a
new figure, a new name), and both versions stay quotable; the quote stage still drops a quote
whose sentences another quote already shows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from index.documents import Chunk
from retrieval.candidates import Candidate

_WORDS = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Collapsed:
    """Candidates with copies removed, best first; `copies[chunk id]`: the removed copies of
    that kept paragraph, in rank order."""

    candidates: list[Candidate]
    copies: dict[int, tuple[Chunk, ...]]


class DuplicateFilter:
    """Collapses candidates whose paragraphs have the same words into the best-ranked one."""

    def collapse(self, ranked: Sequence[Candidate]) -> Collapsed:
        kept: dict[str, Candidate] = {}
        copies: dict[int, list[Chunk]] = {}
        for candidate in ranked:
            key = words(candidate.chunk.text)
            original = kept.setdefault(key, candidate)
            if original is not candidate:
                copies.setdefault(original.chunk.id, []).append(candidate.chunk)
        return Collapsed(list(kept.values()), {i: tuple(c) for i, c in copies.items()})


@functools.lru_cache(maxsize=65536)
def words(text: str) -> str:
    """The text's words, case-folded, one space apart (with one at each end, so that a
    containment test between two such strings matches whole words only)."""
    return " " + " ".join(w.casefold() for w in _WORDS.findall(text)) + " "


def repeats(text: str, others: Iterable[str]) -> bool:
    """The text's words contain, or are contained in, another text's (the same sentences quoted
    twice, from two articles that need not be copies as a whole)."""
    mine = words(text)
    return any(mine in theirs or theirs in mine for theirs in map(words, others))


# An update re-filed with a changed figure or a dropped sentence keeps ~95-100 % of the shorter
# version's words; different paragraphs among each other's ten nearest neighbours in the mixed
# xquad archive (both languages, every topic) shared at most 72 %.
NEAR_COPY_SHARE = 0.8


def near_copies(text: str, other: str) -> bool:
    """Most of the shorter text's distinct words are in the other (an edited version of the same
    paragraph), so the two are one source, not two that agree or compete."""
    mine, theirs = _distinct_words(text), _distinct_words(other)
    shared = len(mine & theirs)
    return shared >= NEAR_COPY_SHARE * max(1, min(len(mine), len(theirs)))


@functools.lru_cache(maxsize=65536)
def _distinct_words(text: str) -> frozenset[str]:
    return frozenset(words(text).split())
