"""kill -9 at any moment, damaged index files, concurrent writers: the index stays usable.

The crashes are real: a subprocess runs a sync and is SIGKILLed, either by a hook the test's
script installs around one step of the store (before, during or after it) or by a timer.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import cli
from index.chunking import embedding_text
from index.lock import LOCK_NAME
from index.stores import open_store
from index.stores.base import StoreReader
from index.stores.sqlite import CURRENT_FILE, KEEP_GENERATIONS, IndexStore, list_generations
from index.sync import sync_index
from retrieval.live import LiveIndex
from tests.conftest import ROOT
from tests.fakes.embedder import FakeEmbedder, use_fake_model

SAMPLE = "004_4a36d75bdf1d0814.txt"
REMOVED = "000_c5834305b38bf562.txt"
NEW_SAMPLE_TEXT = "Hafen\n\nIn Kiel wurde gestern eine neue Werft für Segelboote eröffnet.\n"
# A question retrieval answers for sure even with FakeEmbedder (near-verbatim, unique words).
ANCHOR, ANCHOR_FACT = "anker.txt", "Im Hafen von Kiel legte ein Frachter voller Pinguine an."

# Runs one sync and SIGKILLs itself at the named step: before it, after it, or (for file
# writes) after writing only half of the file, as a crash mid-write would.
CRASH_SCRIPT = r"""
import os, signal, sqlite3, sys
from pathlib import Path
from index.stores import sqlite as store
from index.sync import sync_index
from tests.fakes.embedder import FakeEmbedder

articles, index, point, when = sys.argv[1:5]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def around(real, written=None):
    def wrapper(*args, **kwargs):
        if when == "before":
            die()
        result = real(*args, **kwargs)
        if when == "half":
            path = Path(written(*args))
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        die()
        return result
    return wrapper

class KilledAtCommit(sqlite3.Connection):
    def execute(self, sql, *args):
        if sql != "COMMIT":
            return super().execute(sql, *args)
        if when == "before":
            die()
        super().execute(sql, *args)
        die()

if point == "sqlite-commit":
    real_connect = sqlite3.connect
    store.sqlite3.connect = lambda *a, **k: real_connect(*a, factory=KilledAtCommit, **k)
