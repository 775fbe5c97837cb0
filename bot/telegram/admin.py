"""Admin features of the Telegram bot: adding articles by upload, /reindex, the folder watcher.

Uploads are validated like any article file, saved under a name that cannot escape the
articles folder, never overwrite a different article, and appear in the folder in one step
(hard link of a fully written hidden temp file), so the watcher never sees half a file.
Blocking work (disk, sync) runs in worker threads, so the bot keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from telegram import Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.feeds import start_feed_loop
from bot.settings import Settings
from bot.telegram.state import BotState, Context
from bot.watch import ArticleWatcher
from index.files import TEXT_SUFFIXES, decode_article, fsync_dir
from index.lock import IndexLockedError
from index.stores import is_postgresql, service_lock
from index.stores.base import StoreError
from index.sync import SyncReport
from retrieval.live import LiveIndex

log = logging.getLogger(__name__)


MAX_UPLOAD_BYTES = 1_000_000
MAX_STEM_CHARS = 80  # + "-NN" + ".txt" stays far below every file system's 255 bytes
MAX_SAME_NAME = 1000
REPORT_LINES = 10  # skipped/failed files listed in a /reindex reply

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._\-äöüÄÖÜß]+")
_REPEATED_UNDERSCORE = re.compile(r"_{2,}")
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{n}" for n in range(1, 10)}
    | {f"lpt{n}" for n in range(1, 10)}
)

NOT_ADMIN = (
    "Sorry, only the bot's admins can add articles or re-index. "
    "You can still ask me anything about the articles."
)


# --- pure helpers ------------------------------------------------------------------------


def safe_article_name(original: str) -> str:
    """A plain file name for an uploaded article: no folders, no leading dot, no device names,
    only [A-Za-z0-9._-] and umlauts, bounded length, the .txt/.md extension kept.

    Raises ValueError when the name does not end in .txt or .md.
    """
    name = unicodedata.normalize("NFC", original).replace("\x00", "")
    name = re.split(r"[/\\]", name)[-1].strip()
    stem, dot, extension = name.rpartition(".")
    suffix = f".{extension.lower()}"
    if not dot or suffix not in TEXT_SUFFIXES:
        raise ValueError("only .txt and .md files can be added")
    stem = _REPEATED_UNDERSCORE.sub("_", _UNSAFE_RUN.sub("_", stem))
    stem = stem[:MAX_STEM_CHARS].strip("._-") or "article"
    device, _, rest = stem.partition(".")
    if device.lower() in _WINDOWS_DEVICES:
        stem = f"{device}_{'.' if rest else ''}{rest}"
    return stem + suffix


@dataclass(frozen=True, slots=True)
class SavedUpload:
    name: str  # where it is, relative to the articles folder
    requested: str  # the safe name asked for; differs when that was taken
    created: bool  # False: an identical file was already there

    @property
    def renamed(self) -> bool:
        return self.name != self.requested


def save_upload(articles_dir: Path, original_name: str, data: bytes) -> SavedUpload:
    """Validate and store an uploaded article without ever overwriting a different one.

    Raises ValueError with a reason fit for the uploader.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"too large ({len(data):,} bytes; limit {MAX_UPLOAD_BYTES:,})")
    decode_article(data)
    requested = safe_article_name(original_name)
    articles_dir = Path(articles_dir)
    articles_dir.mkdir(parents=True, exist_ok=True)
    temp = _write_hidden_temp(articles_dir, data)
    try:
        for name in _candidate_names(requested):
            target = articles_dir / name
            if _place_without_overwriting(temp, target):
                fsync_dir(articles_dir)
                return SavedUpload(name, requested, created=True)
            if _has_content(target, data):
                return SavedUpload(name, requested, created=False)
    finally:
        temp.unlink(missing_ok=True)
    raise ValueError(f"too many articles are already called {requested}")


def _candidate_names(requested: str) -> Iterator[str]:
    yield requested
    stem, suffix = os.path.splitext(requested)
    for number in range(2, MAX_SAME_NAME + 1):
        yield f"{stem}-{number}{suffix}"


