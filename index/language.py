"""Which language a text is written in: py3langid's bundled model, no word lists of our own.

py3langid (a maintained fork of langid.py) ships its naive-Bayes byte n-gram model inside the
package (a few MB, numpy only): nothing is downloaded at run time, a call costs well under a
millisecond, and it stays accurate on one-line questions. One model serves both callers:
articles are identified among the major languages, questions among the two replies speak.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass

from py3langid.langid import MODEL_FILE, LanguageIdentifier

GERMAN = "de"
ENGLISH = "en"
HOME_LANGUAGES = (GERMAN, ENGLISH)  # the languages newsbot is written for
# Another language must be this many times as likely as German and English to be chosen.
MIN_ODDS = 2.0

_lock = threading.Lock()
_identifier: LanguageIdentifier | None = None


@dataclass(frozen=True, slots=True)
class Guess:
    language: str  # ISO 639-1 code
    confidence: float  # probability among the languages considered


def identify(text: str, languages: Collection[str] | None = None) -> Guess | None:
    """The most probable of `languages` (default: every major language the model knows);
    None without evidence: no letters, or a tie (no feature tells the candidates apart)."""
    shares = _shares(text, languages)
    if not shares:
        return None
    (best, p), *rest = sorted(shares.items(), key=lambda item: item[1], reverse=True)
    if rest and rest[0][1] == p:
        return None
    return Guess(best, p)


def article_language(text: str, default: str = ENGLISH) -> str:
    """An article's language: another language wins over German and English only when it is
    MIN_ODDS times as likely as either (a short German text may look a little Dutch, a Spanish
    one is Spanish); `default` when the text gives no evidence."""
    shares = _shares(text, None)
    if not shares:
        return default
    best = max(shares, key=shares.__getitem__)
    home = max(HOME_LANGUAGES, key=lambda code: shares.get(code, 0.0))
    if best in HOME_LANGUAGES or shares[best] >= MIN_ODDS * shares.get(home, 0.0):
        return best
    return home


def _shares(text: str, languages: Collection[str] | None) -> dict[str, float]:
    """Probability of each candidate language, normalised over the candidates.

    The model also knows ~30 regional languages with three-letter codes (Nigerian Pidgin,
    Bikol …) that win on a list of English names; only languages with an ISO 639-1 code
    are candidates unless `languages` says otherwise.
    """
    if not any(char.isalpha() for char in text):
        return {}
    ranked = _model().rank(text)
    kept = {
        code: p
        for code, p in ranked
        if (code in languages if languages is not None else len(code) == 2)
    }
    total = sum(kept.values())
    return {code: p / total for code, p in kept.items()} if total > 0.0 else {}


def _model() -> LanguageIdentifier:
    """Loaded once per process (about a second: the model is xz-compressed in the wheel)."""
    global _identifier
    with _lock:
        if _identifier is None:
            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier
