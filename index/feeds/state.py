"""What newsbot remembers about feeds, kept with the index so a restart neither loses the
subscriptions nor fetches everything again.

`FeedState` is the one protocol; `SqliteFeedState` keeps it in `feeds.sqlite` in the embedded
index's folder, `PostgresFeedState` in tables of the index's PostgreSQL database. Both pass
the same contract tests (tests/test_feed_state.py).

A story is one article file (`path`); it is known by several keys: `guid:<GUID>`,
`link:<entry link>`, `url:<canonical URL>` and `text:<hash of its text>`, so the same article
reached through two feeds, or re-announced, maps to the one file. `signature` (per key) is
what the feed said about the entry last time: an unchanged entry is not fetched again.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol, runtime_checkable

from index.stores.postgres import _reported

STATE_FILE = "feeds.sqlite"


class FeedExistsError(ValueError):
    """The feed is subscribed already."""


class UnknownFeedError(KeyError):
    """No such feed (by URL or number)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such feed"


@dataclass(slots=True)
class Feed:
    id: int
    url: str
    added: float
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_success: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    failures: int = 0  # failed polls in a row
    next_poll: float = 0.0  # epoch seconds; due when <= now


@dataclass(frozen=True, slots=True)
class Story:
    path: str  # the article file, relative to the articles folder
    url: str | None
    content_hash: str


_FEED_COLUMNS = [f.name for f in fields(Feed)]


@runtime_checkable
class FeedState(Protocol):
    def add_feed(self, url: str) -> Feed: ...

    def remove_feed(self, feed_id: int) -> Feed: ...

    def feeds(self) -> list[Feed]: ...

    def update_feed(self, feed: Feed) -> None: ...

    def story(self, keys: Iterable[str]) -> Story | None: ...

    def signature(self, key: str) -> str | None: ...

    def save_story(self, story: Story, keys: dict[str, str | None]) -> None: ...

    def close(self) -> None: ...


def find_feed(state: FeedState, url_or_number: str) -> Feed:
    """A feed by its number (as `feeds list` shows it) or its URL."""
    feeds = state.feeds()
    text = url_or_number.strip()
    if text.lstrip("#").isdigit():
        number = int(text.lstrip("#"))
        for feed in feeds:
            if feed.id == number:
                return feed
        raise UnknownFeedError(f"no feed number {number}")
    for feed in feeds:
        if feed.url == text:
            return feed
    raise UnknownFeedError(f"not subscribed: {text}")


