"""Question -> Answer. (First cut: best chunks as quotes; quote selection comes next.)"""

from __future__ import annotations

import time

from index.embedders import Embedder
from index.store import IndexStore
from retrieval.model import Answer, Quote


class Answerer:
    def __init__(self, store: IndexStore, embedder: Embedder, *, candidates: int = 20) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        started = time.perf_counter()
        query = self.embedder.embed_queries([question])[0]
        embedded = time.perf_counter()
        hits = self.store.search(query, min(top, self.candidates))
        searched = time.perf_counter()
        chunks = self.store.chunks([chunk_id for chunk_id, _ in hits])
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
        done = time.perf_counter()
        return Answer(
            question=question,
            answered=bool(quotes),
            quotes=quotes,
            language="en",
            timing_ms={
                "embed": (embedded - started) * 1000,
                "search": (searched - embedded) * 1000,
                "total": (done - started) * 1000,
            },
        )
