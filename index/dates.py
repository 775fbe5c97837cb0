"""Publication dates as written in articles -> ISO strings that sort in time order.

An article's date is an ISO date (`2025-03-12`), a month (`2025-03`) when only that is written,
or a local date-time (`2025-03-12T14:30`, `1987-02-26T15:01:01`) when a time is given; a time
zone is dropped (the time as printed is what a reader sees). Strings of these forms compare in
time order, which is what the stores' window filters rely on.

Parsing is dateparser's (English and German month and weekday names, numeric orders, times):
a well-kept library instead of a growing list of patterns. It is slow to import and costs
~1–20 ms a call, so it only ever sees a short candidate that `looks_like_date` let through.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime

# Words that may stand beside a date on a date line ("Thursday, 12 March 2025, 14:30 Uhr",
# "Published: Mar 12, 2025 10:30 AM GMT"); a line with any other word is not a date line.
_DATE_LINE_WORDS = (
    "januar jänner january jan februar february feb märz maerz march mär mar april apr mai "
    "may juni june jun juli july jul august aug september sept sep oktober october okt oct "
    "november nov dezember december dez dec "
    "montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag monday tuesday "
    "wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun "
    "mo di mi do fr sa so "
    "uhr um am pm at utc gmt cet cest mez mesz est edt pst pdt z t "
    "published updated posted veröffentlicht aktualisiert stand date datum on den the of "
    "st nd rd th"
)
_DATE_WORDS = frozenset(_DATE_LINE_WORDS.split())
_YEAR = re.compile(r"(?<!\d)(?:1[89]|20|21)\d\d(?!\d)")
_WORD = re.compile(r"[^\W\d_]+")
_TIME = re.compile(
    r"(?<![\d.])(?:[01]?\d|2[0-3]):[0-5]\d(?![\d.])|(?<![\d.])\d{1,2}(?:[.:]\d\d)?\s*(?i:am|pm|uhr)\b"
)
_ISO = re.compile(
    r"\s*(\d{4})-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2})?\s*$"
)
MAX_DATE_CHARS = 60
MIN_YEAR, MAX_YEAR = 1800, 2199


def looks_like_date(text: str) -> bool:
    """The cheap test before dateparser: short, a year in it, and no word that is not a month,
    a weekday or a date line's label (so "1973 oil crisis" is no date)."""
    text = text.strip()
    if not text or len(text) > MAX_DATE_CHARS or not _YEAR.search(text):
        return False
    return all(w.lower() in _DATE_WORDS for w in _WORD.findall(text))


def parse_date(text: str) -> str | None:
    """The ISO date (or month, or date-time) a date value or date line states, else None.

    A year must be written: "12 March" alone dates nothing. ISO values are read directly.
    """
    text = text.strip().strip("\"'")
    iso = _ISO.match(text)
    if iso:
        return _from_parts(*iso.groups())
    if not looks_like_date(text):
        return None
    found = _parser().get_date_data(text)
    moment, period = found.date_obj, found.period
    if moment is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    if period == "year":
        return None  # a bare year is no publication date
    if period == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    if _TIME.search(text):
        return moment.replace(tzinfo=None).isoformat(
            timespec="minutes" if not moment.second else "seconds"
        )
    return moment.date().isoformat()


def _from_parts(
    year: str, month: str, day: str | None, hour: str | None, minute: str | None, second: str | None
) -> str | None:
    try:
        moment = datetime(
            int(year), int(month), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    if day is None:
        return f"{moment.year:04d}-{moment.month:02d}"
    if hour is None:
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds" if second and int(second) else "minutes")


@functools.cache
def _parser():
    """One dateparser for English and German, day before month in numeric dates (12.03.2025)."""
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=["en", "de"],
        settings={"DATE_ORDER": "DMY", "PREFER_DAY_OF_MONTH": "first", "REQUIRE_PARTS": ["year"]},
    )


def day_of(iso: str | None) -> date | None:
    """The first day an ISO date, month or date-time stands for (None when undated)."""
    if not iso:
        return None
    try:
        if len(iso) == 7:
            return date(int(iso[:4]), int(iso[5:7]), 1)
        return date.fromisoformat(iso[:10])
    except ValueError:
        return None


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def last_day_of(iso: str | None) -> date | None:
    """The last day an ISO date, month or date-time stands for (None when undated)."""
    first = day_of(iso)
    if first is None or iso is None:
        return None
    return month_end(first) if len(iso) == 7 else first


@dataclass(frozen=True, slots=True)
class DateRange:
    """A store's date filter: an article's ISO date `d` is inside when `low <= d < high` as
    strings (either bound open: None). Undated articles are outside every range."""

    low: str | None = None
    high: str | None = None

    def contains(self, iso: str | None) -> bool:
        if not iso:
            return False
        return (self.low is None or iso >= self.low) and (self.high is None or iso < self.high)

    def sql(self, column: str = "date") -> tuple[str, list[str]]:
        """The SQL condition with `?` placeholders (SQLite) and its parameters."""
        parts, params = [f"{column} IS NOT NULL"], []
        for operator, bound in ((">=", self.low), ("<", self.high)):
            if bound is not None:
                parts.append(f"{column} {operator} ?")
                params.append(bound)
        return " AND ".join(parts), params

    def named_sql(self, column: str = "date") -> tuple[str, dict[str, str]]:
        """The SQL condition with `%(name)s` placeholders (psycopg) and its parameters."""
        parts, params = [f"{column} IS NOT NULL"], {}
        for name, operator, bound in (("low", ">=", self.low), ("high", "<", self.high)):
            if bound is not None:
                parts.append(f"{column} {operator} %(window_{name})s")
                params[f"window_{name}"] = bound
        return " AND ".join(parts), params


@dataclass(frozen=True, slots=True)
class Coverage:
    """The archive's time span: its oldest and newest article dates, and how many articles
    have a date and how many do not."""

    oldest: str | None
    newest: str | None
    dated: int
    undated: int

    def to_json(self) -> dict:
        return {
            "oldest": self.oldest,
            "newest": self.newest,
            "dated": self.dated,
            "undated": self.undated,
        }
