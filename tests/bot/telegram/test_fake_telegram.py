"""The fake Bot API server must be as strict as Telegram, or the bot's tests prove nothing."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, EndPointNotFound, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram import FakeTelegram, parse_html, validate_html

TOKEN = "123:ABC"
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN, max_poll_seconds=1.0) as server:
        yield server


def call(tg: FakeTelegram, method: str, token: str = TOKEN, **params: object) -> tuple[int, dict]:
    """A raw form-encoded POST, as PTB sends it."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    request = urllib.request.Request(
        f"{tg.base_url}{token}/{method}", data=urllib.parse.urlencode(form).encode()
    )
    try:
        with DIRECT.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- HTML validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<blockquote>Tom &amp; Jerry &lt;3 &gt; &quot;x&quot; &#39; &#x1F600;</blockquote>\n"
        '<i>[1] 001_a.txt, 2025-03, ¶7 "Teil"</i>',
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><tg-spoiler>p</tg-spoiler>"
        '<span class="tg-spoiler">p</span><a href="https://x.org/?a=1&amp;b=2">l</a>'
        '<code>c</code><pre><code class="language-python">x = 1</code></pre>'
        '<blockquote expandable>long</blockquote><tg-emoji emoji-id="5368324170671202286">👍'
        "</tg-emoji> plain > text",
        "x" * 4096,
        "<b>" + "x" * 4096 + "</b>",  # tags don't count
        "&amp;" * 4096,  # entities count once
    ],
)
def test_validator_accepts_valid_html(text: str) -> None:
    assert validate_html(text) is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<script>alert(1)</script>", 'Unsupported start tag "script"'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'expected "</b>", found "</i>"'),
        ("</b>", "Unexpected end tag"),
        ("Tom & Jerry", 'Unescaped "&"'),
        ("&nbsp;", 'Unescaped "&"'),
        ("1 < 2", 'Unescaped "<"'),
        ("a <b", "Unclosed start tag"),
        ("line<br/>break", "Unsupported start tag"),
        ("<span>x</span>", 'must have class "tg-spoiler"'),
        ("x" * 4097, "message is too long"),
        ("😀" * 2049, "message is too long"),  # 4098 UTF-16 units
        ("", "message text is empty"),
        ("<b> \n </b>", "message text is empty"),
    ],
)
def test_validator_rejects_what_telegram_rejects(text: str, error: str) -> None:
    description = validate_html(text)
    assert description is not None and description.startswith("Bad Request: ")
    assert error in description


def test_parse_html_entities_use_utf16_offsets() -> None:
    text, entities = parse_html("😀 <b>fett</b> <a href='https://a.b'>l</a>")
    assert text == "😀 fett l"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "text_link", "offset": 8, "length": 1, "url": "https://a.b"},
    ]


# --- HTTP level ----------------------------------------------------------------------------


def test_get_me_and_send_message_over_raw_http(tg: FakeTelegram) -> None:
    status, me = call(tg, "getMe")
    assert status == 200 and me["result"]["username"] == tg.bot_username
    status, sent = call(tg, "sendMessage", chat_id=5, text="<b>hi</b>", parse_mode="HTML")
    assert status == 200
    assert sent["result"]["text"] == "hi"
    assert sent["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert tg.requests[-1] == (
        "sendMessage",
        {"chat_id": 5, "text": "<b>hi</b>", "parse_mode": "HTML"},
    )


def test_invalid_html_is_a_400(tg: FakeTelegram) -> None:
    status, body = call(tg, "sendMessage", chat_id=5, text="a & b", parse_mode="HTML")
    assert status == 400 and body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request: can't parse entities")
    assert tg.errors[-1][:3] == (
        "sendMessage",
        {"chat_id": 5, "text": "a & b", "parse_mode": "HTML"},
        400,
    )
    # Without parse_mode the same text is plain and fine.
    assert call(tg, "sendMessage", chat_id=5, text="a & b")[0] == 200


def test_unknown_method_is_404_and_recorded(tg: FakeTelegram) -> None:
    status, body = call(tg, "sendTelepathy", chat_id=1)
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert tg.unknown_methods == ["sendTelepathy"]


