"""`newsbot feeds add|list|remove|poll`, and `newsbot watch` answering what a feed published."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from werkzeug import Request, Response

from bot import cli
from bot.settings import load_settings
from index.stores import open_store
from retrieval.answerer import Answerer
from retrieval.candidates import HybridRetriever
from retrieval.translations import WordTranslations
from tests.fakes.embedder import FakeEmbedder
from tests.fakes.feeds import (
    ENGLISH_FACT,
    ENGLISH_PARAGRAPHS,
    GERMAN_FACT,
    GERMAN_PARAGRAPHS,
    Item,
    atom,
    page,
    rss,
)

RSS = "application/rss+xml"
# Word translations take a minute to load per process here; they do not matter to these tests.
NO_DICTIONARY = HybridRetriever(translations=WordTranslations(None))


@pytest.fixture
def dirs(tmp_path, monkeypatch) -> list[str]:
    monkeypatch.chdir(tmp_path)  # no .env of the project
    monkeypatch.setenv("NEWSBOT_FEED_ALLOW_PRIVATE", "1")  # the test server is on loopback
    (tmp_path / "articles").mkdir()
    return ["--articles", str(tmp_path / "articles"), "--index", str(tmp_path / "index")]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_feeds_add_list_remove(dirs, httpserver, capsys):
    httpserver.expect_request("/feed").respond_with_data(rss([]), content_type=RSS)
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    httpserver.expect_request("/home").respond_with_data(
        "<html><head><link rel='alternate' type='application/atom+xml' href='/atom'></head>"
        "<body>Start</body></html>",
        content_type="text/html",
    )
    httpserver.expect_request("/atom").respond_with_data(
        atom([]), content_type="application/atom+xml"
    )
    feed = httpserver.url_for("/feed")

    code, out, _ = run(capsys, "feeds", "add", feed, *dirs)
    assert code == 0 and out == f"subscribed: feed 1: {feed} (Testzeitung)\n"
    code, _, err = run(capsys, "feeds", "add", feed, *dirs)
    assert code == 1 and "already subscribed" in err
    code, _, err = run(capsys, "feeds", "add", httpserver.url_for("/gone"), *dirs)
    assert code == 1 and "not subscribed: HTTP 410 Gone" in err
    code, out, _ = run(capsys, "feeds", "add", httpserver.url_for("/home"), *dirs)
    assert code == 0 and f"subscribed to the feed it names: {httpserver.url_for('/atom')}" in out

    code, out, _ = run(capsys, "feeds", "list", *dirs)
    assert code == 0
    assert f"  1  {feed}  (Testzeitung)" in out and "last success: never; next poll: now" in out

    httpserver.clear()
    httpserver.expect_request("/feed").respond_with_data("", status=503)
    httpserver.expect_request("/atom").respond_with_data(
        atom([]), content_type="application/atom+xml"
    )
    code, out, _ = run(capsys, "feeds", "poll", *dirs)
    assert "feed 1" in out and "failed: HTTP 503 Service Unavailable" in out
    code, out, _ = run(capsys, "feeds", "list", *dirs)
    assert "last error (" in out and "HTTP 503 Service Unavailable" in out
    assert out.count("last success: 20") == 1  # the Atom feed worked

    code, out, _ = run(capsys, "feeds", "remove", "1", *dirs)
    assert code == 0 and out.startswith(f"unsubscribed: feed 1: {feed}")
    code, out, _ = run(capsys, "feeds", "remove", httpserver.url_for("/atom"), *dirs)
    assert code == 0
    code, _, err = run(capsys, "feeds", "remove", "7", *dirs)
    assert code == 1 and "no feed number 7" in err
    code, out, _ = run(capsys, "feeds", "list", *dirs)
    assert out.startswith("no feeds")


def test_feeds_add_refuses_internal_addresses_by_default(dirs, httpserver, capsys, monkeypatch):
    monkeypatch.delenv("NEWSBOT_FEED_ALLOW_PRIVATE")
    httpserver.expect_request("/feed").respond_with_data(rss([]), content_type=RSS)
    code, _, err = run(capsys, "feeds", "add", httpserver.url_for("/feed"), *dirs)
    assert code == 1 and "private, loopback or reserved" in err
    assert not httpserver.log
    code, _, err = run(capsys, "feeds", "add", "file:///etc/passwd", *dirs)
    assert code == 1 and "only http and https" in err


def _answer(index: Path | str, question: str, timeout: float = 60.0):
    """The answer once the index has it (the watch syncs in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = Answerer(open_store(index), FakeEmbedder(), retriever=NO_DICTIONARY).answer(
                question
            )
        except Exception:  # no index yet
            answer = None
        if answer is not None and answer.quotes and question in answer.quotes[0].text:
            return answer
        time.sleep(0.3)
    raise AssertionError(f"not answered within {timeout} s: {question}")


def test_newsbot_watch_answers_what_the_feeds_publish(
    index_location, httpserver, tmp_path, monkeypatch, fake_model
):
    """An entry published on the (local) server is written, indexed and answered with its
    quote, title, date and link: a German page behind an RSS feed, and an English Atom entry
    with its full text that appears only while the watch runs (polled every second here)."""
    german_link = httpserver.url_for("/2026/seehunde.html")
    english_link = "https://gazette.example/ferry"
    httpserver.expect_request("/2026/seehunde.html").respond_with_data(
        page("Seehunde kommen nach Husum", GERMAN_PARAGRAPHS), content_type="text/html"
    )
    httpserver.expect_request("/rss").respond_with_data(
        rss([Item("Seehunde kommen nach Husum", german_link, guid="de-1")]), content_type=RSS
    )
    content = "".join(f"<p>{p}</p>" for p in ENGLISH_PARAGRAPHS)
    published: list[Item] = []

    def atom_feed(request: Request) -> Response:
        return Response(atom(published), content_type="application/atom+xml")

    httpserver.expect_request("/atom").respond_with_handler(atom_feed)
    monkeypatch.chdir(tmp_path)  # no .env of the project
    monkeypatch.setenv("NEWSBOT_FEED_ALLOW_PRIVATE", "1")  # the test server is on loopback
    monkeypatch.setenv("NEWSBOT_ARTICLES_DIR", str(tmp_path / "articles"))
    if isinstance(index_location, str):  # the feed state in the PostgreSQL index's database
        monkeypatch.setenv("NEWSBOT_STORE", index_location)
    else:
        monkeypatch.setenv("NEWSBOT_INDEX_DIR", str(index_location))
    for path in ("/rss", "/atom"):
        assert cli.main(["feeds", "add", httpserver.url_for(path)]) == 0
    # the watch's own answerer would load the word translations (a CPU-minute here) for nothing
    monkeypatch.setattr("retrieval.answerer.Answerer.warm_up", lambda self: None)
    monkeypatch.setenv("NEWSBOT_FEED_INTERVAL", "1")
    settings = load_settings()
    assert settings.feed_allow_private and settings.feed_interval == 1
    stop = threading.Event()
    from bot.watch import run_watch

    watch = threading.Thread(target=run_watch, args=(settings,), kwargs={"stop": stop})
    watch.start()
    try:
        german = _answer(index_location, GERMAN_FACT).quotes[0]
        published.append(
            Item("Bicycles cross the North Sea", english_link, guid="en-1", content=content)
        )
        english = _answer(index_location, ENGLISH_FACT).quotes[0]
    finally:
        stop.set()
        watch.join(timeout=60)
    assert not watch.is_alive()
    assert (german.title, german.date, german.url) == (
        "Seehunde kommen nach Husum",
        "2026-12-05T08:30",
        german_link,
    )
    assert german.article == "feeds/testzeitung/2026-12-05-seehunde-kommen-nach-husum.md"
    assert (english.title, english.date, english.url) == (
        "Bicycles cross the North Sea",
        "2026-12-05T08:30",
        english_link,
    )
