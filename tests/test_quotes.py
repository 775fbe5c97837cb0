"""Quote selection: context rules, merging, duplicates, and the verbatim guarantee."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.model import Chunk, Sentence
from index.store import IndexStore
from index.sync import sync_index
from index.verbatim import NotVerbatimError, canonical, collapse_whitespace
from retrieval.model import Quote
from retrieval.quotes import (
    MAX_QUOTE_SENTENCES,
    ScoredChunk,
    context_span,
    make_quote,
    merge_quotes,
    needs_predecessor,
    select_quotes,
)
from tests.conftest import SAMPLE_ARTICLES, FakeEmbedder


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> IndexStore:
    index = tmp_path_factory.mktemp("quotes") / "index"
    embedder = FakeEmbedder()
    sync_index(SAMPLE_ARTICLES, index, embedder)
    return IndexStore.open(index, embedder.model_id)


def article_items(store: IndexStore, article: str) -> list[ScoredChunk]:
    """Every chunk of an article, with its predecessor sentence when it is in the same section."""
    ids = store.article_chunk_ids(article)
    chunks = store.chunks(ids)
    vectors = store.sentence_vectors(ids)
    items = []
    for previous, chunk in zip([None, *chunks[:-1]], chunks, strict=True):
        before = (
            (previous.sentences[-1], vectors[previous.id][-1])
            if previous is not None and previous.section == chunk.section
            else (None, None)
        )
        items.append(ScoredChunk(chunk, 0.5, vectors[chunk.id], *before))
    return items


# --- sentences that need their neighbours ------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Dabei deutete er Bedingungen an, etwa ein Verbot jeglicher militärischer Unterstützung.",
        "Er betonte jedoch, dass er Diplomatie bevorzuge.",
        "Zudem stellte er die Frage, wie eine solche Waffenruhe durchgesetzt werden könnte.",
        "Der 80-Jährige werde künftig ausschließlich für die Ukraine zuständig sein.",
        "Diese sei jetzt vollständig unter russischer Kontrolle.",
        "Putin sagte dabei laut Kreml eine 30-tägige Aussetzung der Angriffe zu.",
        "„Die Zeit wird zeigen“, sagte er, „ob Putin uns täuscht.“",
        "„Vielleicht haben wir am Dienstag etwas anzukündigen.“",
        "Der ukrainische Staatschef erklärte, er sei bereit, die Angriffe einzustellen.",
        "He added that talks would continue.",
    ],
)
def test_sentences_that_point_back(sentence: str) -> None:
    assert needs_predecessor(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Am Donnerstag erklärte Putin, Russland werde einem Waffenstillstand nur zustimmen.",
        "Der ukrainische Präsident Wolodymyr Selenskyj nannte Putins Antwort „sehr manipulativ“.",
        "Der Kreml hat den Vorschlag zur Kenntnis genommen und prüft die Bedingungen.",
        "Es bleibt unklar, welche Sicherheitsgarantien die Ukraine erhalten würde.",
        "„Wir fordern Russland auf, diesen Plan anzunehmen“, erklärte Leavitt.",
        "Russische Drohnen und Raketen trafen mehrere ukrainische Städte.",
    ],
)
def test_sentences_that_stand_alone(sentence: str) -> None:
    assert not needs_predecessor(sentence)


def sentences(*texts: str) -> tuple[Sentence, ...]:
    out, position = [], 0
    for text in texts:
        out.append(Sentence(text, position, position + len(text)))
        position += len(text) + 1
    return tuple(out)


def test_context_pulls_predecessors_and_a_continuing_successor() -> None:
    window = sentences(
        "Am Donnerstag erklärte Putin, Russland werde nur unter Bedingungen zustimmen.",
        "Dabei deutete er Bedingungen an.",
        "Zudem stellte er eine Frage.",
        "Moskau wies Vorschläge zurück.",
    )
    assert context_span(window, 1) == (0, 2)  # Dabei … needs s0; Zudem … continues s1
    assert context_span(window, 2) == (0, 2)  # Zudem → Dabei → Am Donnerstag (two steps)
    assert context_span(window, 3) == (3, 3)
    announced = sentences("In einem Beitrag schrieb er:", "„Wir bleiben.“ Und weiter.")
    assert context_span(announced, 0)[1] == 1


# --- the verbatim guarantee, over every sentence of every sample article ------------------------


def test_every_sentence_and_every_merged_span_is_verbatim(store: IndexStore) -> None:
    checked = 0
    for record in store.articles():
        raw = store.article_text(record.path)
        assert raw is not None
        for item in article_items(store, record.path):
            window = item.window
            for index in range(item.offset, len(window)):
                # The sentence alone, with the context rules, and merged with its followers.
                spans = [(index, index), context_span(window, index)]
                spans += [
                    (index, last)
                    for last in range(index + 1, min(len(window), index + MAX_QUOTE_SENTENCES))
                ]
                for first, last in spans:
                    quote = make_quote(item, first, last, raw, 0.5)
                    assert canonical(quote.text) == canonical(raw[quote.start : quote.end])
                    assert quote.text == collapse_whitespace(raw[quote.start : quote.end])
                    assert quote.paragraph == item.chunk.paragraph
                    checked += 1
            if item.before is not None:  # across the paragraph break
                quote = make_quote(item, 0, item.offset, raw, 0.5)
                assert quote.start == item.before.start
                assert quote.end == item.chunk.sentences[0].end
                checked += 1
    assert checked > 300


def test_a_quote_that_does_not_match_its_article_raises(store: IndexStore) -> None:
    article = "004_4a36d75bdf1d0814.txt"
    raw = store.article_text(article)
    item = next(i for i in article_items(store, article) if "Kellogg" in i.chunk.text)
    sentence = item.chunk.sentences[0]
    tampered = (
        raw[: sentence.start]
        + raw[sentence.start : sentence.end].replace("e", "a")
        + raw[sentence.end :]
    )
    with pytest.raises(NotVerbatimError):
        make_quote(item, item.offset, item.offset, tampered, 0.5)
    with pytest.raises(NotVerbatimError):
        select_quotes([item], item.sentence_vectors[0], lambda _: tampered, top=3)


# --- selection, merging, duplicates ---------------------------------------------------------


RAW = (
    "Kiew meldete Angriffe. Dabei wurden zwei Krankenhäuser zerstört. "
    "Das Wetter war mild und sonnig heute.\n\n"
)


def toy_chunk(article: str, raw: str, paragraph: int = 1) -> Chunk:
    spans, position = [], 0
    for text in [t + "." for t in raw.strip().rstrip(".").split(". ")]:
        start = raw.index(text, position)
        spans.append(Sentence(text, start, start + len(text)))
        position = start + len(text)
    return Chunk(
        id=hash((article, paragraph)) & 0xFFFF,
        article=article,
        title="Titel",
        date="2025-03",
        section="Angriffe",
        paragraph=paragraph,
        sentences=tuple(spans),
    )


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_adjacent_selected_sentences_merge_into_one_quote() -> None:
    chunk = toy_chunk("a.txt", RAW)
    vectors = np.vstack([unit(1, 0.1, 0), unit(1, 0.12, 0), unit(0, 0, 1)])
    item = ScoredChunk(chunk, 0.8, vectors)
    [quote] = select_quotes([item], unit(1, 0.1, 0), {"a.txt": RAW}.get, top=5)
    assert quote.start == chunk.sentences[0].start
    assert quote.end == chunk.sentences[1].end
    assert quote.text == "Kiew meldete Angriffe. Dabei wurden zwei Krankenhäuser zerstört."
    assert (quote.article, quote.title, quote.date, quote.section, quote.paragraph) == (
        "a.txt",
        "Titel",
        "2025-03",
        "Angriffe",
        1,
    )


def test_a_pointing_back_sentence_brings_its_predecessor_even_when_not_selected() -> None:
    chunk = toy_chunk("a.txt", RAW)
    vectors = np.vstack([unit(0, 1, 0), unit(1, 0, 0), unit(0, 0, 1)])
    [quote] = select_quotes(
        [ScoredChunk(chunk, 0.8, vectors)], unit(1, 0, 0), {"a.txt": RAW}.get, top=5
    )
    assert quote.text.startswith("Kiew meldete Angriffe. Dabei")


def test_near_duplicates_from_another_article_are_dropped_but_the_best_is_kept() -> None:
    other_raw = "Die Nachrichtenagentur berichtete. " + RAW
    first = toy_chunk("a.txt", RAW)
    second = toy_chunk("b.txt", other_raw)
    vectors = np.vstack([unit(1, 0.1, 0), unit(1, 0.12, 0), unit(0, 0, 1)])
    items = [
        ScoredChunk(first, 0.80, vectors),
        ScoredChunk(second, 0.79, np.vstack([unit(0, 1, 1), vectors])),
    ]
    raws = {"a.txt": RAW, "b.txt": other_raw}
    quotes = select_quotes(items, unit(1, 0.1, 0), raws.get, top=5)
    assert [q.article for q in quotes].count("b.txt") <= 1
    texts = [canonical(q.text) for q in quotes]
    assert len(texts) == len(set(texts))
    assert quotes[0].article == "a.txt"
    assert not any(q.article == "b.txt" and "Krankenhäuser" in q.text for q in quotes), (
        "the agency copy of the same sentences is a duplicate"
    )


def test_a_similar_but_different_report_is_kept() -> None:
    """The 30-day truce in two articles, worded differently: both stay (the held-out set may
    want either article)."""
    raw_a = "Die Ukraine stimmte einer 30-tägigen Waffenruhe zu.\n"
    raw_b = "Kiew hat dem US-Vorschlag für eine Feuerpause von 30 Tagen am Dienstag zugestimmt.\n"
    items = [
        ScoredChunk(toy_chunk("a.txt", raw_a), 0.8, np.vstack([unit(1, 0.2, 0)])),
        ScoredChunk(toy_chunk("b.txt", raw_b), 0.79, np.vstack([unit(1, 0.7, 0.2)])),
    ]
    quotes = select_quotes(items, unit(1, 0.3, 0), {"a.txt": raw_a, "b.txt": raw_b}.get, top=5)
    assert {q.article for q in quotes} == {"a.txt", "b.txt"}


def test_asking_for_more_quotes_does_not_change_the_first_ones(store: IndexStore) -> None:
    embedder = FakeEmbedder()
    query = embedder.embed_queries(["Krywyj Rih Odessa Dnipro Charkiw Drohnen"])[0]
    hits = store.search(query, 20)
    chunks = store.chunks([i for i, _ in hits])
    vectors = store.sentence_vectors([c.id for c in chunks])
    items = [ScoredChunk(c, s, vectors[c.id]) for c, (_, s) in zip(chunks, hits, strict=True)]
    three = select_quotes(items, query, store.article_text, top=3)
    ten = select_quotes(items, query, store.article_text, top=10)
    assert len(three) == 3 and len(ten) > 3
    assert ten[:3] == three
    assert [q.score for q in ten] == sorted((q.score for q in ten), reverse=True)


def test_a_missing_article_is_skipped(tmp_path: Path) -> None:
    item = ScoredChunk(toy_chunk("gone.txt", RAW), 0.8, np.vstack([unit(1, 0, 0)] * 3))
    assert select_quotes([item], unit(1, 0, 0), lambda _: None, top=3) == []


def test_overlapping_quotes_merge_into_one_verbatim_quote() -> None:
    raw = "Erster Satz hier.\n\nZweiter Satz dort. Dritter Satz am Ende.\n"
    better = Quote(
        "Zweiter Satz dort. Dritter Satz am Ende.", "a.txt", None, None, None, 2, 19, 59, 0.9
    )
    other = Quote("Erster Satz hier. Zweiter Satz dort.", "a.txt", None, None, None, 1, 0, 37, 0.8)

    merged = merge_quotes(better, other, raw)

    assert (merged.start, merged.end, merged.paragraph, merged.score) == (0, 59, 2, 0.9)
    assert merged.text == "Erster Satz hier. Zweiter Satz dort. Dritter Satz am Ende."


def test_quotes_that_follow_each_other_across_a_paragraph_break_merge() -> None:
    raw = (
        "Erster Absatz sagt viel.\n\nZweiter Absatz sagt mehr.\n\n"
        "Zwischentitel\n\nDritter Absatz steht hier.\n"
    )
    first, second, third = (toy_chunk("a.txt", raw, n) for n in (1, 2, 3))
    first = replace(first, sentences=(Sentence("Erster Absatz sagt viel.", 0, 24),))
    second = replace(second, sentences=(Sentence("Zweiter Absatz sagt mehr.", 26, 51),))
    start = raw.index("Dritter")
    third = replace(third, sentences=(Sentence("Dritter Absatz steht hier.", start, start + 26),))
    items = [
        ScoredChunk(second, 0.9, np.vstack([unit(1, 0, 0)])),
        ScoredChunk(first, 0.8, np.vstack([unit(1, 0.5, 0)])),
        ScoredChunk(third, 0.7, np.vstack([unit(1, 0, 0.5)])),
    ]
    quotes = select_quotes(items, unit(1, 0, 0), {"a.txt": raw}.get, top=5)
    # ¶1 and ¶2 are one passage, cited where the better statement is; the heading keeps ¶3 apart.
    assert [q.text for q in quotes] == [
        "Erster Absatz sagt viel. Zweiter Absatz sagt mehr.",
        "Dritter Absatz steht hier.",
    ]
    assert quotes[0].paragraph == 2 and (quotes[0].start, quotes[0].end) == (0, 51)


def test_a_short_two_sentence_paragraph_is_quoted_whole() -> None:
    raw = "Die Ukraine stimmte der Waffenruhe zu. Die USA sagten zu, die Hilfe aufzunehmen.\n"
    item = ScoredChunk(toy_chunk("a.txt", raw), 0.8, np.vstack([unit(1, 0, 0), unit(0, 1, 0)]))
    [quote] = select_quotes([item], unit(1, 0, 0), {"a.txt": raw}.get, top=5)
    assert quote.text == raw.strip()
    longer = raw + "Ein dritter Satz folgt hier noch.\n"
    vectors = np.vstack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    item = ScoredChunk(toy_chunk("a.txt", longer.replace("\n", " ")), 0.8, vectors)
    quotes = select_quotes([item], unit(1, 0, 0), {"a.txt": longer.replace("\n", " ")}.get, top=5)
    assert quotes[0].text == "Die Ukraine stimmte der Waffenruhe zu."
