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

from index.stores import postgres as pg_store
from index.sync import sync_index
from tests.fakes.embedder import FakeEmbedder
from tests.fakes.postgres_server import PgServer
from tests.index.test_pg_lock_restart import location, newsbot, server, stop
from tests.index.test_pg_store import ANCHOR, ANCHOR_FACT, SECOND, SECOND_FACT, Lines, add_anchor

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
                f"no answer to {question!r} within {timeout} s (exit {self.process.poll()}; "
                f"stderr {self.errors.seen})"
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


# --- 3. an outage longer than the retries costs that question, not the batch -----------------


@pytest.mark.timeout(300)
def test_an_outage_gives_that_question_an_error_line_and_the_batch_goes_on(
    server: PgServer, location: str, articles_dir: Path
):
    add_anchor(articles_dir)
    watcher = newsbot(location, articles_dir, "watch", stderr=subprocess.PIPE)
    asker = None
    try:
        lines = Lines(watcher)
        lines.wait_for("watching")  # the index exists
        asker = Asker(location, articles_dir)
        assert answered_from(asker.ask(ANCHOR_FACT), ANCHOR)

        server.restart()  # short: the retries hide it
        assert answered_from(asker.ask(ANCHOR_FACT), ANCHOR)

        server.stop()  # longer than the retries
        down = asker.ask(ANCHOR_FACT)
        assert down["answered"] is False and down["quotes"] == []
        assert "cannot reach the index" in down["error"] and down["question"] == ANCHOR_FACT
        asker.errors.wait_for("cannot reach the index")  # said on stderr too
        assert asker.process.poll() is None  # still running

        server.start()
        assert answered_from(asker.ask(ANCHOR_FACT), ANCHOR)
        lines.wait_for("took the indexer lock")
        add_anchor(articles_dir, SECOND, SECOND_FACT)
        lines.wait_for("added 1, updated 0, removed 0")
        assert answered_from(asker.ask(SECOND_FACT), SECOND)
        assert asker.close() == 1  # one question could not be answered
        assert stop(watcher) == 0
    finally:
        if asker is not None:
            asker.close()
        stop(watcher)


def test_the_retries_are_what_makes_a_restart_invisible():
    """The outage test relies on a short `RECONNECT_SECONDS` in its processes; the real
    default stays long enough for a restart."""
    assert pg_store.RECONNECT_SECONDS >= 10
