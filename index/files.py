"""Finding and reading article files; a bad file is reported with a reason, never fatal."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

ARTICLE_SUFFIXES = frozenset({".txt", ".md"})
MAX_ARTICLE_BYTES = 2_000_000  # a news article is a few kB; anything this big is not one


@dataclass(frozen=True, slots=True)
class ArticleFile:
    path: str  # relative to the articles folder, POSIX separators
    text: str  # decoded UTF-8 exactly as stored (offsets of quotes point into this)
    content_hash: str  # sha256 of the raw bytes


@dataclass(frozen=True, slots=True)
class SkippedFile:
    path: str
    reason: str


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable (the entry, not only the data)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def discover(articles_dir: Path) -> list[Path]:
    """Article files below `articles_dir`, sorted; hidden files and folders are ignored."""
    if not articles_dir.is_dir():
        return []
    found = []
    for path in articles_dir.rglob("*"):
        relative = path.relative_to(articles_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue  # editors' swap files, partial downloads, .git
        if path.suffix.lower() in ARTICLE_SUFFIXES and path.is_file():
            found.append(path)
    return sorted(found)


def relative_name(articles_dir: Path, path: Path) -> str:
    return path.relative_to(articles_dir).as_posix()


def decode_article(data: bytes) -> str:
    """Raise ValueError with a human reason unless `data` looks like a text article."""
    if not data.strip():
        raise ValueError("empty file")
    if len(data) > MAX_ARTICLE_BYTES:
        raise ValueError(f"too large ({len(data):,} bytes; limit {MAX_ARTICLE_BYTES:,})")
    if b"\x00" in data:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise ValueError("empty file")
    return text


def read_article(articles_dir: Path, path: Path) -> ArticleFile | SkippedFile:
    name = relative_name(articles_dir, path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return SkippedFile(name, f"cannot read: {exc.strerror or exc}")
    try:
        text = decode_article(data)
    except ValueError as exc:
        return SkippedFile(name, str(exc))
    return ArticleFile(name, text, content_hash(data))
