"""The index a long-running front end answers from, swapped atomically after each sync."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from index.dates import Coverage
from index.embedders import Embedder
from index.stores import Location, as_location, live_generation, open_store
from index.stores.base import ArticleRecord, IndexMissingError, StoreError, StoreReader
from index.sync import SyncReport, sync_index
from retrieval.answer import Answer
from retrieval.answerer import Answerer
from retrieval.latent_terms import LatentTermRerank
from retrieval.sentence_vectors import SentenceVectors

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IndexChange:
    """What a newer generation changed, by article path, for a front end to mention."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @classmethod
    def between(cls, before: list[ArticleRecord], after: list[ArticleRecord]) -> IndexChange:
        old = {a.path: a.content_hash for a in before}
        new = {a.path: a.content_hash for a in after}
        return cls(
            added=tuple(sorted(new.keys() - old.keys())),
            updated=tuple(sorted(p for p in new.keys() & old.keys() if new[p] != old[p])),
            removed=tuple(sorted(old.keys() - new.keys())),
        )

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """`3 new articles, 1 updated, 1 removed` (English; the CLI's language)."""
        parts = []
        if self.added:
            parts.append(f"{len(self.added)} new article{'s' if len(self.added) != 1 else ''}")
        if self.updated:
            noun = "" if parts else (" articles" if len(self.updated) != 1 else " article")
            parts.append(f"{len(self.updated)}{noun} updated")
        if self.removed:
            noun = "" if parts else (" articles" if len(self.removed) != 1 else " article")
            parts.append(f"{len(self.removed)}{noun} removed")
        return ", ".join(parts) or "the index was rebuilt"


class LiveIndex:
    """Answers always come from one complete generation.

    `answer` reads `self._answerer` once, so a query in flight keeps the snapshot it started
    with while `sync` (run in a worker thread) builds the next generation and then replaces
    the reference in one assignment; nothing is ever half-written from a reader's view.
    """

    def __init__(
        self,
        articles_dir: Path,
        index_dir: Location,
        embedder: Embedder,
        *,
        candidates: int = 20,
        today: date | None = None,
        paragraphs_only: bool = False,
    ) -> None:
        """`today`: what questions about time count from (None: the clock);
        `paragraphs_only`: syncs store no sentence vectors or latent terms (`index.sync`)."""
        self.articles_dir = Path(articles_dir)
        self.today = today
        self.index_dir = as_location(index_dir)  # a folder or a postgresql:// URL
        self.embedder = embedder
        self.candidates = candidates
        self.paragraphs_only = paragraphs_only
        self.sentences = SentenceVectors(embedder)  # outlives snapshots: its cache stays valid
        self.latent_terms = LatentTermRerank(embedder)  # the same
        self._answerer: Answerer | None = None
        self._sync_lock = threading.Lock()  # syncs of this process run one at a time
        self._swap_lock = threading.Lock()  # a refresh and a sync never swap at once

    def load(self) -> None:
        """Open the live generation (raises `StoreError` with a recovery hint)."""
        with self._swap_lock:
            self._swap(open_store(self.index_dir, self.embedder.model_id))

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

    def coverage(self) -> Coverage:
        """The archive's time span (oldest, newest, dated, undated)."""
        return self.answerer.coverage()

    def articles(self) -> list[ArticleRecord]:
        return self.answerer.store.articles()

    def refresh(self) -> IndexChange | None:
        """Follow the live generation when another process published a new one.

        `newsbot watch`, `newsbot index` or a bot's upload may change the index while this
        process answers; the `CURRENT` pointer (or, in PostgreSQL, the newest generation row)
        says which generation is live, so one small read per question keeps a front end
        current. Returns what changed, or None when
        nothing did. A damaged or missing index keeps the snapshot we have (and is logged).
        """
        answerer = self._answerer
        if answerer is None:
            _ = self.answerer  # opens (or builds) the index: there is nothing to compare with
            return None
        try:
            live = live_generation(self.index_dir)
        except StoreError as exc:
            log.warning("keeping the current snapshot: %s", exc)
            return None
        if live == answerer.store.generation:
            return None
        with self._swap_lock:
            current = self._answerer
            if current is not None and current is not answerer:
                return None  # a sync of ours swapped meanwhile; the next call compares again
            before = answerer.store.articles()
            try:
                store = open_store(self.index_dir, self.embedder.model_id)
            except StoreError as exc:
                log.warning("keeping the current snapshot: %s", exc)
                return None
            self._swap(store)
        return IndexChange.between(before, store.articles())

    def sync(
        self,
        *,
        rebuild: bool = False,
        lock_wait_seconds: float = 30.0,
        paths: Iterable[str | Path] | None = None,
    ) -> SyncReport:
        """Blocking: run it in a worker thread from async code (`asyncio.to_thread`).
        `paths`: only these files or folders changed (see `index.sync.sync_index`)."""
        with self._sync_lock:
            report = sync_index(
                self.articles_dir,
                self.index_dir,
                self.embedder,
                rebuild=rebuild,
                lock_wait_seconds=lock_wait_seconds,
                paths=paths,
                sentence_vectors=not self.paragraphs_only,
                latent_terms=not self.paragraphs_only,
            )
            if self._answerer is None or report.generation != self.generation:
                with self._swap_lock:
                    self._swap(open_store(self.index_dir, self.embedder.model_id))
            log.info("sync: %s", report.summary())
            return report

    def _swap(self, store: StoreReader) -> None:
        # The old store is not closed: queries in flight may still be reading it. Its
        # memory is released when the last reference goes. Warming up here, in the loading
        # or syncing thread, keeps that one-time work out of the next question's latency.
        answerer = Answerer(
            store,
            self.embedder,
            candidates=self.candidates,
            sentences=self.sentences,
            latent_terms=self.latent_terms,
            today=self.today,
        )
        answerer.warm_up()
        self._answerer = answerer
