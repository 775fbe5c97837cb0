"""Plain-text rendering, shared by `newsbot ask` (and its JSON `text`) and the chat.

Each quote is printed in German quotation marks with one compact citation line:
`[1] „…“ — 001_d3691be0234ce99a.txt, 2025-03, ¶7 "Moskaus Zurückhaltung…"`.
"""

from __future__ import annotations

from retrieval.model import Answer, Quote

NOT_ANSWERED = {
    "en": "The articles don't answer this question. Use /sources to see which articles I have.",
    "de": "Die Artikel beantworten diese Frage nicht. Mit /sources siehst du, welche Artikel "
    "ich habe.",
}
# Section headings can be long; the citation shows their start.
SECTION_CHARS = 30


def shorten(text: str, limit: int = SECTION_CHARS) -> str:
    """Cut at a word boundary and mark the cut with …"""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:-–") + "…"


def citation(quote: Quote) -> str:
    parts = [quote.article]
    if quote.date:
        parts.append(quote.date)
    parts.append(f"¶{quote.paragraph}")
    line = ", ".join(parts)
    if quote.section:
        line += f' "{shorten(quote.section)}"'
    return line


def render_quote(rank: int, quote: Quote) -> str:
    return f"[{rank}] „{quote.text}“ — {citation(quote)}"


def render_plain(answer: Answer) -> str:
    if not answer.answered:
        return NOT_ANSWERED.get(answer.language, NOT_ANSWERED["en"])
    return "\n".join(render_quote(rank, q) for rank, q in enumerate(answer.quotes, start=1))
