"""For questions about the latest ("what is the latest on…", "aktuell", "zuletzt"): the newest
paragraphs that answer rank first.

Two steps. The archive is searched again among the articles dated on or after the newest of
the paragraphs that answer about as well as the best one (the band within `margin` of the best
score), so a newer report on the same story becomes a candidate even where older ones crowd the
top k; then, within the band, paragraphs are ordered newest first (the rest follow as ranked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from index.dates import DateRange
from retrieval.candidates import Candidate, Retrieval


class NewestFirst:
    """The latest-intent stage; `enabled=False` leaves the ranking as it is."""

    def __init__(self, *, margin: float = 0.03, band: int = 12, enabled: bool = True) -> None:
        """margin: how far below the best fused score a paragraph still counts as answering;
        band: at most this many of the best paragraphs are considered."""
        self.margin = margin
        self.band = band
        self.enabled = enabled

    def newer_than(self, ranked: Sequence[Candidate], window: DateRange | None) -> DateRange | None:
        """Where to look for newer reports: from the newest answering paragraph's day on
        (inside the question's window, if it has one); None when nothing in the band is dated."""
        days = [c.chunk.date[:10] for c in self._band(ranked) if c.chunk.date]
        if not self.enabled or not days:
            return None
        low = max(days)
        if window is not None and window.low is not None and window.low > low:
            low = window.low
        return DateRange(low, window.high if window is not None else None)

    def rerank(self, ranked: Sequence[Candidate]) -> list[Candidate]:
        """The band newest first (by date-time, then score); the rest as ranked."""
        ranked = list(ranked)
        if not self.enabled or not ranked:
            return ranked
        band = self._band(ranked)
        chosen = {c.chunk.id for c in band}
        band.sort(key=lambda c: (c.chunk.date or "", c.score), reverse=True)
        return band + [c for c in ranked if c.chunk.id not in chosen]

    def _band(self, ranked: Sequence[Candidate]) -> list[Candidate]:
        if not ranked:
            return []
        best = max(c.score for c in ranked)
        ordered = sorted(ranked, key=lambda c: -c.score)[: self.band]
        return [c for c in ordered if c.score >= best - self.margin]


def merged(first: Retrieval, second: Retrieval) -> Retrieval:
    """Both retrievals' candidates (once each) for the same question."""
    seen = {c.chunk.id for c in first.candidates}
    extra = tuple(c for c in second.candidates if c.chunk.id not in seen)
    candidates = tuple(sorted(first.candidates + extra, key=lambda c: -c.dense))
    return replace(first, candidates=candidates)
