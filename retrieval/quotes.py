"""Sentence-level quotes from candidate chunks: score, add needed context, merge, de-duplicate.

Sentences are scored with the vectors stored at index time (no embedding at query time). A
sentence that only makes sense after the one before it ("Dabei deutete er Bedingungen an …",
"Der 80-Jährige …") is quoted together with it, across a paragraph break if the paragraph
opens with it. Every quote is a raw span of the article, checked with `check_verbatim` before
it is returned: a quote that is not verbatim is a bug, never an answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from index.model import Chunk, Sentence
from index.verbatim import check_verbatim, collapse_whitespace
from retrieval.language import word_set
from retrieval.model import Quote

# Weight of the best sentence's score against its chunk's when ranking quotes (`rank_score`).
SENTENCE_WEIGHT = 0.3
# Near-duplicates (the same fact reported by two agencies): sentence cosine or word overlap.
DUPLICATE_COSINE = 0.95
DUPLICATE_OVERLAP = 0.8
# Besides a chunk's best sentence, those scoring within this much of it (cosine) are quoted too.
SELECT_SPREAD = 0.02
# A merged quote stays readable: at most this many sentences.
MAX_QUOTE_SENTENCES = 4
# Two selected passages that follow each other in the article become one quote up to this size.
MAX_MERGED_CHARS = 700
# A paragraph this short is quoted whole: its second sentence is usually the point (measured on
# the blind dev set: hit@3 .90 -> .92, MRR .827 -> .837; extra MRR .927 -> .932; flat for
# 250-450 characters and for 2-3 sentences).
SHORT_PARAGRAPH_SENTENCES = 2
SHORT_PARAGRAPH_CHARS = 350
# Quotes assembled before cutting to `top`: the first ones are the same for any top up to this.
SELECTION_SIZE = 10
# How far back a sentence that points back ("Dabei …", "Er …") may pull its predecessors.
MAX_CONTEXT_SENTENCES = 2
# Fragments like "(afp/tp)" are never quoted for their own sake.
MIN_QUOTE_WORDS = 3

_OPENING_MARKS = "„“”‚‘'\"»«(–- "
_FIRST_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Words that open a sentence which only makes sense after the one before it.
_ANAPHORIC_OPENER_WORDS = """
    Dabei Daher Darum Deshalb Deswegen Dennoch Damit Dafür Dagegen Darauf Darüber Davon Dazu
    Dadurch Dort Dorthin Danach Zuvor Anschließend Zudem Außerdem Ebenfalls Auch Trotzdem Jedoch
    Allerdings Demnach Demzufolge Beide Er Sie Ihr Ihre Ihm Ihn Ihnen Sein Seine Seinen Seiner
    Seinem Dies Diese Dieser Dieses Diesem Diesen Das Dessen Deren Solche Solch
    He She They This These That Those His Her Its Their Also However Moreover Such Both
    Furthermore
"""
_ANAPHORIC_OPENERS = word_set(_ANAPHORIC_OPENER_WORDS)
# "Der 80-Jährige", "Die 45-jährige …": a person named in an earlier sentence.
_AGE_REFERENCE = re.compile(r"^(?:Der|Die)\s+\d+-[Jj]ährige")
# "„…“, fügte er hinzu." / "…, so sie.": the speaker is only named before.
_PRONOUN_SPEAKER = re.compile(
    r"\b(?:sagte|sagt|erklärte|fügte|betonte|warnte|schrieb|meinte|so)\s+(?:er|sie)\b"
    r"|\b(?:he|she|they)\s+(?:said|added|wrote|warned|stressed)\b"
)
# Pronominal adverbs early in a sentence ("Putin sagte dabei …") refer to the sentence before.
_EARLY_BACK_REFERENCE = word_set(
    "dabei dadurch dafür dagegen daher damit danach darauf daraus darin darüber darum davon "
    "dazu hierbei hierüber hierzu zudem außerdem ebenfalls"
)
EARLY_WORDS = 4
# "Der ukrainische Staatschef erklärte …": a role standing for someone named before (but not
# "Der ukrainische Präsident Wolodymyr Selenskyj …", where the name follows).
_ROLE_REFERENCE = re.compile(
    r"^(?:Der|Die|The)\s+(?:[\w-]+\s+)?[\w-]*(?i:präsident|präsidentin|staatschef|staatschefin|"
    r"kanzler|kanzlerin|minister|ministerin|sprecher|sprecherin|gesandte|regierungschef|"
    r"regierungschefin|kremlchef|politiker|politikerin|senator|senatorin|kommandeur|president|"
    r"spokesman|spokeswoman|envoy|leader|chancellor)\b(?!\s+[A-ZÄÖÜ])"
)
# A bare direct quote („…“ with no speaker) gets its speaker from the sentence before.
_BARE_QUOTE = re.compile(r"^\s*[„“\"»][^„“”\"»«]*[“”\"«][.!?…]?\s*$")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """A candidate chunk with its search score and its sentences' stored vectors.

    `before` is the last sentence of the previous paragraph in the same section (with its
    vector), given when the chunk's first sentence points back to it ("Der ukrainische
    Staatschef erklärte …" after a paragraph naming him).
    """

    chunk: Chunk
    score: float
    sentence_vectors: np.ndarray  # (n_sentences, dim), normalised
    before: Sentence | None = None
    before_vector: np.ndarray | None = None

    @property
    def offset(self) -> int:
        """Index of the chunk's first sentence in `window`."""
        return 0 if self.before is None else 1

    @property
    def window(self) -> tuple[Sentence, ...]:
        return self.chunk.sentences if self.before is None else (self.before, *self.chunk.sentences)

    @property
    def window_vectors(self) -> np.ndarray:
        if self.before_vector is None:
            return self.sentence_vectors
        return np.vstack([self.before_vector, self.sentence_vectors])


