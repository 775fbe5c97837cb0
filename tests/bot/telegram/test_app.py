"""End-to-end tests of the Telegram bot: the real PTB `Application` against `FakeTelegram`."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

from bot.settings import Settings
from bot.telegram import app as telegram_app
from bot.telegram import time as telegram_time
from bot.telegram.answers import MAX_QUESTION_CHARS
from bot.telegram.app import (
    build_application,
    file_url_for,
    run_telegram,
)
from bot.telegram.formatting import visible_length
from index.dates import Coverage
from index.stores.base import ArticleRecord
from index.verbatim import collapse_whitespace
from retrieval.answer import Answer, Quote
from retrieval.latest import Latest
from retrieval.live import LiveIndex
from retrieval.render import NOT_ANSWERED, not_answered, shorten
from tests.conftest import KRYWYJ_ARTICLE, KRYWYJ_SENTENCE, SAMPLE_ARTICLES
from tests.fakes.embedder import use_fake_model
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.timeout(60)

TOKEN = "123456:TEST-token-never-logged"
BOT = "newsbot_test_bot"


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN, bot_username=BOT) as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(tg: FakeTelegram, **overrides: Any) -> Settings:
    values = {
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_BASE_URL": tg.base_url,
        "TELEGRAM_ALLOWED_CHAT_IDS": "",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@dataclass
class Harness:
    """Pushes updates through `application.process_update` and collects the bot's replies."""

    tg: FakeTelegram
    app: Application
    clock: Clock = field(default_factory=Clock)

    async def process(self, update: dict[str, Any]) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def send(self, chat_id: int, text: str, **kwargs: Any) -> list[dict[str, Any]]:
        """The messages the bot sent in `chat_id` in reply to `text`."""
        before = len(self.tg.sent_messages(chat_id))
        await self.process(self.tg.push_message(chat_id, text, **kwargs))
        return self.tg.sent_messages(chat_id)[before:]

    async def click(self, chat_id: int, message_id: int, data: str) -> list[dict[str, Any]]:
        before = len(self.tg.sent_messages(chat_id))
        await self.process(self.tg.push_callback_query(chat_id, message_id, data))
        return self.tg.sent_messages(chat_id)[before:]

    def callback_answers(self) -> list[dict[str, Any]]:
        return [p for m, p in self.tg.requests if m == "answerCallbackQuery"]


async def start_harness(
    tg: FakeTelegram, live: Any, clock: Clock | None = None, **settings: Any
) -> Harness:
    clock = clock or Clock()
    app = build_application(make_settings(tg, **settings), live, clock=clock)
    await app.initialize()
    return Harness(tg, app, clock)


@pytest.fixture
async def bot(tg: FakeTelegram, live: LiveIndex) -> AsyncIterator[Harness]:
    harness = await start_harness(tg, live)
    yield harness
    await harness.app.shutdown()
    assert tg.unknown_methods == []


def more_button(message: dict[str, Any]) -> str | None:
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            return button["callback_data"]
    return None


def is_answer(message: dict[str, Any]) -> bool:
    return message["raw_text"].startswith("<blockquote>") and quote_ranks(message)[0] == 1


def quote_ranks(message: dict[str, Any]) -> list[int]:
    return [int(n) for n in re.findall(r"^\[(\d+)\] ", message["text"], flags=re.M)]


# --- commands ------------------------------------------------------------------------------


async def test_start_speaks_the_users_language_with_an_example_from_the_index(
    bot: Harness, live: LiveIndex
) -> None:
    [english] = await bot.send(42, "/start", language_code="en-US")
    assert english["parse_mode"] == "HTML"
    assert "newsbot" in english["text"]
    newest = max((a for a in live.articles() if a.title), key=lambda a: (a.date or "", a.path))
    title_start = " ".join(newest.title.split()[:4])
    assert f"What do the articles say about “{title_start}" in english["text"]

    [german] = await bot.send(43, "/start", language_code="de")
    assert german["text"].startswith("Hallo!")
    assert f"Was steht in den Artikeln zu „{title_start}" in german["text"]
    assert bot.tg.errors == []


