"""CPU cost of the worst article files under the size limit (issue 11): cleaning and chunking
must stay linear, seconds of CPU per 100 kB.

    python -m benchmarks.worst_files [--embed-sample N] [--full-embed]

Two files are built from the sample articles' own sentences: one 200,000-character line, and
an article of 3,000 paragraphs. For each, the CPU seconds of `parse_article` and of
`chunk_article` (with the real model's token counter) are measured. Embedding is what the
real model costs on top: estimated from the first N chunks (their passages and sentences, as a
sync embeds them) and scaled to the whole file, or measured whole with `--full-embed` (minutes).
Prints JSON with `clean_and_chunk_within_goal` (at most 5 CPU-s per 100 kB); never asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from index.chunking import chunk_article, embedding_text
from index.cleaning import parse_article
from index.documents import Chunk
from index.embedders import Embedder, load_embedder
from index.sync import embed_distinct

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "articles"
LINE_CHARS = 200_000
PARAGRAPHS = 3_000
# The goal for cleaning + chunking: seconds of CPU per 100 kB, whatever the file's shape.
CLEAN_AND_CHUNK_GOAL_CPU_S_PER_100KB = 5.0
T = TypeVar("T")


def sample_sentences() -> list[str]:
    """The sample articles' sentences: real prose, with the punctuation pysbd works on."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(ARTICLES.glob("*.txt")))
    return [s for s in re.split(r"(?<=[.!?“])\s+", " ".join(text.split())) if len(s) > 20]


def worst_files() -> dict[str, str]:
    sentences = sample_sentences()
    line = ""
    for sentence in itertools.cycle(sentences):
        if len(line) >= LINE_CHARS:
            break
        line += sentence + " "
    paragraphs = itertools.islice(itertools.cycle(sentences), PARAGRAPHS)
    return {
        "one_line_200k_chars": line[:LINE_CHARS],
        "article_3000_paragraphs": "\n\n".join(paragraphs) + "\n",
    }


def cpu(work: Callable[[], T]) -> tuple[T, float]:
    started = time.process_time()
    result = work()
    return result, time.process_time() - started


def embed_cpu(chunks: list[Chunk], embedder: Embedder) -> float:
    """What a sync embeds for these chunks: each chunk's text and each of its sentences, every
    distinct text once (`index.sync.embed_distinct`)."""
    texts = [embedding_text(c) for c in chunks] + [s.text for c in chunks for s in c.sentences]
    _, seconds = cpu(lambda: embed_distinct(embedder, texts))
    return seconds


def measure(name: str, raw: str, embedder: Embedder, sample: int, full: bool) -> dict:
    article, parse_s = cpu(lambda: parse_article(raw, f"{name}.txt"))
    tokens, limit = embedder.count_tokens, embedder.max_tokens
    chunks, chunk_s = cpu(lambda: chunk_article(article, tokens, limit))
    per_100kb = 100_000 / len(raw.encode())
    result: dict[str, object] = {
        "bytes": len(raw.encode()),
        "language": article.language,
        "paragraphs": len(article.paragraphs),
        "sentences": sum(len(p.sentences) for p in article.paragraphs),
        "chunks": len(chunks),
        "parse_cpu_s": round(parse_s, 2),
        "chunk_cpu_s": round(chunk_s, 2),
        "clean_and_chunk_cpu_s_per_100kb": round((parse_s + chunk_s) * per_100kb, 2),
        "clean_and_chunk_within_goal": (parse_s + chunk_s) * per_100kb
        <= CLEAN_AND_CHUNK_GOAL_CPU_S_PER_100KB,
    }
    if full:
        seconds = embed_cpu(chunks, embedder)
        result["embed_cpu_s"] = round(seconds, 1)
    else:
        part = chunks[:sample]
        share = sum(len(c.text) for c in part) / max(1, sum(len(c.text) for c in chunks))
        seconds = embed_cpu(part, embedder) / max(share, 1e-9)
        result["embed_cpu_s_estimated"] = round(seconds, 1)
    result["embed_cpu_s_per_100kb"] = round(seconds * per_100kb, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embed-sample", type=int, default=40, help="chunks embedded")
    parser.add_argument("--full-embed", action="store_true", help="embed whole files")
    args = parser.parse_args()
    embedder = load_embedder()
    parse_article("Warm-up. The language model loads once.", "warm-up.txt")
    results = {
        name: measure(name, raw, embedder, args.embed_sample, args.full_embed)
        for name, raw in worst_files().items()
    }
    print(json.dumps({"worst_files": results}, indent=2))


if __name__ == "__main__":
    main()