@dataclass(slots=True)
class _Span:
    """Sentences [first, last] of an item's window, selected for the sentence `anchor`."""

    item: ScoredChunk
    first: int
    last: int
    anchor: int
    score: float


@functools.lru_cache(maxsize=8192)
def needs_predecessor(sentence: str) -> bool:
    """Does the sentence point back to the one before it (pronoun, connective, speaker, a role
    instead of a name)?"""
    text = sentence.lstrip(_OPENING_MARKS)
    words = _FIRST_WORD.findall(text)[:EARLY_WORDS]
    if words and words[0] in _ANAPHORIC_OPENERS:
        return True
    if any(word.lower() in _EARLY_BACK_REFERENCE for word in words):
        return True
    return bool(
        _AGE_REFERENCE.match(text)
        or _ROLE_REFERENCE.match(text)
        or _PRONOUN_SPEAKER.search(sentence)
        or _BARE_QUOTE.match(sentence)
    )


def needs_successor(sentence: str) -> bool:
    """`… schrieb er:` announces what follows."""
    return sentence.rstrip().endswith(":")


def context_span(sentences: Sequence[Sentence], index: int) -> tuple[int, int]:
    """The sentence plus the neighbours it needs to make sense: the ones before it that it
    points back to, and the next one when that continues it."""
    first = index
    for _ in range(MAX_CONTEXT_SENTENCES):
        if first > 0 and needs_predecessor(sentences[first].text):
            first -= 1
        else:
            break
    last = index
    if last + 1 < len(sentences) and (
        needs_successor(sentences[last].text) or needs_predecessor(sentences[last + 1].text)
    ):
        last += 1  # "… schrieb er:" or a next sentence that continues this one
    return first, last


def rank_score(chunk_score: float, sentence_score: float, weight: float) -> float:
    """A quote's rank: its chunk's score, moved by how well its own best sentence matches.
    Mostly the chunk: one sentence alone embeds noisily, its paragraph says what it is about."""
    return weight * sentence_score + (1.0 - weight) * chunk_score


def select_quotes(
    items: Sequence[ScoredChunk],
    query: np.ndarray,
    raw_text: Callable[[str], str | None],
    *,
    top: int,
    weight: float = SENTENCE_WEIGHT,
    spread: float = SELECT_SPREAD,
) -> list[Quote]:
    """Up to `top` verbatim quotes, best first.

    Per chunk, the best sentence and any sentence scoring within `spread` of it are selected,
    each with the context it needs. Selections that overlap or follow each other in the article
    (a paragraph break between them) merge into one quote, ranked by `rank_score`. At least
    `SELECTION_SIZE` quotes are always assembled, so asking for up to that many never changes
    the first ones (a later span may merge into an earlier quote). Near-duplicates of a better
    quote are left out.
    """
    spans = [span for item in items for span in _chunk_spans(item, query, weight, spread)]
    spans.sort(key=lambda span: -span.score)
    raw_text = functools.cache(raw_text)  # several quotes from one article: one read
    kept: list[_Span] = []
    quotes: list[Quote] = []
    for span in spans:
        if len(quotes) >= max(top, SELECTION_SIZE):
            break
        if _is_duplicate(kept, span) or (quote := _to_quote(span, raw_text)) is None:
            continue
        kept.append(span)
        _add_or_merge(quotes, quote, raw_text)
    return quotes[:top]


def _add_or_merge(quotes: list[Quote], quote: Quote, raw_text: Callable[[str], str | None]) -> None:
    """Append `quote`, then merge any two quotes that overlap or follow each other (the text
    is shown once), until none do. Quotes are in rank order: of two merged quotes the earlier
    one keeps its citation and score. At most `SELECTION_SIZE` quotes: cheap to rescan."""
    quotes.append(quote)
    while pair := next(
        (
            (i, j)
            for i in range(len(quotes))
            for j in range(i + 1, len(quotes))
            if _overlaps(quotes[i], quotes[j]) or _adjacent(quotes[i], quotes[j], raw_text)
        ),
        None,
    ):
        i, j = pair
        quotes[i] = merge_quotes(quotes[i], quotes.pop(j), raw_text(quotes[i].article) or "")


