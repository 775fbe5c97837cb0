"""`newsbot telegram`: the Telegram front end (python-telegram-bot 22, long polling).

This module assembles the application; the handlers live in the `bot.telegram_*` modules by
concern. Extension points: every handler is registered in `register_handlers` (feature handlers
go before the fallbacks at its end), and shared state is `application.bot_data`, a typed
`bot.telegram.state.BotState`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable

from telegram import BotCommandScopeDefault, Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.conversation import Conversations
from bot.rate_limit import ChatRateLimiter
from bot.settings import Settings
from bot.telegram.access import enforce_allowlist
from bot.telegram.admin import register_admin_handlers, start_watching, stop_watching
from bot.telegram.answers import MORE_DATA, AnswerCache, on_more_button
from bot.telegram.commands import (
    on_ask,
    on_group_text,
    on_help,
    on_non_text,
    on_private_text,
    on_start,
    on_unknown_button,
    on_unknown_command,
)
from bot.telegram.feeds import register_feed_handlers
from bot.telegram.network import (
    RetryingRateLimiter,
    build_request,
    certainly_not_delivered,
    describe,
    initialize_when_reachable,
    is_network_trouble,
    network_errors_in_one_line,
    redacted_exits,
)
from bot.telegram.sources import SOURCES_DATA, on_sources, on_sources_button
from bot.telegram.state import CONTEXT_TYPES, BotState, Context
from bot.telegram.texts import COMMANDS, text, user_language
from bot.telegram.time import on_latest
from index.lock import ServiceLockedError
from index.stores import is_postgresql
from index.stores.base import IndexMissingError, StoreError
from retrieval.live import LiveIndex

log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 5.0  # PTB's default: how long to wait for Telegram's answer
EXIT_CONFIG = 78  # sysexits.h EX_CONFIG: a rejected token; restarting will not help

# --- building the application --------------------------------------------------------------


def file_url_for(base_url: str) -> str | None:
    """Bot API file URL matching `base_url` (…/bot → …/file/bot); None keeps PTB's default."""
    stripped = base_url.rstrip("/")
    if stripped.endswith("/bot"):
        return stripped.removesuffix("/bot") + "/file/bot"
    return None


