"""Answering a question: checks, retrieval in a worker thread, quotes sent a page at a time,
and the "More quotes" button, which finds its answer in `AnswerCache` or recomputes it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

from bot import questions
from bot.conversation import Conversations
from bot.questions import MAX_QUESTION_CHARS
from bot.telegram.formatting import format_answer_html, quote_block, split_html_blocks
from bot.telegram.messages import question_in
from bot.telegram.state import Context
from bot.telegram.texts import escape, text, user_language
from index.stores.base import StoreError
from retrieval.answer import Answer
from retrieval.live import LiveIndex
from retrieval.render import nearest_header, time_note, unanswered

QUOTES_PER_QUESTION = 10  # asked of retrieval
QUOTES_PER_PAGE = 3  # shown per message batch; "More quotes" shows the next ones
ANSWER_CACHE_SIZE = 512
TYPING_REFRESH_SECONDS = 4.5  # Telegram shows "typing…" for about 5 s

MORE_PREFIX = "more"
MORE_DATA = re.compile(rf"^{MORE_PREFIX}:([0-9a-f]{{12}}):(\d{{1,3}})$")


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    question: str
    context: str | None
    answer: Answer


def answer_key(question: str, context: str | None) -> str:
    """A short key for button data: Telegram allows only 64 bytes of callback data."""
    data = f"{question}\x00{context or ''}".encode()
    return hashlib.blake2b(data, digest_size=6).hexdigest()


class AnswerCache:
    """Recent answers by `answer_key`, so "More quotes" needs no second retrieval."""

    def __init__(self, size: int = ANSWER_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[str, AskedQuestion] = OrderedDict()

    def put(self, asked: AskedQuestion) -> str:
        key = answer_key(asked.question, asked.context)
        self._entries[key] = asked
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return key

    def get(self, key: str) -> AskedQuestion | None:
        return self._entries.get(key)


def conversations(context: Context) -> Conversations:
    return context.bot_data.conversations


def conversation_key(update: Update) -> Hashable:
    """One conversation per private chat; per member in a group, so people don't mix topics."""
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None
    if chat.type == ChatType.PRIVATE or user is None:
        return chat.id
    return (chat.id, user.id)


def question_problem(question: str, language: str, example: str | None = None) -> str | None:
    """Why `question` can't be answered as it is (an HTML reply text), or None."""
    problem = questions.question_problem(question)
    if problem == "too_long":
        return text("too_long", language, length=len(question), limit=MAX_QUESTION_CHARS)
    if problem == "no_words":
        return text("no_words", language, example=example)
    return None


async def example_for(context: Context, language: str) -> str:
    """An example question about an article in the index (neutral while it has none)."""
    live = context.bot_data.live
    try:
        articles = await asyncio.to_thread(live.articles)
    except StoreError:
        articles = []
    return questions.example_question(articles, language)


async def answer_question(update: Update, context: Context, question: str) -> None:
    """Check, rate-limit, retrieve (in a worker thread) and send the first page of quotes."""
    message = update.effective_message
    chat = update.effective_chat
    assert message is not None and chat is not None
    language = user_language(update)
    problem = questions.question_problem(question)
    if problem:
        example = await example_for(context, language) if problem == "no_words" else None
        await message.reply_html(question_problem(question, language, example) or "")
        return
    verdict = context.bot_data.rate_limiter.check(chat.id)
    if verdict != "allow":
        if verdict == "warn":
            await message.reply_text(text("slow_down", language))
        return

    conversation = conversations(context).get(conversation_key(update))
    follow_up_context = conversation.context_for(question)
    live = context.bot_data.live
    thread_id = message.message_thread_id if message.is_topic_message else None
    async with typing_action(context, chat.id, thread_id):
        answer = await asyncio.to_thread(answer_from_current, live, question, follow_up_context)
    conversation.remember(question, follow_up_context)
    if not answer.answered:
        await send_html(
            context,
            chat.id,
            unanswered_html(answer),
            reply_to=message.message_id,
            thread_id=thread_id,
        )
        return
    asked = AskedQuestion(question, follow_up_context, answer)
    key = context.bot_data.answers.put(asked)
    await send_quotes(
        context, chat.id, asked, key, 0, reply_to=message.message_id, thread_id=thread_id
    )


def unanswered_html(answer: Answer) -> str:
    """Why there is no answer, in one message; where the articles cover the story, the nearest
    quotes follow as context (as many as fit that message)."""
    statement = escape(unanswered(answer, sources_hint=not answer.nearest))
    if not answer.nearest:
        return statement
    blocks = [
        quote_block(q, rank, language=answer.language)
        for rank, q in enumerate(answer.nearest, start=1)
    ]
    header = f"{statement}\n<i>{escape(nearest_header(answer))}</i>"
    return split_html_blocks([header, *blocks])[0]


