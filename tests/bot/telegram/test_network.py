"""Failures a server survives: at most once delivery, start-up while Telegram is unreachable,
and a token that appears in no output. Against the fake Bot API server, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from telegram.error import InvalidToken
from tenacity import wait_none

from bot.telegram.app import build_application
from bot.telegram.network import (
    RetryingRateLimiter,
    initialize_when_reachable,
    redacted_exits,
)
from retrieval.live import LiveIndex
from tests.bot.telegram.test_app import TOKEN, Harness, is_answer, make_settings
from tests.bot.test_chat import clean_env
from tests.bot.test_follow_index import NEWSBOT, Lines
from tests.conftest import KRYWYJ_SENTENCE
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.timeout(120)

SECRET = TOKEN.partition(":")[2]


async def harness_for(
    tg: FakeTelegram, live: Any, *, read_timeout: float = 5.0, sleep: Any = None
) -> Harness:
    limiter = RetryingRateLimiter(wait=wait_none(), **({"sleep": sleep} if sleep else {}))
    app = build_application(
        make_settings(tg), live, rate_limiter=limiter, read_timeout=read_timeout
    )
    await app.initialize()
    return Harness(tg, app)


def send_messages(tg: FakeTelegram) -> list[dict[str, Any]]:
    return [params for method, params in tg.requests if method == "sendMessage"]


# --- at most once ----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [429, 502])
async def test_a_reply_that_certainly_did_not_arrive_is_sent_again(
    tg: FakeTelegram, live: LiveIndex, fault: int
) -> None:
    """429 (waited out for retry_after) and a 5xx answer: the request was not carried out."""
    harness = await harness_for(tg, live)
    try:
        tg.fail_next("sendMessage", error_code=fault, retry_after=1)
        [answer] = await harness.send(42, KRYWYJ_SENTENCE)
    finally:
        await harness.app.shutdown()
    assert is_answer(answer)
    assert len(send_messages(tg)) == 2
    assert len(tg.sent_messages(42)) == 1


@pytest.mark.parametrize("fault", ["close", "close_after", "hold"])
async def test_a_reply_whose_outcome_is_unknown_is_never_sent_again(
    tg: FakeTelegram, live: LiveIndex, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The connection dropped after the request was sent ("close": not carried out;
    "close_after": carried out) or the answer never came ("hold": a read timeout). The bot
    cannot know, so it sends nothing more: no second copy, and no "sorry" either."""
    harness = await harness_for(tg, live, read_timeout=1.0)
    try:
        tg.fail_next("sendMessage", error_code=fault)
        with caplog.at_level(logging.WARNING):
            delivered = await harness.send(42, KRYWYJ_SENTENCE)
    finally:
        await harness.app.shutdown()
    assert len(send_messages(tg)) == 1
    carried_out = fault != "close"
    assert len(delivered) == (1 if carried_out else 0)
    if carried_out:
        assert is_answer(delivered[0])
    [line] = [r for r in caplog.records if "a reply may not have arrived" in r.message]
    assert line.exc_info is None  # one line, no traceback
    assert TOKEN not in caplog.text


async def test_a_refused_connection_is_retried_once_the_server_is_back(
    tg: FakeTelegram, live: LiveIndex
) -> None:
    """Nothing listens (connection refused): the request never left, so it is sent again."""
    waits: list[float] = []

    async def back_online(seconds: float) -> None:  # the limiter's back-off sleep
        waits.append(seconds)
        if len(waits) == 2:
            await asyncio.to_thread(tg.resume)

    harness = await harness_for(tg, live, sleep=back_online)
    try:
        await asyncio.to_thread(tg.pause)
        sent = await harness.app.bot.send_message(42, "Hallo")
    finally:
        await harness.app.shutdown()
    assert len(waits) == 2  # two refused attempts, the third got through
    assert sent.text == "Hallo"
    assert [m["text"] for m in tg.sent_messages(42)] == ["Hallo"]
    assert len(send_messages(tg)) == 1  # refused attempts never reached the server


# --- start-up ---------------------------------------------------------------------------------