def build_application(
    settings: Settings,
    live: LiveIndex,
    *,
    clock: Callable[[], float] = time.monotonic,
    rate_limiter: RetryingRateLimiter | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> Application:
    """The bot, ready to `initialize()`; `clock` drives follow-up expiry and rate limits.

    Requests go through `DeliveryAwareRequest` and `RetryingRateLimiter`: a reply is resent
    only when it certainly did not arrive (see `bot.telegram.network`).
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .context_types(CONTEXT_TYPES)
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .request(build_request(read_timeout=read_timeout))
        .get_updates_request(build_request(pool_size=1))
        .concurrent_updates(True)
        .rate_limiter(rate_limiter or RetryingRateLimiter(max_retries=3))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    file_url = file_url_for(settings.telegram_base_url)
    if file_url:
        builder = builder.base_file_url(file_url)
    application = builder.build()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs request URLs: the token
    state: BotState = application.bot_data
    state.settings, state.live = settings, live
    state.conversations = Conversations(clock=clock)
    state.rate_limiter = ChatRateLimiter(clock=clock)
    state.answers = AnswerCache()
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
    application.add_handler(CommandHandler("latest", on_latest, filters=NEW_MESSAGES))
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
    register_feed_handlers(application)  # /feeds, /feed_add, /feed_remove

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
    try:
        await set_bot_commands(application)
    except TelegramError as error:  # the menu is a convenience: answering matters more
        log.warning("could not publish the command menu (%s)", describe(error))
    try:
        await start_watching(application)
    except ServiceLockedError as error:
        # `newsbot watch` (or another bot) keeps the index in sync: answer from what it
        # publishes (each question follows the live generation) instead of refusing to start.
        log.warning("not watching the articles folder: %s; following its updates instead", error)
    print(
        f"newsbot telegram: connected as @{application.bot.username}; answering (Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )


async def post_shutdown(application: Application) -> None:
    await stop_watching(application)


async def set_bot_commands(application: Application) -> None:
    """The command menu, in English and German (clients pick by the user's language)."""
    bot = application.bot
    await bot.set_my_commands(COMMANDS["en"], scope=BotCommandScopeDefault())
    await bot.set_my_commands(COMMANDS["de"], scope=BotCommandScopeDefault(), language_code="de")


# --- errors --------------------------------------------------------------------------------


async def on_error(update: object, context: Context) -> None:
    """Log the failure (the token never appears: see `redacted_exits`) and tell the user.

    Network trouble is one line, no traceback, and no "sorry" message: a reply whose outcome
    is unknown may have arrived, and while Telegram is unreachable a second message would not
    get through either. PTB's polling retries on its own. An index that cannot be read (the
    database is down) is one line too, and the user is told.
    """
    error = context.error
    if error is not None and is_network_trouble(error):
        if update is None:
            log.warning("Telegram unreachable while polling for updates (%s)", describe(error))
        elif certainly_not_delivered(error):
            log.warning("a reply could not be sent, retries used up (%s)", describe(error))
        else:
            log.warning(
                "a reply may not have arrived (%s); not sent again, it may have", describe(error)
            )
        return
    if isinstance(error, Conflict):
        log.error("another bot instance polls with this token (%s)", describe(error))
        return
    if isinstance(error, StoreError):  # a database outage, a damaged index: said in full
        log.error("could not answer: %s", error)
    else:
        log.error("failed to handle an update", exc_info=error)
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


# --- the command ---------------------------------------------------------------------------


def run_telegram(settings: Settings) -> int:
    """Sync the index, wait for Telegram, then answer until interrupted.

    Exit 2 without a token, 78 (EX_CONFIG) when Telegram rejects it: a service manager should
    not restart either. Anything else is one line on stderr and exit 1. The token is redacted
    from everything the process prints or logs while it runs.
    """
    if settings.telegram_bot_token is None:
        print(
            "newsbot telegram: TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather and "
            "put its token in the environment or in .env.",
            file=sys.stderr,
        )
        return 2
    token = settings.telegram_bot_token.get_secret_value()
    with network_errors_in_one_line(), redacted_exits(token):
        try:
            return _serve(settings)
        except InvalidToken:
            print(
                "newsbot telegram: Telegram rejected TELEGRAM_BOT_TOKEN (or TELEGRAM_BASE_URL is "
                "not a Bot API endpoint); check the token with @BotFather.",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        except KeyboardInterrupt:
            return 130
        except Exception as error:
            log.debug("newsbot telegram stopped", exc_info=error)
            print(f"newsbot telegram: stopped: {describe(error)}", file=sys.stderr, flush=True)
            return 1


def _serve(settings: Settings) -> int:
    from bot.runtime import open_live

    live = open_live(settings)
    if is_postgresql(settings.index_location):
        # A shared index is fed by the one process that holds its service lock (post_init):
        # a bot on another machine must not sync its own articles folder into it.
        try:
            live.load()
        except IndexMissingError:
            live.sync()
        print(f"newsbot telegram: index generation {live.generation}", file=sys.stderr)
    else:
        report = live.sync()
        print(f"newsbot telegram: index {report.summary()}", file=sys.stderr, flush=True)
    application = build_application(settings, live)
    # One event loop for the wait and for run_polling, which finds it with get_event_loop().
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(initialize_when_reachable(application, say=_say))
    except BaseException:
        loop.run_until_complete(application.shutdown())
        loop.close()
        raise
    application.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=-1)
    return 0


def _say(line: str) -> None:
    print(f"newsbot telegram: {line}", file=sys.stderr, flush=True)
