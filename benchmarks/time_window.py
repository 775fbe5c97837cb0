"""`make bench`: what a date window costs in the store, embedded and PostgreSQL.

    python -m benchmarks.time_window [--articles 10000] [--per-article 5] [--days 100]
        [--queries 100] [--store postgresql://…]

A synthetic dated archive (clustered unit vectors as news paragraphs are, Zipf-distributed
words; articles spread evenly over `days` days, so a one-day window holds ~1/days of it) is
written to both stores. Each question is asked as the answerer asks the store (vector search
top 20 + full-text search top 20) without a window and with a one-day window; reported are the
medians, p95 and their ratio. The issue's goal: a window holding ~1 % costs at most 2x.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from index.dates import DateRange
from index.documents import Chunk, Sentence
from index.stores.sqlite import IndexWriter

WORDS = [f"w{i}" for i in range(20_000)]
DIMENSION = 384
FIRST_DAY = date(1987, 1, 1)


def write(writers: dict, articles: int, per_article: int, days: int) -> tuple[list, float]:
    rng = np.random.default_rng(11)
    topics = rng.standard_normal((2000, DIMENSION)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    ranks = np.minimum(rng.zipf(1.3, size=articles * per_article * 40), len(WORDS)) - 1
    samples, started = [], time.perf_counter()
    for a in range(articles):
        day = FIRST_DAY + timedelta(days=a * days // articles)
        stamp = f"{day.isoformat()}T{a % 24:02d}:00"
        chunks, texts = [], []
        for c in range(per_article):
            i = a * per_article + c
            words = " ".join(WORDS[r] for r in ranks[i * 40 : (i + 1) * 40])
            sentence = Sentence(words, 0, len(words))
            chunks.append(Chunk(i + 1, f"a{a}.txt", None, stamp, None, c + 1, (sentence,)))
            texts.append(words)
        vectors = topics[rng.integers(0, len(topics), per_article)] + 0.6 * rng.standard_normal(
            (per_article, DIMENSION)
        ).astype(np.float32) / np.sqrt(DIMENSION)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        if a % 97 == 0:
            samples.append(vectors[0])
        for writer in writers.values():
            writer.add_article(
                path=f"a{a}.txt",
                raw=" ".join(texts),
                content_hash=str(a),
                title=None,
                date=stamp,
                chunks=chunks,
                chunk_vectors=vectors,
            )
    for writer in writers.values():
        writer.publish()
        writer.close()
    return samples, time.perf_counter() - started


def measure(store, queries, term_sets, window: DateRange | None) -> list[float]:
    times = []
    for query, terms in zip(queries, term_sets, strict=True):
        extra = {} if window is None else {"window": window}
        t = time.perf_counter()
        store.search(query, 20, **extra)
        store.lexical_search(terms, 20, **extra)
        times.append((time.perf_counter() - t) * 1000)
    return times


def run(args: argparse.Namespace, url: str | None, tmp: Path) -> None:
    from index.stores import open_store

    writers = {"embedded": IndexWriter(tmp / "dated", "synthetic", DIMENSION, None)}
    location = None
    if url:
        from index.stores.postgres import PgIndexWriter, with_schema

        location = with_schema(url, f"dated_{args.articles}")
        writers["postgresql"] = PgIndexWriter(location, "synthetic", DIMENSION, None)
    samples, seconds = write(writers, args.articles, args.per_article, args.days)
    chunks = args.articles * args.per_article
    print(
        f"time window: {args.articles} dated articles ({chunks} chunks) over {args.days} days "
        f"written to {', '.join(writers)} in {seconds:.0f} s",
        flush=True,
    )
    rng = np.random.default_rng(5)
    picked = np.array(samples)[rng.integers(0, len(samples), args.queries)]
    queries = picked + 0.6 * rng.standard_normal(picked.shape).astype(np.float32) / np.sqrt(
        DIMENSION
    )
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    term_sets = [[WORDS[int(r)] for r in rng.integers(50, 5000, size=3)] for _ in queries]
    day = FIRST_DAY + timedelta(days=args.days // 2)
    window = DateRange(day.isoformat(), (day + timedelta(days=1)).isoformat())
    stores = {"embedded": open_store(tmp / "dated")}
    if location:
        stores["postgresql"] = open_store(location)
    for name, store in stores.items():
        held = len(store.search(queries[0], chunks, window=window))
        measure(store, queries[:5], term_sets[:5], None)  # warm up
        measure(store, queries[:5], term_sets[:5], window)
        plain = measure(store, queries, term_sets, None)
        windowed = measure(store, queries, term_sets, window)
        ratio = statistics.median(windowed) / statistics.median(plain)
        print(
            f"  {name}: window of one day = {held} chunks ({held / chunks:.1%}); store time per "
            f"question (vector top 20 + full-text top 20): no window p50 "
            f"{statistics.median(plain):.1f} ms p95 {np.percentile(plain, 95):.1f} ms, window "
            f"p50 {statistics.median(windowed):.1f} ms p95 {np.percentile(windowed, 95):.1f} "
            f"ms; ratio {ratio:.2f} (goal <= 2)",
            flush=True,
        )
    if location:
        from index.stores.postgres import close_connections

        close_connections(location)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.time_window", description=__doc__)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--per-article", type=int, default=5)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--store", default="", help="postgresql:// URL (default: start one)")
    parser.add_argument("--no-postgresql", action="store_true", help="the embedded store only")
    args = parser.parse_args(argv)
    server = None
    url = args.store or None
    if not url and not args.no_postgresql:
        from tests.fakes.postgres_server import PgServer

        server = PgServer()
        url = server.url()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(args, url, Path(tmp))
    finally:
        if server is not None:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
