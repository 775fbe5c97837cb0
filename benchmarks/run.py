"""`make bench`: indexing throughput, query latency and memory on the sample articles.

Speed and memory are measured here, never asserted in unit tests: numbers depend on the machine.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from index.embedders import load_embedder
from index.stores.sqlite import IndexStore
from index.sync import sync_index
from retrieval.answerer import Answerer

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "articles"
# Issue 3: the median answer costs at most 1.5x the bare query embedding.
LATENCY_GOAL = 1.5
QUESTIONS = [
    "What conditions did Putin set?",
    "Who is travelling to Moscow for the ceasefire talks?",
    "Wie lange soll die vorgeschlagene Waffenruhe dauern?",
    "Welche Städte wurden von russischen Drohnen getroffen?",
    "What is the population of Brazil?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    results: dict[str, object] = {}
    started = time.perf_counter()
    embedder = load_embedder()
    embedder.embed_passages(["warm-up"])  # the weights load on first use: not indexing's cost
    results["model_load_s"] = round(time.perf_counter() - started, 3)

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        report = sync_index(ARTICLES, index_dir, embedder, rebuild=True)
        store = IndexStore.open(index_dir, embedder.model_id)
        results["index_rebuild"] = {  # paragraphs only: sentences are embedded when quoted
            "articles": len(report.added),
            "chunks": report.chunks_embedded,
            "seconds": round(report.seconds, 2),
            "passages_per_s": round(report.chunks_embedded / report.seconds, 1),
            "articles_per_s": round(len(report.added) / report.seconds, 2),
        }
        again = sync_index(ARTICLES, index_dir, embedder)
        results["index_unchanged_rerun_s"] = round(again.seconds, 3)

        answerer = Answerer(store, embedder)
        for question in QUESTIONS:  # warm-up, which also embeds the quoted paragraphs'
            answerer.answer(question)  # sentences (a cold answer: benchmarks.scale_embedding)
        embed_ms, total_ms = [], []
        for _ in range(10):
            for question in QUESTIONS:
                t0 = time.perf_counter()
                embedder.embed_queries([question])
                embed_ms.append((time.perf_counter() - t0) * 1000)
                total_ms.append(answerer.answer(question).timing_ms["total"])
        results["query_embed_ms"] = {
            "p50": round(statistics.median(embed_ms), 2),
            "p95": round(percentile(embed_ms, 0.95), 2),
        }
        results["answer_total_ms"] = {
            "p50": round(statistics.median(total_ms), 2),
            "p95": round(percentile(total_ms, 0.95), 2),
        }
        ratio = statistics.median(total_ms) / statistics.median(embed_ms)
        results["answer_p50_over_embed_p50"] = round(ratio, 2)
        results["answer_p50_within_goal"] = ratio <= LATENCY_GOAL
    results["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["cli_ask_cold_s"] = _cold_cli_seconds()
    print(json.dumps(results, indent=2))


def _cold_cli_seconds() -> float | None:
    """Wall time of a fresh `newsbot ask` process (model load + index open + one answer)."""
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        sync_index(ARTICLES, index_dir, load_embedder())
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "ask",
                "Who is travelling to Moscow?",
                "--index",
                str(index_dir),
                "--articles",
                str(ARTICLES),
            ],
            capture_output=True,
            cwd=ROOT,
            check=False,
        )
        return round(time.perf_counter() - started, 2) if done.returncode == 0 else None


if __name__ == "__main__":
    main()
