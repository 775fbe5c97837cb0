"""`make eval`: quality tables on the sample, xquad and mixed, leave-out, bilingual, republished,
reuters and answer-removed archives.

Every table shows the plain dense baseline (one paragraph = one passage, nearest cosine, never
abstains) beside newsbot, measured in the same run on the same index, and newsbot with one stage
turned off at a time, so each stage's contribution is a visible delta. The abstention model is
fitted on the whole pipeline's evidence, so the lines without the lexical stage, the
latent-term rerank, the translations, the sentence vectors, the long lead quote or the referents
answer whenever there are quotes: compare them with the "- abstention" line.

    python -m evaluation.suite [--step N] [--archives a,b] [--variants a,b] [--dump F]
                               [--docs docs/quality.md]

Indexes and embeddings are cached under `.newsbot/eval/` (see `evaluation.embedding_cache`).
With `--docs` (as `make eval` runs it) a full run also writes its tables into that page, between
its `make eval` markers (`evaluation.markers`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from evaluation import reuters as eval_reuters
from evaluation.corpora import Archive, Source, archives, materialise
from evaluation.embedding_cache import CachedEmbedder
from evaluation.markers import MarkerError, check_block, write_block
from evaluation.scoring import DenseBaseline, Question, evaluate, hit_rank
from evaluation.stages import AlwaysAnswer, KeepEveryCandidate, NoReading
from index.embedders import Embedder, load_embedder
from index.stores.base import StoreError
from index.stores.sqlite import IndexStore
from index.sync import sync_index
from retrieval.abstain import FEATURES, Abstainer
from retrieval.answerer import Answerer
from retrieval.candidates import HybridRetriever
from retrieval.fusion import LexicalFusion
from retrieval.latent_terms import LatentTermRerank
from retrieval.quotes import QuoteSelector
from retrieval.translations import WordTranslations
from retrieval.when import TimeReader

Factory = Callable[[IndexStore, Embedder], object]


def _no_long_lead() -> QuoteSelector:
    """Every quote held to the supporting quotes' limits: what the longer lead quote adds."""
    default = QuoteSelector()
    return QuoteSelector(max_chars=default.support_max_chars, coverage=default.support_coverage)


VARIANTS: dict[str, Factory] = {
    "baseline": DenseBaseline,
    "newsbot": lambda store, embedder: Answerer(store, embedder),
    "- lexical": lambda store, embedder: Answerer(
        store,
        embedder,
        retriever=HybridRetriever(lexical_k=0),
        fusion=LexicalFusion(weight=0.0),
        quotes=QuoteSelector(lexical_weight=0.0),
        abstainer=AlwaysAnswer(),
    ),
    "- sentence vectors": lambda store, embedder: Answerer(
        store,
        embedder,
        quotes=QuoteSelector(sentence_vectors=False),
        abstainer=AlwaysAnswer(),
    ),
    "- abstention": lambda store, embedder: Answerer(store, embedder, abstainer=AlwaysAnswer()),
    "- latent terms": lambda store, embedder: Answerer(
        store,
        embedder,
        latent_terms=LatentTermRerank(embedder, weight=0.0),
        abstainer=AlwaysAnswer(),
    ),
    "- translations": lambda store, embedder: Answerer(
        store,
        embedder,
        retriever=HybridRetriever(translations=WordTranslations(None)),
        abstainer=AlwaysAnswer(),
    ),
    "- duplicates": lambda store, embedder: Answerer(
        store,
        embedder,
        duplicates=KeepEveryCandidate(),
    ),
    "- long lead quote": lambda store, embedder: Answerer(
        store, embedder, quotes=_no_long_lead(), abstainer=AlwaysAnswer()
    ),
    "- reader": lambda store, embedder: Answerer(store, embedder, reading=NoReading()),
    "- quantity check": lambda store, embedder: Answerer(
        store, embedder, abstainer=Abstainer(quantity_check=False)
    ),
    "- referents": lambda store, embedder: Answerer(
        store,
        embedder,
        quotes=QuoteSelector(referents=False),
        abstainer=AlwaysAnswer(),
    ),
}
DEFAULT_VARIANTS = (
    "baseline",
    "newsbot",
    "- abstention",
    "- reader",
    "- quantity check",
    "- lexical",
    "- latent terms",
    "- translations",
    "- sentence vectors",
    "- long lead quote",
    "- referents",
    "- duplicates",
)
DOCS_BLOCK = "make eval"  # docs/quality.md's markers: <!-- make eval: begin --> … end
TITLES = {
    "sample": "(a) the five sample articles, dev sets",
    "xquad-de": "(b) 48 German xquad articles",
    "xquad-en": "(c) 48 English xquad articles",
    "mixed": "(d) mixed archive: sample + xquad-de + xquad-en (101 articles)",
    "leave-out": "(e) leave-out: 40 German xquad articles; questions on the other 8 unanswerable",
    "bilingual": "(f) bilingual: 24 xquad topics in German, the other 24 in English",
    "republished": "(g) republished: the 48 German xquad articles, 16 of them twice",
    # (h) is the dated Reuters archive (`reuters_table`)
    "answer-removed-de": "(i) answer removed: 48 German xquad articles, in 36 the answers to"
    " up to 3 questions each cut out; those unanswerable",
    "answer-removed-en": "(j) answer removed: 48 English xquad articles, in 36 the answers to"
    " up to 3 questions each cut out; those unanswerable",
}
REUTERS_LETTER = "(h)"  # the tables lettered after it are made after it
COLUMNS = (
    ("n", "questions", "{:>5}"),
    ("hit@1", "hit@1", "{:>5.2f}"),
    ("hit@3", "hit@3", "{:>5.2f}"),
    ("MRR", "mrr", "{:>5.2f}"),
    ("prec", "quote_precision", "{:>5.2f}"),
    ("chars", "quote_chars", "{:>5.0f}"),
    ("chars@1", "first_quote_chars", "{:>7.0f}"),
    ("q/ans", "quotes_per_answer", "{:>5.2f}"),
    ("rep", "repeated_quotes", "{:>5.2f}"),
    ("abst-un", "abstained_unanswerable", "{:>7.2f}"),
    ("abst-ans", "abstained_answerable", "{:>8.2f}"),
)


