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
    sentence_pool,
    synthetic_article,
    timed,
)
from index.chunking import chunk_id
from index.model import Chunk, Sentence
from index.store import IndexStore, IndexWriter, read_live
from index.sync import PIPELINE_VERSION, sync_index

PUBLISH_EVERY = 50_000  # articles per generation while building


def synthetic_chunks(rng: random.Random, pool: list[str], path: str, n: int):
    """An article as `benchmarks.scale` writes it, chunked without the cleaning pipeline
    (pysbd alone would take most of an hour for a million chunks here)."""
    title = f"Meldung {n}: " + " ".join(rng.choice(pool).split()[:6])
    raw, chunks = f"{title}\n\ndate 2025-03-{n % 28 + 1:02d}\n\n", []
    for paragraph in range(1, CHUNKS_PER_ARTICLE + 1):
        sentences = []
        for text in (rng.choice(pool) for _ in range(rng.randint(2, 5))):
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
    return raw, title, chunks


def add(writer: IndexWriter, embedder: HashEmbedder, path: str, article) -> int:
    text, title, chunks = article
    vectors = embedder.embed_passages([c.text for c in chunks])
    writer.add_article(
        path=path,
        raw=text,
        content_hash=str(hash(text)),
        title=title,
        date=None,
        chunks=chunks,
        chunk_vectors=vectors,
        # stored like real ones (float16, one per sentence); the chunk's vector stands in
        sentence_vectors=[
            np.repeat(v[None, :], len(c.sentences), 0) for c, v in zip(chunks, vectors, strict=True)
        ],
    )
    return len(chunks)


def build(index: Path, chunks: int, embedder: HashEmbedder, pool: list[str]) -> dict:
    rng = random.Random(SEED)
    writer = IndexWriter(
        index, embedder.model_id, embedder.dimension, None, pipeline=PIPELINE_VERSION
    )
    written = 0
    try:
        for n in range(chunks // CHUNKS_PER_ARTICLE):
            path = f"{n // 1000:04d}/a{n:07d}.txt"
            written += add(writer, embedder, path, synthetic_chunks(rng, pool, path, n))
            if (n + 1) % PUBLISH_EVERY == 0:
                writer.publish()
                print(f"{n + 1} articles, {written} chunks", file=sys.stderr, flush=True)
        writer.publish()
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
        live, wall, cpu = timed(IndexStore.open, index, embedder.model_id)
        result["first_open_s"], result["first_open_cpu_s"] = round(wall, 2), round(cpu, 2)
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
