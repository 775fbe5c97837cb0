"""Admin uploads and /reindex: safe names, no overwrites, atomic saves, immediate indexing."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
import unicodedata
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from telegram.ext import Application, ApplicationBuilder

from bot.settings import Settings, load_settings
from bot.telegram.admin import (
    MAX_UPLOAD_BYTES,
    NOT_ADMIN,
    register_admin_handlers,
    safe_article_name,
    save_upload,
    start_watching,
    stop_watching,
)
from bot.telegram.app import build_application
from bot.telegram.state import CONTEXT_TYPES
from index.lock import ServiceLockedError
from index.sync import SyncReport
from retrieval.live import LiveIndex
from tests.fakes.embedder import FakeEmbedder
from tests.fakes.telegram import FakeTelegram

TOKEN = "123:ABC"
ADMIN = 42
STRANGER = 77
SAFE_NAME = re.compile(r"[A-Za-z0-9äöüÄÖÜß][A-Za-z0-9._\-äöüÄÖÜß]*\.(txt|md)")
ARTICLE = "Pinguine in Berlin\n\nIm Berliner Zoo sind drei Kaiserpinguine geschlüpft. Die Küken wiegen je 300 Gramm.\n"  # noqa: E501


# --- safe_article_name --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("bericht.txt", "bericht.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.md", "win.ini.md"),
        ("C:\\Users\\x\\notes.TXT", "notes.txt"),
        ("dir/sub\\name.txt", "name.txt"),
        (".hidden.txt", "hidden.txt"),
        ("...txt", "article.txt"),
        (".txt", "article.txt"),
        ("con.txt", "con_.txt"),
        ("CON.TXT", "CON_.txt"),
        ("lpt1.backup.md", "lpt1_.backup.md"),
        ("evil\x00.txt", "evil.txt"),
        ("Bericht über Ärger & Co.md", "Bericht_über_Ärger_Co.md"),
        (unicodedata.normalize("NFD", "Grüße.txt"), "Grüße.txt"),
        ("-rf --no-preserve-root.txt", "rf_--no-preserve-root.txt"),
        ("  spaced  name .txt ", "spaced_name.txt"),
        ("line\nbreak\ttab.txt", "line_break_tab.txt"),
    ],
)
def test_safe_article_name(original: str, expected: str):
    assert safe_article_name(original) == expected


@pytest.mark.parametrize(
    "original",
    ["..", ".", "", "/", "passwd", "evil.txt\x00.exe", "report.pdf", "archive.txt.zip", "x.txt/"],
)
def test_names_without_an_article_extension_are_refused(original: str):
    with pytest.raises(ValueError, match=r"\.txt and \.md"):
        safe_article_name(original)


def test_very_long_names_are_capped_and_keep_their_extension():
    name = safe_article_name("ü" * 500 + ".md")
    assert name.endswith(".md")
    assert len(name.encode()) < 200


@pytest.mark.parametrize(
    "original",
    ["../../etc/passwd.txt", "..\\..\\x.txt", ".hidden.txt", "a" * 300 + ".txt", "con.txt"],
)
def test_every_safe_name_stays_inside_the_folder(tmp_path: Path, original: str):
    name = safe_article_name(original)
    assert SAFE_NAME.fullmatch(name)
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()


# --- save_upload --------------------------------------------------------------------------


def test_upload_is_saved_atomically_with_no_temp_file_left(tmp_path: Path):
    saved = save_upload(tmp_path, "pinguine.txt", ARTICLE.encode())

    assert (saved.name, saved.created, saved.renamed) == ("pinguine.txt", True, False)
    assert (tmp_path / "pinguine.txt").read_text() == ARTICLE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pinguine.txt"]


def test_same_name_same_content_is_already_there(tmp_path: Path):
    save_upload(tmp_path, "pinguine.txt", ARTICLE.encode())
    again = save_upload(tmp_path, "pinguine.txt", ARTICLE.encode())

    assert (again.name, again.created) == ("pinguine.txt", False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pinguine.txt"]


def test_same_name_other_content_is_never_overwritten(tmp_path: Path):
    save_upload(tmp_path, "pinguine.txt", ARTICLE.encode())
    second = save_upload(tmp_path, "pinguine.txt", b"Etwas ganz anderes.\n")
    third = save_upload(tmp_path, "pinguine.txt", b"Noch etwas anderes.\n")
    second_again = save_upload(tmp_path, "pinguine.txt", b"Etwas ganz anderes.\n")

    assert (second.name, second.requested, second.renamed) == (
        "pinguine-2.txt",
        "pinguine.txt",
        True,
    )
    assert third.name == "pinguine-3.txt"
    assert (second_again.name, second_again.created) == ("pinguine-2.txt", False)
    assert (tmp_path / "pinguine.txt").read_text() == ARTICLE


def test_a_folder_with_the_name_is_not_replaced(tmp_path: Path):
    (tmp_path / "pinguine.txt").mkdir()
    assert save_upload(tmp_path, "pinguine.txt", ARTICLE.encode()).name == "pinguine-2.txt"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n\n ", "empty"),
        (b"caf\xe9 au lait", "UTF-8"),
        (b"text\x00binary", "binary"),
        (b"x" * (MAX_UPLOAD_BYTES + 1), "too large"),
    ],
)
def test_invalid_uploads_are_refused_and_nothing_is_written(
    tmp_path: Path, data: bytes, reason: str
):
    with pytest.raises(ValueError, match=reason):
        save_upload(tmp_path, "x.txt", data)
    assert list(tmp_path.iterdir()) == []


def test_hostile_name_is_saved_inside_the_folder(tmp_path: Path):
    articles = tmp_path / "articles"
    saved = save_upload(articles, "../../etc/passwd.txt", ARTICLE.encode())
    assert saved.name == "passwd.txt"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["passwd.txt"]


# --- the handlers, against the fake Bot API -------------------------------------------------


@pytest.fixture
async def bot(
    articles_dir: Path, index_dir: Path, fake_embedder
) -> AsyncIterator[tuple[FakeTelegram, LiveIndex]]:
    settings = load_settings(
        articles_dir=articles_dir, index_dir=index_dir, telegram_admin_ids=frozenset({ADMIN})
    )
    live = LiveIndex(articles_dir, index_dir, fake_embedder)
    live.sync()
    with FakeTelegram(token=TOKEN, max_poll_seconds=0.5) as tg:
        app: Application = (
            ApplicationBuilder()
            .context_types(CONTEXT_TYPES)
            .token(TOKEN)
            .base_url(tg.base_url)
            .base_file_url(tg.base_file_url)
            .concurrent_updates(True)
            .build()
        )
        app.bot_data.settings, app.bot_data.live = settings, live
        register_admin_handlers(app)
        async with app:
            await app.start()
            await app.updater.start_polling(timeout=5)
            try:
                yield tg, live
            finally:
                await app.updater.stop()
                await app.stop()
        assert tg.errors == []


async def reply_to(tg: FakeTelegram, chat_id: int, since: int) -> str:
    _, params = await tg.async_wait_for(
        lambda m, p: m.lower() == "sendmessage" and p.get("chat_id") == chat_id, since=since
    )
    return params["text"]


async def test_admin_upload_is_saved_indexed_and_answered_from(bot, articles_dir: Path):
    tg, live = bot
    since = len(tg.requests)
    tg.push_document(ADMIN, "Pinguine im Zoo.txt", ARTICLE.encode())

    reply = await reply_to(tg, ADMIN, since)

    assert "Saved as Pinguine_im_Zoo.txt" in reply
    assert "Title: Pinguine in Berlin" in reply
    assert re.search(r"Indexed in \d+ chunks?;", reply)
    assert (articles_dir / "Pinguine_im_Zoo.txt").read_bytes() == ARTICLE.encode()
    answer = live.answer("Im Berliner Zoo sind drei Kaiserpinguine geschlüpft.")
    assert answer.quotes[0].article == "Pinguine_im_Zoo.txt"


async def test_admin_upload_twice_and_name_clash(bot, articles_dir: Path):
    tg, _ = bot
    since = len(tg.requests)
    tg.push_document(ADMIN, "zoo.txt", ARTICLE.encode())
    assert "Saved as zoo.txt" in await reply_to(tg, ADMIN, since)

    since = len(tg.requests)
    tg.push_document(ADMIN, "zoo.txt", ARTICLE.encode())
    assert "already there" in await reply_to(tg, ADMIN, since)

    since = len(tg.requests)
    tg.push_document(ADMIN, "zoo.txt", "Ein anderer Artikel\n\nÜber Elefanten im Zoo.\n".encode())
    reply = await reply_to(tg, ADMIN, since)
    assert "Saved as zoo-2.txt" in reply and "did not overwrite" in reply
    assert (articles_dir / "zoo.txt").read_bytes() == ARTICLE.encode()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("photo.jpg", b"\xff\xd8\xff", ".txt and .md"),
        ("latin1.txt", b"caf\xe9 au lait", "UTF-8"),
        ("empty.md", b"\n\n", "empty"),
    ],
)
async def test_admin_upload_refused_with_reason(
    bot, articles_dir: Path, name: str, content: bytes, reason: str
):
    tg, _ = bot
    before = sorted(articles_dir.iterdir())
    since = len(tg.requests)
    tg.push_document(ADMIN, name, content)

    reply = await reply_to(tg, ADMIN, since)

    assert reply.startswith("I can't add") and reason in reply
    assert sorted(articles_dir.iterdir()) == before


async def test_hostile_upload_name_stays_in_the_folder(bot, articles_dir: Path, tmp_path: Path):
    tg, _ = bot
    since = len(tg.requests)
    tg.push_document(ADMIN, "../../evil.txt", ARTICLE.encode())

    assert "Saved as evil.txt" in await reply_to(tg, ADMIN, since)
    assert (articles_dir / "evil.txt").is_file()
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path.parent / "evil.txt").exists()


async def test_non_admin_can_neither_upload_nor_reindex(bot, articles_dir: Path):
    tg, _ = bot
    before = sorted(articles_dir.iterdir())
    since = len(tg.requests)
    tg.push_document(STRANGER, "zoo.txt", ARTICLE.encode())
    assert await reply_to(tg, STRANGER, since) == NOT_ADMIN

    since = len(tg.requests)
    tg.push_message(STRANGER, "/reindex")
    assert await reply_to(tg, STRANGER, since) == NOT_ADMIN
    assert sorted(articles_dir.iterdir()) == before
    assert not any(m.lower() == "getfile" for m, _ in tg.requests)


async def test_reindex_picks_up_a_dropped_file_and_reports(bot, articles_dir: Path):
    tg, live = bot
    (articles_dir / "dropped.txt").write_text(ARTICLE)
    (articles_dir / "broken.txt").write_bytes(b"caf\xe9")
    since = len(tg.requests)
    tg.push_message(ADMIN, "/reindex")

    reply = await reply_to(tg, ADMIN, since)

    assert reply.startswith("Re-indexed: added 1, updated 0, removed 0")
    assert "skipped broken.txt: not valid UTF-8" in reply
    assert "dropped.txt" in {a.path for a in live.articles()}


# --- the watcher next to the running bot --------------------------------------------------


class SlowEmbedder(FakeEmbedder):
    """Embedding passages takes a second, as for a long article with a real model."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = threading.Event()

    def embed_passages(self, texts):
        self.embedding.set()
        time.sleep(1.0)
        return super().embed_passages(texts)


