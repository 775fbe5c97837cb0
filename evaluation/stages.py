"""Stage objects that turn one answer stage off, for the `make eval` lines that measure it.

The answerer takes each stage as a constructor argument; substituting one of these for the
production stage keeps the off-switch out of the answer path's classes.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.abstain import Evidence, Verdict
from retrieval.candidates import Candidate
from retrieval.duplicates import Collapsed


class AlwaysAnswer:
    """In place of `Abstainer`: answers whenever there are quotes, abstains only without any."""

    def decide(self, evidence: Evidence, embedder_id: str, has_quotes: bool) -> Verdict:
        return Verdict(has_quotes, None)


class KeepEveryCandidate:
    """In place of `DuplicateFilter`: keeps every candidate, copies included."""

    def collapse(self, ranked: Sequence[Candidate]) -> Collapsed:
        return Collapsed(list(ranked), {})


class NoReading:
    """In place of `ReaderStage`: nothing is read, the quote stage's own lead stays first."""

    def reads_for(self, embedder_id: str) -> bool:
        return False

    def read(
        self, question: str, language: str, sentences: Sequence[str], cosines: Sequence[float]
    ) -> None:
        return None