def build_index(
    archive: Archive, root: Path, embedder: Embedder, *, paragraphs_only: bool = True
) -> IndexStore:
    """The archive's index under `root`. `paragraphs_only`: store no sentence vectors or
    latent terms (answers compute those they quote from, the same values: the tables do not
    change, and the archives' thousands of paragraphs nobody quotes cost nothing)."""
    folder = materialise(archive, root)
    index_dir = root / archive.name / "index"
    stored = {"sentence_vectors": not paragraphs_only, "latent_terms": not paragraphs_only}
    try:
        report = sync_index(folder, index_dir, embedder, **stored)
    except StoreError:  # a cached index of an older format or model: rebuild (embeddings cached)
        report = sync_index(folder, index_dir, embedder, rebuild=True, **stored)
    if report.changed:
        print(f"  indexed {archive.name}: {report.summary()}", file=sys.stderr)
    return IndexStore.open(index_dir, embedder.model_id)


def table(title: str, rows: list[tuple[str, str, dict]]) -> str:
    header = f"{'questions':<24} {'system':<20} " + " ".join(
        f"{name:>{len(fmt.format(0)) if 'd' not in fmt else 5}}" for name, _, fmt in COLUMNS
    )
    lines = [title, header, "-" * len(header)]
    for set_name, system, metrics in rows:
        cells = []
        for _, key, fmt in COLUMNS:
            value = metrics.get(key)
            width = len(fmt.format(0))
            cells.append(" " * (width - 1) + "–" if value is None else fmt.format(value))
        lines.append(f"{set_name:<24} {system:<20} " + " ".join(cells))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    root = Path(args.cache)
    embedder = CachedEmbedder(load_embedder(args.model), root / "embeddings.sqlite")
    chosen = [a for a in archives(Path("."), Path(args.shared), step=args.step)]
    if args.archives:
        chosen = [a for a in chosen if a.name in args.archives.split(",")]
    variants = args.variants.split(",") if args.variants else list(DEFAULT_VARIANTS)
    dump = open(args.dump, "w") if args.dump else None  # noqa: SIM115
    out = []
    reuters = not args.archives or "reuters" in args.archives.split(",")
    for archive in chosen:
        if reuters and TITLES[archive.name] > REUTERS_LETTER:
            out.append(
                _print(reuters_table(root, Path(args.shared), embedder, args.reuters_stories))
            )
            reuters = False
        started = time.perf_counter()
        store = build_index(archive, root, embedder)
        rows = []
        for question_set in archive.question_sets:
            questions = list(question_set.questions)
            embedder.embed_queries([q.question for q in questions])  # fill the cache in batches
            for name in variants:
                answerer = VARIANTS[name](store, embedder)
                report = evaluate(answerer, questions, batch=True)
                rows.append((question_set.name, name, report["metrics"]["all"]))
                if dump and name == "newsbot":
                    _dump(dump, archive.name, question_set.name, answerer, questions)
        text = table(f"{TITLES[archive.name]} — {len(store)} passages", rows)
        print(text + f"\n({time.perf_counter() - started:.0f} s)\n", flush=True)
        out.append(text)
    if dump:
        dump.close()
    if reuters:
        out.append(_print(reuters_table(root, Path(args.shared), embedder, args.reuters_stories)))
    if args.docs:
        write_block(Path(args.docs), DOCS_BLOCK, docs_block(out))
        print(f"tables written to {args.docs}", file=sys.stderr)
    return 0


