"""Question -> Answer, in stages that can each be replaced or turned off for measurement.

1. retrieve (`retrieval.candidates`): paragraphs from the vector index ∪ the full-text index;
2. fuse (`retrieval.fusion`): one ranking score from cosine and shared words;
   then collapse copies (`retrieval.duplicates`): a paragraph repeated by several articles
   ranks once, citing the others;
   then rerank (`retrieval.latent_terms`): the best few by the model's cross-lingual terms;
3. select quotes (`retrieval.quotes`): the sentences that answer, verbatim, close in score;
4. decide (`retrieval.abstain`): a fitted model says whether the quotes answer at all.

One model call per question (two for a follow-up, in one batch). A follow-up ("And what did
he say then?") also embeds "previous question + question" and searches with a mix in which the
question's own vector dominates; whether to answer is judged on the question's own retrieval,
so an off-topic question after an on-topic one is not carried over by its context.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from index.embedders import Embedder, normalize_rows
from index.stores.base import StoreReader
from retrieval.abstain import Abstainer, Evidence, fitted_models, gather_evidence
from retrieval.answer import Answer
from retrieval.candidates import HybridRetriever
from retrieval.duplicates import DuplicateFilter
from retrieval.fusion import LexicalFusion
from retrieval.latent_terms import LatentTermRerank
from retrieval.quotes import QuoteSelector
from retrieval.reply_language import detect_language
from retrieval.sentence_vectors import SentenceVectors
from retrieval.terms import has_content


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
    ) -> None:
        """`candidates`: paragraphs each index proposes (None: the retriever's default);
        `sentences`: where the quoted paragraphs' sentence vectors come from (share one
        between the answerers of successive snapshots to keep its cache);
        `latent_terms`: the rerank stage (shared between snapshots like `sentences`);
        `duplicates`: the stage that collapses copies of a paragraph;
        `follow_up_weight`: weight of "previous question + question" against the question."""
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

    def warm_up(self) -> None:
        """Load what the first answer would otherwise load (language model, abstention model,
        word translations); nothing is computed per snapshot."""
        detect_language("warm up")
        fitted_models()
        self.retriever.translations.tables()

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
        """`vector`: the question's embedding if already computed (see `embed`)."""
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
        if not has_content(question) and not (context and has_content(context)):
            return Answer(question, False, (), language, {"total": 0.0}), None
        context = context.strip() if context else ""
        searched_text = f"{context} {question}" if context else question
        asked = self.latent_terms.start(searched_text)
        own_asked = self.latent_terms.start(question) if context else asked
        if vector is None or context:
            texts = [question, f"{context} {question}"] if context else [question]
            vectors = self.embedder.embed_queries(texts)
            own = vectors[0]
            query = normalize_rows(own + self.follow_up_weight * vectors[1])[0] if context else own
        else:
            own = query = vector
        embedded = time.perf_counter()
        retrieval = self.retriever.retrieve(self.store, query, searched_text, language)
        collapsed = self.duplicates.collapse(self.fusion.fuse(retrieval.candidates))
        ranked = self.latent_terms.rerank(
            collapsed.candidates, asked, head=self.quotes.paragraphs, language=language
        )
        searched = time.perf_counter()
        quotes = self.quotes.select(
            ranked,
            query,
            retrieval.weights,
            lambda chunks: self.sentences.lookup(self.store, chunks),
            self.store.article_text,
            top=top,
            copies=collapsed.copies,
            keys=retrieval.keys,
        )
        if context:  # judge the question on its own retrieval
            retrieval = self.retriever.retrieve(self.store, own, question, language)
            own_ranked = self.duplicates.collapse(self.fusion.fuse(retrieval.candidates)).candidates
            own_ranked = self.latent_terms.rerank(
                own_ranked, own_asked, head=self.quotes.paragraphs, language=language
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
        evidence = gather_evidence(question, language, retrieval, own_ranked, quotes, best_sentence)
        verdict = self.abstainer.decide(evidence, self.embedder.model_id, bool(quotes))
        done = time.perf_counter()
        answer = Answer(
            question=question,
            answered=verdict.answered,
            quotes=tuple(quotes) if verdict.answered else (),
            language=language,
            timing_ms={
                "embed": (embedded - started) * 1000,
                "search": (searched - embedded) * 1000,
                "total": (done - started) * 1000,
            },
            strength=verdict.confidence,
            unknown_terms=retrieval.unknown,
        )
        return answer, evidence
