"""What only the PostgreSQL store has to show: several processes on one database, a writer
killed mid-sync, a server restart under a running bot, leases that keep a reader's rows.

The store's contract itself (round trip, sync, lexical search, answers) is tested on both
stores by test_store, test_sync and test_answerer; here the server is real too (conftest).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from index.lock import IndexLockedError
from index.stores import open_store, writer_lock
from index.stores import postgres as pg_store
from index.stores.postgres import StoreUnavailableError, close_connections, connect
from index.sync import sync_index
from retrieval.live import LiveIndex
from tests.conftest import DEV_SET, ROOT, new_pg_index
from tests.fakes.embedder import FakeEmbedder

SAMPLE = "004_4a36d75bdf1d0814.txt"
REMOVED = "000_c5834305b38bf562.txt"
ANCHOR, ANCHOR_FACT = "anker.txt", "Im Hafen von Kiel legte ein Frachter voller Pinguine an."
SECOND, SECOND_FACT = "sylt.txt", "Auf Sylt eröffnete ein Museum für alte Leuchttürme."


@pytest.fixture
def pg_location(pg_server):
    location = new_pg_index(pg_server)
    yield location
    close_connections(location)


def add_anchor(articles_dir: Path, name: str = ANCHOR, fact: str = ANCHOR_FACT) -> None:
    (articles_dir / name).write_text(f"{name.split('.')[0].title()}\n\n{fact}\n")


def count(location: str, sql: str) -> int:
    with connect(location) as connection:
        return connection.execute(sql).fetchone()[0]


def tables(location: str) -> str:
    return open_store(location).manifest.database


# --- several processes on one database --------------------------------------------------

# The CLI with FakeEmbedder for whatever model the settings name.
CLI_SCRIPT = """
import sys
import bot.cli
from tests.fakes.embedder import install
install()
sys.exit(bot.cli.main(sys.argv[1:]))
"""


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


def ask_twice_at_once(location: str, articles_dir: Path, question: str) -> list[dict]:
    """Two `newsbot ask --json` processes started together; their answers."""
    askers = [
        newsbot(location, articles_dir, "ask", "--json", question, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    answers = []
    for asker in askers:
        out, _ = asker.communicate(timeout=120)
        assert asker.returncode == 0
        answers.append(json.loads(out))
    return answers


class Lines:
    """A process's stderr lines, awaited with a timeout."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.seen = process, []
        self._new = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            with self._new:
                self.seen.append(line.rstrip("\n"))
                self._new.notify_all()

    def wait_for(self, needle: str, timeout: float = 60) -> None:
        with self._new:
            found = self._new.wait_for(lambda: any(needle in s for s in self.seen), timeout)
        assert found, f"no line with {needle!r} in {self.seen}"
        self.seen.clear()


def test_two_askers_and_one_watcher_share_one_database(articles_dir: Path, pg_location: str):
    add_anchor(articles_dir)
    watch = newsbot(pg_location, articles_dir, "watch", stderr=subprocess.PIPE)
    try:
        lines = Lines(watch)
        lines.wait_for("watching")
        for answer in ask_twice_at_once(pg_location, articles_dir, ANCHOR_FACT):
            assert answer["answered"] and answer["quotes"][0]["article"] == ANCHOR

        add_anchor(articles_dir, SECOND, SECOND_FACT)  # the indexer publishes, the askers see
        lines.wait_for("added 1, updated 0, removed 0")
        for answer in ask_twice_at_once(pg_location, articles_dir, SECOND_FACT):
            assert answer["answered"] and answer["quotes"][0]["article"] == SECOND

        second = newsbot(pg_location, articles_dir, "watch", stderr=subprocess.PIPE)
        _, err = second.communicate(timeout=120)
        assert second.returncode != 0  # one indexer per database, named in the refusal
        assert "already kept in sync" in err and f"newsbot pid {watch.pid} on" in err

        watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=120) == 0
    finally:
        if watch.poll() is None:
            watch.kill()
        watch.wait()


