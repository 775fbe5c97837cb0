"""Polling feeds into article files: RSS and Atom, German and English, full text or page,
once per story, updates, every failure kind (reported once, the other feeds go on)."""

from __future__ import annotations

import gzip
import random
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug import Request, Response

from index.cleaning import parse_article
from index.feeds import net
from index.feeds.net import Fetcher
from index.feeds.poller import FeedPoller
from index.feeds.state import open_feed_state
from index.front_matter import article_url, front_matter
from tests.conftest import STORES, new_pg_index
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


@pytest.fixture(scope="module")
def threaded_server():
    """A server that answers requests in parallel: a slow feed must not hold up the others."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def httpserver(threaded_server):
    yield threaded_server
    threaded_server.clear()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def location(request, tmp_path):
    """The index the feed state lives with: a folder, or (parametrized) PostgreSQL."""
    if getattr(request, "param", "embedded") == "postgresql":
        return new_pg_index(request.getfixturevalue("pg_server"))
    return tmp_path / "index"


@pytest.fixture
def setup(tmp_path, location):
    """(poller, state) on a fresh index (a folder unless a test names a store); the clock
    is the test's."""
    opened = []

    def make(**options):
        state = open_feed_state(location)
        opened.append(state)
        options.setdefault("fetcher", Fetcher(allow_private=True, read_timeout=2))
        poller = FeedPoller(
            tmp_path / "articles",
            state,
            clock=options.pop("clock", Clock()),
            rng=random.Random(1),
            **options,
        )
        return poller, state

    yield make
    for state in opened:
        state.close()


def articles(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*.md"))
    }


def served(httpserver) -> list[str]:
    return [request.path for request, _ in httpserver.log]


def test_an_rss_entry_becomes_an_article_file_with_front_matter(setup, httpserver, tmp_path):
    link = httpserver.url_for("/2026/12/seehunde.html")
    httpserver.expect_request(
        "/seehunde.html" if False else "/2026/12/seehunde.html"
    ).respond_with_data(
        page("Seehunde kommen nach Husum", GERMAN_PARAGRAPHS, canonical=link),
        content_type="text/html",
    )
    httpserver.expect_request("/feed").respond_with_data(
        rss([Item("Seehunde kommen nach Husum", link, guid="de-1")]), content_type=RSS
    )
    poller, state = setup()
    state.add_feed(httpserver.url_for("/feed"))
    report = poller.poll_round()
    assert [r.status for r in report.results] == ["new"]
    [(path, text)] = articles(tmp_path / "articles").items()
    assert path == "feeds/testzeitung/2026-12-05-seehunde-kommen-nach-husum.md"
    meta = front_matter(text)
    assert meta["title"] == "Seehunde kommen nach Husum"
    assert meta["date"] == "2026-12-05T08:30:00Z"
    assert meta["url"] == link and meta["source"] == link
    assert meta["feed"] == httpserver.url_for("/feed")
    assert meta["author"] == "Erika Muster"
    parsed = parse_article(text, path)
    assert (
        parsed.title == "Seehunde kommen nach Husum" and parsed.date == "2026-12-05T08:30"
    )  # the time is kept
    assert parsed.language == "de"
    assert parsed.paragraphs[0].sentences[0].text == GERMAN_FACT
    assert len(parsed.paragraphs) == 3  # the navigation and footer are not article text
    assert "Impressum" not in text
    assert article_url(text) == link


def test_an_atom_entry_with_full_text_is_taken_from_the_feed(setup, httpserver, tmp_path):
    link = httpserver.url_for("/ferry")
    content = "".join(f"<p>{p}</p>" for p in ENGLISH_PARAGRAPHS)
    httpserver.expect_request("/atom").respond_with_data(
        atom([Item("Bicycles cross the North Sea", link, guid="en-1", content=content)]),
        content_type="application/atom+xml",
    )
    poller, state = setup()
    state.add_feed(httpserver.url_for("/atom"))
    assert poller.poll_round().results[0].status == "new"
    assert served(httpserver) == ["/atom"]  # the page itself was not needed
    [(path, text)] = articles(tmp_path / "articles").items()
    assert path == "feeds/the-test-gazette/2026-12-05-bicycles-cross-the-north-sea.md"
    parsed = parse_article(text, path)
    assert parsed.language == "en" and parsed.date == "2026-12-05T08:30"
    assert parsed.paragraphs[0].sentences[0].text == ENGLISH_FACT
    assert front_matter(text)["url"] == link


