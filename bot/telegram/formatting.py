"""Render an `Answer` as Telegram HTML messages.

Telegram refuses a whole message when its HTML doesn't parse or when its text is longer than
4096 characters after entity parsing, and a refused reply is a lost answer. So every piece of
article and user text is escaped here, messages are split only between whole blocks, and length
is measured the way Telegram measures it (visible text, in UTF-16 code units, which is never less
than what Telegram counts).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from retrieval.answer import Answer, Quote
from retrieval.render import citation, focus_span, section_was_shortened, source_name

MAX_MESSAGE_CHARS = 4096
ELLIPSIS = "…"
BLOCK_SEPARATOR = "\n\n"
# A citation is a single line; an absurd section heading must not eat the room for the quote.
_MAX_CITATION_CHARS = 512
_LAST_WORD = re.compile(r"\s\S*\Z")


def format_answer_html(
    answer: Answer, *, first: int = 0, count: int = 3, header: str | None = None
) -> list[str]:
    """Messages for quotes `first .. first+count-1` of `answer`, best first, preceded by `header`.

    `header` is plain text (it is escaped), so the caller can pass user text such as the question.
    An unanswered `answer` yields only the header: the caller words the abstention.
    Returns [] when there is nothing to send.
    """
    if first < 0 or count < 0:
        raise ValueError(f"first and count must be >= 0, got first={first}, count={count}")
    blocks = [html.escape(header, quote=False)] if header and header.strip() else []
    if answer.answered:
        shown = answer.quotes[first : first + count]
        blocks += [
            quote_block(q, rank, language=answer.language)
            for rank, q in enumerate(shown, start=first + 1)
        ]
    return split_html_blocks(blocks)


def quote_block(
    quote: Quote, rank: int, *, limit: int = MAX_MESSAGE_CHARS, language: str = "en"
) -> str:
    """One quote as `<blockquote>` plus an italic citation line, never longer than `limit`.

    The sentence that answers (`Quote.focus`) is bold. A shortened section heading is followed by
    the full heading in an expandable quote. An over-long quote is cut around its answering
    sentence rather than losing its citation: a quote without a source is worth less.
    """
    citation = truncate_text(citation_text(quote, rank, language), _MAX_CITATION_CHARS)
    tail = f"\n<i>{citation_html(quote, rank, citation)}</i>"
    tail_length = utf16_len("\n" + citation)
    if section_was_shortened(quote):
        heading = truncate_text(" ".join((quote.section or "").split()), _MAX_CITATION_CHARS)
        tail += f"\n<blockquote expandable>{html.escape(heading, quote=False)}</blockquote>"
        tail_length += utf16_len("\n" + heading)
    body = quote_html(quote, limit - tail_length)
    return f"<blockquote>{body}</blockquote>{tail}"


def quote_html(quote: Quote, room: int) -> str:
    """The quote's text as HTML within `room` visible units, its focus sentence in `<b>`.

    When the whole text doesn't fit, the cut keeps the focus: the head goes ("… ") if the focus
    lies beyond the room, then the tail.
    """
    text, focus = quote.text, focus_span(quote)
    if focus is not None and utf16_len(text) > room and utf16_len(text[: focus[1]]) > room:
        lead = ELLIPSIS + " "  # start at the answering sentence, so it stays in view
        text, focus = lead + text[focus[0] :], (len(lead), len(lead) + focus[1] - focus[0])
    text = truncate_text(text, room)
    if focus is None or focus[0] >= len(text):
        return html.escape(text, quote=False)
    end = min(focus[1], len(text))
    before, bold, after = text[: focus[0]], text[focus[0] : end], text[end:]
    if not bold.strip():
        return html.escape(text, quote=False)
    return (
        html.escape(before, quote=False)
        + f"<b>{html.escape(bold, quote=False)}</b>"
        + html.escape(after, quote=False)
    )


def citation_html(quote: Quote, rank: int, citation: str) -> str:
    """The (possibly shortened) citation line escaped; the article's title a link to the
    article when it has a URL (articles from feeds and saved pages)."""
    prefix = f"[{rank}] "
    name = source_name(quote)
    if not quote.url or not citation.startswith(prefix + name):
        return html.escape(citation, quote=False)
    rest = citation[len(prefix) + len(name) :]
    link = f'<a href="{html.escape(quote.url, quote=True)}">{html.escape(name, quote=False)}</a>'
    return html.escape(prefix, quote=False) + link + html.escape(rest, quote=False)


def citation_text(quote: Quote, rank: int, language: str = "en") -> str:
    """`[n] title, date, ¶range, "section"`: the same citation as every other front end."""
    return f"[{rank}] {citation(quote, language)}"


def split_html_blocks(blocks: list[str], limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Pack well-formed HTML blocks into as few messages as fit, in order.

    Blocks are joined with a blank line and never split, so no message ends inside a tag or an
    entity. A block that doesn't fit even on its own is truncated (see `truncate_html`).
    """
    messages: list[str] = []
    current: list[str] = []
    used = 0
    separator = utf16_len(BLOCK_SEPARATOR)
    for block in blocks:
        if not block.strip():
            continue
        block = truncate_html(block, limit)
        size = visible_length(block)
        if current and used + separator + size > limit:
            messages.append(BLOCK_SEPARATOR.join(current))
            current, used = [], 0
        used += (separator if current else 0) + size
        current.append(block)
    if current:
        messages.append(BLOCK_SEPARATOR.join(current))
    return messages


