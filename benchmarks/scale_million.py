"""The store at a million chunks, written directly through `IndexWriter` (no article files).

    python -m benchmarks.scale_million [--chunks 1000000] [--dir PATH]

Building a million chunks through `sync_index` (cleaning every file) takes hours on these
machines; this writes synthetic articles (real sentences recombined, as `benchmarks.scale`)
straight into the store, 50,000 articles per generation, then measures what the store costs
at that size: add one article (`sync_index` of the new file's path, as the folder watcher
runs it: cleaning, chunking, embedding, writing, publishing), the swap to the next generation,
and a reader process (start-up from the saved vector block, the store's part of a question,
FAISS alone, 8 askers vs 1, recall@20 of the IVF index, max RSS). `first_open` is the first
start-up after the build: every vector read from SQLite, the IVF index trained and saved.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.scale import (
    ROOT,
    SEED,
    HashEmbedder,
    build,
    disk_bytes,
    max_rss_mb,
    sentence_pool,
    synthetic_article,
    timed,
)
from index.stores.sqlite import IndexStore, read_live
from index.sync import sync_index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="index folder kept between runs: built there once, measured again on later runs "
        "(each run adds 3 articles); delete it afterwards",
    )
    args = parser.parse_args(argv)
    embedder, pool = HashEmbedder(), sentence_pool()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        index = args.keep or Path(tmp) / "index"
        result: dict[str, object] = {}
        if not (index / "CURRENT").exists():
            built, wall, cpu = timed(build, index, args.chunks, embedder, pool)
            result["build"] = {**built, "s": round(wall, 1), "cpu_s": round(cpu, 1)}
            result["build"]["max_rss_mb"] = max_rss_mb()
        live, wall, cpu = timed(IndexStore.open, index, embedder.model_id)
        result["first_open_s"], result["first_open_cpu_s"] = round(wall, 2), round(cpu, 2)
        # this process's peak so far (build, then first open); the reader reports its own
        result["first_open_max_rss_mb"] = max_rss_mb()
        adds, swaps, rng = [], [], random.Random(SEED + 2)
        articles = Path(tmp) / "articles"  # the new ones only: a sync of its paths walks no
        articles.mkdir()  # folder, so the archive's files need not exist
        for n in range(3):
            manifest, _ = read_live(index, embedder.model_id, paths=[])
            name = f"new-{manifest.generation}.txt"
            (articles / name).write_text(synthetic_article(rng, pool, 10**7 + n))
            report, wall, cpu = timed(sync_index, articles, index, embedder, paths=[name])
            assert report.added == [name], report.summary()
            adds.append((wall, cpu))
            live, wall, cpu = timed(IndexStore.open, index, embedder.model_id)
            swaps.append((wall, cpu))
        result["add_one_article_s"] = round(statistics.median(w for w, _ in adds), 3)
        result["add_one_article_cpu_s"] = round(statistics.median(c for _, c in adds), 3)
        result["swap_s"] = round(statistics.median(w for w, _ in swaps), 3)
        result["swap_cpu_s"] = round(statistics.median(c for _, c in swaps), 3)
        result["after_adds_max_rss_mb"] = max_rss_mb()  # three syncs and swaps in this process
        del live
        result["disk_mb"] = round(disk_bytes(index) / 1e6, 1)
        command = [
            "-m",
            "benchmarks.scale",
            "--reader",
            str(index),
            "--questions",
            str(args.questions),
        ]
        done = subprocess.run(
            [sys.executable, *command], capture_output=True, text=True, cwd=ROOT, check=True
        )
        result["reader"] = json.loads(done.stdout)
        print(json.dumps(result, indent=1), flush=True)


if __name__ == "__main__":
    main()
