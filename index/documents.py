"""Plain data types shared by the indexing pipeline and its readers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of an article.

    `text` is what people read: whitespace collapsed and line-break hyphenation repaired.
    `raw[start:end]` of the decoded article file is the same sentence before that clean-up,
    which is what makes every quote checkable against the file.
    """

    text: str
    start: int
    end: int


class _SentenceRun:
    """Consecutive sentences read as one text, spanning `raw[start:end]`."""

    __slots__ = ()
    sentences: tuple[Sentence, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def start(self) -> int:
        return self.sentences[0].start

    @property
    def end(self) -> int:
        return self.sentences[-1].end


@dataclass(frozen=True, slots=True)
class Paragraph(_SentenceRun):
    """A body paragraph; headings are not paragraphs but the `section` of those below them."""

    number: int  # 1-based position among the article's body paragraphs
    section: str | None
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True, slots=True)
class ParsedArticle:
    """The result of cleaning one article file."""

    path: str  # relative to the articles folder, POSIX separators
    title: str | None
    date: str | None  # as written: "2025-03", "2025-03-17", ...
    paragraphs: tuple[Paragraph, ...]
    sections: tuple[str, ...] = ()
    language: str = "en"  # ISO 639-1 code of the article's language (sentence rules follow it)


@dataclass(frozen=True, slots=True)
class Chunk(_SentenceRun):
    """The unit that is embedded and searched: a paragraph, or a sentence-aligned piece of one."""

    id: int  # stable positive 64-bit id (FAISS id)
    article: str
    title: str | None
    date: str | None
    section: str | None
    paragraph: int
    sentences: tuple[Sentence, ...]