def test_wrong_token_is_401(tg: FakeTelegram) -> None:
    status, body = call(tg, "getMe", token="999:WRONG")
    assert status == 401 and body["error_code"] == 401


def test_long_polling_returns_a_pushed_update(tg: FakeTelegram) -> None:
    tg.max_poll_seconds = 30
    timer = threading.Timer(0.2, tg.push_message, args=(42, "hello"))
    timer.start()
    started = time.monotonic()
    status, body = call(tg, "getUpdates", offset=0, timeout=30)
    timer.join()
    # Bounds far from the 30 s poll, so a busy machine can't fail them.
    assert status == 200 and time.monotonic() - started < 15
    [update] = body["result"]
    assert update["message"]["text"] == "hello"
    assert update["message"]["chat"] == {"id": 42, "type": "private", "first_name": "User42"}
    # Asking with a higher offset confirms it; an empty poll ends at the cap, not the timeout.
    tg.max_poll_seconds = 0.3
    started = time.monotonic()
    assert call(tg, "getUpdates", offset=update["update_id"] + 1, timeout=30)[1]["result"] == []
    assert 0.2 < time.monotonic() - started < 15
    assert call(tg, "getUpdates", offset=0, timeout=0)[1]["result"] == []


def test_stop_wakes_a_waiting_poll() -> None:
    server = FakeTelegram(token=TOKEN, max_poll_seconds=30).start()
    result: list[object] = []
    poller = threading.Thread(target=lambda: result.append(call_safely(server)))
    poller.start()
    server.wait_for("getUpdates", timeout=5)
    started = time.monotonic()
    server.stop()
    poller.join(timeout=20)
    assert not poller.is_alive() and time.monotonic() - started < 15


def call_safely(tg: FakeTelegram) -> object:
    try:
        return call(tg, "getUpdates", timeout=30)
    except (OSError, http.client.HTTPException) as error:  # the server went away: fine
        return error