def _overlaps(a: Quote, b: Quote) -> bool:
    return a.article == b.article and a.start < b.end and b.start < a.end


def _adjacent(a: Quote, b: Quote, raw_text: Callable[[str], str | None]) -> bool:
    """Consecutive in the article (only whitespace, e.g. a paragraph break, between them) and
    still readable as one quote."""
    if a.article != b.article:
        return False
    first, second = (a, b) if a.start < b.start else (b, a)
    raw = raw_text(a.article)
    return (
        raw is not None
        and not raw[first.end : second.start].strip()
        and second.end - first.start <= MAX_MERGED_CHARS
    )


def merge_quotes(better: Quote, other: Quote, raw: str) -> Quote:
    """One quote covering both overlapping spans, cited where the better one's statement is."""
    start, end = min(better.start, other.start), max(better.end, other.end)
    text = collapse_whitespace(raw[start:end])
    check_verbatim(raw, start, end, text)
    return replace(better, text=text, start=start, end=end)


def _chunk_spans(item: ScoredChunk, query: np.ndarray, weight: float, spread: float) -> list[_Span]:
    window = item.window
    scores = item.window_vectors @ query
    eligible = [
        i
        for i in range(item.offset, len(window))
        if len(_WORD.findall(window[i].text)) >= MIN_QUOTE_WORDS
    ]
    if not eligible:
        return []
    best = max(float(scores[i]) for i in eligible)
    spans: list[_Span] = []
    for index in sorted(eligible, key=lambda i: -scores[i]):
        if scores[index] < best - spread:
            break
        if any(s.first <= index <= s.last for s in spans):
            continue
        first, last = context_span(window, index)
        if not _merge(spans, first, last):
            score = rank_score(item.score, float(scores[index]), weight)
            spans.append(_Span(item, first, last, index, score))
    chunk = item.chunk
    if len(chunk.sentences) <= SHORT_PARAGRAPH_SENTENCES and len(chunk.text) <= (
        SHORT_PARAGRAPH_CHARS
    ):
        best = spans[0]  # the best-scoring sentence's span
        best.first, best.last = min(best.first, item.offset), len(window) - 1
        return [best]
    return spans


def _merge(spans: list[_Span], first: int, last: int) -> bool:
    """Extend a span that overlaps or touches [first, last], if it stays short enough."""
    for span in spans:
        if first > span.last + 1 or last < span.first - 1:
            continue
        lo, hi = min(first, span.first), max(last, span.last)
        if hi - lo + 1 > MAX_QUOTE_SENTENCES:
            return False
        span.first, span.last = lo, hi
        return True
    return False


def _is_duplicate(kept: list[_Span], span: _Span) -> bool:
    """The same statement already quoted from elsewhere (agency copy, repeated lede)."""
    vector = span.item.window_vectors[span.anchor]
    words = _words(span.item.window[span.anchor].text)
    for other in kept:
        vectors, window = other.item.window_vectors, other.item.window
        for index in range(other.first, other.last + 1):
            if float(vectors[index] @ vector) > DUPLICATE_COSINE:
                return True
            if _overlap(words, _words(window[index].text)) >= DUPLICATE_OVERLAP:
                return True
    return False


@functools.lru_cache(maxsize=8192)
def _words(text: str) -> frozenset[str]:
    return frozenset(word.lower() for word in _WORD.findall(text))


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _to_quote(span: _Span, raw_text: Callable[[str], str | None]) -> Quote | None:
    raw = raw_text(span.item.chunk.article)
    if raw is None:  # the article left the index between search and quoting
        return None
    return make_quote(span.item, span.first, span.last, raw, span.score)


def make_quote(item: ScoredChunk, first: int, last: int, raw: str, score: float) -> Quote:
    """The quote of `item.window[first:last + 1]` as the raw text of the article.

    Verified, raising `NotVerbatimError`: each sentence the index scored must be what the raw
    text holds at its offsets (so the words shown are the words that were matched), and the
    quote must be `raw[start:end]` up to whitespace and hyphenation repair.
    """
    chunk, window = item.chunk, item.window
    if first < item.offset and raw[window[first].end : chunk.start].strip():
        first = item.offset  # something (a dropped artifact line) separates the paragraphs
    for sentence in window[first : last + 1]:
        check_verbatim(raw, sentence.start, sentence.end, sentence.text)
    start, end = window[first].start, window[last].end
    text = collapse_whitespace(raw[start:end])
    check_verbatim(raw, start, end, text)
    return Quote(
        text=text,
        article=chunk.article,
        title=chunk.title,
        date=chunk.date,
        section=chunk.section,
        paragraph=chunk.paragraph,  # where the quoted statement is, even with context before
        start=start,
        end=end,
        score=score,
    )
