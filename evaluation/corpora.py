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
- `answer-removed-de`, `answer-removed-en`: on-topic unanswerable questions. In each of the 36
  articles the trained reader never saw (`reader_split`), up to 3 questions have every sentence
  holding their answer cut out of the article (`answer_removal`): they ask about a story the
  archive covers, for a detail no article states. The other questions about those articles
  whose answer is still there are asked beside them as the control. (`answer_removal` with
  parity 0 makes the same kind of articles from even-numbered questions, for the abstention fit.)

Of xquad's questions only the odd-numbered ones are asked here: the even-numbered ones (and none
about the 8 left-out articles) are what the abstention model was fitted on.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from evaluation.scoring import Gold, Question, load_questions
from index.cleaning import split_sentences
from index.language import ENGLISH, GERMAN
from index.verbatim import canonical

LEAVE_OUT_EVERY = 6  # articles number 5, 11, 17, ... (0-based, name order) are left out
COPY_EVERY = 3  # articles number 0, 3, 6, ... (0-based, name order) are republished
REMOVED_PER_ARTICLE = 3  # questions per held-out article whose answer is cut out
# A question qualifies for removal when its answer stands in at most this many sentences of its
# article (in each language): a common word or year as the answer would take half the story.
MAX_ANSWER_SENTENCES = 2


