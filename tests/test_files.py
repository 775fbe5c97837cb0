"""Reading article files: what is accepted, what is skipped and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.files import ArticleFile, SkippedFile, decode_article, discover, read_article


def test_discover_finds_txt_and_md_recursively_and_ignores_hidden(tmp_path: Path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.MD").write_text("x")
    (tmp_path / ".c.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "d.txt").write_text("x")
    (tmp_path / "e.pdf").write_text("x")

    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)] == [
        "a.txt",
        "sub/b.MD",
    ]


def test_missing_folder_has_no_articles(tmp_path: Path):
    assert discover(tmp_path / "nope") == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b" \n\t\n", "empty"),
        (b"abc\x00def", "binary"),
        (b"Gespr\xe4ch", "UTF-8"),
        (b"x" * 2_000_001, "too large"),
    ],
)
def test_bad_content_is_rejected_with_a_reason(data: bytes, reason: str):
    with pytest.raises(ValueError, match=reason):
        decode_article(data)


def test_read_article_keeps_the_text_as_stored(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes("\ufeffÜber den Frieden.\r\n".encode())
    article = read_article(tmp_path, tmp_path / "a.txt")
    assert isinstance(article, ArticleFile)
    assert article.text == "\ufeffÜber den Frieden.\r\n"  # offsets point into exactly this
    assert len(article.content_hash) == 64


def test_read_article_reports_instead_of_raising(tmp_path: Path):
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    result = read_article(tmp_path, tmp_path / "bad.txt")
    assert isinstance(result, SkippedFile) and result.path == "bad.txt"
