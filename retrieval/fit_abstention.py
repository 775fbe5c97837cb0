"""Fit the abstention model (`retrieval/data/abstention.json`) on questions `make eval` never
reports on.

Folds over the xquad articles (German and English archives): the 8 articles `make eval` leaves
out are never used here. The other 40 are split into 5 groups; for each group an archive of the
48 articles minus that group is indexed, and the even-numbered questions about the group are
unanswerable on it, the even-numbered questions about the remaining articles answerable. (The
report uses the odd-numbered questions about its 40 articles and all questions about its 8.)

    python -m retrieval.fit_abstention [--max-false-abstention 0.025]

The threshold is the highest probability cut that abstains on at most `--max-false-abstention`
of the answerable fit questions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from index.embedders import load_embedder
from retrieval.abstain import FEATURES, MODEL_FILE, AbstentionModel
from retrieval.answerer import Answerer
from retrieval.embedding_cache import CachedEmbedder
from retrieval.eval_corpora import (
    Archive,
    QuestionSet,
    Source,
    left_out,
    prefixed,
    xquad_articles,
)
from retrieval.eval_suite import build_index
from retrieval.evaluate import load_questions

GROUPS = 5


def fit_archives(shared: Path) -> list[Archive]:
    reported = left_out(shared)
    names = [n for n in xquad_articles(shared, "de") if n not in reported]
    groups = [frozenset(names[g::GROUPS]) for g in range(GROUPS)]
    xquad = shared / "xquad"
    sets = {
        "de": prefixed(load_questions(xquad / "questions-de-corpus.jsonl"), "xquad-de"),
        "en": prefixed(load_questions(xquad / "questions-en-corpus.jsonl"), "xquad-en"),
    }
    result = []
    for language, questions in sets.items():
        even = [q for i, q in enumerate(questions) if (i // 2 if language == "de" else i) % 2 == 0]
        for g, group in enumerate(groups):
            chosen = []
            for q in even:
                doc = q.gold[0].doc.split("/", 1)[1]
                if doc in reported:
                    continue
                chosen.append(replace(q, answerable=False, gold=()) if doc in group else q)
            source = Source(f"xquad-{language}", xquad / f"articles-{language}", group)
            result.append(
                Archive(f"fit-{language}-{g}", (source,), (QuestionSet("fit", tuple(chosen)),))
            )
    return result


def collect(shared: Path, cache: Path, model: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    embedder = CachedEmbedder(load_embedder(model), cache / "embeddings.sqlite")
    rows, labels = [], []
    for archive in fit_archives(shared):
        started = time.perf_counter()
        store = build_index(archive, cache, embedder)
        answerer = Answerer(store, embedder)
        questions = list(archive.question_sets[0].questions)
        vectors = answerer.embed([q.question for q in questions])
        for question, vector in zip(questions, vectors, strict=True):
            _, evidence = answerer.explain(question.question, vector=vector)
            if evidence is not None:
                rows.append(evidence.vector())
                labels.append(question.answerable)
        print(
            f"{archive.name}: {len(questions)} questions, {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    return np.vstack(rows), np.array(labels, dtype=bool), embedder.model_id


def fit(x: np.ndarray, y: np.ndarray, max_false_abstention: float) -> dict:
    from sklearn.linear_model import LogisticRegression  # a fitting-time dependency only

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    model = LogisticRegression(C=1.0, max_iter=1000).fit(z, y)
    p = model.predict_proba(z)[:, 1]
    threshold = float(np.quantile(p[y], max_false_abstention))
    return {
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
        "threshold": threshold,
        "fit_false_abstention": float(np.mean(p[y] < threshold)),
        "fit_abstention": float(np.mean(p[~y] < threshold)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.fit_abstention", description=__doc__)
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--cache", default=".newsbot/eval")
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-false-abstention", type=float, default=0.025)
    parser.add_argument("--out", default=str(MODEL_FILE))
    args = parser.parse_args(argv)
    x, y, embedder_id = collect(Path(args.shared), Path(args.cache), args.model)
    np.savez(Path(args.cache) / "abstention-features.npz", x=x, y=y)  # for experiments
    result = fit(x, y, args.max_false_abstention)
    print(json.dumps({k: v for k, v in result.items() if k.startswith("fit_")}), file=sys.stderr)
    model = AbstentionModel(
        embedder_id=embedder_id,
        features=FEATURES,
        mean=tuple(result["mean"]),
        scale=tuple(result["scale"]),
        coef=tuple(result["coef"]),
        intercept=result["intercept"],
        threshold=result["threshold"],
        fitted_on=(
            f"{len(y)} xquad questions ({int(y.sum())} answerable, {int((~y).sum())} not) in "
            f"{GROUPS}-fold leave-articles-out archives, German and English; none of them is "
            f"reported by `make eval`; threshold: at most {args.max_false_abstention:.0%} "
            f"false abstention on these; fitted {time.strftime('%Y-%m-%d')}"
        ),
    )
    path = Path(args.out)
    data = json.loads(path.read_text()) if path.exists() else {"models": []}
    models = [m for m in data["models"] if m["embedder_id"] != embedder_id]
    path.write_text(json.dumps({"models": [*models, model.to_json()]}, indent=1) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
