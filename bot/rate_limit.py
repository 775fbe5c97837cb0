"""Per-chat question rate limiting: plain Python, so it is tested without Telegram."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Literal

QUESTIONS_PER_WINDOW = 5  # per chat ...
RATE_WINDOW_SECONDS = 30.0  # ... in this many seconds


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
