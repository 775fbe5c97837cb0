"""The folder watcher: bursts become one sync, half-written files wait, `newsbot watch` runs."""

from __future__ import annotations

import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot import cli
from bot.watch import ArticleWatcher, fingerprint
from index.lock import ServiceLock, ServiceLockedError, WriterLock
from index.sync import SyncReport, sync_index
from retrieval.live import LiveIndex
from tests.conftest import ROOT
from tests.fakes.embedder import FakeEmbedder, use_fake_model

# Near-verbatim questions: FakeEmbedder has no semantics and retrieval abstains when unsure.
FREIGHTER = "Im Hafen von Kiel legte ein Frachter voller Pinguine an."
SHIPYARD = "In Kiel wurde gestern eine neue Werft für Segelboote eröffnet."
# Asked without its "gestern": a question about yesterday is answered from dated articles only.
SHIPYARD_QUESTION = "In Kiel wurde eine neue Werft für Segelboote eröffnet."
FAST = {"debounce_seconds": 0.2, "stability_seconds": 0.1, "rescan_seconds": 0.2}


class Syncs:
    """A stand-in for `LiveIndex.sync` that records what the folder looked like each time."""

    def __init__(self, articles_dir: Path, fail_times: int = 0) -> None:
        self.articles_dir = articles_dir
        self.fail_times = fail_times
        self.seen: list[dict[str, str]] = []
        self.folder_missing = 0  # syncs that ran while the folder did not exist
        self.done = threading.Semaphore(0)

    def __call__(self) -> SyncReport:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("index busy")
        self.folder_missing += not self.articles_dir.is_dir()
        files = sorted(p for p in self.articles_dir.rglob("*") if p.is_file())
        self.seen.append({p.name: p.read_text(errors="replace") for p in files})
        self.done.release()
        return SyncReport()

    def wait(self, count: int = 1, timeout: float = 10) -> None:
        for _ in range(count):
            assert self.done.acquire(timeout=timeout), f"only {len(self.seen)} syncs"

    def quiet_for(self, seconds: float) -> bool:
        return not self.done.acquire(timeout=seconds)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Callable[..., tuple[ArticleWatcher, Syncs]]]:
    watchers = []

    def start(fail_times: int = 0, **options) -> tuple[ArticleWatcher, Syncs]:
        syncs = Syncs(tmp_path / "articles", fail_times)
        watcher = ArticleWatcher(tmp_path / "articles", syncs, **{**FAST, **options})
        watchers.append(watcher)
        watcher.start(initial_sync=not fail_times)
        if not fail_times:
            syncs.wait()  # the initial sync
        return watcher, syncs

    yield start
    for watcher in watchers:
        assert watcher.stop(timeout=10)


def article(n: int) -> str:
    return f"Meldung {n}\n\nIn Flensburg wurde der Leuchtturm Nummer {n} renoviert.\n"


@pytest.mark.parametrize("use_events", [True, False], ids=["events", "rescan-only"])
def test_a_burst_of_200_files_is_one_sync(watched, tmp_path: Path, use_events: bool):
    watcher, syncs = watched(use_events=use_events)
    assert watcher.events_active is use_events
    for n in range(200):
        (tmp_path / "articles" / f"burst{n:03d}.txt").write_text(article(n))

    syncs.wait()
    assert syncs.quiet_for(1.0)
    burst_syncs = syncs.seen[1:]
    # One sync; a second only if a loaded machine paused the copy longer than the debounce.
    assert len(burst_syncs) <= 2
    assert len(burst_syncs[-1]) == 200


def test_a_file_still_being_written_is_not_synced_half(watched, tmp_path: Path):
    """Rescan only, so no event keeps postponing the sync: the stability check must."""
    _, syncs = watched(use_events=False, debounce_seconds=0.0, stability_seconds=0.3)
    final = "".join(f"Absatz {n}: Die Fähre nach Sylt fährt wieder.\n\n" for n in range(30))
    with open(tmp_path / "articles" / "growing.txt", "w") as handle:
        for n in range(30):
            handle.write(f"Absatz {n}: Die Fähre nach Sylt fährt wieder.\n\n")
            handle.flush()
            time.sleep(0.05)

    syncs.wait()
    assert syncs.quiet_for(0.5)
    assert [seen["growing.txt"] for seen in syncs.seen[1:]] == [final]