def test_a_running_bot_follows_what_the_indexer_publishes(articles_dir: Path, pg_location: str):
    add_anchor(articles_dir)
    sync_index(articles_dir, pg_location, FakeEmbedder())
    bot = LiveIndex(articles_dir, pg_location, FakeEmbedder())  # reads, never writes here
    bot.load()
    assert bot.refresh() is None
    add_anchor(articles_dir, SECOND, SECOND_FACT)
    (articles_dir / REMOVED).unlink()
    sync_index(articles_dir, pg_location, FakeEmbedder())  # "another machine's" indexer

    change = bot.refresh()
    assert change is not None and change.added == (SECOND,) and change.removed == (REMOVED,)
    assert bot.answer(SECOND_FACT).quotes[0].article == SECOND


def test_one_writer_at_a_time_and_the_refusal_names_it(pg_location: str):
    refused = pytest.raises(IndexLockedError, match=f"newsbot pid {os.getpid()} on ")
    with writer_lock(pg_location), refused, writer_lock(pg_location):
        pass
    with writer_lock(pg_location):  # released with its connection
        pass


def test_readers_never_see_half_a_generation(articles_dir: Path, pg_location: str):
    for n in range(12):
        (articles_dir / f"extra{n}.txt").write_text(f"Zusatz {n}\n\nEin Artikel über Föhr.\n")
    sync_index(articles_dir, pg_location, FakeEmbedder(), batch_articles=50)
    stop, problems, seen = threading.Event(), [], set()

    def read() -> None:
        while not stop.is_set():
            store = open_store(pg_location)
            articles = store.articles()
            seen.add(store.generation)
            if len(articles) != store.manifest.articles or sum(
                a.chunk_count for a in articles
            ) != len(store):
                problems.append((store.generation, len(articles), store.manifest))
            store.close()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(12):
            (articles_dir / f"extra{n}.txt").write_text(f"Neu {n}\n\nNun über Amrum.\n\nZwei.\n")
        (articles_dir / REMOVED).unlink()
        sync_index(articles_dir, pg_location, FakeEmbedder(), batch_articles=1)
    finally:
        stop.set()
        reader.join()
    assert not problems
    assert len(seen) > 1


def test_rows_a_reader_holds_are_kept_until_it_closes(articles_dir: Path, pg_location: str):
    sync_index(articles_dir, pg_location, FakeEmbedder())
    reader = open_store(pg_location)
    old_text = reader.article_text(SAMPLE)
    (articles_dir / SAMPLE).write_text("Neu\n\nPinguine in Kiel.\n")
    for n in range(3):
        (articles_dir / f"extra{n}.txt").write_text(f"Zusatz {n}\n\nEin Artikel über Sylt.\n")
        sync_index(articles_dir, pg_location, FakeEmbedder())

    assert reader.article_text(SAMPLE) == old_text  # kept for the reader of generation 1
    removed = f"SELECT count(*) FROM {tables(pg_location)}_articles WHERE removed IS NOT NULL"
    assert count(pg_location, removed) == 1
    reader.close()
    (articles_dir / "extra9.txt").write_text("Zusatz\n\nEin Artikel über Föhr.\n")
    sync_index(articles_dir, pg_location, FakeEmbedder())
    assert count(pg_location, removed) == 0


# --- kill -9 of a writer ----------------------------------------------------------------

# Runs one sync and SIGKILLs itself at the named step of the PostgreSQL writer.
CRASH_SCRIPT = r"""
import os, signal, sys
from pathlib import Path
from index.stores import postgres as pg_store
from index.sync import sync_index
from tests.fakes.embedder import FakeEmbedder

articles, location, point, when = sys.argv[1:5]
Writer = pg_store.PgIndexWriter

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def around(real):
    def wrapper(*args, **kwargs):
        if when == "before":
            die()
        real(*args, **kwargs)
        die()
    return wrapper

if point == "insert":  # the second article of the batch half written
    real_add, added = Writer.add_article, []
    def add(self, **kwargs):
        added.append(kwargs["path"])
        if len(added) == 2:
            self._db.execute("SELECT 1")
            die()
        return real_add(self, **kwargs)
    Writer.add_article = add
elif point == "publish":  # every row written, the generation not yet committed
    Writer.publish = around(Writer.publish)
elif point == "delete-unseen":  # committed; old rows not yet deleted (or deleted, uncommitted)
    Writer._delete_unseen = around(Writer._delete_unseen)
sync_index(Path(articles), location, FakeEmbedder())
sys.exit("the crash point was never reached")
"""


