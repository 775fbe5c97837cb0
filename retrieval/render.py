"""Plain-text rendering, shared by `newsbot ask` (and its JSON `text`) and the chat."""

from __future__ import annotations

from retrieval.model import Answer, Quote

NOT_ANSWERED = {
    "en": "The articles don't answer this question. Use /sources to see which articles I have.",
    "de": "Die Artikel beantworten diese Frage nicht. Mit /sources siehst du, welche Artikel "
    "ich habe.",
}


def citation(quote: Quote) -> str:
    parts = [quote.article]
    if quote.date:
        parts.append(quote.date)
    parts.append(f"¶{quote.paragraph}")
    line = ", ".join(parts)
    if quote.section:
        line += f' "{quote.section}"'
    return line


def render_plain(answer: Answer) -> str:
    if not answer.answered:
        return NOT_ANSWERED.get(answer.language, NOT_ANSWERED["en"])
    return "\n".join(
        f"[{rank}] „{quote.text}“ — {citation(quote)}"
        for rank, quote in enumerate(answer.quotes, start=1)
    )
