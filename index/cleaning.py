"""Raw article text -> ParsedArticle: date, title, section headings, paragraphs, sentences.

The sample files are messy on purpose, so layout is inferred line by line rather than trusted:

* A paragraph ends at a line that ends a sentence (`.`, `!`, `?`, `…`, or a closing quote;
  reference marks such as `:212–219` or `[citation needed]` after it do not count). Any
  other line (`NATO-`, a soft wrap, an intro ending in `:`) continues into the next
  non-empty line. Whether it continues across a blank line depends on the file's layout:
  in a file that separates paragraphs with blank lines (judged by what follows its
  sentence-ending lines) a blank line ends a paragraph unless a split word (`NATO-`), an
  intro (`:`) or a lower-case continuation carries it on; in a file of single newlines a
  blank line is no boundary of its own.
* A heading is a short line (≤ 12 words, ≤ 100 chars) at a paragraph boundary that does not
  end like a sentence, or a very short one (≤ 8 words) ending in `?` or `:`, and that is
  followed by body text. A `:` line that introduces a list or a quote is body text. In a
  blank-line file a heading is followed by a blank line or another short line.
* The first heading, if the text starts with one, is the title and not a section. Heading-
  shaped lines between the title and the first body paragraph (a byline, kicker, dek or the
  lead picture's caption) are paragraphs of their own, never sections: a section starts
  only once the body has (a Markdown `## Heading` is trusted anywhere).
* A picture caption or credit (`(AP Photo/…)`, `Foto: …/dpa`, `©`) is never a heading: it
  is a paragraph of its own, so it is not embedded with the paragraphs below it.
* A hard-wrapped file (most lines run on mid-sentence, at about the same width) has lines
  short in words that go on with a capital letter: a line that nearly fills the width is a
  wrapped line, never a heading, and there only a blank line ends a paragraph.
* Bullet items (`- `, `• `, ...) that follow each other form one paragraph, together with
  an intro line ending in `:`; each item starts its own sentence and its marker is not
  quoted. A dash after a line that stops mid-sentence is a dash, not an item.
* Stray artifact lines at a paragraph boundary are dropped: a lone all-caps token of at
  most 4 letters (`MAB`) or a line without letters and digits (`***`).

Sentences are split by the rules of the article's own language (identified per article by
`index.language`; pysbd's rules for it, English rules for a language pysbd does not know).

Every sentence is a contiguous span of the raw text and its `text` is
`collapse_whitespace(raw[start:end])`, so each quote can be checked against the file.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from datetime import date
from itertools import pairwise

import pysbd
from pysbd.languages import LANGUAGE_CODES

from index.dates import looks_like_date, parse_date
from index.documents import Paragraph, ParsedArticle, Sentence
from index.language import ENGLISH, GERMAN, article_language
from index.verbatim import collapse_whitespace, repair_hyphenation

MAX_HEADING_WORDS = 12
MAX_HEADING_CHARS = 100
MAX_CAPTION_CHARS = 2 * MAX_HEADING_CHARS  # a caption is a line or two, not a paragraph
WRAPPED_LINE_SHARE = 0.8  # in a hard-wrapped file a line this close to the width is wrapped
MIN_WRAP_WIDTH = 40  # narrower "wrapping" is a column of short lines, not wrapped prose
MAX_QUESTION_HEADING_WORDS = 8  # headings ending in "?" or ":" must be shorter still
MAX_TITLE_CHARS = 120
HEADER_LINES = 3  # a date is looked for in this many first non-empty lines
SEGMENT_WINDOW = 2000  # pysbd sees at most this many chars at once, so work stays linear
# The language is identified from this much body text: plenty for the model, and the cost of a
# huge file stays bounded.
LANGUAGE_SAMPLE_CHARS = 10_000

FRONT_MATTER_LINES = 40  # a `---` metadata block must close within this many lines
_LINE = re.compile(r"[^\r\n]+")
_MARKDOWN_HEADING = re.compile(r"#{1,6}[ \t]+(.*?\S)(?:[ \t]+#+)?[ \t]*$")
_WORD_RUN = re.compile(r"\S+")
_BULLET = re.compile(r"[-–—•*·▪][ \t]+(?=\S)")
_ARTIFACT = re.compile(r"[A-ZÄÖÜ]{1,4}|[^\w]+")
_SENTENCE_END = re.compile(r"(?:[.!?…][\"'»«“”’‘)\]]*|[»«“”\"])$")
_NOT_HEADING_END = frozenset(".!…»«“”\"'‚‘’,;-–—/")
_OPENING_QUOTES = frozenset('„"«»‚‘“')
# Reference marks after a sentence's end ("… theory.:212–219", "… operate.[citation needed]").
_REFERENCE_MARKS = re.compile(r"(?:\[[^\]]*\]|:?\d+(?:[–-]\d+)?(?=[:\s]|$))+$")
# Picture credits: a copyright sign, a trailing "(AP Photo/…)" or "(Foto: …)", an agency list
# joined by slashes after a colon, or a line opening with a credit label. The labels are
# language-level words (English, German).
_CREDIT_LABEL = r"(?i:photo|foto|bild|image|picture|credit|quelle|source)s?"
_CREDIT = re.compile(
    rf"©|\((?:[^()]*\w/\w[^()]*|{_CREDIT_LABEL}\b[^()]*)\)$|:[^:]*\w/\w[^:]*$"
    rf"|^{_CREDIT_LABEL}(?i:[ \t]+source)?[ \t]*[:,]"
)

# Front matter keys that hold the publication date (the first one given wins).
_DATE_KEYS = ("date", "datum", "published", "pubdate", "published_at", "veröffentlicht")
_DATE_LABEL = re.compile(r"(?i)(?:date|datum)\b[ \t]*:?[ \t]*")
_DATE_TAIL = re.compile(r"(?i)[ \t,]*(?:\d{1,2}:\d{2}(?::\d{2})?[ \t]*(?:uhr)?)?[ \t.,;]*")
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("januar", "jänner", "january", "jan"),
            ("februar", "february", "feb"),
            ("märz", "maerz", "march", "mär", "mar"),
            ("april", "apr"),
            ("mai", "may"),
            ("juni", "june", "jun"),
            ("juli", "july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("oktober", "october", "okt", "oct"),
            ("november", "nov"),
            ("dezember", "december", "dez", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "(?P<month_name>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_FORMS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(?P<year>\d{4})-(?P<month>\d{1,2})(?:-(?P<day>\d{1,2})(?:[T ]\d{1,2}:\d{2}[\d:.]*"
        r"(?:Z|[+-]\d{2}:?\d{2})?)?)?",
        r"(?P<year>\d{4})/(?P<month>\d{1,2})/(?P<day>\d{1,2})",
        r"(?P<day>\d{1,2})\.[ \t]?(?P<month>\d{1,2})\.[ \t]?(?P<year>\d{4})",
        r"(?P<month>\d{1,2})[./](?P<year>\d{4})",
        rf"(?P<day>\d{{1,2}})\.?[ \t]+{_MONTH}[ \t]+(?P<year>\d{{4}})",
        rf"{_MONTH}[ \t]+(?P<day>\d{{1,2}}),?[ \t]+(?P<year>\d{{4}})",
        rf"{_MONTH}[ \t]+(?P<year>\d{{4}})",
    )
]


@dataclass(frozen=True, slots=True)
class _Line:
    """One non-empty physical line; `start:end` is its content in the raw text."""

    start: int
    end: int
    text: str
    blank_before: bool
    bullet: bool = False
    marked_heading: bool = False  # a Markdown `# Heading`: a heading whatever its shape


@dataclass(frozen=True, slots=True)
class _Layout:
    """How a file is laid out, judged from all its lines."""

    blank_lines: bool  # paragraphs are separated by blank lines
    wrap_width: int | None  # lines are hard-wrapped at about this width


# --- public API -------------------------------------------------------------------------------


def parse_article(raw: str, path: str) -> ParsedArticle:
    """Clean one article file's decoded text; pure, and never raises on odd input."""
    lines = _content_lines(raw)
    meta_title, meta_date, lines = _take_front_matter(lines)
    article_date, lines = _take_date(lines)
    article_date = article_date or meta_date
    lines = [_strip_heading_marks(line) for line in lines]
    lines = [
        _strip_bullet(line) if _may_be_item(previous) else line
        for previous, line in zip([None, *lines], lines, strict=False)
    ]
    language = article_language(_text_sample(lines))
    title, sections, paragraphs = _structure(raw, lines, language)
    title = meta_title or title
    if title is None and paragraphs:
        title = _shorten(paragraphs[0].sentences[0].text)
    return ParsedArticle(
        path=path,
        title=title,
        date=article_date,
        paragraphs=tuple(paragraphs),
        sections=tuple(dict.fromkeys(sections)),
        language=language,
    )


