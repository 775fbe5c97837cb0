"""Follow-up context shared by the CLI chat and the Telegram bot.

"And what did the minister say about it?" only makes sense after the question before it, so a
follow-up is retrieved with the previous question as `context`. Retrieval lets the question
dominate, but a wrong context still nudges the ranking, so context is passed only when the new
question looks like a follow-up and the previous one is recent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

FOLLOW_UP_TIMEOUT_SECONDS = 10 * 60
# A follow-up is short; a long question carries its own context.
FOLLOW_UP_MAX_WORDS = 12
# The context never grows beyond the last two questions, so it cannot drift off topic forever.
MAX_CONTEXT_QUESTIONS = 2

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Openers that continue the previous question ("and what about …", "und was …").
_OPENERS = (
    "and",
    "but",
    "also",
    "what about",
    "how about",
    "and what",
    "what else",
    "und",
    "aber",
    "auch",
    "und was",
    "was ist mit",
    "wie ist es mit",
    "und wie",
    "sonst",
)
# Words that point back to something named earlier.
_ANAPHORS = frozenset(
    {
        # English
        "it",
        "its",
        "that",
        "this",
        "these",
        "those",
        "they",
        "them",
        "their",
        "he",
        "him",
        "his",
        "she",
        "her",
        "there",
        "then",
        "else",
        # German
        "es",
        "das",
        "dies",
        "diese",
        "dieser",
        "dieses",
        "dazu",
        "darüber",
        "davon",
        "damit",
        "dabei",
        "daran",
        "darauf",
        "dort",
        "damals",
        "er",
        "ihm",
        "ihn",
        "ihr",
        "ihre",
        "ihnen",
        "sein",
        "seine",
        "deren",
        "dessen",
        "sonst",
    }
)


def looks_like_follow_up(question: str) -> bool:
    """A short question that opens with "and …"/"und …" or points back with a pronoun."""
    words = [w.lower() for w in _WORD.findall(question)]
    if not words or len(words) > FOLLOW_UP_MAX_WORDS:
        return False
    text = " ".join(words)
    if any(text == opener or text.startswith(opener + " ") for opener in _OPENERS):
        return True
    return any(word in _ANAPHORS for word in words)


@dataclass
class Conversation:
    """One chat's recent questions; `clock` is injectable so tests need not sleep."""

    timeout: float = FOLLOW_UP_TIMEOUT_SECONDS
    clock: Callable[[], float] = time.monotonic
    _questions: list[str] = field(default_factory=list)
    _last_at: float | None = None

    def context_for(self, question: str) -> str | None:
        """The context to retrieve `question` with, or None for a fresh question."""
        if self.expired() or not self._questions or not looks_like_follow_up(question):
            return None
        return " ".join(self._questions)

    def remember(self, question: str, context: str | None) -> None:
        """Record `question`, asked with `context` (what `context_for` returned)."""
        chain = [*self._questions, question] if context else [question]
        self._questions = chain[-MAX_CONTEXT_QUESTIONS:]
        self._last_at = self.clock()

    def expired(self) -> bool:
        return self._last_at is None or self.clock() - self._last_at > self.timeout

    def reset(self) -> None:
        self._questions = []
        self._last_at = None


class Conversations:
    """Conversations by key (a chat id, or chat and user in a group); idle ones are dropped so
    memory stays bounded."""

    def __init__(
        self,
        *,
        timeout: float = FOLLOW_UP_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.clock = clock
        self._by_key: dict[Hashable, Conversation] = {}

    def get(self, key: Hashable) -> Conversation:
        conversation = self._by_key.get(key)
        if conversation is None:
            self._drop_expired()
            conversation = Conversation(timeout=self.timeout, clock=self.clock)
            self._by_key[key] = conversation
        return conversation

    def reset(self, key: Hashable) -> None:
        self._by_key.pop(key, None)

    def __len__(self) -> int:
        return len(self._by_key)

    def _drop_expired(self) -> None:
        for key in [k for k, conversation in self._by_key.items() if conversation.expired()]:
            del self._by_key[key]