def answer_from_current(live: LiveIndex, question: str, context: str | None) -> Answer:
    """Answer from the live generation, also when another process published it (a `newsbot
    watch` that keeps the index in sync instead of this bot): one small file read."""
    live.refresh()
    return live.answer(question, context=context, top=QUOTES_PER_QUESTION)


async def send_quotes(
    context: Context,
    chat_id: int,
    asked: AskedQuestion,
    key: str,
    first: int,
    *,
    reply_to: int | None,
    thread_id: int | None,
) -> None:
    """Quotes `first …` as HTML messages, with a "More quotes" button if more remain.

    Messages reply to the question, so a button still finds its question after a restart.
    """
    answer = asked.answer
    total = len(answer.quotes)
    last = min(first + QUOTES_PER_PAGE, total)
    header = None
    if first > 0:
        header = text(
            "more_header",
            answer.language,
            question=asked.question,
            first=first + 1,
            last=last,
            total=total,
        )
    messages = format_answer_html(answer, first=first, count=QUOTES_PER_PAGE, header=header)
    note = time_note(answer) if first == 0 else ""
    if note and messages:  # the newest of differing figures is first: say so under the quotes
        messages = split_html_blocks([*messages, f"<i>{escape(note)}</i>"])
    markup = None
    if last < total:
        button = InlineKeyboardButton(
            text("more_button", answer.language), callback_data=f"{MORE_PREFIX}:{key}:{last}"
        )
        markup = InlineKeyboardMarkup([[button]])
    for number, message_html in enumerate(messages, start=1):
        await send_html(
            context,
            chat_id,
            message_html,
            reply_to=reply_to,
            thread_id=thread_id,
            markup=markup if number == len(messages) else None,
        )


async def send_html(
    context: Context,
    chat_id: int,
    message_html: str,
    *,
    reply_to: int | None = None,
    thread_id: int | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    return await context.bot.send_message(
        chat_id,
        message_html,
        parse_mode=ParseMode.HTML,
        reply_parameters=reply,
        reply_markup=markup,
        message_thread_id=thread_id,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


@contextlib.asynccontextmanager
async def typing_action(
    context: Context, chat_id: int, thread_id: int | None
) -> AsyncIterator[None]:
    """Show "typing…" until the block ends (Telegram drops it after ~5 s, so it's renewed)."""

    async def send_typing() -> None:
        with contextlib.suppress(TelegramError):
            await context.bot.send_chat_action(
                chat_id, ChatAction.TYPING, message_thread_id=thread_id
            )

    async def keep_typing() -> None:
        while True:
            await asyncio.sleep(TYPING_REFRESH_SECONDS)
            await send_typing()

    await send_typing()
    renewer = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer


# --- buttons -------------------------------------------------------------------------------


async def on_more_button(update: Update, context: Context) -> None:
    """Show the next quotes. After a restart the answer is recomputed from the question the
    button's message replies to, if that question hashes to the key in the button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = MORE_DATA.match(query.data)
    assert match is not None
    key, first = match[1], int(match[2])
    cache = context.bot_data.answers
    asked = cache.get(key) or await recover_question(query, key, context)
    if asked is None:
        await query.answer(text("expired", user_language(update)), show_alert=True)
        return
    if first >= len(asked.answer.quotes):
        await query.answer(text("no_more", asked.answer.language))
        return
    await query.answer()
    message = query.message  # None or inaccessible when the button's message is too old
    chat_id = message.chat.id if message else query.from_user.id
    question_message, thread_id = None, None
    if isinstance(message, Message):
        question_message = message.reply_to_message
        thread_id = message.message_thread_id if message.is_topic_message else None
        with contextlib.suppress(BadRequest):  # already removed, e.g. by a double click
            await message.edit_reply_markup(reply_markup=None)
    await send_quotes(
        context,
        chat_id,
        asked,
        key,
        first,
        reply_to=question_message.message_id if question_message else None,
        thread_id=thread_id,
    )


async def recover_question(
    query: CallbackQuery, key: str, context: Context
) -> AskedQuestion | None:
    message = query.message
    question_message = message.reply_to_message if isinstance(message, Message) else None
    if question_message is None or not question_message.text:
        return None
    question = question_in(question_message, context.bot.username)
    if not question or answer_key(question, None) != key:
        return None  # asked with follow-up context we no longer have, or not our button
    live = context.bot_data.live
    answer = await asyncio.to_thread(live.answer, question, top=QUOTES_PER_QUESTION)
    if not answer.answered:
        return None
    asked = AskedQuestion(question, None, answer)
    context.bot_data.answers.put(asked)
    return asked