def split_sentences(text: str, language: str = GERMAN) -> list[tuple[int, int]]:
    """Sentence spans of `text` by `language`'s rules, trailing whitespace excluded.

    pysbd knows abbreviations per language ("Jan. 5" in English, "17. März" in German); a
    language it has no rules for is split with the English ones.

    pysbd is fed windows of at most SEGMENT_WINDOW chars: it is slow on long inputs, and a
    text without any punctuation would otherwise be one endless sentence.
    """
    spans: list[tuple[int, int]] = []
    pos = _skip_space(text, 0)
    while pos < len(text):
        stop = _window_stop(text, pos)
        starts = [pos + s for s in _sentence_starts(text[pos:stop], language)]
        if stop < len(text) and len(starts) > 1 and starts[-1] - pos >= SEGMENT_WINDOW // 4:
            # The window's last sentence may run past `stop`: segment it again next round.
            bounds, pos = starts, starts[-1]
        else:
            bounds, pos = [*starts, stop], stop
        for start, end in pairwise(bounds):
            end = _trim_end(text, start, end)
            if end > start:
                spans.append((start, end))
        pos = _skip_space(text, pos)
    return spans


# --- lines and metadata -----------------------------------------------------------------------


def _content_lines(raw: str) -> list[_Line]:
    """Non-empty lines with surrounding whitespace (and a BOM) cut off."""
    lines: list[_Line] = []
    previous_end = 0
    blank = False
    for match in _LINE.finditer(raw):
        left, right = _strip_bounds(match.group())
        if left == right:
            blank = True
            continue
        gap = raw[previous_end : match.start()]
        blank = blank or gap.count("\n") + gap.count("\r") - gap.count("\r\n") > 1
        start, end = match.start() + left, match.start() + right
        lines.append(_Line(start, end, raw[start:end], blank_before=blank and bool(lines)))
        previous_end, blank = match.end(), False
    return lines


