"""Who may ask: the TELEGRAM_ALLOWED_CHAT_IDS allowlist, checked before any other handler.

Chats outside it (when it is set) get one polite refusal, the first time they address the
bot, and are ignored after that.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.telegram.messages import is_addressed_to_bot
from bot.telegram.state import Context
from bot.telegram.texts import text, user_language

log = logging.getLogger(__name__)


async def enforce_allowlist(update: Update, context: Context) -> None:
    """Stop updates from chats outside TELEGRAM_ALLOWED_CHAT_IDS (empty: everyone may ask).

    Admins (TELEGRAM_ADMIN_IDS) pass everywhere: they run the bot.
    """
    settings = context.bot_data.settings
    allowed = settings.telegram_allowed_chat_ids
    chat, user = update.effective_chat, update.effective_user
    if (
        not allowed
        or (chat is not None and chat.id in allowed)
        or (user is not None and user.id in settings.telegram_admin_ids)
    ):
        return
    if update.callback_query:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    message = update.message
    refused = context.bot_data.refused_chats
    if (
        chat is not None
        and message is not None
        and chat.id not in refused
        and is_addressed_to_bot(message, context.bot.username, context.bot.id)
    ):
        refused.add(chat.id)
        log.info("refused chat %s (not in TELEGRAM_ALLOWED_CHAT_IDS)", chat.id)
        await message.reply_text(text("not_allowed", user_language(update), chat_id=chat.id))
    raise ApplicationHandlerStop
