"""Citations and plain-text answers, shared by every front end so they number alike.

Each quote is printed in German quotation marks with one compact citation line:
`[1] „…“ — Hafen erweitert Terminal, 2025-03, ¶5–7, "Neue Anleger für Fähren im…"`.
The article is named by its title where it has one (the file name only as a fallback), a quote
spanning paragraphs cites their range, and a long section heading is cut on a word boundary
(the full heading stays in `Quote.section`, `ask --json` and the Telegram answer).
"""

from __future__ import annotations

from datetime import date

from index.dates import Coverage, day_of, month_end
from retrieval.answer import Answer, Quote
from retrieval.when import Window

NOT_ANSWERED = {
    "en": "The articles don't answer this question.",
    "de": "Die Artikel beantworten diese Frage nicht.",
}
# The articles cover the question's story, but no sentence says what it asks (`Answer.nearest`).
ON_TOPIC = {
    "en": "The articles cover {topic} but do not say what you asked.",
    "de": "Die Artikel berichten über {topic}, sagen aber nicht, was du gefragt hast.",
}
THIS_STORY = {"en": "this story", "de": "dieses Thema"}
NEAREST = {
    "en": "The nearest passages, as context (not an answer):",
    "de": "Die nächsten Stellen, als Kontext (keine Antwort):",
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


# Time: the archive's span, and a window it does not cover or has nothing on.
OUTSIDE_COVERAGE = {
    "en": "My articles cover {coverage}; none are from {window}.",
    "de": "Meine Artikel reichen von {coverage}; aus {window} habe ich keine.",
}
NOTHING_IN_WINDOW = {
    "en": "Nothing in my articles from {window} answers this question.",
    "de": "Meine Artikel aus {window} beantworten diese Frage nicht.",
}
NO_DATES = {"en": "none of my articles is dated", "de": "keiner meiner Artikel ist datiert"}
FIGURES_DIFFER = {
    "en": "The figures differ by date; the newest ({date}) is first.",
    "de": "Die Zahlen unterscheiden sich je nach Datum; die neueste ({date}) steht zuerst.",
}
MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "de": [
        "Jan.",
        "Feb.",
        "März",
        "Apr.",
        "Mai",
        "Juni",
        "Juli",
        "Aug.",
        "Sep.",
        "Okt.",
        "Nov.",
        "Dez.",
    ],
}
FULL_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "de": [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
}
SINCE_UNTIL = {"en": ("since {}", "until {}"), "de": ("seit {}", "bis {}")}


def _months(language: str, full: bool = False) -> list[str]:
    table = FULL_MONTHS if full else MONTHS
    return table.get(language, table["en"])


def human_day(day: date, language: str = "en", *, year: bool = True) -> str:
    """`7 Mar 1987` / `7. März 1987` (without the year: `7 Mar` / `7. März`)."""
    month = _months(language)[day.month - 1]
    text = f"{day.day}. {month}" if language == "de" else f"{day.day} {month}"
    return f"{text} {day.year}" if year else text


def human_date(iso: str | None, language: str = "en") -> str:
    """An article date for people: `7 Mar 1987`, `Mar 1987` for a month; "" when undated."""
    day = day_of(iso)
    if day is None or iso is None:
        return ""
    if len(iso) == 7:
        return f"{_months(language)[day.month - 1]} {day.year}"
    return human_day(day, language)


def span_text(first: date, last: date, language: str = "en") -> str:
    """`26 Feb – 30 Mar 1987`, `23–29 Mar 1987`, `March 1987`, `1987`, or one day."""
    if first == last:
        return human_day(first, language)
    if (first.month, first.day, last.month, last.day) == (1, 1, 12, 31) and first.year == last.year:
        return str(first.year)
    whole_month = first.day == 1 and last == month_end(first)
    if whole_month:
        return f"{_months(language, full=True)[first.month - 1]} {first.year}"
    if (first.year, first.month) == (last.year, last.month):
        dot = "." if language == "de" else ""
        return f"{first.day}{dot}–{human_day(last, language)}"
    same_year = first.year == last.year
    return f"{human_day(first, language, year=not same_year)} – {human_day(last, language)}"


def window_text(window: Window, language: str = "en") -> str:
    since, until = SINCE_UNTIL.get(language, SINCE_UNTIL["en"])
    if window.start and window.end:
        if window.start > window.end:
            return human_day(window.start, language)
        return span_text(window.start, window.end, language)
    if window.start:
        return since.format(human_day(window.start, language))
    if window.end:
        return until.format(human_day(window.end, language))
    return ""


