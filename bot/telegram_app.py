"""`newsbot telegram`: the Telegram front end (python-telegram-bot 22, long polling).

Extension points: every handler is registered in `register_handlers` (feature handlers go
before the fallbacks at its end), and shared state lives in `application.bot_data` under the
`BOT_DATA_*` keys (the `LiveIndex`, the `Settings`, conversations, rate limits, answers).

Chats outside `TELEGRAM_ALLOWED_CHAT_IDS` (when it is set) get one polite refusal, the first
time they address the bot, and are ignored after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import re
import sys
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.conversation import Conversations
from bot.settings import Settings
from bot.telegram_admin import register_admin_handlers, start_watching, stop_watching
from bot.telegram_format import format_answer_html, truncate_text
from retrieval.live import LiveIndex
from retrieval.model import Answer
from retrieval.render import NOT_ANSWERED

log = logging.getLogger(__name__)

# Keys of `application.bot_data`.
BOT_DATA_SETTINGS = "settings"
BOT_DATA_LIVE = "live"
BOT_DATA_CONVERSATIONS = "conversations"
BOT_DATA_RATE_LIMITER = "rate_limiter"
BOT_DATA_ANSWERS = "answers"
BOT_DATA_REFUSED_CHATS = "refused_chats"

QUOTES_PER_QUESTION = 10  # asked of retrieval
QUOTES_PER_PAGE = 3  # shown per message batch; "More quotes" shows the next ones
MAX_QUESTION_CHARS = 500
SOURCES_PER_PAGE = 10
QUESTIONS_PER_WINDOW = 5  # per chat ...
RATE_WINDOW_SECONDS = 30.0  # ... in this many seconds
ANSWER_CACHE_SIZE = 512
NETWORK_RETRIES = 3
TYPING_REFRESH_SECONDS = 4.5  # Telegram shows "typing…" for about 5 s

MORE_PREFIX = "more"
SOURCES_PREFIX = "src"
_MORE_DATA = re.compile(rf"^{MORE_PREFIX}:([0-9a-f]{{12}}):(\d{{1,3}})$")
_SOURCES_DATA = re.compile(rf"^{SOURCES_PREFIX}:(\d{{1,5}})(?::(en|de))?$")
_HAS_WORD = re.compile(r"[^\W_]", re.UNICODE)

Language = Literal["en", "de"]

EXAMPLE_QUESTION = {
    "en": "Why is a US delegation travelling to Moscow?",
    "de": "Warum reist eine US-Delegation nach Moskau?",
}

TEXTS: dict[str, dict[str, str]] = {
    "start": {
        "en": "Hello! I'm <b>newsbot</b>. Ask me a question about the news articles I know, in "
        "English or German, and I answer with verbatim quotes and where each one comes from — "
        "or tell you plainly when the articles don't say.\n\nFor example: <i>{example}</i>\n\n"
        "In groups, use /ask or mention me. /sources lists the articles, /help explains more.",
        "de": "Hallo! Ich bin <b>newsbot</b>. Stell mir eine Frage zu den Nachrichtenartikeln, "
        "die ich kenne, auf Deutsch oder Englisch: Ich antworte mit wörtlichen Zitaten und "
        "ihrer Quelle — oder sage klar, wenn die Artikel dazu nichts sagen.\n\nZum Beispiel: "
        "<i>{example}</i>\n\nIn Gruppen: /ask benutzen oder mich erwähnen. /sources zeigt die "
        "Artikel, /help erklärt mehr.",
    },
    "help": {
        "en": "<b>Asking</b>\nSend your question as a message. In groups, write "
        "<code>/ask your question</code>, mention me, or reply to one of my answers. I show "
        "the best 3 quotes; <i>More quotes</i> shows the next ones.\n\n<b>Follow-ups</b>\nA "
        "short follow-up such as <i>And what did Zelensky say about it?</i> builds on your "
        "previous question. /start begins a new topic; after 10 minutes I start fresh anyway."
        "\n\n/ask – ask a question\n/sources – the articles I know\n/start – introduction and "
        "a new topic\n/help – this help",
        "de": "<b>Fragen</b>\nSchick deine Frage als Nachricht. In Gruppen: "
        "<code>/ask deine Frage</code>, mich erwähnen oder auf eine meiner Antworten antworten. "
        "Ich zeige die besten 3 Zitate; <i>Weitere Zitate</i> zeigt die nächsten.\n\n"
        "<b>Nachfragen</b>\nEine kurze Nachfrage wie <i>Und was sagte Selenskyj dazu?</i> "
        "baut auf deiner vorigen Frage auf. /start beginnt ein neues Thema; nach 10 Minuten "
        "fange ich ohnehin neu an.\n\n/ask – eine Frage stellen\n/sources – die Artikel, die "
        "ich kenne\n/start – Einführung und neues Thema\n/help – diese Hilfe",
    },
    "ask_usage": {
        "en": "Write your question after /ask, for example: /ask {example}",
        "de": "Schreib deine Frage hinter /ask, zum Beispiel: /ask {example}",
    },
    "no_words": {
        "en": "Please write your question in words, for example: {example}",
        "de": "Bitte schreib deine Frage in Worten, zum Beispiel: {example}",
    },
    "too_long": {
        "en": "That question is too long ({length} characters). Please keep it under {limit} "
        "characters.",
        "de": "Diese Frage ist zu lang ({length} Zeichen). Bitte fasse dich kürzer als {limit} "
        "Zeichen.",
    },
    "not_text": {
        "en": "I can only answer text questions. Please type your question.",
        "de": "Ich kann nur Textfragen beantworten. Bitte tippe deine Frage.",
    },
    "unknown_command": {
        "en": "I don't know that command. /help lists what I can do.",
        "de": "Diesen Befehl kenne ich nicht. /help zeigt, was ich kann.",
    },
    "slow_down": {
        "en": "You're asking faster than I can read. Please wait a few seconds, then ask again.",
        "de": "Du fragst schneller, als ich lesen kann. Bitte warte ein paar Sekunden und frag "
        "dann noch einmal.",
    },
    "error": {
        "en": "Sorry, something went wrong while answering. Please try again in a moment.",
        "de": "Entschuldigung, beim Antworten ist etwas schiefgegangen. Bitte versuch es gleich "
        "noch einmal.",
    },
    "expired": {
        "en": "This question has expired — please ask again.",
        "de": "Diese Frage ist abgelaufen — bitte stell sie noch einmal.",
    },
    "no_more": {
        "en": "No more quotes for this question.",
        "de": "Keine weiteren Zitate zu dieser Frage.",
    },
    "more_button": {"en": "More quotes", "de": "Weitere Zitate"},
    "more_header": {
        "en": "More quotes for “{question}” ({first}–{last} of {total}):",
        "de": "Weitere Zitate zu „{question}“ ({first}–{last} von {total}):",
    },
    "not_allowed": {
        "en": "Sorry, this bot only answers in chats its owner has allowed. This chat's id is "
        "{chat_id}, in case you want to ask them.",
        "de": "Entschuldigung, dieser Bot antwortet nur in Chats, die sein Betreiber freigegeben "
        "hat. Die ID dieses Chats ist {chat_id}, falls du danach fragen möchtest.",
    },
    "sources_header": {
        "en": "<b>Articles I know</b> ({first}–{last} of {total}):",
        "de": "<b>Artikel, die ich kenne</b> ({first}–{last} von {total}):",
    },
    "sources_empty": {
        "en": "No articles are indexed yet.",
        "de": "Es sind noch keine Artikel indexiert.",
    },
    "no_date": {"en": "no date", "de": "ohne Datum"},
    "previous": {"en": "‹ Previous", "de": "‹ Zurück"},
    "next": {"en": "Next ›", "de": "Weiter ›"},
}

COMMANDS: dict[Language, list[BotCommand]] = {
    "en": [
        BotCommand("ask", "Ask a question about the articles"),
        BotCommand("sources", "List the articles I know"),
        BotCommand("start", "Introduction; start a new topic"),
        BotCommand("help", "How to ask"),
    ],
    "de": [
        BotCommand("ask", "Eine Frage zu den Artikeln stellen"),
        BotCommand("sources", "Die Artikel zeigen, die ich kenne"),
        BotCommand("start", "Einführung; neues Thema beginnen"),
        BotCommand("help", "So stellst du Fragen"),
    ],
}


def text(key: str, language: str, **values: object) -> str:
    """A UI text in `language` (English when there is no translation)."""
    variants = TEXTS[key]
    template = variants.get(language, variants["en"])
    example = EXAMPLE_QUESTION.get(language, EXAMPLE_QUESTION["en"])
    return template.format(example=example, **values)


def escape(plain: str) -> str:
    """Plain text for an HTML message (quotes need no escaping outside attributes)."""
    return html.escape(plain, quote=False)


def user_language(update: Update) -> Language:
    """German for `de*` clients, English otherwise."""
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "de" if code.lower().startswith("de") else "en"


# --- shared state --------------------------------------------------------------------------


class ChatRateLimiter:
    """A token bucket per chat: protects the CPU from one chat flooding the bot.

    `check` says "allow", "warn" (the first refusal: tell the user once) or "drop" (later
    refusals, until a question is allowed again).
    """

    def __init__(
        self,
        capacity: int = QUESTIONS_PER_WINDOW,
        window_seconds: float = RATE_WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.refill_per_second = capacity / window_seconds
        self.clock = clock
        self._buckets: dict[Hashable, tuple[float, float, bool]] = {}  # tokens, at, warned

    def check(self, key: Hashable) -> Literal["allow", "warn", "drop"]:
        now = self.clock()
        tokens, at, warned = self._buckets.get(key, (float(self.capacity), now, False))
        tokens = min(float(self.capacity), tokens + (now - at) * self.refill_per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now, False)
            self._forget_full_buckets()
            return "allow"
        self._buckets[key] = (tokens, now, True)
        return "drop" if warned else "warn"

    def _forget_full_buckets(self) -> None:
        if len(self._buckets) < 10_000:
            return
        now = self.clock()
        for key, (tokens, at, _) in list(self._buckets.items()):
            if tokens + (now - at) * self.refill_per_second >= self.capacity:
                del self._buckets[key]


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
    application.add_handler(CallbackQueryHandler(on_more_button, pattern=_MORE_DATA))
    application.add_handler(CallbackQueryHandler(on_sources_button, pattern=_SOURCES_DATA))
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


# --- who may ask, and which messages are questions -----------------------------------------


def mentions_bot(message: Message, username: str, bot_id: int) -> bool:
    entities = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    entities |= message.parse_caption_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and value[1:].lower() == username.lower():
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            return True
    return False


def replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def command_of(message: Message) -> tuple[str, str | None, str] | None:
    """(command, @target or None, rest of the text) for a message starting with a command."""
    for entity in message.entities:
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            raw = message.parse_entity(entity)
            name, _, target = raw[1:].partition("@")
            rest = (message.text or "")[len(raw) :].strip()
            return name.lower(), target or None, rest
    return None


def is_addressed_to_bot(message: Message, username: str, bot_id: int) -> bool:
    """Private chats: every message. Groups: our commands, mentions and replies to us."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    command = command_of(message)
    if command:
        _, target, _ = command
        return target is None or target.lower() == username.lower()
    return mentions_bot(message, username, bot_id) or replies_to_bot(message, bot_id)


