"""`make bench` at scale: the store's costs on a synthetic archive of N chunks.

    python -m benchmarks.scale [--chunks 10000] [--questions 60] [--dir PATH] [--writer]

Articles are real sentences (the sample articles and ../shared/xquad) recombined at random with
a fixed seed, embedded by `HashEmbedder`, a fast deterministic stand-in for the model, so the
numbers are the store's and not the model's. Reported, never asserted:

- build: the first `newsbot index` of the archive (wall and CPU seconds); with `--writer` the
  files and the store are written directly instead (`build`: no
  cleaning, `"via": "IndexWriter"`), which takes seconds at 100k chunks, not 20 minutes;
- add one article: `sync_index` after one new file (median of 3): walking the folder, and
  given the new file's path as the folder watcher does (`add_one_article_by_path`);
- open: `IndexStore.open` in a fresh process (start-up), and again in a process that has the
  previous generation open, right after a sync (what a running bot's snapshot swap costs in
  the store; the answerer's own warm-up is not included);
- ask: the store's part of one question (search, chunks, vectors, lexical search, article
  text, as `retrieval.answerer` reads them), p50/p95, with the embedding time apart and FAISS's
  own search over the same vectors (one bare `IndexFlatIP`) for the overhead ratio;
- 8 concurrent askers against one: questions per second, and the ratio;
- max RSS of a process that opens the index and asks (a separate process, so building does
  not count), disk bytes of the index folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.chunking import chunk_id
from index.documents import Chunk, Sentence
from index.stores.sqlite import IndexStore, IndexWriter
from index.sync import pipeline_of, sync_index

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "articles", ROOT.parent / "shared" / "xquad"]
SEED = 20261201
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ])")
WORD = re.compile(r"\w+")
CHUNKS_PER_ARTICLE = 2
ASKERS = 8


class HashEmbedder:
    """Sum of per-word random unit vectors (seeded by the word): texts sharing words are close,
    as with `tests.conftest.FakeEmbedder`, but fast enough for a million passages."""

    max_tokens = 512

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.model_id = f"bench-hash-{dimension}"
        self._words: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _word(self, word: str) -> np.ndarray:
        vector = self._words.get(word)
        if vector is None:
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            vector = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
            with self._lock:
                self._words[word] = vector
        return vector

    def word_sum(self, text: str) -> np.ndarray:
        """The text's word vectors summed, before `unit_rows`: a space-joined text sums as its
        parts do, which lets a build add up sentences it has summed once."""
        total = np.zeros(self.dimension, dtype=np.float32)
        for word in WORD.findall(text.lower()):
            total += self._word(word)
        return total

    @staticmethod
    def unit_rows(sums: np.ndarray) -> np.ndarray:
        """Word sums as embeddings (in place): a small constant keeps an empty text's row finite."""
        sums[:, 0] += 0.01
        sums /= np.linalg.norm(sums, axis=1, keepdims=True)
        return sums

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self.word_sum(text)
        return self.unit_rows(out)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def count_tokens(self, text: str) -> int:
        return len(WORD.findall(text)) + 2


def sentence_pool() -> list[str]:
    pool = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.txt")):
            if path.name.startswith("LICENSE"):
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                pool.extend(s for s in SENTENCE_END.split(line.strip()) if 40 <= len(s) <= 300)
    return sorted(set(pool))


def synthetic_article(rng: random.Random, pool: list[str], n: int) -> str:
    title = f"Meldung {n}: " + " ".join(rng.choice(pool).split()[:6])
    paragraphs = [
        " ".join(rng.choice(pool) for _ in range(rng.randint(2, 5)))
        for _ in range(CHUNKS_PER_ARTICLE)
    ]
    day = n % 28 + 1
    return f"{title}\n\ndate 2025-03-{day:02d}\n\n" + "\n\n".join(paragraphs) + "\n"


def write_archive(folder: Path, articles: int, pool: list[str]) -> None:
    rng = random.Random(SEED)
    for n in range(articles):
        sub = folder / f"{n // 1000:04d}"  # a thousand files per folder, as archives are kept
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"a{n:07d}.txt").write_text(synthetic_article(rng, pool, n), encoding="utf-8")


def questions(pool: list[str], count: int) -> list[str]:
    rng = random.Random(SEED + 1)
    out = []
    for _ in range(count):
        words = WORD.findall(rng.choice(pool))
        start = rng.randint(0, max(0, len(words) - 8))
        out.append(" ".join(words[start : start + 8]) + "?")
    return out