def _strip_bounds(line: str) -> tuple[int, int]:
    """Where a line's content starts and ends: surrounding whitespace and BOMs excluded."""
    stripped = line
    while stripped and (stripped[0].isspace() or stripped[0] == "\ufeff"):
        stripped = stripped.lstrip().lstrip("\ufeff")
    left = len(line) - len(stripped)
    return left, left + len(stripped.rstrip())


def _take_front_matter(lines: list[_Line]) -> tuple[str | None, str | None, list[_Line]]:
    """A Markdown file's `---` block at the top is metadata (title, date), never content."""
    if not lines or lines[0].text != "---":
        return None, None, lines
    closing = next(
        (i for i, line in enumerate(lines[1:FRONT_MATTER_LINES], 1) if line.text == "---"), None
    )
    if closing is None:
        return None, None, lines
    title = date = None
    for line in lines[1:closing]:
        key, _, value = line.text.partition(":")
        value = value.strip().strip("\"'")
        if key.strip().lower() == "title" and value:
            title = collapse_whitespace(value)
        elif key.strip().lower() in _DATE_KEYS and date is None:
            found = _match_date(value, 0)
            date = parse_date(value) or (found[0] if found else None)
    return title, date, lines[closing + 1 :]


def _strip_heading_marks(line: _Line) -> _Line:
    """`## Reaktionen aus Kiew` is the heading `Reaktionen aus Kiew`."""
    match = _MARKDOWN_HEADING.match(line.text)
    if match is None:
        return line
    return replace(
        line,
        start=line.start + match.start(1),
        end=line.start + match.end(1),
        text=match.group(1),
        marked_heading=True,
    )


