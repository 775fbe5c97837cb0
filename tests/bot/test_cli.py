"""`newsbot index` through the real entry point (with the fake embedder for speed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli
from index.lock import WriterLock
from index.stores import open_store
from tests.fakes.embedder import FakeEmbedder, use_fake_model


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, articles_dir: Path, index_dir: Path, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    embedder = FakeEmbedder()

    def run(*args: str) -> int:
        return cli.main([*args, "--articles", str(articles_dir), "--index", str(index_dir)])

    with use_fake_model(lambda: embedder):
        yield run


def test_index_then_rerun(run, capsys: pytest.CaptureFixture[str]):
    assert run("index") == 0
    assert "added 5, updated 0, removed 0" in capsys.readouterr().err
    assert run("index") == 0
    assert "unchanged 5" in capsys.readouterr().err


@pytest.mark.parametrize("paragraphs_only", ["0", "1"])
def test_index_stores_what_answers_read_unless_paragraphs_only_is_set(
    run, monkeypatch: pytest.MonkeyPatch, index_dir: Path, paragraphs_only: str
):
    monkeypatch.setenv("NEWSBOT_INDEX_PARAGRAPHS_ONLY", paragraphs_only)
    assert run("index") == 0
    store = open_store(index_dir, FakeEmbedder().model_id)
    ids = [i for a in store.articles() for i in store.article_chunk_ids(a.path)]
    stored = store.sentence_vectors(ids)
    assert len(stored) == (0 if paragraphs_only == "1" else len(ids))


def test_index_reports_skipped_files(run, articles_dir: Path, capsys):
    (articles_dir / "broken.txt").write_bytes(b"\xff\xfe garbage \x00")
    assert run("index") == 0
    err = capsys.readouterr().err
    assert "broken.txt" in err and "binary" in err and "skipped 1" in err


def test_index_refuses_while_another_writer_holds_the_lock(run, index_dir: Path, capsys):
    with WriterLock(index_dir):
        assert run("index") == 1
    assert "being written by another newsbot process" in capsys.readouterr().err


def test_index_built_with_another_model_asks_for_rebuild(
    run, monkeypatch: pytest.MonkeyPatch, capsys
):
    assert run("index") == 0
    with use_fake_model(lambda: FakeEmbedder(model_id="other")):
        assert run("index") == 1
    assert "newsbot index --rebuild" in capsys.readouterr().err
    assert run("index", "--rebuild") == 0


def test_ask_without_an_index_says_how_to_build_one(run, capsys):
    assert run("ask", "Wer reist nach Moskau?") == 1
    assert "newsbot index" in capsys.readouterr().err


def test_index_with_a_missing_articles_folder_changes_nothing(run, articles_dir: Path, capsys):
    assert run("index") == 0
    articles_dir.rename(articles_dir.with_name("moved"))
    assert run("index") == 1
    assert "does not exist" in capsys.readouterr().err
    articles_dir.with_name("moved").rename(articles_dir)
    assert run("index") == 0
    assert "unchanged 5" in capsys.readouterr().err


def test_ask_applies_the_over_long_rule_of_every_front_end(run, capsys):
    assert run("index") == 0
    capsys.readouterr()
    assert run("ask", "Warum " * 100) == 0
    out = capsys.readouterr().out
    assert out.startswith("That question is too long (600 characters). Please keep it under 500")
    assert "/sources" not in out


def test_each_skipped_file_is_reported_once(articles_dir: Path, index_dir: Path, tmp_path: Path):
    """index.sync logs the skip and the command prints the report: only one may reach stderr."""
    import subprocess
    import sys

    from tests.bot.test_chat import clean_env
    from tests.bot.test_follow_index import NEWSBOT

    (articles_dir / "broken.txt").write_bytes(b"\xff\xfe garbage \x00")
    dirs = ["--articles", str(articles_dir), "--index", str(index_dir)]
    result = subprocess.run(
        [sys.executable, "-c", NEWSBOT, "index", *dirs],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("broken.txt") == 1
    assert "skipped 1" in result.stderr


def test_a_reader_that_leaves_early_ends_the_command_quietly(run, monkeypatch, capsys):
    def closed_pipe(args, settings) -> int:
        raise BrokenPipeError  # what print() raises when `| head` has exited

    monkeypatch.setitem(cli.COMMANDS, "eval", closed_pipe)
    assert run("eval", "questions.jsonl") == cli.EXIT_OK
    assert capsys.readouterr().err == ""