elif point == "wal-half":  # the commit's WAL frames half written, as a crash mid-write would
    real_connect = sqlite3.connect
    class TornCommit(sqlite3.Connection):
        def execute(self, sql, *args):
            result = super().execute(sql, *args)
            if sql == "COMMIT":
                wal = Path(f"{index}/{store.IndexStore.open(Path(index)).manifest.database}-wal")
                wal.write_bytes(wal.read_bytes()[: wal.stat().st_size // 2])
                die()
            return result
    store.sqlite3.connect = lambda *a, **k: real_connect(*a, factory=TornCommit, **k)
elif point == "delete-unseen":
    store.IndexWriter._delete_unseen = around(store.IndexWriter._delete_unseen)
elif point == "fsync":
    store._fsync_file = around(store._fsync_file)
elif point == "rename":
    store.os.rename = around(store.os.rename)
elif point == "current":
    store.os.replace = around(store.os.replace)
elif point == "prune":
    def remove_one_file_then_die(path, *args, **kwargs):
        next(p for p in Path(path).iterdir()).unlink()
        die()
    store.shutil.rmtree = remove_one_file_then_die
sync_index(Path(articles), Path(index), FakeEmbedder())
sys.exit("the crash point was never reached")
"""

# Announces itself, then runs a long sync; the test kills it after a delay.
LONG_SYNC_SCRIPT = r"""
import sys
from pathlib import Path
from index.stores import as_location
from index.sync import sync_index
from tests.fakes.embedder import FakeEmbedder

print("ready", flush=True)
sync_index(Path(sys.argv[1]), as_location(sys.argv[2]), FakeEmbedder(), lock_wait_seconds=30)
print("done", flush=True)
"""


def run_script(script: str, *args: object, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)], cwd=ROOT, text=True, **popen
    )


def add_anchor(articles_dir: Path) -> None:
    (articles_dir / ANCHOR).write_text(f"Anker\n\n{ANCHOR_FACT}\n")


def assert_opens_and_answers(
    articles_dir: Path, index_dir, question: str = ANCHOR_FACT, article: str = ANCHOR
) -> StoreReader:
    store = open_store(index_dir, FakeEmbedder().model_id)
    live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    live.load()
    assert live.answer(question).quotes[0].article == article
    return store


def assert_no_leftovers(index_dir) -> None:
    if not isinstance(index_dir, Path):  # PostgreSQL: nothing outside its transactions
        return
    assert not list(index_dir.glob("tmp-*"))
    assert not list(index_dir.glob(f".{CURRENT_FILE}.*"))


# --- kill -9 at chosen steps --------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "when"),
    [
        ("sqlite-commit", "before"),
        ("sqlite-commit", "after"),
        ("wal-half", "after"),
        ("fsync", "before"),
        ("rename", "before"),
        ("rename", "after"),
        ("current", "before"),
        ("current", "after"),
        ("delete-unseen", "before"),
        ("prune", "during"),
    ],
)
def test_kill_9_at_any_step_leaves_a_working_index(
    articles_dir: Path, index_dir: Path, fake_embedder, point: str, when: str
):
    add_anchor(articles_dir)
    sync_index(articles_dir, index_dir, fake_embedder)
    (articles_dir / "extra.txt").write_text("Zusatz\n\nEin Artikel über Flensburg.\n")
    sync_index(articles_dir, index_dir, fake_embedder)  # two generations: the next prunes
    old_text = (articles_dir / SAMPLE).read_text()
    (articles_dir / SAMPLE).write_text(NEW_SAMPLE_TEXT)
    (articles_dir / "neu.txt").write_text("Neu\n\nIn Kiel wurde eine Werft eröffnet.\n")
    (articles_dir / REMOVED).unlink()

    crash = run_script(CRASH_SCRIPT, articles_dir, index_dir, point, when)
    assert crash.wait(timeout=60) == -signal.SIGKILL

    store = assert_opens_and_answers(articles_dir, index_dir)
    published = point in ("current", "prune", "delete-unseen") and (
        when != "before" or point == "delete-unseen"
    )
    assert store.generation == (3 if published else 2)
    assert store.article_text(SAMPLE) == (NEW_SAMPLE_TEXT if published else old_text)
    report = sync_index(articles_dir, index_dir, fake_embedder)
    if published:
        assert not report.changed
    else:
        assert (report.added, report.updated, report.removed) == (["neu.txt"], [SAMPLE], [REMOVED])
    assert_no_leftovers(index_dir)

    (articles_dir / "noch.txt").write_text("Noch\n\nEin Artikel über Sylt.\n")
    sync_index(articles_dir, index_dir, fake_embedder)
    store = assert_opens_and_answers(articles_dir, index_dir)
    assert store.article_text(SAMPLE) == NEW_SAMPLE_TEXT
    assert REMOVED not in {a.path for a in store.articles()}
    assert len(list_generations(index_dir)) == KEEP_GENERATIONS
    assert_no_leftovers(index_dir)


# --- kill -9 on a timer -------------------------------------------------------------------


def write_articles(folder: Path, count: int, version: int) -> None:
    for n in range(count):
        paragraphs = "\n\n".join(
            f"Absatz {p}: In Flensburg wurde Leuchtturm {n} renoviert, sagte der Bürgermeister "
            f"in Fassung {version}. Die Arbeiten dauerten {p + version} Wochen."
            for p in range(4)
        )
        (folder / f"m{n:04d}.txt").write_text(f"Meldung {n}\n\n{paragraphs}\n")


def test_kill_9_at_random_moments_of_a_long_sync(tmp_path: Path, index_location, fake_embedder):
    articles, index = tmp_path / "articles", index_location  # both stores
    articles.mkdir()
    count = 120
    write_articles(articles, count, version=0)
    add_anchor(articles)
    started = time.perf_counter()
    sync_index(articles, index, fake_embedder)
    duration = time.perf_counter() - started

    for version, fraction in enumerate([0.2, 0.6, 0.85, 1.0, 1.15], start=1):
        write_articles(articles, count, version)
        syncing = run_script(LONG_SYNC_SCRIPT, articles, index, stdout=subprocess.PIPE)
        assert syncing.stdout.readline().strip() == "ready"
        time.sleep(duration * fraction)
        syncing.kill()
        syncing.wait()

        store = assert_opens_and_answers(articles, index)
        # Syncs publish in batches, so articles may be at different versions; each article
        # is whole: its text and all its chunks are of one version.
        for article in store.articles():
            chunks = store.chunks(store.article_chunk_ids(article.path))
            text = store.article_text(article.path)
            assert len(chunks) == article.chunk_count
            versions = set(re.findall(r"Fassung (\d+)", text))
            versions |= {v for c in chunks for v in re.findall(r"Fassung (\d+)", c.text)}
            assert len(versions) <= 1, f"{article.path} mixes versions {versions}"
        assert len(store.articles()) == count + 1

    embedded = fake_embedder.passages_embedded
    # a killed PostgreSQL writer's lock goes when the server notices (at once, unless mid-query)
    report = sync_index(articles, index, fake_embedder, lock_wait_seconds=30)
    store = assert_opens_and_answers(articles, index)
    assert all("Fassung 5." in store.article_text(f"m{n:04d}.txt") for n in range(count))
    # what the killed syncs published is not embedded again
    redone = store.chunks([i for p in report.updated for i in store.article_chunk_ids(p)])
    passages = [embedding_text(c) for c in redone]
    # identical passages are embedded once per batch
    assert len(set(passages)) <= fake_embedder.passages_embedded - embedded <= len(passages)
    assert report.generation == store.generation
    assert_no_leftovers(index)


# --- one writer at a time -----------------------------------------------------------------

SLOW_INDEX_SCRIPT = r"""
import sys, time
import bot.cli
from tests.fakes.embedder import FakeEmbedder, install

class Slow(FakeEmbedder):
    def embed_passages(self, texts):
        time.sleep(0.15)
        return super().embed_passages(texts)

install(Slow)
sys.exit(bot.cli.main(sys.argv[1:]))
"""


@pytest.fixture
def cli_with_fake_model(monkeypatch, tmp_path: Path):
    """The CLI in-process, with FakeEmbedder for whatever model the settings name."""
    monkeypatch.chdir(tmp_path)  # no .env of the project
    with use_fake_model():
        yield cli.main


def test_a_second_sync_in_another_process_is_refused_with_the_owner_pid(
    articles_dir: Path, index_dir: Path, cli_with_fake_model, capsys
):
    dirs = ["--articles", str(articles_dir), "--index", str(index_dir)]
    first = run_script(SLOW_INDEX_SCRIPT, "index", *dirs, stderr=subprocess.PIPE)
    try:
        lock_file = index_dir / LOCK_NAME
        deadline = time.monotonic() + 20
        while not (lock_file.exists() and lock_file.read_text().strip() == str(first.pid)):
            assert time.monotonic() < deadline, "the first sync never took the lock"
            time.sleep(0.02)

        assert cli_with_fake_model(["index", *dirs]) == cli.EXIT_FAILURE
        message = capsys.readouterr().err
        assert f"being written by another newsbot process (pid {first.pid})" in message
        assert first.wait(timeout=60) == 0
    finally:
        first.kill()
        first.wait()
    assert cli_with_fake_model(["index", *dirs]) == cli.EXIT_OK


# --- damaged index files ------------------------------------------------------------------


def database_of(index_dir: Path) -> Path:
    return index_dir / IndexStore.open(index_dir).manifest.database


def truncate_database(index_dir: Path) -> None:
    path = database_of(index_dir)
    path.write_bytes(path.read_bytes()[:100])


def break_sqlite(index_dir: Path) -> None:
    path = database_of(index_dir)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # header intact, first page garbage
    path.write_bytes(bytes(data))


def garble_current(index_dir: Path) -> None:
    (index_dir / CURRENT_FILE).write_text("../../etc\n")


def delete_generation(index_dir: Path) -> None:
    for path in list_generations(index_dir):
        for file in path.iterdir():
            file.unlink()
        path.rmdir()


@pytest.mark.parametrize(
    "damage",
    [truncate_database, break_sqlite, garble_current, delete_generation],
    ids=["truncated-sqlite", "broken-sqlite", "bad-current", "missing-generation"],
)
def test_damage_is_detected_at_start_and_rebuild_recovers(
    articles_dir: Path, index_dir: Path, cli_with_fake_model, capsys, damage
):
    dirs = ["--articles", str(articles_dir), "--index", str(index_dir)]
    add_anchor(articles_dir)
    assert cli_with_fake_model(["index", *dirs]) == cli.EXIT_OK
    damage(index_dir)
    capsys.readouterr()

    for command in (["ask", "Was sagte Putin?"], ["index"], ["watch"]):
        assert cli_with_fake_model([*command, *dirs]) == cli.EXIT_FAILURE, command
        message = capsys.readouterr().err
        assert "damaged" in message and "newsbot index --rebuild" in message, message

    assert cli_with_fake_model(["index", "--rebuild", *dirs]) == cli.EXIT_OK
    assert "added 6" in capsys.readouterr().err
    assert cli_with_fake_model(["ask", ANCHOR_FACT, "--json", *dirs]) == cli.EXIT_OK
    assert f'"article": "{ANCHOR}"' in capsys.readouterr().out
    assert_no_leftovers(index_dir)