def _take_date(lines: list[_Line]) -> tuple[str | None, list[_Line]]:
    """Find the date in the first lines: a `Datum:` line, a bare date line, or a prefix.

    The inline form is how file 004 starts: ` date 2025-03 Die Außenminister ...`.
    """
    for index, line in enumerate(lines[:HEADER_LINES]):
        label = _DATE_LABEL.match(line.text)
        value_at = label.end() if label else 0
        found = _match_date(line.text, value_at)
        if found is None:
            # a date line the patterns do not know ("Thursday, 12 March 2025, 14:30 Uhr")
            if looks_like_date(line.text[value_at:]) and (iso := parse_date(line.text[value_at:])):
                return iso, lines[:index] + lines[index + 1 :]
            continue
        iso, value_end = found
        rest = line.text[value_end:]
        if _DATE_TAIL.fullmatch(rest):
            if any(c.isdigit() for c in rest):  # with a time: the date-time
                iso = parse_date(line.text[value_at:]) or iso
            return iso, lines[:index] + lines[index + 1 :]
        if label and rest[0] in " \t":
            skipped = len(rest) - len(rest.lstrip())
            start = line.start + value_end + skipped
            trimmed = replace(line, start=start, text=line.text[value_end + skipped :])
            return iso, [*lines[:index], trimmed, *lines[index + 1 :]]
    return None, lines


def _match_date(text: str, pos: int) -> tuple[str, int] | None:
    """The longest valid date written at `pos`, as ISO `YYYY-MM[-DD]`, and where it ends."""
    best: tuple[str, int] | None = None
    for form in _DATE_FORMS:
        match = form.match(text, pos)
        if not match or (best and match.end() <= best[1]):
            continue
        iso = _iso_date(match.groupdict())
        if iso:
            best = (iso, match.end())
    return best


def _iso_date(parts: dict[str, str | None]) -> str | None:
    year = int(parts["year"] or 0)
    month_name = (parts.get("month_name") or "").lower()
    month = _MONTHS.get(month_name) or int(parts.get("month") or 0)
    day = int(parts["day"]) if parts.get("day") else None
    try:
        date(year, month, day or 1)
    except ValueError:
        return None
    if not 1900 <= year <= 2100:
        return None
    return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")


def _may_be_item(previous: _Line | None) -> bool:
    """A dash after a line that stops mid-sentence is a dash ("… darstellt" / "- im
    Parlament …" in wrapped text), not a list item: items follow the end of a sentence, an
    intro `:`, a heading set apart by a blank line, or another item."""
    if previous is None or _BULLET.match(previous.text):
        return True
    text = previous.text
    return (
        text.endswith(":")
        or bool(_SENTENCE_END.search(_end_of(text)))
        or (previous.blank_before and _looks_like_heading(previous))
    )


def _strip_bullet(line: _Line) -> _Line:
    """List items keep their place in the text, but their marker is not part of any quote."""
    marker = _BULLET.match(line.text)
    if not marker:
        return line
    return replace(
        line, start=line.start + marker.end(), text=line.text[marker.end() :], bullet=True
    )


# --- headings and paragraphs ------------------------------------------------------------------


def _text_sample(lines: list[_Line]) -> str:
    """The first LANGUAGE_SAMPLE_CHARS of the article's lines, for language identification."""
    sample: list[str] = []
    size = 0
    for line in lines:
        sample.append(line.text[: LANGUAGE_SAMPLE_CHARS - size])
        size += len(sample[-1]) + 1
        if size >= LANGUAGE_SAMPLE_CHARS:
            break
    return "\n".join(sample)


