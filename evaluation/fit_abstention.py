"""Fit the abstention model (`retrieval/data/abstention.json`) on questions `make eval` never
reports on.

Folds over the xquad articles (German, English and bilingual archives): the questions about the
8 articles `make eval` leaves out are never used here. The other 40 are split into 5 groups; for
each group an archive of the 48 articles minus that group is indexed, and the even-numbered
questions about the group are unanswerable on it, the even-numbered questions about the remaining
articles answerable. The bilingual archives hold each topic once, half in German and half in
English (as `make eval`'s bilingual archive), and are asked the questions in both languages.
Those questions are all off topic: the archive lacks their whole article. With `--removed`
each group also has two answer-removed archives, the 48 German and the 48 English articles with
the group's articles cut as `make eval`'s tables (i) and (j) cut theirs, but by the
even-numbered questions (`answer_removal` with parity 0): up to 3 per article lose every
sentence holding their answer and are unanswerable on topic (the story is there, the detail is
not); the group's other even-numbered questions whose answer is still there are answerable, so
the trees see one story both ways. The German archives are asked the questions in both
languages, the English ones the English questions. They are off by default: on `make eval`'s
answer-removed tables the model fitted with them abstained on 1 more of the 324 on-topic
questions, and on 7 fewer of the leave-out archive's 177 English ones (docs/decisions.md).
(The report uses the odd-numbered questions and all questions about the 8.)

    python -m evaluation.fit_abstention [--max-false-abstention 0.035] [--removed]
        [--no-reader] [--step N] [--removed-step N]

Two models are kept per embedder: one for answers the reader read (`retrieval.reading`; its best
chance is a feature), fitted by default, and one for answers it did not read (`--no-reader`:
questions in another language than the quotes, other embedders). The reader costs three model
passes per answer, so its fit may sample the archives (`--step`, `--removed-step`; an odd step
keeps both question languages of the German archives, which alternate).

The model is gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier, a fitting-
time dependency only: the trees are written out and evaluated in `retrieval.abstain`). The
threshold is set on out-of-fold probabilities (each fold's questions scored by trees fitted on
the other folds), so that at most `--max-false-abstention` of the answerable questions would be
abstained on by a model that had not seen them; the shipped trees are then fitted on all folds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from evaluation.corpora import (
    Archive,
    QuestionSet,
    Source,
    answer_removal,
    derived_sources,
    left_out,
    prefixed,
    removal_questions,
    xquad_articles,
)
from evaluation.embedding_cache import CachedEmbedder
from evaluation.scoring import Question, load_questions
from evaluation.stages import NoReading
from evaluation.suite import build_index
from index.embedders import load_embedder
from retrieval.abstain import FEATURES, MODEL_FILE, AbstentionModel, Tree
from retrieval.answerer import Answerer

GROUPS = 5


def fit_archives(shared: Path, *, removed: bool = False) -> list[Archive]:
    """The off-topic fit archives (per group: German, English, bilingual), then with `removed`
    the answer-removed ones (`removed_archives`)."""
    reported = left_out(shared)
    names = [n for n in xquad_articles(shared, "de") if n not in reported]
    groups = [frozenset(names[g::GROUPS]) for g in range(GROUPS)]
    xquad = shared / "xquad"
    sets = {
        "de": prefixed(load_questions(xquad / "questions-de-corpus.jsonl"), "xquad-de"),
        "en": prefixed(load_questions(xquad / "questions-en-corpus.jsonl"), "xquad-en"),
    }
    everything = xquad_articles(shared, "de")
    german_half, english_half = frozenset(everything[0::2]), frozenset(everything[1::2])
    even = {
        language: [
            q for i, q in enumerate(questions) if (i // 2 if language == "de" else i) % 2 == 0
        ]
        for language, questions in sets.items()
    }
    result = []
    for g, group in enumerate(groups):
        for language in sets:
            source = Source(f"xquad-{language}", xquad / f"articles-{language}", group)
            fit = _fit_questions(even[language], reported, group)
            result.append(Archive(f"fit-{language}-{g}", (source,), (QuestionSet("fit", fit),)))
        bilingual = (
            Source("xquad-de", xquad / "articles-de", group | english_half),
            Source("xquad-en", xquad / "articles-en", group | german_half),
        )
        # the German corpus holds every question in both languages
        fit = _fit_questions(even["de"], reported, group)
        result.append(Archive(f"fit-bilingual-{g}", bilingual, (QuestionSet("fit", fit),)))
    return result + (removed_archives(shared, groups) if removed else [])


def removed_archives(shared: Path, groups: list[frozenset[str]]) -> list[Archive]:
    """Per group, the 48 German and the 48 English articles with the group's articles cut by
    their even-numbered questions (`answer_removal`): the chosen questions unanswerable on
    topic, the group's other even-numbered ones whose answer the cut article still holds
    answerable; all of them keep their gold, which names the article (and so the fold)."""
    xquad = shared / "xquad"
    numbered = {  # a question's number: its line in the English file, half it in the German
        "de": [
            (i // 2, q) for i, q in enumerate(load_questions(xquad / "questions-de-corpus.jsonl"))
        ],
        "en": list(enumerate(load_questions(xquad / "questions-en-corpus.jsonl"))),
    }
    result = []
    for g, group in enumerate(groups):
        removal = answer_removal(shared, 0, group)
        for language, questions in numbered.items():
            name = f"fit-removed-{language}-{g}"
            texts = removal.texts[language]
            source = Source(f"xquad-{language}", xquad / f"articles-{language}")
            fit = removal_questions(questions, removal, texts, source.prefix, keep_gold=True)
            sources = derived_sources(source, name, texts)
            result.append(Archive(name, sources, (QuestionSet("fit", tuple(fit)),)))
    return result


def kind(archive: str) -> str:
    """A fit archive's kind, its name without "fit-" and the group: "bilingual", "removed-de"."""
    return archive.removeprefix("fit-").rsplit("-", 1)[0]


