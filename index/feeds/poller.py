"""One polling round over the due feeds: fetch (conditional GET), parse, take new or changed
entries, write their articles; a failing feed is reported once with its reason and polled
again after a back-off, while the others go on."""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.feeds.extract import (
    Article,
    ExtractError,
    extract_page,
    fragment_paragraphs,
    is_full_text,
)
from index.feeds.net import Fetcher, FetchError, RefusedAddressError
from index.feeds.parse import Entry, FeedParseError, parse_feed
from index.feeds.state import Feed, FeedState, Story, keys_for
from index.feeds.write import article_path, free_path, render, write_article
from index.front_matter import front_matter

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 600.0
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"  # noqa: E501
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


@dataclass(slots=True)
class FeedResult:
    """What one feed's poll did."""

    feed: str  # its URL
    number: int
    status: str  # "new", "unchanged" (304 or nothing new), "failed"
    reason: str | None = None  # why it failed, or which entries were left out
    written: list[str] = field(default_factory=list)  # new article files
    updated: list[str] = field(default_factory=list)  # files replaced by a newer version
    duplicates: int = 0  # entries that were a story stored already
    report: bool = False  # a new problem (or its end): say it once

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(slots=True)
class RoundReport:
    results: list[FeedResult] = field(default_factory=list)

    @property
    def written(self) -> list[str]:
        return [p for r in self.results for p in r.written]

    @property
    def updated(self) -> list[str]:
        return [p for r in self.results for p in r.updated]

    def summary(self) -> str:
        failed = sum(r.failed for r in self.results)
        parts = [f"{len(self.results)} feeds polled", f"{len(self.written)} new articles"]
        if self.updated:
            parts.append(f"{len(self.updated)} updated")
        if failed:
            parts.append(f"{failed} failed")
        return ", ".join(parts)


class EntryError(Exception):
    """One entry could not be taken; the feed goes on."""


