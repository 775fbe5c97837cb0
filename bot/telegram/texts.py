"""The bot's user-visible texts in English and German, and how a user's language is chosen.

Kept apart from the handlers so a wording change or a new language touches one file.
"""

from __future__ import annotations

import html
from typing import Literal

from telegram import BotCommand, Update

from bot.questions import example_question, follow_up_example

Language = Literal["en", "de"]

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
        "short follow-up such as <i>{follow_up}</i> builds on your "
        "previous question. /start begins a new topic; after 10 minutes I start fresh anyway."
        "\n\n/ask – ask a question\n/latest – the newest articles (/latest topic: on a topic)"
        "\n/sources – the articles I know, newest first\n/start – introduction and "
        "a new topic\n/help – this help",
        "de": "<b>Fragen</b>\nSchick deine Frage als Nachricht. In Gruppen: "
        "<code>/ask deine Frage</code>, mich erwähnen oder auf eine meiner Antworten antworten. "
        "Ich zeige die besten 3 Zitate; <i>Weitere Zitate</i> zeigt die nächsten.\n\n"
        "<b>Nachfragen</b>\nEine kurze Nachfrage wie <i>{follow_up}</i> "
        "baut auf deiner vorigen Frage auf. /start beginnt ein neues Thema; nach 10 Minuten "
        "fange ich ohnehin neu an.\n\n/ask – eine Frage stellen\n/latest – die neuesten "
        "Artikel (/latest Thema: zu einem Thema)\n/sources – die Artikel, die ich kenne, die "
        "neuesten zuerst\n/start – Einführung und neues Thema\n/help – diese Hilfe",
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
        BotCommand("latest", "The newest articles, on a topic if given"),
        BotCommand("sources", "List the articles I know"),
        BotCommand("start", "Introduction; start a new topic"),
        BotCommand("help", "How to ask"),
    ],
    "de": [
        BotCommand("ask", "Eine Frage zu den Artikeln stellen"),
        BotCommand("latest", "Die neuesten Artikel, auf Wunsch zu einem Thema"),
        BotCommand("sources", "Die Artikel zeigen, die ich kenne"),
        BotCommand("start", "Einführung; neues Thema beginnen"),
        BotCommand("help", "So stellst du Fragen"),
    ],
}


def text(key: str, language: str, **values: object) -> str:
    """A UI text in `language` (English when there is no translation).

    `example` (a question) should come from the index (`bot.questions.example_question`); a
    neutral one is used when the caller has none. Texts are HTML, so it is escaped here.
    """
    variants = TEXTS[key]
    template = variants.get(language, variants["en"])
    example = values.pop("example", None) or example_question([], language)
    return template.format(
        example=escape(str(example)), follow_up=escape(follow_up_example(language)), **values
    )


def escape(plain: str) -> str:
    """Plain text for an HTML message (quotes need no escaping outside attributes)."""
    return html.escape(plain, quote=False)


def user_language(update: Update) -> Language:
    """German for `de*` clients, English otherwise."""
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "de" if code.lower().startswith("de") else "en"