async def test_start_up_waits_through_refusals_5xx_and_4xx_saying_one_line_each(
    live: LiveIndex,
) -> None:
    port = free_port()
    tg = FakeTelegram(token=TOKEN, port=port)
    tg.fail_next("getMe", error_code=502, echo_path=True)
    tg.fail_next("getMe", error_code=400, echo_path=True)
    lines: list[str] = []

    async def wait(seconds: float) -> None:
        if len(lines) == 1:  # the network comes up after the first refusal
            await asyncio.to_thread(tg.start)

    app = build_application(make_settings(tg_stub(port)), live)
    try:
        await initialize_when_reachable(app, wait=wait_none(), sleep=wait, say=lines.append)
        assert app.bot.username == tg.bot_username
    finally:
        await app.shutdown()
        tg.stop()
    assert len(lines) == 3
    assert "NotSent: could not connect" in lines[0]
    assert "ServerError: the server answered HTTP 502" in lines[1]
    assert "BadRequest" in lines[2] and "getme" in lines[2].lower()  # the gateway echoed the path …
    assert all("\n" not in line for line in lines)
    # … and only `redacted_exits` keeps it from the terminal: see the subprocess test below.


async def test_a_rejected_token_is_not_waited_for(tg: FakeTelegram, live: LiveIndex) -> None:
    settings = make_settings(tg, TELEGRAM_BOT_TOKEN="999:WRONG")
    app = build_application(settings, live)
    lines: list[str] = []
    with pytest.raises(InvalidToken):
        await initialize_when_reachable(app, wait=wait_none(), say=lines.append)
    assert lines == []


def test_newsbot_telegram_survives_network_outages_and_never_prints_the_token(
    articles_dir: Path, tmp_path: Path
) -> None:
    """The shipped command (fake embedder), started while nothing listens at its Bot API URL,
    then behind a gateway that echoes the request path (token included) in 502 and 400 pages;
    later the network goes away while it polls, and comes back."""
    port = free_port()
    env = clean_env(
        PYTHONUNBUFFERED="1",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=f"http://127.0.0.1:{port}/bot",
        NEWSBOT_ARTICLES_DIR=str(articles_dir),
        NEWSBOT_INDEX_DIR=str(tmp_path / "index"),
    )
    bot = subprocess.Popen(
        [sys.executable, "-c", NEWSBOT, "-v", "telegram"],
        cwd=tmp_path,  # no .env
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    err = Lines(bot.stderr)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(bot.stdout), daemon=True)
    reader.start()
    tg = FakeTelegram(token=TOKEN, port=port)
    try:
        err.until("cannot reach Telegram", timeout=90)  # connection refused
        tg.fail_next("getMe", error_code=502, echo_path=True)
        tg.fail_next("getMe", error_code=400, echo_path=True)
        tg.start()
        err.until("connected as @", timeout=90)
        tg.push_message(42, KRYWYJ_SENTENCE)
        tg.wait_for(answered, timeout=60)
        # An outage while running: one line per failed poll, and answers once it is over.
        tg.pause()
        err.until("Telegram unreachable while polling for updates", timeout=60)
        tg.resume()
        since = len(tg.requests)
        tg.push_message(43, KRYWYJ_SENTENCE)
        tg.wait_for(answered, timeout=90, since=since)
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=60) == 0
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
        tg.stop()
    reader.join(timeout=10)
    with pytest.raises(AssertionError):
        err.until("never printed", timeout=2)  # drain what is left
    printed = "\n".join(err.seen + out)
    assert SECRET.lower() not in printed.lower()  # PTB lower-cases error descriptions
    assert "Traceback" not in printed
    unreachable = [line for line in err.seen if "cannot reach Telegram" in line]
    assert len(unreachable) >= 3  # refused, 502, 400: one line each
    assert any("<token>/getme" in line.lower() for line in unreachable)  # the echo, redacted
    assert len(tg.sent_messages(42)) == len(tg.sent_messages(43)) == 1


def answered(method: str, params: dict[str, Any]) -> bool:
    return method == "sendMessage" and "<blockquote>" in params["text"]


# --- the token never leaves the process -------------------------------------------------------


