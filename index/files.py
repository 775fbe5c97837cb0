"""Finding and reading article files; a bad file is reported with a reason, never fatal."""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import shlex
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

TEXT_SUFFIXES = frozenset({".txt", ".md"})
PAGE_SUFFIXES = frozenset({".html", ".htm"})  # saved web pages: the article is extracted
ARTICLE_SUFFIXES = TEXT_SUFFIXES | PAGE_SUFFIXES
MAX_ARTICLE_BYTES = 2_000_000  # a news article is a few kB; anything this big is not one
MAX_PAGE_BYTES = 10_000_000  # a saved page carries markup, scripts and styles besides
_CP1252_PUNCTUATION = frozenset("€‚„…†‡‰‹›‘’“”•–—˜™¡¢£¥§¨©«¬\xad®°±´µ¶·¸»¿×÷\xa0")


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


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) so that a reader sees the old file or the whole new
    one, also after a crash: a uniquely named temporary file, fsynced, then renamed."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable (the entry, not only the data)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Discovery:
    files: list[Path] = field(default_factory=list)  # sorted
    problems: list[SkippedFile] = field(default_factory=list)  # links that lead nowhere


def discover(articles_dir: Path) -> list[Path]:
    """Article files below `articles_dir`, sorted; hidden files and folders are ignored."""
    return scan(articles_dir).files


def scan(articles_dir: Path) -> Discovery:
    """Article files below `articles_dir`, and the links that could not be followed.

    Symbolic links are followed, each folder is read once: the real folders first, then those
    behind links; a link to a folder already read (a loop, or a second route to it) is
    reported, as is a link to nothing. Hidden files and folders (editors' swap files, partial
    downloads, .git) are ignored.
    """
    found = Discovery()
    if not articles_dir.is_dir():
        return found
    visited = {_identity(articles_dir)}
    pending = [articles_dir]
    linked: list[Path] = []  # folders reached through a link: read after the real tree
    while pending or linked:
        folder = pending.pop() if pending else linked.pop()
        try:
            identity = _identity(folder)
            if folder != articles_dir and identity in visited:  # only ever through a link
                reason = f"a second route to a folder already read ({_route(folder)})"
                found.problems.append(_problem(articles_dir, folder, reason))
                continue
            visited.add(identity)
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:  # removed or unreadable meanwhile
            found.problems.append(_problem(articles_dir, folder, f"cannot list: {exc.strerror}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()  # both follow links; False for a link to nothing
                is_file = not is_dir and entry.is_file()
            except OSError:  # links in a circle
                is_dir = is_file = False
            if entry.is_symlink() and not (is_dir or is_file):
                if path.suffix.lower() in ARTICLE_SUFFIXES or not path.suffix:
                    found.problems.append(_problem(articles_dir, path, broken_link_reason(path)))
                continue
            if is_dir:
                (linked if entry.is_symlink() else pending).append(path)
            elif is_file and path.suffix.lower() in ARTICLE_SUFFIXES:
                found.files.append(path)
    found.files.sort()
    found.problems.sort(key=lambda problem: problem.path)
    return found


def _identity(folder: Path) -> tuple[int, int]:
    info = folder.stat()
    return info.st_dev, info.st_ino


def _problem(articles_dir: Path, path: Path, reason: str) -> SkippedFile:
    return SkippedFile(relative_name(articles_dir, path), reason)


def _route(folder: Path) -> str:
    """What a folder reached twice points at: the link's target, or the real folder."""
    return _target(folder) if folder.is_symlink() else str(folder.resolve())


def _target(link: Path) -> str:
    try:
        return os.readlink(link)
    except OSError:
        return "?"


def broken_link_reason(link: Path) -> str:
    """Why a link leads nowhere: its target is missing, or links point at each other."""
    try:
        link.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"link loop ({link.name} -> {_target(link)})"
        if exc.errno == errno.ENOENT:
            return f"broken link to {_target(link)} (nothing there)"
        return f"cannot follow link to {_target(link)}: {exc.strerror or exc}"
    return f"link to {_target(link)}, neither a file nor a folder"


def relative_name(articles_dir: Path, path: Path) -> str:
    return path.relative_to(articles_dir).as_posix()


def decode_article(data: bytes, name: str = "article.txt") -> str:
    """Raise ValueError with a human reason unless `data` looks like a text article; `name`
    (the file's) goes into the command that converts a file in another encoding."""
    if not data.strip():
        raise ValueError("empty file")
    if len(data) > MAX_ARTICLE_BYTES:
        raise ValueError(f"too large ({len(data):,} bytes; limit {MAX_ARTICLE_BYTES:,})")
    if _looks_like_utf16(data):
        raise ValueError(f"UTF-16 text, not UTF-8; {_convert_hint('UTF-16', name)}")
    if b"\x00" in data:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = f"not valid UTF-8 (byte {exc.start}, line {line})"
        if _looks_like_windows_1252(data):
            raise ValueError(
                f"{where}: it looks like Windows-1252/Latin-1 text; "
                f"{_convert_hint('WINDOWS-1252', name)}"
            ) from None
        raise ValueError(f"{where}; save it as UTF-8") from None
    if not text.strip():
        raise ValueError("empty file")
    return text


def _looks_like_utf16(data: bytes) -> bool:
    """A UTF-16 text (as some Windows editors save): a byte-order mark, and mostly Latin,
    Greek or Cyrillic letters once decoded (random bytes decode to rare CJK code points)."""
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    try:
        text = data.decode("utf-16")
    except UnicodeDecodeError:
        return False
    return sum(ord(char) < 0x0530 for char in text) >= 0.9 * len(text)


def _looks_like_windows_1252(data: bytes) -> bool:
    """Western European 8-bit text: decodes as Windows-1252 (a superset of Latin-1's printable
    range) and every non-ASCII character is a letter or typographic punctuation (ä, é, „, –,
    €), not the symbols other code pages' letters would turn into (³, ¹, ¾)."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return all(char.isalpha() or char in _CP1252_PUNCTUATION for char in text if ord(char) > 127)


def _convert_hint(encoding: str, name: str) -> str:
    path = PurePosixPath(name)
    source, converted = shlex.quote(name), shlex.quote(str(path.with_suffix(".utf8")))
    return (
        f"save it as UTF-8, e.g. in the articles folder: "
        f"iconv -f {encoding} -t UTF-8 {source} > {converted} && mv {converted} {source}"
    )


def read_article(articles_dir: Path, path: Path) -> ArticleFile | SkippedFile:
    name = relative_name(articles_dir, path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return SkippedFile(name, f"cannot read: {exc.strerror or exc}")
    try:
        if path.suffix.lower() in PAGE_SUFFIXES:
            text = page_article(data)
        else:
            text = decode_article(data, name)
    except ValueError as exc:
        return SkippedFile(name, str(exc))
    return ArticleFile(name, text, content_hash(data))


def page_article(data: bytes) -> str:
    """A saved web page as the article text newsbot indexes: the page's article extracted
    (index.feeds.extract) and written as a feed article is (front matter with title, date,
    author, site and the page's canonical URL, then the paragraphs). Quotes from it point into
    this text, which the index keeps. Raises ValueError with the reason when there is none."""
    from index.feeds.extract import extract_page
    from index.feeds.write import render

    if not data.strip():
        raise ValueError("empty file")
    if len(data) > MAX_PAGE_BYTES:
        raise ValueError(f"too large ({len(data):,} bytes; limit {MAX_PAGE_BYTES:,})")
    return render(extract_page(data))
