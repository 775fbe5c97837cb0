"""Stage 3, select quotes: the sentences of the best paragraphs that answer, verbatim.

Inside each of the best few paragraphs every sentence is scored by meaning (its vector, stored
at index time) and by the question's words it contains (the same idf weights as retrieval).
The best sentence is the quote's anchor. Scores become each sentence's chance of holding the
answer (a softmax within the paragraph); the quote is the shortest run of sentences around the
anchor that holds `coverage` of that chance, within `max_chars`: short where one sentence clearly
answers, longer where the scores cannot tell neighbours apart. A
quote ranks by its paragraph's score plus its anchor's, and a further quote is shown only while
it scores close to the first — evidence, not filler. The lead quote (the best-ranked) is the
answer people read first, so it may grow further than the supporting quotes, which are held to
a tighter `support_coverage` and `support_max_chars`: on xquad that put the answer in the lead
quote 2-3 points more often at a shorter mean quote (README, "select quotes"). Every quote is
a raw span of the article, checked with `check_verbatim` before it is returned: a quote that is
not verbatim is a bug.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from index.documents import Chunk, Sentence
from index.front_matter import article_url
from index.verbatim import check_verbatim, collapse_whitespace
from index.words import raw_tokens
from retrieval.answer import Quote, Source
from retrieval.candidates import Candidate, term_keys
from retrieval.duplicates import repeats
from retrieval.terms import stems, word_set


@dataclass(frozen=True, slots=True)
class Window:
    """Sentences [first, last] of a candidate paragraph, chosen for sentence `anchor`."""

    candidate: Candidate
    first: int
    last: int
    anchor: int
    score: float


class QuoteSelector:
    def __init__(
        self,
        *,
        paragraphs: int = 4,
        per_paragraph: int = 3,
        sentence_weight: float = 0.5,
        lexical_weight: float = 0.05,
        max_chars: int = 750,
        sharpness: float = 25.0,
        coverage: float = 0.95,
        support_max_chars: int = 450,
        support_coverage: float = 0.85,
        spread: float = 0.1,
        max_quotes: int = 3,
        sentence_vectors: bool = True,
        referents: bool = True,
        read_windows: int = 3,
    ) -> None:
        """
        paragraphs: how many of the best-ranked paragraphs quotes are taken from.
        per_paragraph: at most this many separate quotes from one paragraph.
        sentence_weight: weight of the anchor sentence's score against its paragraph's score.
        lexical_weight: cosine points a sentence containing all question words gains.
        max_chars: the lead quote grows around its anchor up to this many characters (and no
            quote beyond it).
        sharpness: sentence scores are multiplied by this before the softmax that turns them
            into chances of holding the answer (higher: more confident, shorter quotes).
        coverage: the lead quote grows until its sentences hold this share of the paragraph's
            chance.
        support_max_chars, support_coverage: the same for every further quote.
        spread: a further quote is shown only if it scores within this of the first one.
        max_quotes: never more quotes than this (callers may ask for fewer).
        sentence_vectors: score sentences by their own vectors too, not by words alone.
        referents: a quote whose first sentence opens with a reference back ("Sie", "Dennoch",
            "However") starts a sentence earlier, where what it refers to is said.
        read_windows: with a reader (`select(read=…)`), the anchors of this many of the best
            windows are read, and the one read as most likely to answer leads.
        """
        self.paragraphs = paragraphs
        self.per_paragraph = per_paragraph
        self.sentence_weight = sentence_weight
        self.lexical_weight = lexical_weight
        self.max_chars = max_chars
        self.sharpness = sharpness
        self.coverage = coverage
        self.support_max_chars = support_max_chars
        self.support_coverage = support_coverage
        self.spread = spread
        self.max_quotes = max_quotes
        self.sentence_vectors = sentence_vectors
        self.referents = referents
        self.read_windows = read_windows

    def select(
        self,
        ranked: Sequence[Candidate],
        vector: np.ndarray,
        weights: dict[str, float],
        sentence_vectors: Callable[[list[Chunk]], dict[int, np.ndarray]],
        article_text: Callable[[str], str | None],
        *,
        top: int,
        copies: Mapping[int, Sequence[Chunk]] | None = None,
        keys: Callable[[str], Mapping[str, frozenset[str]]] | None = None,
        read: Callable[[list[str], np.ndarray], np.ndarray | None] | None = None,
    ) -> list[Quote]:
        """Quotes best first; `copies[chunk id]`: other articles' copies of a ranked paragraph
        (`retrieval.duplicates`), cited as `Quote.also_in`; `keys(paragraph text)`: the stems
        that count as each question term there (`Retrieval.keys`; default: its own stem);
        `read(sentences, cosines)`: each sentence's chance of answering (`retrieval.reading`),
        which picks the lead among the best windows and is kept as `Quote.reader`."""
        best = [c for c in ranked[: self.paragraphs] if c.chunk.sentences]
        stored = sentence_vectors([c.chunk for c in best]) if self.sentence_vectors else {}
        scored = [
            (
                c,
                self.sentence_scores(
                    c.chunk.sentences,
                    stored.get(c.chunk.id),
                    vector,
                    weights,
                    keys(c.chunk.text) if keys else None,
                ),
            )
            for c in best
        ]
        # the paragraph of the best-ranked window: its best sentence anchors the lead quote
        lead = max(
            range(len(scored)),
            key=lambda i: scored[i][0].score + self.sentence_weight * float(scored[i][1].max()),
            default=None,
        )
        windows: list[Window] = []
        for i, (candidate, scores) in enumerate(scored):
            windows += self._windows(candidate, scores, leads=i == lead)
        windows.sort(key=lambda w: -w.score)
        limit = min(top, self.max_quotes)
        chosen = (
            [w for w in windows if w.score >= windows[0].score - self.spread] if windows else []
        )
        readings: dict[int, float] = {}
        if read is not None and windows:
            by_candidate = {id(c): scores for c, scores in scored}
            chosen, readings = self._read(windows, chosen, by_candidate, stored, vector, read)
        quotes: list[Quote] = []
        for window in chosen:
            quote = _quote(window, article_text, (copies or {}).get(window.candidate.chunk.id, ()))
            if quote is not None and not repeats(quote.text, (q.text for q in quotes)):
                quotes.append(replace(quote, reader=readings.get(id(window))))
            if len(quotes) >= limit:
                break
        return quotes

    def _read(
        self,
        windows: list[Window],
        chosen: list[Window],
        scores: Mapping[int, np.ndarray],
        stored: Mapping[int, np.ndarray],
        vector: np.ndarray,
        read: Callable[[list[str], np.ndarray], np.ndarray | None],
    ) -> tuple[list[Window], dict[int, float]]:
        """The anchors of the best `read_windows` windows read. Where the reader says the lead
        does not answer (chance < .5) and another one does, the one most likely to answer leads
        (grown to the lead quote's limits) and the others follow as before. A chance that is NaN
        was not read (`retrieval.reading`): if the lead's was not, the order stays."""
        head = windows[: self.read_windows]
        texts = [w.candidate.chunk.sentences[w.anchor].text for w in head]
        cosines = np.array([_anchor_cosine(w, stored, vector) for w in head])
        chances = read(texts, cosines)
        if chances is None or np.isnan(chances[0]):
            return chosen, {}
        readings = {id(w): float(p) for w, p in zip(head, chances, strict=True) if p == p}
        best = int(np.nanargmax(chances))
        if best == 0 or chances[0] >= 0.5 or chances[best] < 0.5:
            return chosen, readings  # the lead reads as answering, or no other one does
        picked = head[best]
        lead = self._lead_window(picked, scores[id(picked.candidate)])
        readings[id(lead)] = readings[id(picked)]
        rest = [w for w in chosen if w is not picked and w.candidate is not picked.candidate]
        return [lead, *rest], readings

    def sentence_scores(
        self,
        sentences: Sequence[Sentence],
        vectors: np.ndarray | None,
        vector: np.ndarray,
        weights: Mapping[str, float],
        keys: Mapping[str, frozenset[str]] | None = None,
    ) -> np.ndarray:
        lexical = paragraph_coverage([stems(s.text) for s in sentences], weights, keys)
        if vectors is None or len(vectors) != len(sentences):
            return self.lexical_weight * lexical
        return vectors @ vector + self.lexical_weight * lexical

    def _lead_window(self, window: Window, scores: np.ndarray) -> Window:
        """`window`'s anchor grown as the lead quote's is (its paragraph's only window then)."""
        sentences = window.candidate.chunk.sentences
        lengths = [len(s.text) for s in sentences]
        chance = self._chances(scores)
        first, last = self._span(
            window.anchor, chance, lengths, set(), self.max_chars, self.coverage
        )
        first = self._with_referent(sentences, lengths, first, last, set(), self.max_chars)
        return Window(window.candidate, first, last, window.anchor, window.score)

    def _chances(self, scores: np.ndarray) -> np.ndarray:
        """A paragraph's sentence scores as a distribution (softmax at `sharpness`)."""
        chance = np.exp(self.sharpness * (scores - scores.max()))
        return chance / chance.sum()

    def _with_referent(
        self,
        sentences: Sequence[Sentence],
        lengths: list[int],
        first: int,
        last: int,
        taken: set[int],
        max_chars: int,
    ) -> int:
        """The window's first sentence, moved back one when it opens with a reference back
        and the sentence before is free and fits (`referents`)."""
        if (
            self.referents
            and first > 0
            and first - 1 not in taken
            and refers_back(sentences[first].text)
            and sum(lengths[first - 1 : last + 1]) + (last - first + 1) <= max_chars
        ):
            return first - 1
        return first

    def _windows(self, candidate: Candidate, scores: np.ndarray, *, leads: bool) -> list[Window]:
        """Up to `per_paragraph` windows, best anchor first; `leads`: the first is the lead
        quote's."""
        sentences = candidate.chunk.sentences
        chance = self._chances(scores)
        lengths = [len(s.text) for s in sentences]
        windows: list[Window] = []
        taken: set[int] = set()
        for anchor in np.argsort(-scores, kind="stable"):
            if len(windows) >= self.per_paragraph:
                break
            anchor = int(anchor)
            if anchor in taken:
                continue
            if leads and not windows:
                limits = (self.max_chars, self.coverage)
            else:
                limits = (min(self.max_chars, self.support_max_chars), self.support_coverage)
            first, last = self._span(anchor, chance, lengths, taken, *limits)
            first = self._with_referent(sentences, lengths, first, last, taken, limits[0])
            taken.update(range(first, last + 1))
            score = candidate.score + self.sentence_weight * float(scores[anchor])
            windows.append(Window(candidate, first, last, anchor, score))
        return windows

    @staticmethod
    def _span(
        anchor: int,
        chance: np.ndarray,
        lengths: list[int],
        taken: set[int],
        max_chars: int,
        coverage: float,
    ) -> tuple[int, int]:
        """The shortest run of free sentences around `anchor` within `max_chars` whose chance
        reaches `coverage`; if none does, the run holding the most chance (shortest on ties)."""
        best: tuple[float, int, int, int] | None = None  # (-chance, chars, first, last)
        first = anchor
        while first >= 0 and first not in taken:
            size = sum(lengths[first : anchor + 1]) + (anchor - first)
            if size > max_chars and first < anchor:
                break
            held = float(chance[first : anchor + 1].sum())
            last = anchor
            while True:
                key = (-min(held, coverage), size, first, last)
                if best is None or key < best:
                    best = key
                if held >= coverage:
                    break
                nxt = last + 1
                if nxt >= len(lengths) or nxt in taken:
                    break
                if size + 1 + lengths[nxt] > max_chars:
                    break
                size += 1 + lengths[nxt]
                held += float(chance[nxt])
                last = nxt
            first -= 1
        assert best is not None
        return best[2], best[3]


# Language-level: words that open a sentence by pointing back to the one before (pronouns,
# demonstratives, connectives). A quote that starts with one is missing what it refers to.
_REFERS_BACK = word_set(
    "er sie es ihr ihre ihrer ihnen ihm ihn sein seine seiner dies diese dieser dieses diesem "
    "diesen damit dabei dadurch daher deshalb deswegen dennoch trotzdem jedoch allerdings "
    "außerdem zudem danach darauf dafür dagegen darüber dort dann später "
    "he she it they them his her its their this these those there however but also then thus "
    "therefore moreover furthermore meanwhile later nevertheless instead"
)


def refers_back(sentence: str) -> bool:
    """The sentence opens with a word that refers to what came before."""
    words = raw_tokens(sentence)
    return bool(words) and words[0].lower() in _REFERS_BACK  # lower, not casefold: ß stays


def paragraph_coverage(
    sentences: Sequence[frozenset[str]],
    weights: Mapping[str, float],
    keys: Mapping[str, frozenset[str]] | None = None,
) -> np.ndarray:
    """Per sentence, the question's term weight it contains, each term also weighted by how few
    sentences of the paragraph contain it: a word every sentence shares (the paragraph's topic)
    does not tell them apart. On xquad this chose the answering sentence more often than plain
    coverage (German questions .78 -> .83). `keys[term]`: the stems that count as the term
    (default: its own, see `retrieval.candidates.term_keys`)."""
    total = sum(weights.values()) or 1.0
    keys = keys or term_keys(weights, {})
    found = [[t for t in weights if not keys[t].isdisjoint(s)] for s in sentences]
    counts = {t: sum(t in f for f in found) for t in weights}
    n = len(sentences)
    return np.array(
        [sum(weights[t] * math.log(1 + n / counts[t]) for t in f) / total for f in found]
    )


def _anchor_cosine(window: Window, stored: Mapping[int, np.ndarray], vector: np.ndarray) -> float:
    """The question's cosine to the window's anchor sentence (0 without sentence vectors)."""
    vectors = stored.get(window.candidate.chunk.id)
    if vectors is None or len(vectors) <= window.anchor:
        return 0.0
    return float(vectors[window.anchor] @ vector)


def _quote(
    window: Window, article_text: Callable[[str], str | None], copies: Sequence[Chunk] = ()
) -> Quote | None:
    """The window as a verbatim quote; None if its article left the index meanwhile."""
    chunk = window.candidate.chunk
    sentences = chunk.sentences[window.first : window.last + 1]
    start, end = sentences[0].start, sentences[-1].end
    raw = article_text(chunk.article)
    if raw is None:
        return None
    for sentence in sentences:  # the stored sentences are the article's own text
        check_verbatim(raw, sentence.start, sentence.end, sentence.text)
    text = collapse_whitespace(raw[start:end])
    focus = None
    if len(sentences) > 1:  # the sentence that carries the answer, shown in bold
        anchor = chunk.sentences[window.anchor].text
        at = text.find(anchor)
        focus = (at, at + len(anchor)) if at >= 0 else None
    return Quote(
        text=text,
        article=chunk.article,
        title=chunk.title,
        date=chunk.date,
        section=chunk.section,
        paragraph=chunk.paragraph,
        start=start,
        end=end,
        score=window.score,
        focus=focus,
        also_in=_sources(chunk, copies),
        url=article_url(raw),
    )


def _sources(chunk: Chunk, copies: Sequence[Chunk]) -> tuple[Source, ...]:
    """Each other article holding a copy, once, best-ranked copy first."""
    seen = {chunk.article}
    sources = []
    for copy in copies:
        if copy.article not in seen:
            seen.add(copy.article)
            sources.append(Source(copy.article, copy.title, copy.date, copy.paragraph))
    return tuple(sources)
