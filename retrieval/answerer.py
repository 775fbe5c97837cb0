"""Question -> Answer, in stages that can each be replaced or turned off for measurement.

1. retrieve (`retrieval.candidates`): paragraphs from the vector index ∪ the full-text index;
2. fuse (`retrieval.fusion`): one ranking score from cosine and shared words;
   then collapse copies (`retrieval.duplicates`): a paragraph repeated by several articles
   ranks once, citing the others;
   then rerank (`retrieval.latent_terms`): the best few by the model's cross-lingual terms;
3. select quotes (`retrieval.quotes`): the sentences that answer, verbatim, close in score;
   read (`retrieval.reading`): the trained reader re-reads the best quotes' answering
   sentences, and the one most likely to answer leads;
4. decide (`retrieval.abstain`): a fitted model says whether the quotes answer at all.

One model call per question (two for a follow-up, in one batch). A follow-up ("And what did
he say then?") also embeds "previous question + question" and searches with a mix in which the
question's own vector dominates; whether to answer is judged on the question's own retrieval,
so an off-topic question after an on-topic one is not carried over by its context.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import date

import numpy as np

from index.dates import Coverage, day_of, last_day_of
from index.embedders import Embedder, normalize_rows
from index.stores.base import StoreReader
from retrieval.abstain import Abstainer, Evidence, fitted_models, gather_evidence
from retrieval.answer import Answer, Quote
from retrieval.candidates import HybridRetriever
from retrieval.duplicates import DuplicateFilter
from retrieval.fusion import LexicalFusion
from retrieval.latent_terms import LatentTermRerank
from retrieval.latest import newest_leads
from retrieval.quotes import QuoteSelector
from retrieval.reading import ReaderStage
from retrieval.recency import NewestFirst, merged
from retrieval.reply_language import detect_language
from retrieval.sentence_vectors import SentenceVectors
from retrieval.terms import has_content
from retrieval.when import TimeQuestion, TimeReader


class Answerer:
    """Answers from one index snapshot; safe to share between threads."""

    def __init__(
        self,
        store: StoreReader,
        embedder: Embedder,
        *,
        candidates: int | None = None,
        retriever: HybridRetriever | None = None,
        fusion: LexicalFusion | None = None,
        quotes: QuoteSelector | None = None,
        abstainer: Abstainer | None = None,
        sentences: SentenceVectors | None = None,
        latent_terms: LatentTermRerank | None = None,
        duplicates: DuplicateFilter | None = None,
        follow_up_weight: float = 0.5,
        time: TimeReader | None = None,
        today: date | None = None,
        newest_first: NewestFirst | None = None,
        reading: ReaderStage | None = None,
    ) -> None:
        """`candidates`: paragraphs each index proposes (None: the retriever's default);
        `sentences`: where the quoted paragraphs' sentence vectors come from (share one
        between the answerers of successive snapshots to keep its cache);
        `latent_terms`: the rerank stage (shared between snapshots like `sentences`);
        `duplicates`: the stage that collapses copies of a paragraph;
        `follow_up_weight`: weight of "previous question + question" against the question;
        `time`: reads a question's window and latest intent (`TimeReader(enabled=False)`: the
        archive is timeless, as before); `today`: what "yesterday" counts from (None: the
        clock at each question; the front ends pass NEWSBOT_NOW); `newest_first`: the stage
        that ranks the newest answering paragraphs first for questions about the latest;
        `reading`: the stage whose reader chooses the lead quote (shared between snapshots:
        it holds the loaded model)."""
        self.store = store
        self.embedder = embedder
        if retriever is None:
            sizes = {} if candidates is None else {"dense_k": candidates, "lexical_k": candidates}
            retriever = HybridRetriever(**sizes)
        self.retriever = retriever
        self.fusion = fusion or LexicalFusion()
        self.quotes = quotes or QuoteSelector()
        self.abstainer = abstainer or Abstainer()
        self.sentences = sentences or SentenceVectors(embedder)
        self.latent_terms = latent_terms or LatentTermRerank(embedder)
        self.duplicates = duplicates or DuplicateFilter()
        self.follow_up_weight = follow_up_weight
        self.time = time or TimeReader()
        self.today = today
        self.newest_first = newest_first or NewestFirst()
        self.reading = reading or ReaderStage()
        self._coverage = None

    def warm_up(self) -> None:
        """Load what the first answer would otherwise load (language model, abstention model,
        word translations, the reader); nothing is computed per snapshot."""
        detect_language("warm up")
        fitted_models()
        self.retriever.translations.tables()
        if self.reading.reads_for(self.embedder.model_id):
            self.reading.reader()

    def embed(self, questions: Sequence[str]) -> np.ndarray:
        """Query vectors for many questions in one model call (evaluation, batches)."""
        return self.embedder.embed_queries(list(questions))

    def answer(
        self,
        question: str,
        *,
        context: str | None = None,
        top: int = 5,
        vector: np.ndarray | None = None,
    ) -> Answer:
        """`vector`: the question's embedding if already computed (see `embed`); a question
        with words that only express time is embedded without them instead."""
        return self.explain(question, context=context, top=top, vector=vector)[0]

    def explain(
        self,
        question: str,
        *,
        context: str | None = None,
        top: int = 5,
        vector: np.ndarray | None = None,
    ) -> tuple[Answer, Evidence | None]:
        """The answer and the evidence its decision was based on (None: nothing to search)."""
        started = time.perf_counter()
        language = detect_language(question, default=detect_language(context or ""))
        asked_time, coverage = self._read_time(question)
        timed = {"window": asked_time.window, "coverage": coverage}
        if asked_time.window is not None and not _covers(coverage, asked_time):
            # a window the archive has no articles from: say so, never quote outside it
            timing = {"total": (time.perf_counter() - started) * 1000}
            return Answer(
                question, False, (), language, timing, outside_coverage=True, **timed
            ), None
        window = asked_time.window.bounds() if asked_time.window else None
        content = asked_time.content(question)  # words that only express time do not count
        if not has_content(content) and not (context and has_content(context)):
            # "What happened yesterday?", "Was gibt es Neues?": the newest articles of the time
            leads = []
            if asked_time.window is not None or asked_time.latest:
                leads = newest_leads(self.store, window, top)
            timing = {"total": (time.perf_counter() - started) * 1000}
            answer = Answer(
                question, bool(leads), tuple(leads), language, timing, newest_first=True, **timed
            )
            return answer, None
        context = context.strip() if context else ""
        searched_text = f"{context} {content}" if context else content
        asked = self.latent_terms.start(searched_text)
        own_asked = self.latent_terms.start(question) if context else asked
        # words that only express time are no content for the model either
        own_text = " ".join(content.split()) if asked_time.spans else question
        if vector is None or context or asked_time.spans:
            texts = [own_text, f"{context} {own_text}"] if context else [own_text]
            vectors = self.embedder.embed_queries(texts)
            own = vectors[0]
            query = normalize_rows(own + self.follow_up_weight * vectors[1])[0] if context else own
        else:
            own = query = vector
        embedded = time.perf_counter()
        retrieval = self.retriever.retrieve(self.store, query, searched_text, language, window)
        if asked_time.latest and (
            newer := self.newest_first.newer_than(self.fusion.fuse(retrieval.candidates), window)
        ):
            later = self.retriever.retrieve(self.store, query, searched_text, language, newer)
            retrieval = merged(retrieval, later)
        collapsed = self.duplicates.collapse(self.fusion.fuse(retrieval.candidates))
        candidates = collapsed.candidates
        if asked_time.latest:  # the newest of the paragraphs that answer into the head
            candidates = self.newest_first.rerank(candidates)
        ranked = self.latent_terms.rerank(
            candidates, asked, head=self.quotes.paragraphs, language=language, store=self.store
        )
        searched = time.perf_counter()

        read = None
        if self.reading.reads_for(self.embedder.model_id):

            def read(sentences, cosines):
                return self.reading.read(content, language, sentences, cosines)

        def select(paragraphs, count: int) -> list[Quote]:
            return self.quotes.select(
                paragraphs,
                query,
                retrieval.weights,
                lambda chunks: self.sentences.lookup(self.store, chunks),
                self.store.article_text,
                top=count,
                copies=collapsed.copies,
                keys=retrieval.keys,
                read=read,
            )

        quotes = select(ranked, top)
        newest = candidates[0].chunk if asked_time.latest and candidates else None
        if newest and newest.date and all(q.article != newest.article for q in quotes):
            # the newest report that answers is quoted, even where older ones score higher
            quotes = (select(candidates[:1], 1) + quotes)[: max(len(quotes), 1)]
        if context:  # judge the question on its own retrieval
            retrieval = self.retriever.retrieve(self.store, own, content, language, window)
            own_ranked = self.duplicates.collapse(self.fusion.fuse(retrieval.candidates)).candidates
            own_ranked = self.latent_terms.rerank(
                own_ranked,
                own_asked,
                head=self.quotes.paragraphs,
                language=language,
                store=self.store,
            )
        else:
            own_ranked = ranked
        head = [c.chunk for c in own_ranked[: self.quotes.paragraphs]]
        sentence_vectors = self.sentences.lookup(self.store, head)  # cached: quoting read them
        best_sentence = {
            chunk.id: float(np.max(sentence_vectors[chunk.id] @ own))
            for chunk in head
            if chunk.id in sentence_vectors and len(sentence_vectors[chunk.id])
        }
        evidence = gather_evidence(content, language, retrieval, own_ranked, quotes, best_sentence)
        verdict = self.abstainer.decide(evidence, self.embedder.model_id, bool(quotes))
        ordered, newest_first = self._in_time_order(quotes, asked_time)
        done = time.perf_counter()
        answer = Answer(
            question=question,
            answered=verdict.answered,
            quotes=tuple(ordered) if verdict.answered else (),
            language=language,
            timing_ms={
                "embed": (embedded - started) * 1000,
                "search": (searched - embedded) * 1000,
                "total": (done - started) * 1000,
            },
            strength=verdict.confidence,
            unknown_terms=retrieval.unknown,
            newest_first=newest_first and verdict.answered,
            figures_differ=verdict.answered and newest_first and figures_differ(ordered),
            nearest=tuple(quotes[:2]) if verdict.on_topic and not verdict.answered else (),
            **timed,
        )
        return answer, evidence

    def coverage(self) -> Coverage:
        """The archive's time span (read once per snapshot: an answerer serves one)."""
        if self._coverage is None:
            self._coverage = self.store.coverage()
        return self._coverage

    def _read_time(self, question: str) -> tuple[TimeQuestion, Coverage | None]:
        """What the question says about time, and the archive's coverage. An archive that is
        mostly undated has no time to filter by (`TimeReader.min_dated_share`): its questions
        are read as timeless, except a window counted back from today ("yesterday", "in the
        past 10 days"), which asks when things were reported and only dated articles answer."""
        if not self.time.enabled:
            return NO_TIME, None
        coverage = self.coverage()
        asked = self.time.read(question, self.today or date.today())
        if self.time.knows_time(coverage.dated, coverage.undated):
            return asked, coverage
        if asked.relative and coverage.dated:
            return TimeQuestion(asked.window, spans=asked.spans, relative=True), coverage
        return NO_TIME, coverage

    def _in_time_order(
        self, quotes: Sequence[Quote], asked: TimeQuestion
    ) -> tuple[list[Quote], bool]:
        """Newest first, for a question about the latest, or when every quote is dated and
        they come from different days (an answer that changed over time); else as ranked."""
        quotes = list(quotes)
        if not self.time.enabled or len(quotes) < 2:
            return quotes, False
        days = [q.date[:10] if q.date else None for q in quotes]
        if (asked.latest and any(days)) or (all(days) and len(set(days)) > 1):
            order = sorted(range(len(quotes)), key=lambda i: quotes[i].date or "", reverse=True)
            return [quotes[i] for i in order], True
        return quotes, False


NO_TIME = TimeQuestion()
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")


def _covers(coverage: Coverage | None, asked: TimeQuestion) -> bool:
    """Whether the archive has dated articles on some day of the question's window."""
    if coverage is None or asked.window is None or not coverage.dated:
        return True
    oldest, newest = day_of(coverage.oldest), last_day_of(coverage.newest)
    if oldest is None or newest is None:
        return True
    return asked.window.overlaps(oldest, newest)


def figures_differ(quotes: Sequence[Quote]) -> bool:
    """Whether quotes from different days state different figures (the answer then says which
    is newer): the figures of each day's quotes, compared between the days."""
    by_day: dict[str, set[str]] = {}
    for quote in quotes:
        if quote.date:
            figures = set(_FIGURE.findall(quote.text))
            if figures:
                by_day.setdefault(quote.date[:10], set()).update(figures)
    days = list(by_day.values())
    return len(days) > 1 and any(day != days[0] for day in days[1:])
