"""Stage 4, decide: do the articles answer the question at all?

No fixed cosine works (e5's cosines sit in a narrow band) and no list of "off-topic" questions
works either (a newspaper covers every topic). Instead a small fitted model (gradient-boosted
trees) weighs evidence that any archive provides about a question and its best passages:

- how close the best paragraph is, and how far it stands above the rest of the candidates
  (a question about something the archive lacks finds many equally mediocre paragraphs);
- how far the best sentence of the best story stands above the best sentence of any other
  story, among the paragraphs quotes come from: an answer lives in one story, while a question
  the archive cannot answer is about as close to several stories on nearby topics (a story is
  an article with its republished and updated copies);
- how much of the question's term weight the best paragraph and the best quote contain, and how
  much of it the archive has never seen at all (a name or word in no article);
- the best quote's own ranking score (its paragraph's and its anchor sentence's): one sentence
  that matches the question well is evidence a paragraph-level score can miss;
- the reader's best chance that a quote's sentence answers (`retrieval.reading`): a quote on
  the story that does not say what was asked reads low;
- whether a "how many / wie viele" question gets a number in any quote: where none does, the
  quotes cannot answer it, and the question is abstained on whatever the model says (a rule,
  because the fit questions hold too few such cases for the trees to learn it);
- whether question and best paragraph are in different languages (then few words can match),
  and how close the best paragraph in the other language is: in an archive of both languages an
  English question about a German article meets English articles on other topics that share its
  words, and only this tells it from a question the archive cannot answer.

Trees rather than one weighted sum, because what a low word share means depends on the
languages (docs/decisions.md has the comparison).

The model is fitted by `python -m evaluation.fit_abstention` on xquad questions that `make eval`
never reports on (see `retrieval/data/abstention.json` for what it was fitted on, when and with
which embedding model). An embedding model it was not fitted for falls back to answering
whenever retrieval finds a quote; the fit script makes a model for any embedder.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.answer import Quote
from retrieval.candidates import Candidate, Retrieval, chunk_stems, coverage
from retrieval.duplicates import near_copies
from retrieval.reply_language import language_of
from retrieval.terms import stems, terms, word_set

MODEL_FILE = Path(__file__).parent / "data" / "abstention.json"

FEATURES = (
    "dense_top",
    "dense_gap",
    "lexical_top",
    "lexical_max",
    "unknown_share",
    "quote_lexical",
    "quote_score",
    "quantity_missing",
    "language_mismatch",
    "dense_other_language",
    "unknown_names",
    "names_in_top",
    "sentence_gap",
    "reader_best",
)

# The sentence gap counts up to this: beyond it one story clearly stands out, and it is what a
# question whose quoted paragraphs all come from one story scores.
GAP_CAP = 0.1

# Language-level: questions that ask for a number, and number words (not "ein/one").
_ASKS_QUANTITY = re.compile(
    r"\bhow\s+(?:many|much|old|long|far|large|big)\b|\bwie\s*(?:viele?|alt|lange?|weit|gro(?:ß|ss))\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_NUMBER_WORDS = word_set(
    "zwei drei vier fünf sechs sieben acht neun zehn elf zwölf zwanzig dreißig vierzig fünfzig "
    "hundert tausend dutzend dutzende hunderte tausende million millionen milliarde milliarden "
    "anderthalb eineinhalb halb hälfte beide beiden "
    "two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
    "hundred thousand million billion dozen dozens hundreds thousands half both"
)
_WORDS = re.compile(r"\w+")


def asks_for_quantity(question: str) -> bool:
    return bool(_ASKS_QUANTITY.search(question))


def mentions_quantity(text: str) -> bool:
    """A digit or a number word; not "ein"/"one", which is mostly an article."""
    return bool(_DIGIT.search(text)) or any(
        w.lower() in _NUMBER_WORDS for w in _WORDS.findall(text)
    )


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the decision is based on, one value per name in `FEATURES`."""

    dense_top: float
    dense_gap: float
    lexical_top: float
    lexical_max: float
    unknown_share: float
    quote_lexical: float
    quote_score: float
    quantity_missing: float
    language_mismatch: float
    dense_other_language: float
    unknown_names: float
    names_in_top: float
    sentence_gap: float
    reader_best: float  # the reader's best chance that a quote answers (-1: nothing read)

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in FEATURES], dtype=np.float64)