class FeedPoller:
    """Polls the feeds in `state` into `articles_dir`.

    interval: seconds between two polls of a feed that works.
    max_backoff: the longest wait after failures (the wait doubles per failure in a row).
    jitter: each wait is stretched or shrunk by up to this share, so feeds do not stay in step.
    """

    def __init__(
        self,
        articles_dir: Path,
        state: FeedState,
        *,
        fetcher: Fetcher | None = None,
        interval: float = DEFAULT_INTERVAL,
        max_backoff: float = 6 * 3600.0,
        jitter: float = 0.1,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.articles_dir = Path(articles_dir)
        self.state = state
        self.fetcher = fetcher or Fetcher()
        self.interval = interval
        self.max_backoff = max_backoff
        self.jitter = jitter
        self.clock = clock
        self.rng = rng or random.Random()

    def due(self) -> list[Feed]:
        now = self.clock()
        return [feed for feed in self.state.feeds() if feed.next_poll <= now]

    def next_due(self) -> float | None:
        """When the next feed is due (epoch seconds), None without feeds."""
        feeds = self.state.feeds()
        return min((f.next_poll for f in feeds), default=None)

    def poll_round(self, *, all_feeds: bool = False) -> RoundReport:
        """Poll every due feed (every feed with `all_feeds`) once."""
        report = RoundReport()
        for feed in self.state.feeds() if all_feeds else self.due():
            report.results.append(self.poll(feed))
        return report

    def poll(self, feed: Feed) -> FeedResult:
        """Poll one feed and record the outcome in the state; never raises for bad input."""
        result = FeedResult(feed.url, feed.id, "unchanged")
        previous_error = feed.last_error
        try:
            problems = self._poll(feed, result)
        except (FetchError, FeedParseError) as exc:
            result.status, result.reason = "failed", str(exc)
        except OSError as exc:  # the articles folder: full disk, permissions
            result.status, result.reason = "failed", f"cannot write the article: {exc}"
        except Exception as exc:  # a bug must not stop the other feeds
            log.exception("polling %s failed", feed.url)
            result.status, result.reason = "failed", f"internal error: {exc!r}"
        else:
            result.reason = "; ".join(problems) if problems else None
        now = self.clock()
        if result.failed:
            feed.failures += 1
            wait = min(self.max_backoff, self.interval * 2 ** (feed.failures - 1))
            feed.last_error, feed.last_error_at = result.reason, now
        else:
            feed.failures = 0
            wait = self.interval
            feed.last_success = now
            feed.last_error = result.reason
            if result.reason:
                feed.last_error_at = now
        feed.next_poll = now + wait * self.rng.uniform(1 - self.jitter, 1 + self.jitter)
        result.report = result.reason != previous_error
        self.state.update_feed(feed)
        return result

    def _poll(self, feed: Feed, result: FeedResult) -> list[str]:
        response = self.fetcher.get(
            feed.url, etag=feed.etag, last_modified=feed.last_modified, accept=FEED_ACCEPT
        )
        if response.status == 304:
            return []
        parsed = parse_feed(response.body, response.url, response.headers.get("content-type", ""))
        feed.title = parsed.title or feed.title
        problems = list(parsed.problems)
        retry = False
        for entry in parsed.entries:
            try:
                self._take(feed, parsed.title, entry, result)
            except (EntryError, FetchError, ExtractError) as exc:
                name = entry.title or entry.link or entry.guid or "an entry"
                problems.append(f"{name}: {exc}")
                # a page that could not be fetched may work next time; a refused one will not
                retry = retry or (
                    isinstance(exc, FetchError) and not isinstance(exc, RefusedAddressError)
                )
        if result.written or result.updated:
            result.status = "new"
        if not retry:  # else the next poll fetches the whole feed again to retry those
            feed.etag = response.headers.get("etag")
            feed.last_modified = response.headers.get("last-modified")
        return problems

    def _take(self, feed: Feed, feed_title: str | None, entry: Entry, result: FeedResult) -> None:
        entry_keys = keys_for(guid=entry.guid, link=entry.link)
        signature = entry.signature
        known = self.state.story(entry_keys) if entry_keys else None
        if known and all(self.state.signature(k) == signature for k in entry_keys):
            return  # announced before, unchanged
        article = self._article(feed, feed_title, entry)
        text_hash = hashlib.sha256(article.text.encode()).hexdigest()
        all_keys = keys_for(guid=entry.guid, link=entry.link, url=article.url, text_hash=text_hash)
        story = known or self.state.story(all_keys)
        signatures: dict[str, str | None] = {k: None for k in all_keys}
        signatures.update({k: signature for k in entry_keys})
        if (
            story is not None
            and story.content_hash == text_hash
            and (self.articles_dir / story.path).is_file()
        ):
            self.state.save_story(story, signatures)
            result.duplicates += 1
            return
        path = self._new_path(article) if story is None else story.path
        write_article(self.articles_dir, path, render(article))
        self.state.save_story(Story(path, article.url, text_hash), signatures)
        (result.updated if story is not None else result.written).append(path)

    def _new_path(self, article: Article) -> str:
        wanted = article_path(article)
        target = self.articles_dir / wanted
        if target.is_file():  # written before a crash that lost the state's record?
            try:
                meta = front_matter(target.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                meta = {}
            if article.url and meta.get("url") == article.url:
                return wanted
        return free_path(self.articles_dir, wanted)

    def _article(self, feed: Feed, feed_title: str | None, entry: Entry) -> Article:
        feed_text = fragment_paragraphs(entry.content) if entry.content else []
        if entry.link and not (feed_text and is_full_text(feed_text)):
            response = self.fetcher.get(entry.link, accept=PAGE_ACCEPT)
            page = extract_page(response.body, response.url)
            return replace(
                page,
                title=entry.title or page.title,
                date=entry.published or page.date,
                author=page.author or entry.author,
                site=page.site or feed_title,
                source=entry.link,
                feed=feed.url,
            )
        paragraphs = feed_text or (fragment_paragraphs(entry.summary) if entry.summary else [])
        if not paragraphs:
            raise EntryError("no text in the feed and no link to a page")
        from urllib.parse import urlsplit

        return Article(
            title=entry.title,
            date=entry.published,
            author=entry.author,
            site=feed_title or urlsplit(entry.link or feed.url).hostname,
            url=entry.link,
            paragraphs=tuple(paragraphs),
            source=entry.link,
            feed=feed.url,
        )


def subscribe(state: FeedState, fetcher: Fetcher, url: str) -> tuple[Feed, str | None]:
    """Subscribe to the feed at `url` after checking that it is one; a web page that names
    its feed (`<link rel="alternate">`) subscribes to that feed. Returns the feed and a note
    for the user (None when there is nothing to say). Raises `FetchError` or `FeedParseError`
    with the reason when `url` is not a feed newsbot can read."""
    from index.feeds.parse import feed_links

    url = url.strip()
    response = fetcher.get(url, accept=FEED_ACCEPT)
    note = None
    try:
        parsed = parse_feed(response.body, response.url, response.headers.get("content-type", ""))
    except FeedParseError:
        found = feed_links(response.body, response.url)
        if not found:
            raise
        url = found[0]
        response = fetcher.get(url, accept=FEED_ACCEPT)
        parsed = parse_feed(response.body, response.url, response.headers.get("content-type", ""))
        note = f"that page is no feed; subscribed to the feed it names: {url}"
    feed = state.add_feed(url)
    if parsed.title:
        feed.title = parsed.title
        state.update_feed(feed)
    return feed, note
