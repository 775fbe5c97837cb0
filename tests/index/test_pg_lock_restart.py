"""The operator's fault drill (issue 32) on a real PostgreSQL server that is restarted and
stopped under a running `newsbot watch`: the indexer's lock.

Each test starts a server of its own: restarting the session's server would disturb the
other tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot import watch
from bot.settings import Settings
from index.stores.postgres import PgServiceLock, close_connections, connect
from tests.conftest import ROOT, new_pg_index
from tests.fakes.postgres_server import PgServer
from tests.index.test_pg_store import SECOND, SECOND_FACT, Lines, add_anchor

# The CLI with FakeEmbedder, and retries short enough for a test (the defaults: 30 s, 2 s).
CLI_SCRIPT = """
import sys
import bot.cli
from index.stores import postgres
from tests.fakes.embedder import install
postgres.RECONNECT_SECONDS = 1.0
postgres.LIVE_RETRY_SECONDS = 0.5
install()
sys.exit(bot.cli.main(sys.argv[1:]))
"""


@pytest.fixture
def server():
    server = PgServer()
    try:
        yield server
    finally:
        close_connections()
        server.close()


@pytest.fixture
def location(server: PgServer) -> str:
    return new_pg_index(server)


def newsbot(location: str, articles_dir: Path, *args: str, **popen) -> subprocess.Popen:
    env = {
        **os.environ,
        "NEWSBOT_STORE": location,
        "NEWSBOT_ARTICLES_DIR": str(articles_dir),
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-c", CLI_SCRIPT, *args],
        cwd=ROOT,
        env=env,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **popen,
    )


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- 1. the indexer's lock across a restart ------------------------------------------------


@pytest.mark.timeout(300)
def test_the_watcher_takes_its_lock_again_after_a_restart_and_a_second_stays_refused(
    server: PgServer, location: str, articles_dir: Path
):
    add_anchor(articles_dir)
    first = newsbot(location, articles_dir, "watch", stderr=subprocess.PIPE)
    try:
        lines = Lines(first)
        lines.wait_for("watching")
        for outage in (server.restart, lambda: (server.stop(), server.start())):
            outage()
            lines.wait_for("took the indexer lock")  # on a new connection
            second = newsbot(location, articles_dir, "watch", stderr=subprocess.PIPE)
            _, err = second.communicate(timeout=120)
            assert second.returncode != 0, err  # one indexer per index, as before
            assert "already kept in sync" in err and f"newsbot pid {first.pid} on" in err
        add_anchor(articles_dir, SECOND, SECOND_FACT)  # and the first still syncs
        lines.wait_for("added 1, updated 0, removed 0")
        assert stop(first) == 0
    finally:
        stop(first)


def test_a_lock_another_process_took_meanwhile_is_reported_lost(server: PgServer, location: str):
    lost = []
    lock = PgServiceLock(location, on_lost=lost.append, check_seconds=3600)  # checked by hand
    lock.acquire()
    try:
        assert lock.check() and lock.lost is None
        server.restart()
        assert lock.check() and lock.lost is None  # taken again on a new connection
        server.restart()
        with connect(location) as other:  # another indexer comes first
            key = lock._key(other)
            assert other.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()[0]
            assert not lock.check()
        assert lost == [lock.lost] and "another newsbot process" in str(lock.lost)
    finally:
        lock.release()


def test_newsbot_watch_stops_with_a_message_when_its_lock_was_taken(
    fake_model,
    server: PgServer,
    location: str,
    articles_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    locks: list[PgServiceLock] = []

    def service_lock(where, **options):
        locks.append(PgServiceLock(where, check_seconds=3600, **options))
        return locks[-1]

    monkeypatch.setattr(watch, "service_lock", service_lock)
    settings = Settings(NEWSBOT_STORE=location, NEWSBOT_ARTICLES_DIR=articles_dir)
    finished = []
    running = threading.Thread(target=lambda: finished.append(watch.run_watch(settings)))
    running.start()
    try:
        seen = ""
        for _ in range(600):
            seen += capsys.readouterr().err
            if "watching" in seen:
                break
            running.join(0.1)
        assert "watching" in seen
        server.restart()
        with connect(location) as other:
            key = locks[0]._key(other)
            assert other.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()[0]
            locks[0].check()
            running.join(60)
        assert finished == [1]
        assert "lost the indexer lock" in capsys.readouterr().err
    finally:
        if running.is_alive():
            os.kill(os.getpid(), signal.SIGINT)


# --- a wrong password is not an outage ----------------------------------------------------


def test_a_wrong_password_fails_at_once_as_a_refused_login(
    fake_model,
    pg_server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
):
    import uuid

    from bot import cli

    role = f"drill_{uuid.uuid4().hex[:8]}"
    right = pg_server.add_password_role(role, "Right-0ne")
    with connect(right) as connection:  # the right password works
        assert connection.execute("SELECT current_user").fetchone()[0] == role

    monkeypatch.chdir(tmp_path)
    (tmp_path / "articles").mkdir()
    monkeypatch.setenv("NEWSBOT_STORE", right.replace("Right-0ne", "Wr0ng-pass"))
    for command in (["index"], ["ask", "Who?"], ["watch"]):
        code = cli.main(command)
        err = capsys.readouterr().err
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert "refused the login" in err and "password authentication failed" in err
        assert "Wr0ng-pass" not in err
    assert "retrying" not in caplog.text  # not taken for an outage
