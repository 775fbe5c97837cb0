"""Admin commands for feeds in the Telegram bot: /feeds, /feed_add URL, /feed_remove N.

The polling itself runs beside the folder watcher (`bot.telegram.admin.start_watching`),
in the process that holds the index's service lock. Subscribing fetches the URL in a worker
thread, through the same guard as polling: an admin's typed URL never reaches an internal
address unless NEWSBOT_FEED_ALLOW_PRIVATE=1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from telegram import Message, Update
from telegram.ext import Application, CommandHandler, filters

from bot import feeds
from bot.settings import Settings
from bot.telegram.admin import is_admin
from bot.telegram.state import Context

NOT_ADMIN = "Only the bot's admins can manage feeds."
MAX_REPLY_CHARS = 4000

NEW_MESSAGES = filters.UpdateType.MESSAGE


def register_feed_handlers(application: Application) -> None:
    application.add_handler(CommandHandler("feeds", on_feeds, filters=NEW_MESSAGES))
    application.add_handler(CommandHandler("feed_add", on_feed_add, filters=NEW_MESSAGES))
    application.add_handler(CommandHandler("feed_remove", on_feed_remove, filters=NEW_MESSAGES))


def _settings(context: Context) -> Settings:
    return context.bot_data.settings


async def _admin_message(update: Update, context: Context) -> tuple[Message, Settings] | None:
    """The message and settings when an admin sent it; otherwise tells the sender, and None."""
    message = update.effective_message
    if message is None:
        return None
    settings = _settings(context)
    if not is_admin(update, settings):
        await message.reply_text(NOT_ADMIN)
        return None
    return message, settings


async def on_feeds(update: Update, context: Context) -> None:
    if (admin := await _admin_message(update, context)) is None:
        return
    message, settings = admin
    listed = await asyncio.to_thread(feeds.list_feeds, settings)
    text = feeds.describe_feeds(listed).replace("newsbot feeds add URL", "/feed_add URL")
    await message.reply_text(_shorten(text), disable_web_page_preview=True)


async def _run_feed_command(
    update: Update, context: Context, command: Callable[[Settings, str], str], usage: str
) -> bool:
    """Run `command(settings, argument)` for an admin's one-argument command and reply with its
    text or its error; True when it succeeded."""
    if (admin := await _admin_message(update, context)) is None:
        return False
    message, settings = admin
    if len(context.args or []) != 1:
        await message.reply_text(usage)
        return False
    try:
        reply = await asyncio.to_thread(command, settings, context.args[0])
    except feeds.FeedCommandError as exc:
        await message.reply_text(_shorten(str(exc)), disable_web_page_preview=True)
        return False
    await message.reply_text(_shorten(reply), disable_web_page_preview=True)
    return True


async def on_feed_add(update: Update, context: Context) -> None:
    usage = "Usage: /feed_add URL (an RSS or Atom feed, or a page naming one)"
    if await _run_feed_command(update, context, feeds.add_feed, usage):
        polling = context.bot_data.feed_polling
        if polling is not None:
            polling.loop.wake()  # poll the new feed now, not at the next look


async def on_feed_remove(update: Update, context: Context) -> None:
    usage = "Usage: /feed_remove N (the number /feeds shows) or URL"
    await _run_feed_command(update, context, feeds.remove_feed, usage)


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_REPLY_CHARS else text[: MAX_REPLY_CHARS - 1] + "…"
