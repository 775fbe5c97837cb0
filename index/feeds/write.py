"""An article -> a Markdown file under `articles/feeds/<site>/<date>-<slug>.md`.

The front matter carries `title`, `date` (ISO 8601), `url`, `source`, `feed` and `author`, one
`key: value` line each (what `index.cleaning` and `index.front_matter` read); the body is the
paragraphs separated by blank lines. Files are written atomically, so a crash leaves the old
file or the new one, never half of one.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from index.feeds.extract import Article
from index.files import atomic_write

FEEDS_FOLDER = "feeds"
MAX_SLUG_CHARS = 60
FRONT_MATTER_KEYS = ("title", "date", "url", "source", "feed", "author")

_UNSAFE = re.compile(r"[^a-z0-9]+")


def render(article: Article) -> str:
    """The file's text: front matter, then the paragraphs."""
    lines = ["---"]
    for key in FRONT_MATTER_KEYS:
        value = getattr(article, key)
        if value:
            lines.append(f"{key}: {' '.join(str(value).split())}")
    lines.append("---")
    body = [p for p in article.paragraphs if p.strip()]
    return "\n".join(lines) + "\n\n" + "\n\n".join(body) + "\n"


def slug(text: str | None, limit: int = MAX_SLUG_CHARS) -> str:
    """`Merz trifft Macron in Paris` -> `merz-trifft-macron-in-paris` (ASCII, short)."""
    folded = unicodedata.normalize("NFKD", (text or "").replace("ß", "ss"))
    ascii_text = folded.encode("ascii", "ignore").decode().lower()
    words = _UNSAFE.sub("-", ascii_text).strip("-")
    if len(words) > limit:
        words = words[:limit].rsplit("-", 1)[0]
    return words or "article"


def article_path(article: Article, now: datetime | None = None) -> str:
    """Where a new article goes, relative to the articles folder (POSIX separators)."""
    site = slug(article.site or "web", 40)
    day = (article.date or "")[:10] or f"{(now or datetime.now(UTC)):%Y-%m-%d}"
    return f"{FEEDS_FOLDER}/{site}/{day}-{slug(article.title)}.md"


def free_path(articles_dir: Path, wanted: str, taken: set[str] | None = None) -> str:
    """`wanted`, or `…-2.md`, `…-3.md` when another story has that name already."""
    stem, suffix = wanted.rsplit(".", 1)
    candidate, number = wanted, 1
    while (articles_dir / candidate).exists() or candidate in (taken or set()):
        number += 1
        candidate = f"{stem}-{number}.{suffix}"
    return candidate


def write_article(articles_dir: Path, path: str, text: str) -> None:
    """Write (or replace) the article file atomically, creating its folders."""
    target = articles_dir / path
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, text)
