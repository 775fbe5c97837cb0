"""The index a long-running front end answers from, swapped atomically after each sync."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from index.embedders import Embedder
from index.store import ArticleRecord, IndexMissingError, IndexStore
from index.sync import SyncReport, sync_index
from retrieval.answerer import Answerer
from retrieval.model import Answer

log = logging.getLogger(__name__)


class LiveIndex:
    """Answers always come from one complete generation.

    `answer` reads `self._answerer` once, so a query in flight keeps the snapshot it started
    with while `sync` (run in a worker thread) builds the next generation and then replaces
    the reference in one assignment; nothing is ever half-written from a reader's view.
    """

    def __init__(
        self, articles_dir: Path, index_dir: Path, embedder: Embedder, *, candidates: int = 20
    ) -> None:
        self.articles_dir = Path(articles_dir)
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.candidates = candidates
        self._answerer: Answerer | None = None
        self._sync_lock = threading.Lock()  # syncs of this process run one at a time

    def load(self) -> None:
        """Open the live generation (raises `IndexError_` with a recovery hint)."""
        self._swap(IndexStore.open(self.index_dir, self.embedder.model_id))

    @property
    def answerer(self) -> Answerer:
        answerer = self._answerer
        if answerer is None:
            try:
                self.load()
            except IndexMissingError:
                self.sync()
            answerer = self._answerer
        assert answerer is not None
        return answerer

    @property
    def generation(self) -> int | None:
        answerer = self._answerer
        return answerer.store.generation if answerer else None

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        return self.answerer.answer(question, context=context, top=top)

    def articles(self) -> list[ArticleRecord]:
        return self.answerer.store.articles()

    def sync(self, *, rebuild: bool = False, lock_wait_seconds: float = 30.0) -> SyncReport:
        """Blocking: run it in a worker thread from async code (`asyncio.to_thread`)."""
        with self._sync_lock:
            report = sync_index(
                self.articles_dir,
                self.index_dir,
                self.embedder,
                rebuild=rebuild,
                lock_wait_seconds=lock_wait_seconds,
            )
            if self._answerer is None or report.generation != self.generation:
                self._swap(IndexStore.open(self.index_dir, self.embedder.model_id))
            log.info("sync: %s", report.summary())
            return report

    def _swap(self, store: IndexStore) -> None:
        # The old store is not closed: queries in flight may still be reading it. Its
        # memory is released when the last reference goes. Warming up here, in the loading
        # or syncing thread, keeps that one-time work out of the next question's latency.
        answerer = Answerer(store, self.embedder, candidates=self.candidates)
        answerer.warm_up()
        self._answerer = answerer
