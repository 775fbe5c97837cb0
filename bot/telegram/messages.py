"""Which messages address the bot and what they ask: shared by access control, commands and
the "More quotes" recovery, which must all read a message the same way."""

from __future__ import annotations

import re

from telegram import Message, MessageEntity
from telegram.constants import ChatType


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
