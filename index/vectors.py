"""Chunk vectors in memory, as immutable blocks shared between snapshots.

A snapshot's vectors are a few FAISS blocks plus the row keys it no longer sees. The next
snapshot reuses the blocks, adds one block for the rows published since and extends the
removed set, so a swap costs what changed, not the archive. Blocks are never modified (a
reader of the old snapshot may be searching them); many small ones are merged into a new
block for the new snapshot only.

Rows are keyed by the database's row key (`chunks.key`), not the chunk id: an updated article
may remove and re-add a chunk with the same id in one generation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import faiss
import numpy as np

# One question, one FAISS thread (see index.threads).
SEARCH_THREADS = 1
# More blocks than this and the smaller ones are merged when the next snapshot is made.
MAX_BLOCKS = 8
# A block of more rows than this is searched approximately: an exact scan of a million
# 384-d vectors is >= 140 ms on a free core.
APPROXIMATE_ABOVE = 250_000
# Approximate search: IVF lists of 4-bit product-quantised codes scanned with SIMD ("fast
# scan", 4 dimensions per code, 48 bytes a 384-d row), a question probes 1/PROBE_FRACTION of
# the ~sqrt(n) lists for RERANK x k rows, which are then scored exactly on the float vectors.
# Codes are cheap enough to scan them all: at a million synthetic rows (200 question-like
# queries) every list found 0.995 of the exact top 20 in ~10 ms, half of them 0.98 in ~5 ms
# and at 250,000 rows only 0.958; IVF over the float vectors needed a quarter of the lists
# and ~65 ms for 0.95. The lists let a larger archive probe a fraction. The test keeps
# recall@20 >= 0.97 on clustered vectors.
PROBE_FRACTION = 1
RERANK = 50
TRAIN_PER_LIST = 64  # k-means training rows per list (FAISS warns below 39)
RECALL_TARGET = 0.98  # IVF over float vectors (dimensions not a multiple of 8): `calibrate`


def ivf_lists(rows: int) -> int:
    return max(16, int(rows**0.5))


def new_index(dimension: int, rows: int, approximate_above: int | None = None) -> faiss.Index:
    """Exact (flat) for up to `approximate_above` rows, else an untrained IVF of fast-scan
    codes (IVF-Flat if the dimension is not a multiple of 8)."""
    limit = APPROXIMATE_ABOVE if approximate_above is None else approximate_above
    if rows <= limit:
        return faiss.IndexFlatIP(dimension)
    lists = ivf_lists(rows)
    quantizer = faiss.IndexFlatIP(dimension)
    if dimension % 8 == 0:
        index = faiss.IndexIVFPQFastScan(
            quantizer, dimension, lists, dimension // 4, 4, faiss.METRIC_INNER_PRODUCT
        )
        index.nprobe = probes(lists)
    else:
        index = faiss.IndexIVFFlat(quantizer, dimension, lists, faiss.METRIC_INNER_PRODUCT)
        index.nprobe = max(1, lists // 16)
    return index


def probes(lists: int) -> int:
    """Lists a question probes in a coded block."""
    return max(1, lists // PROBE_FRACTION)


def is_coded(index: faiss.Index) -> bool:
    """Scores from codes, not the vectors: results are reranked on the float vectors."""
    return isinstance(index, faiss.IndexIVFPQFastScan)


@dataclass(frozen=True, slots=True)
class Block:
    """Vectors of a run of rows; `keys` ascending, `chunk_ids` aligned with them."""

    keys: np.ndarray  # int64
    chunk_ids: np.ndarray  # int64
    index: faiss.Index  # over the rows, in `keys` order: flat, or IVF (see `new_index`)
    exact: np.ndarray | None = None  # float32 rows of a coded index (memory-mapped if saved)

    @classmethod
    def build(
        cls,
        keys: np.ndarray,
        chunk_ids: np.ndarray,
        vectors: np.ndarray,
        approximate_above: int | None = None,
    ) -> Block:
        order = np.argsort(keys, kind="stable")
        page = (keys[order], chunk_ids[order], vectors[order])
        return cls.from_pages([page], vectors.shape[1], len(keys), approximate_above)

    @classmethod
    def from_pages(
        cls,
        pages: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
        dimension: int,
        rows: int = 0,
        approximate_above: int | None = None,
    ) -> Block:
        """A block from pages of (keys, chunk ids, vectors) in ascending key order, added to
        FAISS page by page so a start-up never holds the archive's vectors twice. `rows`, the
        expected number of rows, chooses exact or approximate search (see `new_index`); an
        approximate index is trained on its first rows (in key order: the oldest articles)."""
        index = new_index(dimension, rows, approximate_above)
        keys, chunk_ids = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        waiting: list[np.ndarray] = []  # rows held back until there are enough to train
        exact = _Rows(dimension, rows) if is_coded(index) else None  # a coded index's floats
        train_rows = TRAIN_PER_LIST * getattr(index, "nlist", 0)
        for page_keys, page_ids, vectors in pages:
            keys.append(np.asarray(page_keys, np.int64))
            chunk_ids.append(np.asarray(page_ids, np.int64))
            vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)
            if exact is not None:
                exact.append(vectors)  # held once: FAISS keeps only codes of them
            if index.is_trained:
                index.add(vectors)
                continue
            waiting.append(vectors)
            if sum(len(v) for v in waiting) >= train_rows:
                _train_and_add(index, waiting)
                waiting = []
        if waiting or not index.is_trained:
            _train_and_add(index, waiting)
        if exact is not None:
            return cls(np.concatenate(keys), np.concatenate(chunk_ids), index, exact.array())
        if isinstance(index, faiss.IndexIVF):
            index.make_direct_map()  # for `vectors()`
            calibrate(index)
        return cls(np.concatenate(keys), np.concatenate(chunk_ids), index)

    def __len__(self) -> int:
        return len(self.keys)

    def vectors(self) -> np.ndarray:
        if self.exact is not None:
            return np.asarray(self.exact)
        if not len(self):
            return np.zeros((0, self.index.d), dtype=np.float32)
        return self.index.reconstruct_n(0, len(self))

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """The float vectors at these positions."""
        if self.exact is not None:
            return np.asarray(self.exact[positions])
        return np.vstack([self.index.reconstruct(int(p)) for p in positions])


class _Rows:
    """Float rows appended page by page into one array sized for the expected rows, so a
    start-up never holds them twice."""

    def __init__(self, dimension: int, expected: int) -> None:
        self._array = np.empty((expected, dimension), np.float32)
        self._filled = 0
        self._extra: list[np.ndarray] = []

    def append(self, vectors: np.ndarray) -> None:
        fit = min(len(vectors), len(self._array) - self._filled)
        self._array[self._filled : self._filled + fit] = vectors[:fit]
        self._filled += fit
        if fit < len(vectors):
            self._extra.append(vectors[fit:])

    def array(self) -> np.ndarray:
        if self._extra:
            return np.vstack([self._array[: self._filled], *self._extra])
        return self._array[: self._filled]


def calibrate(index: faiss.IndexIVF, target: float = RECALL_TARGET, samples: int = 64) -> float:
    """Set `nprobe` to the fewest lists that find `target` of the exact top 20 for rows of
    the index used as questions; how well IVF does depends on how clustered the vectors are,
    so it is measured on them. Returns the recall reached."""
    from index.threads import all_cores

    rng = np.random.default_rng(0)
    queries = index.reconstruct_batch(rng.choice(index.ntotal, min(samples, index.ntotal)))
    k = min(20, index.ntotal)
    faiss.omp_set_num_threads(all_cores())  # loading, not a question
    try:
        index.nprobe = index.nlist  # every list: exact
        _, truth = index.search(queries, k)
        probes = max(1, index.nlist // PROBE_FRACTION)
        while True:
            index.nprobe = probes
            _, found = index.search(queries, k)
            recall = np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found, strict=True)])
            if recall >= target or probes >= index.nlist:
                return float(recall)
            probes = min(index.nlist, probes * 2)
    finally:
        faiss.omp_set_num_threads(SEARCH_THREADS)


def _train_and_add(index: faiss.Index, waiting: list[np.ndarray]) -> None:
    """Train (all cores: this is loading, not a question) and add the rows held back."""
    from index.threads import all_cores

    vectors = np.vstack(waiting) if waiting else np.zeros((0, index.d), np.float32)
    if not index.is_trained:
        if len(vectors) < getattr(index, "nlist", 1):
            raise ValueError(f"{len(vectors)} rows cannot train {index.nlist} IVF lists")
        faiss.omp_set_num_threads(all_cores())
        try:
            index.train(vectors)
        finally:
            faiss.omp_set_num_threads(SEARCH_THREADS)
    if len(vectors):
        index.add(vectors)


@dataclass(frozen=True, slots=True)
class VectorSet:
    """The chunk vectors one snapshot sees. Safe to share between threads (read-only)."""

    dimension: int
    blocks: tuple[Block, ...] = ()
    removed: frozenset[int] = field(default_factory=frozenset)  # keys in blocks no longer seen
    selectors: tuple[object | None, ...] = ()  # per block: FAISS selector of the rows seen
    hidden: tuple[np.ndarray, ...] = ()  # per block: sorted positions not seen (coded blocks)

    @property
    def ntotal(self) -> int:
        return sum(len(b) for b in self.blocks) - len(self.removed)

    @classmethod
    def of(cls, dimension: int, blocks: Sequence[Block], removed: set[int]) -> VectorSet:
        hidden = np.fromiter(removed, np.int64, len(removed))
        kept, selectors, hidden_positions = [], [], []
        for block in blocks:
            if not len(block):
                continue
            positions = _positions(block, hidden)
            if len(positions) * 4 > len(block):  # mostly dead rows: copy the live ones
                alive = np.ones(len(block), bool)
                alive[positions] = False
                removed -= {int(k) for k in block.keys[positions]}
                vectors = block.vectors()[alive]
                block = Block.build(block.keys[alive], block.chunk_ids[alive], vectors)
                positions = positions[:0]
                if not len(block):
                    continue
            kept.append(block)
            selectors.append(_excluding(positions))
            hidden_positions.append(np.sort(positions))
        return cls(
            dimension, tuple(kept), frozenset(removed), tuple(selectors), tuple(hidden_positions)
        )

    def extended(self, added: Block, removed_keys: Sequence[int]) -> VectorSet:
        """The next snapshot: a block of rows added and the keys of rows removed since."""
        blocks = list(self.blocks)
        if len(added):
            blocks.append(added)
        removed = set(self.removed)
        removed.update(int(k) for k in removed_keys)
        if len(blocks) > MAX_BLOCKS:
            blocks, removed = _merge_small(blocks, removed)
        return VectorSet.of(self.dimension, blocks, removed)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, score) of the best `k` rows, best first."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        faiss.omp_set_num_threads(SEARCH_THREADS)  # per calling thread, see index.threads
        found: list[tuple[float, int]] = []
        for block, selector, hidden in zip(self.blocks, self.selectors, self.hidden, strict=True):
            kk = min(k, len(block))
            if is_coded(block.index):
                found.extend(_search_coded(block, hidden, query, kk))
                continue
            if isinstance(block.index, faiss.IndexIVF):
                params = faiss.SearchParametersIVF(nprobe=block.index.nprobe)
                if selector is not None:
                    params.sel = selector
                scores, rows = block.index.search(query, kk, params=params)
            elif selector is None:
                scores, rows = block.index.search(query, kk)
            else:
                params = faiss.SearchParameters(sel=selector)
                scores, rows = block.index.search(query, kk, params=params)
            found.extend(
                (float(s), int(block.chunk_ids[r]))
                for s, r in zip(scores[0], rows[0], strict=True)
                if r >= 0
            )
        found.sort(key=lambda item: -item[0])
        return [(chunk_id, score) for score, chunk_id in found[:k]]

    def search_keys(self, query: np.ndarray, k: int, keys: np.ndarray) -> list[tuple[int, float]]:
        """(chunk id, score) of the best `k` rows among the rows keyed `keys` (rows this
        snapshot sees, e.g. those in a date window), best first. Only those rows are scored:
        a flat block is searched through a FAISS selector of their positions, an approximate
        one exactly on their float vectors, so a small window is cheap in any archive."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        keys = np.unique(np.asarray(keys, np.int64))
        faiss.omp_set_num_threads(SEARCH_THREADS)
        found: list[tuple[float, int]] = []
        for block in self.blocks:
            positions = _positions(block, keys)
            if not len(positions):
                continue
            kk = min(k, len(positions))
            if isinstance(block.index, faiss.IndexFlat):
                selector = faiss.IDSelectorBatch(positions)
                scores, rows = block.index.search(
                    query, kk, params=faiss.SearchParameters(sel=selector)
                )
                found.extend(
                    (float(s), int(block.chunk_ids[r]))
                    for s, r in zip(scores[0], rows[0], strict=True)
                    if r >= 0
                )
                continue
            scores = block.rows(positions) @ query[0]
            best = np.argsort(-scores)[:kk]
            found.extend((float(scores[i]), int(block.chunk_ids[positions[i]])) for i in best)
        found.sort(key=lambda item: -item[0])
        return [(chunk_id, score) for score, chunk_id in found[:k]]


