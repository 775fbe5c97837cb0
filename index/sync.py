"""Bring an index in line with an articles folder, embedding only what changed."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from index.chunking import chunk_article, embedding_text
from index.cleaning import parse_article
from index.embedders import Embedder, LatentTerms, has_latent_terms
from index.files import (
    ARTICLE_SUFFIXES,
    ArticleFile,
    Discovery,
    SkippedFile,
    broken_link_reason,
    read_article,
    relative_name,
    scan,
)
from index.stores import (
    Location,
    as_location,
    open_writer,
    published_generation,
    read_live,
    writer_lock,
)
from index.stores.base import ArticleState, IndexMissingError, Manifest, StoredChunk

log = logging.getLogger(__name__)

# Bump when cleaning or chunking changes what an article becomes: the next sync then
# re-indexes every article instead of trusting content hashes made by the old rules.
PIPELINE_VERSION = "6"


def pipeline_of(sentence_vectors: bool, latent_terms: bool) -> str:
    """What a manifest records of how articles became rows: the cleaning and chunking rules
    and what is stored beside each paragraph's vector. A sync with another pipeline than the
    index's re-indexes every article, reusing what the index holds: switching to storing
    sentence vectors and latent terms (or an index built before they were stored) computes
    only those."""
    stored = ("+sentences" if sentence_vectors else "") + ("+latent" if latent_terms else "")
    return PIPELINE_VERSION + stored


# Articles embedded in one model call and published as one generation.
BATCH_ARTICLES = 64
# A file modified this recently may change again within the file system's mtime granularity
# without its mtime moving: its mtime is not recorded, so the next sync hashes it again.
RACY_MTIME_NS = 2_000_000_000

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
    seen: set[str] = field(default_factory=set, repr=False)  # article files found

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
    size: int
    mtime_ns: int
    title: str | None
    date: str | None
    chunks: list
    chunk_vectors: np.ndarray
    sentence_vectors: list[np.ndarray] | None  # None: not stored
    latent_terms: list[LatentTerms] | None = None  # None: not stored


@dataclass(frozen=True, slots=True)
class _Todo:
    file: ArticleFile
    size: int
    mtime_ns: int  # -1: too recent to trust, hash it again next time


def sync_index(
    articles_dir: Path,
    index_dir: Location,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: ProgressCallback | None = None,
    lock_wait_seconds: float = 0.0,
    batch_articles: int = BATCH_ARTICLES,
    sentence_vectors: bool = True,
    latent_terms: bool = True,
    paths: Iterable[str | Path] | None = None,
) -> SyncReport:
    """Embed new and changed articles, drop removed ones, publish the changes. A file that
    cannot be read keeps its previously indexed version.

    `paths` (files or folders, relative to `articles_dir` or absolute below it; e.g. what a
    folder watcher saw change) limits the sync to them: only they are looked at on disk and
    only their articles' states are read from the index, so its cost follows the change and
    not the archive. It gives the index a full walk would for those paths; the other articles
    are left as they are. It falls back to the full walk when it cannot be sure (a path
    through a linked folder, the folder itself, an index built by older cleaning rules).

    Articles are embedded `batch_articles` at a time (one model call for all their passages)
    and each batch is published as a generation, so a first index is answerable while it
    grows and an interrupted one resumes where it stopped. A `rebuild` publishes once at the
    end instead: the old index stays live until the new one is complete.

    Besides each paragraph's vector, the index stores what answering reads of the paragraphs
    it quotes from: their sentences' vectors (`sentence_vectors`) and, where the model has
    them, their latent terms (`latent_terms`, `retrieval.latent_terms`). Both cost model passes
    that an answer would otherwise pay while the user waits, the first time it quotes a
    paragraph; with either off it is computed then (docs/scale.md has the costs).
    """
    started = time.perf_counter()
    articles_dir, index_dir = Path(articles_dir), as_location(index_dir)
    if not articles_dir.is_dir():  # a typo or an unmounted share, not "all articles deleted"
        raise ArticlesFolderMissingError(
            f"the articles folder {articles_dir} does not exist; the index was left unchanged"
        )
    report = SyncReport()
    latent_terms = latent_terms and has_latent_terms(embedder)
    pipeline = pipeline_of(sentence_vectors, latent_terms)
    with writer_lock(index_dir, wait_seconds=lock_wait_seconds):
        names = None if rebuild or paths is None else _relative_names(articles_dir, paths)
        found = None if names is None else _scan_names(articles_dir, names)
        manifest, known = (None, {}) if rebuild else _read_base(index_dir, embedder, names)
        if found is not None and (manifest is None or manifest.pipeline != pipeline):
            found = None  # a first index, or every article is re-indexed: walk it all
        if names is not None and found is None:
            manifest, known = _read_base(index_dir, embedder)
        trusted = known if manifest and manifest.pipeline == pipeline else {}
        if known and not trusted:
            log.warning(
                "articles were indexed by other rules or with other data stored (%s, now %s): "
                "re-indexing all of them, reusing their vectors",
                manifest.pipeline if manifest else None,
                pipeline,
            )
        todo, touched = _changed_files(articles_dir, trusted, report, found)
        removed = sorted(set(known) - report.seen)

        if not (todo or removed or touched) and manifest is not None:
            report.generation = manifest.generation
            report.seconds = time.perf_counter() - started
            return report
        writer = open_writer(
            index_dir, embedder.model_id, embedder.dimension, manifest, pipeline=pipeline
        )
        try:
            for path in removed:
                writer.remove_article(path)
            for file, size, mtime_ns in touched:
                writer.touch(file, size, mtime_ns)
            for start in range(0, len(todo), max(1, batch_articles)):
                batch = todo[start : start + max(1, batch_articles)]
                if progress:
                    progress(start, len(todo), batch[0].file.path)
                stored = writer.stored_vectors if known else None
                prepared = _prepare_batch(
                    batch, embedder, report, sentence_vectors, stored, latent_terms
                )
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
                        latent_terms=item.latent_terms,
                        size=item.size,
                        mtime_ns=item.mtime_ns,
                    )
                    target = report.updated if item.file.path in known else report.added
                    target.append(item.file.path)
                    report.chunks_embedded += len(item.chunks)
                if not rebuild and writer.changed:
                    report.generation = _number(writer.publish())
            if progress:
                progress(len(todo), len(todo), "")
            report.removed = removed
            if writer.changed or (report.generation is None and manifest is None):
                report.generation = _number(writer.publish())
            else:
                writer.commit()  # new mtimes of unchanged files
                if report.generation is None and manifest is not None:
                    report.generation = manifest.generation
        finally:
            writer.close()
    report.seconds = time.perf_counter() - started
    return report


def _number(published: object) -> int:
    return published_generation(published)


def _relative_names(articles_dir: Path, paths: Iterable[str | Path]) -> list[str] | None:
    """Paths as names relative to `articles_dir` (POSIX); None if one is the folder itself
    (a full walk). Paths outside the folder and hidden ones cannot hold articles: dropped."""
    names = []
    root = os.path.abspath(articles_dir)
    for path in paths:
        full = os.path.abspath(os.path.join(root, os.fspath(path)))
        if full == root:
            return None
        if not full.startswith(root + os.sep):
            continue
        name = PurePosixPath(Path(os.path.relpath(full, root)).as_posix())
        if not any(part.startswith(".") for part in name.parts):
            names.append(str(name))
    return list(dict.fromkeys(names))


def _scan_names(articles_dir: Path, names: list[str]) -> Discovery | None:
    """What a full `scan` would find at these names (files, or folders walked), or None when
    only a full walk can tell: a name reached through a linked folder, or a folder holding
    links to folders (`scan` reads each folder once, whichever route comes first)."""
    found = Discovery()
    for name in names:
        path = articles_dir / name
        parent = articles_dir
        for part in PurePosixPath(name).parts[:-1]:
            parent = parent / part
            if parent.is_symlink():
                return None
        if path.is_dir():
            if path.is_symlink():
                return None
            for folder, subfolders, _ in os.walk(path):
                if any(os.path.islink(os.path.join(folder, sub)) for sub in subfolders):
                    return None
            sub = scan(path)
            found.files.extend(sub.files)
            found.problems.extend(sub.problems)
        elif path.is_symlink() and not path.exists():  # a link to nothing, as `scan` says
            if path.suffix.lower() in ARTICLE_SUFFIXES or not path.suffix:
                reason = broken_link_reason(path)
                found.problems.append(SkippedFile(relative_name(articles_dir, path), reason))
        elif path.suffix.lower() in ARTICLE_SUFFIXES and path.is_file():
            found.files.append(path)
    # a folder and a file in it (a new feed folder and its first article) are one file
    found.files[:] = sorted(set(found.files))
    found.problems[:] = sorted(
        {(p.path, p.reason): p for p in found.problems}.values(), key=lambda p: p.path
    )
    return found


def _changed_files(
    articles_dir: Path,
    trusted: dict[str, ArticleState],
    report: SyncReport,
    found: Discovery | None = None,
) -> tuple[list[_Todo], list[tuple[str, int, int]]]:
    """Files to embed, and unchanged files whose size/mtime moved (to record). A file whose
    size and mtime match what was indexed is not read at all; otherwise its hash decides.
    `found`: the files to look at (default: all of `articles_dir`)."""
    todo, touched = [], []
    recent = time.time_ns() - RACY_MTIME_NS
    found = scan(articles_dir) if found is None else found
    report.skipped.extend(found.problems)  # links that lead nowhere
    for path in found.files:
        name = relative_name(articles_dir, path)
        report.seen.add(name)
        state = trusted.get(name)
        try:
            stat = path.stat()  # before reading: a later write moves the mtime past it
        except OSError:
            stat = None
        if stat and state and (stat.st_size, stat.st_mtime_ns) == (state.size, state.mtime_ns):
            report.unchanged += 1
            continue
        result = read_article(articles_dir, path)
        size = stat.st_size if stat else -1
        mtime_ns = stat.st_mtime_ns if stat and stat.st_mtime_ns < recent else -1
        if isinstance(result, SkippedFile):
            report.skipped.append(result)
            log.info("skipped %s: %s", result.path, result.reason)  # callers show it
        elif state and state.content_hash == result.content_hash:
            report.unchanged += 1
            if mtime_ns != -1:
                touched.append((name, size, mtime_ns))
        else:
            todo.append(_Todo(result, size, mtime_ns))
    return todo, touched


def _read_base(
    index_dir: Location, embedder: Embedder, names: list[str] | None = None
) -> tuple[Manifest | None, dict[str, ArticleState]]:
    """The live generation to build on, with the states of all articles or of those at
    `names` (files or folders); a mismatch or damage propagates (`--rebuild` fixes)."""
    try:
        if names is None:
            return read_live(index_dir, embedder.model_id)
        return read_live(index_dir, embedder.model_id, paths=names, folders=names)
    except IndexMissingError:
        return None, {}


@dataclass(frozen=True, slots=True)
class _Parsed:
    todo: _Todo
    title: str | None
    date: str | None
    chunks: list
    chunk_texts: list[str]
    sentence_texts: list[str]


def _prepare_batch(
    batch: list[_Todo],
    embedder: Embedder,
    report: SyncReport,
    with_sentences: bool = True,
    stored: StoredVectors | None = None,
    with_latent_terms: bool = False,  # the caller has checked that the embedder has them
) -> list[_Prepared]:
    """Parse and chunk each article, then embed all their passages in one model call (the
    model's batching works across articles: less CPU per passage than one call per article).
    One bad article must not stop the others: it is reported and left out. `stored(path)`:
    the vectors the index holds for an article's current version; its paragraphs that did not
    change keep them (a changed date alone re-embeds nothing)."""
    parsed = []
    for item in batch:
        try:
            parsed.append(_parse(item, embedder, with_sentences))
        except Exception as exc:
            _failed(report, item.file.path, exc)
    terms = _LatentTermsOf(embedder) if with_latent_terms else None
    if stored is not None:
        known: dict[str, np.ndarray] = {}
        for p in parsed:
            old = stored(p.todo.file.path)
            known.update(_unchanged(p, old))
            if terms is not None:
                terms.reuse(p.chunks, old)
        if known:
            embedder = _Reusing(embedder, known)
    texts = [t for p in parsed for t in (*p.chunk_texts, *p.sentence_texts)]
    try:
        vectors = embed_distinct(embedder, texts)
        if terms is not None:
            terms.compute([c.text for p in parsed for c in p.chunks])
    except Exception:  # find the article the model fails on; embed the others alone
        log.exception("embedding a batch failed; embedding its articles one by one")
        return [ready for p in parsed if (ready := _embed_alone(p, embedder, report, terms))]
    prepared, offset = [], 0
    for p in parsed:
        count = len(p.chunk_texts) + len(p.sentence_texts)
        prepared.append(_split(p, vectors[offset : offset + count], terms))
        offset += count
    return prepared


StoredVectors = Callable[[str], dict[int, StoredChunk]]


def _unchanged(parsed: _Parsed, stored: dict[int, StoredChunk]) -> dict[str, np.ndarray]:
    """Texts of `parsed` whose vectors the index already holds -> those vectors: a chunk of
    the same id (article, paragraph, piece and text) under the same section heading, and its
    sentences when their vectors were stored."""
    known: dict[str, np.ndarray] = {}
    offset = 0
    for chunk, text in zip(parsed.chunks, parsed.chunk_texts, strict=True):
        count = len(chunk.sentences)
        old = stored.get(chunk.id)
        if old is not None and old.section == chunk.section:
            known[text] = old.vector
            sentences = parsed.sentence_texts[offset : offset + count]
            stored_sentences = old.sentence_vectors
            if sentences and stored_sentences is not None and len(stored_sentences) == count:
                for sentence, vector in zip(sentences, stored_sentences, strict=True):
                    known.setdefault(sentence, vector)  # a chunk's own vector is exact
        offset += count
    return known


class _LatentTermsOf:
    """The latent terms of a batch's paragraphs by text: each distinct text computed once,
    those of unchanged paragraphs taken from the index."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._known: dict[str, LatentTerms] = {}

    def reuse(self, chunks: Sequence, stored: dict[int, StoredChunk]) -> None:
        for chunk in chunks:
            old = stored.get(chunk.id)  # same id: same text
            if old is not None and old.latent_terms is not None:
                self._known[chunk.text] = old.latent_terms

    def compute(self, texts: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self._known]
        if missing:
            computed = self._embedder.latent_terms(missing)  # type: ignore[attr-defined]
            self._known.update(zip(missing, computed, strict=True))

    def of(self, chunks: Sequence) -> list[LatentTerms]:
        return [self._known[c.text] for c in chunks]


class _Reusing:
    """The embedder, except for texts whose vectors are known (`_unchanged`)."""

    def __init__(self, embedder: Embedder, known: dict[str, np.ndarray]) -> None:
        self._embedder = embedder
        self._known = known

    def __getattr__(self, name: str):
        return getattr(self._embedder, name)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._known]
        vectors = self._embedder.embed_passages(missing) if missing else []
        fresh = dict(zip(missing, vectors, strict=True))
        if not texts:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        rows = [fresh[t] if t in fresh else self._known[t] for t in texts]
        return np.vstack(rows).astype(np.float32)


