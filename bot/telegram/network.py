"""How the bot talks to the Bot API when the network misbehaves, and how the token stays secret.

At most once: a reply is sent again only when it certainly did not arrive — the connection
could not be made (the request never left), or the server answered 5xx (it did not carry the
request out); 429 is waited out by PTB's `AIORateLimiter`. A request whose outcome is unknown (a
connection dropped after sending, a read timeout) is never repeated: a lost answer can be asked
again, a doubled one can't be taken back. tenacity does the back-off, as it is well kept and
already handles async sleeps, jitter and stop conditions.

The token is part of every request URL, so any error text may carry it (a gateway that echoes
the path, httpx's exception messages). `redacted_exits` redacts it wherever text leaves the
process: logging, stdout/stderr, `sys.excepthook`, `threading.excepthook`, warnings.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import sys
import threading
import traceback
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TextIO
from urllib.parse import quote

import httpx
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application
from telegram.request import HTTPXRequest
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from bot.log_filters import filter_installed

log = logging.getLogger("bot.telegram")

NETWORK_RETRIES = 3  # resends of a reply that certainly did not arrive
# Start-up and polling have their own loops (`initialize_when_reachable`, PTB's updater).
OWN_RETRY_LOOP = frozenset({"getMe", "getUpdates", "deleteWebhook", "setWebhook"})
STARTUP_WAIT_MAX_SECONDS = 60.0  # back-off cap while Telegram is unreachable at start
REDACTED = "<token>"

Sleep = Callable[[float], Awaitable[None]]


# --- what a failure means ------------------------------------------------------------------


class NotSent(NetworkError):
    """The request never reached the server: no connection could be made."""


class ServerError(NetworkError):
    """The server (Telegram or a gateway in front of it) answered 5xx: not carried out."""


_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def certainly_not_delivered(error: BaseException) -> bool:
    """May this request be sent again without risking a second copy?"""
    return isinstance(error, NotSent | ServerError)


def describe(error: BaseException) -> str:
    """One line for a log: the error's kind and message, without a traceback."""
    message = " ".join(str(error).split()) or "no details"
    return f"{type(error).__name__}: {message}"


class DeliveryAwareRequest(HTTPXRequest):
    """PTB's httpx transport, telling "never sent" and "5xx" apart from an unknown outcome.

    PTB raises the same `NetworkError` for a refused connection and for one dropped after the
    request went out; the httpx cause tells them apart. 5xx pages are not parsed (PTB logs a
    traceback for every HTML error page it cannot read as JSON).
    """

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(*args, **kwargs)
        except NetworkError as error:  # TimedOut included
            cause = error.__cause__
            if isinstance(cause, _NOT_CONNECTED):
                reason = " ".join(str(cause).split()) or type(cause).__name__
                raise NotSent(f"could not connect ({reason})") from error
            raise
        if code >= 500:
            raise ServerError(f"the server answered HTTP {code}")
        return code, payload

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """As PTB's, without logging a traceback (and the page) for a non-JSON answer."""
        try:
            return json.loads(payload.decode("utf-8", "replace"))
        except ValueError as exc:
            raise TelegramError("Invalid server response (not JSON)") from exc


