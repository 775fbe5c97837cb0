"""Feeds in the Telegram bot: the admin commands, polling beside the watcher, title links."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.ext import Application, ApplicationBuilder

from bot.settings import load_settings
from bot.telegram.admin import start_watching, stop_watching
from bot.telegram.feeds import NOT_ADMIN, register_feed_handlers
from bot.telegram.formatting import format_answer_html
from bot.telegram.state import CONTEXT_TYPES
from retrieval.answer import Answer, Quote
from retrieval.live import LiveIndex
from tests.fakes.embedder import FakeEmbedder
from tests.fakes.feeds import ENGLISH_FACT, ENGLISH_PARAGRAPHS, Item, atom, rss
from tests.fakes.telegram import FakeTelegram, validate_html

TOKEN = "123:ABC"
ADMIN = 42
STRANGER = 77


def _quote(**overrides: object) -> Quote:
    fields: dict = {
        "text": "Ein Satz.",
        "article": "feeds/z/2026-12-05-a.md",
        "title": "Seehunde & Co",
        "date": "2026-12-05",
        "section": None,
        "paragraph": 1,
        "start": 0,
        "end": 9,
        "score": 0.5,
    }
    return Quote(**{**fields, **overrides})


def test_the_title_links_to_the_article():
    quote = _quote(url="https://zeitung.example/a?x=1&y=2")
    [message] = format_answer_html(Answer("q?", True, (quote,), "de"))
    assert message.endswith(
        '<i>[1] <a href="https://zeitung.example/a?x=1&amp;y=2">Seehunde &amp; Co</a>, '
        "2026-12-05, ¶1</i>"
    )
    assert validate_html(message) is None
    [plain] = format_answer_html(Answer("q?", True, (_quote(),), "de"))
    assert "<a " not in plain


@pytest.fixture
async def bot(tmp_path: Path, monkeypatch) -> AsyncIterator[tuple[FakeTelegram, Application]]:
    monkeypatch.chdir(tmp_path)
    articles, index = tmp_path / "articles", tmp_path / "index"
    articles.mkdir()
    settings = load_settings(
        articles_dir=articles,
        index_dir=index,
        telegram_admin_ids=frozenset({ADMIN}),
        feed_allow_private=True,  # the test server is on loopback
    )
    live = LiveIndex(articles, index, FakeEmbedder())
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
        register_feed_handlers(app)
        async with app:
            await app.start()
            await app.updater.start_polling(timeout=5)
            try:
                yield tg, app
            finally:
                await app.updater.stop()
                await app.stop()
        assert tg.errors == []


async def reply_to(tg: FakeTelegram, chat_id: int, since: int) -> str:
    _, params = await tg.async_wait_for(
        lambda m, p: m.lower() == "sendmessage" and p.get("chat_id") == chat_id, since=since
    )
    return params["text"]


async def ask(tg: FakeTelegram, user: int, text: str) -> str:
    since = len(tg.requests)
    tg.push_message(user, text)
    return await reply_to(tg, user, since)


async def test_admins_add_list_and_remove_feeds(bot, httpserver):
    tg, _ = bot
    httpserver.expect_request("/feed").respond_with_data(
        rss([]), content_type="application/rss+xml"
    )
    httpserver.expect_request("/missing").respond_with_data("", status=404)
    url = httpserver.url_for("/feed")
    assert await ask(tg, ADMIN, "/feeds") == "no feeds; add one with: /feed_add URL"
    assert await ask(tg, ADMIN, f"/feed_add {url}") == f"subscribed: feed 1: {url} (Testzeitung)"
    reply = await ask(tg, ADMIN, f"/feed_add {httpserver.url_for('/missing')}")
    assert reply.startswith("not subscribed: HTTP 404 Not Found")
    assert (await ask(tg, ADMIN, "/feeds")).startswith(f"  1  {url}  (Testzeitung)")
    assert (await ask(tg, ADMIN, "/feed_remove 1")).startswith(f"unsubscribed: feed 1: {url}")
    assert await ask(tg, ADMIN, "/feed_remove 1") == "no feed number 1"
    assert (await ask(tg, ADMIN, "/feed_add")).startswith("Usage: /feed_add URL")


async def test_strangers_cannot_manage_feeds(bot, httpserver):
    tg, _ = bot
    httpserver.expect_request("/feed").respond_with_data(
        rss([]), content_type="application/rss+xml"
    )
    for command in ("/feeds", f"/feed_add {httpserver.url_for('/feed')}", "/feed_remove 1"):
        assert await ask(tg, STRANGER, command) == NOT_ADMIN
    assert not httpserver.log  # nothing was fetched for a stranger


async def test_an_admin_url_to_an_internal_address_is_refused(bot, httpserver):
    tg, app = bot
    settings = app.bot_data.settings
    app.bot_data.settings = settings.model_copy(update={"feed_allow_private": False})
    reply = await ask(tg, ADMIN, "/feed_add http://169.254.169.254/latest/meta-data/")
    assert reply.startswith("not subscribed: refused") and "NEWSBOT_FEED_ALLOW_PRIVATE" in reply


async def test_the_bot_polls_feeds_while_it_keeps_the_index(bot, httpserver, monkeypatch):
    """Beside the folder watcher, the bot polls the feeds; what they publish is answered."""
    from retrieval import candidates
    from retrieval.translations import WordTranslations

    # the word translations take a CPU-minute to load here and do not matter to this test
    monkeypatch.setattr(candidates, "WordTranslations", lambda: WordTranslations(None))
    tg, app = bot
    content = "".join(f"<p>{p}</p>" for p in ENGLISH_PARAGRAPHS)
    link = "https://gazette.example/ferry"
    httpserver.expect_request("/atom").respond_with_data(
        atom([Item("Bicycles cross the North Sea", link, guid="en-1", content=content)]),
        content_type="application/atom+xml",
    )
    await ask(tg, ADMIN, f"/feed_add {httpserver.url_for('/atom')}")
    live: LiveIndex = app.bot_data.live
    await start_watching(app)
    try:
        for _ in range(300):
            answer = live.answer(ENGLISH_FACT)
            if answer.quotes and ENGLISH_FACT in answer.quotes[0].text:
                break
            await asyncio.sleep(0.2)
        quote = answer.quotes[0]
        assert (quote.title, quote.date, quote.url) == (
            "Bicycles cross the North Sea",
            "2026-12-05T08:30",
            link,
        )
    finally:
        await stop_watching(app)
