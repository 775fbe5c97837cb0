"""Stage 2, fuse: one ranking score from meaning (cosine) and shared words (lexical share).

`score = dense + weight * lexical`. The lexical share is already scaled by what the question
shares with the archive (see `retrieval.candidates`), so one weight serves German questions on
German text (many shared words) and English questions on German text (names and numbers only).

In an archive of both languages that is not enough: an English question shares its everyday
words ("city", "percent", "population") with English paragraphs on other topics, while the
German paragraph that answers it can share only names and numbers. So lexical shares are
compared within a language: each language's best candidate is scaled to the best candidate
overall, and a paragraph in the other language that holds all the question's names counts as
much as one in the question's language that holds all its words. With candidates in one
language only (a one-language archive) nothing changes.
"""

from __future__ import annotations

from dataclasses import replace

from retrieval.candidates import Candidate
from retrieval.language import ENGLISH, language_of


class LexicalFusion:
    def __init__(self, *, weight: float = 0.1, per_language: bool = True) -> None:
        """
        weight: cosine points one full lexical match is worth (0 = dense ranking only).
        per_language: compare lexical shares within each paragraph language (see above).
        """
        self.weight = weight
        self.per_language = per_language

    def fuse(self, candidates: tuple[Candidate, ...], language: str = ENGLISH) -> list[Candidate]:
        """`language`: the question's, assumed for paragraphs too short to tell."""
        lexical = [c.lexical for c in candidates]
        if self.per_language and candidates:
            lexical = _per_language(candidates, language)
        fused = [
            replace(c, score=c.dense + self.weight * share)
            for c, share in zip(candidates, lexical, strict=True)
        ]
        fused.sort(key=lambda c: -c.score)
        return fused


def _per_language(candidates: tuple[Candidate, ...], language: str) -> list[float]:
    """Lexical shares with each language's best scaled to the best over all languages."""
    languages = [language_of(c.chunk.text, language) for c in candidates]
    best: dict[str, float] = {}
    for lang, c in zip(languages, candidates, strict=True):
        best[lang] = max(best.get(lang, 0.0), c.lexical)
    top = max(best.values())
    return [
        c.lexical * top / best[lang] if best[lang] else 0.0
        for lang, c in zip(languages, candidates, strict=True)
    ]