def gather_evidence(
    question: str,
    language: str,
    retrieval: Retrieval,
    ranked: Sequence[Candidate],
    quotes: Sequence[Quote],
    best_sentence: Mapping[int, float] | None = None,
) -> Evidence:
    """`best_sentence`: for the paragraphs quotes come from (the head of `ranked`), the cosine of
    the question and their closest sentence, by chunk id."""
    dense = sorted((c.dense for c in retrieval.candidates), reverse=True)
    top = dense[0] if dense else 0.0
    rest = dense[4:] or dense[1:] or [top]
    total = sum(retrieval.weights.values())
    unknown = sum(retrieval.weights[t] for t in retrieval.unknown) / total if total else 0.0
    first = quotes[0].text if quotes else ""
    names = {t: w for t, w in retrieval.weights.items() if t in name_terms(question)}
    name_total = sum(names.values())
    best = ranked[0].chunk.text if ranked else ""
    story = same_story(retrieval.candidates, ranked[0].chunk.article) if ranked else frozenset()
    return Evidence(
        dense_top=top,
        dense_gap=top - float(np.mean(rest)),
        lexical_top=ranked[0].lexical if ranked else 0.0,
        lexical_max=max((c.lexical for c in ranked), default=0.0),
        unknown_share=unknown,
        quote_lexical=coverage(stems(first), retrieval.weights, retrieval.keys(first)),
        quote_score=quotes[0].score if quotes else 0.0,
        quantity_missing=float(
            asks_for_quantity(question) and not any(mentions_quantity(q.text) for q in quotes)
        ),
        language_mismatch=float(bool(best) and language_of(best, language) != language),
        dense_other_language=max(
            (
                c.dense
                for c in retrieval.candidates
                if language_of(c.chunk.text, language) != language
            ),
            default=0.0,
        ),
        unknown_names=(
            sum(w for t, w in names.items() if t in retrieval.unknown) / name_total
            if name_total
            else 0.0
        ),
        names_in_top=coverage(chunk_stems(ranked[0].chunk), names) if ranked and names else 0.0,
        sentence_gap=sentence_gap(ranked, best_sentence or {}, story),
        reader_best=max((q.reader for q in quotes if q.reader is not None), default=-1.0),
    )


def sentence_gap(
    ranked: Sequence[Candidate], best_sentence: Mapping[int, float], story: frozenset[str]
) -> float:
    """Among the paragraphs with sentence scores, the best sentence of the best-ranked article's
    `story` minus the best sentence of any other story (at most `GAP_CAP`)."""
    scored = [c for c in ranked if c.chunk.id in best_sentence]
    mine = [best_sentence[c.chunk.id] for c in scored if c.chunk.article in story]
    rivals = [best_sentence[c.chunk.id] for c in scored if c.chunk.article not in story]
    if not mine:
        return -GAP_CAP if rivals else 0.0
    return min(max(mine) - max(rivals), GAP_CAP) if rivals else GAP_CAP


def same_story(candidates: Sequence[Candidate], article: str) -> frozenset[str]:
    """The article and every other one with a copy, even an edited one, of one of its candidate
    paragraphs: republished and updated versions of a story are one source, not rivals."""
    own = [c.chunk.text for c in candidates if c.chunk.article == article]
    return frozenset(
        {article}
        | {
            c.chunk.article
            for c in candidates
            if c.chunk.article != article and any(near_copies(c.chunk.text, t) for t in own)
        }
    )


_CAPITALISED = re.compile(r"\b[^\W\d_][\w-]*|\d[\w.,]*", re.UNICODE)


def name_terms(question: str) -> frozenset[str]:
    """Terms written like names or numbers: capitalised after the first word, or with a digit
    (in German every noun is capitalised, so there it means nouns and names)."""
    words = _CAPITALISED.findall(question)
    picked = [w for i, w in enumerate(words) if w[0].isdigit() or (i > 0 and w[0].isupper())]
    return frozenset(t for w in picked for t in terms(w))


