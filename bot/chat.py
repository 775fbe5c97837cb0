"""`newsbot chat`: ask questions in the terminal, with follow-up context like the Telegram bot.

On a terminal the prompt has line editing and a history file, and answers are styled with rich;
when stdin/stdout are pipes the chat reads plain lines and prints exactly what `newsbot ask`
prints, so it can be scripted and tested.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.conversation import Conversation
from bot.questions import (
    MAX_QUESTION_CHARS,
    example_question,
    follow_up_example,
    question_problem,
)
from bot.settings import Settings
from index.stores.base import IndexMissingError
from retrieval.answer import Answer, Quote
from retrieval.latest import by_date, latest
from retrieval.live import IndexChange, LiveIndex
from retrieval.render import (
    citation,
    coverage_line,
    focus_span,
    nearest_header,
    render_latest,
    render_quotes,
    render_unanswered,
    time_note,
    unanswered,
)

QUOTES_PER_PAGE = 3
QUOTES_PER_QUESTION = 10
PROMPT = "› "

HELP = f"""\
Ask a question about the articles, in English or German; I answer with verbatim quotes.
A short follow-up ("{follow_up_example("en")}") uses your previous question as context.
New and changed articles are picked up while the chat runs.
  /more     the next quotes of the last answer
  /sources  the indexed articles, newest first
  /latest   the newest articles (/latest TOPIC: on a topic)
  /new      start a new topic (forget the previous question)
  /help     this help
  /quit     leave (Ctrl-D works too)"""


class ChatSession:
    """What one chat line does, independent of how lines are read and answers are drawn."""

    def __init__(self, live: LiveIndex, out: ChatOutput, *, clock: Callable[[], float]) -> None:
        self.live = live
        self.out = out
        self.conversation = Conversation(clock=clock)
        self.last_answer: Answer | None = None
        self.shown = 0

    def handle(self, line: str) -> bool:
        """Act on one input line; False means the user asked to leave."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("/"):
            return self._command(text)
        self.ask(text)
        return True

    def ask(self, question: str) -> None:
        problem = question_problem(question)
        if problem == "too_long":
            self.out.notice(
                f"That question is too long ({len(question)} characters). Please keep it under "
                f"{MAX_QUESTION_CHARS} characters."
            )
            return
        if problem == "no_words":
            example = example_question(self.live.articles(), "en")
            self.out.notice(f"Please write your question in words, for example: {example}")
            return
        self.follow_index()
        context = self.conversation.context_for(question)
        answer = self.live.answer(question, context=context, top=QUOTES_PER_QUESTION)
        self.conversation.remember(question, context)
        self.last_answer, self.shown = answer, 0
        self.more()

    def more(self) -> None:
        answer = self.last_answer
        if answer is None:
            self.out.notice("Ask a question first.")
            return
        if not answer.answered:
            self.out.answer(answer, first=0)
            return
        if self.shown >= len(answer.quotes):
            self.out.notice("No more quotes for this question.")
            return
        first, self.shown = self.shown, min(self.shown + QUOTES_PER_PAGE, len(answer.quotes))
        page = dataclasses.replace(answer, quotes=answer.quotes[first : self.shown])
        self.out.answer(page, first=first)
        if self.shown < len(answer.quotes):
            self.out.notice(f"/more shows {len(answer.quotes) - self.shown} more quotes.")

    def follow_index(self) -> None:
        """Answer from the live generation, whoever published it (`newsbot watch`, `index`…)."""
        change = self.live.refresh()
        if change is not None:
            self.out.index_changed(change)

    def _command(self, text: str) -> bool:
        command = text.split()[0].lower()
        if command in ("/quit", "/exit", "/q"):
            return False
        if command == "/help":
            self.out.notice(HELP)
        elif command == "/sources":
            self.follow_index()
            self.out.sources(self.live)
        elif command == "/latest":
            self.follow_index()
            topic = text[len(command) :].strip() or None
            answerer = self.live.answerer
            found = latest(answerer.store, topic, QUOTES_PER_PAGE + 2, answerer=answerer)
            self.out.notice(render_latest(found, "en"))
        elif command == "/more":
            self.more()
        elif command in ("/new", "/start", "/reset"):
            self.conversation.reset()
            self.last_answer = None
            self.out.notice("New topic: your next question stands on its own.")
        else:
            self.out.notice(f"Unknown command {command}. /help lists the commands.")
        return True


