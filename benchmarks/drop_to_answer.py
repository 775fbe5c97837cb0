"""How fast a new article becomes answerable, and what a 200-file burst costs (real model).

    python -m benchmarks.drop_to_answer [--burst N] [--model NAME]

1. drop-to-answer: an article with a fact no other article has is written into the watched
   folder; the clock stops at the first answer that quotes it. Questions about other articles
   are answered meanwhile, and their latency during the sync is reported too.
2. burst: N files copied in as fast as possible; reports how many syncs the watcher ran, when
   the last one finished and when the last file's fact became answerable.

Uses the production watcher timings (debounce, stability check), so the numbers are what a
user of `newsbot watch` / `newsbot telegram` sees. Prints JSON; measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bot.watch import ArticleWatcher
from index.embedders import load_embedder
from index.sync import SyncReport
from retrieval.live import LiveIndex

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "articles"
POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 600

DROPPED_NAME = "flensburg-solarpark.txt"
DROPPED_ARTICLE = """Schwimmender Solarpark in Flensburg

date 2025-03

Die Stadtwerke Flensburg haben am Dienstag einen schwimmenden Solarpark auf der Förde in \
Betrieb genommen. Die Anlage mit 4.200 Modulen soll rund 900 Haushalte mit Strom versorgen.

Der Bau hatte 14 Monate gedauert. Umweltverbände hatten zuvor Bedenken wegen der Seegraswiesen \
geäußert, die nach Angaben der Stadtwerke aber nicht berührt werden.
"""
DROPPED_QUESTION = "Wie viele Haushalte soll der schwimmende Solarpark in Flensburg versorgen?"
OTHER_QUESTION = "What conditions did Putin set?"

TOWNS = ["Husum", "Kiel", "Lübeck", "Rostock", "Wismar", "Emden", "Cuxhaven", "Bremerhaven"]


def burst_article(n: int) -> str:
    town = TOWNS[n % len(TOWNS)]
    return (
        f"Leuchtturm Nummer {n} in {town} renoviert\n\n"
        f"In {town} ist der Leuchtturm mit der Nummer {n} nach {n % 11 + 2} Monaten Bauzeit "
        f"wieder in Betrieb gegangen. Die Sanierung kostete nach Angaben der Stadt "
        f"{n * 7 + 100} Tausend Euro.\n"
    )


def burst_question(n: int) -> str:
    return f"Wie viel kostete die Sanierung des Leuchtturms Nummer {n} in {TOWNS[n % len(TOWNS)]}?"


class SyncLog:
    """Times and reports of the watcher's syncs, from its thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[tuple[float, SyncReport]] = []

    def __call__(self, report: SyncReport) -> None:
        with self.lock:
            self.entries.append((time.perf_counter(), report))

    def since(self, start: float) -> list[tuple[float, SyncReport]]:
        with self.lock:
            return [(t, r) for t, r in self.entries if t >= start]


def quotes_article(live: LiveIndex, question: str, name: str) -> bool:
    return any(q.article == name for q in live.answer(question).quotes)


def wait_until_answerable(live: LiveIndex, question: str, name: str) -> tuple[float, list[float]]:
    """Seconds until an answer quotes `name`, and latencies of other questions meanwhile."""
    started = time.perf_counter()
    others_ms = []
    while not quotes_article(live, question, name):
        if time.perf_counter() - started > TIMEOUT_SECONDS:
            raise TimeoutError(f"{name} never showed up in answers")
        asked = time.perf_counter()
        live.answer(OTHER_QUESTION)
        others_ms.append((time.perf_counter() - asked) * 1000)
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started, others_ms


def measure_drop(live: LiveIndex, articles: Path, syncs: SyncLog) -> dict[str, object]:
    dropped = time.perf_counter()
    (articles / DROPPED_NAME).write_text(DROPPED_ARTICLE)
    seconds, others_ms = wait_until_answerable(live, DROPPED_QUESTION, DROPPED_NAME)
    done = syncs.since(dropped)
    sync_seconds = done[0][1].seconds if done else None
    return {
        "drop_to_answer_s": round(seconds, 2),
        "of_which_sync_s": round(sync_seconds, 2) if sync_seconds is not None else None,
        "of_which_waiting_for_quiet_and_stable_s": (
            round(seconds - sync_seconds, 2) if sync_seconds is not None else None
        ),
        "other_questions_answered_meanwhile": len(others_ms),
        "other_question_ms_p50": round(statistics.median(others_ms), 1) if others_ms else None,
        "other_question_ms_max": round(max(others_ms), 1) if others_ms else None,
    }


def measure_burst(live: LiveIndex, articles: Path, syncs: SyncLog, count: int) -> dict[str, object]:
    started = time.perf_counter()
    for n in range(count):
        (articles / f"burst-{n:03d}.txt").write_text(burst_article(n))
    copied = time.perf_counter() - started
    last = count - 1
    seconds, _ = wait_until_answerable(live, burst_question(last), f"burst-{last:03d}.txt")
    time.sleep(3.0)  # let any trailing sync show up in the count
    done = syncs.since(started)
    added = [len(report.added) for _, report in done]
    return {
        "files": count,
        "copy_s": round(copied, 3),
        "syncs": len(done),
        "articles_added_per_sync": added,
        "sync_seconds": [round(report.seconds, 2) for _, report in done],
        "last_file_answerable_after_s": round(seconds, 2),
        "all_synced_after_s": round(done[-1][0] - started, 2) if done else None,
        "chunks_embedded": sum(report.chunks_embedded for _, report in done),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=200, help="files in the burst (200)")
    parser.add_argument("--model", default=None, help="embedding model (default: bundled)")
    args = parser.parse_args(argv)

    embedder = load_embedder(args.model)
    results: dict[str, object] = {"model": embedder.model_id}
    with tempfile.TemporaryDirectory() as tmp:
        articles = Path(tmp) / "articles"
        shutil.copytree(ARTICLES, articles)
        live = LiveIndex(articles, Path(tmp) / "index", embedder)
        syncs = SyncLog()
        watcher = ArticleWatcher(
            articles, live.sync, sync_changed=lambda paths: live.sync(paths=paths), on_synced=syncs
        )
        initial = watcher.start(initial_sync=True)
        results["initial_sync_s"] = round(initial.seconds, 2) if initial else None
        results["watcher"] = {
            "events": watcher.events_active,
            "debounce_s": watcher.debounce_seconds,
            "stability_s": watcher.stability_seconds,
            "max_delay_s": watcher.max_delay_seconds,
        }
        try:
            live.answer(OTHER_QUESTION)  # warm-up
            results["drop_to_answer"] = measure_drop(live, articles, syncs)
            results["burst"] = measure_burst(live, articles, syncs, args.burst)
        finally:
            watcher.stop()
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
