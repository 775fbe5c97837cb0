"""The shipped `newsbot chat` follows an index that `newsbot watch`, another process, changes.

Both commands run as real subprocesses (with the fake embedder, so no model is loaded); the chat
is driven through a pipe and through a pseudo-terminal, as a person would use it.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.bot.test_chat import PtyReader, clean_env
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(120)

# The real `newsbot` entry point, with the fake embedder wherever a command loads a model.
NEWSBOT = """
import sys
import bot.cli
from tests.fakes.embedder import install
install()
sys.exit(bot.cli.main(sys.argv[1:]))
"""
FACT = "Im Hafen von Kiel legte ein Frachter voller Pinguine an."
ARTICLE = f"Pinguine in Kiel\n\n{FACT}\n"


class Lines:
    """A subprocess stream read line by line in a thread, so a test can wait with a timeout."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def until(self, needle: str, timeout: float = 60) -> list[str]:
        """Lines up to and including the first that contains `needle`."""
        deadline = time.monotonic() + timeout
        taken: list[str] = []
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=remaining)
            except queue.Empty:
                break
            taken.append(line)
            self.seen.append(line)
            if needle in line:
                return taken
        raise AssertionError(f"no line with {needle!r} in {self.seen}")


def newsbot(*args: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", NEWSBOT, *args],
        cwd=ROOT,
        env=clean_env(PYTHONUNBUFFERED="1"),
        text=True,
        **popen,  # type: ignore[call-overload]
    )


@pytest.fixture
def watch(articles_dir: Path, index_dir: Path):
    """`newsbot watch` on a copy of the sample articles, after its first sync."""
    process = newsbot(
        "watch", "--articles", str(articles_dir), "--index", str(index_dir), stderr=subprocess.PIPE
    )
    lines = Lines(process.stderr)
    try:
        lines.until("watching")
        yield lines
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_chat_through_a_pipe_answers_from_an_article_watch_added(
    watch: Lines, articles_dir: Path, index_dir: Path
) -> None:
    chat = newsbot(
        "chat",
        "--articles",
        str(articles_dir),
        "--index",
        str(index_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out = Lines(chat.stdout)
    try:
        chat.stdin.write("/sources\n")
        chat.stdin.flush()
        out.until("5 articles; ")

        (articles_dir / "kiel.txt").write_text(ARTICLE, encoding="utf-8")
        watch.until("added 1, updated 0, removed 0")

        chat.stdin.write(FACT + "\n")
        chat.stdin.flush()
        answer = out.until("[1] ")
        assert "Index updated: 1 new article." in answer
        assert answer[-1] == f"[1] „{FACT}“ — Pinguine in Kiel, ¶1"
        chat.stdin.close()
        assert chat.wait(timeout=30) == 0
    finally:
        if chat.poll() is None:
            chat.kill()
            chat.wait()
    assert "Traceback" not in chat.stderr.read()


def test_chat_on_a_terminal_answers_from_an_article_watch_added(
    watch: Lines, articles_dir: Path, index_dir: Path, tmp_path: Path
) -> None:
    controller, terminal = os.openpty()
    env = clean_env(
        TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="200", LINES="40", PYTHONUNBUFFERED="1"
    )
    chat = subprocess.Popen(
        [sys.executable, "-c", NEWSBOT, "chat"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=ROOT,
        env={
            **env,
            "NEWSBOT_ARTICLES_DIR": str(articles_dir),
            "NEWSBOT_INDEX_DIR": str(index_dir),
        },
        close_fds=True,
    )
    os.close(terminal)
    screen = PtyReader(controller)
    try:
        screen.expect("newsbot chat — 5 articles".encode())
        screen.expect(b"\xe2\x80\xba")  # the prompt
        (articles_dir / "kiel.txt").write_text(ARTICLE, encoding="utf-8")
        watch.until("added 1, updated 0, removed 0")

        os.write(controller, FACT.encode() + b"\r")
        screen.expect(b"Index updated: 1 new article.")
        answer = screen.expect(b"Pinguine in Kiel, \xc2\xb61")
        assert b"[1] " in answer and b"Frachter voller Pinguine" in answer
        screen.expect(b"\xe2\x80\xba")
        os.write(controller, b"\x04")  # Ctrl-D
        assert chat.wait(timeout=30) == 0
    finally:
        if chat.poll() is None:
            chat.kill()
            chat.wait()
        os.close(controller)
