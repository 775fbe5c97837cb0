"""Turning settings into the objects the front ends share (embedder, index, answerer)."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from bot.log_filters import filter_installed
from bot.settings import Settings
from index import embedders
from index.embedders import Embedder
from index.stores import live_generation, open_store
from index.stores.base import StoreError
from index.sync import ProgressCallback, SyncReport, sync_index
from retrieval.answer import Answer
from retrieval.answerer import Answerer
from retrieval.candidates import HybridRetriever
from retrieval.live import LiveIndex
from retrieval.translations import WordTranslations


def open_answerer(settings: Settings, embedder: Embedder | None = None) -> Answerer:
    """Load the model and the live index; raises `StoreError` with a recovery hint."""
    embedder = embedder or embedders.load_embedder(settings.embedding_model)
    store = open_store(settings.index_location, embedder.model_id)
    translations = WordTranslations(settings.dictionary, cache_dir=user_cache_dir())
    retriever = HybridRetriever(
        dense_k=settings.candidates, lexical_k=settings.candidates, translations=translations
    )
    return Answerer(store, embedder, retriever=retriever, today=settings.today)


def open_live(settings: Settings, embedder: Embedder | None = None) -> LiveIndex:
    """The live index a long-running front end (chat, watch, telegram) answers from, not yet
    loaded or synced; loads the configured model unless `embedder` is given (raises
    `EmbedderError` when it cannot)."""
    embedder = embedder or embedders.load_embedder(settings.embedding_model)
    return LiveIndex(
        settings.articles_dir,
        settings.index_location,
        embedder,
        candidates=settings.candidates,
        today=settings.today,
        paragraphs_only=settings.index_paragraphs_only,
    )


class CurrentAnswerer:
    """Answers each question from the newest published generation, as the bot does: before a
    question one small read (`live_generation`) and, when another process published since,
    the new snapshot (a long-running `newsbot ask` otherwise answers from the generation it
    started with for ever). The model, word translations and caches are kept across
    snapshots."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.location = settings.index_location
        self._answerer = open_answerer(settings, embedder)

    @property
    def generation(self) -> int:
        return self._answerer.store.generation

    def current(self) -> Answerer:
        """The answerer of the live generation; the snapshot we have when the index cannot
        be read right now (the question then fails, or succeeds, on its own)."""
        answerer = self._answerer
        try:
            if live_generation(self.location) == answerer.store.generation:
                return answerer
            store = open_store(self.location, answerer.embedder.model_id)
        except StoreError as exc:
            logging.getLogger(__name__).info("keeping the current snapshot: %s", exc)
            return answerer
        self._answerer = Answerer(
            store,
            answerer.embedder,
            retriever=answerer.retriever,
            sentences=answerer.sentences,
            latent_terms=answerer.latent_terms,
            today=answerer.today,
        )
        answerer.store.close()  # one question at a time: nothing reads the old one now
        return self._answerer

    def answer(self, question: str, *, top: int = 5) -> Answer:
        return self.current().answer(question, top=top)


def user_cache_dir() -> Path:
    """Where derived data shared by every index is kept (the reduced word dictionary)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsbot"


@contextmanager
def progress_bar(console: Console) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on a terminal; nothing when output is piped or in CI."""
    if not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[eta]}"),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=None, rate="", eta="")
        started = time.monotonic()

        def update(done: int, total: int, current: str) -> None:
            elapsed = time.monotonic() - started
            rate = eta = ""
            if done and elapsed > 0:
                rate = f"{done / elapsed:.1f} articles/s"
                left = round((total - done) * elapsed / done)
                eta = f"ETA {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}"
            progress.update(
                task, completed=done, total=total, description=current, rate=rate, eta=eta
            )

        yield update


def run_sync(
    settings: Settings, embedder: Embedder, *, rebuild: bool = False, console: Console | None = None
) -> SyncReport:
    console = console or Console(stderr=True)
    with progress_bar(console) as progress:
        report = sync_index(
            settings.articles_dir,
            settings.index_location,
            embedder,
            rebuild=rebuild,
            progress=progress,
            sentence_vectors=not settings.index_paragraphs_only,
            latent_terms=not settings.index_paragraphs_only,
        )
    for skipped in report.skipped:
        console.print(f"[yellow]skipped[/] {skipped.path}: {skipped.reason}", highlight=False)
    for failed in report.failed:
        console.print(f"[red]failed[/] {failed.path}: {failed.reason}", highlight=False)
    return report


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())


class SkipsPrintedByFrontEnd(logging.Filter):
    """`index.sync` logs each skipped file; a front end that prints the report's skipped files
    itself drops those records, so each skip is reported once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "index.sync" and str(record.msg).startswith("skipped "))


@contextmanager
def skips_reported_once() -> Iterator[None]:
    """While the front end prints `SyncReport.skipped` itself (`newsbot index`, `watch`)."""
    with filter_installed(SkipsPrintedByFrontEnd()):
        yield
