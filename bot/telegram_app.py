"""`newsbot telegram`: the Telegram front end (python-telegram-bot 22, long polling).

This module assembles the application; the handlers live in the `bot.telegram_*` modules by
concern. Extension points: every handler is registered in `register_handlers` (feature handlers
go before the fallbacks at its end), and shared state lives in `application.bot_data` under the
`BOT_DATA_*` keys of `bot.telegram_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from telegram import BotCommandScopeDefault, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.conversation import Conversations
from bot.rate_limit import ChatRateLimiter
from bot.settings import Settings
from bot.telegram_access import enforce_allowlist
from bot.telegram_admin import register_admin_handlers, start_watching, stop_watching
from bot.telegram_answers import MORE_DATA, AnswerCache, on_more_button
from bot.telegram_commands import (
    on_ask,
    on_group_text,
    on_help,
    on_non_text,
    on_private_text,
    on_start,
    on_unknown_button,
    on_unknown_command,
)
from bot.telegram_sources import SOURCES_DATA, on_sources, on_sources_button
from bot.telegram_state import (
    BOT_DATA_ANSWERS,
    BOT_DATA_CONVERSATIONS,
    BOT_DATA_LIVE,
    BOT_DATA_RATE_LIMITER,
    BOT_DATA_REFUSED_CHATS,
    BOT_DATA_SETTINGS,
)
from bot.telegram_texts import COMMANDS, text, user_language
from retrieval.live import LiveIndex

log = logging.getLogger(__name__)

NETWORK_RETRIES = 3


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter waits out `RetryAfter`; this also retries transient network failures.

    Refused requests (`BadRequest`) are not retried, and neither are timeouts: a timed-out
    request may have arrived, and a duplicated answer is worse than a logged error.
    """

    def __init__(self, *, max_retries: int = 3, network_retries: int = NETWORK_RETRIES) -> None:
        super().__init__(max_retries=max_retries)
        self.network_retries = network_retries

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        delay = 0.5
        for attempt in range(self.network_retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except (BadRequest, TimedOut):
                raise
            except NetworkError as error:
                if attempt == self.network_retries:
                    raise
                log.warning("%s failed (%s); retrying in %.1f s", endpoint, error, delay)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")


# --- building the application --------------------------------------------------------------


def file_url_for(base_url: str) -> str | None:
    """Bot API file URL matching `base_url` (…/bot → …/file/bot); None keeps PTB's default."""
    stripped = base_url.rstrip("/")
    if stripped.endswith("/bot"):
        return stripped.removesuffix("/bot") + "/file/bot"
    return None


def build_application(
    settings: Settings, live: LiveIndex, *, clock: Callable[[], float] = time.monotonic
) -> Application:
    """The bot, ready to `initialize()`; `clock` drives follow-up expiry and rate limits."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .concurrent_updates(True)
        .rate_limiter(RetryingRateLimiter(max_retries=3))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    file_url = file_url_for(settings.telegram_base_url)
    if file_url:
        builder = builder.base_file_url(file_url)
    application = builder.build()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs request URLs: the token
    application.bot_data.update(
        {
            BOT_DATA_SETTINGS: settings,
            BOT_DATA_LIVE: live,
            BOT_DATA_CONVERSATIONS: Conversations(clock=clock),
            BOT_DATA_RATE_LIMITER: ChatRateLimiter(clock=clock),
            BOT_DATA_ANSWERS: AnswerCache(),
            BOT_DATA_REFUSED_CHATS: set(),
        }
    )
    register_handlers(application)
    return application


NEW_MESSAGES = filters.UpdateType.MESSAGE  # edits of old questions are not answered again


def register_handlers(application: Application) -> None:
    """Every handler, in one place. In group 0 the first matching handler wins, so feature
    handlers (document upload, /reindex, …) belong before the fallbacks at the end."""
    # Group -1 runs first for every update and can stop it.
    application.add_handler(TypeHandler(Update, enforce_allowlist), group=-1)

    application.add_handler(CommandHandler("start", on_start, filters=NEW_MESSAGES))
    application.add_handler(CommandHandler("help", on_help, filters=NEW_MESSAGES))
    application.add_handler(CommandHandler("sources", on_sources, filters=NEW_MESSAGES))
    application.add_handler(CommandHandler("ask", on_ask, filters=NEW_MESSAGES))
    application.add_handler(CallbackQueryHandler(on_more_button, pattern=MORE_DATA))
    application.add_handler(CallbackQueryHandler(on_sources_button, pattern=SOURCES_DATA))
    application.add_handler(
        MessageHandler(
            NEW_MESSAGES & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND,
            on_private_text,
        )
    )
    application.add_handler(
        MessageHandler(
            NEW_MESSAGES & filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND,
            on_group_text,
        )
    )
    register_admin_handlers(application)  # /reindex, article upload (documents)

    # Fallbacks.
    application.add_handler(
        MessageHandler(
            NEW_MESSAGES & filters.ChatType.PRIVATE & filters.COMMAND, on_unknown_command
        )
    )
    application.add_handler(
        MessageHandler(NEW_MESSAGES & ~filters.TEXT & ~filters.StatusUpdate.ALL, on_non_text)
    )
    application.add_handler(CallbackQueryHandler(on_unknown_button))
    application.add_error_handler(on_error)


async def post_init(application: Application) -> None:
    """Publish the command menu, then keep the index in sync with the articles folder."""
    await set_bot_commands(application)
    await start_watching(application)


async def post_shutdown(application: Application) -> None:
    await stop_watching(application)


async def set_bot_commands(application: Application) -> None:
    """The command menu, in English and German (clients pick by the user's language)."""
    bot = application.bot
    await bot.set_my_commands(COMMANDS["en"], scope=BotCommandScopeDefault())
    await bot.set_my_commands(COMMANDS["de"], scope=BotCommandScopeDefault(), language_code="de")


# --- errors --------------------------------------------------------------------------------


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure (the token never appears: see `TokenRedactor`) and tell the user."""
    log.error("failed to handle an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    sorry = text("error", user_language(update))
    try:
        if update.callback_query:
            await update.callback_query.answer(sorry, show_alert=True)
        elif update.effective_message:
            await context.bot.send_message(update.effective_chat.id, sorry)
    except TelegramError:
        log.warning("could not tell the user about the error either")


class TokenRedactor(logging.Filter):
    """Replaces the bot token in log records; PTB puts it in some messages (InvalidToken)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        return True


@contextlib.contextmanager
def token_kept_out_of_logs(token: str) -> Iterator[None]:
    """httpx logs every request URL, token included, at INFO; other records are redacted."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    redactor = TokenRedactor(token)
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    for handler in handlers:
        if handler is not None:
            handler.addFilter(redactor)
    try:
        yield
    finally:
        for handler in handlers:
            if handler is not None:
                handler.removeFilter(redactor)


# --- the command ---------------------------------------------------------------------------


def run_telegram(settings: Settings) -> int:
    """Sync the index once, then answer until interrupted. Exit 2 without a token."""
    if settings.telegram_bot_token is None:
        print(
            "newsbot telegram: TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather and "
            "put its token in the environment or in .env.",
            file=sys.stderr,
        )
        return 2
    from index.embedders import load_embedder

    token = settings.telegram_bot_token.get_secret_value()
    with token_kept_out_of_logs(token):
        embedder = load_embedder(settings.embedding_model)
        live = LiveIndex(
            settings.articles_dir, settings.index_dir, embedder, candidates=settings.candidates
        )
        report = live.sync()
        print(f"newsbot telegram: index {report.summary()}", file=sys.stderr, flush=True)
        application = build_application(settings, live)
        try:
            application.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=3)
        except InvalidToken:
            print(
                "newsbot telegram: Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather.",
                file=sys.stderr,
            )
            return 1
    return 0
