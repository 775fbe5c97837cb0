"""Bring an index in line with an articles folder, embedding only what changed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.chunking import chunk_article, embedding_text
from index.cleaning import parse_article
from index.embedders import Embedder
from index.files import ArticleFile, SkippedFile, read_article, relative_name, scan
from index.lock import WriterLock
from index.store import (
    GenerationWriter,
    IndexMissingError,
    IndexStore,
    reset_index,
)

log = logging.getLogger(__name__)

# Bump when cleaning or chunking changes what an article becomes: the next sync then
# re-indexes every article instead of trusting content hashes made by the old rules.
PIPELINE_VERSION = "5"

# (articles done, articles to embed, current article path)
ProgressCallback = Callable[[int, int, str], None]


class ArticlesFolderMissingError(FileNotFoundError):
    """Syncing against a missing folder would drop every article; refuse instead."""


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)  # rejected files, with reasons
    failed: list[SkippedFile] = field(default_factory=list)  # unexpected errors while indexing
    chunks_embedded: int = 0
    seconds: float = 0.0
    generation: int | None = None  # the live generation after the sync

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, removed "
            f"{len(self.removed)}, unchanged {self.unchanged}, skipped {len(self.skipped)}, "
            f"failed {len(self.failed)}; {self.chunks_embedded} chunks embedded in "
            f"{self.seconds:.1f}s"
        )


@dataclass(frozen=True, slots=True)
class _Prepared:
    file: ArticleFile
    title: str | None
    date: str | None
    chunks: list
    chunk_vectors: np.ndarray
    sentence_vectors: list[np.ndarray]


def sync_index(
    articles_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: ProgressCallback | None = None,
    lock_wait_seconds: float = 0.0,
) -> SyncReport:
    """Embed new and changed articles, drop removed ones, publish a new generation if anything
    changed. A file that cannot be read keeps its previously indexed version."""
    started = time.perf_counter()
    articles_dir, index_dir = Path(articles_dir), Path(index_dir)
    if not articles_dir.is_dir():  # a typo or an unmounted share, not "all articles deleted"
        raise ArticlesFolderMissingError(
            f"the articles folder {articles_dir} does not exist; the index was left unchanged"
        )
    report = SyncReport()
    with WriterLock(index_dir, wait_seconds=lock_wait_seconds):
        base = None if rebuild else _open_base(index_dir, embedder)
        indexed = dict(base.manifest.articles) if base else {}
        trusted = indexed if base and base.manifest.pipeline == PIPELINE_VERSION else {}
        if indexed and not trusted:
            log.warning("articles were indexed by older cleaning rules: re-indexing all of them")
        readable, seen = [], set()
        found = scan(articles_dir)
        report.skipped.extend(found.problems)  # links that lead nowhere
        for path in found.files:
            name = relative_name(articles_dir, path)
            seen.add(name)
            result = read_article(articles_dir, path)
            if isinstance(result, SkippedFile):
                report.skipped.append(result)
                log.info("skipped %s: %s", result.path, result.reason)  # callers show it
            elif trusted.get(name) == result.content_hash:
                report.unchanged += 1
            else:
                readable.append(result)
        removed = sorted(set(indexed) - seen)

        prepared = []
        for done, article in enumerate(readable):
            if progress:
                progress(done, len(readable), article.path)
            try:
                prepared.append(_prepare(article, embedder))
            except Exception as exc:  # one bad article must not stop the others
                log.exception("failed to index %s", article.path)
                report.failed.append(SkippedFile(article.path, f"{type(exc).__name__}: {exc}"))
        if progress:
            progress(len(readable), len(readable), "")

        if prepared or removed or base is None:
            if rebuild:
                reset_index(index_dir)
            writer = GenerationWriter(
                index_dir, embedder.model_id, embedder.dimension, base, pipeline=PIPELINE_VERSION
            )
            try:
                for path in removed:
                    writer.remove_article(path)
                for item in prepared:
                    writer.add_article(
                        path=item.file.path,
                        raw=item.file.text,
                        content_hash=item.file.content_hash,
                        title=item.title,
                        date=item.date,
                        chunks=item.chunks,
                        chunk_vectors=item.chunk_vectors,
                        sentence_vectors=item.sentence_vectors,
                    )
                    target = report.updated if item.file.path in indexed else report.added
                    target.append(item.file.path)
                    report.chunks_embedded += len(item.chunks)
                report.removed = removed
                report.generation = int(writer.commit().name.split("-")[-1])
            except BaseException:
                writer.abort()
                raise
        elif base is not None:
            report.generation = base.generation
        if base is not None:
            base.close()
    report.seconds = time.perf_counter() - started
    return report


def _open_base(index_dir: Path, embedder: Embedder) -> IndexStore | None:
    """The live generation to build on; a mismatch or damage propagates (`--rebuild` fixes)."""
    try:
        return IndexStore.open(index_dir, embedder.model_id)
    except IndexMissingError:
        return None


def _prepare(article: ArticleFile, embedder: Embedder) -> _Prepared:
    parsed = parse_article(article.text, article.path)
    chunks = chunk_article(parsed, embedder.count_tokens, embedder.max_tokens)
    sentence_texts = [s.text for c in chunks for s in c.sentences]
    per_chunk, offset = [], 0
    for chunk in chunks:
        per_chunk.append(sentence_texts[offset : offset + len(chunk.sentences)])
        offset += len(chunk.sentences)
    chunk_vectors = embedder.embed_passages(
        [embedding_text(c, texts) for c, texts in zip(chunks, per_chunk, strict=True)]
    )
    flat = embedder.embed_passages(sentence_texts)
    sentence_vectors, offset = [], 0
    for chunk in chunks:
        sentence_vectors.append(flat[offset : offset + len(chunk.sentences)])
        offset += len(chunk.sentences)
    return _Prepared(article, parsed.title, parsed.date, chunks, chunk_vectors, sentence_vectors)
