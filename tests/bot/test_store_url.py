"""A `NEWSBOT_STORE` URL that libpq cannot read: every command ends with one line naming the
problem, the password replaced by `***`, exit non-zero, no traceback (issue 32)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli
from index.stores import open_store, redacted, url_problem
from index.stores.base import StoreError
from tests.conftest import ROOT

# (URL, the secret that must never show, what the message must name)
BAD_URLS = [
    ("postgresql://newsbot:Se%ZZcret@db.invalid/news", "Se%ZZcret", "%25"),
    ("postgresql://newsbot:Se cret@db.invalid/news", "Se cret", "%20"),
    ("postgresql://newsbot:Secret@db.invalid:54x2/news", "Secret", "port"),
    ("postgresql://newsbot:Se@cret@db.invalid/news", "cret", "%40"),
]
COMMANDS = [["index"], ["ask", "Who?"], ["ask", "--json"], ["watch"], ["telegram"], ["chat"]]


def secret_parts(secret: str) -> list[str]:
    return [secret, *(part for part in secret.replace("@", " ").split() if len(part) > 2)]


@pytest.mark.parametrize(("url", "secret", "named"), BAD_URLS)
@pytest.mark.parametrize("command", [*COMMANDS, ["eval", "gold.jsonl"]])
def test_every_command_names_the_problem_without_the_password(
    url: str,
    secret: str,
    named: str,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSBOT_STORE", url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    (tmp_path / "gold.jsonl").write_text("")

    code = cli.main(command)

    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "NEWSBOT_STORE" in err and named in err and "***" in err
    assert not any(part in err for part in secret_parts(secret)), err


@pytest.mark.parametrize(("url", "secret", "named"), BAD_URLS[:3])
def test_the_real_process_prints_one_line_and_no_traceback(
    url: str, secret: str, named: str, tmp_path: Path
):
    env = {**os.environ, "NEWSBOT_STORE": url}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "index"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr
    assert secret not in done.stderr


@pytest.mark.parametrize(("url", "secret", "named"), BAD_URLS)
def test_opening_the_store_directly_hides_the_password_too(url: str, secret: str, named: str):
    """Code that skips the settings (a script, `copy_index`) gets an `StoreError`."""
    with pytest.raises(StoreError) as raised:
        open_store(url)
    assert named in str(raised.value) and "***" in str(raised.value)
    assert not any(part in str(raised.value) for part in secret_parts(secret))


def test_good_urls_pass_and_keep_their_shape():
    for url in (
        "postgresql://newsbot:S%25e%20cret@db:5432/news?options=-csearch_path%3Dde,public",
        "postgres://db/news",
        "postgresql:///news",
        "postgresql://[::1]:5432/news",
        "postgresql://a:1,b:2/news",
    ):
        assert url_problem(url) is None, url
    assert (
        redacted("postgresql://u:p%40ss@h/db?password=x&sslmode=require")
        == "postgresql://u:***@h/db?password=***&sslmode=require"
    )