def visible_length(html_text: str) -> int:
    """Length of `html_text` after entity parsing (tags dropped, entities decoded), in UTF-16."""
    return utf16_len(visible_text(html_text))


def visible_text(html_text: str) -> str:
    """The text Telegram shows for `html_text`: tags dropped, character references decoded."""
    parser = _Tokenizer()
    parser.feed(html_text)
    parser.close()
    return "".join(value for kind, value, _ in parser.tokens if kind == "data")


def utf16_len(text: str) -> int:
    """Telegram measures text and entity offsets in UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def truncate_text(text: str, limit: int) -> str:
    """`text` if it fits in `limit` UTF-16 units, else a prefix cut at a word boundary + "…"."""
    if utf16_len(text) <= limit:
        return text
    if limit < 1:
        return ""
    prefix = _utf16_prefix(text, limit - utf16_len(ELLIPSIS))
    cut_inside_word = not text[len(prefix)].isspace()
    last_word = _LAST_WORD.search(prefix)
    # Back up to the last space, unless that would throw away most of the text (one huge word).
    if cut_inside_word and last_word and last_word.start() > len(prefix) // 2:
        prefix = prefix[: last_word.start()]
    return prefix.rstrip() + ELLIPSIS


def truncate_html(html_text: str, limit: int) -> str:
    """Shorten well-formed HTML to `limit` visible UTF-16 units, keeping it well-formed.

    Text is cut at a word boundary, "…" appended and every open tag closed; tags and character
    references are never cut. Returns `html_text` unchanged when it already fits.
    """
    if visible_length(html_text) <= limit:
        return html_text
    parser = _Tokenizer()
    parser.feed(html_text)
    parser.close()
    out: list[str] = []
    open_tags: list[str] = []
    room = limit
    for kind, value, raw in parser.tokens:
        if kind == "start":
            out.append(raw)
            open_tags.append(value)
        elif kind == "end":
            out.append(f"</{value}>")
            if open_tags and open_tags[-1] == value:
                open_tags.pop()
        elif utf16_len(value) <= room:
            out.append(html.escape(value, quote=False))
            room -= utf16_len(value)
        else:
            out.append(html.escape(truncate_text(value, room), quote=False))
            break
    out += [f"</{tag}>" for tag in reversed(open_tags)]
    return "".join(out)


def _utf16_prefix(text: str, units: int) -> str:
    """Longest prefix of `text` within `units` UTF-16 code units, never half a surrogate pair."""
    data = text.encode("utf-16-le")[: 2 * max(units, 0)]
    if len(data) >= 2 and 0xD800 <= int.from_bytes(data[-2:], "little") <= 0xDBFF:
        data = data[:-2]
    return data.decode("utf-16-le")


class _Tokenizer(HTMLParser):
    """Splits HTML into (kind, value, raw) tokens: kind "start"/"end" with the tag name as value,
    or "data" with the decoded text. `raw` keeps a start tag as written, to re-emit it verbatim."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tokens.append(("start", tag, self.get_starttag_text() or f"<{tag}>"))

    def handle_endtag(self, tag: str) -> None:
        self.tokens.append(("end", tag, f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        self.tokens.append(("data", data, data))