def test_hidden_and_temporary_files_are_ignored(watched, tmp_path: Path):
    _, syncs = watched()
    folder = tmp_path / "articles"
    (folder / ".draft.txt").write_text("x")
    (folder / "download.txt.part").write_text("x")
    (folder / "notes.pdf").write_text("x")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD.txt").write_text("x")
    assert syncs.quiet_for(1.0)

    (folder / "real.md").write_text(article(1))
    syncs.wait()


def test_sub_folders_and_removals_are_seen(watched, tmp_path: Path):
    _, syncs = watched()
    sub = tmp_path / "articles" / "2025" / "03"
    sub.mkdir(parents=True)
    (sub / "deep.txt").write_text(article(1))
    syncs.wait()
    assert "deep.txt" in syncs.seen[-1]

    (sub / "deep.txt").unlink()
    syncs.wait()
    assert "deep.txt" not in syncs.seen[-1]


def test_a_max_delay_caps_the_wait_during_an_endless_trickle(watched, tmp_path: Path):
    _, syncs = watched(debounce_seconds=0.5, max_delay_seconds=0.6)
    started = time.monotonic()
    n = 0
    while not syncs.seen[1:] and time.monotonic() - started < 5:
        (tmp_path / "articles" / f"trickle{n}.txt").write_text(article(n))
        n += 1
        time.sleep(0.1)  # never 0.5 s quiet
    # The trickle never leaves the 0.5 s debounce quiet, so only the cap can have synced; how
    # soon is a speed figure for a quiet machine, not for a test.
    assert syncs.seen[1:], "no sync while files kept trickling in"


