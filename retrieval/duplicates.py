"""Between fuse and select quotes: one paragraph, however many articles repeat it.

A news archive holds the same text more than once: an agency story republished by several
desks, an article re-filed as an update that keeps most paragraphs, a correction. Every copy has
the same vector and the same words, so copies take the best ranks side by side, and the answer
would show one quote two or three times while the paragraphs that add something drop out of
the head. This stage keeps the best-ranked copy of each paragraph and lists the others as the
same text "also in" their articles, so a reader still sees every source.

Two paragraphs count as copies when their word trigrams (case-folded) overlap by at least
`min_overlap` (Jaccard): identical text, or a word or two changed in a paragraph of news length.
A paragraph that merely shares the topic, or a translation, shares few trigrams.
Comparing a handful of candidates needs no index (MinHash/LSH libraries such as datasketch
solve the many-to-many problem of deduplicating a whole corpus, which this is not).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.model import Chunk
from retrieval.candidates import Candidate

_WORDS = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Collapsed:
    """Candidates with copies removed, best first; `copies[chunk id]`: the removed copies of
    that kept paragraph, in rank order."""

    candidates: list[Candidate]
    copies: dict[int, tuple[Chunk, ...]]


class DuplicateFilter:
    def __init__(self, *, min_overlap: float = 0.8, shingle: int = 3, enabled: bool = True):
        """
        min_overlap: Jaccard overlap of the two paragraphs' word n-grams above which the
            lower-ranked one is a copy. One changed word alters up to 3 trigrams: a 50-word
            paragraph keeps ~.89 of them, a 25-word one ~.78. A rewritten paragraph that keeps
            one sentence stays apart (the quote stage drops a repeated quote itself).
        shingle: n of the word n-grams compared.
        enabled: False keeps every candidate (the "- duplicates" line of `make eval`).
        """
        self.min_overlap = min_overlap
        self.shingle = shingle
        self.enabled = enabled

    def collapse(self, ranked: Sequence[Candidate]) -> Collapsed:
        if not self.enabled:
            return Collapsed(list(ranked), {})
        kept: list[Candidate] = []
        copies: dict[int, list[Chunk]] = {}
        for candidate in ranked:
            original = next((k for k in kept if self.same_text(k.chunk, candidate.chunk)), None)
            if original is None:
                kept.append(candidate)
            else:
                copies.setdefault(original.chunk.id, []).append(candidate.chunk)
        return Collapsed(kept, {i: tuple(c) for i, c in copies.items()})

    def same_text(self, a: Chunk, b: Chunk) -> bool:
        if a.text == b.text:
            return True
        x, y = shingles(a.text, self.shingle), shingles(b.text, self.shingle)
        if not x or not y:
            return False
        # the overlap cannot reach min_overlap when the sizes are too far apart
        if min(len(x), len(y)) < self.min_overlap * max(len(x), len(y)):
            return False
        return len(x & y) >= self.min_overlap * len(x | y)


@functools.lru_cache(maxsize=65536)
def shingles(text: str, n: int) -> frozenset[tuple[str, ...]]:
    """The text's word n-grams, case-folded (a text shorter than n words is one n-gram)."""
    words = [w.casefold() for w in _WORDS.findall(text)]
    if len(words) <= n:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
