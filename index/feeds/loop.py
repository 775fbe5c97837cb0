"""Polling feeds in the background while a front end runs (`newsbot watch`, `newsbot
telegram`): a thread that polls each feed when it is due. The articles it writes reach the
index through the articles folder's own watcher, as any new file does."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from index.feeds.poller import FeedPoller, RoundReport
from index.stores.base import StoreError

log = logging.getLogger(__name__)


class FeedLoop:
    """Runs `poller.poll_round()` whenever a feed is due; looks at the subscriptions at least
    every `check_seconds`, so a feed added meanwhile (by `newsbot feeds add` in another
    process) is polled soon. `on_round(report)` is called after each round that polled."""

    def __init__(
        self,
        poller: FeedPoller,
        *,
        on_round: Callable[[RoundReport], object] | None = None,
        check_seconds: float = 5.0,
    ) -> None:
        self.poller = poller
        self.on_round = on_round
        self.check_seconds = check_seconds
        self.rounds = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="feed-poller", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the subscriptions now (a feed was just added)."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> bool:
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.poller.poll_round()
                if report.results:
                    self.rounds += 1
                    if self.on_round is not None:
                        self.on_round(report)
                due = self.poller.next_due()
            except StoreError as exc:  # a database outage: its message says it all
                log.warning("feed polling failed: %s; trying again", exc)
                due = None
            except Exception:  # a bug must not end polling for good
                log.exception("feed polling failed; trying again")
                due = None
            wait = self.check_seconds
            if due is not None:
                wait = max(0.0, min(wait, due - self.poller.clock()))
            self._wake.wait(wait)
            self._wake.clear()
        log.debug("feed polling stopped after %d rounds (%.0f)", self.rounds, time.time())
