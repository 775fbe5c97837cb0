"""The operator's fault drill (issue 32) on a real PostgreSQL server that is restarted and
stopped under a running `newsbot watch` and a running `newsbot ask --json` co-process."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
from pathlib import Path

import pytest

from index.sync import sync_index
from tests.conftest import FakeEmbedder
from tests.test_pg_lock_restart import location, newsbot, server
from tests.test_pg_store import ANCHOR, ANCHOR_FACT, SECOND, SECOND_FACT, Lines, add_anchor

__all__ = ["location", "server"]  # fixtures

THIRD, THIRD_FACT = "föhr.txt", "Auf Föhr landete ein Zeppelin mit vierzig Ziegen an Bord."


class Asker:
    """`newsbot ask --json` as a co-process: write a question, read its line."""

    def __init__(self, location: str, articles_dir: Path) -> None:
        self.process = newsbot(
            location,
            articles_dir,
            "ask",
            "--json",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.errors = Lines(self.process)  # stderr

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)

    def ask(self, question: str, timeout: float = 60) -> dict:
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(
                f"no answer to {question!r} within {timeout} s (exit {self.process.poll()})"
            )
        return json.loads(line)

    def close(self) -> int:
        with contextlib.suppress(OSError):  # closed already, or the process is gone
            self.process.stdin.close()
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def answered_from(answer: dict, article: str) -> bool:
    return answer["answered"] and answer["quotes"][0]["article"] == article


# --- 2. a long-running `ask` follows the newest generation, line by line ---------------------


def test_a_running_ask_answers_each_line_as_it_comes_from_the_newest_generation(
    location: str, articles_dir: Path
):
    add_anchor(articles_dir)
    sync_index(articles_dir, location, FakeEmbedder())
    asker = Asker(location, articles_dir)
    try:
        assert answered_from(asker.ask(ANCHOR_FACT), ANCHOR)  # before stdin is closed
        for name, fact in ((SECOND, SECOND_FACT), (THIRD, THIRD_FACT)):
            add_anchor(articles_dir, name, fact)
            sync_index(articles_dir, location, FakeEmbedder())  # another process publishes
            assert answered_from(asker.ask(fact), name)
        assert asker.close() == 0
    finally:
        asker.close()
