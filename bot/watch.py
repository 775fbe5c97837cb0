"""Keep the index in sync with the articles folder while a front end runs.

`ArticleWatcher` listens to file-system events (watchdog) and, as a fallback for file systems
that don't deliver them (network shares, containers, full inotify tables), rescans a cheap
fingerprint of the folder every few seconds. A burst of changes (copying 200 files) becomes one
sync: it waits until no event came for `debounce_seconds` (at most `max_delay_seconds` after the
first), then until every file's size and mtime stay the same across two looks, so a file still
being written is not indexed half. Syncs run in the watcher's own thread, one at a time.

Given `sync_changed`, the watcher remembers which paths changed (from events, or from how a
rescan differs from the folder as last synced) and syncs only those: a new article in an
archive of half a million files costs what that article does, not a walk of the archive. The
first sync, and the one after a failed sync, looks at everything.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from types import FrameType

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from bot.feeds import start_feed_loop
from bot.runtime import open_live
from bot.settings import Settings
from index.files import ARTICLE_SUFFIXES, discover
from index.stores import service_lock
from index.sync import SyncReport

log = logging.getLogger(__name__)

SyncFunction = Callable[[], SyncReport]
ChangedSyncFunction = Callable[[list[str]], SyncReport]  # paths relative to the folder
Fingerprint = frozenset[tuple[str, int, int]]  # (path, size, mtime_ns) of every article file

# Rescans wait at least this many times as long as the last one took.
RESCAN_SHARE = 20

# inotify reports reads too; the sync itself opens every file, so these must never count.
_IGNORED_EVENT_TYPES = frozenset({"opened", "closed_no_write"})


def fingerprint(articles_dir: Path) -> Fingerprint:
    """What changes whenever an article is added, removed, edited or still being written."""
    entries = set()
    try:
        paths = discover(Path(articles_dir))
    except OSError:  # the folder vanished mid-scan; syncing is refused until it is back
        return frozenset()
    for path in paths:
        try:
            stat = path.stat()
        except OSError:  # removed between listing and stat: it's simply not there
            continue
        entries.add((path.relative_to(articles_dir).as_posix(), stat.st_size, stat.st_mtime_ns))
    return frozenset(entries)


def fingerprint_of(articles_dir: Path, names: Iterable[str]) -> Fingerprint:
    """`fingerprint` of only these paths (files, or folders and what is below them)."""
    entries = set()
    for name in names:
        path = Path(articles_dir) / name
        try:
            paths = discover(path) if path.is_dir() else [path]
        except OSError:
            continue
        for found in paths:
            try:
                stat = found.stat()
            except OSError:
                continue
            if stat.st_mode & 0o170000 == 0o100000:  # a regular file (links followed)
                relative = found.relative_to(articles_dir).as_posix()
                entries.add((relative, stat.st_size, stat.st_mtime_ns))
    return frozenset(entries)


def differing_paths(before: dict[str, tuple[int, int]], after: Fingerprint) -> list[str]:
    """Paths added, removed or changed between a baseline and a fingerprint."""
    now = {path: (size, mtime) for path, size, mtime in after}
    changed = {path for path, state in now.items() if before.get(path) != state}
    return sorted(changed | (before.keys() - now.keys()))


def changed_between(before: Fingerprint, after: Fingerprint, *, count_new_files: bool) -> bool:
    """Did a file change between two looks? (New files count only if `count_new_files`.)"""
    if count_new_files:
        return before != after
    earlier = {path: (size, mtime) for path, size, mtime in before}
    return any(earlier.get(path, (size, mtime)) != (size, mtime) for path, size, mtime in after)


def is_article_event_path(articles_dir: Path, path: str | bytes, *, is_directory: bool) -> bool:
    """Only visible article files (and folders that may hold some) can change the index."""
    try:
        relative = Path(os.fsdecode(path)).relative_to(articles_dir)
    except ValueError:
        return False
    if any(part.startswith(".") for part in relative.parts):
        return False  # hidden: editors' swap files, our own upload temp files, .git
    return is_directory or relative.suffix.lower() in ARTICLE_SUFFIXES


def _event_name(articles_dir: Path, path: str | bytes) -> str:
    return Path(os.fsdecode(path)).relative_to(articles_dir).as_posix()


class _EventHandler(FileSystemEventHandler):
    def __init__(self, watcher: ArticleWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _IGNORED_EVENT_TYPES:
            return
        if event.is_directory and event.event_type == "modified":
            return  # an entry changed inside; that entry has its own event
        folder = self.watcher.articles_dir
        names = [
            _event_name(folder, p)
            for p in (event.src_path, event.dest_path)
            if p and is_article_event_path(folder, p, is_directory=event.is_directory)
        ]
        if names:
            self.watcher.notice_change(names)


class ArticleWatcher:
    """Calls `sync` (e.g. `LiveIndex.sync`) in a background thread whenever articles change.

    `sync_changed(paths)`, if given, is called instead of `sync` when the watcher knows which
    paths changed (e.g. `lambda paths: live.sync(paths=paths)`).
    `on_synced(report)` and `on_error(exception)` are called from that thread; an asyncio app
    hands them on with `loop.call_soon_threadsafe`. A failed sync is retried with back-off.
    """

    def __init__(
        self,
        articles_dir: Path,
        sync: SyncFunction,
        *,
        sync_changed: ChangedSyncFunction | None = None,
        on_synced: Callable[[SyncReport], object] | None = None,
        on_error: Callable[[Exception], object] | None = None,
        debounce_seconds: float = 1.0,
        max_delay_seconds: float = 10.0,
        stability_seconds: float = 0.5,
        max_unstable_seconds: float = 60.0,
        rescan_seconds: float = 5.0,
        max_retry_seconds: float = 300.0,
        use_events: bool = True,
    ) -> None:
        self.articles_dir = Path(articles_dir).absolute()
        self._sync = sync
        self._sync_changed = sync_changed
        self._on_synced = on_synced
        self._on_error = on_error
        self.debounce_seconds = debounce_seconds
        self.max_delay_seconds = max_delay_seconds
        self.stability_seconds = stability_seconds
        self.max_unstable_seconds = max_unstable_seconds
        self.rescan_seconds = rescan_seconds
        self.max_retry_seconds = max_retry_seconds
        self.use_events = use_events

        self._cond = threading.Condition()
        self._pending = False
        self._first_change: float | None = None
        self._last_change = 0.0
        self._stopping = False
        # the folder as of the last good sync: path -> (size, mtime_ns)
        self._baseline: dict[str, tuple[int, int]] | None = None
        self._changed: set[str] | None = None  # paths changed since; None: look at everything
        self._failures = 0
        self._retry_at = 0.0
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self.syncs = 0  # completed syncs, the initial one included
        self.events_active = False  # False: watchdog unavailable, rescans only

    # --- life cycle ----------------------------------------------------------------------

    def start(self, *, initial_sync: bool = False) -> SyncReport | None:
        """Start watching. With `initial_sync`, sync once in the calling thread first, so
        errors (a damaged index) surface to the caller; otherwise the watcher's first look
        syncs in the background."""
        self.articles_dir.mkdir(parents=True, exist_ok=True)
        self._start_observer()  # first, so nothing written during the initial sync is missed
        report = None
        if initial_sync:
            with self._cond:
                self._changed = set()  # the sync covers all before it; events after, count
            before = fingerprint(self.articles_dir)
            try:
                report = self._sync()
            except BaseException:
                self._stop_observer()
                raise
            self._record_success(before, None, report, notify=False)
        self._thread = threading.Thread(target=self._run, name="article-watcher", daemon=True)
        self._thread.start()
        return report

    def stop(self, timeout: float | None = None) -> bool:
        """Stop watching; waits for a running sync (up to `timeout`). True if it ended."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._stop_observer()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> ArticleWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_observer(self) -> None:
        if not self.use_events:
            return
        observer = Observer()
        try:
            observer.schedule(_EventHandler(self), str(self.articles_dir), recursive=True)
            observer.start()
        except OSError as exc:  # e.g. the inotify watch limit; the rescan still works
            log.warning(
                "file events unavailable (%s); rescanning every %ss", exc, self.rescan_seconds
            )
            return
        self._observer = observer
        self.events_active = True

    def _stop_observer(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    # --- change detection ----------------------------------------------------------------

    def notice_change(self, names: Iterable[str] | None = None) -> None:
        """Something relevant changed (called by the event handler and by rescans): at these
        paths relative to the folder, or anywhere (None)."""
        with self._cond:
            now = time.monotonic()
            if names is None or self._changed is None:
                self._changed = None
            else:
                self._changed.update(names)
            self._pending = True
            self._last_change = now
            if self._first_change is None:
                self._first_change = now
            self._cond.notify_all()

    def _run(self) -> None:
        next_rescan = time.monotonic()  # look at once: catch what changed while we were away
        while True:
            try:
                next_rescan = self._wait_for_change(next_rescan)
                if next_rescan is None:
                    return
                settled = self._wait_until_settled()
                if settled is None:
                    return
                self._sync_once(*settled)
            except Exception:  # a bug here must not silently end all future syncs
                log.exception("article watcher failed; carrying on")
                if self._sleep(self.rescan_seconds):
                    return

    def _wait_for_change(self, next_rescan: float) -> float | None:
        """Block until a change is pending; return the next rescan time (None: stopping)."""
        while True:
            with self._cond:
                if self._stopping:
                    return None
                if self._pending:
                    return next_rescan
                self._cond.wait(max(0.0, next_rescan - time.monotonic()))
                if self._stopping or self._pending:
                    continue
            if time.monotonic() >= next_rescan:
                started = time.monotonic()
                if started >= self._retry_at:
                    self._rescan()
                # a rescan walks every file (~1.7 CPU-s per 100,000 here): at most a 20th
                # of the time goes to it, however large the archive
                took = time.monotonic() - started
                next_rescan = time.monotonic() + max(self.rescan_seconds, RESCAN_SHARE * took)

    def _rescan(self) -> None:
        """Compare the folder with the last synced state; report the paths that differ."""
        now = fingerprint(self.articles_dir)
        if self._baseline is None:
            self.notice_change()
            return
        if changed := differing_paths(self._baseline, now):
            self.notice_change(changed)

    def _wait_until_settled(self) -> tuple[Fingerprint, set[str] | None] | None:
        """Wait out the burst, then until files stop changing; the fingerprint to sync at and
        the paths it covers (None: the whole folder).

        Once `max_delay_seconds` have passed, files that merely appeared between the two looks
        no longer hold the sync back (an endless trickle of new files would); files that are
        still growing always do, for up to `max_unstable_seconds`.
        """
        unstable_since = time.monotonic()
        names: set[str] | None = set()
        while True:
            if not self._wait_until_quiet():
                return None
            with self._cond:
                self._pending = False  # a change from now on asks for another round
                overdue = self._overdue()
                taken, self._changed = self._changed, set()
            if taken is None or names is None or self._sync_changed is None:
                names = None
            else:
                names |= taken
            before = self._look(names)
            if self._sleep(self.stability_seconds):
                return None
            after = self._look(names)
            if not changed_between(before, after, count_new_files=not overdue):
                return after, names
            if time.monotonic() - unstable_since > self.max_unstable_seconds:
                log.warning("articles keep changing; syncing what is there now")
                return after, names
            self.notice_change(names)

    def _look(self, names: set[str] | None) -> Fingerprint:
        if names is None:
            return fingerprint(self.articles_dir)
        return fingerprint_of(self.articles_dir, names)

    def _overdue(self) -> bool:
        first = self._first_change
        return first is not None and time.monotonic() - first >= self.max_delay_seconds

    def _wait_until_quiet(self) -> bool:
        """Until `debounce_seconds` without a change, capped by `max_delay_seconds`."""
        with self._cond:
            while not self._stopping:
                first = self._first_change if self._first_change is not None else 0.0
                due = min(self._last_change + self.debounce_seconds, first + self.max_delay_seconds)
                remaining = due - time.monotonic()
                if remaining <= 0:
                    return True
                self._cond.wait(remaining)
            return False

    def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early only to stop; True when stopping."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self._stopping and (remaining := deadline - time.monotonic()) > 0:
                self._cond.wait(remaining)
            return self._stopping

    # --- syncing -------------------------------------------------------------------------

    def _sync_once(self, settled: Fingerprint, names: set[str] | None) -> None:
        with self._cond:
            self._first_change = None
        if names is not None and not names:
            return  # the changes were taken into the previous sync
        if not self.articles_dir.is_dir():  # unmounted share, renamed folder
            self._record_failure(
                FileNotFoundError(
                    f"the articles folder {self.articles_dir} is gone; not syncing, as that "
                    "would drop every article from the index"
                )
            )
            return
        try:
            if names is None or self._sync_changed is None:
                report = self._sync()
            else:
                report = self._sync_changed(sorted(names))
        except Exception as exc:
            self._record_failure(exc)
        else:
            self._record_success(settled, names, report, notify=True)

    def _record_success(
        self, settled: Fingerprint, names: set[str] | None, report: SyncReport, *, notify: bool
    ) -> None:
        """The folder as synced: all of it (`names` None), or the baseline with the state of
        the synced paths replaced."""
        if names is None or self._baseline is None:
            self._baseline = {path: (size, mtime) for path, size, mtime in settled}
        else:
            for name in names:
                self._baseline.pop(name, None)
                if (self.articles_dir / name).is_dir() or Path(name).suffix.lower() not in (
                    ARTICLE_SUFFIXES
                ):  # a folder (or one that was): what was below it
                    below = name + "/"
                    for path in [p for p in self._baseline if p.startswith(below)]:
                        del self._baseline[path]
            self._baseline.update((path, (size, mtime)) for path, size, mtime in settled)
        self._failures = 0
        self._retry_at = 0.0
        self.syncs += 1
        if notify and self._on_synced is not None:
            _call_safely(self._on_synced, report)

    def _record_failure(self, exc: Exception) -> None:
        """Keep the old baseline, so a later rescan notices the folder still differs; the
        retry looks at everything."""
        with self._cond:
            self._changed = None
        self._failures += 1
        delay = min(self.max_retry_seconds, self.rescan_seconds * 2 ** (self._failures - 1))
        self._retry_at = time.monotonic() + delay
        log.error("sync failed (retrying in %.0fs): %s", delay, exc)
        if self._on_error is not None:
            _call_safely(self._on_error, exc)


def _call_safely(callback: Callable[..., object], *args: object) -> None:
    """A broken callback must not kill the watcher thread."""
    try:
        callback(*args)
    except Exception:
        log.exception("watcher callback %r failed", callback)


# --- `newsbot watch` -----------------------------------------------------------------------


def run_watch(settings: Settings, *, stop: threading.Event | None = None) -> int:
    """Sync, then keep syncing on changes until Ctrl-C/SIGTERM (or `stop` is set); exit 0.
    Exit 1 when the index's indexer lock was lost to another process (a database restart)."""
    stop = stop or threading.Event()
    lock = service_lock(settings.index_location, on_lost=lambda error: stop.set())
    with lock, _sigterm_as_interrupt():
        live = open_live(settings)
        watcher = ArticleWatcher(
            settings.articles_dir,
            live.sync,
            sync_changed=lambda paths: live.sync(paths=paths),
            on_synced=_print_report,
            on_error=_print_error,
        )
        feeds = None
        try:
            _say(f"indexing {settings.articles_dir} …")
            report = watcher.start(initial_sync=True)
            if report is not None:
                _print_report(report)
            how = "file events + rescans" if watcher.events_active else "rescans"
            _say(f"watching {settings.articles_dir} ({how}); Ctrl-C to stop")
            feeds = start_feed_loop(
                settings, lambda line: _say(f"{datetime.now():%H:%M:%S} {line}")
            )
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if feeds is not None:
                feeds.stop()
            _stop_watcher(watcher)
    if lock.lost is not None:  # another indexer holds the index now: not two at once
        _say(str(lock.lost))
        return 1
    return 0


def _stop_watcher(watcher: ArticleWatcher) -> None:
    """Let a running sync finish (it is atomic either way); a second Ctrl-C abandons it."""
    if watcher.stop(timeout=1.0):
        return
    _say("waiting for the running sync to finish (Ctrl-C again to abandon it) …")
    with suppress(KeyboardInterrupt):
        watcher.stop()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """`kill` (SIGTERM) stops `newsbot watch` as cleanly as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _say(message: str) -> None:
    print(f"newsbot watch: {message}", file=sys.stderr, flush=True)


def _print_report(report: SyncReport) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    _say(f"{stamp} {report.summary()}")
    for item in report.skipped:
        _say(f"  skipped {item.path}: {item.reason}")
    for item in report.failed:
        _say(f"  failed {item.path}: {item.reason}")


def _print_error(exc: Exception) -> None:
    _say(f"{datetime.now():%H:%M:%S} sync failed: {exc} (will retry)")
