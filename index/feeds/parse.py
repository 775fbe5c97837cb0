"""A feed document -> its entries, with feedparser (RSS 0.9x/1.0/2.0, Atom; lenient about XML
and character sets, as the feeds people subscribe to need)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

FEED_TYPES = ("xml", "rss", "atom", "rdf")


class FeedParseError(ValueError):
    """The document is no feed; the message says what it is instead."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed, as announced (the page behind `link` may say more)."""

    guid: str | None
    link: str | None
    title: str | None
    published: str | None  # ISO 8601 (UTC) or None
    author: str | None
    content: str | None  # HTML of the full text the feed carries (content:encoded, atom content)
    summary: str | None  # HTML of the description / summary

    @property
    def signature(self) -> str:
        """What changes when the feed announces a new version of the entry."""
        import hashlib

        parts = [self.link, self.title, self.published, self.content, self.summary]
        return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    link: str | None
    entries: list[Entry]
    problems: list[str] = field(default_factory=list)  # entries left out, and why


def parse_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Entries of the feed in `body`; raises `FeedParseError` when it is not a feed."""
    import feedparser

    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.entries and (not parsed.get("version") or _is_xml_error(error)):
        raise FeedParseError(_not_a_feed(body, parsed, content_type, url))
    entries: list[Entry] = []
    problems: list[str] = []
    if _is_xml_error(error):
        problems.append(f"malformed feed XML ({error}); its entries were read leniently")
    guids: set[str] = set()
    for number, item in enumerate(parsed.entries, 1):
        entry = _entry(item)
        name = entry.title or entry.link or entry.guid or f"entry {number}"
        if entry.link is None and entry.content is None and entry.summary is None:
            problems.append(f"entry {number} ({name}): no link and no text; left out")
            continue
        if entry.guid is not None:
            if entry.guid in guids:
                problems.append(
                    f"entry {number} ({name}): duplicate GUID {entry.guid!r}; the first kept"
                )
                continue
            guids.add(entry.guid)
        entries.append(entry)
    feed = parsed.get("feed", {})
    return ParsedFeed(feed.get("title") or None, feed.get("link") or None, entries, problems)


def _entry(item: dict) -> Entry:
    link = _clean(item.get("link"))
    if link and not link.lower().startswith(("http://", "https://")):
        link = None
    content = None
    for part in item.get("content") or []:
        value = part.get("value")
        if value and value.strip():
            content = value
            break
    summary = item.get("summary") or None
    if content is not None and summary is not None and content.strip() == summary.strip():
        summary = None
    author = _clean(item.get("author"))
    return Entry(
        guid=_clean(item.get("id")),
        link=link,
        title=_clean(_strip_tags(item.get("title") or "")) or None,
        published=_iso(item.get("published_parsed") or item.get("updated_parsed")),
        author=author,
        content=content,
        summary=summary,
    )


def _iso(value: object) -> str | None:
    if not value:
        return None
    try:
        moment = datetime.fromtimestamp(calendar.timegm(value), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return moment.isoformat().replace("+00:00", "Z")


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


_TAG = re.compile(r"<[^>]+>")


def _strip_tags(text: str) -> str:
    return _TAG.sub(" ", text)


def _not_a_feed(body: bytes, parsed: dict, content_type: str, url: str) -> str:
    head = body[:2048].lstrip().lower()
    if not body.strip():
        return "empty response, not a feed"
    if "html" in content_type or head.startswith((b"<!doctype html", b"<html")):
        found = feed_links(body, url)
        hint = f"; the page names its feed: {found[0]}" if found else ""
        return f"an HTML page, not an RSS or Atom feed{hint}"
    if not head.startswith(b"<"):
        return f"not an RSS or Atom feed (the response is {content_type or 'not XML'})"
    error = parsed.get("bozo_exception")
    if error is not None:
        return f"malformed feed XML: {error}"
    return "not an RSS or Atom feed"


def _is_xml_error(error: object) -> bool:
    """A syntax error, not merely a character set the document corrected (feedparser's
    CharacterEncodingOverride: the declared one was wrong or missing, the text is fine)."""
    if error is None:
        return False
    import feedparser

    return not isinstance(
        error, (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
    )


_ALTERNATE = re.compile(
    rb"<link\b[^>]*\btype=[\"']application/(?:rss|atom)\+xml[\"'][^>]*>", re.IGNORECASE
)
_HREF = re.compile(rb"\bhref=[\"']([^\"']+)[\"']", re.IGNORECASE)


def feed_links(html: bytes, base: str = "") -> list[str]:
    """The feeds a web page announces (`<link rel="alternate" type="application/rss+xml">`),
    as absolute URLs."""
    from urllib.parse import urljoin

    found = []
    for tag in _ALTERNATE.findall(html[:200_000]):
        href = _HREF.search(tag)
        if href:
            found.append(urljoin(base, href.group(1).decode("utf-8", "replace").strip()))
    return found
