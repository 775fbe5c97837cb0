"""What's new: the newest articles with their lead, on a topic when one is given
(`newsbot latest [TOPIC]`, Telegram `/latest [topic]`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from index.dates import DateRange
from index.stores.base import ArticleRecord, StoreReader
from retrieval.answer import Quote

if TYPE_CHECKING:
    from retrieval.answerer import Answerer

LEAD_CHARS = 300  # the lead quote: the first sentences up to about this length


@dataclass(frozen=True, slots=True)
class Latest:
    """The newest articles (each with its lead as a quote), newest first; `answered` is False
    when a topic was given and the articles do not cover it."""

    topic: str | None
    quotes: tuple[Quote, ...]
    answered: bool = True


def by_date(records: list[ArticleRecord]) -> list[ArticleRecord]:
    """Newest first (one day's in name order); undated articles last, in name order."""
    by_name = sorted(records, key=lambda r: r.path)
    dated = sorted((r for r in by_name if r.date), key=lambda r: r.date or "", reverse=True)
    return dated + [r for r in by_name if not r.date]


def latest(
    store: StoreReader,
    topic: str | None = None,
    count: int = 5,
    answerer: Answerer | None = None,
) -> Latest:
    """The `count` newest articles, or the newest of those that answer `topic` (which needs
    `answerer`, over the same store)."""
    if topic and topic.strip():
        if answerer is None:
            raise ValueError("a topic needs an answerer")
        answer = answerer.answer(topic, top=max(count * 2, 5))
        if not answer.answered:
            return Latest(topic, (), answered=False)
        wanted = {q.article for q in answer.quotes}
        records = [r for r in store.articles() if r.path in wanted]
    else:
        records = store.articles()
    quotes = [q for r in by_date(records)[:count] if (q := lead_quote(store, r)) is not None]
    return Latest(topic, tuple(quotes))


def newest_leads(store: StoreReader, window: DateRange | None, count: int) -> list[Quote]:
    """The lead quotes of the `count` newest articles dated inside `window` (any: None)."""
    records = [
        r for r in store.articles() if r.date and (window is None or window.contains(r.date))
    ]
    return [q for r in by_date(records)[:count] if (q := lead_quote(store, r)) is not None]


def lead_quote(store: StoreReader, record: ArticleRecord) -> Quote | None:
    """The article's first sentences (verbatim, cited like any quote)."""
    ids = store.article_chunk_ids(record.path)
    chunks = store.chunks(ids[:1])
    if not chunks or not chunks[0].sentences:
        return None
    chunk = chunks[0]
    sentences = [chunk.sentences[0]]
    for sentence in chunk.sentences[1:]:
        if sentences[-1].end - sentences[0].start + len(sentence.text) > LEAD_CHARS:
            break
        sentences.append(sentence)
    return Quote(
        text=" ".join(s.text for s in sentences),
        article=record.path,
        title=record.title,
        date=record.date,
        section=chunk.section,
        paragraph=chunk.paragraph,
        start=sentences[0].start,
        end=sentences[-1].end,
        score=1.0,
    )
