"""Stage 1, retrieve: candidate paragraphs from the vector index and the full-text index.

A small embedding model blurs exactly what news questions hinge on — names, numbers, rare
words — and a full-text index keeps them. Each candidate carries both signals: its cosine to
the question and `lexical`, the share of the question's term weight (BM25 idf) that the
paragraph contains (words compared by their stems, see `retrieval.terms.stem`). Terms the
archive has never seen keep their (maximal) weight in the total,
so a question that shares little with the archive (another language, a topic it lacks) gets
low lexical scores everywhere and is ranked by meaning alone: the two signals are fused by
what the question and the archive share, not blindly.

In a paragraph of another language than the question a term also counts as present when one of
its dictionary translations is (`retrieval.translations`): English questions on German articles
then share their everyday words too, not only names and numbers; and a word the archive lacks is
searched in the full-text index as its most common translation.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from index.dates import DateRange
from index.documents import Chunk
from index.stores.base import StoreReader
from retrieval.reply_language import ENGLISH, language_of
from retrieval.terms import stem, stems, terms
from retrieval.translations import WordTranslations


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
    language: str = ENGLISH  # the question's
    # question term -> stems of its translations, which count in the other language's paragraphs
    translations: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def keys(self, text: str) -> dict[str, frozenset[str]]:
        """Each question term -> the stems that count as it in `text` (a paragraph or quote)."""
        across = bool(self.translations) and language_of(text, self.language) != self.language
        return term_keys(self.weights, self.translations if across else {})


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
        translations: WordTranslations | None = None,
        expand_query: bool = True,
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
        translations: the dictionary that lets a term count in the other language (None: the
            default `WordTranslations()`).
        expand_query: a term the archive lacks is searched as its most common translation in
            the full-text index too, so an English question on German articles gets candidates
            from both indexes, not only the vector one (which covers less of a larger archive).
        """
        self.dense_k = dense_k
        self.lexical_k = lexical_k
        self.query_terms = query_terms
        self.max_term_share = max_term_share
        self.max_query_matches = max_query_matches
        self.translations = translations if translations is not None else WordTranslations()
        self.expand_query = expand_query

    def retrieve(
        self,
        store: StoreReader,
        vector: np.ndarray,
        question: str,
        language: str = ENGLISH,
        window: DateRange | None = None,
    ) -> Retrieval:
        """`language`: the question's (its terms are translated into the other one);
        `window`: only paragraphs of articles dated inside it (filtered in the store)."""
        question_terms = terms(question)
        frequencies = store.document_frequencies(question_terms)
        documents = max(len(store), 1)
        weights = {t: idf(frequencies[t], documents) for t in question_terms}
        unknown = tuple(t for t in question_terms if frequencies[t] == 0)
        searched = {} if window is None else {"window": window}
        dense = dict(store.search(vector, self.dense_k, **searched)) if self.dense_k else {}
        translated = self.translations.translate(question_terms, language)
        # the translations of the terms the archive lacks: searched (`expand_query`), and weighed
        missing = {t: ws for t, ws in translated.items() if not frequencies[t]}
        found = store.document_frequencies([w for ws in missing.values() for w in ws])
        searchable = {t: frequencies[t] for t in question_terms if frequencies[t]}
        if self.expand_query:
            for words in missing.values():
                common = max(words, key=lambda w: found[w])
                if found[common]:
                    searchable.setdefault(common, found[common])
        known = sorted(searchable, key=searchable.get)
        rare = [t for t in known if searchable[t] <= self.max_term_share * documents]
        query, matches = [], 0
        for term in (rare or known[:1])[: self.query_terms]:
            matches += searchable[term]
            if matches > self.max_query_matches:
                break
            query.append(term)
        lexical = (
            [i for i, _ in store.lexical_search(query, self.lexical_k, **searched)] if query else []
        )
        extra = [i for i in dict.fromkeys(lexical) if i not in dense]
        if extra:
            for i, score in zip(extra, store.chunk_vectors(extra) @ vector, strict=True):
                dense[i] = float(score)
        chunks = store.chunks(list(dense))
        across = [language_of(chunk.text, language) != language for chunk in chunks]
        translations: dict[str, frozenset[str]] = {}
        if any(across):
            # a term the archive lacks weighs as much as its most common translation: "set" ->
            # "machen", "stellen" matches many paragraphs and should not weigh like a rare name
            for term, words in missing.items():
                weights[term] = idf(max(found[w] for w in words), documents)
            translations = {t: frozenset(stem(w) for w in ws) for t, ws in translated.items()}
        same, other = term_keys(weights, {}), term_keys(weights, translations)
        candidates = []
        for chunk, is_across in zip(chunks, across, strict=True):
            share = coverage(chunk_stems(chunk), weights, other if is_across else same)
            candidates.append(Candidate(chunk, dense[chunk.id], share, dense[chunk.id]))
        candidates.sort(key=lambda c: -c.dense)
        return Retrieval(tuple(candidates), weights, unknown, language, translations)


@functools.lru_cache(maxsize=65536)
def chunk_stems(chunk: Chunk) -> frozenset[str]:
    """The stems of a paragraph with its title and section (what the full-text index holds)."""
    return stems(" ".join(filter(None, [chunk.title, chunk.section, chunk.text])))


def term_keys(
    weights: Mapping[str, float], translations: Mapping[str, frozenset[str]]
) -> dict[str, frozenset[str]]:
    """Each term -> its own stem and its translations' stems."""
    return {t: translations.get(t, frozenset()) | {stem(t)} for t in weights}


def coverage(
    text_stems: frozenset[str],
    weights: Mapping[str, float],
    keys: Mapping[str, frozenset[str]] | None = None,
) -> float:
    """The share of the question's term weight found in a text's `stems`; `keys[term]`: the
    stems that count as the term (default: its own)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    keys = keys or term_keys(weights, {})
    return sum(w for t, w in weights.items() if not keys[t].isdisjoint(text_stems)) / total
