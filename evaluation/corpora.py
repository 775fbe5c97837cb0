"""The archives and question sets `make eval` measures on, built from ../shared and articles/.

Every archive is a folder of article files indexed with the project's own sync, so what is
measured is what users get. Articles are copied under a corpus prefix (`xquad-de/Warsaw.txt`)
so that one mixed archive can hold all of them; gold documents are renamed the same way.

- `sample`: the project's five sample articles with the dev sets (shared dev + evaluation/data).
- `xquad-de`, `xquad-en`: 48 Wikipedia articles on 48 topics (../shared/xquad), German / English.
- `mixed`: all of the above in one archive, every topic and both languages as distractors.
- `leave-out`: 40 of the 48 German xquad articles; questions about the other 8 are unanswerable
  on it and are on topics near the rest. The 8 are every sixth article in name order.
- `bilingual`: each topic once, half of them in German and half in English (alternating in name
  order), as in a newspaper that publishes in both languages: an English question about a German
  article now meets English articles on other topics that share its words.
- `republished`: the German xquad articles, every third of them twice (a second file of the same
  text, as agencies' stories are republished and updates re-filed). A quote from either copy
  answers; the questions are those of `xquad-de`, so its figures compare with that table.

Of xquad's questions only the odd-numbered ones are asked here: the even-numbered ones (and none
about the 8 left-out articles) are what the abstention model was fitted on.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from evaluation.scoring import Gold, Question, load_questions

LEAVE_OUT_EVERY = 6  # articles number 5, 11, 17, ... (0-based, name order) are left out
COPY_EVERY = 3  # articles number 0, 3, 6, ... (0-based, name order) are republished


@dataclass(frozen=True, slots=True)
class Source:
    """A folder of articles that goes into an archive under `prefix/`."""

    prefix: str
    folder: Path
    exclude: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class QuestionSet:
    name: str
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class Archive:
    name: str
    sources: tuple[Source, ...]
    question_sets: tuple[QuestionSet, ...]


@dataclass(frozen=True, slots=True)
class Split:
    train: tuple[str, ...]
    dev: tuple[str, ...]
    held_out: tuple[str, ...]


def xquad_articles(shared: Path, language: str) -> list[str]:
    return sorted(p.name for p in (shared / "xquad" / f"articles-{language}").glob("*.txt"))


def reader_split(shared: Path) -> Split:
    """xquad articles in name order: every 4th (0, 4, 8, …) is the reader's (every 16th of
    those for its dev log), the other 36 are held out — among them all 8 that `make eval`
    leaves out (numbers 5, 11, …: odd, so never a multiple of 4)."""
    names = xquad_articles(shared, "de")
    train = tuple(n for i, n in enumerate(names) if i % 4 == 0 and i % 16 != 0)
    dev = tuple(n for i, n in enumerate(names) if i % 16 == 0)
    held = tuple(n for i, n in enumerate(names) if i % 4 != 0)
    return Split(train, dev, held)


def left_out(shared: Path) -> frozenset[str]:
    names = xquad_articles(shared, "de")
    return frozenset(n for i, n in enumerate(names) if i % LEAVE_OUT_EVERY == LEAVE_OUT_EVERY - 1)


def prefixed(questions: list[Question], prefix: str) -> list[Question]:
    return [
        replace(q, gold=tuple(Gold(f"{prefix}/{g.doc}", g.quote) for g in q.gold))
        for q in questions
    ]


def every(questions: list[Question], step: int) -> list[Question]:
    """A deterministic subset: every `step`-th question (1 = all)."""
    return questions[::step]


def archives(project: Path, shared: Path, *, step: int = 1) -> list[Archive]:
    """The archives with their question sets; `step` > 1 asks every step-th question."""
    sample = Source("sample", project / "articles")
    xde = Source("xquad-de", shared / "xquad" / "articles-de")
    xen = Source("xquad-en", shared / "xquad" / "articles-en")
    dev_files = [
        shared / "eval" / "dev.jsonl",
        *sorted((project / "evaluation/data").glob("*.jsonl")),
    ]
    sample_sets = [
        QuestionSet(f.stem, tuple(prefixed(load_questions(f), "sample"))) for f in dev_files
    ]
    de_corpus = prefixed(load_questions(shared / "xquad" / "questions-de-corpus.jsonl"), "xquad-de")
    en_corpus = prefixed(load_questions(shared / "xquad" / "questions-en-corpus.jsonl"), "xquad-en")
    out = left_out(shared)
    # Even-numbered questions fit the abstention model (`evaluation.fit_abstention`), so only the
    # odd-numbered ones are reported, and every question about the 8 left-out articles.
    de_pairs = [q for i, q in enumerate(de_corpus) if (i // 2) % 2 == 1]
    de_en = every([q for q in de_pairs if q.lang == "en"], step)
    de_de = every([q for q in de_pairs if q.lang == "de"], step)
    en_en = every([q for i, q in enumerate(en_corpus) if i % 2 == 1], step)
    german_half = frozenset(xquad_articles(shared, "de")[0::2])
    english_half = frozenset(xquad_articles(shared, "en")) - german_half
    kept_en = [q for q in de_en if not _about(q, out)]
    kept_de = [q for q in de_de if not _about(q, out)]
    german = xquad_articles(shared, "de")
    copies = replace(
        xde, prefix="xquad-de-copy", exclude=frozenset(german) - set(german[::COPY_EVERY])
    )
    gone = [_unanswerable(q) for q in every([q for q in de_corpus if _about(q, out)], step)]
    return [
        Archive("sample", (sample,), tuple(sample_sets)),
        Archive(
            "xquad-de",
            (xde,),
            (QuestionSet("en questions", tuple(de_en)), QuestionSet("de questions", tuple(de_de))),
        ),
        Archive("xquad-en", (xen,), (QuestionSet("en questions", tuple(en_en)),)),
        Archive(
            "mixed",
            (sample, xde, xen),
            (
                # English questions about the German articles are left out here: the English
                # original of the same article is in the archive, and is the better answer.
                QuestionSet("sample dev", tuple(q for s in sample_sets for q in s.questions)),
                QuestionSet("xquad-de de questions", tuple(de_de)),
                QuestionSet("xquad-en en questions", tuple(en_en)),
            ),
        ),
        Archive(
            "leave-out",
            (replace(xde, exclude=out),),
            (
                QuestionSet("en questions", tuple(kept_en + [q for q in gone if q.lang == "en"])),
                QuestionSet("de questions", tuple(kept_de + [q for q in gone if q.lang == "de"])),
            ),
        ),
        Archive(
            "bilingual",
            (replace(xde, exclude=english_half), replace(xen, exclude=german_half)),
            (
                QuestionSet("en q, German articles", tuple(_only(de_en, german_half))),
                QuestionSet("de q, German articles", tuple(_only(de_de, german_half))),
                QuestionSet("en q, English articles", tuple(_only(en_en, english_half))),
            ),
        ),
        Archive(
            "republished",
            (xde, copies),
            (
                QuestionSet("en questions", tuple(_also_in(de_en, copies))),
                QuestionSet("de questions", tuple(_also_in(de_de, copies))),
            ),
        ),
    ]


def _only(questions: list[Question], articles: frozenset[str]) -> list[Question]:
    return [q for q in questions if _about(q, articles)]


def _about(question: Question, articles: frozenset[str]) -> bool:
    return any(g.doc.split("/", 1)[1] in articles for g in question.gold)


def _also_in(questions: list[Question], copies: Source) -> list[Question]:
    """The questions with each gold quote also answered by its article's copy, if it has one."""
    out = []
    for q in questions:
        extra = tuple(
            Gold(f"{copies.prefix}/{name}", g.quote)
            for g in q.gold
            if (name := g.doc.split("/", 1)[1]) not in copies.exclude
        )
        out.append(replace(q, gold=q.gold + extra))
    return out


def _unanswerable(question: Question) -> Question:
    return replace(question, answerable=False, gold=())


def materialise(archive: Archive, root: Path) -> Path:
    """The archive's articles folder under `root` (copied once; re-copied if sources change)."""
    folder = root / archive.name / "articles"
    wanted: dict[str, Path] = {}
    for source in archive.sources:
        for path in sorted(source.folder.glob("*")):
            if path.is_file() and path.name not in source.exclude:
                wanted[f"{source.prefix}/{path.name}"] = path
    listing = folder.parent / "articles.json"
    signature = {name: [str(p), p.stat().st_size, p.stat().st_mtime] for name, p in wanted.items()}
    if listing.exists() and json.loads(listing.read_text()) == signature:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for name, path in wanted.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    listing.write_text(json.dumps(signature))
    return folder
