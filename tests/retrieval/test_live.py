"""LiveIndex: a sync swaps the answering snapshot atomically, without stalling anyone."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from index.verbatim import canonical
from retrieval.live import LiveIndex
from tests.fakes.embedder import FakeEmbedder

SAMPLE = "004_4a36d75bdf1d0814.txt"
# Questions are sentences of the articles: FakeEmbedder has no semantics, and retrieval rightly
# abstains from weak evidence, so only near-verbatim questions are answered for sure.
OLD_FACT = (
    "Um auf eine Waffenruhe vorbereitet zu sein, sollen die Militärchefs seiner sogenannten "
    "Koalition der Willigen nun am Donnerstag in London über Einzelheiten einer möglichen "
    "Friedenstruppe beraten."
)
NEW_FACT = "Im Hafen von Kiel legte ein Frachter voller Pinguine an."
NEW_TEXT = f"Neue Meldung\n\n{NEW_FACT}\n"


class GatedEmbedder(FakeEmbedder):
    """Queries wait at a gate, so a test can hold an answer in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()

    def embed_queries(self, texts):
        self.waiting.set()
        assert self.gate.wait(10), "gate never opened"
        return super().embed_queries(texts)


class SlowEmbedder(FakeEmbedder):
    """Embedding passages takes a while, as with a real model: per passage, since a sync
    embeds many articles' passages in one call."""

    def embed_passages(self, texts):
        time.sleep(0.005 * len(texts))
        return super().embed_passages(texts)


def test_query_in_flight_finishes_on_its_snapshot(articles_dir: Path, index_dir: Path):
    embedder = GatedEmbedder()
    live = LiveIndex(articles_dir, index_dir, embedder)
    live.sync()
    old_generation = live.generation
    old_text = (articles_dir / SAMPLE).read_text()

    embedder.gate.clear()
    result = {}
    asking = threading.Thread(target=lambda: result.update(answer=live.answer(OLD_FACT)))
    asking.start()
    assert embedder.waiting.wait(5)
    # While the question is in flight: replace the article and publish three generations,
    # so the one the question started on is even pruned from disk.
    (articles_dir / SAMPLE).write_text(NEW_TEXT)
    for n in range(3):
        (articles_dir / f"extra{n}.txt").write_text(f"Zusatz {n}\n\nEin Artikel über Kiel.\n")
        live.sync()
    assert live.generation > old_generation
    assert not (index_dir / f"gen-{old_generation:06d}").exists()
    embedder.gate.set()
    asking.join(5)

    old_quotes = [q for q in result["answer"].quotes if q.article == SAMPLE]
    assert old_quotes, "the in-flight answer lost the article it started with"
    assert all(canonical(q.text) in canonical(old_text) for q in old_quotes)
    fresh = live.answer(NEW_FACT)
    assert fresh.quotes[0].article == SAMPLE
    assert fresh.quotes[0].text in NEW_TEXT


async def test_sync_in_a_thread_keeps_the_event_loop_and_answers_going(
    articles_dir: Path, index_dir: Path
):
    live = LiveIndex(articles_dir, index_dir, SlowEmbedder())
    live.sync()
    before = live.generation
    for n in range(40):
        (articles_dir / f"new{n:02d}.txt").write_text(
            f"Meldung {n}\n\nIn Flensburg wurde Leuchtturm Nummer {n} renoviert.\n"
        )

    sync = asyncio.create_task(asyncio.to_thread(live.sync))
    answered_during_sync = 0
    seen: list[int | None] = []
    while not sync.done():
        await asyncio.sleep(0.01)
        answer = await asyncio.to_thread(live.answer, OLD_FACT)
        assert answer.quotes
        if not sync.done():
            answered_during_sync += 1
            seen.append(live.generation)
    report = await sync

    assert len(report.added) == 40
    assert answered_during_sync >= 3
    # The old snapshot until the swap, which comes just before the sync returns (a last
    # answer may land between the swap and the thread's return).
    assert seen[0] == before and set(seen) <= {before, live.generation}
    assert seen == sorted(seen)
    assert live.generation > before
    assert (
        (await asyncio.to_thread(live.answer, "Leuchtturm Flensburg"))
        .quotes[0]
        .article.startswith("new")
    )


def test_edited_and_removed_articles_leave_the_answers(articles_dir: Path, index_dir: Path):
    live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    live.sync()
    assert SAMPLE in {q.article for q in live.answer(OLD_FACT).quotes}

    (articles_dir / SAMPLE).write_text(NEW_TEXT)
    report = live.sync()
    assert report.updated == [SAMPLE]
    quotes = [q for q in live.answer(OLD_FACT, top=20).quotes if q.article == SAMPLE]
    assert all(q.text in NEW_TEXT for q in quotes)
    assert "Friedenstruppe" not in " ".join(q.text for q in quotes)

    (articles_dir / SAMPLE).unlink()
    report = live.sync()
    assert report.removed == [SAMPLE]
    assert SAMPLE not in {q.article for q in live.answer(NEW_FACT, top=20).quotes}
    assert SAMPLE not in {a.path for a in live.articles()}


def test_nothing_changed_keeps_the_same_snapshot(articles_dir: Path, index_dir: Path):
    live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    live.sync()
    answerer = live.answerer
    report = live.sync()
    assert not report.changed
    assert live.answerer is answerer


def test_refresh_follows_a_generation_published_by_another_process(
    articles_dir: Path, index_dir: Path
):
    """`newsbot chat` answers from what `newsbot watch` (another LiveIndex) just published."""
    reader = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    reader.sync()
    assert reader.refresh() is None  # nothing new
    assert NEW_FACT not in " ".join(q.text for q in reader.answer(NEW_FACT).quotes)

    (articles_dir / "kiel.txt").write_text(NEW_TEXT)
    (articles_dir / SAMPLE).write_text(NEW_TEXT + "\nNoch ein Satz über Kiel.\n")
    writer = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    writer.sync()

    change = reader.refresh()
    assert change is not None
    assert (change.added, change.updated, change.removed) == (("kiel.txt",), (SAMPLE,), ())
    assert change.summary() == "1 new article, 1 updated"
    assert reader.generation == writer.generation
    assert reader.answer(NEW_FACT).quotes[0].text == NEW_FACT
    assert reader.refresh() is None  # reported once

    (articles_dir / "kiel.txt").unlink()
    writer.sync()
    assert reader.refresh().summary() == "1 article removed"


def test_refresh_keeps_the_snapshot_when_the_index_is_damaged(articles_dir: Path, index_dir: Path):
    live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    live.sync()
    generation = live.generation
    (index_dir / "CURRENT").write_text("gen-999999\n")  # points at nothing
    assert live.refresh() is None
    assert live.generation == generation
    assert live.answer(OLD_FACT).quotes


def test_index_change_summaries() -> None:
    from retrieval.live import IndexChange

    assert IndexChange(added=("a", "b", "c")).summary() == "3 new articles"
    assert IndexChange(updated=("a",)).summary() == "1 article updated"
    assert IndexChange(added=("a",), removed=("b", "c")).summary() == "1 new article, 2 removed"
    assert not IndexChange()
