"""The state every handler shares, typed: `context.bot_data` is a `BotState`
(`ContextTypes(bot_data=BotState)`), so a handler reads `context.bot_data.live`, not a string key.

A leaf module, so the handler modules need not import `bot.telegram.app` (which imports them).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telegram.ext import CallbackContext, ContextTypes, ExtBot

if TYPE_CHECKING:
    from bot.conversation import Conversations
    from bot.feeds import FeedPolling
    from bot.rate_limit import ChatRateLimiter
    from bot.settings import Settings
    from bot.telegram.answers import AnswerCache
    from bot.watch import ArticleWatcher
    from retrieval.live import LiveIndex


@dataclass
class BotState:
    """python-telegram-bot creates it empty (`ContextTypes` needs a class it can call without
    arguments); `build_application` fills the first five before any update is handled."""

    settings: Settings = None  # type: ignore[assignment]
    live: LiveIndex = None  # type: ignore[assignment]
    conversations: Conversations = None  # type: ignore[assignment]
    rate_limiter: ChatRateLimiter = None  # type: ignore[assignment]
    answers: AnswerCache = None  # type: ignore[assignment]
    refused_chats: set[int] = field(default_factory=set)  # refused once, ignored after
    # Held while this bot keeps the index in sync (`bot.telegram.admin.start_watching`).
    watcher: ArticleWatcher | None = None
    service_lock: AbstractContextManager | None = None
    feed_polling: FeedPolling | None = None  # polls the feeds beside the watcher


Context = CallbackContext[ExtBot, dict, dict, BotState]
CONTEXT_TYPES = ContextTypes(bot_data=BotState)
