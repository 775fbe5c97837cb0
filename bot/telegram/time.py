"""Time in the Telegram bot: `/latest [topic]` (the newest articles with their lead), and the
archive's coverage for `/start` and `/sources`."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.telegram.formatting import quote_block, split_html_blocks
from bot.telegram.state import Context
from bot.telegram.texts import escape, user_language
from retrieval.latest import Latest, latest
from retrieval.live import LiveIndex
from retrieval.render import NO_LATEST, coverage_line

LATEST_COUNT = 5
LATEST_HEADER = {
    "en": "The newest articles{topic}, newest first:",
    "de": "Die neuesten Artikel{topic}, die neuesten zuerst:",
}
ABOUT = {"en": " about {}", "de": " zu {}"}
NONE = {"en": "I have no articles yet.", "de": "Ich habe noch keine Artikel."}


def coverage_html(live: LiveIndex, language: str) -> str:
    """`120 articles; 26 Feb – 30 Mar 1987; 3 undated`, escaped for HTML."""
    return escape(coverage_line(live.coverage(), language))


def newest(live: LiveIndex, topic: str | None) -> Latest:
    """The newest articles of the live generation (another process may have published it)."""
    live.refresh()
    answerer = live.answerer
    return latest(answerer.store, topic, LATEST_COUNT, answerer=answerer)


def latest_messages(found: Latest, language: str) -> list[str]:
    if not found.quotes:
        if found.topic:
            template = NO_LATEST.get(language, NO_LATEST["en"])
            return [escape(template.format(topic=found.topic))]
        return [escape(NONE.get(language, NONE["en"]))]
    about = ABOUT.get(language, ABOUT["en"]).format(found.topic) if found.topic else ""
    header = LATEST_HEADER.get(language, LATEST_HEADER["en"]).format(topic=about)
    blocks = [escape(header)]
    blocks += [quote_block(q, rank, language=language) for rank, q in enumerate(found.quotes, 1)]
    return split_html_blocks(blocks)


async def on_latest(update: Update, context: Context) -> None:
    """`/latest [topic]`: the newest articles (title, date, lead quote), on a topic if given."""
    message = update.effective_message
    assert message is not None
    language = user_language(update)
    topic = " ".join(context.args or []).strip() or None
    live = context.bot_data.live
    found = await asyncio.to_thread(newest, live, topic)
    for message_html in latest_messages(found, language):
        await message.reply_html(message_html, do_quote=False)
