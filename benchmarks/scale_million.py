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

import numpy as np

from benchmarks.scale import (
    CHUNKS_PER_ARTICLE,
    ROOT,
    SEED,
    HashEmbedder,
    disk_bytes,
    max_rss_mb,
    sentence_pool,
    synthetic_article,
    timed,
)
from index.chunking import chunk_id
from index.model import Chunk, Sentence
from index.stores.sqlite import IndexStore, IndexWriter, read_live
from index.sync import PIPELINE_VERSION, sync_index

PUBLISH_EVERY = 50_000  # articles per generation while building
BATCH = 1_000  # articles generated and embedded at once (divides PUBLISH_EVERY)


class PoolVectors:
    """`HashEmbedder`'s vectors of the pool's sentences before normalising: a chunk made of pool
    sentences embeds as the normalised sum of its sentences' rows (the words of a space-joined
    text are its sentences' words), so a build need not look at a word of it again."""

    def __init__(self, embedder: HashEmbedder, pool: list[str]) -> None:
        self.embedder = embedder
        self.sums = np.stack([embedder.word_sum(text) for text in pool])

    def chunks(self, sentences: list[np.ndarray]) -> np.ndarray:
        """Unit vectors of chunks, each given as the pool rows of its sentences."""
        counts = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        return self.embedder.unit_rows(
            np.add.reduceat(self.sums[np.concatenate(sentences)], starts, axis=0)
        )


def synthetic_chunks(rng: random.Random, pool: list[str], path: str, n: int):
    """An article as `benchmarks.scale` writes it, chunked without the cleaning pipeline
    (pysbd alone would take most of an hour for a million chunks here). Also returns the pool
    rows of each chunk's sentences (the same draws as `rng.choice(pool)`)."""
    size = len(pool)
    title = f"Meldung {n}: " + " ".join(pool[rng.randrange(size)].split()[:6])
    raw, chunks, rows = f"{title}\n\ndate 2025-03-{n % 28 + 1:02d}\n\n", [], []
    for paragraph in range(1, CHUNKS_PER_ARTICLE + 1):
        drawn = [rng.randrange(size) for _ in range(rng.randint(2, 5))]
        sentences = []
        for text in (pool[i] for i in drawn):
            sentences.append(Sentence(text, len(raw), len(raw) + len(text)))
            raw += text + " "
        raw += "\n\n"
        text = " ".join(s.text for s in sentences)
        chunks.append(
            Chunk(
                chunk_id(path, paragraph, 0, text),
                path,
                title,
                None,
                None,
                paragraph,
                tuple(sentences),
            )
        )
        rows.append(np.array(drawn, dtype=np.int64))
    return raw, title, chunks, rows


def build(
    index: Path,
    chunks: int,
    embedder: HashEmbedder,
    pool: list[str],
    articles: Path | None = None,
) -> dict:
    """Write `chunks` synthetic chunks straight into a new store. With `articles`, each article
    is also written there as a file, and its size and mtime recorded as a sync records them, so
    a later `sync_index` of that folder finds the archive unchanged."""
    rng = random.Random(SEED)
    vectors = PoolVectors(embedder, pool)
    writer = IndexWriter(
        index, embedder.model_id, embedder.dimension, None, pipeline=PIPELINE_VERSION
    )
    written, total = 0, chunks // CHUNKS_PER_ARTICLE
    try:
        for first in range(0, total, BATCH):
            batch = []
            for n in range(first, min(first + BATCH, total)):
                path = f"{n // 1000:04d}/a{n:07d}.txt"
                batch.append((path, synthetic_chunks(rng, pool, path, n)))
            embedded = vectors.chunks([rows for _, (*_, r) in batch for rows in r])
            half = embedded.astype(np.float16)  # sentence vectors are stored as float16
            row = 0
            for path, (raw, title, parts, rows) in batch:
                size = mtime_ns = -1
                if articles is not None:
                    file = articles / path
                    file.parent.mkdir(parents=True, exist_ok=True)
                    file.write_text(raw, encoding="utf-8")
                    stat = file.stat()
                    size, mtime_ns = stat.st_size, stat.st_mtime_ns
                writer.add_article(
                    path=path,
                    raw=raw,
                    content_hash=str(hash(raw)),
                    title=title,
                    date=None,
                    chunks=parts,
                    chunk_vectors=embedded[row : row + len(parts)],
                    # stored like real ones (one per sentence); the chunk's vector stands in
                    sentence_vectors=[
                        np.repeat(half[row + i : row + i + 1], len(r), 0)
                        for i, r in enumerate(rows)
                    ],
                    size=size,
                    mtime_ns=mtime_ns,
                )
                row += len(parts)
            written += row
            if (first + BATCH) % PUBLISH_EVERY == 0 or first + BATCH >= total:
                writer.publish()
                print(
                    f"{first + len(batch)} articles, {written} chunks", file=sys.stderr, flush=True
                )
    finally:
        writer.close()
    return {"chunks": written}


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