def test_fail_next_429_then_recovers(tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage", n=2, error_code=429, retry_after=3)
    for _ in range(2):
        status, body = call(tg, "sendMessage", chat_id=1, text="x")
        assert status == 429
        assert body["parameters"] == {"retry_after": 3}
        assert body["description"] == "Too Many Requests: retry after 3"
    assert call(tg, "sendMessage", chat_id=1, text="x")[0] == 200


def test_faults_with_an_unknown_outcome_carry_the_request_out(tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage", error_code="close_after")
    with pytest.raises((http.client.RemoteDisconnected, urllib.error.URLError)):
        call(tg, "sendMessage", chat_id=1, text="delivered, answer lost")
    assert [m["text"] for m in tg.sent_messages(1)] == ["delivered, answer lost"]
    tg.fail_next("sendMessage", error_code="close")
    with pytest.raises((http.client.RemoteDisconnected, urllib.error.URLError)):
        call(tg, "sendMessage", chat_id=1, text="not carried out")
    assert len(tg.sent_messages(1)) == 1


def test_echo_path_puts_the_request_path_in_the_error(tg: FakeTelegram) -> None:
    tg.fail_next("getMe", error_code=400, echo_path=True)
    status, body = call(tg, "getMe")
    assert status == 400 and f"/bot{TOKEN}/getMe" in body["description"]


def test_pause_refuses_connections_and_resume_keeps_the_state(tg: FakeTelegram) -> None:
    call(tg, "sendMessage", chat_id=1, text="before")
    port = tg.port
    tg.pause()
    with pytest.raises(urllib.error.URLError, match="refused"):
        DIRECT.open(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", timeout=10)
    tg.resume()
    assert tg.port == port
    call(tg, "sendMessage", chat_id=1, text="after")
    assert [m["text"] for m in tg.sent_messages(1)] == ["before", "after"]


def test_wait_for_times_out_with_what_it_saw(tg: FakeTelegram) -> None:
    call(tg, "getMe")
    with pytest.raises(TimeoutError, match="getMe"):
        tg.wait_for("sendMessage", timeout=0.2)
    assert tg.wait_for(lambda method, params: method == "getMe") == ("getMe", {})


# --- through python-telegram-bot -----------------------------------------------------------


@pytest.fixture
async def bot(tg: FakeTelegram) -> object:
    async with Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


async def test_ptb_get_me_and_html_message(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == tg.bot_username and me.is_bot and me.can_join_groups
    sent = await bot.send_message(42, "<b>Tom &amp; Jerry</b>", parse_mode="HTML")
    assert sent.text == "Tom & Jerry" and sent.message_id == 1
    assert (await bot.send_message(42, "second")).message_id == 2
    assert [m["text"] for m in tg.sent_messages(42)] == ["Tom & Jerry", "second"]
    assert tg.errors == []


async def test_ptb_sees_telegram_errors(tg: FakeTelegram, bot: Bot) -> None:
    """PTB strips "Bad Request: " and lower-cases the rest after the first letter."""
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(42, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("new", chat_id=42, message_id=99)
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("notAMethod")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter()
async def test_ptb_fault_injection(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", error_code=429, retry_after=2)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1, "x")
    assert "Retry in 2 seconds" in str(caught.value)  # .retry_after warns in PTB 22
    tg.fail_next("sendMessage", error_code=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(1, "x")
    tg.fail_next("sendMessage", error_code="close")
    with pytest.raises(NetworkError):
        await bot.send_message(1, "x")
    assert (await bot.send_message(1, "x")).text == "x"


async def test_ptb_edits_keyboards_and_not_modified(tg: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])
    sent = await bot.send_message(42, "page 1", reply_markup=keyboard)
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("page 1", 42, sent.message_id, reply_markup=keyboard)
    edited = await bot.edit_message_text("page 1", 42, sent.message_id)  # drops the keyboard
    assert edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        too_long = InlineKeyboardButton("x", callback_data="x" * 65)
        await bot.send_message(42, "y", reply_markup=InlineKeyboardMarkup([[too_long]]))


async def test_ptb_downloads_and_uploads_documents(tg: FakeTelegram, bot: Bot) -> None:
    content = b"Artikel\r\n--boundary-like\x00\xff bytes"
    update = tg.push_document(42, "neu.txt", content)
    file = await bot.get_file(update["message"]["document"]["file_id"])
    assert bytes(await file.download_as_bytearray()) == content
    sent = await bot.send_document(
        42, content, filename="back.txt", caption="<i>ok</i>", parse_mode="HTML"
    )
    assert sent.document.file_name == "back.txt" and sent.caption == "ok"
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content


async def test_ptb_commands(tg: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([("ask", "Ask a question"), ("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["ask", "help"]
    assert await bot.get_my_commands(language_code="de") == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Command", "x")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_application_polls_and_answers(tg: FakeTelegram) -> None:
    """A whole PTB Application: commands, group mentions, replies, callback queries."""
    app: Application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )

    async def start(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more")]])
        await update.message.reply_html("<b>Hello</b>", reply_markup=keyboard)

    async def text(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"got: {update.message.text}")

    async def more(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("more!")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, text))
    app.add_handler(CallbackQueryHandler(more))
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=10)
        try:
            tg.push_message(7, "/start")
            _, params = await tg.async_wait_for("sendMessage")
            assert params["parse_mode"] == "HTML"
            tg.push_message(-100, f"@{tg.bot_username} news?", chat_type="group")
            tg.push_message(-100, "and then?", chat_type="group", reply_to_bot=True)
            await tg.async_wait_for(lambda m, p: p.get("text") == "got: and then?")
            tg.push_callback_query(7, tg.sent_messages(7)[0]["message_id"], "more")
            await tg.async_wait_for("editMessageText")
        finally:
            await app.updater.stop()
            await app.stop()

    assert [m["text"] for m in tg.sent_messages(7)] == ["more!"]
    group = tg.sent_messages(-100)
    assert [m["text"] for m in group] == [f"got: @{tg.bot_username} news?", "got: and then?"]
    assert group[1]["reply_to_message"]["text"] == "and then?"
    assert tg.errors == []
    assert tg.unknown_methods == []


async def test_make_update_for_process_update(tg: FakeTelegram, bot: Bot) -> None:
    update = tg.make_update(tg.push_message(5, "/help", language_code="de"), bot)
    assert update.effective_user.language_code == "de"
    assert update.message.entities[0].type == "bot_command"