async def test_examples_are_neutral_while_the_index_is_empty(tg: FakeTelegram) -> None:
    harness = await start_harness(tg, StubLive(quotes=[]))
    try:
        [start] = await harness.send(42, "/start")
        [usage] = await harness.send(42, "/ask")
    finally:
        await harness.app.shutdown()
    assert "What happened, and who said what about it?" in start["text"]
    assert usage["text"] == "Write your question after /ask, for example: /ask " + (
        "What happened, and who said what about it?"
    )


def test_no_ui_text_knows_the_sample_story() -> None:
    """Examples come from the index (issue 9): no name of the sample story in any UI text."""
    from bot import chat
    from bot.telegram import texts as telegram_texts

    ui_texts = [v for variants in telegram_texts.TEXTS.values() for v in variants.values()]
    ui_texts += [chat.HELP]
    for name in ("Moscow", "Moskau", "Zelensky", "Selenskyj", "Putin", "Trump", "Ukrain"):
        assert not [t for t in ui_texts if name in t], name


async def test_help_in_german(bot: Harness) -> None:
    [reply] = await bot.send(42, "/help", language_code="de-AT")
    assert "Nachfragen" in reply["text"] and "/sources" in reply["text"]
    assert "Und was geschah danach?" in reply["text"]


async def test_command_menu_is_published_in_english_and_german(bot: Harness) -> None:
    await telegram_app.set_bot_commands(bot.app)
    english = await bot.app.bot.get_my_commands()
    german = await bot.app.bot.get_my_commands(language_code="de")
    assert [c.command for c in english] == ["ask", "latest", "sources", "start", "help"]
    assert [c.command for c in german] == ["ask", "latest", "sources", "start", "help"]
    assert german[0].description.startswith("Eine Frage")


# --- questions -----------------------------------------------------------------------------


async def test_question_is_answered_with_a_verbatim_quote_from_the_right_article(
    bot: Harness, live: LiveIndex
) -> None:
    [answer] = await bot.send(42, KRYWYJ_SENTENCE)
    methods = [method for method, _ in bot.tg.requests]
    assert methods.index("sendChatAction") < methods.index("sendMessage")
    assert answer["parse_mode"] == "HTML"
    assert answer["raw_text"].startswith("<blockquote>")
    assert answer["reply_to_message"]["text"] == KRYWYJ_SENTENCE
    assert is_answer(answer)
    assert len(quote_ranks(answer)) <= 3
    first_quote = answer["text"].split("\n[1] ")[0]
    assert answer["text"].split("\n[1] ")[1].startswith(cited_title(live, KRYWYJ_ARTICLE))
    article = (SAMPLE_ARTICLES / KRYWYJ_ARTICLE).read_text(encoding="utf-8")
    assert "Krywyj Rih" in first_quote
    assert collapse_whitespace(first_quote).rstrip("…") in collapse_whitespace(article)
    assert bot.tg.errors == []


