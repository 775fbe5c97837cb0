"""What an answer is: the contract between retrieval and every front end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from index.dates import Coverage
from retrieval.when import Window


@dataclass(frozen=True, slots=True)
class Source:
    """Another article that carries the quote's paragraph (a republished or updated copy)."""

    article: str
    title: str | None
    date: str | None
    paragraph: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Quote:
    """A verbatim passage with its citation (fields as in ../shared/CONTRACT.md)."""

    text: str
    article: str
    title: str | None
    date: str | None
    section: str | None
    paragraph: int
    start: int
    end: int
    score: float
    # Filled by retrieval where it knows them; None keeps the old meaning.
    paragraph_end: int | None = None  # last paragraph the quote spans (None: only `paragraph`)
    focus: tuple[int, int] | None = None  # offsets into `text` of the sentence that answers
    also_in: tuple[Source, ...] = ()  # other articles with the same (or nearly the same) paragraph
    url: str | None = None  # the article's link (its front matter's `url`), for feed articles
    reader: float | None = None  # the reader's chance that the quote's anchor answers (if read)

    @property
    def last_paragraph(self) -> int:
        return max(self.paragraph, self.paragraph_end or self.paragraph)

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "article": self.article,
            "title": self.title,
            "date": self.date,
            "section": self.section,
            "paragraph": self.paragraph,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 4),
            "paragraph_end": self.last_paragraph,
            "focus": list(self.focus) if self.focus else None,
            "also_in": [s.to_json() for s in self.also_in],
            "url": self.url,
            "reader": None if self.reader is None else round(float(self.reader), 4),
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """Quotes best first, or `answered=False` with no quotes when the articles don't answer."""

    question: str
    answered: bool
    quotes: tuple[Quote, ...]
    language: str  # "de" or "en": the language replies to this question are written in
    timing_ms: dict[str, float] = field(default_factory=dict)
    # Why it was (not) answered: evidence strength (z-score against off-topic questions, None
    # without candidates) and names in the question that the retrieved passages never mention.
    strength: float | None = None
    unknown_terms: tuple[str, ...] = ()
    # Time (`retrieval.when`): the window the question asked about, the archive's time span,
    # whether the window lies outside it (then no quotes: the answer states the coverage),
    # whether the quotes are ordered newest first, and whether dated quotes give different
    # figures (the newest one is first).
    window: Window | None = None
    coverage: Coverage | None = None
    outside_coverage: bool = False
    newest_first: bool = False
    figures_differ: bool = False
    # Unanswered, but the articles cover the question's story: the nearest quotes, shown as
    # context (not as an answer) below the statement that they do not say what was asked.
    nearest: tuple[Quote, ...] = ()