def embed_distinct(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Passage vectors, each distinct text embedded once: a one-sentence paragraph is also its
    own sentence, and agency boilerplate repeats across articles (an article of 3,000 one-line
    paragraphs costs half)."""
    distinct = list(dict.fromkeys(texts))
    if len(distinct) == len(texts):
        return embedder.embed_passages(texts)
    vectors = embedder.embed_passages(distinct)
    row = {text: i for i, text in enumerate(distinct)}
    return vectors[[row[text] for text in texts]]


def _embed_alone(
    parsed: _Parsed, embedder: Embedder, report: SyncReport, terms: _LatentTermsOf | None
) -> _Prepared | None:
    try:
        vectors = embed_distinct(embedder, [*parsed.chunk_texts, *parsed.sentence_texts])
        if terms is not None:
            terms.compute([c.text for c in parsed.chunks])
        return _split(parsed, vectors, terms)
    except Exception as exc:
        _failed(report, parsed.todo.file.path, exc)
        return None


def _failed(report: SyncReport, path: str, exc: Exception) -> None:
    log.error("failed to index %s: %s: %s", path, type(exc).__name__, exc)
    report.failed.append(SkippedFile(path, f"{type(exc).__name__}: {exc}"))


def _parse(item: _Todo, embedder: Embedder, with_sentences: bool = True) -> _Parsed:
    article = item.file
    parsed = parse_article(article.text, article.path)
    chunks = chunk_article(parsed, embedder.count_tokens, embedder.max_tokens)
    sentence_texts = [s.text for c in chunks for s in c.sentences]
    chunk_texts, offset = [], 0
    for chunk in chunks:
        chunk_texts.append(
            embedding_text(chunk, sentence_texts[offset : offset + len(chunk.sentences)])
        )
        offset += len(chunk.sentences)
    if not with_sentences:
        sentence_texts = []
    return _Parsed(item, parsed.title, parsed.date, chunks, chunk_texts, sentence_texts)


def _split(parsed: _Parsed, vectors: np.ndarray, terms: _LatentTermsOf | None) -> _Prepared:
    """The model's output for one article -> its chunk vectors, per-chunk sentence vectors
    and latent terms."""
    chunk_vectors = vectors[: len(parsed.chunks)]
    sentence_vectors, offset = [], len(parsed.chunks)
    for chunk in parsed.chunks:
        sentence_vectors.append(vectors[offset : offset + len(chunk.sentences)])
        offset += len(chunk.sentences)
    if not parsed.sentence_texts and parsed.chunks:  # chunks only
        sentence_vectors = None
    todo = parsed.todo
    return _Prepared(
        todo.file,
        todo.size,
        todo.mtime_ns,
        parsed.title,
        parsed.date,
        parsed.chunks,
        chunk_vectors,
        sentence_vectors,
        None if terms is None or not parsed.chunks else terms.of(parsed.chunks),
    )
