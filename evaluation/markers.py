"""Generated blocks in the docs pages: `make eval` and `make bench` rewrite the text between a
pair of HTML-comment markers and leave the prose around it as it is."""

from __future__ import annotations

from pathlib import Path

from index.files import atomic_write


class MarkerError(ValueError):
    """A page lacks its markers, or holds them more than once or out of order."""


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of the block called `name` (e.g. "make eval")."""
    return f"<!-- {name}: begin -->", f"<!-- {name}: end -->"


def replace_block(text: str, name: str, block: str) -> str:
    """`text` with what stands between the markers of `name` replaced by `block`.

    The markers stay, and everything outside them is returned unchanged. Raises `MarkerError`
    when either marker is missing, appears twice, or the end comes before the begin.
    """
    begin, end = markers(name)
    for marker in (begin, end):
        count = text.count(marker)
        if count != 1:
            raise MarkerError(
                f"expected one {marker!r}, found {count}: put {begin!r} and {end!r} on lines "
                "of their own where the generated block belongs"
            )
    start = text.index(begin) + len(begin)
    stop = text.index(end)
    if stop < start:
        raise MarkerError(f"{end!r} comes before {begin!r}")
    return text[:start] + "\n" + block.strip("\n") + "\n" + text[stop:]


def check_block(path: Path, name: str) -> None:
    """Raise `MarkerError` unless the page at `path` can take the block `name`: it is readable
    and holds the block's markers once each, in order. Run before a long measurement."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MarkerError(f"cannot read {path}: {error.strerror or error}") from error
    replace_block(text, name, "")


def write_block(path: Path, name: str, block: str) -> None:
    """Replace the block `name` in the file at `path`; the file is replaced in one rename, so a
    crash leaves the old page, and a page without the markers is left untouched (`MarkerError`)."""
    text = path.read_text(encoding="utf-8")
    updated = replace_block(text, name, block)
    if updated != text:
        atomic_write(path, updated)
