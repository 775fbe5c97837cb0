"""Words as the full-text indexes see them: the one definition both stores and retrieval share.

The embedded store's FTS5 table uses `unicode61 remove_diacritics 2`: letters and digits make
tokens, everything else separates them, case and diacritics are folded. The PostgreSQL store
builds its `tsvector` from `tokens`, and `retrieval.terms` folds a question the same way, so a
question's words match what either store holds.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


@functools.lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Lower case without diacritics (Zürich -> zurich), as the full-text tokenizer folds."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def raw_tokens(text: str) -> list[str]:
    """The tokens of a text as written (letters and digits), in order."""
    return _TOKEN.findall(text)


def tokens(text: str) -> list[str]:
    """Every folded token, in order."""
    return [fold(t) for t in raw_tokens(text)]