class ChatOutput:
    """Plain text, as `newsbot ask` prints it: for pipes, scripts and tests."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def answer(self, answer: Answer, *, first: int) -> None:
        if answer.answered:
            text = render_quotes(answer.quotes, first_rank=first + 1, language=answer.language)
            if note := time_note(answer):
                text += "\n" + note
        else:
            text = render_unanswered(answer, sources_hint=True)
        self._write(text)

    def notice(self, text: str) -> None:
        self._write(text)

    def index_changed(self, change: IndexChange) -> None:
        self.notice(f"Index updated: {change.summary()}.")

    def sources(self, live: LiveIndex) -> None:
        articles = by_date(live.articles())
        lines = [coverage_line(live.coverage(), "en") + ", newest first:"]
        lines += [
            f"- {a.title or '(untitled)'} — {(a.date or 'no date')[:10]} — {a.path}"
            for a in articles
        ]
        self._write("\n".join(lines))

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n\n")
        self.stream.flush()


class RichChatOutput(ChatOutput):
    """Quotes highlighted and citations dimmed, for a terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.console = Console(file=stream, highlight=False)

    def answer(self, answer: Answer, *, first: int) -> None:
        if not answer.answered:
            message = unanswered(answer, sources_hint=not answer.nearest)
            self.console.print(Text(message, style="yellow"), end="\n\n")
            if answer.nearest:
                self.console.print(Text(nearest_header(answer), style="dim"))
                for rank, quote in enumerate(answer.nearest, start=1):
                    block = Text(f"[{rank}] ", style="dim")
                    block.append_text(styled_quote(quote))
                    block.append(f"\n    {citation(quote, answer.language)}", style="dim")
                    self.console.print(block, end="\n\n")
            return
        for rank, quote in enumerate(answer.quotes, start=first + 1):
            block = Text()
            block.append(f"[{rank}] ", style="bold")
            block.append_text(styled_quote(quote))
            block.append(f"\n    {citation(quote, answer.language)}", style="dim")
            if quote.url:  # a terminal that knows hyperlinks makes it clickable
                block.append(f"\n    {quote.url}", style=f"dim link {quote.url}")
            self.console.print(block, end="\n\n")
        if note := time_note(answer):
            self.console.print(Text(note, style="dim"), end="\n\n")

    def index_changed(self, change: IndexChange) -> None:
        self.console.print(Text(f"Index updated: {change.summary()}.", style="green"), end="\n\n")

    def notice(self, text: str) -> None:
        self.console.print(Text(text, style="dim"), end="\n\n")

    def sources(self, live: LiveIndex) -> None:
        table = Table(
            title=coverage_line(live.coverage(), "en") + ", newest first", title_justify="left"
        )
        table.add_column("title")
        table.add_column("date", style="dim")
        table.add_column("file", style="dim")
        for article in by_date(live.articles()):
            table.add_row(article.title or "(untitled)", (article.date or "")[:10], article.path)
        self.console.print(table)
        self.console.print()


def styled_quote(quote: Quote) -> Text:
    """„quote“ in cyan, the sentence that answers in bold."""
    text = Text(f"„{quote.text}“", style="cyan")
    focus = focus_span(quote)
    if focus is not None:
        text.stylize("bold", focus[0] + 1, focus[1] + 1)  # +1: the opening „
    return text


def run_chat(
    settings: Settings,
    *,
    live: LiveIndex | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """The REPL; `live` and the streams are injectable so tests can drive it without a terminal."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    if live is None:
        from bot.runtime import open_live

        live = open_live(settings)
    open_or_build(live, stderr)
    on_terminal = _is_tty(stdin) and _is_tty(stdout)
    out = RichChatOutput(stdout) if _is_tty(stdout) else ChatOutput(stdout)
    session = ChatSession(live, out, clock=clock)
    if on_terminal:
        articles = live.articles()
        out.notice(
            f"newsbot chat — {coverage_line(live.coverage(), 'en')}. Ask a question in English "
            f"or German, for example: {example_question(articles, 'en')}\n"
            "/help lists the commands."
        )
        lines = _terminal_lines(_history_path(settings))
    else:
        lines = _stream_lines(stdin)
    try:
        for line in lines:
            if not session.handle(line):
                break
    except KeyboardInterrupt:
        pass
    return 0


def open_or_build(live: LiveIndex, stderr: TextIO) -> None:
    """Open the index, building it first when there is none yet (the first `newsbot chat`)."""
    try:
        live.load()
    except IndexMissingError:
        print(f"newsbot: no index yet, indexing {live.articles_dir} …", file=stderr, flush=True)
        report = live.sync()
        print(f"newsbot: {report.summary()}", file=stderr, flush=True)


def _history_path(settings: Settings) -> Path:
    return Path(settings.index_dir).parent / "chat_history"


def _terminal_lines(history_path: Path) -> Iterator[str]:
    """Lines from a prompt with editing and history; ends on Ctrl-D or Ctrl-C."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    try:
        history_path.parent.mkdir(parents=True, exist_ok=True)
        history: FileHistory | InMemoryHistory = FileHistory(str(history_path))
    except OSError:
        history = InMemoryHistory()
    session: PromptSession[str] = PromptSession(history=history)
    while True:
        try:
            yield session.prompt(PROMPT)
        except (EOFError, KeyboardInterrupt):
            return


def _stream_lines(stream: TextIO) -> Iterator[str]:
    while True:
        line = stream.readline()
        if not line:
            return
        yield line


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