@dataclass(frozen=True, slots=True)
class Tree:
    """One regression tree as flat arrays: node i splits on `feature[i]` at `threshold[i]`
    (value <= threshold goes `left`), or is a leaf (`feature[i] == -1`) worth `value[i]`."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def predict(self, x: Sequence[float]) -> float:
        node = 0
        while self.feature[node] >= 0:
            go_left = x[self.feature[node]] <= self.threshold[node]
            node = self.left[node] if go_left else self.right[node]
        return self.value[node]

    def to_json(self) -> dict:
        return {
            "feature": list(self.feature),
            "threshold": list(self.threshold),
            "left": list(self.left),
            "right": list(self.right),
            "value": list(self.value),
        }

    @classmethod
    def from_json(cls, data: dict) -> Tree:
        return cls(
            feature=tuple(int(v) for v in data["feature"]),
            threshold=tuple(float(v) for v in data["threshold"]),
            left=tuple(int(v) for v in data["left"]),
            right=tuple(int(v) for v in data["right"]),
            value=tuple(float(v) for v in data["value"]),
        )


@dataclass(frozen=True, slots=True)
class AbstentionModel:
    """Boosted trees over `Evidence`: p = sigmoid(baseline + the trees' sum); answers when
    p >= threshold. Evaluated here with plain Python, so answering needs no scikit-learn."""

    embedder_id: str
    features: tuple[str, ...]
    baseline: float
    trees: tuple[Tree, ...]
    threshold: float
    fitted_on: str = ""

    @property
    def key(self) -> str:
        """Its entry in `fitted_models`: the embedder, and whether it weighs the reader."""
        return model_key(self.embedder_id, reads="reader_best" in self.features)

    def probability(self, evidence: Evidence) -> float:
        x = [float(getattr(evidence, f)) for f in self.features]
        logit = self.baseline + sum(tree.predict(x) for tree in self.trees)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))

    def to_json(self) -> dict:
        return {
            "embedder_id": self.embedder_id,
            "features": list(self.features),
            "baseline": self.baseline,
            "trees": [t.to_json() for t in self.trees],
            "threshold": self.threshold,
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_json(cls, data: dict) -> AbstentionModel:
        return cls(
            embedder_id=data["embedder_id"],
            features=tuple(data["features"]),
            baseline=float(data["baseline"]),
            trees=tuple(Tree.from_json(t) for t in data["trees"]),
            threshold=float(data["threshold"]),
            fitted_on=data.get("fitted_on", ""),
        )


def model_key(embedder_id: str, *, reads: bool) -> str:
    """Models are fitted per embedder, with the reader's evidence and without it (an answer
    the reader did not read is judged by the model that never relied on it)."""
    return f"{embedder_id}+reader" if reads else embedder_id


@functools.cache
def fitted_models(path: Path = MODEL_FILE) -> dict[str, AbstentionModel]:
    """The shipped models, by `model_key`."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    models = {}
    for entry in data.get("models", []):
        try:
            model = AbstentionModel.from_json(entry)
        except (KeyError, TypeError, ValueError):  # an older format: refit it
            continue
        if set(model.features) <= set(FEATURES):  # else fitted on evidence this code lacks
            models[model.key] = model
    return models


@dataclass(frozen=True, slots=True)
class Verdict:
    answered: bool
    confidence: float | None  # the model's probability that the articles answer; None = no model
    # Abstained although the model that does not weigh the reader answers: the articles cover
    # the question's story, but the reader found no sentence that says what it asks.
    on_topic: bool = False


class Abstainer:
    def __init__(
        self,
        *,
        model: AbstentionModel | None = None,
        threshold: float | None = None,
        quantity_check: bool = True,
    ) -> None:
        """`model`: None looks up the shipped model for the embedder in `decide`; `threshold`
        overrides the model's own (for measuring the trade-off); `quantity_check`: a question
        that asks for a number and gets none in its quotes is abstained on."""
        self.model = model
        self.threshold = threshold
        self.quantity_check = quantity_check

    def decide(self, evidence: Evidence, embedder_id: str, has_quotes: bool) -> Verdict:
        if not has_quotes:
            return Verdict(False, None)
        model = self.model or _model_for(evidence, embedder_id)
        p = model.probability(evidence) if model else None
        if self.quantity_check and evidence.quantity_missing:
            return Verdict(False, p)
        if model is None or p is None:  # no model for this embedder: answer
            return Verdict(True, None)
        threshold = model.threshold if self.threshold is None else self.threshold
        topic = _topic_model(model, embedder_id)
        if topic is None:  # a model without the reader decides alone
            return Verdict(p >= threshold, p)
        # With the reader: the model fitted without it says whether the articles cover the
        # question's story (fitted on every off-topic question, it knows that best), the one
        # fitted with it whether they say what is asked; both must answer.
        covered = topic.probability(evidence) >= topic.threshold
        return Verdict(covered and p >= threshold, p, on_topic=covered and p < threshold)


def _model_for(evidence: Evidence, embedder_id: str) -> AbstentionModel | None:
    models = fitted_models()
    read = evidence.reader_best >= 0
    found = models.get(model_key(embedder_id, reads=read))
    return found or models.get(model_key(embedder_id, reads=False))


def _topic_model(model: AbstentionModel, embedder_id: str) -> AbstentionModel | None:
    """For a model that weighs the reader, the same embedder's model that does not."""
    if "reader_best" not in model.features:
        return None
    return fitted_models().get(model_key(embedder_id, reads=False))
