"""Feeds and pages the feed tests serve from a local pytest-httpserver: RSS 2.0 and Atom,
German and English, with and without full text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

GERMAN_FACT = "Im Hafen von Husum legte am Montag ein Forschungsschiff voller Seehunde an."
ENGLISH_FACT = "The ferry from Harwich carried four hundred bicycles across the North Sea."


@dataclass
class Item:
    title: str | None
    link: str | None
    guid: str | None = None
    published: datetime | None = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)
    content: str | None = None  # full text (content:encoded / atom content)
    summary: str | None = "Kurz gemeldet."


def rss(items: list[Item], title: str = "Testzeitung", encoding: str = "utf-8") -> bytes:
    parts = []
    for item in items:
        fields = []
        if item.title is not None:
            fields.append(f"<title>{escape(item.title)}</title>")
        if item.link is not None:
            fields.append(f"<link>{escape(item.link)}</link>")
        if item.guid is not None:
            fields.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.published is not None:
            fields.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        if item.summary is not None:
            fields.append(f"<description>{escape(item.summary)}</description>")
        if item.content is not None:
            fields.append(f"<content:encoded><![CDATA[{item.content}]]></content:encoded>")
        parts.append("<item>" + "".join(fields) + "</item>")
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{escape(title)}</title><link>https://zeitung.example/</link>"
        f"<description>Nachrichten</description>{''.join(parts)}</channel></rss>"
    )
    return text.encode(encoding)


def atom(items: list[Item], title: str = "The Test Gazette") -> bytes:
    parts = []
    for item in items:
        fields = [f"<id>{escape(item.guid or item.link or '')}</id>"]
        if item.title is not None:
            fields.append(f"<title>{escape(item.title)}</title>")
        if item.link is not None:
            fields.append(f'<link rel="alternate" href="{escape(item.link)}"/>')
        if item.published is not None:
            fields.append(f"<updated>{item.published.isoformat()}</updated>")
        if item.content is not None:
            fields.append(f'<content type="html">{escape(item.content)}</content>')
        if item.summary is not None:
            fields.append(f"<summary>{escape(item.summary)}</summary>")
        parts.append("<entry>" + "".join(fields) + "</entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:gazette</id>"
        f"<updated>2026-12-05T09:00:00Z</updated>{''.join(parts)}</feed>"
    ).encode()


def page(
    title: str,
    paragraphs: list[str],
    *,
    site: str = "Testzeitung",
    canonical: str | None = None,
    published: str = "2026-12-05T08:30:00+00:00",
    author: str = "Erika Muster",
    lang: str = "de",
) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    link = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(title)} | {escape(site)}</title>{link}"
        f'<meta property="og:site_name" content="{escape(site)}">'
        f'<meta property="og:title" content="{escape(title)}">'
        f'<meta name="author" content="{escape(author)}">'
        f'<meta property="article:published_time" content="{published}">'
        "</head><body><header><nav><a href='/'>Start</a> <a href='/politik'>Politik</a>"
        "</nav></header><main><article>"
        f"<h1>{escape(title)}</h1>{body}</article></main>"
        "<footer><p>Impressum · Datenschutz · Kontakt</p></footer></body></html>"
    )


GERMAN_PARAGRAPHS = [
    GERMAN_FACT + " Die Tiere waren vor der Küste von Pellworm verletzt aufgefunden worden.",
    "Nach Angaben der Seehundstation sollen sie in den kommenden Wochen gesund gepflegt und "
    "anschließend wieder in die Nordsee entlassen werden. Die Kosten trägt das Land.",
    "Fischer aus der Region hatten die Besatzung des Schiffes bei der Suche unterstützt. "
    "Sie meldeten die Fundorte per Funk an die Station in Friedrichskoog.",
]
ENGLISH_PARAGRAPHS = [
    ENGLISH_FACT + " Cycling clubs from three countries had booked the crossing months ago.",
    "The operator said the voyage was the largest group booking in the history of the route. "
    "Passengers were asked to arrive two hours early to load the bicycles safely.",
    "Local officials in the Dutch port welcomed the riders with a brass band and free coffee. "
    "The group plans to ride along the coast to Amsterdam over the next four days.",
]