def test_a_teaser_feed_fetches_the_page(setup, httpserver, tmp_path):
    link = httpserver.url_for("/ferry")
    httpserver.expect_request("/ferry").respond_with_data(
        page("Bicycles cross the North Sea", ENGLISH_PARAGRAPHS, site="Gazette", lang="en"),
        content_type="text/html",
    )
    httpserver.expect_request("/atom").respond_with_data(
        atom([Item("Bicycles cross the North Sea", link, content="<p>A teaser.</p>")]),
        content_type="application/atom+xml",
    )
    poller, state = setup()
    state.add_feed(httpserver.url_for("/atom"))
    poller.poll_round()
    assert served(httpserver) == ["/atom", "/ferry"]
    [text] = articles(tmp_path / "articles").values()
    assert ENGLISH_FACT in text and "A teaser." not in text


@pytest.mark.parametrize("location", STORES, indirect=True)
def test_an_unchanged_feed_is_a_304_also_after_a_restart(setup, httpserver, tmp_path):
    link = httpserver.url_for("/a")
    httpserver.expect_request("/a").respond_with_data(
        page("Seehunde", GERMAN_PARAGRAPHS), content_type="text/html"
    )
    body = rss([Item("Seehunde", link, guid="g")])

    def feed(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(body, content_type=RSS, headers={"ETag": '"v1"'})

    httpserver.expect_request("/feed").respond_with_handler(feed)
    clock = Clock()
    poller, state = setup(clock=clock)
    state.add_feed(httpserver.url_for("/feed"))
    poller.poll_round()
    assert poller.poll_round().results == []  # not due yet
    clock.now += 700
    again, _ = setup(clock=clock)  # a restart: new poller, state reopened from disk
    [result] = again.poll_round().results
    assert result.status == "unchanged" and not result.written
    assert served(httpserver) == ["/feed", "/a", "/feed"]
    assert len(articles(tmp_path / "articles")) == 1


def test_an_article_in_two_feeds_is_stored_once(setup, httpserver, tmp_path):
    link = httpserver.url_for("/story")
    httpserver.expect_request("/story").respond_with_data(
        page("Seehunde", GERMAN_PARAGRAPHS, canonical=link), content_type="text/html"
    )
    httpserver.expect_request("/one").respond_with_data(
        rss([Item("Seehunde", link, guid="one-1")]), content_type=RSS
    )
    httpserver.expect_request("/two").respond_with_data(  # another GUID, a tracking parameter
        rss([Item("Seehunde in Husum", link + "?utm_source=two", guid="two-9")]), content_type=RSS
    )
    poller, state = setup()
    state.add_feed(httpserver.url_for("/one"))
    state.add_feed(httpserver.url_for("/two"))
    report = poller.poll_round()
    assert [len(r.written) for r in report.results] == [1, 0]
    assert report.results[1].duplicates == 1
    assert len(articles(tmp_path / "articles")) == 1


def test_the_same_text_under_another_address_is_stored_once(setup, httpserver, tmp_path):
    content = "".join(f"<p>{p}</p>" for p in GERMAN_PARAGRAPHS)
    httpserver.expect_request("/one").respond_with_data(
        rss([Item("Seehunde", "https://a.example/1", guid="a1", content=content)]),
        content_type=RSS,
    )
    httpserver.expect_request("/two").respond_with_data(
        rss([Item("Seehunde!", "https://b.example/x", guid="b7", content=content)]),
        content_type=RSS,
    )
    poller, state = setup()
    state.add_feed(httpserver.url_for("/one"))
    state.add_feed(httpserver.url_for("/two"))
    report = poller.poll_round()
    assert report.results[1].duplicates == 1 and len(report.written) == 1


def test_a_re_announced_entry_is_not_fetched_again(setup, httpserver, tmp_path):
    link = httpserver.url_for("/a")
    httpserver.expect_request("/a").respond_with_data(
        page("Seehunde", GERMAN_PARAGRAPHS), content_type="text/html"
    )
    httpserver.expect_request("/feed").respond_with_data(  # no validators: a full 200 each time
        rss([Item("Seehunde", link, guid="g")]), content_type=RSS
    )
    clock = Clock()
    poller, state = setup(clock=clock)
    state.add_feed(httpserver.url_for("/feed"))
    poller.poll_round()
    clock.now += 700
    assert poller.poll_round().results[0].status == "unchanged"
    assert served(httpserver) == ["/feed", "/a", "/feed"]


def test_an_updated_entry_replaces_its_file(setup, httpserver, tmp_path):
    link = httpserver.url_for("/a")
    version = {"n": 1}

    def story(request: Request) -> Response:
        paragraphs = [*GERMAN_PARAGRAPHS]
        if version["n"] == 2:
            paragraphs.append("Update: Inzwischen sind alle Tiere wieder in der Nordsee.")
        return Response(page("Seehunde", paragraphs), content_type="text/html")

    def feed(request: Request) -> Response:
        published = datetime(2026, 12, 5, 8, 30, tzinfo=UTC).replace(hour=8 + version["n"])
        return Response(
            rss([Item("Seehunde", link, guid="g", published=published)]), content_type=RSS
        )

    httpserver.expect_request("/a").respond_with_handler(story)
    httpserver.expect_request("/feed").respond_with_handler(feed)
    clock = Clock()
    poller, state = setup(clock=clock)
    state.add_feed(httpserver.url_for("/feed"))
    first = poller.poll_round().written
    version["n"] = 2
    clock.now += 700
    report = poller.poll_round()
    assert report.updated == first and not report.written
    [text] = articles(tmp_path / "articles").values()
    assert "alle Tiere wieder in der Nordsee" in text


# --- failures: each reported with its reason, the other feeds go on -----------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _slow(request: Request) -> Response:
    time.sleep(1.2)
    return Response("late")


def _chunked_big(request: Request) -> Response:
    return Response((b"<rss>" + b"x" * 10_000 for _ in range(500)), content_type=RSS)


FAILURES = {
    # kind: (how /bad answers, or a URL; the reason expected)
    "unreachable": (lambda s: f"http://127.0.0.1:{_closed_port()}/feed", "cannot connect"),
    "404": ({"status": 404}, "HTTP 404 Not Found"),
    "410": ({"status": 410}, "HTTP 410 Gone"),
    "500": ({"status": 500}, "HTTP 500"),
    "503": ({"status": 503}, "HTTP 503"),
    "timeout": (_slow, "timed out"),
    "redirect loop": ({"status": 302, "headers": {"Location": "/bad"}}, "redirect loop"),
    "html page": (
        {
            "response_data": "<!DOCTYPE html><html><head><link rel='alternate' "
            "type='application/rss+xml' href='/real.xml'></head><body>Hallo</body></html>",
            "content_type": "text/html",
        },
        r"an HTML page, not an RSS or Atom feed; the page names its feed: http://.*/real\.xml",
    ),
    "malformed xml": (
        {
            "response_data": b"<?xml version='1.0'?><rss><channel><title>x</titl",
            "content_type": RSS,
        },
        "malformed feed XML",
    ),
    "not a feed": (
        {"response_data": b"just some text", "content_type": "text/plain"},
        "not an RSS or Atom feed",
    ),
    "too large": (_chunked_big, "too large"),
    "compressed bomb": (
        {
            "response_data": gzip.compress(b" " * 30_000_000),
            "content_type": RSS,
            "headers": {"Content-Encoding": "gzip"},
        },
        "too large.*decompressed",
    ),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_each_failure_is_reported_with_its_reason_and_the_other_feeds_go_on(
    kind, setup, httpserver, tmp_path
):
    how, reason = FAILURES[kind]
    good_link = httpserver.url_for("/good-story")
    httpserver.expect_request("/good-story").respond_with_data(
        page("Seehunde", GERMAN_PARAGRAPHS), content_type="text/html"
    )
    httpserver.expect_request("/good").respond_with_data(
        rss([Item("Seehunde", good_link, guid="g")]), content_type=RSS
    )
    bad_url = httpserver.url_for("/bad")
    if isinstance(how, dict):
        options = dict(how)
        data = options.pop("response_data", "")
        httpserver.expect_request("/bad").respond_with_data(data, **options)
    elif how is _slow or how is _chunked_big:
        httpserver.expect_request("/bad").respond_with_handler(how)
    else:
        bad_url = how(httpserver)
    fetcher = Fetcher(allow_private=True, read_timeout=0.4, max_bytes=1_000_000)
    poller, state = setup(fetcher=fetcher)
    state.add_feed(bad_url)
    state.add_feed(httpserver.url_for("/good"))
    bad, good = poller.poll_round().results
    assert bad.failed and bad.report
    assert re.search(reason, bad.reason), bad.reason
    assert good.status == "new" and len(good.written) == 1
    listed = {f.url: f for f in state.feeds()}
    assert listed[bad_url].last_error == bad.reason and listed[bad_url].failures == 1
    assert listed[httpserver.url_for("/good")].last_success is not None


@pytest.mark.parametrize("route", ["direct", "redirect", "dns"])
def test_a_feed_on_an_internal_address_is_refused_and_the_others_go_on(
    route, setup, httpserver, tmp_path, monkeypatch
):
    monkeypatch.setattr(net, "is_public", lambda a: a == "127.0.0.1")  # the server is "public"
    monkeypatch.setattr(  # any other name leads inside
        net, "resolve", lambda host, port: ["127.0.0.1" if host == "localhost" else "10.20.30.40"]
    )
    content = "".join(f"<p>{p}</p>" for p in ENGLISH_PARAGRAPHS)
    httpserver.expect_request("/good").respond_with_data(
        atom([Item("Ferry", "https://gazette.example/f", guid="f", content=content)]),
        content_type="application/atom+xml",
    )
    bad_url = {
        "direct": "http://169.254.169.254/latest/meta-data/",
        "redirect": httpserver.url_for("/bad"),
        "dns": "http://metadata.internal.example/feed",
    }[route]
    httpserver.expect_request("/bad").respond_with_data(
        "", status=302, headers={"Location": "http://192.168.1.1/router"}
    )
    poller, state = setup(fetcher=Fetcher())  # the default: allow_private=False
    state.add_feed(bad_url)
    state.add_feed(httpserver.url_for("/good"))
    bad, good = poller.poll_round().results
    assert bad.failed and "private, loopback or reserved" in bad.reason
    assert good.status == "new"


def test_entries_without_link_date_or_title_and_duplicate_guids(setup, httpserver, tmp_path):
    text = "".join(f"<p>{p}</p>" for p in GERMAN_PARAGRAPHS)
    link = httpserver.url_for("/ferry")
    httpserver.expect_request("/ferry").respond_with_data(
        page("Ferry", ENGLISH_PARAGRAPHS, lang="en", published="2026-11-30T10:00:00Z"),
        content_type="text/html",
    )
    items = [
        Item("Ohne Link", None, guid="a", content=text),  # the feed's text is the article
        Item(None, link, guid="b", published=None, summary=None),  # title and date from the page
        Item("Nichts", None, guid="c", summary=None),  # nothing to take
        Item("Doppelt", None, guid="a", content="<p>Eine andere Meldung.</p>"),
    ]
    httpserver.expect_request("/feed").respond_with_data(rss(items), content_type=RSS)
    poller, state = setup()
    state.add_feed(httpserver.url_for("/feed"))
    [result] = poller.poll_round().results
    assert result.status == "new" and len(result.written) == 2
    assert "no link and no text" in result.reason and "duplicate GUID 'a'" in result.reason
    assert result.report
    files = articles(tmp_path / "articles")
    ferry = next(t for t in files.values() if ENGLISH_FACT in t)
    assert front_matter(ferry)["title"] == "Ferry" and front_matter(ferry)["date"] == "2026-11-30"
    no_link = next(t for t in files.values() if GERMAN_FACT in t)
    assert "url" not in front_matter(no_link) and front_matter(no_link)["title"] == "Ohne Link"
    assert "Eine andere Meldung" not in "".join(files.values())


@pytest.mark.parametrize(
    "declared", ["", "; charset=utf-8"], ids=["missing charset", "wrong charset"]
)
def test_a_feed_in_latin_1_is_read_with_a_missing_or_wrong_charset(
    declared, setup, httpserver, tmp_path
):
    text = "".join(f"<p>{p}</p>" for p in GERMAN_PARAGRAPHS)
    body = rss([Item("Grüße aus Büsum", None, guid="l1", content=text)], encoding="iso-8859-1")
    httpserver.expect_request("/feed").respond_with_data(
        body, content_type="application/xml" + declared
    )
    poller, state = setup()
    state.add_feed(httpserver.url_for("/feed"))
    [result] = poller.poll_round().results
    assert result.status == "new", result.reason
    [written] = articles(tmp_path / "articles").values()
    assert "title: Grüße aus Büsum" in written and "anschließend" in written


def test_a_failure_is_reported_once_and_backs_off_with_jitter(setup, httpserver):
    httpserver.expect_request("/bad").respond_with_data("", status=503)
    clock = Clock()
    poller, state = setup(clock=clock, interval=600, jitter=0.1)
    state.add_feed(httpserver.url_for("/bad"))
    waits, reports = [], []
    for _ in range(4):
        [result] = poller.poll_round(all_feeds=True).results
        reports.append(result.report)
        waits.append(state.feeds()[0].next_poll - clock.now)
    assert reports == [True, False, False, False]  # the same reason is said once
    for n, wait in enumerate(waits):
        assert 600 * 2**n * 0.9 <= wait <= 600 * 2**n * 1.1
    httpserver.clear()
    httpserver.expect_request("/bad").respond_with_data(rss([]), content_type=RSS)
    [result] = poller.poll_round(all_feeds=True).results
    assert result.status == "unchanged" and result.report  # the recovery is said once too
    feed = state.feeds()[0]
    assert feed.failures == 0 and feed.last_error is None and feed.last_success == clock.now


def test_a_crash_while_writing_leaves_no_half_article_and_is_retried(
    setup, httpserver, tmp_path, monkeypatch
):
    content = "".join(f"<p>{p}</p>" for p in GERMAN_PARAGRAPHS)
    httpserver.expect_request("/feed").respond_with_data(
        rss([Item("Seehunde", "https://z.example/s", guid="s", content=content)]), content_type=RSS
    )
    poller, state = setup()
    state.add_feed(httpserver.url_for("/feed"))
    import os

    real_replace = os.replace

    def crash(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    [result] = poller.poll_round().results
    assert result.failed and "disk gone" in result.reason
    assert articles(tmp_path / "articles") == {}  # no article file, whole or half
    monkeypatch.setattr(os, "replace", real_replace)
    [result] = poller.poll_round(all_feeds=True).results
    assert len(result.written) == 1


def test_an_entry_linking_inside_is_refused_and_the_feed_goes_on(setup, httpserver, monkeypatch):
    monkeypatch.setattr(net, "is_public", lambda a: a == "127.0.0.1")
    content = "".join(f"<p>{p}</p>" for p in ENGLISH_PARAGRAPHS)
    items = [
        Item("Router", "http://10.0.0.1/admin", guid="inside"),
        Item("Ferry", "https://gazette.example/f", guid="f", content=content),
    ]
    httpserver.expect_request("/feed").respond_with_data(
        rss(items), content_type=RSS, headers={"ETag": '"v1"'}
    )
    poller, state = setup(fetcher=Fetcher())
    state.add_feed(httpserver.url_for("/feed"))
    [result] = poller.poll_round().results
    assert result.status == "new" and len(result.written) == 1
    assert "Router: refused" in result.reason
    assert state.feeds()[0].etag == '"v1"'  # a refusal is no reason to fetch it all again
