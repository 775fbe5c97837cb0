"""A web page (or a feed's HTML) -> an article: title, date, author, site, canonical URL and
its paragraphs. trafilatura finds the article in the page and reads its metadata (its date
finder is htmldate); a feed's own full text is a fragment, read with lxml directly."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

MIN_FULL_TEXT_CHARS = 800  # a feed's text at least this long is the article, not a teaser
MIN_FULL_TEXT_PARAGRAPHS = 3

_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ExtractError(ValueError):
    """No article text could be found in the page."""


@dataclass(frozen=True, slots=True)
class Article:
    """What is written to the articles folder. `paragraphs` are plain text; a heading is a
    paragraph starting with `## `."""

    title: str | None
    date: str | None  # ISO 8601: a date, or a date-time in UTC
    author: str | None
    site: str | None
    url: str | None  # canonical
    paragraphs: tuple[str, ...]
    source: str | None = None  # where it came from: the feed entry's link, the page's address
    feed: str | None = None  # the feed's URL, for articles from a feed

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def extract_page(html: bytes | str, url: str | None = None) -> Article:
    """The article in a whole page; raises `ExtractError` when it has no article text."""
    import trafilatura

    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        deduplicate=False,
    )
    if document is None or document.body is None:
        raise ExtractError("no article text found in the page")
    paragraphs = _body_paragraphs(document.body)
    if not paragraphs:
        raise ExtractError("no article text found in the page")
    date = document.date if document.date and _DATE.fullmatch(document.date) else None
    canonical = document.url if _is_web(document.url) else url
    return Article(
        title=_one_line(document.title),
        date=date,
        author=_one_line(document.author),
        site=_one_line(document.sitename) or _host(canonical),
        url=canonical,
        paragraphs=tuple(paragraphs),
        source=url,
    )


def fragment_paragraphs(html: str) -> list[str]:
    """The paragraphs of an HTML fragment (a feed entry's content or summary)."""
    import lxml.html
    from lxml.etree import ParserError

    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ParserError, ValueError):
        return [t] if (t := _one_line(html)) else []
    paragraphs: list[str] = []
    loose: list[str] = []  # text outside any block element

    def flush() -> None:
        if text := _one_line(" ".join(loose)):
            paragraphs.append(text)
        loose.clear()

    def walk(element) -> None:
        if element.text:
            loose.append(element.text)
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in ("script", "style"):
                pass
            elif tag in _BLOCKS:
                flush()
                text = _one_line(child.text_content())
                if text:
                    paragraphs.append(f"## {text}" if tag in _HEADINGS else text)
            elif tag == "br" and child.getnext() is not None and child.getnext().tag == "br":
                flush()
            else:
                walk(child)
                continue  # walk() took the child's tail into account already
            if child.tail:
                loose.append(child.tail)
        if element is not root and element.tail:
            loose.append(element.tail)

    walk(root)
    flush()
    return paragraphs


def is_full_text(paragraphs: list[str]) -> bool:
    """Is a feed's text the whole article (not a teaser that links to it)?"""
    body = [p for p in paragraphs if not p.startswith("## ")]
    chars = sum(len(p) for p in body)
    return chars >= MIN_FULL_TEXT_CHARS or (
        len(body) >= MIN_FULL_TEXT_PARAGRAPHS and chars >= MIN_FULL_TEXT_CHARS // 2
    )


def with_feed_metadata(article: Article, **known: str | None) -> Article:
    """`article` with what the feed says where the page said nothing."""
    changes = {k: v for k, v in known.items() if v and not getattr(article, k)}
    return replace(article, **changes) if changes else article


def _body_paragraphs(body) -> list[str]:
    """trafilatura's cleaned tree (`head`, `p`, `list/item`, `quote`, ...) as paragraphs."""
    paragraphs: list[str] = []
    for element in body:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "list":
            items = [_one_line("".join(item.itertext())) for item in element.iter("item")]
            paragraphs.extend(f"- {item}" for item in items if item)
            continue
        text = _one_line("".join(element.itertext()))
        if not text:
            continue
        paragraphs.append(f"## {text}" if tag == "head" else text)
    return paragraphs


def _one_line(text: str | None) -> str | None:
    if not text:
        return None
    return " ".join(text.split()) or None


def _is_web(url: str | None) -> bool:
    return bool(url) and url.lower().startswith(("http://", "https://"))  # type: ignore[union-attr]


def _host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None