def _structure(
    raw: str, lines: list[_Line], language: str
) -> tuple[str | None, list[str], list[Paragraph]]:
    """Walk the lines once: headings, artifacts and paragraphs, in order."""
    wrap_width = _wrap_width(lines)
    layout = _Layout(_uses_blank_lines(lines, wrap_width), wrap_width)
    headings = _heading_flags(lines, layout)
    title: str | None = None
    section: str | None = None
    sections: list[str] = []
    paragraphs: list[Paragraph] = []
    current: list[_Line] = []

    def close() -> None:
        nonlocal current
        sentences = _paragraph_sentences(raw, current, language)
        if sentences:
            paragraphs.append(Paragraph(len(paragraphs) + 1, section, sentences))
        current = []

    for index, line in enumerate(lines):
        if not current:
            if _is_artifact(line):
                continue
            if headings[index]:
                heading = collapse_whitespace(line.text)
                if title is None and not paragraphs and not sections:
                    title = heading
                elif paragraphs or sections or line.marked_heading:
                    section = heading
                    sections.append(heading)
                else:  # between the title and the body: a byline, kicker, caption or dek
                    current.append(line)
                    close()
                continue
            if _is_credit(line):  # a photo caption or credit: a paragraph of its own
                current.append(line)
                close()
                continue
        current.append(line)
        following = lines[index + 1] if index + 1 < len(lines) else None
        if _ends_paragraph(line, following, layout):
            close()
    return title, sections, paragraphs


def _uses_blank_lines(lines: list[_Line], wrap_width: int | None) -> bool:
    """Does the file separate its paragraphs with blank lines? Judged by what follows the
    lines that end a sentence: mostly a blank line, or mostly the next line directly. In a
    hard-wrapped file only short lines count: one that fills the width may end a sentence in
    the middle of a paragraph."""
    blank = direct = 0
    for line, following in pairwise(lines):
        if wrap_width is not None and len(line.text) >= WRAPPED_LINE_SHARE * wrap_width:
            continue
        if _SENTENCE_END.search(_end_of(line.text)):
            if following.blank_before:
                blank += 1
            else:
                direct += 1
    if wrap_width is not None and blank == direct == 0:  # no short line ends a sentence
        return any(line.blank_before for line in lines)
    return blank > direct


