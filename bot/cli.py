"""`newsbot` command line (commands per ../shared/CONTRACT.md)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from bot.questions import MAX_QUESTION_CHARS, question_problem
from bot.settings import Settings, load_settings
from index.embedders import EmbedderError, load_embedder
from index.lock import IndexLockedError
from index.stores.base import StoreError
from index.sync import ArticlesFolderMissingError
from retrieval.answer import Answer

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Answers questions about news articles with cited quotes."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_dirs(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        command.add_argument("--articles", type=Path, help="articles folder")
        command.add_argument("--index", type=Path, help="index folder")
        return command

    index = with_dirs(commands.add_parser("index", help="sync the index with the articles"))
    index.add_argument("--rebuild", action="store_true", help="start from scratch")

    ask = with_dirs(commands.add_parser("ask", help="answer a question (or each stdin line)"))
    ask.add_argument("question", nargs="?", help="the question; omit to read lines from stdin")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--top", type=int, default=5, help="at most N quotes (default 5)")

    with_dirs(commands.add_parser("chat", help="interactive chat in the terminal"))

    with_dirs(commands.add_parser("sources", help="the indexed articles, newest first"))
    latest = with_dirs(commands.add_parser("latest", help="the newest articles, on a topic"))
    latest.add_argument("topic", nargs="*", help="a topic (words); omit for all articles")
    latest.add_argument("--top", type=int, default=5, help="at most N articles (default 5)")

    evaluate = with_dirs(commands.add_parser("eval", help="score answers against a gold file"))
    evaluate.add_argument("file", type=Path, help="questions in the shared/eval JSONL format")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")

    with_dirs(commands.add_parser("watch", help="keep the index in sync until interrupted"))
    with_dirs(commands.add_parser("telegram", help="run the Telegram bot"))

    feeds = commands.add_parser("feeds", help="RSS/Atom feeds that watch and telegram poll")
    actions = feeds.add_subparsers(dest="action", required=True)
    add = with_dirs(actions.add_parser("add", help="subscribe to a feed"))
    add.add_argument("url", help="the feed's URL (or a page that names its feed)")
    with_dirs(actions.add_parser("list", help="feeds with their last success or error"))
    remove = with_dirs(actions.add_parser("remove", help="unsubscribe (articles stay)"))
    remove.add_argument("feed", help="the feed's number (as `feeds list` shows) or URL")
    poll = with_dirs(actions.add_parser("poll", help="poll the due feeds once, now"))
    poll.add_argument("--all", action="store_true", help="every feed, due or not")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(articles_dir=args.articles, index_dir=args.index)
    except ValueError as exc:
        print(f"newsbot: invalid settings: {exc}", file=sys.stderr)
        return EXIT_USAGE
    handler = COMMANDS[args.command]
    try:
        return handler(args, settings)
    except (StoreError, EmbedderError, IndexLockedError, ArticlesFolderMissingError) as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsbot eval … | head`: the reader left, nothing more to say
        with contextlib.suppress(OSError, ValueError):  # no flush error at interpreter exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import run_sync, skips_reported_once, stderr_console

    console = stderr_console()
    embedder = load_embedder(settings.embedding_model)
    with skips_reported_once():
        report = run_sync(settings, embedder, rebuild=args.rebuild, console=console)
    print(f"newsbot index: {report.summary()}", file=sys.stderr)
    return EXIT_OK


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Each question (the argument, or each line of standard input as it arrives) gets its
    answer from the newest generation at once, so another program can use `ask` as a
    co-process. A question the index cannot be reached for (a database outage outlasting
    the retries) gets an error line, and the next question is answered: exit 1 at the end."""
    from bot.runtime import CurrentAnswerer
    from retrieval.render import render_plain

    if args.top < 1:
        print("newsbot: --top must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    answerer = CurrentAnswerer(settings, load_embedder(settings.embedding_model))
    one = args.question is not None
    failed = 0
    for question in [args.question] if one else _stdin_questions():
        problem = question_problem(question)
        error = None
        if problem is not None:  # the rule of every front end: not searched
            answer = Answer(question, False, (), "en")
            text = problem_text(problem, question)
        else:
            try:
                answer = answerer.answer(question, top=args.top)
                text = render_plain(answer)
            except StoreError as exc:
                failed += 1
                error = str(exc)
                answer = Answer(question, False, (), "en")
                text = f"No answer: {error}"
                print(f"newsbot: {error}", file=sys.stderr, flush=True)
        if args.json:
            payload = {
                "question": answer.question,
                "answered": answer.answered,
                "text": text,
                "quotes": [q.to_json() for q in answer.quotes],
                "timing_ms": {k: round(v, 2) for k, v in answer.timing_ms.items()},
                "window": answer.window.to_json() if answer.window else None,
                "coverage": answer.coverage.to_json() if answer.coverage else None,
                "nearest": [q.to_json() for q in answer.nearest],
            }
            if error is not None:
                payload["error"] = error
            print(json.dumps(payload, ensure_ascii=False), flush=True)
        elif error is None:
            print(text, end="\n" if one else "\n\n", flush=True)
    return EXIT_FAILURE if failed else EXIT_OK


def problem_text(problem: str, question: str) -> str:
    if problem == "too_long":
        return (
            f"That question is too long ({len(question)} characters). Please keep it under "
            f"{MAX_QUESTION_CHARS} characters."
        )
    return "Please write your question in words."


def _stdin_questions() -> Iterator[str]:
    """Each non-empty line of standard input as it arrives (not all of it first). Bytes that
    are not UTF-8 are replaced (U+FFFD), so one bad line cannot end the batch."""
    stdin = sys.stdin
    reconfigure = getattr(stdin, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(encoding="utf-8", errors="replace")
    while line := stdin.readline():
        if line.strip():
            yield line.strip()


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chat import run_chat

    return run_chat(settings)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import open_answerer
    from evaluation.scoring import evaluate_file, format_report

    answerer = open_answerer(settings, load_embedder(settings.embedding_model))
    report = evaluate_file(answerer, args.file)
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
    return EXIT_OK


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    """The articles newest first with their dates, under a line with the archive's span."""
    from index.stores import open_store
    from retrieval.latest import by_date
    from retrieval.render import coverage_line

    store = open_store(settings.index_location)
    records = by_date(store.articles())
    print(coverage_line(store.coverage(), "en"))
    for record in records:
        title = " ".join((record.title or "").split()) or record.path
        print(f"{(record.date or '')[:10]:<10}  {title}  ({record.path})")
    return EXIT_OK


def cmd_latest(args: argparse.Namespace, settings: Settings) -> int:
    """The newest articles (title, date, lead quote), on a topic when one is given."""
    from bot.runtime import open_answerer
    from index.stores import open_store
    from retrieval.latest import latest
    from retrieval.render import render_latest

    if args.top < 1:
        print("newsbot: --top must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    topic = " ".join(args.topic).strip() or None
    if topic:
        answerer = open_answerer(settings, load_embedder(settings.embedding_model))
        found = latest(answerer.store, topic, args.top, answerer=answerer)
    else:
        found = latest(open_store(settings.index_location), None, args.top)
    print(render_latest(found, "en"))
    return EXIT_OK


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import skips_reported_once
    from bot.watch import run_watch

    with skips_reported_once():
        return run_watch(settings)


def cmd_telegram(args: argparse.Namespace, settings: Settings) -> int:
    from bot.telegram.app import run_telegram

    return run_telegram(settings)


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from bot import feeds

    try:
        if args.action == "add":
            print(feeds.add_feed(settings, args.url))
        elif args.action == "remove":
            print(feeds.remove_feed(settings, args.feed))
        elif args.action == "list":
            print(feeds.describe_feeds(feeds.list_feeds(settings)))
        else:
            report = feeds.poll_now(settings, all_feeds=args.all)
            for result in report.results:
                status = result.status if not result.reason else f"{result.status}: {result.reason}"
                print(f"feed {result.number} ({result.feed}): {status}")
                for path in result.written + result.updated:
                    print(f"  wrote {path}")
            print(f"newsbot feeds: {report.summary()}", file=sys.stderr)
    except feeds.FeedCommandError as exc:
        print(f"newsbot feeds: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


COMMANDS = {
    "index": cmd_index,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "sources": cmd_sources,
    "latest": cmd_latest,
    "eval": cmd_eval,
    "watch": cmd_watch,
    "telegram": cmd_telegram,
    "feeds": cmd_feeds,
}


if __name__ == "__main__":
    sys.exit(main())
