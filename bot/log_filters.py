"""Filters on the process's log output, installed for the length of a `with` block."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def filter_installed(log_filter: logging.Filter) -> Iterator[None]:
    """`log_filter` on every handler of the root logger and on Python's last-resort handler
    (which prints when no handler is configured) until the block ends."""
    handlers = [h for h in (*logging.getLogger().handlers, logging.lastResort) if h is not None]
    for handler in handlers:
        handler.addFilter(log_filter)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(log_filter)
