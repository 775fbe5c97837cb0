"""Citations and plain-text answers, shared by every front end so they number alike.

Each quote is printed in German quotation marks with one compact citation line:
`[1] „…“ — Hafen erweitert Terminal, 2025-03, ¶5–7, "Neue Anleger für Fähren im…"`.
The article is named by its title where it has one (the file name only as a fallback), a quote
spanning paragraphs cites their range, and a long section heading is cut on a word boundary
(the full heading stays in `Quote.section`, `ask --json` and the Telegram answer).
"""

from __future__ import annotations

from retrieval.answer import Answer, Quote

NOT_ANSWERED = {
    "en": "The articles don't answer this question.",
    "de": "Die Artikel beantworten diese Frage nicht.",
}
# Where the front end has a list of its articles, it says how to see it.
SOURCES_HINT = {
    "en": "Use /sources to see which articles I have.",
    "de": "Mit /sources siehst du, welche Artikel ich habe.",
}
# Other articles with the same paragraph, after the citation: "(also in: title, date; +2 more)".
ALSO_IN = {"en": ("also in", "more"), "de": ("auch in", "weitere")}
# A citation is one line: headings and titles longer than these are cut on a word boundary.
SECTION_CHARS = 60
TITLE_CHARS = 60


def not_answered(language: str, *, sources_hint: bool = False) -> str:
    """The abstention text in the question's language; `sources_hint` where /sources exists."""
    text = NOT_ANSWERED.get(language, NOT_ANSWERED["en"])
    if sources_hint:
        text += " " + SOURCES_HINT.get(language, SOURCES_HINT["en"])
    return text


def shorten(text: str, limit: int = SECTION_CHARS) -> str:
    """Cut at a word boundary and mark the cut with …"""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:-–") + "…"


def source_name(quote: Quote) -> str:
    """The article as a reader knows it: its title, or the file name when it has none."""
    return _name(quote.title, quote.article)


def _name(title: str | None, article: str) -> str:
    title = " ".join((title or "").split())
    return shorten(title, TITLE_CHARS) if title else article


def paragraphs(quote: Quote) -> str:
    """`¶7`, or `¶5–7` for a quote that spans paragraphs."""
    last = quote.last_paragraph
    return f"¶{quote.paragraph}" if last == quote.paragraph else f"¶{quote.paragraph}–{last}"


def section_was_shortened(quote: Quote) -> bool:
    return bool(quote.section) and shorten(quote.section or "") != " ".join(
        (quote.section or "").split()
    )


def citation(quote: Quote, language: str = "en") -> str:
    """`title, date, ¶range, "section"` (missing parts are left out), then the other articles
    that carry the same paragraph: `(also in: title, date; +2 more)`."""
    parts = [source_name(quote)]
    if quote.date:
        parts.append(quote.date)
    parts.append(paragraphs(quote))
    if quote.section:
        parts.append(f'"{shorten(quote.section)}"')
    return ", ".join(parts) + also_in(quote, language)


def also_in(quote: Quote, language: str = "en") -> str:
    """` (also in: title, date)` for the first other article that carries the paragraph, and
    how many more there are; empty when no other article does."""
    if not quote.also_in:
        return ""
    first = quote.also_in[0]
    same = (first.title, first.date) == (quote.title, quote.date)  # a copy under another name
    named = ", ".join(
        filter(None, [_name(None if same else first.title, first.article), first.date])
    )
    label, more_label = ALSO_IN.get(language, ALSO_IN["en"])
    more = len(quote.also_in) - 1
    if more:
        named += f"; +{more} {more_label}"
    return f" ({label}: {named})"


def focus_span(quote: Quote) -> tuple[int, int] | None:
    """The answering sentence's offsets in `quote.text`, if set, inside the text and not all of
    it (bold on the whole quote would say nothing)."""
    if quote.focus is None:
        return None
    start, end = quote.focus
    start, end = max(0, start), min(len(quote.text), end)
    if start >= end or (start == 0 and end == len(quote.text)):
        return None
    return start, end


def render_quote(rank: int, quote: Quote, language: str = "en") -> str:
    """`[1] „quote“ — citation`, and the article's link after it when it has one."""
    link = f" {quote.url}" if quote.url else ""
    return f"[{rank}] „{quote.text}“ — {citation(quote, language)}{link}"


def render_quotes(
    quotes: tuple[Quote, ...] | list[Quote], *, first_rank: int = 1, language: str = "en"
) -> str:
    return "\n".join(
        render_quote(rank, q, language) for rank, q in enumerate(quotes, start=first_rank)
    )


def render_plain(answer: Answer) -> str:
    """What `newsbot ask` prints (and its JSON `text`): the CLI has no /sources, so no hint."""
    if not answer.answered:
        return not_answered(answer.language)
    return render_quotes(answer.quotes, language=answer.language)