def _print(text: str) -> str:
    print(text + "\n", flush=True)
    return text


def docs_block(tables: list[str]) -> str:
    """The tables as the docs page shows them: as printed, without the timings, in one code
    block, so a run that measures the same figures leaves the page unchanged."""
    return "```\n" + "\n\n".join(tables) + "\n```"


def reuters_table(root: Path, shared: Path, embedder: Embedder, stories: int) -> str:
    """(h) the dated archive: newsbot with time handling on (today = `eval_reuters.NOW`) beside
    the same pipeline with it off and the dense baseline, on the time dev set."""
    questions = eval_reuters.load_time_questions()
    source = eval_reuters.convert(
        shared, root / "reuters-source", stories, eval_reuters.needed_stories(questions)
    )
    archive = Archive("reuters", (Source(eval_reuters.PREFIX, source),), ())
    store = build_index(archive, root, embedder)
    dates = {record.path: record.date for record in store.articles()}
    systems = {
        "baseline": DenseBaseline(store, embedder),
        "newsbot, time off": Answerer(store, embedder, time=TimeReader(enabled=False)),
        "newsbot": Answerer(store, embedder, today=eval_reuters.NOW),
    }
    rows = [(name, eval_reuters.score(a, questions, dates)) for name, a in systems.items()]
    coverage = store.coverage()
    title = (
        f"{REUTERS_LETTER} reuters: {coverage.dated} dated Reuters stories (every n-th NEWID for ~"
        f"{stories or 'all'}, + the dev set's), {coverage.oldest[:10]} – {coverage.newest[:10]}, "
        f"{len(store)} passages; "
        f"time dev set, NEWSBOT_NOW={eval_reuters.NOW}"
    )
    return eval_reuters.table(title, rows)


def _dump(handle, archive: str, set_name: str, answerer: Answerer, questions: list[Question]):
    """Per question: the evidence features, whether it is answerable and whether it was hit."""
    vectors = answerer.embed([q.question for q in questions])
    for question, vector in zip(questions, vectors, strict=True):
        answer, evidence = answerer.explain(
            question.question, context=question.context, vector=vector
        )
        if evidence is None:
            continue
        rank = hit_rank(answer, question.gold) if question.answerable else None
        record = {
            "archive": archive,
            "set": set_name,
            "id": question.id,
            "lang": question.lang,
            "answerable": question.answerable,
            "rank": rank,
            "features": dict(zip(FEATURES, evidence.vector().tolist(), strict=True)),
        }
        handle.write(json.dumps(record) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.suite", description=__doc__)
    parser.add_argument("--shared", default="../shared", help="the shared folder (xquad, eval)")
    parser.add_argument("--cache", default=".newsbot/eval", help="indexes and embedding cache")
    parser.add_argument("--model", default=None, help="embedding model (default: bundled)")
    parser.add_argument("--step", type=int, default=1, help="ask every N-th question only")
    parser.add_argument("--archives", default="", help="comma-separated subset of archives")
    parser.add_argument("--variants", default="", help="comma-separated subset of systems")
    parser.add_argument("--dump", default="", help="write per-question evidence (JSONL)")
    parser.add_argument(
        "--reuters-stories",
        type=int,
        default=eval_reuters.DEFAULT_STORIES,
        help="Reuters stories in the dated archive, spread over its dates (0: all ~10,000)",
    )
    parser.add_argument(
        "--docs", default="", help="write the tables between this page's make eval markers"
    )
    args = parser.parse_args(argv)
    if args.docs and (args.archives or args.variants or args.step != 1 or args.model):
        parser.error("--docs takes a full run: no --archives, --variants, --step or --model")
    if args.docs:  # fail before the run, not after it
        try:
            check_block(Path(args.docs), DOCS_BLOCK)
        except MarkerError as error:
            parser.error(f"--docs {args.docs}: {error}")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
