"""Feeds for the front ends: `newsbot feeds add|list|remove|poll`, the background polling of
`newsbot watch` and `newsbot telegram`, and the texts both show (settings are read here)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from bot.settings import Settings
from index.feeds.loop import FeedLoop
from index.feeds.net import Fetcher, FetchError
from index.feeds.parse import FeedParseError
from index.feeds.poller import FeedPoller, FeedResult, RoundReport, subscribe
from index.feeds.state import (
    Feed,
    FeedExistsError,
    FeedState,
    UnknownFeedError,
    find_feed,
    open_feed_state,
)


class FeedCommandError(Exception):
    """A feeds command that could not be done; the message says why."""


def open_state(settings: Settings) -> FeedState:
    """The subscriptions kept with the index the settings name (folder or PostgreSQL)."""
    return open_feed_state(settings.index_location)


def fetcher(settings: Settings) -> Fetcher:
    return Fetcher(allow_private=settings.feed_allow_private)


def poller(settings: Settings, state: FeedState) -> FeedPoller:
    return FeedPoller(
        settings.articles_dir, state, fetcher=fetcher(settings), interval=settings.feed_interval
    )


def add_feed(settings: Settings, url: str) -> str:
    """Subscribe; the line to show. Raises `FeedCommandError` with the reason."""
    state = open_state(settings)
    try:
        with fetcher(settings) as guarded:
            feed, note = subscribe(state, guarded, url)
    except (FetchError, FeedParseError) as exc:
        raise FeedCommandError(f"not subscribed: {exc}") from None
    except FeedExistsError as exc:
        raise FeedCommandError(str(exc)) from None
    finally:
        state.close()
    line = f"subscribed: feed {feed.id}: {feed.url}" + (f" ({feed.title})" if feed.title else "")
    return f"{line}\n{note}" if note else line


def remove_feed(settings: Settings, url_or_number: str) -> str:
    state = open_state(settings)
    try:
        feed = state.remove_feed(find_feed(state, url_or_number).id)
    except UnknownFeedError as exc:
        raise FeedCommandError(str(exc)) from None
    finally:
        state.close()
    return (
        f"unsubscribed: feed {feed.id}: {feed.url} "
        f"(its articles stay in {settings.articles_dir}/feeds/)"
    )


def list_feeds(settings: Settings) -> list[Feed]:
    state = open_state(settings)
    try:
        return state.feeds()
    finally:
        state.close()


def describe_feeds(feeds: list[Feed], now: float | None = None) -> str:
    """`feeds list`: number, URL, title; last success; last error; next poll."""
    if not feeds:
        return "no feeds; add one with: newsbot feeds add URL"
    now = time.time() if now is None else now
    lines = []
    for feed in feeds:
        lines.append(f"{feed.id:>3}  {feed.url}" + (f"  ({feed.title})" if feed.title else ""))
        success = _when(feed.last_success) if feed.last_success else "never"
        due = "now" if feed.next_poll <= now else f"in {_duration(feed.next_poll - now)}"
        lines.append(f"     last success: {success}; next poll: {due}")
        if feed.last_error:
            times = f", {feed.failures} failed polls in a row" if feed.failures > 1 else ""
            at = _when(feed.last_error_at) if feed.last_error_at else "?"
            lines.append(f"     last error ({at}{times}): {feed.last_error}")
    return "\n".join(lines)


def describe_result(result: FeedResult, interval: float | None = None) -> str | None:
    """The line a poll deserves once: a new failure or problem, or the end of one."""
    if not result.report:
        return None
    name = f"feed {result.number} ({result.feed})"
    if result.failed:
        return f"{name} failed: {result.reason} (will retry with back-off)"
    if result.reason:
        return f"{name}: {result.reason}"
    return f"{name} works again"


def describe_round(report: RoundReport) -> str | None:
    if not (report.written or report.updated):
        return None
    return f"feeds: {report.summary()}"


class FeedPolling:
    """The background polling of a running front end; `stop()` ends it and closes the state."""

    def __init__(self, settings: Settings, say: Callable[[str], object]) -> None:
        self.say = say
        self.state = open_state(settings)
        self.poller = poller(settings, self.state)
        self.loop = FeedLoop(self.poller, on_round=self._on_round)

    def start(self) -> FeedPolling:
        self.loop.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self.loop.stop(timeout):  # else a fetch is still running: the process is ending
            self.poller.fetcher.close()
            self.state.close()

    def _on_round(self, report: RoundReport) -> None:
        if line := describe_round(report):
            self.say(line)
        for result in report.results:
            if line := describe_result(result):
                self.say(line)


def start_feed_loop(settings: Settings, say: Callable[[str], object]) -> FeedPolling:
    """Poll the feeds in the background (the caller holds the service lock); `say` gets the
    lines worth showing: new articles, and each feed's new problem once."""
    return FeedPolling(settings, say).start()


def poll_now(settings: Settings, *, all_feeds: bool = False) -> RoundReport:
    """One round in this process (`newsbot feeds poll`). It takes the service lock, so it
    never polls beside a running `newsbot watch` / `telegram`, which poll by themselves."""
    from index.stores import service_lock

    state = open_state(settings)
    try:
        with service_lock(settings.index_location), fetcher(settings) as guarded:
            feeds = FeedPoller(
                settings.articles_dir, state, fetcher=guarded, interval=settings.feed_interval
            )
            return feeds.poll_round(all_feeds=all_feeds)
    finally:
        state.close()


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
