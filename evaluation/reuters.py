"""The dated archive `make eval` measures time on: ../shared/reuters (Reuters-21578, first half)
converted into article files at eval time (the collection is for research use and is never
shipped in the project).

Each story becomes `reuters/NNNNN.md` (its NEWID, zero-padded): front matter with its title and
the time it was filed (`date: 1987-02-26T15:01:01`), then its dateline and body, one paragraph
per block (in the SGML a line that starts with spaces starts a paragraph). Stories without a
body are left out.

Embedding all ~11,000 stories takes hours on a busy machine, so the archive is a subset chosen
by a fixed rule that covers the whole date range: every n-th NEWID (NEWID follows the filing
time), plus every story a question's gold names. `stories=0` takes them all.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from evaluation.scoring import Gold, Question, hit_rank, load_questions
from retrieval.answer import Answer

_STORY = re.compile(r"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.DOTALL)
_NEWID = re.compile(r'NEWID="(\d+)"')
_FIELD = {
    name: re.compile(rf"<{name}>(.*?)</{name}>", re.DOTALL)
    for name in ("DATE", "TITLE", "DATELINE", "BODY")
}
_DATE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})")
_TRAILER = re.compile(r"\s*Reuter\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PREFIX = "reuters"


@dataclass(frozen=True, slots=True)
class Story:
    newid: int
    filed: datetime
    title: str
    dateline: str
    paragraphs: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.newid:05d}.md"

    def article(self) -> str:
        """The article file: front matter, then dateline + body in blank-line paragraphs."""
        title = self.title.replace('"', "'")
        first, *rest = self.paragraphs
        lead = f"{self.dateline} {first}" if self.dateline else first
        body = "\n\n".join([lead, *rest])
        return f'---\ntitle: "{title}"\ndate: {self.filed.isoformat()}\n---\n\n{body}\n'


def _filed(raw: str) -> datetime | None:
    """`26-FEB-1987 15:01:01.79` or ` 2-MAR-1987 09:15:05.00` -> the time to the second."""
    match = _DATE.search(raw)
    if match is None:
        return None
    try:
        return datetime.strptime(" ".join(match.groups()), "%d %b %Y %H %M %S")
    except ValueError:
        return None


def _text(raw: str) -> str:
    return _CONTROL.sub("", html.unescape(raw))


def _paragraphs(body: str) -> tuple[str, ...]:
    """A line that starts with spaces starts a paragraph; lines are joined with spaces."""
    paragraphs: list[list[str]] = []
    for line in _TRAILER.sub("", body).splitlines():
        if not line.strip():
            continue
        if not paragraphs or line[:1].isspace():
            paragraphs.append([])
        paragraphs[-1].append(line.strip())
    return tuple(" ".join(p) for p in paragraphs if p)


def read_stories(folder: Path) -> list[Story]:
    """Every story with a body in the SGML files of `folder`, in NEWID order."""
    stories = []
    for path in sorted(folder.glob("reut2-*.sgm")):
        for attributes, inner in _STORY.findall(path.read_bytes().decode("latin-1")):
            fields = {k: (m.group(1) if (m := p.search(inner)) else "") for k, p in _FIELD.items()}
            paragraphs = _paragraphs(_text(fields["BODY"]))
            newid = _NEWID.search(attributes)
            if not paragraphs or not newid:
                continue
            filed = _filed(fields["DATE"])
            if filed is None:
                continue
            stories.append(
                Story(
                    newid=int(newid.group(1)),
                    filed=filed,
                    title=" ".join(_text(fields["TITLE"]).split()),
                    dateline=" ".join(_text(fields["DATELINE"]).split()),
                    paragraphs=paragraphs,
                )
            )
    return sorted(stories, key=lambda s: s.newid)


def subset(stories: list[Story], count: int, needed: frozenset[str] = frozenset()) -> list[Story]:
    """About `count` stories spread evenly over the archive (every n-th NEWID, so a story read
    or lost elsewhere does not change the choice), plus the stories named in `needed` (file
    names); `count` 0 (or at least as many as there are) keeps all."""
    if count <= 0 or count >= len(stories):
        return stories
    step = max(1, round(max(s.newid for s in stories) / count))
    return [s for s in stories if s.newid % step == 0 or s.name in needed]


def convert(shared: Path, target: Path, count: int, needed: frozenset[str] = frozenset()) -> Path:
    """Write the chosen stories as article files into `target` (kept if already there); returns
    `target`. Files of stories no longer chosen are removed."""
    stories = subset(read_stories(shared / "reuters"), count, needed)
    target.mkdir(parents=True, exist_ok=True)
    wanted = {s.name: s for s in stories}
    for old in target.glob("*.md"):
        if old.name not in wanted:
            old.unlink()
    for name, story in wanted.items():
        path = target / name
        text = story.article()
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return target


# --- the time table -------------------------------------------------------------------------

QUESTIONS = Path(__file__).parent / "data" / "reuters" / "time_dev.jsonl"
NOW = date(1987, 3, 31)  # NEWSBOT_NOW for the dev set: the day after the newest story
DEFAULT_STORIES = 1200
ANSWERABLE_KINDS = ("latest", "window", "relative", "plain")
WINDOW_KINDS = ("window", "relative")


@dataclass(frozen=True, slots=True)
class TimeQuestion:
    """A dev-set question with its kind (latest, window, relative, plain, outside,
    unanswered) and gold quotes (file names prefixed like the archive's)."""

    question: Question
    kind: str


def load_time_questions(path: Path = QUESTIONS) -> list[TimeQuestion]:
    kinds = [json.loads(line)["kind"] for line in path.read_text().splitlines() if line.strip()]
    questions = load_questions(path)
    return [
        TimeQuestion(replace(q, gold=tuple(Gold(f"{PREFIX}/{g.doc}", g.quote) for g in q.gold)), k)
        for q, k in zip(questions, kinds, strict=True)
    ]


def needed_stories(questions: list[TimeQuestion]) -> frozenset[str]:
    return frozenset(g.doc.split("/", 1)[1] for q in questions for g in q.question.gold)


def newest_first(answer: Answer, gold: tuple[Gold, ...], dates: dict[str, str | None]) -> bool:
    """The newest answering article (by day; several of one day all count) is quoted above
    every older answering article: the first quote from any gold article is from a newest one."""
    days = {g.doc: (dates.get(g.doc) or "")[:10] for g in gold}
    newest = max(days.values(), default="")
    for quote in answer.quotes:
        if quote.article in days:
            return days[quote.article] == newest
    return False


def score(answerer, questions: list[TimeQuestion], dates: dict[str, str | None]) -> dict:
    """The time table's figures for one system: hit@1/@3 of answerable questions (all, and
    window ones), newest-first of latest questions, abstention outside the coverage (with the
    coverage stated) and on covered-but-unanswered ones, false abstention."""
    vectors = answerer.embed([t.question.question for t in questions])
    by_kind: dict[str, list[tuple[TimeQuestion, Answer]]] = {}
    for item, vector in zip(questions, vectors, strict=True):
        answer = answerer.answer(item.question.question, vector=vector)
        by_kind.setdefault(item.kind, []).append((item, answer))

    def share(pairs, test) -> float | None:
        return sum(1 for p in pairs if test(*p)) / len(pairs) if pairs else None

    answerable = [p for k in ANSWERABLE_KINDS for p in by_kind.get(k, [])]
    windows = [p for k in WINDOW_KINDS for p in by_kind.get(k, [])]

    def hit(n):
        return lambda item, answer: (hit_rank(answer, item.question.gold) or n + 1) <= n

    return {
        "n": len(questions),
        "hit@1": share(answerable, hit(1)),
        "hit@3": share(answerable, hit(3)),
        "window hit@3": share(windows, hit(3)),
        "latest hit@3": share(by_kind.get("latest", []), hit(3)),
        "newest-first": share(
            by_kind.get("latest", []), lambda i, a: newest_first(a, i.question.gold, dates)
        ),
        "abst-outside": share(
            by_kind.get("outside", []),
            lambda i, a: not a.answered and getattr(a, "outside_coverage", False),
        ),
        "abst-unans": share(by_kind.get("unanswered", []), lambda i, a: not a.answered),
        "false-abst": share(answerable, lambda i, a: not a.answered),
    }


COLUMNS = (
    "n",
    "hit@1",
    "hit@3",
    "window hit@3",
    "latest hit@3",
    "newest-first",
    "abst-outside",
    "abst-unans",
    "false-abst",
)


def table(title: str, rows: list[tuple[str, dict]]) -> str:
    header = f"{'system':<22}" + "".join(f"{c:>14}" for c in COLUMNS)
    lines = [title, header, "-" * len(header)]
    for name, figures in rows:
        cells = []
        for column in COLUMNS:
            value = figures.get(column)
            if value is None:
                cells.append(f"{'–':>14}")
            elif isinstance(value, int):
                cells.append(f"{value:>14}")
            else:
                cells.append(f"{value:>14.2f}")
        lines.append(f"{name:<22}" + "".join(cells))
    return "\n".join(lines)