@dataclass(frozen=True, slots=True)
class Source:
    """A folder of articles that goes into an archive under `prefix/`. With `texts` (file name,
    text) the folder is derived: `materialise` writes them into `folder`, relative to the cache
    root, at build time."""

    prefix: str
    folder: Path
    exclude: frozenset[str] = frozenset()
    texts: tuple[tuple[str, str], ...] = field(default=(), repr=False)


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
    removal = answer_removal(shared)
    german_questions = load_questions(shared / "xquad" / "questions-de-corpus.jsonl")
    english_questions = load_questions(shared / "xquad" / "questions-en-corpus.jsonl")
    removed_de = removal_questions(
        [(i // 2, q) for i, q in enumerate(german_questions)],
        removal,
        removal.texts[GERMAN],
        "xquad-de",
    )
    removed_en = removal_questions(
        list(enumerate(english_questions)), removal, removal.texts[ENGLISH], "xquad-en"
    )
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
        Archive(
            "answer-removed-de",
            derived_sources(xde, "answer-removed-de", removal.texts[GERMAN]),
            (
                QuestionSet("en questions", tuple(every(_lang(removed_de, "en"), step))),
                QuestionSet("de questions", tuple(every(_lang(removed_de, "de"), step))),
            ),
        ),
        Archive(
            "answer-removed-en",
            derived_sources(xen, "answer-removed-en", removal.texts[ENGLISH]),
            (QuestionSet("en questions", tuple(every(removed_en, step))),),
        ),
    ]


def _lang(questions: list[Question], lang: str) -> list[Question]:
    return [q for q in questions if q.lang == lang]


def derived_sources(source: Source, name: str, texts: dict[str, str]) -> tuple[Source, Source]:
    """`source` with the articles in `texts` replaced by these texts (written at build time
    under the cache root, in `name/derived`)."""
    return (
        replace(source, exclude=source.exclude | frozenset(texts)),
        Source(source.prefix, Path(name) / "derived", texts=tuple(sorted(texts.items()))),
    )


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


# --- on-topic unanswerable: the answer's sentences cut out ----------------------------------

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def folded(text: str) -> str:
    """The form an answer is looked for in: case and whitespace ignored."""
    return canonical(text).casefold()


def holds(text: str, answers: frozenset[str]) -> bool:
    """Whether `text` contains one of the `folded` `answers`."""
    text = folded(text)
    return any(a in text for a in answers)


def paragraphs(text: str) -> list[str]:
    """An article's paragraphs: blank-line separated, stripped, empty ones left out."""
    return [p for p in (p.strip() for p in PARAGRAPH_BREAK.split(text)) if p]


def remove_sentences(text: str, answers: frozenset[str], language: str) -> str:
    """`text` without every sentence that contains one of the `folded` `answers`; paragraphs
    stay separated by a blank line (untouched ones as they were), one left without sentences
    is dropped."""
    out = []
    for paragraph in paragraphs(text):
        sentences = [paragraph[a:b] for a, b in split_sentences(paragraph, language)]
        kept = [s for s in sentences if not holds(s, answers)]
        if len(kept) == len(sentences):
            out.append(paragraph)
        elif kept:
            out.append(" ".join(kept))
    return "\n\n".join(out) + "\n"


@dataclass(frozen=True, slots=True)
class Removal:
    """The answer-removed articles: `chosen` are the question numbers (lines of
    questions-en-corpus.jsonl; in questions-de-corpus.jsonl each is lines 2k and 2k+1) whose
    answer was cut out, all of them `parity` mod 2; `texts` maps a language to the chosen
    articles by name, modified (or as they were, if none of their questions qualified)."""

    chosen: frozenset[int]
    texts: dict[str, dict[str, str]]
    parity: int = 1


@functools.lru_cache(maxsize=8)
def answer_removal(
    shared: Path, parity: int = 1, articles: frozenset[str] | tuple[str, ...] | None = None
) -> Removal:
    """Per article of `articles` (default: the reader's held-out ones), the first
    `REMOVED_PER_ARTICLE` questions numbered `parity` mod 2 (file order; make eval asks the odd
    ones, the abstention fit the even ones) whose answer stands in 1 to `MAX_ANSWER_SENTENCES`
    sentences of the article in each language, and the articles with every sentence holding
    one of their answers removed. The question files are parallel, so the choice is the same
    for both languages; each language loses the sentences holding its own gold answers."""
    xquad = shared / "xquad"
    english = load_questions(xquad / "questions-en-corpus.jsonl")
    german = load_questions(xquad / "questions-de-corpus.jsonl")
    answers = {
        ENGLISH: [frozenset(folded(g.quote) for g in q.gold) for q in english],
        GERMAN: [
            frozenset(folded(g.quote) for q in german[2 * k : 2 * k + 2] for g in q.gold)
            for k in range(len(english))
        ],
    }
    chosen: set[int] = set()
    texts: dict[str, dict[str, str]] = {GERMAN: {}, ENGLISH: {}}
    for name in sorted(reader_split(shared).held_out if articles is None else articles):
        raw = {lang: (xquad / f"articles-{lang}" / name).read_text("utf-8") for lang in texts}
        sentences = {
            lang: [
                folded(p[a:b]) for p in paragraphs(raw[lang]) for a, b in split_sentences(p, lang)
            ]
            for lang in texts
        }
        numbers = [
            k
            for k, q in enumerate(english)
            if k % 2 == parity and q.gold[0].doc == name and _qualifies(k, answers, sentences)
        ][:REMOVED_PER_ARTICLE]
        chosen.update(numbers)
        for lang in texts:
            cut = frozenset(a for k in numbers for a in answers[lang][k])
            texts[lang][name] = remove_sentences(raw[lang], cut, lang) if cut else raw[lang]
    return Removal(frozenset(chosen), texts, parity)


def _qualifies(
    k: int, answers: dict[str, list[frozenset[str]]], sentences: dict[str, list[str]]
) -> bool:
    """Whether question `k`'s answers each stand in 1 to `MAX_ANSWER_SENTENCES` of the
    (`folded`) sentences of its article, in every language."""
    return all(
        1 <= sum(answer in s for s in sentences[lang]) <= MAX_ANSWER_SENTENCES
        for lang in sentences
        for answer in answers[lang][k]
    )


def removal_questions(
    questions: list[tuple[int, Question]],
    removal: Removal,
    texts: dict[str, str],
    prefix: str,
    *,
    keep_gold: bool = False,
) -> list[Question]:
    """The questions of the removal's parity (with their `Removal.chosen` numbers) about the
    modified articles' story: the chosen ones unanswerable, the others whose gold answer the
    modified article still holds as they are; those whose answer went with another question's
    sentences are left out. `keep_gold`: the unanswerable ones keep their (prefixed) gold,
    naming the article they are about (the abstention fit folds by it); else they have none."""
    out = []
    for k, q in questions:
        doc = q.gold[0].doc
        if k % 2 != removal.parity or doc not in texts:
            continue
        if k in removal.chosen:
            unanswerable = replace(q, answerable=False)
            out.extend(prefixed([unanswerable], prefix) if keep_gold else [_unanswerable(q)])
        elif holds(texts[doc], frozenset(folded(g.quote) for g in q.gold)):
            out.extend(prefixed([q], prefix))
    return out


def materialise(archive: Archive, root: Path) -> Path:
    """The archive's articles folder under `root` (copied once; re-copied if sources change)."""
    folder = root / archive.name / "articles"
    wanted: dict[str, Path] = {}
    for source in archive.sources:
        source_folder = source.folder
        if source.texts:
            source_folder = root / source.folder
            _write_texts(source_folder, dict(source.texts))
        for path in sorted(source_folder.glob("*")):
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


def _write_texts(folder: Path, texts: dict[str, str]) -> None:
    """`folder` holding exactly `texts` (file name: text); a file whose text is already right is
    left alone, so its size and time, which `materialise` compares, change only with the text."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.name not in texts:
            path.unlink()
    for name, text in texts.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