def timed(func, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def disk_bytes(folder: Path) -> int:
    total, seen = 0, set()
    for dirpath, _, files in os.walk(folder):
        for name in files:
            stat = os.stat(os.path.join(dirpath, name))
            if stat.st_ino not in seen:  # hard links count once
                seen.add(stat.st_ino)
                total += stat.st_blocks * 512
    return total


def max_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values) * 1000, 2),
        "p95": round(percentile(values, 0.95) * 1000, 2),
    }


# --- writing an archive directly (--writer, benchmarks.scale_million) ---------------------

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
    stored = pipeline_of(sentence_vectors=True, latent_terms=False)  # what a sync would store
    writer = IndexWriter(index, embedder.model_id, embedder.dimension, None, pipeline=stored)
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


# --- the reader process ----------------------------------------------------------------------


def store_path(store, vector: np.ndarray, question: str, k: int = 20) -> None:
    """What one answer reads from the store: stage 1 (`HybridRetriever`: vector search,
    full-text query, document frequencies, chunks) and what quoting reads after it."""
    from retrieval.candidates import HybridRetriever

    retrieval = HybridRetriever(dense_k=k, lexical_k=k).retrieve(store, vector, question)
    best = [c.chunk for c in retrieval.candidates[:4]]
    store.sentence_vectors([c.id for c in best])
    for article in dict.fromkeys(c.article for c in best):
        store.article_text(article)


def reader(index_dir: Path, count: int) -> dict[str, object]:

    embedder = HashEmbedder()
    asked = questions(sentence_pool(), count)
    store, wall, cpu = timed(IndexStore.open, index_dir, embedder.model_id)
    result: dict[str, object] = {"open_s": round(wall, 3), "open_cpu_s": round(cpu, 3)}
    embed_s, path_s, vectors = [], [], []
    for question in asked:
        t0 = time.perf_counter()
        vector = embedder.embed_queries([question])[0]
        t1 = time.perf_counter()
        store_path(store, vector, question)
        t2 = time.perf_counter()
        embed_s.append(t1 - t0)
        path_s.append(t2 - t1)
        vectors.append(vector)
    result["ask_store_ms"] = ms(path_s[5:])  # the first few warm caches
    result["embed_ms"] = ms(embed_s)

    def ask_all(mine: list[str]) -> None:
        for question in mine:
            vector = embedder.embed_queries([question])[0]
            store_path(store, vector, question)

    _, one_wall, one_cpu = timed(ask_all, asked)
    threads = [threading.Thread(target=ask_all, args=(asked[n::ASKERS],)) for n in range(ASKERS)]
    wall, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    many_wall, many_cpu = time.perf_counter() - wall, time.process_time() - cpu
    result["askers_1_qps"] = round(len(asked) / one_wall, 1)
    result["askers_8_qps"] = round(len(asked) / many_wall, 1)
    result["askers_8_over_1"] = round(one_wall / many_wall, 2)
    result["askers_cpu_s_1_vs_8"] = [round(one_cpu, 2), round(many_cpu, 2)]
    result["max_rss_mb"] = max_rss_mb()

    import faiss  # FAISS alone on the same vectors, one thread, as newsbot searches

    bare = faiss.IndexFlatIP(embedder.dimension)  # exact, over every vector the store holds
    for block in store._vectors.blocks:
        bare.add(np.ascontiguousarray(block.vectors(), dtype=np.float32))
    faiss.omp_set_num_threads(1)
    bare_s = []
    for vector in vectors:
        t0 = time.perf_counter()
        bare.search(vector.reshape(1, -1), 20)
        bare_s.append(time.perf_counter() - t0)
    result["faiss_flat_search_ms"] = ms(bare_s)  # exact; the store is IVF above 250k rows
    search_s = []
    for vector in vectors:
        t0 = time.perf_counter()
        store.search(vector, 20)
        search_s.append(time.perf_counter() - t0)
    result["store_search_ms"] = ms(search_s)
    result["ask_store_p50_over_faiss_p50"] = round(
        statistics.median(path_s) / statistics.median(bare_s), 1
    )
    result["approximate"] = approximate_recall(bare, vectors)
    return result


