"""Stage 1, retrieve: candidate paragraphs from the vector index and the full-text index.

A small embedding model blurs exactly what news questions hinge on — names, numbers, rare
words — and a full-text index keeps them. Each candidate carries both signals: its cosine to
the question and `lexical`, the share of the question's term weight (BM25 idf) that the
paragraph contains (words compared by their stems, see `retrieval.terms.stem`). Terms the
archive has never seen keep their (maximal) weight in the total,
so a question that shares little with the archive (another language, a topic it lacks) gets
low lexical scores everywhere and is ranked by meaning alone: the two signals are fused by
what the question and the archive share, not blindly.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from index.backend import StoreReader
from index.model import Chunk
from retrieval.terms import stem, stems, terms


@dataclass(frozen=True, slots=True)
class Candidate:
    chunk: Chunk
    dense: float  # cosine of question and paragraph vectors
    lexical: float  # share of the question's term weight found in the paragraph, 0..1
    score: float  # the ranking score: `dense` until a later stage fuses the two


@dataclass(frozen=True, slots=True)
class Retrieval:
    candidates: tuple[Candidate, ...]  # best `dense` first
    weights: dict[str, float]  # question term -> idf weight
    unknown: tuple[str, ...]  # question terms no paragraph of the archive contains


def idf(document_frequency: int, documents: int) -> float:
    """BM25's idf (never negative): a term in no paragraph weighs most."""
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


class HybridRetriever:
    """Candidates = the `dense_k` nearest paragraphs ∪ the `lexical_k` best BM25 matches."""

    def __init__(
        self,
        *,
        dense_k: int = 20,
        lexical_k: int = 20,
        query_terms: int = 8,
        max_term_share: float = 0.05,
        max_query_matches: int = 2_000,
    ) -> None:
        """
        dense_k, lexical_k: how many paragraphs each index proposes (0 turns one off).
        query_terms: the full-text query uses at most this many of the question's rarest terms.
        max_term_share: a term in more than this share of all paragraphs is left out of the
            full-text query (it still counts in the lexical share); its matches would make the
            query cost grow with the archive while adding little to BM25.
        max_query_matches: the full-text query's terms, rarest first, are together in at most
            this many paragraphs (none if the rarest alone is in more): BM25 scores every
            match, ~10 µs each, so this bounds its cost in a large archive. An archive of
            fewer paragraphs is never limited by it.
        """
        self.dense_k = dense_k
        self.lexical_k = lexical_k
        self.query_terms = query_terms
        self.max_term_share = max_term_share
        self.max_query_matches = max_query_matches

    def retrieve(self, store: StoreReader, vector: np.ndarray, question: str) -> Retrieval:
        question_terms = terms(question)
        frequencies = store.document_frequencies(question_terms)
        documents = max(len(store), 1)
        weights = {t: idf(frequencies[t], documents) for t in question_terms}
        unknown = tuple(t for t in question_terms if frequencies[t] == 0)
        dense = dict(store.search(vector, self.dense_k)) if self.dense_k else {}
        known = sorted((t for t in question_terms if frequencies[t]), key=frequencies.get)
        rare = [t for t in known if frequencies[t] <= self.max_term_share * documents]
        query, matches = [], 0
        for term in (rare or known[:1])[: self.query_terms]:
            matches += frequencies[term]
            if matches > self.max_query_matches:
                break
            query.append(term)
        lexical = [i for i, _ in store.lexical_search(query, self.lexical_k)] if query else []
        extra = [i for i in dict.fromkeys(lexical) if i not in dense]
        if extra:
            for i, score in zip(extra, store.chunk_vectors(extra) @ vector, strict=True):
                dense[i] = float(score)
        chunks = store.chunks(list(dense))
        candidates = []
        for chunk in chunks:
            share = coverage(chunk_stems(chunk), weights)
            candidates.append(Candidate(chunk, dense[chunk.id], share, dense[chunk.id]))
        candidates.sort(key=lambda c: -c.dense)
        return Retrieval(tuple(candidates), weights, unknown)


@functools.lru_cache(maxsize=65536)
def chunk_stems(chunk: Chunk) -> frozenset[str]:
    """The stems of a paragraph with its title and section (what the full-text index holds)."""
    return stems(" ".join(filter(None, [chunk.title, chunk.section, chunk.text])))


def coverage(text_stems: frozenset[str], weights: dict[str, float]) -> float:
    """The share of the question's term weight whose stems occur in a text's `stems`."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if stem(t) in text_stems) / total if total else 0.0
