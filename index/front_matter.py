"""The `---` metadata block at the top of an article file, as `key -> value`.

newsbot writes `title`, `date`, `url`, `source`, `feed` and `author` there for articles from
feeds and web pages (`index.feeds.write`); answers link a quote to the article's `url`.
"""

from __future__ import annotations

MAX_LINES = 40  # the block must close within this many lines (as index.cleaning reads it)


def front_matter(raw: str) -> dict[str, str]:
    """Keys (lower-case) and values of the block; empty when the file has none."""
    text = raw.lstrip("\ufeff \t\r\n")
    if not text.startswith("---"):
        return {}
    lines = text.splitlines()
    if lines[0].strip() != "---":
        return {}
    values: dict[str, str] = {}
    for line in lines[1:MAX_LINES]:
        if line.strip() == "---":
            return values
        key, colon, value = line.partition(":")
        if colon and key.strip():
            values.setdefault(key.strip().lower(), value.strip().strip("\"'"))
    return {}  # never closed: not a metadata block


def article_url(raw: str) -> str | None:
    """The article's link from its front matter (`url`, else `source`), http(s) only."""
    meta = front_matter(raw)
    for key in ("url", "source"):
        value = meta.get(key, "")
        if value.lower().startswith(("http://", "https://")) and " " not in value:
            return value
    return None