def _write_hidden_temp(folder: Path, data: bytes) -> Path:
    """Hidden, so neither the watcher nor a sync looks at it while it is being written."""
    temp = folder / f".upload-{uuid.uuid4().hex[:12]}.tmp"
    with open(temp, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return temp


def _place_without_overwriting(temp: Path, target: Path) -> bool:
    """Make `temp`'s complete content appear at `target` in one step; False if taken."""
    try:
        os.link(temp, target)  # atomic, and fails instead of replacing
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links here (some network/FUSE file systems)
        if target.exists() or target.is_symlink():
            return False
        os.replace(temp, target)
        return True


def _has_content(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class AddedArticle:
    saved: SavedUpload
    title: str | None
    chunk_count: int | None  # None: the sync did not index it (see `problem`)
    problem: str | None = None


def save_and_index(live: LiveIndex, original_name: str, data: bytes) -> AddedArticle:
    """Save an upload and index it now (blocking: run it in a worker thread)."""
    saved = save_upload(live.articles_dir, original_name, data)
    report = live.sync()
    record = next((a for a in live.articles() if a.path == saved.name), None)
    if record is not None:
        return AddedArticle(saved, record.title, record.chunk_count)
    problem = next(
        (f.reason for f in [*report.skipped, *report.failed] if f.path == saved.name),
        "it was not indexed",
    )
    return AddedArticle(saved, None, None, problem)


def describe_added(added: AddedArticle, original_name: str) -> str:
    saved = added.saved
    if not saved.created:
        lines = [f"{saved.name} is already there with exactly this content; nothing to do."]
    elif saved.renamed:
        lines = [
            f"Saved as {saved.name}: {saved.requested} already exists with different content, "
            "so I did not overwrite it."
        ]
    elif saved.name != original_name:
        lines = [f"Saved as {saved.name} (a safe version of the file name)."]
    else:
        lines = [f"Saved as {saved.name}."]
    if added.chunk_count is None:
        lines.append(f"But I could not index it: {added.problem}.")
    else:
        lines.append(f"Title: {added.title or '(none)'}")
        chunks = f"{added.chunk_count} chunk{'' if added.chunk_count == 1 else 's'}"
        lines.append(f"Indexed in {chunks}; you can ask about it now.")
    return "\n".join(lines)


def describe_report(report: SyncReport) -> str:
    lines = [f"Re-indexed: {report.summary()}."]
    problems = [("skipped", f) for f in report.skipped] + [("failed", f) for f in report.failed]
    for kind, item in problems[:REPORT_LINES]:
        lines.append(f"{kind} {item.path}: {item.reason}")
    if len(problems) > REPORT_LINES:
        lines.append(f"… and {len(problems) - REPORT_LINES} more")
    return "\n".join(lines)


# --- Telegram handlers -------------------------------------------------------------------


NEW_MESSAGES = filters.UpdateType.MESSAGE  # an edited old message must not act again


def register_admin_handlers(application: Application) -> None:
    """Register before any catch-all message handler, so documents and /reindex reach us.

    Uploads are taken in private chats only: a file shared in a group is not meant for us.
    """
    application.add_handler(CommandHandler("reindex", handle_reindex, filters=NEW_MESSAGES))
    application.add_handler(
        MessageHandler(
            NEW_MESSAGES & filters.ChatType.PRIVATE & filters.Document.ALL, handle_document
        )
    )


def _settings(context: Context) -> Settings:
    return context.bot_data.settings


def _live(context: Context) -> LiveIndex:
    return context.bot_data.live


def shared_index_problem(settings: Settings, state: BotState) -> str | None:
    """A shared (PostgreSQL) index is fed by the one process that holds its service lock;
    another bot must not sync its own articles folder into it (it may hold other files)."""
    if is_postgresql(settings.index_location) and state.service_lock is None:
        return (
            "this bot answers from a shared index that another newsbot process keeps in sync; "
            "add articles and re-index there"
        )
    return None


def is_admin(update: Update, settings: Settings) -> bool:
    user = update.effective_user
    return user is not None and user.id in settings.telegram_admin_ids


async def _refused(update: Update, context: Context, refusal: str) -> bool:
    """Reply and return True unless the sender is an admin and this bot keeps its index in
    sync; `refusal` is the reply for a shared index, `{problem}` filled in."""
    message = update.effective_message
    assert message is not None
    settings = _settings(context)
    if not is_admin(update, settings):
        await message.reply_text(NOT_ADMIN)
        return True
    if problem := shared_index_problem(settings, context.bot_data):
        await message.reply_text(refusal.format(problem=problem))
        return True
    return False


async def handle_document(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.document is None:
        return
    if await _refused(update, context, "I can't add files here: {problem}."):
        return
    document = message.document
    original_name = document.file_name or ""
    problem = _upload_problem(original_name, document.file_size)
    if problem:
        await message.reply_text(f"I can't add {original_name or 'this file'}: {problem}.")
        return
    with suppress(TelegramError):
        await message.reply_chat_action(ChatAction.TYPING)
    telegram_file = await document.get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    try:
        added = await asyncio.to_thread(save_and_index, _live(context), original_name, data)
    except ValueError as exc:
        await message.reply_text(f"I can't add {original_name}: {exc}.")
        return
    except (StoreError, IndexLockedError) as exc:
        await message.reply_text(f"I saved the file but could not index it: {exc}")
        return
    await message.reply_text(describe_added(added, original_name))


def _upload_problem(original_name: str, size: int | None) -> str | None:
    """Checks that need no download, so a wrong file costs nothing."""
    try:
        safe_article_name(original_name)
    except ValueError as exc:
        return str(exc)
    if size is not None and size > MAX_UPLOAD_BYTES:
        return f"too large ({size:,} bytes; limit {MAX_UPLOAD_BYTES:,})"
    return None


async def handle_reindex(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    if await _refused(update, context, "Re-indexing is not done here: {problem}."):
        return
    try:
        report = await asyncio.to_thread(_live(context).sync)
    except (StoreError, IndexLockedError) as exc:
        await message.reply_text(f"Re-indexing failed: {exc}")
        return
    await message.reply_text(describe_report(report))


# --- the folder watcher next to the bot --------------------------------------------------

SyncedHook = Callable[[SyncReport], Awaitable[object] | None]


async def start_watching(application: Application, on_synced: SyncedHook | None = None) -> None:
    """For `post_init`: claim the index for this bot and sync whenever the folder changes.

    Raises `ServiceLockedError` if another `watch`/`telegram` already keeps this index in sync.
    `on_synced` (plain or async) runs on the bot's event loop after each background sync.
    """
    state: BotState = application.bot_data
    settings, live = state.settings, state.live
    loop = asyncio.get_running_loop()

    def lost(error: Exception) -> None:  # in the lock's thread: another process syncs now
        log.error("%s; answering from what it publishes", error)
        for keeper in (state.feed_polling, state.watcher):
            if keeper is not None:
                keeper.stop()

    lock = service_lock(settings.index_location, on_lost=lost)
    lock.acquire()

    def synced(report: SyncReport) -> None:  # in the watcher's thread
        log.info("articles synced: %s", report.summary())
        for item in report.skipped:
            log.warning("skipped %s: %s", item.path, item.reason)
        if on_synced is not None:
            loop.call_soon_threadsafe(_run_hook, application, on_synced, report)

    watcher = ArticleWatcher(
        settings.articles_dir,
        live.sync,
        sync_changed=lambda paths: live.sync(paths=paths),
        on_synced=synced,
    )
    try:
        watcher.start()  # the first look syncs in the background: no wait before polling
        # the feeds are polled where the index is kept in sync; new articles reach the
        # index through the folder, as any file does
        polling = start_feed_loop(settings, _say_feeds)
    except BaseException:
        watcher.stop()
        lock.release()
        raise
    state.watcher, state.service_lock, state.feed_polling = watcher, lock, polling


def _say_feeds(line: str) -> None:
    print(f"newsbot telegram: {line}", file=sys.stderr, flush=True)


def _run_hook(application: Application, hook: SyncedHook, report: SyncReport) -> None:
    result = hook(report)
    if asyncio.iscoroutine(result):
        application.create_task(result)


async def stop_watching(application: Application) -> None:
    """For `post_shutdown`: stop the watcher (a running sync finishes) and release the index."""
    state: BotState = application.bot_data
    polling, state.feed_polling = state.feed_polling, None
    if polling is not None:
        await asyncio.to_thread(polling.stop)
    watcher, state.watcher = state.watcher, None
    if watcher is not None:
        await asyncio.to_thread(watcher.stop)
    lock, state.service_lock = state.service_lock, None
    if lock is not None:
        lock.release()
