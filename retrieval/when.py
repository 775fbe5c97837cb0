"""Time in a question: the window it asks about, whether it asks for the latest, and which of
its words only express time.

English and German. A window is explicit ("in 1987", "im Juni", "on 7 April", "seit dem
3. März", "between 2 and 5 March", "vom 3. bis 5. März") or relative to today ("yesterday",
"last week", "this month", "in the past 10 days", "gestern", "vorige Woche", "vor drei Tagen",
"seit Montag", "letztes Jahr"). "Today" is passed in: the clock, or NEWSBOT_NOW to replay an old
archive (only `bot/` reads settings).

How: one regular expression finds the candidate phrases (cheap, so most questions cost a
regex search); dateparser turns each date phrase into a day and its granularity (day, week,
month, year), resolving a missing year to the last such date before today; the words around it
("since", "bis", "between … and …", "in the past N days") make it a window. A bare year or
month name with no preposition ("the 1987 budget", "March quota") is no window: news questions
name years as what they are about far more often than as when it was reported.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from index.dates import DateRange, month_end

_MONTHS = (
    "januar|jänner|january|jan|februar|february|feb|märz|maerz|march|mär|mar|april|apr|mai|may|"
    "juni|june|jun|juli|july|jul|august|aug|september|sept|sep|oktober|october|okt|oct|"
    "november|nov|dezember|december|dez|dec"
)
_WEEKDAYS = {
    name: number
    for number, names in enumerate(
        [
            ("monday", "montag"),
            ("tuesday", "dienstag"),
            ("wednesday", "mittwoch"),
            ("thursday", "donnerstag"),
            ("friday", "freitag"),
            ("saturday", "samstag", "sonnabend"),
            ("sunday", "sonntag"),
        ]
    )
    for name in names
}
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14,
    "fifteen": 15, "twenty": 20, "thirty": 30, "few": 3, "couple": 2, "several": 3,
    "ein": 1, "eine": 1, "einem": 1, "einen": 1, "einer": 1, "zwei": 2, "drei": 3, "vier": 4,
    "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11,
    "zwölf": 12, "vierzehn": 14, "fünfzehn": 15, "zwanzig": 20, "dreißig": 30, "paar": 3,
}  # fmt: skip
_UNITS = {
    "day": "day", "days": "day", "tag": "day", "tage": "day", "tagen": "day",
    "week": "week", "weeks": "week", "woche": "week", "wochen": "week",
    "month": "month", "months": "month", "monat": "month", "monate": "month", "monaten": "month",
    "monats": "month",
    "year": "year", "years": "year", "jahr": "year", "jahre": "year", "jahren": "year",
    "jahres": "year",
}  # fmt: skip

_N = r"(?:\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"
_UNIT = "(?:" + "|".join(sorted(_UNITS, key=len, reverse=True)) + ")"
_MONTH = rf"(?:{_MONTHS})\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th|\.)?"
_YEAR = r"(?:1[89]|20|21)\d\d"
_WEEKDAY = "(?:" + "|".join(_WEEKDAYS) + ")"
# A date phrase dateparser reads: a day, a month (with its day and year) or a year.
_DATE = (
    rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}\.\d{{1,2}}\.(?:\d{{4}}|\d{{2}})?"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?!\d)(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}(?:\s+{_YEAR})?|{_YEAR})(?![\w/])"
)
_THIS = r"(?:this|the\s+current|diese[nrsm]?|laufende[nrsm]?|in\s+diese[nrsm]?)"
_LAST = r"(?:last|past|previous|the\s+previous|letzte[nrsm]?|vorige[nrsm]?|vergangene[nrsm]?)"
_PERIOD = r"(?:week|month|year|woche|monat|monats|jahr|jahres)"
_RELATIVE = (
    r"(?:the\s+day\s+before\s+yesterday|yesterday|vorgestern|gestern"
    rf"|{_THIS}\s+{_PERIOD}|{_LAST}\s+{_PERIOD}|im\s+{_LAST}\s+{_PERIOD}"
    rf"|{_N}\s+{_UNIT}\s+ago|vor\s+{_N}\s+{_UNIT}"
    rf"|(?:last|this\s+past|letzten|vergangenen|vorigen)\s+{_WEEKDAY})"
)
_ONE = rf"(?:{_RELATIVE}|{_DATE})"
_IN = r"(?:in|im|on|am|during|im\s+jahr(?:e)?|in\s+the\s+year)"
_PATTERN = re.compile(  # whole words only: "im letzten Jahr" is not in "im letzten Jahrhundert"
    rf"""
    (?<!\w)(?:
    (?P<range>(?:between|zwischen|from|vom|von)\s+(?:the\s+|dem\s+)?(?P<a>{_DATE}|\d{{1,2}}\.?)
        \s*(?:and|und|to|until|till|bis(?:\s+zum)?|-|–)\s*(?:the\s+|dem\s+)?(?P<b>{_DATE}))
    |(?P<days>(?P<d1>\d{{1,2}})\.?\s*(?:-|–|to|and|und|bis)\s*(?P<d2>{_DAY}\s+{_MONTH}(?:\s+{_YEAR})?))
    |(?P<past>(?:in|within|during|over|im\s+laufe)?\s*(?:the|den|der)?\s*(?:past|last|letzten|vergangenen|previous)
        \s+(?P<n>{_N})\s+(?P<unit>{_UNIT}))
    |(?P<since>(?:since|seit)\s+(?:the\s+|dem\s+|der\s+|vergangenem\s+|letztem\s+|last\s+)?
        (?P<s>{_ONE}|{_WEEKDAY}))
    |(?P<until>(?:until|till|up\s+to|bis(?:\s+zum|\s+zur)?)\s+(?:the\s+)?(?P<u>{_ONE}))
    |(?P<before>(?:before|prior\s+to|vor\s+dem|vor)\s+(?:the\s+)?(?P<bf>{_DATE}))
    |(?P<after>(?:after|nach\s+dem|nach)\s+(?:the\s+)?(?P<af>{_DATE}))
    |(?P<relative>{_RELATIVE})
    |(?P<in>{_IN}\s+(?:the\s+|dem\s+)?(?P<i>{_DATE}))
    )(?!\w)
    """,
    re.IGNORECASE | re.VERBOSE,
)
# "latest / current / still / now" questions want the newest answer first.
_LATEST = re.compile(
    r"\b(?:latest|newest|most\s+recent(?:ly)?|recent(?:ly)?|current(?:ly)?|still|now|nowadays"
    r"|so\s+far|any\s+news|today|heute|neueste\w*|neuest\w*|jüngste\w*|aktuell\w*|zuletzt|derzeit\w*"
    r"|momentan\w*|mittlerweile|inzwischen|jetzt|bislang|bisher|gegenwärtig\w*)\b",
    re.IGNORECASE,
)
# Of those, the words that say nothing but time (they leave the content words): "current" and
# "aktuell" often name a thing ("current account"), "still" and "now" are function words.
_LATEST_ONLY = re.compile(
    r"\b(?:latest|newest|most\s+recent(?:ly)?|recently|today|heute|neueste\w*|neuest\w*|jüngste\w*"
    r"|zuletzt|derzeit\w*|momentan\w*|mittlerweile|inzwischen|bislang|bisher)\b",
    re.IGNORECASE,
)
# English month names that are also everyday words: a window only beside a day, a year or a
# preposition and written with a capital.
_AMBIGUOUS_MONTHS = frozenset({"may", "march", "mar", "jan", "sept", "sep", "dec", "aug"})


@dataclass(frozen=True, slots=True)
class Window:
    """Days from `start` to `end`, both included (either open: None)."""

    start: date | None
    end: date | None

    def to_json(self) -> dict[str, str | None]:
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }

    def bounds(self) -> DateRange:
        """The store filter: an article's ISO date d is inside when `low <= d < high` (as
        strings). A month written alone ("2025-03") sorts before its first day, so a window that
        starts on the first of a month (or a year) starts at the bare month (year): it
        includes the articles dated by that month only."""
        low = high = None
        if self.start:
            low = self.start.isoformat()
            if self.start.day == 1:
                low = low[:7] if self.start.month != 1 else low[:4]
        if self.end:
            high = (self.end + timedelta(days=1)).isoformat()
        return DateRange(low, high)

    def contains(self, iso: str | None) -> bool:
        return self.bounds().contains(iso)

    def overlaps(self, oldest: date, newest: date) -> bool:
        return (self.start is None or self.start <= newest) and (
            self.end is None or self.end >= oldest
        )


@dataclass(frozen=True, slots=True)
class TimeQuestion:
    """What a question says about time."""

    window: Window | None = None
    latest: bool = False
    spans: tuple[tuple[int, int], ...] = field(default_factory=tuple)  # time-only words
    relative: bool = False  # the window is counted back from today ("yesterday", "past 10 days")

    def content(self, question: str) -> str:
        """The question without its time-only words (spaces in their place)."""
        text = question
        for start, end in self.spans:
            text = text[:start] + " " * (end - start) + text[end:]
        return text


NO_TIME = TimeQuestion()


class TimeReader:
    """Reads time in questions; `enabled=False` reads none (the time-off baseline)."""

    def __init__(self, *, enabled: bool = True, min_dated_share: float = 0.5) -> None:
        """min_dated_share: an archive knows its time when at least this share of its articles
        is dated; in one that does not (a folder of undated documents with a few dated ones)
        questions are read as timeless, as undated articles would fall outside every window
        and "in 2015" in a question about an encyclopedia article names what it is about."""
        self.enabled = enabled
        self.min_dated_share = min_dated_share

    def knows_time(self, dated: int, undated: int) -> bool:
        return dated > 0 and dated >= self.min_dated_share * (dated + undated)

    def read(self, question: str, today: date) -> TimeQuestion:
        if not self.enabled:
            return NO_TIME
        return read_time(question, today)


def read_time(question: str, today: date | datetime) -> TimeQuestion:
    """The window, latest intent and time-only spans of `question`, relative to `today`."""
    today = today.date() if isinstance(today, datetime) else today
    window, spans, relative = None, [], False
    for match in _PATTERN.finditer(question):
        found = _window(match, today)
        if found is None:
            continue
        spans.append(match.span())
        relative = relative or bool(match.group("past") or match.group("relative"))
        window = found if window is None else _intersect(window, found)
    latest = bool(_LATEST.search(question))
    spans += [m.span() for m in _LATEST_ONLY.finditer(question)]
    return TimeQuestion(window, latest, tuple(sorted(spans)), relative)


def _intersect(a: Window, b: Window) -> Window:
    starts = [d for d in (a.start, b.start) if d]
    ends = [d for d in (a.end, b.end) if d]
    return Window(max(starts) if starts else None, min(ends) if ends else None)


def _window(match: re.Match, today: date) -> Window | None:
    kind = match.lastgroup
    if match.group("range"):
        b = _span(match.group("b"), today)
        if b is None:
            return None
        first = match.group("a")
        if re.fullmatch(r"\d{1,2}\.?", first):  # "between 2 and 5 March": the month of the end
            try:
                return Window(b[0].replace(day=int(first.rstrip("."))), b[1])
            except ValueError:
                return None
        a = _span(first, today, before=b[0] + timedelta(days=1))
        return Window(a[0], b[1]) if a and a[0] <= b[1] else None
    if match.group("days"):
        b = _span(match.group("d2"), today)
        if b is None:
            return None
        try:
            return Window(b[0].replace(day=int(match.group("d1"))), b[1])
        except ValueError:
            return None
    if match.group("past"):
        n = _number(match.group("n"))
        return Window(_back(today, n, _UNITS[match.group("unit").lower()]), today)
    if match.group("since"):
        found = _span(match.group("s"), today)
        return Window(found[0], today) if found else None
    if match.group("until"):
        found = _span(match.group("u"), today)
        return Window(None, found[1]) if found else None
    if match.group("before"):
        found = _span(match.group("bf"), today, strict=True)
        return Window(None, found[0] - timedelta(days=1)) if found else None
    if match.group("after"):
        found = _span(match.group("af"), today, strict=True)
        return Window(found[1] + timedelta(days=1), None) if found else None
    if match.group("relative"):
        found = _span(match.group("relative"), today)
        return Window(*found) if found else None
    if kind == "in" or match.group("in"):
        found = _span(match.group("i"), today, strict=True)
        return Window(*found) if found else None
    return None


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBERS[text.lower()]


def _back(today: date, n: int, unit: str) -> date:
    if unit == "day":
        return today - timedelta(days=n)
    if unit == "week":
        return today - timedelta(weeks=n)
    months = n * (12 if unit == "year" else 1)
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, min(today.day, month_end(date(year, month + 1, 1)).day))


def _span(
    text: str, today: date, *, before: date | None = None, strict: bool = False
) -> tuple[date, date] | None:
    """The days a phrase means: its day, week, month or year, ending no later than today for
    "this week/month/year". `before`: a date the phrase falls before (the start of a range
    whose end is known). `strict`: an ambiguous month word must look like a month."""
    phrase = " ".join(text.split())
    lower = phrase.lower()
    if lower in _WEEKDAYS or re.fullmatch(
        rf"(?:last|this\s+past|letzten|vergangenen|vorigen)\s+{_WEEKDAY}", lower
    ):
        day = _WEEKDAYS[lower.split()[-1]]
        back = (today.weekday() - day) % 7 or 7
        moment = today - timedelta(days=back)
        return moment, moment
    ago = re.fullmatch(rf"(?:vor\s+)?({_N})\s+({_UNIT})(?:\s+ago)?", lower)
    if ago:
        unit = _UNITS[ago.group(2)]
        moment = _back(today, _number(ago.group(1)), unit)
        return _period(moment, unit)
    if re.fullmatch(rf"(?:im\s+)?{_LAST}\s+{_PERIOD}", lower):
        unit = _UNITS[lower.split()[-1]]
        if lower.startswith(("past", "the past")):  # "the past week": the 7 days up to today
            return _back(today, 1, unit), today
        return _period(_back(today, 1, unit), unit)
    if re.fullmatch(rf"{_THIS}\s+{_PERIOD}", lower):  # so far: up to today
        return _period(today, _UNITS[lower.split()[-1]])[0], today
    if strict and lower.rstrip(".") in _AMBIGUOUS_MONTHS and not phrase[:1].isupper():
        return None
    moment, period = _parse(phrase, today if before is None else min(today, before))
    if moment is None:
        return None
    return _period(moment, period)


def _period(moment: date, unit: str) -> tuple[date, date]:
    """The calendar week (Monday to Sunday), month or year of `moment`, or its day."""
    if unit == "week":
        start = moment - timedelta(days=moment.weekday())
        return start, start + timedelta(days=6)
    if unit == "month":
        start = moment.replace(day=1)
        return start, month_end(start)
    if unit == "year":
        return date(moment.year, 1, 1), date(moment.year, 12, 31)
    return moment, moment


def _parse(phrase: str, base: date) -> tuple[date | None, str]:
    """dateparser's reading of a date phrase relative to `base`: the day and its granularity."""
    found = _parser_for(base).get_date_data(phrase)
    if found.date_obj is None:
        return None, "day"
    return found.date_obj.date(), found.period or "day"


@functools.lru_cache(maxsize=16)
def _parser_for(base: date):
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=["en", "de"],
        settings={
            "RELATIVE_BASE": datetime(base.year, base.month, base.day),
            "PREFER_DATES_FROM": "past",
            "PREFER_DAY_OF_MONTH": "first",
            "DATE_ORDER": "DMY",
        },
    )


def today_from(setting: str | None) -> date:
    """Today: the `NEWSBOT_NOW` value (an ISO date or date-time) when set, else the clock."""
    if setting and setting.strip():
        return datetime.fromisoformat(setting.strip()).date()
    return date.today()
