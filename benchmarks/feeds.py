"""What polling feeds costs (index.feeds), against a local HTTP server in another process.

    python -m benchmarks.feeds [--feeds 100] [--entries 50] [--full-text]

1. first round: FEEDS feeds of ENTRIES entries each, never seen: every entry's page is fetched
   and extracted (trafilatura), or with --full-text taken from the feed; the time until the
   last article file is written, then the time to index them all with a stand-in embedder
   (tests' FakeEmbedder: the real model's embedding cost is measured by benchmarks.run and
   benchmarks.drop_to_answer, not here).
2. unchanged round: the same feeds polled again, all due, each answering 304 Not Modified
   (the server honours If-Modified-Since): CPU and wall time of the round.
3. unchanged without validators: the server's answers carry no Last-Modified, so every feed
   is downloaded and parsed again; its entries are recognised by their signature, no page is
   fetched.

The server (Python's http.server, threaded) runs in a child process, so this process's CPU
time is the poller's alone. Prints JSON; measured, never asserted.
"""

from __future__ import annotations

import argparse
import http.server
import json
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from index.feeds.net import Fetcher
from index.feeds.poller import FeedPoller
from index.feeds.state import open_feed_state
from index.sync import sync_index

WORDS = [
    "Hafen",
    "Schiff",
    "Rat",
    "Stadt",
    "Brücke",
    "Bahn",
    "Schule",
    "Markt",
    "Wetter",
    "Strom",
    "Wasser",
    "Straße",
    "Haus",
    "Feld",
    "Wald",
    "Meer",
    "Insel",
    "Fluss",
    "Turm",
    "Platz",
]


def _paragraphs(feed: int, entry: int) -> list[str]:
    return [
        f"Meldung {feed}-{entry}, Absatz {n}: "
        + " ".join(f"{WORDS[(feed * 7 + entry * 3 + n + k) % len(WORDS)]}{k}" for k in range(40))
        + "."
        for n in range(5)
    ]


def _page(feed: int, entry: int) -> str:
    body = "".join(f"<p>{p}</p>" for p in _paragraphs(feed, entry))
    return (
        f"<!DOCTYPE html><html lang='de'><head><meta charset='utf-8'><title>Meldung {feed}-"
        f"{entry}</title><meta property='og:site_name' content='Zeitung {feed}'></head><body>"
        f"<nav><a href='/'>Start</a></nav><article><h1>Meldung {feed}-{entry}</h1>{body}"
        "</article><footer>Impressum</footer></body></html>"
    )


def _feed(base: str, feed: int, entries: int, full_text: bool) -> str:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    items = []
    for entry in range(entries):
        link = f"{base}/pages/{feed}/{entry}.html"
        content = ""
        if full_text:
            text = "".join(f"<p>{p}</p>" for p in _paragraphs(feed, entry))
            content = f"<content:encoded><![CDATA[{text}]]></content:encoded>"
        items.append(
            f"<item><title>Meldung {feed}-{entry}</title><link>{link}</link>"
            f"<guid>{link}</guid><pubDate>{format_datetime(start + timedelta(hours=entry))}"
            f"</pubDate><description>Kurz.</description>{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Zeitung {feed}</title><link>{base}/</link><description>x</description>"
        f"{''.join(items)}</channel></rss>"
    )


class _NoValidators(http.server.SimpleHTTPRequestHandler):
    """Answers every GET in full and without Last-Modified (a server that ignores them)."""

    def do_GET(self) -> None:
        del self.headers["If-Modified-Since"]
        super().do_GET()

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() != "last-modified":
            super().send_header(keyword, value)

    def log_message(self, *args: object) -> None:
        pass


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _serve(directory: str, port: int, validators: bool) -> None:  # in the child process
    import functools

    handler = _Quiet if validators else _NoValidators
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(handler, directory=directory)
    )
    server.serve_forever()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(directory: Path, validators: bool, port: int) -> tuple[subprocess.Popen, str]:
    code = (
        "import sys; from benchmarks.feeds import _serve; "
        f"_serve({str(directory)!r}, {port}, {validators})"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parent.parent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}"


def _round(poller: FeedPoller, state) -> dict:
    for feed in state.feeds():  # every feed due now
        feed.next_poll = 0
        state.update_feed(feed)
    cpu, wall = time.process_time(), time.perf_counter()
    report = poller.poll_round()
    return {
        "feeds": len(report.results),
        "failed": sum(r.failed for r in report.results),
        "articles_written": len(report.written),
        "articles_updated": len(report.updated),
        "cpu_s": round(time.process_time() - cpu, 3),
        "wall_s": round(time.perf_counter() - wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--full-text", action="store_true", help="feeds carry the full text")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.fakes.embedder import FakeEmbedder

    results: dict[str, object] = {"feeds": args.feeds, "entries_per_feed": args.entries}
    with tempfile.TemporaryDirectory(prefix="newsbot-feeds-bench-") as temp:
        root = Path(temp)
        site, articles, index = root / "site", root / "articles", root / "index"
        (site / "feeds").mkdir(parents=True)
        port = _free_port()
        for validators in (True, False):  # the second server on the same port, as the same site
            server, base = _start_server(site, validators, port)
            try:
                if validators:
                    for feed in range(args.feeds):
                        (site / "pages" / str(feed)).mkdir(parents=True, exist_ok=True)
                        (site / "feeds" / f"{feed}.xml").write_text(
                            _feed(base, feed, args.entries, args.full_text)
                        )
                        for entry in range(args.entries):
                            (site / "pages" / str(feed) / f"{entry}.html").write_text(
                                _page(feed, entry)
                            )
                state = open_feed_state(index)
                with Fetcher(allow_private=True) as fetcher:
                    poller = FeedPoller(articles, state, fetcher=fetcher)
                    if validators:
                        for feed in range(args.feeds):
                            state.add_feed(f"{base}/feeds/{feed}.xml")
                        first = _round(poller, state)
                        started = time.perf_counter()
                        report = sync_index(articles, index, FakeEmbedder())
                        first["index_fake_embedder_s"] = round(time.perf_counter() - started, 3)
                        first["articles_indexed"] = len(report.added)
                        first["to_last_article_indexed_s"] = round(
                            first["wall_s"] + first["index_fake_embedder_s"], 3
                        )
                        results["first_round"] = first
                        results["unchanged_304_round"] = _round(poller, state)
                    else:
                        results["unchanged_without_validators_round"] = _round(poller, state)
                state.close()
            finally:
                server.terminate()
                server.wait()
    results["full_text"] = args.full_text
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