def open_feed_state(location: Path | str) -> FeedState:
    """The feed state beside the index at `location` (a folder, or a postgresql:// URL)."""
    if isinstance(location, str) and location.startswith(("postgresql://", "postgres://")):
        return PostgresFeedState(location)
    return SqliteFeedState(Path(location) / STATE_FILE)


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    added REAL NOT NULL,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    last_success REAL,
    last_error TEXT,
    last_error_at REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    next_poll REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS feed_stories (
    path TEXT PRIMARY KEY,
    url TEXT,
    content_hash TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_keys (
    key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    signature TEXT
);
"""


class SqliteFeedState:
    """The embedded index's feed state: one small SQLite file in the index folder (WAL, so
    the CLI may add a feed while `newsbot watch` polls)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SQLITE_SCHEMA)

    def add_feed(self, url: str) -> Feed:
        with self._lock:
            try:
                cursor = self._db.execute(
                    "INSERT INTO feeds (url, added) VALUES (?, ?)", (url, time.time())
                )
            except sqlite3.IntegrityError:
                raise FeedExistsError(f"already subscribed: {url}") from None
            return self._feed("WHERE id = ?", cursor.lastrowid)[0]

    def remove_feed(self, feed_id: int) -> Feed:
        with self._lock:
            found = self._feed("WHERE id = ?", feed_id)
            if not found:
                raise UnknownFeedError(f"no feed number {feed_id}")
            self._db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
            return found[0]

    def feeds(self) -> list[Feed]:
        with self._lock:
            return self._feed("ORDER BY id")

    def update_feed(self, feed: Feed) -> None:
        columns = [c for c in _FEED_COLUMNS if c not in ("id", "url", "added")]
        with self._lock:
            self._db.execute(
                f"UPDATE feeds SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
                [getattr(feed, c) for c in columns] + [feed.id],
            )

    def story(self, keys: Iterable[str]) -> Story | None:
        with self._lock:
            for key in keys:
                row = self._db.execute(
                    "SELECT s.path, s.url, s.content_hash FROM feed_keys k "
                    "JOIN feed_stories s ON s.path = k.path WHERE k.key = ?",
                    (key,),
                ).fetchone()
                if row:
                    return Story(*row)
        return None

    def signature(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT signature FROM feed_keys WHERE key = ?", (key,))
            found = row.fetchone()
        return found[0] if found else None

    def save_story(self, story: Story, keys: dict[str, str | None]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO feed_stories (path, url, content_hash, updated) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET url = excluded.url, "
                    "content_hash = excluded.content_hash, updated = excluded.updated",
                    (story.path, story.url, story.content_hash, time.time()),
                )
                for key, signature in keys.items():
                    self._db.execute(
                        "INSERT INTO feed_keys (key, path, signature) VALUES (?, ?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET path = excluded.path, "
                        "signature = COALESCE(excluded.signature, feed_keys.signature)",
                        (key, story.path, signature),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _feed(self, where: str, *params: object) -> list[Feed]:
        rows = self._db.execute(f"SELECT {', '.join(_FEED_COLUMNS)} FROM feeds {where}", params)
        return [Feed(*row) for row in rows]


_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS newsbot_feeds (
    id BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    added DOUBLE PRECISION NOT NULL,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    last_success DOUBLE PRECISION,
    last_error TEXT,
    last_error_at DOUBLE PRECISION,
    failures INTEGER NOT NULL DEFAULT 0,
    next_poll DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS newsbot_feed_stories (
    path TEXT PRIMARY KEY,
    url TEXT,
    content_hash TEXT NOT NULL,
    updated DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS newsbot_feed_keys (
    key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    signature TEXT
);
"""


class PostgresFeedState:
    """The PostgreSQL index's feed state: three tables in the index's database (the schema
    its URL's search_path names), shared by every process that uses that index."""

    def __init__(self, location: str) -> None:
        import psycopg

        from index.stores.postgres import retrying

        self._psycopg = psycopg
        self.location = location
        self._lock = threading.Lock()
        # rides out a restart like every read of the index (then StoreUnavailableError)
        self._connection = retrying(location, self._open)

    def _connect(self):
        from index.stores.postgres import connect

        return connect(self.location, vectors=False)

    def _open(self):
        """A connection, with the tables created if missing (a lost one raises, retried)."""
        connection = self._connect()
        try:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(hashtext('newsbot_feeds_schema'))")
                for statement in filter(str.strip, _PG_SCHEMA.split(";")):
                    connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        return connection

    @property
    def _db(self):
        """The connection; a new one when a restart or an outage broke the last (the call
        that found it broken failed with `StoreUnavailableError`, the next one works)."""
        if self._connection.closed:
            from index.stores.postgres import retrying

            self._connection = retrying(self.location, self._connect, seconds=0)
        return self._connection

    @_reported
    def add_feed(self, url: str) -> Feed:
        with self._lock:
            row = self._db.execute(
                "INSERT INTO newsbot_feeds (url, added) VALUES (%s, %s) "
                "ON CONFLICT (url) DO NOTHING RETURNING id",
                (url, time.time()),
            ).fetchone()
            if row is None:
                raise FeedExistsError(f"already subscribed: {url}")
            return self._feed("WHERE id = %s", row[0])[0]

    @_reported
    def remove_feed(self, feed_id: int) -> Feed:
        with self._lock:
            found = self._feed("WHERE id = %s", feed_id)
            if not found:
                raise UnknownFeedError(f"no feed number {feed_id}")
            self._db.execute("DELETE FROM newsbot_feeds WHERE id = %s", (feed_id,))
            return found[0]

    @_reported
    def feeds(self) -> list[Feed]:
        with self._lock:
            return self._feed("ORDER BY id")

    @_reported
    def update_feed(self, feed: Feed) -> None:
        columns = [c for c in _FEED_COLUMNS if c not in ("id", "url", "added")]
        with self._lock:
            self._db.execute(
                f"UPDATE newsbot_feeds SET {', '.join(f'{c} = %s' for c in columns)} WHERE id = %s",
                [getattr(feed, c) for c in columns] + [feed.id],
            )

    @_reported
    def story(self, keys: Iterable[str]) -> Story | None:
        with self._lock:
            for key in keys:
                row = self._db.execute(
                    "SELECT s.path, s.url, s.content_hash FROM newsbot_feed_keys k "
                    "JOIN newsbot_feed_stories s ON s.path = k.path WHERE k.key = %s",
                    (key,),
                ).fetchone()
                if row:
                    return Story(*row)
        return None

    @_reported
    def signature(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT signature FROM newsbot_feed_keys WHERE key = %s", (key,)
            ).fetchone()
        return row[0] if row else None

    @_reported
    def save_story(self, story: Story, keys: dict[str, str | None]) -> None:
        with self._lock, self._db.transaction():
            self._db.execute(
                "INSERT INTO newsbot_feed_stories (path, url, content_hash, updated) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (path) DO UPDATE SET url = excluded.url, "
                "content_hash = excluded.content_hash, updated = excluded.updated",
                (story.path, story.url, story.content_hash, time.time()),
            )
            for key, signature in keys.items():
                self._db.execute(
                    "INSERT INTO newsbot_feed_keys (key, path, signature) VALUES (%s, %s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET path = excluded.path, "
                    "signature = COALESCE(excluded.signature, newsbot_feed_keys.signature)",
                    (key, story.path, signature),
                )

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def _feed(self, where: str, *params: object) -> list[Feed]:
        rows = self._db.execute(
            f"SELECT {', '.join(_FEED_COLUMNS)} FROM newsbot_feeds {where}", params
        ).fetchall()
        return [Feed(*row) for row in rows]


def keys_for(
    *,
    guid: str | None = None,
    link: str | None = None,
    url: str | None = None,
    text_hash: str | None = None,
) -> list[str]:
    """The keys a story is known by, most specific first."""
    found = []
    if guid:
        found.append(f"guid:{guid}")
    if link:
        found.append(f"link:{normalize_url(link)}")
    if url:
        found.append(f"url:{normalize_url(url)}")
    if text_hash:
        found.append(f"text:{text_hash}")
    return list(dict.fromkeys(found))


def normalize_url(url: str) -> str:
    """The same page however it is linked: scheme and host lower-case, no fragment, no
    trailing slash, no tracking parameters (utm_*)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if not k.lower().startswith("utm_")]
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))
