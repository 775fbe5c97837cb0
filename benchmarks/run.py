"""`make bench`: indexing throughput, query latency and memory on the sample articles.

Speed and memory are measured here, never asserted in unit tests: numbers depend on the machine.

    python -m benchmarks.run [--docs docs/scale.md]

Prints the figures as JSON; with `--docs` (as `make bench` runs it) it also writes them as a
table between the page's `make bench` markers (`evaluation.markers`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evaluation.markers import MarkerError, check_block, write_block
from index.embedders import load_embedder
from index.stores.sqlite import IndexStore
from index.sync import sync_index
from retrieval.answerer import Answerer

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "articles"
DOCS_BLOCK = "make bench"  # docs/scale.md's markers: <!-- make bench: begin --> … end
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="", help="write the figures between its bench markers")
    args = parser.parse_args(argv)
    if args.docs:  # fail before the run, not after it
        try:
            check_block(Path(args.docs), DOCS_BLOCK)
        except MarkerError as error:
            parser.error(f"--docs {args.docs}: {error}")

    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": os.cpu_count(),
        "load_1min_at_start": round(os.getloadavg()[0], 1),
    }
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
    if args.docs:
        write_block(Path(args.docs), DOCS_BLOCK, summary(results))
        print(f"figures written to {args.docs}", file=sys.stderr)


def summary(results: dict) -> str:
    """The figures of one run as a Markdown table, for the docs page."""
    rebuild, embed, answer = (
        results["index_rebuild"],
        results["query_embed_ms"],
        results["answer_total_ms"],
    )
    cold = results["cli_ask_cold_s"]
    machine = f"{results['cores']} cores, load {results['load_1min_at_start']} at the start"
    indexed = f"{rebuild['articles']} articles, {rebuild['chunks']} passages"
    rows = [
        ("run", f"{results['date']}, {machine}"),
        ("model load", f"{results['model_load_s']} s"),
        (
            "index the sample articles from scratch",
            f"{indexed} in {rebuild['seconds']} s ({rebuild['passages_per_s']} passages/s)",
        ),
        ("sync again, nothing changed", f"{results['index_unchanged_rerun_s']} s"),
        ("query embedding p50 / p95", f"{embed['p50']} / {embed['p95']} ms"),
        ("answer (warm) p50 / p95", f"{answer['p50']} / {answer['p95']} ms"),
        (
            "answer p50 / query embedding p50",
            f"{results['answer_p50_over_embed_p50']}× (goal ≤ {LATENCY_GOAL}×)",
        ),
        ("max RSS of the process", f"{results['max_rss_mb']} MB"),
        (
            "a fresh `newsbot ask` process (model load, index open, one answer)",
            "failed" if cold is None else f"{cold} s",
        ),
    ]
    lines = ["| `benchmarks.run` | measured |", "|---|---|"]
    return "\n".join(lines + [f"| {name} | {value} |" for name, value in rows])


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