async def test_html_in_questions_and_articles_is_escaped(tg: FakeTelegram) -> None:
    ten = StubLive(
        quotes=[quote(f"<b>Fett</b> & <i>Co</i> Nr. {n}", paragraph=n) for n in range(10)]
    )
    harness = await start_harness(tg, ten)
    question = "<script>alert(1)</script> Was sagte <b>er</b> &amp; warum?"
    try:
        [answer] = await harness.send(42, question)
        [more] = await harness.click(42, answer["message_id"], more_button(answer))
    finally:
        await harness.app.shutdown()
    assert "&lt;b&gt;Fett&lt;/b&gt; &amp; &lt;i&gt;Co&lt;/i&gt; Nr. 0" in answer["raw_text"]
    assert "<b>Fett</b> & <i>Co</i> Nr. 0" in answer["text"]
    assert "<script>" not in more["raw_text"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in more["raw_text"]
    assert question in more["text"]  # what the user sees is their text, unchanged
    assert tg.errors == []  # the fake refuses HTML that doesn't parse


async def test_markdown_and_emoji_in_a_question_are_just_text(bot: Harness) -> None:
    [answer] = await bot.send(42, f"**{KRYWYJ_SENTENCE}** _now_ `?` [x](http://e.com) 🤔")
    assert is_answer(answer)
    assert bot.tg.errors == []


async def test_more_quotes_button_pages_through_the_answer(tg: FakeTelegram) -> None:
    harness = await start_harness(tg, ten_quotes())
    try:
        [answer] = await harness.send(42, "Was wurde vereinbart?")
        [second] = await harness.click(42, answer["message_id"], more_button(answer))
        old = next(m for m in tg.sent_messages(42) if m["message_id"] == answer["message_id"])
        [third] = await harness.click(42, second["message_id"], more_button(second))
        [last] = await harness.click(42, third["message_id"], more_button(third))
    finally:
        await harness.app.shutdown()
    assert quote_ranks(answer) == [1, 2, 3]
    assert more_button(answer) is not None
    assert second["text"].startswith("Weitere Zitate zu „Was wurde vereinbart?“ (4–6 von 10)")
    assert quote_ranks(second) == [4, 5, 6]
    assert second["reply_to_message"]["text"] == "Was wurde vereinbart?"
    assert more_button(old) is None  # the used button is gone
    assert quote_ranks(third) == [7, 8, 9]
    assert quote_ranks(last) == [10]
    assert more_button(last) is None
    assert all(p.get("text") is None for p in harness.callback_answers())
    assert tg.errors == []


async def test_more_button_survives_a_restart_or_says_the_question_expired(
    tg: FakeTelegram,
) -> None:
    first_run = await start_harness(tg, ten_quotes())
    [answer] = await first_run.send(42, "Was wurde vereinbart?")
    [follow_up] = await first_run.send(42, "Und was ist mit Charkiw?")
    await first_run.app.shutdown()

    restarted = await start_harness(tg, ten_quotes())
    try:
        # The button's message replies to the question: recomputed, same next quotes.
        [more] = await restarted.click(42, answer["message_id"], more_button(answer))
        assert quote_ranks(more) == [4, 5, 6]
        # A follow-up was asked with context that died with the old process.
        assert await restarted.click(42, follow_up["message_id"], more_button(follow_up)) == []
        # A button on a message the bot can't see any more.
        assert await restarted.click(42, 9999, "more:0123456789ab:3") == []
        # Data from some other version of the bot.
        assert await restarted.click(42, answer["message_id"], "bogus") == []
    finally:
        await restarted.app.shutdown()
    expired = [p for p in restarted.callback_answers() if p.get("text")]
    assert len(expired) == 3
    assert all(p["text"] == "This question has expired — please ask again." for p in expired)
    assert all(p["show_alert"] for p in expired)
    assert tg.errors == []
    assert tg.unknown_methods == []


async def test_long_quotes_are_split_between_messages(tg: FakeTelegram) -> None:
    long_answer = StubLive(quotes=[quote("Satz " * 700, paragraph=n) for n in range(1, 11)])
    harness = await start_harness(tg, long_answer)
    try:
        replies = await harness.send(42, "Was steht in den langen Absätzen?")
    finally:
        await harness.app.shutdown()
    assert len(replies) == 3  # three ~3500-character quotes don't fit in one message
    assert [quote_ranks(m) for m in replies] == [[1], [2], [3]]
    assert all(visible_length(m["raw_text"]) <= 4096 for m in replies)
    assert [more_button(m) is not None for m in replies] == [False, False, True]
    assert tg.errors == []  # the fake refuses anything over 4096 characters


async def test_unanswered_question_says_so_in_the_questions_language(tg: FakeTelegram) -> None:
    harness = await start_harness(tg, StubLive(quotes=[], language="de"))
    try:
        [reply] = await harness.send(42, "Wie wird das Wetter morgen?", language_code="en")
    finally:
        await harness.app.shutdown()
    assert reply["text"] == not_answered("de", sources_hint=True)
    assert reply["text"].startswith(NOT_ANSWERED["de"]) and "/sources" in reply["text"]
    assert more_button(reply) is None


async def test_follow_up_questions_carry_the_previous_question_as_context(
    tg: FakeTelegram, live: LiveIndex
) -> None:
    recording = RecordingLive(live)
    harness = await start_harness(tg, recording)
    try:
        await harness.send(42, KRYWYJ_SENTENCE)
        await harness.send(42, "And what about Dnipro?")
        await harness.send(42, "Wie viele Menschen wurden verletzt?")  # stands on its own
        harness.clock.advance(11 * 60)
        await harness.send(42, "And what about it?")  # too late to follow up
        await harness.send(42, "Und was sagte er dazu?")
        await harness.send(42, "/start")
        await harness.send(42, "And then?")  # a new topic after /start
        await harness.send(43, "And what about Odessa?")  # other chats are separate
    finally:
        await harness.app.shutdown()
    assert recording.calls == [
        (KRYWYJ_SENTENCE, None),
        ("And what about Dnipro?", KRYWYJ_SENTENCE),
        ("Wie viele Menschen wurden verletzt?", None),
        ("And what about it?", None),
        ("Und was sagte er dazu?", "And what about it?"),
        ("And then?", None),
        ("And what about Odessa?", None),
    ]


# --- group chats ---------------------------------------------------------------------------


async def test_group_chats_answer_only_what_is_addressed_to_the_bot(bot: Harness) -> None:
    group = -100
    kwargs = {"chat_type": "supergroup", "user_id": 7}
    assert await bot.send(group, KRYWYJ_SENTENCE, **kwargs) == []
    assert await bot.send(group, "/ask@other_bot Krywyj Rih", **kwargs) == []
    assert await bot.send(group, "@someone_else Krywyj Rih", **kwargs) == []
    await bot.process(bot.tg.push_sticker(group, chat_type="supergroup", user_id=7))

    [mentioned] = await bot.send(group, f"@{BOT} {KRYWYJ_SENTENCE}", **kwargs)
    assert mentioned["reply_to_message"]["text"] == f"@{BOT} {KRYWYJ_SENTENCE}"
    assert is_answer(mentioned)
    [asked] = await bot.send(group, f"/ask {KRYWYJ_SENTENCE}", **kwargs)
    assert is_answer(asked)
    [asked_by_name] = await bot.send(group, f"/ask@{BOT} {KRYWYJ_SENTENCE}", **kwargs)
    assert is_answer(asked_by_name)
    [replied] = await bot.send(group, KRYWYJ_SENTENCE, reply_to_bot=True, **kwargs)
    assert is_answer(replied)
    [usage] = await bot.send(group, "/ask", **kwargs)
    assert usage["text"].startswith("Write your question after /ask")
    assert len(bot.tg.sent_messages(group)) == 5
    assert bot.tg.errors == []


# --- who may ask ---------------------------------------------------------------------------


async def test_allowlist_refuses_other_chats_once_and_then_ignores_them(
    tg: FakeTelegram, live: LiveIndex
) -> None:
    harness = await start_harness(
        tg, live, TELEGRAM_ALLOWED_CHAT_IDS="42, -100", TELEGRAM_ADMIN_IDS="9"
    )
    try:
        [allowed] = await harness.send(42, KRYWYJ_SENTENCE)
        [admin] = await harness.send(9, KRYWYJ_SENTENCE)
        [refusal] = await harness.send(7, KRYWYJ_SENTENCE)
        again = await harness.send(7, "/start")
        group_chatter = await harness.send(-200, "hello all", chat_type="group")
        [group_answer] = await harness.send(-100, f"/ask {KRYWYJ_SENTENCE}", chat_type="group")
        await harness.process(tg.push_callback_query(7, refusal["message_id"], "more:x"))
    finally:
        await harness.app.shutdown()
    assert is_answer(allowed) and is_answer(admin)
    assert refusal["text"].startswith("Sorry, this bot only answers in chats")
    assert "7" in refusal["text"]
    assert again == [] and group_chatter == []
    assert is_answer(group_answer)
    assert tg.errors == []


async def test_each_chat_may_ask_five_questions_per_30_seconds(
    tg: FakeTelegram, live: LiveIndex
) -> None:
    harness = await start_harness(tg, live)
    try:
        answered = [await harness.send(42, f"{KRYWYJ_SENTENCE} {n}") for n in range(5)]
        [slow_down] = await harness.send(42, KRYWYJ_SENTENCE)
        ignored = await harness.send(42, KRYWYJ_SENTENCE)
        [other_chat] = await harness.send(43, KRYWYJ_SENTENCE)
        harness.clock.advance(7)  # one question's worth of refill
        [again] = await harness.send(42, KRYWYJ_SENTENCE)
    finally:
        await harness.app.shutdown()
    assert all(is_answer(replies[0]) for replies in answered)
    assert slow_down["text"].startswith("You're asking faster than I can read")
    assert ignored == []
    assert is_answer(other_chat)
    assert is_answer(again)


# --- odd input -----------------------------------------------------------------------------


async def test_odd_messages_get_a_sensible_reply(bot: Harness) -> None:
    [emoji] = await bot.send(42, "😀🎉👍")
    assert emoji["text"].startswith("Please write your question in words")
    [huge] = await bot.send(42, ("Warum " * 2000)[:10_000])
    assert "too long (10000 characters)" in huge["text"]
    assert f"under {MAX_QUESTION_CHARS}" in huge["text"]
    [usage] = await bot.send(42, "/ask   ")
    assert usage["text"].startswith("Write your question after /ask")
    [unknown] = await bot.send(42, "/frobnicate")
    assert unknown["text"].startswith("I don't know that command")

    before = len(bot.tg.sent_messages(42))
    await bot.process(bot.tg.push_sticker(42))
    await bot.process(bot.tg.push_photo(42, caption="what is this?"))
    sticker, photo = bot.tg.sent_messages(42)[before:]
    assert (
        sticker["text"]
        == photo["text"]
        == ("I can only answer text questions. Please type your question.")
    )
    assert bot.tg.errors == []


async def test_edited_messages_are_not_answered_again(bot: Harness) -> None:
    update = bot.tg.push_message(42, KRYWYJ_SENTENCE)
    edited = {"update_id": update["update_id"] + 1000, "edited_message": update["message"]}
    edited["edited_message"]["edit_date"] = update["message"]["date"] + 5
    await bot.process(edited)
    assert bot.tg.sent_messages(42) == []


# --- /sources ------------------------------------------------------------------------------


async def test_sources_lists_the_real_index(bot: Harness) -> None:
    [listing] = await bot.send(42, "/sources")
    assert "Articles I know (1–5 of 5)" in listing["text"]
    assert KRYWYJ_ARTICLE in listing["text"]
    assert "2025-03" in listing["text"]
    assert more_button(listing) is None


async def test_sources_are_paginated_with_buttons(tg: FakeTelegram) -> None:
    articles = [
        ArticleRecord(f"dir/{n:03}.txt", f"Title <{n}> & more", "2025-03", 3, "h")
        for n in range(23)
    ]
    harness = await start_harness(tg, StubLive(quotes=[], articles=articles))
    try:
        [page] = await harness.send(42, "/sources", language_code="de")
        assert "Artikel, die ich kenne (1–10 von 23)" in page["text"]
        assert "1. Title <0> & more" in page["text"]
        assert "&lt;0&gt; &amp; more" in page["raw_text"]
        assert more_button(page) == "src:1:de"
        await harness.click(42, page["message_id"], "src:2:de")
        [page] = tg.sent_messages(42)
        assert "(21–23 von 23)" in page["text"]
        buttons = page["reply_markup"]["inline_keyboard"][0]
        assert [b["callback_data"] for b in buttons] == ["src:1:de"]
        await harness.click(42, page["message_id"], "src:0")  # language from the user
        [page] = tg.sent_messages(42)
        assert "Articles I know (1–10 of 23)" in page["text"]
        await harness.click(42, page["message_id"], "src:99:en")  # clamped to the last page
        [page] = tg.sent_messages(42)
        assert "(21–23 of 23)" in page["text"]
    finally:
        await harness.app.shutdown()
    assert tg.errors == []


async def test_sources_newest_first_with_dates_and_coverage(tg: FakeTelegram) -> None:
    articles = [
        ArticleRecord("old.txt", "Old", "1987-03-02T09:00", 1, "h"),
        ArticleRecord("undated.txt", "Undated", None, 1, "h"),
        ArticleRecord("new.txt", "New", "1987-03-20", 1, "h"),
    ]
    harness = await start_harness(tg, StubLive(quotes=[], articles=articles))
    try:
        [page] = await harness.send(42, "/sources")
        text = page["text"]
        assert "3 articles; 2–20 Mar 1987; 1 undated" in text
        assert text.index("1. New\n1987-03-20") < text.index("2. Old\n1987-03-02")
        assert text.index("2. Old") < text.index("3. Undated\nno date")
        [start] = await harness.send(42, "/start")
        assert start["text"].endswith("3 articles; 2–20 Mar 1987; 1 undated")
    finally:
        await harness.app.shutdown()
    assert tg.errors == []


async def test_latest_lists_the_newest_articles_with_their_lead(bot: Harness, live) -> None:
    [message] = await bot.send(42, "/latest")
    assert message["text"].startswith("The newest articles, newest first:")
    newest = max((a for a in live.articles() if a.date), key=lambda a: a.date)
    assert (newest.title or newest.path)[:20] in message["text"]
    [german] = await bot.send(43, "/latest Waffenruhe", language_code="de")
    assert german["text"].startswith("Die neuesten Artikel zu Waffenruhe, die neuesten zuerst:")
    assert bot.tg.errors == []
    nothing = telegram_time.latest_messages(Latest("Pinguine", (), answered=False), "de")
    assert nothing == ["Keiner meiner Artikel handelt von Pinguine."]


# --- failures ------------------------------------------------------------------------------


# Resending only what certainly did not arrive: tests/bot/telegram/test_network.py.


async def test_a_failure_is_logged_without_the_token_and_the_user_is_told(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    harness = await start_harness(tg, StubLive(quotes=[], fail=True))
    try:
        with caplog.at_level(logging.INFO):
            [reply] = await harness.send(42, "Was ist passiert?", language_code="de")
    finally:
        await harness.app.shutdown()
    assert reply["text"].startswith("Entschuldigung, beim Antworten ist etwas schiefgegangen")
    assert "failed to handle an update" in caplog.text
    assert "retrieval exploded" in caplog.text
    assert TOKEN not in caplog.text


async def test_a_database_outage_is_one_log_line_and_the_user_is_told(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    from index.stores.postgres import StoreUnavailableError

    outage = StoreUnavailableError("cannot reach the index at postgresql://db:5432/news: down")
    harness = await start_harness(tg, StubLive(quotes=[], fail=outage))
    try:
        with caplog.at_level(logging.INFO):
            [reply] = await harness.send(42, "Was ist passiert?", language_code="de")
    finally:
        await harness.app.shutdown()
    assert reply["text"].startswith("Entschuldigung, beim Antworten ist etwas schiefgegangen")
    [logged] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "cannot reach the index at postgresql://db:5432/news" in logged.getMessage()
    assert logged.exc_info is None and "Traceback" not in caplog.text  # one line


# --- long polling --------------------------------------------------------------------------


async def test_long_polling_end_to_end(tg: FakeTelegram, live: LiveIndex) -> None:
    app = build_application(make_settings(tg), live)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0.1, timeout=1)
    try:
        tg.push_message(42, "/start")
        tg.push_message(42, KRYWYJ_SENTENCE)
        await tg.async_wait_for(
            lambda method, params: method == "sendMessage" and "<blockquote>" in params["text"],
            timeout=15,
        )
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    start, answer = tg.sent_messages(42)
    assert "newsbot" in start["text"]
    assert answer["text"].split("\n[1] ")[1].startswith(cited_title(live, KRYWYJ_ARTICLE))
    assert tg.errors == []
    assert tg.unknown_methods == []


# --- run_telegram --------------------------------------------------------------------------


def test_run_telegram_without_a_token_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(_env_file=None, TELEGRAM_BOT_TOKEN="  ")
    assert run_telegram(settings) == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err


def test_run_telegram_never_shows_a_rejected_token_and_exits_78(
    tg: FakeTelegram,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "123456:WRONG-secret-token"
    settings = make_settings(
        tg,
        TELEGRAM_BOT_TOKEN=wrong,
        NEWSBOT_ARTICLES_DIR=str(SAMPLE_ARTICLES),
        NEWSBOT_INDEX_DIR=str(tmp_path / "index"),
    )
    with caplog.at_level(logging.DEBUG), use_fake_model():
        assert run_telegram(settings) == 78  # EX_CONFIG: a service manager won't restart it
    captured = capsys.readouterr()
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in captured.err
    assert "getMe" in caplog.text  # PTB did log the request at DEBUG ...
    secret = wrong.partition(":")[2]
    assert secret not in caplog.text + captured.err + captured.out  # ... without the token
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


def test_file_url_is_derived_from_the_base_url() -> None:
    assert file_url_for("http://localhost:8081/bot") == "http://localhost:8081/file/bot"
    assert file_url_for("https://api.telegram.org/bot/") == "https://api.telegram.org/file/bot"
    assert file_url_for("https://example.com/tg/{token}") is None


async def test_base_url_setting_reaches_the_bot(tg: FakeTelegram, live: LiveIndex) -> None:
    app = build_application(make_settings(tg), live)
    assert app.bot.base_url == f"{tg.base_url}{TOKEN}"
    assert app.bot.base_file_url == f"{tg.base_file_url}{TOKEN}"


# --- helpers -------------------------------------------------------------------------------


def cited_title(live: LiveIndex, path: str) -> str:
    """How a citation names an article: by its title (as the index derived it)."""
    [title] = [a.title for a in live.articles() if a.path == path]
    assert title
    return shorten(title, 60)


def quote(text: str, *, paragraph: int = 1) -> Quote:
    return Quote(text, "long.txt", "Long", "2025-03", None, paragraph, 0, len(text), 0.5)


def ten_quotes() -> StubLive:
    return StubLive(quotes=[quote(f"Zitat Nummer {n}.", paragraph=n) for n in range(1, 11)])


class StubLive:
    """A LiveIndex stand-in with answers chosen by the test."""

    def __init__(
        self,
        *,
        quotes: list[Quote],
        language: str = "de",
        articles: list[ArticleRecord] | None = None,
        fail: bool | Exception = False,
    ) -> None:
        self.quotes = tuple(quotes)
        self.language = language
        self._articles = articles or []
        self.fail = fail

    def refresh(self) -> None:
        return None

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        if isinstance(self.fail, Exception):
            raise self.fail
        if self.fail:
            raise RuntimeError("retrieval exploded")
        quotes = self.quotes[:top]
        return Answer(question, bool(quotes), quotes, self.language)

    def coverage(self) -> Coverage:
        dated = [a.date for a in self._articles if a.date]
        undated = len(self._articles) - len(dated)
        return Coverage(min(dated, default=None), max(dated, default=None), len(dated), undated)

    def articles(self) -> list[ArticleRecord]:
        return self._articles


class RecordingLive:
    """The real index, remembering what it was asked."""

    def __init__(self, live: LiveIndex) -> None:
        self.live = live
        self.calls: list[tuple[str, str | None]] = []

    def refresh(self) -> None:
        return self.live.refresh()

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        self.calls.append((question, context))
        return self.live.answer(question, context=context, top=top)

    def articles(self) -> list[ArticleRecord]:
        return self.live.articles()


async def test_questions_from_different_chats_run_concurrently(tg: FakeTelegram) -> None:
    """Retrieval runs in worker threads: a slow question doesn't hold up another chat. Each
    answer waits until all three are being answered at once, so serial handling would fail
    (the barrier breaks) without any bound on wall-clock time."""
    meeting = BarrierLive(parties=3)
    harness = await start_harness(tg, meeting)
    try:
        await asyncio.gather(*(harness.send(chat, "Frage eins") for chat in (1, 2, 3)))
    finally:
        await harness.app.shutdown()
    assert meeting.met == 3
    assert all(len(tg.sent_messages(chat)) == 1 for chat in (1, 2, 3))


class BarrierLive(StubLive):
    def __init__(self, parties: int) -> None:
        super().__init__(quotes=[quote("Ein Satz.")])
        self.barrier = threading.Barrier(parties, timeout=30)
        self.met = 0

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        self.barrier.wait()  # BrokenBarrierError unless all parties answer at the same time
        self.met += 1
        return super().answer(question, context=context, top=top)
