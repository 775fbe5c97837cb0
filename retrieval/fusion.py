"""Stage 2, fuse: one ranking score from meaning (cosine) and shared words (lexical share).

`score = dense + weight * lexical`. The lexical share is already scaled by what the question
shares with the archive, and a question word counts in a paragraph of the other language
through its dictionary translations (see `retrieval.candidates`), so one weight serves German
questions on German text, English questions on German text and archives of both languages
(docs/decisions.md: why shares are no longer compared within each paragraph language).
"""

from __future__ import annotations

from dataclasses import replace

from retrieval.candidates import Candidate


class LexicalFusion:
    def __init__(self, *, weight: float = 0.1) -> None:
        """weight: cosine points one full lexical match is worth (0 = dense ranking only)."""
        self.weight = weight

    def fuse(self, candidates: tuple[Candidate, ...]) -> list[Candidate]:
        fused = [replace(c, score=c.dense + self.weight * c.lexical) for c in candidates]
        fused.sort(key=lambda c: -c.score)
        return fused
