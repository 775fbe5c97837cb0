"""A bounded, thread-safe cache of per-paragraph values; the least recently used go first.

Sentence vectors and latent terms are both computed the first time an answer needs a paragraph
and kept by chunk id. A chunk's id is derived from its text, so an entry stays right across
index snapshots, and one cache can serve the answerers of successive snapshots.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

V = TypeVar("V")


class ChunkCache(Generic[V]):
    def __init__(self, size: int) -> None:
        """size: chunks kept; beyond it the least recently used are dropped."""
        self.size = size
        self._values: OrderedDict[int, V] = OrderedDict()
        self._lock = threading.Lock()

    def found(self, keys: Iterable[int]) -> dict[int, V]:
        """Those of `keys` that are cached (each now counts as recently used)."""
        found: dict[int, V] = {}
        with self._lock:
            for key in keys:
                if (value := self._values.get(key)) is not None:
                    self._values.move_to_end(key)
                    found[key] = value
        return found

    def keep(self, values: dict[int, V]) -> None:
        with self._lock:
            self._values.update(values)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
