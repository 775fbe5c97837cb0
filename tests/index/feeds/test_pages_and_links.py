"""Articles from feeds and saved pages reach answers with their title, date and link."""

from __future__ import annotations

import json
from pathlib import Path

from index.files import read_article
from index.stores.sqlite import IndexStore
from index.sync import sync_index
from retrieval.answerer import Answerer
from retrieval.candidates import HybridRetriever
from retrieval.render import render_plain
from retrieval.translations import WordTranslations
from tests.fakes.embedder import FakeEmbedder
from tests.fakes.feeds import (
    ENGLISH_FACT,
    ENGLISH_PARAGRAPHS,
    GERMAN_FACT,
    GERMAN_PARAGRAPHS,
    page,
)

# Word translations take a minute to load per process here; they do not matter to these tests.
NO_DICTIONARY = HybridRetriever(translations=WordTranslations(None))
GERMAN_URL = "https://zeitung.example/2026/12/seehunde"
ENGLISH_URL = "https://gazette.example/news/ferry"


def _drop_pages(articles: Path) -> None:
    articles.mkdir(parents=True, exist_ok=True)
    (articles / "seehunde.html").write_text(
        page("Seehunde kommen nach Husum", GERMAN_PARAGRAPHS, canonical=GERMAN_URL)
    )
    (articles / "ferry.htm").write_bytes(
        page(
            "Bicycles cross the North Sea",
            ENGLISH_PARAGRAPHS,
            site="The Gazette",
            canonical=ENGLISH_URL,
            published="2026-11-28T17:00:00Z",
            lang="en",
        ).encode()
    )
    (articles / "plain.txt").write_text("Titel\n\nEin Artikel ohne Link über Leuchttürme.\n")


def test_a_saved_page_is_read_as_its_article(tmp_path: Path):
    _drop_pages(tmp_path / "articles")
    article = read_article(tmp_path / "articles", tmp_path / "articles" / "seehunde.html")
    assert article.text.startswith("---\ntitle: Seehunde kommen nach Husum\ndate: 2026-12-05\n")
    assert f"url: {GERMAN_URL}" in article.text and "<p>" not in article.text
    assert GERMAN_FACT in article.text and "Impressum" not in article.text


def test_a_page_without_article_text_is_skipped_with_a_reason(tmp_path: Path):
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "empty.html").write_text("<html><body><nav>Start</nav></body></html>")
    report = sync_index(articles, tmp_path / "index", FakeEmbedder())
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("empty.html", "no article text found in the page")
    ]


def test_quotes_from_pages_carry_title_date_and_url(tmp_path: Path):
    _drop_pages(tmp_path / "articles")
    report = sync_index(tmp_path / "articles", tmp_path / "index", FakeEmbedder())
    assert len(report.added) == 3 and not report.skipped
    answerer = Answerer(
        IndexStore.open(tmp_path / "index"), FakeEmbedder(), retriever=NO_DICTIONARY
    )
    for fact, title, date, url in [
        (GERMAN_FACT, "Seehunde kommen nach Husum", "2026-12-05", GERMAN_URL),
        (ENGLISH_FACT, "Bicycles cross the North Sea", "2026-11-28", ENGLISH_URL),
    ]:
        answer = answerer.answer(fact)
        quote = answer.quotes[0]
        assert fact in quote.text
        assert (quote.title, quote.date, quote.url) == (title, date, url)
        assert quote.to_json()["url"] == url
        assert url in render_plain(answer)  # the CLI and chat show the link
    answer = answerer.answer("Ein Artikel ohne Link über Leuchttürme.")
    assert answer.quotes[0].url is None and answer.quotes[0].to_json()["url"] is None
    json.dumps([q.to_json() for q in answer.quotes])


def test_a_new_folder_and_its_file_synced_by_name_are_one_article(tmp_path: Path):
    """The watcher names both a new feed folder and the article in it; that is one article,
    embedded once (it was counted and embedded once per name)."""
    articles = tmp_path / "articles"
    (articles / "feeds" / "a").mkdir(parents=True)
    (articles / "feeds" / "a" / "x.md").write_text("Titel\n\nEin Satz über Kiel.\n")
    embedder = FakeEmbedder()
    names = ["feeds", "feeds/a", "feeds/a/x.md"]
    report = sync_index(articles, tmp_path / "index", embedder, paths=names)
    assert report.added == ["feeds/a/x.md"] and report.chunks_embedded == 1