def _search_coded(
    block: Block, hidden: np.ndarray, query: np.ndarray, k: int
) -> list[tuple[float, int]]:
    """The best `k` seen rows of a coded block: RERANK x k candidates by their codes (plus as
    many as the block hides, which are dropped), scored again on their float vectors."""
    want = min(len(block), RERANK * k + len(hidden))
    _, rows = block.index.search(query, want)
    rows = rows[0][rows[0] >= 0]
    if len(hidden):
        rows = rows[~np.isin(rows, hidden)]
    if not len(rows):
        return []
    scores = block.rows(rows) @ query[0]
    best = np.argsort(-scores)[:k]
    return [(float(scores[i]), int(block.chunk_ids[rows[i]])) for i in best]


def _positions(block: Block, hidden: np.ndarray) -> np.ndarray:
    """Positions in `block` of the keys in `hidden`."""
    if not len(hidden) or not len(block):
        return np.zeros(0, np.int64)
    hidden = hidden[(hidden >= block.keys[0]) & (hidden <= block.keys[-1])]
    positions = np.searchsorted(block.keys, hidden)
    return positions[block.keys[positions] == hidden].astype(np.int64)


def _excluding(positions: np.ndarray) -> object | None:
    if not len(positions):
        return None
    batch = faiss.IDSelectorBatch(positions)
    selector = faiss.IDSelectorNot(batch)
    selector.referenced = batch  # the SWIG wrapper does not keep the wrapped selector alive
    return selector


def _merge_small(blocks: list[Block], removed: set[int]) -> tuple[list[Block], set[int]]:
    """Merge all blocks but the largest into one, dropping removed rows (log-structured)."""
    largest = max(range(len(blocks)), key=lambda i: len(blocks[i]))
    keep, merge = blocks[largest], [b for i, b in enumerate(blocks) if i != largest]
    keys = np.concatenate([b.keys for b in merge])
    chunk_ids = np.concatenate([b.chunk_ids for b in merge])
    vectors = np.vstack([b.vectors() for b in merge])
    hidden = np.isin(keys, np.fromiter(removed, np.int64, len(removed)))
    removed = removed - {int(k) for k in keys[hidden]}
    merged = Block.build(keys[~hidden], chunk_ids[~hidden], vectors[~hidden])
    return [keep, merged], removed
