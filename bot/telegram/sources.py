"""/sources: the indexed articles, a page at a time, with Previous/Next buttons."""

from __future__ import annotations

import asyncio
import contextlib
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.telegram.formatting import truncate_text
from bot.telegram.state import Context
from bot.telegram.texts import escape, text, user_language
from bot.telegram.time import coverage_html
from index.stores.base import ArticleRecord
from retrieval.latest import by_date
from retrieval.live import LiveIndex

SOURCES_PER_PAGE = 10
SOURCES_PREFIX = "src"
SOURCES_DATA = re.compile(rf"^{SOURCES_PREFIX}:(\d{{1,5}})(?::(en|de))?$")


async def on_sources(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    page_html, markup = await sources_page(context, 0, user_language(update))
    await message.reply_html(
        page_html,
        reply_markup=markup,
        do_quote=False,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


async def on_sources_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = SOURCES_DATA.match(query.data)
    assert match is not None
    await query.answer()
    # The page keeps the language it was first shown in, whoever presses the button.
    language = match[2] or user_language(update)
    page_html, markup = await sources_page(context, int(match[1]), language)
    with contextlib.suppress(BadRequest):  # "message is not modified": same page again
        await query.edit_message_text(
            page_html,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )


def current_articles(live: LiveIndex) -> list[ArticleRecord]:
    """The articles of the live generation, newest first (undated ones last), also when
    another process published it."""
    live.refresh()
    return by_date(live.articles())


async def sources_page(
    context: Context, page: int, language: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the article list; `page` is clamped, as articles may have gone since."""
    live = context.bot_data.live
    articles = await asyncio.to_thread(current_articles, live)
    if not articles:
        return escape(text("sources_empty", language)), None
    pages = (len(articles) + SOURCES_PER_PAGE - 1) // SOURCES_PER_PAGE
    page = max(0, min(page, pages - 1))
    first = page * SOURCES_PER_PAGE
    shown = articles[first : first + SOURCES_PER_PAGE]
    lines = [
        text(
            "sources_header",
            language,
            first=first + 1,
            last=first + len(shown),
            total=len(articles),
        ),
        await asyncio.to_thread(coverage_html, live, language),
    ]
    for number, article in enumerate(shown, start=first + 1):
        title = escape(truncate_text(article.title or article.path, 150))
        date = escape((article.date or "")[:10] or text("no_date", language))
        path = escape(truncate_text(article.path, 150))
        lines.append(f"\n{number}. <b>{title}</b>\n{date} · <code>{path}</code>")
    buttons = []
    if page > 0:
        buttons.append(
            InlineKeyboardButton(
                text("previous", language), callback_data=f"{SOURCES_PREFIX}:{page - 1}:{language}"
            )
        )
    if page < pages - 1:
        buttons.append(
            InlineKeyboardButton(
                text("next", language), callback_data=f"{SOURCES_PREFIX}:{page + 1}:{language}"
            )
        )
    return "\n".join(lines), InlineKeyboardMarkup([buttons]) if buttons else None
