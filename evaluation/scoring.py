"""`newsbot eval`: score answers against a gold file in the shared/eval JSONL format.

A question is hit at rank k when the k-th quote comes from a gold article and contains one of
its gold quotes, whitespace-insensitively (../shared/README.md). An answerable question that was
abstained on is a miss; an unanswerable one must be abstained on. Latency is reported next to the
bare query-embedding time measured inside the same answers, so the overhead of everything that is
not the model can be read off directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from index.embedders import Embedder
from index.stores.base import StoreReader
from index.verbatim import canonical
from retrieval.answer import Answer, Quote
from retrieval.duplicates import repeats
from retrieval.reply_language import detect_language

LANGUAGES = ("en", "de", "all")
TOP = 5  # quotes asked per question, as `newsbot ask` does by default


class Answers(Protocol):
    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer: ...


@dataclass(frozen=True, slots=True)
class Gold:
    doc: str
    quote: str


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    lang: str
    question: str
    answerable: bool
    gold: tuple[Gold, ...] = ()
    context: str | None = None  # the previous question, for follow-ups (our extension)


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            questions.append(
                Question(
                    id=str(data.get("id", f"line-{number}")),
                    lang=str(data.get("lang") or detect_language(data["question"])),
                    question=str(data["question"]),
                    answerable=bool(data["answerable"]),
                    gold=tuple(Gold(g["doc"], g["quote"]) for g in data.get("gold", ())),
                    context=data.get("context"),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a gold question ({exc})") from None
    return questions


def hit_rank(answer: Answer, gold: Sequence[Gold]) -> int | None:
    """1-based rank of the first quote that contains a gold quote from its gold article."""
    wanted = [(g.doc, canonical(g.quote)) for g in gold]
    for rank, quote in enumerate(answer.quotes, start=1):
        text = canonical(quote.text)
        if any(quote.article == doc and q in text for doc, q in wanted):
            return rank
    return None


@dataclass(slots=True)
class _Outcome:
    question: Question
    answer: Answer
    rank: int | None = None
    timing: dict[str, float] = field(default_factory=dict)


def evaluate(
    answerer: Answers, questions: Iterable[Question], *, top: int = TOP, batch: bool = False
) -> dict:
    """Answer every question and score it. `batch` embeds all questions in one go first (fast
    on thousands of questions; latency then excludes the embedding)."""
    warm_up = getattr(answerer, "warm_up", None)
    if callable(warm_up):
        warm_up()  # one-time start-up work is not a per-question latency
    questions = list(questions)
    embed = getattr(answerer, "embed", None)
    vectors: Sequence[object] = [None] * len(questions)
    if batch and callable(embed):
        vectors = list(embed([q.question for q in questions]))
    outcomes = []
    for question, vector in zip(questions, vectors, strict=True):
        if vector is None:
            answer = answerer.answer(question.question, context=question.context, top=top)
        else:
            answer = answerer.answer(  # type: ignore[call-arg]
                question.question, context=question.context, top=top, vector=vector
            )
        rank = hit_rank(answer, question.gold) if question.answerable else None
        outcomes.append(_Outcome(question, answer, rank, dict(answer.timing_ms)))
    return {
        "top": top,
        "metrics": {
            language: _metrics([o for o in outcomes if language in ("all", o.question.lang)])
            for language in LANGUAGES
        },
        "questions": [_item(o) for o in outcomes],
    }


class DenseBaseline:
    """The plain baseline every table shows: one paragraph = one passage, nearest cosine,
    never abstains."""

    def __init__(self, store: StoreReader, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def embed(self, questions: Sequence[str]) -> np.ndarray:
        return self.embedder.embed_queries(list(questions))

    def answer(
        self,
        question: str,
        *,
        context: str | None = None,
        top: int = TOP,
        vector: np.ndarray | None = None,
    ) -> Answer:
        if vector is None:
            vector = self.embedder.embed_queries([question])[0]
        hits = self.store.search(vector, top)
        chunks = self.store.chunks([i for i, _ in hits])
        scores = dict(hits)
        quotes = tuple(
            Quote(
                c.text,
                c.article,
                c.title,
                c.date,
                c.section,
                c.paragraph,
                c.start,
                c.end,
                scores[c.id],
            )
            for c in chunks
        )
        return Answer(question, bool(quotes), quotes, detect_language(question))


def evaluate_file(answerer: Answers, path: Path) -> dict:
    report = evaluate(answerer, load_questions(path))
    return {"file": str(path), **report}


def _metrics(outcomes: list[_Outcome]) -> dict:
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    ranks = [o.rank for o in answerable]
    totals = [o.timing.get("total", 0.0) for o in outcomes]
    embeds = [o.timing.get("embed", 0.0) for o in outcomes]

    def share(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    shown = [(o, q) for o in answerable for q in o.answer.quotes]
    firsts = [o for o in answerable if o.answer.quotes]
    gold_docs = {id(o): {g.doc for g in o.question.gold} for o in answerable}
    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": share([r is not None and r <= 1 for r in ranks]),
        "hit@3": share([r is not None and r <= 3 for r in ranks]),
        "mrr": round(sum(1 / r for r in ranks if r) / len(ranks), 4) if ranks else None,
        "abstained_unanswerable": share([not o.answer.answered for o in unanswerable]),
        "abstained_answerable": share([not o.answer.answered for o in answerable]),
        # of the quotes shown for answerable questions, the share from a gold article
        "quote_precision": share([q.article in gold_docs[id(o)] for o, q in shown]),
        "quote_chars": round(float(np.mean([len(q.text) for _, q in shown])), 1) if shown else None,
        # hit@1 is decided by the first quote alone: its length is what to hold against a
        # one-passage baseline's, since later, shorter quotes lower the mean above
        "first_quote_chars": (
            round(float(np.mean([len(o.answer.quotes[0].text) for o in firsts])), 1)
            if firsts
            else None
        ),
        "quotes_per_answer": round(
            len(shown) / max(1, sum(o.answer.answered for o in answerable)), 2
        ),
        # of the answers shown, the share in which one quote repeats another's words (copies of
        # a story in several articles)
        "repeated_quotes": share([_repeats(o.answer.quotes) for o in outcomes if o.answer.quotes]),
        "latency_ms": {
            "p50": _percentile(totals, 50),
            "p95": _percentile(totals, 95),
            "embed_p50": _percentile(embeds, 50),
        },
    }


def _repeats(quotes: Sequence[Quote]) -> bool:
    return any(repeats(q.text, (p.text for p in quotes[i + 1 :])) for i, q in enumerate(quotes))


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def _item(outcome: _Outcome) -> dict:
    answer, question = outcome.answer, outcome.question
    return {
        "id": question.id,
        "lang": question.lang,
        "question": question.question,
        "answerable": question.answerable,
        "answered": answer.answered,
        "rank": outcome.rank,
        "strength": None if answer.strength is None else round(answer.strength, 3),
        "unknown_terms": list(answer.unknown_terms),
        "timing_ms": {k: round(v, 2) for k, v in outcome.timing.items()},
        "quotes": [
            {"article": q.article, "paragraph": q.paragraph, "text": q.text} for q in answer.quotes
        ],
    }


# --- the report ------------------------------------------------------------------------------


def _rate(value: float | None) -> str:
    return "  –" if value is None else f"{value:.2f}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def format_report(report: dict) -> str:
    """A per-language table, then the questions that went wrong."""
    header = (
        f"{'lang':<4} {'n':>3} {'ans':>3} {'hit@1':>5} {'hit@3':>5} {'MRR':>5} "
        f"{'abstain':>7} {'false-abst':>10} {'p50 ms':>7} {'p95 ms':>7} {'embed p50':>9}"
    )
    lines = []
    if report.get("file"):
        lines.append(f"{report['file']} (top {report.get('top', TOP)} quotes per question)")
    lines += [header, "-" * len(header)]
    for language in LANGUAGES:
        m = report["metrics"][language]
        if not m["questions"]:
            continue
        latency = m["latency_ms"]
        lines.append(
            f"{language:<4} {m['questions']:>3} {m['answerable']:>3} {_rate(m['hit@1']):>5} "
            f"{_rate(m['hit@3']):>5} {_rate(m['mrr']):>5} {_rate(m['abstained_unanswerable']):>7} "
            f"{_rate(m['abstained_answerable']):>10} {_ms(latency['p50']):>7} "
            f"{_ms(latency['p95']):>7} {_ms(latency['embed_p50']):>9}"
        )
    lines.append(
        "abstain = unanswerable questions abstained on; false-abst = answerable ones abstained on"
    )
    problems = [_problem(item) for item in report["questions"]]
    problems = [p for p in problems if p]
    if problems:
        lines += ["", "not right:", *problems]
    return "\n".join(lines)


def _problem(item: dict) -> str | None:
    why = f"strength {item['strength']}" if item["strength"] is not None else "no candidates"
    if item["unknown_terms"]:
        why += f", unknown {', '.join(item['unknown_terms'])}"
    if item["answerable"] and not item["answered"]:
        return f"  {item['id']}: abstained ({why}) — {item['question']}"
    if item["answerable"] and (item["rank"] is None or item["rank"] > 3):
        rank = "not in the quotes" if item["rank"] is None else f"rank {item['rank']}"
        return f"  {item['id']}: gold {rank} — {item['question']}"
    if not item["answerable"] and item["answered"]:
        return f"  {item['id']}: answered ({why}) — {item['question']}"
    return None