class RetryingRateLimiter(AIORateLimiter):
    """`AIORateLimiter` waits out 429 `RetryAfter`; this also resends what certainly did not
    arrive (see `certainly_not_delivered`), with exponential back-off."""

    def __init__(
        self,
        *,
        max_retries: int = 3,
        network_retries: int = NETWORK_RETRIES,
        wait: wait_base | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(max_retries=max_retries)
        self.network_retries = network_retries
        self.wait = wait or wait_exponential(multiplier=0.5, max=8)
        self.sleep = sleep

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        def say_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            log.warning("%s failed (%s); sending again in %.1f s", endpoint, error, delay)

        retries = 0 if endpoint in OWN_RETRY_LOOP else self.network_retries
        retrying = AsyncRetrying(
            retry=retry_if_exception(certainly_not_delivered),
            stop=stop_after_attempt(retries + 1),
            wait=self.wait,
            sleep=self.sleep,
            before_sleep=say_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                result = await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
        return result


def build_request(*, read_timeout: float = 5.0, pool_size: int = 256) -> DeliveryAwareRequest:
    return DeliveryAwareRequest(connection_pool_size=pool_size, read_timeout=read_timeout)


# --- start-up -------------------------------------------------------------------------------


def worth_waiting_for(error: BaseException) -> bool:
    """At start, every Telegram failure but a rejected token may pass: a network that is down,
    a gateway answering 502 or 400 while it restarts, rate limits."""
    return isinstance(error, TelegramError) and not isinstance(error, InvalidToken)


async def initialize_when_reachable(
    application: Application,
    *,
    wait: wait_base | None = None,
    sleep: Sleep = asyncio.sleep,
    say: Callable[[str], None] | None = None,
) -> None:
    """`application.initialize()` (getMe) until it succeeds, one line per failed attempt; the
    bot comes up when the network does. A rejected token (`InvalidToken`) is raised at once."""
    say = say or (lambda line: log.warning("%s", line))

    def say_unreachable(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        reason = describe(error) if error else "unknown"
        say(f"cannot reach Telegram ({reason}); trying again in {delay:.0f} s")

    retrying = AsyncRetrying(
        retry=retry_if_exception(worth_waiting_for),
        wait=wait or wait_exponential_jitter(initial=1, max=STARTUP_WAIT_MAX_SECONDS, jitter=1),
        sleep=sleep,
        before_sleep=say_unreachable,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            await application.initialize()


def is_network_trouble(error: BaseException | None) -> bool:
    """Failures of the connection to Telegram, reported in one line without a traceback."""
    return isinstance(error, NetworkError | TimedOut | RetryAfter)


class NetworkTracebacksAsOneLine(logging.Filter):
    """python-telegram-bot logs some network failures with a traceback (e.g. the last
    getUpdates at shutdown while offline); a network failure is one line, not 100."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_network_trouble(error):
            record.msg, record.args = f"{record.getMessage()} ({describe(error)})", None
            record.exc_info, record.exc_text = None, None
        return True


@contextlib.contextmanager
def network_errors_in_one_line() -> Iterator[None]:
    """Enter before `redacted_exits`, so the one line is redacted too (filters run in order)."""
    with filter_installed(NetworkTracebacksAsOneLine()):
        yield


# --- the token never leaves the process -----------------------------------------------------


class Redactor:
    """Replaces the token, its secret part and their URL-encoded forms with `<token>`.

    Case-insensitively: PTB capitalises error descriptions ("Bad Request: …" becomes "…" with
    the rest lower-cased), so a gateway page that echoes the path shows a lower-cased token.
    """

    def __init__(self, token: str) -> None:
        secret = token.partition(":")[2] or token
        needles = {token, secret, quote(token, safe=""), quote(secret, safe="")}
        ordered = sorted((n for n in needles if n), key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(n) for n in ordered), re.IGNORECASE)

    def __call__(self, text: str) -> str:
        return self.pattern.sub(REDACTED, text)


class TokenRedactor(logging.Filter):
    """Redacts log records (message, arguments and formatted traceback) before any handler."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.redact = Redactor(token)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class RedactingStream(io.TextIOBase):
    """A text stream that redacts what is written to it, then passes it on."""

    def __init__(self, stream: TextIO, redact: Callable[[str], str]) -> None:
        self.stream = stream
        self.redact = redact

    def write(self, text: str) -> int:
        self.stream.write(self.redact(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")


@contextlib.contextmanager
def redacted_exits(token: str) -> Iterator[Redactor]:
    """While the bot runs, every way text leaves the process redacts the token."""
    redact = Redactor(token)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs each request URL at INFO
    with filter_installed(TokenRedactor(token)):
        yield from _redacted_streams_and_hooks(redact)


def _redacted_streams_and_hooks(redact: Redactor) -> Iterator[Redactor]:
    """stdout, stderr, the exception hooks and warnings redacted until the generator ends."""
    saved = (
        sys.stdout,
        sys.stderr,
        sys.excepthook,
        threading.excepthook,
        sys.unraisablehook,
        warnings.showwarning,
    )
    out, err = RedactingStream(sys.stdout, redact), RedactingStream(sys.stderr, redact)

    def excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        err.write("".join(traceback.format_exception(kind, value, tb)))
        err.flush()

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread else "thread"
        err.write(f"Exception in {name}:\n")
        excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    def unraisablehook(unraisable: Any) -> None:
        err.write(f"{unraisable.err_msg or 'Exception ignored in'}: {unraisable.object!r}\n")
        value = unraisable.exc_value or unraisable.exc_type()
        excepthook(unraisable.exc_type, value, unraisable.exc_traceback)

    def showwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or err).write(redact(text))

    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    sys.excepthook, threading.excepthook = excepthook, thread_excepthook
    sys.unraisablehook = unraisablehook
    warnings.showwarning = showwarning
    try:
        yield redact
    finally:
        (
            sys.stdout,
            sys.stderr,
            sys.excepthook,
            threading.excepthook,
            sys.unraisablehook,
            warnings.showwarning,
        ) = saved