def approximate_recall(bare, questions: list[np.ndarray], k: int = 20) -> dict[str, object]:
    """The IVF index newsbot uses above `APPROXIMATE_ABOVE` rows, built over the same vectors
    now: recall@k against the exact search, and its search time."""
    from index.vectors import Block, VectorSet

    vectors = bare.reconstruct_n(0, bare.ntotal)
    keys = np.arange(len(vectors), dtype=np.int64)
    started = time.perf_counter()
    block = Block.build(keys, keys, vectors, approximate_above=0)
    built = time.perf_counter() - started
    approximate = VectorSet.of(vectors.shape[1], [block], set())
    recall, times = [], []
    for vector in questions:
        _, truth = bare.search(vector.reshape(1, -1), k)
        t0 = time.perf_counter()
        found = approximate.search(vector, k)
        times.append(time.perf_counter() - t0)
        recall.append(len(set(truth[0]) & {c for c, _ in found}) / k)
    return {
        "lists": int(block.index.nlist),
        "probes": int(block.index.nprobe),
        "build_s": round(built, 1),
        f"recall_at_{k}": round(float(np.mean(recall)), 4),
        "search_ms": ms(times),
    }


# --- the driver ------------------------------------------------------------------------------


def run(chunks: int, count: int, work: Path, writer: bool = False) -> dict[str, object]:

    embedder = HashEmbedder()
    articles, index = work / "articles", work / "index"
    pool = sentence_pool()
    result: dict[str, object] = {"chunks_target": chunks, "sentence_pool": len(pool)}
    if writer:  # the files and the store written directly, as benchmarks.scale_million does
        built, wall, cpu = timed(build, index, chunks, embedder, pool, articles)
        result["build"] = {
            "articles": chunks // CHUNKS_PER_ARTICLE,
            "chunks": built["chunks"],
            "s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "via": "IndexWriter",
        }
    else:
        write_archive(articles, chunks // CHUNKS_PER_ARTICLE, pool)
        report, wall, cpu = timed(sync_index, articles, index, embedder)
        result["build"] = {
            "articles": len(report.added),
            "chunks": report.chunks_embedded,
            "s": round(wall, 1),
            "cpu_s": round(cpu, 1),
        }
    adds, swaps = [], []
    rng = random.Random(SEED + 2)
    live, wall, cpu = timed(IndexStore.open, index, embedder.model_id)  # a running bot's
    result["first_open_s"], result["first_open_cpu_s"] = round(wall, 3), round(cpu, 3)
    for n in range(3):
        (articles / f"new-{n}.txt").write_text(synthetic_article(rng, pool, 10**7 + n))
        report, wall, cpu = timed(sync_index, articles, index, embedder)
        assert report.added == [f"new-{n}.txt"], report.summary()
        adds.append((wall, cpu))
        live, wall, cpu = timed(IndexStore.open, index, embedder.model_id)  # the swap
        swaps.append((wall, cpu))
    result["add_one_article_s"] = round(statistics.median(w for w, _ in adds), 3)
    result["add_one_article_cpu_s"] = round(statistics.median(c for _, c in adds), 3)
    by_path = []
    for n in range(3, 6):  # as the folder watcher syncs it: only the new file's path
        name = f"new-{n}.txt"
        (articles / name).write_text(synthetic_article(rng, pool, 10**7 + n))
        report, wall, cpu = timed(sync_index, articles, index, embedder, paths=[name])
        assert report.added == [name], report.summary()
        by_path.append((wall, cpu))
    result["add_one_article_by_path_s"] = round(statistics.median(w for w, _ in by_path), 3)
    result["add_one_article_by_path_cpu_s"] = round(statistics.median(c for _, c in by_path), 3)
    result["swap_s"] = round(statistics.median(w for w, _ in swaps), 3)
    result["swap_cpu_s"] = round(statistics.median(c for _, c in swaps), 3)
    del live
    _, wall, cpu = timed(sync_index, articles, index, embedder)
    result["unchanged_sync_s"] = round(wall, 3)
    result["unchanged_sync_cpu_s"] = round(cpu, 3)
    result["disk_mb"] = round(disk_bytes(index) / 1e6, 1)
    command = ["-m", "benchmarks.scale", "--reader", str(index), "--questions", str(count)]
    done = subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result["reader"] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, nargs="+", default=[10_000])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp one)")
    parser.add_argument(
        "--writer",
        action="store_true",
        help="build by writing the article files and the store directly (IndexWriter, no "
        "cleaning; seconds at 100k) instead of a first sync_index of the files",
    )
    parser.add_argument("--reader", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reader is not None:
        print(json.dumps(reader(args.reader, args.questions)))
        return
    for chunks in args.chunks:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            result = run(chunks, args.questions, Path(tmp), writer=args.writer)
            print(json.dumps(result, indent=1), flush=True)


if __name__ == "__main__":
    main()