def _fit_questions(
    questions: list[Question], reported: frozenset[str], group: frozenset[str]
) -> tuple[Question, ...]:
    """The questions not about a reported article; those about `group` made unanswerable (their
    gold stays, naming the article they are about: `collect` folds by it)."""
    chosen = []
    for q in questions:
        doc = q.gold[0].doc.split("/", 1)[1]
        if doc in reported:
            continue
        chosen.append(replace(q, answerable=False) if doc in group else q)
    return tuple(chosen)


def collect(
    shared: Path,
    cache: Path,
    model: str | None,
    *,
    removed: bool = False,
    reader: bool = True,
    step: int = 1,
    removed_step: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Evidence rows; per row whether it is answerable, its fold (the group of the article the
    question is about: all rows about one article fall in one fold, whichever archive they
    come from) and its kind (archive kind and question language: "bilingual/en",
    "removed-de/en"); the embedder's id. `removed`: with the answer-removed archives;
    `reader`: the answerer reads its quotes (`retrieval.reading`); `step`, `removed_step`:
    every step-th question of each off-topic / answer-removed archive (the reader costs a model
    pass per sentence read)."""
    reported = left_out(shared)
    names = [n for n in xquad_articles(shared, "de") if n not in reported]
    group_of = {name: g for g in range(GROUPS) for name in names[g::GROUPS]}
    embedder = CachedEmbedder(load_embedder(model), cache / "embeddings.sqlite")
    rows, labels, folds, kinds = [], [], [], []
    for archive in fit_archives(shared, removed=removed):
        started = time.perf_counter()
        store = build_index(archive, cache, embedder)
        answerer = Answerer(store, embedder, reading=None if reader else NoReading())
        every = removed_step if kind(archive.name).startswith("removed") else step
        questions = list(archive.question_sets[0].questions)[::every]
        vectors = answerer.embed([q.question for q in questions])
        for question, vector in zip(questions, vectors, strict=True):
            _, evidence = answerer.explain(question.question, vector=vector)
            if evidence is not None:
                rows.append(evidence.vector())
                labels.append(question.answerable)
                folds.append(group_of[question.gold[0].doc.split("/", 1)[1]])
                kinds.append(f"{kind(archive.name)}/{question.lang}")
        print(
            f"{archive.name}: {len(questions)} questions, {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    return (
        np.vstack(rows),
        np.array(labels, dtype=bool),
        np.array(folds),
        np.array(kinds),
        embedder.model_id,
    )


# Small trees: in 5-fold cross-validation by article group they abstained as often as 31-leaf
# trees on the questions they had not seen, without memorising the ones they had.
TREES = {
    "max_iter": 100,
    "max_leaf_nodes": 4,
    "learning_rate": 0.1,
    "l2_regularization": 1.0,
    "min_samples_leaf": 50,
}


def boosted_trees(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None):
    from sklearn.ensemble import HistGradientBoostingClassifier  # fitting time only

    model = HistGradientBoostingClassifier(**TREES, early_stopping=False, random_state=0)
    return model.fit(x, y, sample_weight=weights)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(len(values) - 1, np.searchsorted(cumulative, q))])


def export_trees(model) -> tuple[float, tuple[Tree, ...]]:
    """A fitted binary HistGradientBoostingClassifier as (baseline, trees) for `AbstentionModel`."""
    trees = []
    for (predictor,) in model._predictors:  # one tree per boosting round for two classes
        nodes = predictor.nodes
        trees.append(
            Tree(
                feature=tuple(-1 if n["is_leaf"] else int(n["feature_idx"]) for n in nodes),
                threshold=tuple(float(n["num_threshold"]) for n in nodes),
                left=tuple(int(n["left"]) for n in nodes),
                right=tuple(int(n["right"]) for n in nodes),
                value=tuple(float(n["value"]) for n in nodes),
            )
        )
    return float(np.ravel(model._baseline_prediction)[0]), tuple(trees)


def fit(
    x: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    kinds: np.ndarray,
    max_false_abstention: float,
    weights: np.ndarray | None = None,
) -> dict:
    """Trees fitted on all rows; the threshold keeps out-of-fold false abstention at most
    `max_false_abstention` over all answerable questions (rates per kind of archive and
    question language are reported beside it). `weights`: a row stands for this many
    questions (the sampling step of its archive), in the fit and the threshold."""
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    out_of_fold = np.zeros(len(y))
    for fold in np.unique(folds):
        held = folds == fold
        trees_out = boosted_trees(x[~held], y[~held], w[~held])
        out_of_fold[held] = trees_out.predict_proba(x[held])[:, 1]
    groups = sorted(set(kinds))
    threshold = weighted_quantile(out_of_fold[y], w[y], max_false_abstention)
    baseline, trees = export_trees(boosted_trees(x, y, w))
    rates = {}
    for kind in groups:
        mine = kinds == kind
        if (mine & y).any():
            rates[f"{kind} false"] = float(np.mean(out_of_fold[mine & y] < threshold))
        if (mine & ~y).any():
            rates[f"{kind} abstained"] = float(np.mean(out_of_fold[mine & ~y] < threshold))
    return {
        "baseline": baseline,
        "trees": trees,
        "threshold": threshold,
        "fit_false_abstention": float(np.average(out_of_fold[y] < threshold, weights=w[y])),
        "fit_abstention": float(np.average(out_of_fold[~y] < threshold, weights=w[~y])),
        "rates": rates,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.fit_abstention", description=__doc__
    )
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--cache", default=".newsbot/eval")
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-false-abstention", type=float, default=0.035)
    parser.add_argument("--out", default=str(MODEL_FILE))
    parser.add_argument(
        "--removed",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also fit on the answer-removed archives (on-topic unanswerable questions); "
        "off by default: measured, it did not raise on-topic abstention in make eval",
    )
    parser.add_argument(
        "--reader",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fit the model for answers the reader read (its best chance is a feature); "
        "--no-reader fits the one for answers it did not read",
    )
    parser.add_argument("--step", type=int, default=1, help="every N-th question per archive")
    parser.add_argument(
        "--removed-step", type=int, default=1, help="every N-th question per answer-removed one"
    )
    args = parser.parse_args(argv)
    x, y, folds, kinds, embedder_id = collect(
        Path(args.shared),
        Path(args.cache),
        args.model,
        removed=args.removed,
        reader=args.reader,
        step=args.step,
        removed_step=args.removed_step,
    )
    features = FEATURES if args.reader else tuple(f for f in FEATURES if f != "reader_best")
    x = x[:, [FEATURES.index(f) for f in features]]
    np.savez(  # for experiments
        Path(args.cache) / "abstention-features.npz", x=x, y=y, folds=folds, kinds=kinds
    )
    removed_rows = np.char.startswith(kinds.astype(str), "removed")
    weights = np.where(removed_rows, args.removed_step, args.step).astype(np.float64)
    result = fit(x, y, folds, kinds, args.max_false_abstention, weights)
    rates = {k: round(v, 4) for k, v in result.items() if k.startswith("fit_")}
    rates |= {k: round(v, 4) for k, v in result["rates"].items()}
    print(json.dumps(rates, indent=1), file=sys.stderr)
    on_topic = int(np.sum(~y & np.char.startswith(kinds.astype(str), "removed")))
    removed = (
        f", and answer-removed German and English ones ({on_topic} of the unanswerable "
        f"questions on topic: their answer's sentences cut out of their article)"
        if args.removed
        else ""
    )
    sampled = (
        f"; every {args.step}th question of the off-topic archives, every "
        f"{args.removed_step}th of the answer-removed ones"
        if args.step > 1 or args.removed_step > 1
        else ""
    )
    model = AbstentionModel(
        embedder_id=embedder_id,
        features=features,
        baseline=result["baseline"],
        trees=result["trees"],
        threshold=result["threshold"],
        fitted_on=(
            f"{len(y)} xquad questions ({int(y.sum())} answerable, {int((~y).sum())} not) in "
            f"{GROUPS}-fold leave-articles-out archives, German, English and bilingual"
            f"{removed}{sampled}{'; with the reader' if args.reader else ''}"
            f"; none of them is reported by `make eval`; threshold: at most "
            f"{args.max_false_abstention:.1%} false abstention out of fold (by article group); "
            f"fitted {time.strftime('%Y-%m-%d')}"
        ),
    )
    path = Path(args.out)
    data = json.loads(path.read_text()) if path.exists() else {"models": []}
    models = [m for m in data["models"] if AbstentionModel.from_json(m).key != model.key]
    lines = ",\n".join(json.dumps(m, separators=(",", ":")) for m in [*models, model.to_json()])
    path.write_text('{"models": [\n' + lines + "\n]}\n")  # a model per line: diffs stay short
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
