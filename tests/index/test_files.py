"""Reading article files: what is accepted, what is skipped and why."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import cli
from index.files import ArticleFile, SkippedFile, decode_article, discover, read_article, scan
from index.sync import sync_index
from tests.fakes.embedder import use_fake_model


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


# --- encodings: a hint how to convert ----------------------------------------------------------


def test_latin1_file_gets_a_conversion_hint_with_its_name() -> None:
    data = "Gespräch über „Frieden“ – am Dienstag.".encode("cp1252")
    with pytest.raises(ValueError, match="Windows-1252") as error:
        decode_article(data, "2025/märz.txt")
    reason = str(error.value)
    assert "not valid UTF-8 (byte 5, line 1)" in reason
    assert "iconv -f WINDOWS-1252 -t UTF-8 '2025/märz.txt' > '2025/märz.utf8'" in reason


def test_other_8bit_text_gets_no_windows_1252_guess() -> None:
    data = "Zażółć gęślą jaźń: łódź, żółw.".encode("cp1250")  # Polish letters turn into ³, ¿
    with pytest.raises(ValueError, match="not valid UTF-8") as error:
        decode_article(data)
    assert "Windows-1252" not in str(error.value)


def test_utf16_file_is_named_as_such() -> None:
    with pytest.raises(ValueError, match=r"UTF-16 text, not UTF-8.*iconv -f UTF-16"):
        decode_article("Über den Frieden.\n".encode("utf-16"), "a.txt")


def test_read_article_puts_the_hint_in_the_skip_reason(tmp_path: Path) -> None:
    (tmp_path / "alt.txt").write_bytes("Grüße".encode("latin-1"))
    result = read_article(tmp_path, tmp_path / "alt.txt")
    assert isinstance(result, SkippedFile)
    assert "Windows-1252" in result.reason and "alt.txt > alt.utf8" in result.reason


# --- links: followed once, or reported ---------------------------------------------------------


def names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_a_linked_folder_and_a_linked_file_are_read(tmp_path: Path) -> None:
    outside, root = tmp_path / "elsewhere", tmp_path / "articles"
    outside.mkdir()
    root.mkdir()
    (outside / "b.txt").write_text("x")
    (root / "a.txt").write_text("x")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "c.md").symlink_to(outside / "b.txt")

    found = scan(root)
    assert names(found.files, root) == ["a.txt", "c.md", "linked/b.txt"]
    assert found.problems == []


def test_a_link_loop_is_reported_once_and_not_followed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("x")
    (tmp_path / "sub" / "up").symlink_to("..", target_is_directory=True)
    (tmp_path / "again").symlink_to("sub", target_is_directory=True)

    found = scan(tmp_path)
    assert names(found.files, tmp_path) == ["sub/a.txt"]  # the real folder wins
    assert [p.path for p in found.problems] == ["again", "sub/up"]
    assert all("a second route to a folder already read" in p.reason for p in found.problems)


def test_a_link_out_of_the_folder_and_back_reads_nothing_twice(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    root.mkdir()
    (root / "a.txt").write_text("x")
    (root / "parent").symlink_to("..", target_is_directory=True)  # contains articles/ again

    found = scan(root)
    assert names(found.files, root) == ["a.txt"]
    assert [p.path for p in found.problems] == ["parent/articles"]


def test_broken_and_circular_links_are_reported(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    (tmp_path / "gone-folder").symlink_to(tmp_path / "nothing", target_is_directory=True)
    (tmp_path / "x.md").symlink_to(tmp_path / "y.md")
    (tmp_path / "y.md").symlink_to(tmp_path / "x.md")
    (tmp_path / "picture.jpg").symlink_to(tmp_path / "nowhere.jpg")  # not an article: ignored

    problems = {p.path: p.reason for p in scan(tmp_path).problems}
    assert set(problems) == {"gone.txt", "gone-folder", "x.md", "y.md"}
    assert "broken link" in problems["gone.txt"] and "deleted.txt" in problems["gone.txt"]
    assert "broken link" in problems["gone-folder"]
    assert "link loop" in problems["x.md"]
    assert discover(tmp_path) == []


def test_sync_reports_broken_links_as_skipped(tmp_path: Path, fake_embedder) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "a.txt").write_text("Die Regierung hat am Dienstag eine Reform angekündigt.")
    (articles / "b.txt").symlink_to(articles / "missing.txt")

    report = sync_index(articles, tmp_path / "index", fake_embedder)

    assert report.added == ["a.txt"]
    assert [(s.path, "broken link" in s.reason) for s in report.skipped] == [("b.txt", True)]


# --- each skip is reported once ----------------------------------------------------------------


def test_newsbot_index_reports_a_skipped_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, caplog, fake_embedder
) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "a.txt").write_text("Die Regierung hat am Dienstag eine Reform angekündigt.")
    (articles / "alt.txt").write_bytes("Grüße aus Köln.".encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.WARNING)

    with use_fake_model(lambda: fake_embedder):
        assert cli.main(["index", "--articles", str(articles), "--index", str(tmp_path / "i")]) == 0

    err = capsys.readouterr().err
    assert err.count("skipped alt.txt") == 1 and "Windows-1252" in err
    assert not [r for r in caplog.records if "alt.txt" in r.getMessage()]  # no second copy
