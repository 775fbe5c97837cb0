"""Paragraph chunks, sentence-aligned splits and stable ids."""

from __future__ import annotations

from pathlib import Path

from index.chunking import chunk_article, chunk_id, embedding_text
from index.cleaning import parse_article
from index.verbatim import check_verbatim
from tests.conftest import SAMPLE_ARTICLES
from tests.fakes.embedder import FakeEmbedder


def _sample(name: str = "001_d3691be0234ce99a.txt") -> tuple[str, list]:
    raw = (SAMPLE_ARTICLES / name).read_text(encoding="utf-8")
    embedder = FakeEmbedder()
    return raw, chunk_article(parse_article(raw, name), embedder.count_tokens)


def test_one_chunk_per_paragraph_with_its_metadata():
    raw, chunks = _sample()
    parsed = parse_article(raw, "001_d3691be0234ce99a.txt")
    assert [c.paragraph for c in chunks] == [p.number for p in parsed.paragraphs]
    putin = next(c for c in chunks if c.text.startswith("Am Donnerstag erklärte Putin"))
    assert putin.section == "Moskaus Zurückhaltung gegenüber dem US-Waffenstillstandsvorschlag"
    assert embedding_text(putin).startswith(putin.section)
    for chunk in chunks:
        check_verbatim(raw, chunk.start, chunk.end, chunk.text)


def test_long_paragraph_is_split_at_sentence_boundaries(tmp_path: Path):
    sentence = "Der Kreml prüft den Vorschlag der amerikanischen Regierung sehr genau. "
    raw = "Titel des Artikels\n\n" + sentence * 60 + "\n"
    parsed = parse_article(raw, "long.txt")
    embedder = FakeEmbedder()

    chunks = chunk_article(parsed, embedder.count_tokens, max_tokens=128)

    assert len(chunks) > 1 and {c.paragraph for c in chunks} == {1}
    assert all(embedder.count_tokens(c.text) <= 128 for c in chunks)
    assert sum(len(c.sentences) for c in chunks) == 60
    assert len({c.id for c in chunks}) == len(chunks)
    for chunk in chunks:
        check_verbatim(raw, chunk.start, chunk.end, chunk.text)


def test_ids_are_stable_and_depend_on_article_place_and_text():
    _, first = _sample()
    _, second = _sample()
    assert [c.id for c in first] == [c.id for c in second]
    assert all(0 < c.id < 2**63 for c in first)
    assert chunk_id("a.txt", 1, 0, "x") != chunk_id("b.txt", 1, 0, "x")
    assert chunk_id("a.txt", 1, 0, "x") != chunk_id("a.txt", 2, 0, "x")
    assert chunk_id("a.txt", 1, 0, "x") != chunk_id("a.txt", 1, 0, "y")