# Near-verbatim questions: FakeEmbedder has no semantics and retrieval abstains when unsure.
FREIGHTER = "Im Hafen von Kiel legte ein Frachter voller Pinguine an."
OTHER_QUESTION = (
    "Die Unterstützer der Ukraine vereinbarten, kollektiven Druck auf Russland auszuüben, um "
    "Moskau zur Zustimmung zu einer Waffenruhe zu bewegen."
)


def bot_settings(tg: FakeTelegram, articles_dir: Path, index_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        TELEGRAM_BOT_TOKEN=tg.token,
        TELEGRAM_BASE_URL=tg.base_url,
        NEWSBOT_ARTICLES_DIR=str(articles_dir),
        NEWSBOT_INDEX_DIR=str(index_dir),
    )


def message_to(chat_id: int) -> Callable[[str, dict], bool]:
    return lambda method, params: method == "sendMessage" and params.get("chat_id") == chat_id


async def test_bot_answers_from_a_dropped_article_and_others_meanwhile(
    articles_dir: Path, index_dir: Path
):
    embedder = SlowEmbedder()
    live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    live.sync()
    live.embedder = embedder  # same model id; only new articles are slow to embed
    added = asyncio.Event()

    async def on_synced(report: SyncReport) -> None:
        if report.added:
            added.set()

    with FakeTelegram(token=TOKEN, max_poll_seconds=0.5) as tg:
        app = build_application(bot_settings(tg, articles_dir, index_dir), live)
        async with app:
            await app.start()
            await app.updater.start_polling(timeout=5)
            await start_watching(app, on_synced=on_synced)
            try:
                (articles_dir / "kiel.txt").write_text(f"Hafen\n\n{FREIGHTER}\n")
                assert await asyncio.to_thread(embedder.embedding.wait, 10)
                since = len(tg.requests)
                tg.push_message(501, OTHER_QUESTION)
                _, during = await tg.async_wait_for(message_to(501), since=since)
                assert not added.is_set(), "the answer waited for the sync"
                assert "<blockquote>" in during["text"]

                await asyncio.wait_for(added.wait(), 10)
                since = len(tg.requests)
                tg.push_message(502, FREIGHTER)
                _, after = await tg.async_wait_for(message_to(502), since=since)
            finally:
                await stop_watching(app)
                await app.updater.stop()
                await app.stop()
        assert tg.errors == []
    first_quote = after["text"].split("</blockquote>")[0]
    assert "Frachter voller Pinguine" in first_quote
    assert "[1] Hafen, ¶1" in after["text"]  # cited by its title
    # How many seconds drop-to-answer takes is measured by `make bench` (drop_to_answer).