def _wrap_width(lines: list[_Line]) -> int | None:
    """The width a hard-wrapped file is wrapped at (most lines run on into the next one
    mid-sentence), or None. Such a file's lines fill the width, so a line nearly as long
    is a wrapped line even where it is short in words and the next one starts upper-case."""
    run_on = sorted(
        len(line.text)
        for line, following in pairwise(lines)
        if not following.blank_before
        and not line.bullet
        and not _SENTENCE_END.search(_end_of(line.text))
    )
    if len(run_on) < max(2, (len(lines) - 1) / 2):
        return None
    width = run_on[int(0.9 * (len(run_on) - 1))]
    median = run_on[len(run_on) // 2]
    # Wrapped lines are about equally long; short run-on lines of varied length are headings,
    # bylines and captions of a file that is not wrapped at all.
    return width if width >= MIN_WRAP_WIDTH and median >= WRAPPED_LINE_SHARE * width else None


def _heading_flags(lines: list[_Line], layout: _Layout) -> list[bool]:
    """Which lines are headings, should a paragraph boundary fall just before them.

    In a file whose paragraphs are separated by blank lines a heading is set off by one too, or
    stands in a block of short lines (title and byline): a short line that runs straight on
    into body text is a wrapped line ("… von O" / "2 in der Umgebung"), not a heading.
    """
    shaped = [
        _looks_like_heading(line)
        and (layout.wrap_width is None or len(line.text) < WRAPPED_LINE_SHARE * layout.wrap_width)
        for line in lines
    ]
    artifacts = [_is_artifact(line) for line in lines]
    body_from = [False] * (len(lines) + 1)  # is there body text at or after this line?
    kept_after: list[int | None] = [None] * len(lines)  # next line that is not an artifact
    for index in range(len(lines) - 1, -1, -1):
        body_from[index] = (not shaped[index] and not artifacts[index]) or body_from[index + 1]
        if index + 1 < len(lines):
            kept_after[index] = index + 1 if not artifacts[index + 1] else kept_after[index + 1]
    flags = [False] * len(lines)
    for index, line in enumerate(lines):
        following = kept_after[index]
        flags[index] = line.marked_heading or (
            shaped[index]
            and following is not None
            and body_from[following]
            and _opens_block(lines[following])
            and not _introduces(line, lines[following])
            and (not layout.blank_lines or lines[index + 1].blank_before or shaped[index + 1])
        )
    return flags


def _looks_like_heading(line: _Line) -> bool:
    text = line.text
    if line.bullet or len(text) > MAX_HEADING_CHARS or _is_credit(line):
        return False
    words = len(text.split())
    if words > MAX_HEADING_WORDS:
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    text = _end_of(text)
    if text[-1] in "?:":
        return words <= MAX_QUESTION_HEADING_WORDS
    return text[-1] not in _NOT_HEADING_END


def _end_of(text: str) -> str:
    """A line's last characters, reference marks after its final punctuation left out."""
    tail = text[-40:]
    return (_REFERENCE_MARKS.sub("", tail) or tail)[-8:]


def _is_credit(line: _Line) -> bool:
    """A photo caption or credit line ("… (Photo: Reuters)", "Foto: Lukatsky/AP/dpa", "©
    …"): it belongs to a picture, never heads the paragraphs below it. A line that ends
    like a sentence is body text whatever it mentions ("… (Quelle: AFP).")."""
    text = line.text
    if line.bullet or len(text) > MAX_CAPTION_CHARS or _SENTENCE_END.search(_end_of(text)):
        return False
    return _CREDIT.search(text) is not None


def _opens_block(line: _Line) -> bool:
    """A line starting lower-case continues a sentence, so what precedes it is no heading."""
    return not line.text[0].islower()


def _introduces(line: _Line, following: _Line) -> bool:
    """`… schrieb er:` before a quote or a list is part of the text, not a heading."""
    return line.text.endswith(":") and (following.bullet or following.text[0] in _OPENING_QUOTES)


def _is_artifact(line: _Line) -> bool:
    return not line.bullet and _ARTIFACT.fullmatch(line.text) is not None


def _ends_paragraph(line: _Line, following: _Line | None, layout: _Layout) -> bool:
    if following is None or following.marked_heading:
        return True
    if line.bullet:
        continues = line.text.endswith("-") or (
            following.text[0].islower() and not following.blank_before
        )
        return not following.bullet and not continues
    tail = _end_of(line.text)
    if _SENTENCE_END.search(tail):
        # A hard-wrapped line may end a sentence mid-paragraph: there only blank lines count.
        return following.blank_before or not (layout.blank_lines and layout.wrap_width)
    if following.blank_before and (layout.blank_lines or tail[-1] in ")]"):
        # Only a word split at the line end ("NATO-"), an intro ("… the law:") or a sentence
        # going on in lower case carries a paragraph across a blank line ("… string
        # theory.:212–219" ends one).
        return not (tail[-1] in "-:" or following.text[0].islower())
    return False


# --- sentences --------------------------------------------------------------------------------


def _paragraph_sentences(raw: str, lines: list[_Line], language: str) -> tuple[Sentence, ...]:
    """Segment each run of lines (a new run at every bullet) and map spans back to raw."""
    sentences: list[Sentence] = []
    for run in _runs(lines):
        cleaned, origin = _cleaned_text(raw, run)
        for start, end in split_sentences(cleaned, language):
            raw_start, raw_end = origin[start], origin[end - 1] + 1
            text = collapse_whitespace(raw[raw_start:raw_end])
            if text:
                sentences.append(Sentence(text, raw_start, raw_end))
    return tuple(sentences)


def _runs(lines: list[_Line]) -> list[list[_Line]]:
    runs: list[list[_Line]] = []
    for line in lines:
        if line.bullet or not runs:
            runs.append([line])
        else:
            runs[-1].append(line)
    return runs


def _cleaned_text(raw: str, lines: list[_Line]) -> tuple[str, list[int]]:
    """Lines joined as `collapse_whitespace` would read them, plus each char's raw offset."""
    chars: list[str] = []  # pieces of the cleaned text, one per word or space
    origin: list[int] = []
    for index, line in enumerate(lines):
        if index:
            joint = _line_joint(raw, lines[index - 1], line)
            if joint == "split":
                chars[-1] = chars[-1][:-1]
                origin.pop()
            elif joint == "space":
                chars.append(" ")
                origin.append(lines[index - 1].end)
        for word in _WORD_RUN.finditer(line.text):
            if word.start():
                chars.append(" ")
                origin.append(line.start + word.start() - 1)
            chars.append(word.group())
            origin.extend(range(line.start + word.start(), line.start + word.end()))
    return "".join(chars), origin


def _line_joint(raw: str, before: _Line, after: _Line) -> str:
    """How two lines join: `split` word (drop the hyphen), `compound` (keep it), or `space`.

    Decided by `repair_hyphenation` itself, so the cleaned text and the quoted text agree.
    """
    if len(before.text) < 2 or not before.text.endswith("-"):
        return "space"
    first, last = raw[before.end - 2], raw[after.start]
    repaired = repair_hyphenation(raw[before.end - 2 : after.start + 1])
    if repaired == first + last:
        return "split"
    if repaired == f"{first}-{last}":
        return "compound"
    return "space"


_per_thread = threading.local()


def _segmenter(language: str) -> pysbd.Segmenter:
    """One Segmenter per thread and language: it is costly to build and keeps per-call state
    on itself."""
    segmenters: dict[str, pysbd.Segmenter] = _per_thread.__dict__.setdefault("segmenters", {})
    rules = language if language in LANGUAGE_CODES else ENGLISH
    segmenter = segmenters.get(rules)
    if segmenter is None:
        segmenter = pysbd.Segmenter(language=rules, clean=False, char_span=True)
        segmenters[rules] = segmenter
    return segmenter


def _sentence_starts(chunk: str, language: str) -> list[int]:
    """Where pysbd starts sentences in `chunk` (which starts with a non-space char)."""
    try:
        spans = _segmenter(language).segment(chunk)
    except Exception:  # pysbd is regex-heavy third-party code; odd input must not crash us
        return [0]
    starts = [0]
    for span in spans:
        start = _skip_space(chunk, span.start)
        if starts[-1] < start < len(chunk) and not _ordinal_mid_sentence(chunk, start):
            starts.append(start)
    return starts


# pysbd reads "N." after a space as a numbered list item and starts a sentence there, which cuts
# German ordinals out of their sentence ("Im Laufe des | 18. und | 19. Jahrhunderts ..."). A
# sentence cannot start there while the text before it has not ended: no terminal punctuation.
_ORDINAL_START = re.compile(r"\d+\.\s")
_ENDED = re.compile(r"[.!?…:;][\"'“”„»«)\]]*$")


def _ordinal_mid_sentence(chunk: str, start: int) -> bool:
    return bool(_ORDINAL_START.match(chunk, start)) and not _ENDED.search(chunk[:start].rstrip())


def _window_stop(text: str, pos: int) -> int:
    """End of the next pysbd window: at a space in its second half if there is one."""
    limit = pos + SEGMENT_WINDOW
    if limit >= len(text):
        return len(text)
    for stop in range(limit, pos + SEGMENT_WINDOW // 2, -1):
        if text[stop].isspace():
            return stop
    return limit


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _trim_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _shorten(text: str) -> str:
    """A title from a first sentence: at most MAX_TITLE_CHARS, cut at a word boundary."""
    if len(text) <= MAX_TITLE_CHARS:
        return text
    cut = text[: MAX_TITLE_CHARS - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:–-") + "…"
