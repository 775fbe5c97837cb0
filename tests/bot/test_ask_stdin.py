"""`newsbot ask` reading standard input: bytes that are not UTF-8 cost nothing but
themselves (issue 32), and each line is answered before the next is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from index.sync import sync_index
from tests.conftest import ROOT
from tests.fakes.embedder import FakeEmbedder
from tests.index.test_pg_store import ANCHOR, ANCHOR_FACT, add_anchor

CLI_SCRIPT = """
import sys
import bot.cli
from tests.fakes.embedder import install
install()
sys.exit(bot.cli.main(sys.argv[1:]))
"""


def ask(index_dir: Path, articles_dir: Path, stdin: bytes, *args: str):
    return subprocess.run(
        [sys.executable, "-c", CLI_SCRIPT, "ask", *args],
        cwd=ROOT,
        env={**os.environ, "NEWSBOT_INDEX_DIR": str(index_dir), "NEWSBOT_STORE": ""}
        | {"NEWSBOT_ARTICLES_DIR": str(articles_dir)},
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def test_a_line_that_is_not_utf8_is_answered_and_so_is_the_next(tmp_path: Path):
    articles = tmp_path / "articles"
    articles.mkdir()
    add_anchor(articles)
    sync_index(articles, tmp_path / "index", FakeEmbedder())
    stdin = b"\xff\xfe What did the freighter carry?\n" + ANCHOR_FACT.encode() + b"\n"

    done = ask(tmp_path / "index", articles, stdin, "--json")

    assert done.returncode == 0, done.stderr.decode()
    first, second = (json.loads(line) for line in done.stdout.decode().splitlines())
    assert first["question"] == "\ufffd\ufffd What did the freighter carry?"
    assert second["question"] == ANCHOR_FACT and second["quotes"][0]["article"] == ANCHOR
    assert b"Traceback" not in done.stderr

    plain = ask(tmp_path / "index", articles, stdin)  # the same without --json
    assert plain.returncode == 0 and "Pinguine" in plain.stdout.decode()