def coverage_text(coverage: Coverage | None, language: str = "en") -> str:
    """The archive's span, `26 Feb – 30 Mar 1987`, or that nothing is dated."""
    first = day_of(coverage.oldest) if coverage else None
    last = day_of(coverage.newest) if coverage else None
    if coverage is None or first is None or last is None or coverage.newest is None:
        return NO_DATES.get(language, NO_DATES["en"])
    if len(coverage.newest) == 7:
        last = month_end(last)
    return span_text(first, last, language)


ARCHIVE_LINE = {
    "en": ("{n} articles; {span}", "; {undated} undated"),
    "de": ("{n} Artikel; {span}", "; {undated} ohne Datum"),
}
NO_LATEST = {
    "en": "None of my articles is about {topic}.",
    "de": "Keiner meiner Artikel handelt von {topic}.",
}


def coverage_line(coverage: Coverage | None, language: str = "en") -> str:
    """`120 articles; 26 Feb – 30 Mar 1987; 3 undated`: what the archive holds, and when."""
    line, undated = ARCHIVE_LINE.get(language, ARCHIVE_LINE["en"])
    if coverage is None:
        return ""
    text = line.format(n=coverage.dated + coverage.undated, span=coverage_text(coverage, language))
    if coverage.dated and coverage.undated:
        text += undated.format(undated=coverage.undated)
    return text


def render_latest(found, language: str = "en") -> str:
    """`newsbot latest`: each article's title, date and lead quote, newest first."""
    if not found.answered or not found.quotes:
        if found.topic:
            return NO_LATEST.get(language, NO_LATEST["en"]).format(topic=found.topic)
        return NOT_ANSWERED.get(language, NOT_ANSWERED["en"])
    return render_quotes(found.quotes, language=language)


def unanswered(answer: Answer, *, sources_hint: bool = False) -> str:
    """Why there are no quotes: a window outside the archive's time span (with the span), a
    window with nothing on the question (naming it), or that the articles don't answer."""
    language = answer.language
    if answer.window is not None and answer.outside_coverage:
        template = OUTSIDE_COVERAGE.get(language, OUTSIDE_COVERAGE["en"])
        return template.format(
            coverage=coverage_text(answer.coverage, language),
            window=window_text(answer.window, language),
        )
    if answer.window is not None:
        template = NOTHING_IN_WINDOW.get(language, NOTHING_IN_WINDOW["en"])
        text = template.format(window=window_text(answer.window, language))
        if sources_hint:
            text += " " + SOURCES_HINT.get(language, SOURCES_HINT["en"])
        return text
    if answer.nearest:
        title = answer.nearest[0].title
        topic = f"„{shorten(title, TITLE_CHARS)}“" if title else THIS_STORY.get(language, "")
        template = ON_TOPIC.get(language, ON_TOPIC["en"])
        return template.format(topic=topic)
    return not_answered(language, sources_hint=sources_hint)


def render_unanswered(answer: Answer, *, sources_hint: bool = False) -> str:
    """Why there are no quotes, and where the articles cover the story the nearest quotes below,
    as context. `sources_hint` only where nothing is shown."""
    text = unanswered(answer, sources_hint=sources_hint and not answer.nearest)
    if answer.nearest:
        quotes = render_quotes(answer.nearest, language=answer.language)
        text += f"\n{nearest_header(answer)}\n{quotes}"
    return text


def nearest_header(answer: Answer) -> str:
    """Above `Answer.nearest`: that these quotes are context, not an answer."""
    return NEAREST.get(answer.language, NEAREST["en"])


def time_note(answer: Answer) -> str:
    """Under the quotes: when dated quotes give different figures, that the newest is first."""
    if not (answer.answered and answer.figures_differ and answer.quotes):
        return ""
    template = FIGURES_DIFFER.get(answer.language, FIGURES_DIFFER["en"])
    return template.format(date=human_date(answer.quotes[0].date, answer.language))


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
        parts.append(quote.date[:10])  # a date-time's day: the time says little in a citation
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
        return render_unanswered(answer)
    text = render_quotes(answer.quotes, language=answer.language)
    note = time_note(answer)
    return f"{text}\n{note}" if note else text
