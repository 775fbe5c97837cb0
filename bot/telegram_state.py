"""Keys of `application.bot_data`, the state the handler modules share.

A leaf module, so the handler modules need not import `bot.telegram_app` (which imports them).
"""

BOT_DATA_SETTINGS = "settings"
BOT_DATA_LIVE = "live"
BOT_DATA_CONVERSATIONS = "conversations"
BOT_DATA_RATE_LIMITER = "rate_limiter"
BOT_DATA_ANSWERS = "answers"
BOT_DATA_REFUSED_CHATS = "refused_chats"