def test_every_exit_redacts_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("test.redaction")
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(handler)
    hooks = (sys.stdout, sys.stderr, sys.excepthook, threading.excepthook, warnings.showwarning)
    try:
        with redacted_exits(TOKEN):
            print(f"GET https://api.telegram.org/bot{TOKEN}/getMe")
            print(f"escaped /bot{TOKEN.replace(':', '%3A')}/getMe", file=sys.stderr)
            logger.warning("failed: %s", f"/bot{TOKEN}/sendMessage")
            logger.warning("capitalised by PTB: /bot%s/getme", TOKEN.lower())
            try:
                raise RuntimeError(f"boom at /bot{TOKEN}/getMe")
            except RuntimeError:
                logger.exception("with traceback")
                sys.excepthook(*sys.exc_info())
            thread = threading.Thread(target=raise_with_token, name="worker")
            thread.start()
            thread.join()
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.warn(f"deprecated /bot{TOKEN}/x", UserWarning, stacklevel=1)
    finally:
        logging.getLogger().removeHandler(handler)
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert SECRET.lower() not in printed.lower()
    assert printed.count("<token>") >= 8  # each exit above once
    assert "RuntimeError: boom at /bot<token>/getMe" in printed
    assert "Exception in worker" in printed and "UserWarning: deprecated" in printed
    assert (sys.stdout, sys.stderr, sys.excepthook, threading.excepthook, warnings.showwarning) == (
        hooks
    )  # all restored


def test_network_failures_logged_with_a_traceback_become_one_redacted_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from telegram.error import NetworkError

    from bot.telegram.network import network_errors_in_one_line

    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(handler)
    try:
        with network_errors_in_one_line(), redacted_exits(TOKEN):
            try:
                raise NetworkError(f"httpx.ReadError: at /bot{TOKEN}/getUpdates")
            except NetworkError:
                logging.getLogger("telegram.ext.Updater").exception("Error while polling")
            try:
                raise KeyError("a bug")
            except KeyError:
                logging.getLogger("bot").exception("failed to handle an update")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (
        "Error while polling (NetworkError: httpx.ReadError: at /bot<token>/getUpdates)"
    )
    assert lines[1] == "failed to handle an update" and lines[2].startswith("Traceback")


def raise_with_token() -> None:
    raise ValueError(f"thread failed at /bot{TOKEN}/getUpdates")


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def tg():
    with FakeTelegram(token=TOKEN) as server:
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class tg_stub:
    def __init__(self, port: int) -> None:
        self.token = TOKEN
        self.base_url = f"http://127.0.0.1:{port}/bot"


async def test_next_to_newsbot_watch_the_bot_answers_from_what_watch_publishes(
    tg: FakeTelegram, articles_dir: Path, index_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds the service lock (`newsbot watch`): the bot starts anyway and
    every question follows the generation that process publishes."""
    from bot.telegram.app import post_init, post_shutdown
    from index.lock import ServiceLock
    from tests.fakes.embedder import FakeEmbedder

    fact = "Im Hafen von Kiel legte ein Frachter voller Pinguine an."
    live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    live.sync()
    settings = make_settings(
        tg, NEWSBOT_ARTICLES_DIR=str(articles_dir), NEWSBOT_INDEX_DIR=str(index_dir)
    )
    with ServiceLock(index_dir):  # what `newsbot watch` holds for its whole life
        app = build_application(settings, live)
        await app.initialize()
        harness = Harness(tg, app)
        try:
            with caplog.at_level(logging.WARNING):
                await post_init(app)
            assert "following its updates instead" in caplog.text
            (articles_dir / "kiel.txt").write_text(f"Pinguine in Kiel\n\n{fact}\n")
            LiveIndex(articles_dir, index_dir, FakeEmbedder()).sync()  # the watcher's sync
            [listing] = await harness.send(42, "/sources")
            [answer] = await harness.send(42, fact)
        finally:
            await post_shutdown(app)
            await app.shutdown()
    assert "Articles I know (1–6 of 6)" in listing["text"] and "Pinguine in Kiel" in listing["text"]
    assert answer["text"].startswith(f"{fact}\n[1] Pinguine in Kiel, ¶1")