async def test_one_watching_bot_per_index(articles_dir: Path, index_dir: Path):
    def app_for(live: LiveIndex) -> Application:
        app = ApplicationBuilder().context_types(CONTEXT_TYPES).token(TOKEN).build()
        settings = load_settings(articles_dir=articles_dir, index_dir=index_dir)
        app.bot_data.settings, app.bot_data.live = settings, live
        return app

    live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    first, second = app_for(live), app_for(live)
    await start_watching(first)
    try:
        with pytest.raises(ServiceLockedError, match=rf"pid {os.getpid()}"):
            await start_watching(second)
    finally:
        await stop_watching(first)
    await start_watching(second)  # free again
    await stop_watching(second)
    await stop_watching(second)  # twice is harmless (post_shutdown after a failed start)


async def test_the_full_bot_takes_admin_uploads_and_refuses_strangers(
    articles_dir: Path, index_dir: Path
):
    live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    live.sync()
    with FakeTelegram(token=TOKEN, max_poll_seconds=0.5) as tg:
        settings = bot_settings(tg, articles_dir, index_dir).model_copy(
            update={"telegram_admin_ids": frozenset({ADMIN})}
        )
        app = build_application(settings, live)
        async with app:
            await app.start()
            await app.updater.start_polling(timeout=5)
            try:
                since = len(tg.requests)
                tg.push_document(STRANGER, "kiel.txt", f"Hafen\n\n{FREIGHTER}\n".encode())
                _, refused = await tg.async_wait_for(message_to(STRANGER), since=since)

                since = len(tg.requests)
                tg.push_document(ADMIN, "kiel.txt", f"Hafen\n\n{FREIGHTER}\n".encode())
                _, saved = await tg.async_wait_for(message_to(ADMIN), since=since)

                since = len(tg.requests)
                tg.push_message(STRANGER, FREIGHTER)
                _, answer = await tg.async_wait_for(message_to(STRANGER), since=since)
            finally:
                await app.updater.stop()
                await app.stop()
        assert tg.errors == []
    assert refused["text"] == NOT_ADMIN
    assert saved["text"].startswith("Saved as kiel.txt.\nTitle: Hafen\nIndexed in 1 chunk;")
    assert "[1] Hafen, ¶1" in answer["text"] and "Frachter voller Pinguine" in answer["text"]