def test_without_an_initial_sync_the_first_look_syncs(tmp_path: Path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text(article(1))
    syncs = Syncs(folder)
    with ArticleWatcher(folder, syncs, **FAST):
        syncs.wait()
        assert syncs.quiet_for(0.6)


def test_a_failed_sync_is_reported_and_retried(tmp_path: Path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text(article(1))
    errors: list[Exception] = []
    reports: list[SyncReport] = []
    syncs = Syncs(folder, fail_times=2)
    watcher = ArticleWatcher(
        folder, syncs, on_error=errors.append, on_synced=reports.append, **FAST
    )
    with watcher:
        syncs.wait(timeout=10)
    assert [str(e) for e in errors] == ["index busy", "index busy"]
    assert len(reports) == 1


def test_a_broken_callback_does_not_stop_the_watcher(watched, tmp_path: Path):
    def explode(report: SyncReport) -> None:
        raise ValueError("callback bug")

    _, syncs = watched(on_synced=explode)
    (tmp_path / "articles" / "one.txt").write_text(article(1))
    syncs.wait()
    (tmp_path / "articles" / "two.txt").write_text(article(2))
    syncs.wait()


def test_fingerprint_changes_with_size_and_mtime(tmp_path: Path):
    (tmp_path / "a.txt").write_text("one")
    first = fingerprint(tmp_path)
    os.utime(tmp_path / "a.txt", ns=(1, 1))
    assert fingerprint(tmp_path) != first
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "b.pdf").write_text("x")
    assert {entry[0] for entry in fingerprint(tmp_path)} == {"a.txt"}


# --- with a real LiveIndex ----------------------------------------------------------------


def test_dropped_edited_and_removed_articles_follow_in_answers(articles_dir: Path, index_dir: Path):
    live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    synced = threading.Semaphore(0)
    watcher = ArticleWatcher(
        articles_dir, live.sync, on_synced=lambda report: synced.release(), **FAST
    )
    watcher.start(initial_sync=True)
    try:
        path = articles_dir / "kiel.txt"
        path.write_text(f"Hafen\n\n{FREIGHTER}\n")
        assert synced.acquire(timeout=10)
        assert live.answer(FREIGHTER).quotes[0].article == "kiel.txt"

        path.write_text(f"Hafen\n\n{SHIPYARD}\n")
        assert synced.acquire(timeout=10)
        quotes = live.answer(FREIGHTER, top=20).quotes
        assert all("Pinguine" not in q.text for q in quotes if q.article == "kiel.txt")
        assert live.answer(SHIPYARD_QUESTION).quotes[0].article == "kiel.txt"

        path.unlink()
        assert synced.acquire(timeout=10)
        assert "kiel.txt" not in {a.path for a in live.articles()}
    finally:
        watcher.stop()


# --- locks: one service per index ---------------------------------------------------------


def test_a_second_service_is_refused_with_the_owner_pid(tmp_path: Path):
    with ServiceLock(tmp_path), pytest.raises(ServiceLockedError, match=rf"pid {os.getpid()}"):
        ServiceLock(tmp_path).acquire()


def test_a_service_does_not_block_one_off_syncs(articles_dir: Path, index_dir: Path):
    with ServiceLock(index_dir):
        report = sync_index(articles_dir, index_dir, FakeEmbedder())
    assert report.added
    with WriterLock(index_dir):  # and the writer lock is free again
        pass


# --- `newsbot watch` in a subprocess ------------------------------------------------------

WATCH_SCRIPT = """
import sys
from tests.fakes.embedder import install
install()
from bot.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Process:
    """A subprocess whose stderr lines can be awaited with a timeout."""

    def __init__(self, *args: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-c", WATCH_SCRIPT, *args],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # Ctrl-C as a terminal delivers it: a test run started in the background (`make test
            # &`) ignores SIGINT, and a child would inherit that and never stop on it.
            preexec_fn=_default_sigint,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, needle: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            self.seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"no line with {needle!r} in {self.seen}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_newsbot_watch_syncs_reports_refuses_a_second_and_stops_cleanly(
    articles_dir: Path, index_dir: Path, monkeypatch, capsys, stop_signal: signal.Signals
):
    dirs = ["--articles", str(articles_dir), "--index", str(index_dir)]
    watch = Process("watch", *dirs)
    try:
        watch.wait_for_line("added 5, updated 0, removed 0")
        watch.wait_for_line("watching")

        (articles_dir / "kiel.txt").write_text(article(1))
        # only the new file is looked at: the 5 others are not walked
        watch.wait_for_line("added 1, updated 0, removed 0, unchanged 0")
        (articles_dir / "bad.txt").write_bytes(b"caf\xe9")
        watch.wait_for_line("skipped bad.txt: not valid UTF-8")

        monkeypatch.chdir(index_dir.parent)  # no .env of the project
        with use_fake_model():
            assert cli.main(["watch", *dirs]) == cli.EXIT_FAILURE
        message = capsys.readouterr().err
        assert f"pid {watch.popen.pid}" in message and "already kept in sync" in message

        watch.popen.send_signal(stop_signal)
        assert watch.popen.wait(timeout=120) == 0  # generous: CI machines may be busy
    finally:
        watch.stop()
    with ServiceLock(index_dir):  # released on exit
        pass


def test_a_vanished_folder_does_not_empty_the_index(watched, tmp_path: Path):
    errors: list[Exception] = []
    _, syncs = watched(on_error=errors.append)
    folder = tmp_path / "articles"
    (folder / "a.txt").write_text(article(1))
    syncs.wait()
    (folder / "a.txt").unlink()
    folder.rmdir()
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        time.sleep(0.05)
    assert errors and "is gone" in str(errors[0])
    assert syncs.folder_missing == 0


def test_a_folder_vanishing_mid_scan_gives_an_empty_fingerprint(tmp_path: Path, monkeypatch):
    def vanished(folder: Path) -> list[Path]:
        raise FileNotFoundError(folder)

    monkeypatch.setattr("bot.watch.discover", vanished)
    assert fingerprint(tmp_path) == frozenset()


def test_the_watcher_survives_its_own_errors(watched, tmp_path: Path, monkeypatch):
    real_fingerprint = fingerprint
    failures = iter([True])

    def flaky_fingerprint(folder: Path):
        if next(failures, False):
            raise RuntimeError("a bug")
        return real_fingerprint(folder)

    _, syncs = watched()
    monkeypatch.setattr("bot.watch.fingerprint", flaky_fingerprint)
    (tmp_path / "articles" / "one.txt").write_text(article(1))
    syncs.wait()
    assert "one.txt" in syncs.seen[-1]


class ChangedSyncs:
    """`sync` and `sync_changed` stand-ins recording which one ran, with which paths."""

    def __init__(self, fail_times: int = 0) -> None:
        self.calls: queue.Queue[list[str] | None] = queue.Queue()
        self.fail_times = fail_times

    def full(self) -> SyncReport:
        self.calls.put(None)
        return SyncReport()

    def changed(self, paths: list[str]) -> SyncReport:
        self.calls.put(paths)
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("index busy")
        return SyncReport()

    def next(self, timeout: float = 10) -> list[str] | None:
        return self.calls.get(timeout=timeout)


@pytest.mark.parametrize("use_events", [True, False], ids=["events", "rescan-only"])
def test_the_watcher_syncs_only_the_paths_that_changed(tmp_path: Path, use_events: bool):
    folder = tmp_path / "articles"
    (folder / "sub").mkdir(parents=True)
    for n in range(3):
        (folder / "sub" / f"{n}.txt").write_text(article(n))
    syncs = ChangedSyncs()
    watcher = ArticleWatcher(
        folder, syncs.full, sync_changed=syncs.changed, use_events=use_events, **FAST
    )
    watcher.start(initial_sync=True)
    try:
        assert syncs.next() is None  # the first sync looks at everything
        (folder / "new.txt").write_text(article(9))
        assert syncs.next() == ["new.txt"]
        (folder / "sub" / "1.txt").unlink()
        (folder / "sub" / "2.txt").write_text(article(22))
        seen = set(syncs.next())
        while not {"sub/1.txt", "sub/2.txt"} <= seen:  # events may split them in two
            seen |= set(syncs.next())
        assert seen <= {"sub", "sub/1.txt", "sub/2.txt"}
        with pytest.raises(queue.Empty):  # the synced state is the baseline: no rescan sync
            syncs.next(timeout=1.0)
    finally:
        assert watcher.stop(timeout=10)


def test_after_a_failed_sync_of_paths_the_retry_looks_at_everything(tmp_path: Path):
    folder = tmp_path / "articles"
    folder.mkdir()
    syncs = ChangedSyncs(fail_times=1)
    watcher = ArticleWatcher(folder, syncs.full, sync_changed=syncs.changed, **FAST)
    watcher.start(initial_sync=True)
    try:
        assert syncs.next() is None
        (folder / "new.txt").write_text(article(1))
        assert syncs.next() == ["new.txt"]  # fails
        assert syncs.next() is None  # the retry
    finally:
        assert watcher.stop(timeout=10)


def test_rescans_of_a_slow_folder_take_at_most_a_20th_of_the_time(tmp_path: Path, monkeypatch):
    folder = tmp_path / "articles"
    folder.mkdir()
    looks: list[float] = []

    def slow_fingerprint(articles_dir: Path):  # a folder of many files
        looks.append(time.monotonic())
        time.sleep(0.05)
        return frozenset()

    monkeypatch.setattr("bot.watch.fingerprint", slow_fingerprint)
    syncs = ChangedSyncs()
    watcher = ArticleWatcher(
        folder, syncs.full, use_events=False, **{**FAST, "rescan_seconds": 0.01}
    )
    watcher.start(initial_sync=True)
    try:
        time.sleep(2.5)
    finally:
        assert watcher.stop(timeout=10)
    rescans = looks[1:]  # the first is the initial sync's
    assert 1 <= len(rescans) <= 3, rescans  # >= 1 s apart (20 x 0.05 s), not every 0.01 s
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(rescans))