def question_in(message: Message, username: str) -> str:
    """The question a message asks: text after /ask, or the text without @mentions of us."""
    command = command_of(message)
    if command:
        name, _, rest = command
        return rest if name == "ask" else ""
    without_mention = re.sub(rf"@{re.escape(username)}\b", " ", message.text or "", flags=re.I)
    return " ".join(without_mention.split())


async def enforce_allowlist(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop updates from chats outside TELEGRAM_ALLOWED_CHAT_IDS (empty: everyone may ask).

    Admins (TELEGRAM_ADMIN_IDS) pass everywhere: they run the bot.
    """
    settings: Settings = context.bot_data[BOT_DATA_SETTINGS]
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
    refused: set[int] = context.bot_data[BOT_DATA_REFUSED_CHATS]
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


# --- commands ------------------------------------------------------------------------------


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Introduce the bot; also starts a new topic (forgets the previous question)."""
    message = update.effective_message
    assert message is not None
    conversations(context).reset(conversation_key(update))
    await message.reply_html(text("start", user_language(update)), do_quote=False)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_html(text("help", user_language(update)), do_quote=False)


async def on_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    question = question_in(message, context.bot.username)
    if not question:
        await message.reply_text(text("ask_usage", user_language(update)))
        return
    await answer_question(update, context, question)


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat every text message is a question."""
    message = update.effective_message
    assert message is not None
    await answer_question(update, context, question_in(message, context.bot.username))


async def on_group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a group only messages that mention the bot or reply to it are questions."""
    message = update.effective_message
    assert message is not None
    bot = context.bot
    if not (mentions_bot(message, bot.username, bot.id) or replies_to_bot(message, bot.id)):
        return
    question = question_in(message, bot.username)
    if not question:
        await message.reply_text(text("no_words", user_language(update)))
        return
    await answer_question(update, context, question)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_text(text("unknown_command", user_language(update)))


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice …: say what the bot can do, where it was addressed."""
    message = update.effective_message
    if message is None or not is_addressed_to_bot(message, context.bot.username, context.bot.id):
        return
    await message.reply_text(text("not_text", user_language(update)))


# --- answering -----------------------------------------------------------------------------


def conversations(context: ContextTypes.DEFAULT_TYPE) -> Conversations:
    return context.bot_data[BOT_DATA_CONVERSATIONS]


def conversation_key(update: Update) -> Hashable:
    """One conversation per private chat; per member in a group, so people don't mix topics."""
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None
    if chat.type == ChatType.PRIVATE or user is None:
        return chat.id
    return (chat.id, user.id)


def question_problem(question: str, language: str) -> str | None:
    """Why `question` can't be answered as it is (a reply text), or None."""
    if len(question) > MAX_QUESTION_CHARS:
        return text("too_long", language, length=len(question), limit=MAX_QUESTION_CHARS)
    if not _HAS_WORD.search(question):
        return text("no_words", language)
    return None


async def answer_question(
    update: Update, context: ContextTypes.DEFAULT_TYPE, question: str
) -> None:
    """Check, rate-limit, retrieve (in a worker thread) and send the first page of quotes."""
    message = update.effective_message
    chat = update.effective_chat
    assert message is not None and chat is not None
    language = user_language(update)
    problem = question_problem(question, language)
    if problem:
        await message.reply_text(problem)
        return
    verdict = context.bot_data[BOT_DATA_RATE_LIMITER].check(chat.id)
    if verdict != "allow":
        if verdict == "warn":
            await message.reply_text(text("slow_down", language))
        return

    conversation = conversations(context).get(conversation_key(update))
    follow_up_context = conversation.context_for(question)
    live: LiveIndex = context.bot_data[BOT_DATA_LIVE]
    thread_id = message.message_thread_id if message.is_topic_message else None
    async with typing_action(context, chat.id, thread_id):
        answer = await asyncio.to_thread(
            live.answer, question, context=follow_up_context, top=QUOTES_PER_QUESTION
        )
    conversation.remember(question, follow_up_context)
    if not answer.answered:
        not_answered = NOT_ANSWERED.get(answer.language, NOT_ANSWERED["en"])
        await send_html(
            context,
            chat.id,
            escape(not_answered),
            reply_to=message.message_id,
            thread_id=thread_id,
        )
        return
    asked = AskedQuestion(question, follow_up_context, answer)
    key = context.bot_data[BOT_DATA_ANSWERS].put(asked)
    await send_quotes(
        context, chat.id, asked, key, 0, reply_to=message.message_id, thread_id=thread_id
    )


async def send_quotes(
    context: ContextTypes.DEFAULT_TYPE,
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
    context: ContextTypes.DEFAULT_TYPE,
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
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, thread_id: int | None
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


async def on_more_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the next quotes. After a restart the answer is recomputed from the question the
    button's message replies to, if that question hashes to the key in the button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = _MORE_DATA.match(query.data)
    assert match is not None
    key, first = match[1], int(match[2])
    cache: AnswerCache = context.bot_data[BOT_DATA_ANSWERS]
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
    query: CallbackQuery, key: str, context: ContextTypes.DEFAULT_TYPE
) -> AskedQuestion | None:
    message = query.message
    question_message = message.reply_to_message if isinstance(message, Message) else None
    if question_message is None or not question_message.text:
        return None
    question = question_in(question_message, context.bot.username)
    if not question or answer_key(question, None) != key:
        return None  # asked with follow-up context we no longer have, or not our button
    live: LiveIndex = context.bot_data[BOT_DATA_LIVE]
    answer = await asyncio.to_thread(live.answer, question, top=QUOTES_PER_QUESTION)
    if not answer.answered:
        return None
    asked = AskedQuestion(question, None, answer)
    context.bot_data[BOT_DATA_ANSWERS].put(asked)
    return asked


async def on_unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button from an older version of the bot: stop the spinner, say so."""
    query = update.callback_query
    assert query is not None
    await query.answer(text("expired", user_language(update)), show_alert=True)


# --- /sources ------------------------------------------------------------------------------


async def on_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    page_html, markup = await sources_page(context, 0, user_language(update))
    await message.reply_html(
        page_html,
        reply_markup=markup,
        do_quote=False,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


async def on_sources_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = _SOURCES_DATA.match(query.data)
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


async def sources_page(
    context: ContextTypes.DEFAULT_TYPE, page: int, language: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the article list; `page` is clamped, as articles may have gone since."""
    live: LiveIndex = context.bot_data[BOT_DATA_LIVE]
    articles = await asyncio.to_thread(live.articles)
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
        )
    ]
    for number, article in enumerate(shown, start=first + 1):
        title = escape(truncate_text(article.title or article.path, 150))
        date = escape(article.date or text("no_date", language))
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
