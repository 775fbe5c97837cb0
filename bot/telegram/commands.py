"""Handlers for commands, plain messages and the fallbacks: they decide which updates are
questions and hand those to `bot.telegram.answers`."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.telegram.answers import answer_question, conversation_key, conversations, example_for
from bot.telegram.messages import is_addressed_to_bot, mentions_bot, question_in, replies_to_bot
from bot.telegram.state import Context
from bot.telegram.texts import text, user_language
from bot.telegram.time import coverage_html


async def on_start(update: Update, context: Context) -> None:
    """Introduce the bot; also starts a new topic (forgets the previous question)."""
    message = update.effective_message
    assert message is not None
    conversations(context).reset(conversation_key(update))
    language = user_language(update)
    example = await example_for(context, language)
    live = context.bot_data.live
    coverage = await asyncio.to_thread(coverage_html, live, language)
    start = text("start", language, example=example)
    await message.reply_html(f"{start}\n\n{coverage}" if coverage else start, do_quote=False)


async def on_help(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_html(text("help", user_language(update)), do_quote=False)


async def on_ask(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    await _answer_or_explain(
        update, context, question_in(message, context.bot.username), "ask_usage"
    )


async def on_private_text(update: Update, context: Context) -> None:
    """In a private chat every text message is a question."""
    message = update.effective_message
    assert message is not None
    await answer_question(update, context, question_in(message, context.bot.username))


async def on_group_text(update: Update, context: Context) -> None:
    """In a group only messages that mention the bot or reply to it are questions."""
    message = update.effective_message
    assert message is not None
    bot = context.bot
    if not (mentions_bot(message, bot.username, bot.id) or replies_to_bot(message, bot.id)):
        return
    await _answer_or_explain(update, context, question_in(message, bot.username), "no_words")


async def _answer_or_explain(
    update: Update, context: Context, question: str | None, explanation: str
) -> None:
    """Answer `question`; without one, reply with the text `explanation` and an example."""
    if not question:
        language = user_language(update)
        example = await example_for(context, language)
        assert update.effective_message is not None
        await update.effective_message.reply_html(text(explanation, language, example=example))
        return
    await answer_question(update, context, question)


async def on_unknown_command(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_text(text("unknown_command", user_language(update)))


async def on_non_text(update: Update, context: Context) -> None:
    """Stickers, photos, voice …: say what the bot can do, where it was addressed."""
    message = update.effective_message
    if message is None or not is_addressed_to_bot(message, context.bot.username, context.bot.id):
        return
    await message.reply_text(text("not_text", user_language(update)))


async def on_unknown_button(update: Update, context: Context) -> None:
    """A button from an older version of the bot: stop the spinner, say so."""
    query = update.callback_query
    assert query is not None
    await query.answer(text("expired", user_language(update)), show_alert=True)