@pytest.mark.parametrize(
    ("point", "when", "published"),
    [
        ("insert", "during", False),
        ("publish", "before", False),
        ("delete-unseen", "before", True),
        ("delete-unseen", "after", True),
    ],
)
def test_kill_9_of_a_writer_leaves_a_working_index(
    articles_dir: Path, pg_location: str, point: str, when: str, published: bool
):
    sync_index(articles_dir, pg_location, FakeEmbedder())
    before = open_store(pg_location)
    old_text = before.article_text(SAMPLE)
    (articles_dir / SAMPLE).write_text("Neu\n\nIn Kiel wurde eine Werft eröffnet.\n")
    (articles_dir / REMOVED).unlink()
    add_anchor(articles_dir)

    crash = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(articles_dir), pg_location, point, when],
        cwd=ROOT,
    )
    assert crash.wait(timeout=120) == -signal.SIGKILL

    after = open_store(pg_location)
    assert after.generation == before.generation + int(published)
    assert (after.article_text(SAMPLE) == old_text) is not published
    assert len(after) == sum(a.chunk_count for a in after.articles())
    assert before.chunks(before.article_chunk_ids(SAMPLE))  # the old snapshot still reads
    # the next sync completes the work (the dead writer's lock goes with its connection)
    report = sync_index(articles_dir, pg_location, FakeEmbedder(), lock_wait_seconds=30)
    if not published:
        assert report.updated == [SAMPLE] and report.removed == [REMOVED]
    live = LiveIndex(articles_dir, pg_location, FakeEmbedder())
    live.load()
    assert live.answer(ANCHOR_FACT).quotes[0].article == ANCHOR
    assert "Werft" in live.answerer.store.article_text(SAMPLE)
    unpublished = f"SELECT count(*) FROM {tables(pg_location)}_chunks WHERE added > "
    assert count(pg_location, unpublished + str(live.generation)) == 0


# --- the server restarts ----------------------------------------------------------------


def test_a_bot_keeps_answering_across_a_database_restart(
    articles_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    from tests.fakes.postgres_server import PgServer

    server = PgServer()  # its own server: the restart must not disturb other tests
    location = new_pg_index(server)
    try:
        add_anchor(articles_dir)
        live = LiveIndex(articles_dir, location, FakeEmbedder())
        live.sync()
        assert live.answer(ANCHOR_FACT).quotes[0].article == ANCHOR

        server.restart()  # every connection of this process dies
        assert live.refresh() is None  # the same generation, read on a new connection
        assert live.answer(ANCHOR_FACT).quotes[0].article == ANCHOR
        readers = pg_store._namespace(server_schema(location), "readers")
        leases = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = "
            f"{live.generation} AND classid = {readers}"
        )
        assert count(location, leases) == 1  # the snapshot's lease was taken again

        server.stop()  # down: a question fails clearly once the retries are used up
        monkeypatch.setattr(pg_store, "RECONNECT_SECONDS", 0.5)
        monkeypatch.setattr(pg_store, "LIVE_RETRY_SECONDS", 0.2)
        assert live.refresh() is None  # keeps the snapshot it has
        with pytest.raises(StoreUnavailableError, match="cannot reach the index"):
            live.answer(ANCHOR_FACT)
        with pytest.raises(StoreUnavailableError, match="is the PostgreSQL server running"):
            live.sync(lock_wait_seconds=0)  # `newsbot watch` prints it and tries again later
        server.start()
        assert live.answer(ANCHOR_FACT).quotes[0].article == ANCHOR
        add_anchor(articles_dir, SECOND, SECOND_FACT)
        report = live.sync()  # and the indexer writes again
        assert report.added == [SECOND] and live.answer(SECOND_FACT).quotes[0].article == SECOND
    finally:
        close_connections(location)
        server.close()


def server_schema(location: str) -> str:
    with connect(location) as connection:
        return connection.execute("SELECT current_schema()").fetchone()[0]


# --- the same answers from both stores --------------------------------------------------


@pytest.mark.slow
def test_both_stores_give_the_same_answers(real_answerer, real_pg_answerer):
    """The dev sets' questions: the same decisions and quotes. Scores can differ in the last
    float bits (FAISS and pgvector sum in different orders), so a swap of two quotes whose
    scores tie is allowed."""
    questions = [json.loads(line)["question"] for line in DEV_SET.read_text().splitlines()]
    for name in ("extra_dev.jsonl", "blind_dev.jsonl"):
        data = ROOT / "evaluation" / "data" / name
        questions += [json.loads(line)["question"] for line in data.read_text().splitlines()]
    differences = []
    for question in questions:
        a, b = real_answerer.answer(question), real_pg_answerer.answer(question)
        quotes_a = [(q.article, q.start, q.end) for q in a.quotes]
        quotes_b = [(q.article, q.start, q.end) for q in b.quotes]
        if a.answered != b.answered or quotes_a != quotes_b:
            scores = sorted(round(q.score, 4) for q in a.quotes) == sorted(
                round(q.score, 4) for q in b.quotes
            )
            if not (a.answered == b.answered and scores and set(quotes_a) == set(quotes_b)):
                differences.append((question, quotes_a, quotes_b))
    assert not differences


def test_without_the_postgresql_client_the_error_says_what_to_install(monkeypatch):
    from index.stores.base import StoreError

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pgvector.psycopg", None)
    with pytest.raises(StoreError, match=r"pip install -e '\.\[postgresql\]'"):
        open_store("postgresql://bot@db.invalid/news")


def test_a_url_naming_a_missing_schema_never_reads_another_index(articles_dir: Path):
    from index.stores.base import IndexMissingError
    from index.stores.postgres import with_schema
    from tests.fakes.postgres_server import PgServer

    server = PgServer()  # its own: an index in `public` would be seen by every search_path
    public, missing = server.url(), with_schema(server.url(), "nosuch")
    empty = new_pg_index(server)
    try:
        sync_index(articles_dir, public, FakeEmbedder())
        assert len(open_store(public).articles()) == 5
        for location in (missing, empty):  # not public's index, though search_path ends there
            with pytest.raises(IndexMissingError, match="newsbot index"):
                open_store(location)
        sync_index(articles_dir, missing, FakeEmbedder())  # the indexer creates the schema
        assert len(open_store(missing).articles()) == 5
    finally:
        for location in (public, missing, empty):
            close_connections(location)
        server.close()


def test_a_table_set_written_before_latent_terms_were_stored_is_read_and_extended(
    articles_dir: Path, pg_location: str
):
    embedder = FakeEmbedder(latent_terms=True)
    sync_index(articles_dir, pg_location, embedder, latent_terms=False)
    tables = open_store(pg_location).manifest.database
    with connect(pg_location) as connection:  # the chunks table as it was before the column
        connection.execute(f"ALTER TABLE {tables}_chunks DROP COLUMN latent_terms")
    close_connections(pg_location)
    old = open_store(pg_location)
    ids = old.article_chunk_ids(SAMPLE)
    assert old.latent_terms(ids) == {}  # read as an index without them
    assert len(old.chunks(ids)) == len(ids)

    add_anchor(articles_dir)
    report = sync_index(articles_dir, pg_location, embedder)  # the writer adds the column

    assert report.added == [ANCHOR] and len(report.updated) == 5  # the others gain terms
    store = open_store(pg_location)
    assert store.latent_terms(ids).keys() == set(ids)
    new = store.article_chunk_ids(ANCHOR)
    assert store.latent_terms(new).keys() == set(new)
