"""`newsbot chat` and the follow-up logic it shares with the Telegram bot."""

from __future__ import annotations

import contextlib
import io
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.chat import PROMPT, run_chat
from bot.conversation import Conversation, Conversations, looks_like_follow_up
from bot.settings import Settings
from index.stores.base import ArticleRecord
from retrieval.answer import Answer, Quote
from retrieval.live import LiveIndex
from retrieval.render import NOT_ANSWERED, not_answered, shorten
from tests.conftest import KRYWYJ_ARTICLE, KRYWYJ_SENTENCE, ROOT, SAMPLE_ARTICLES
from tests.fakes.embedder import FakeEmbedder

pytestmark = pytest.mark.timeout(300)  # subprocess tests: CI machines may be busy


def settings_for(live: LiveIndex) -> Settings:
    return Settings(
        _env_file=None,
        NEWSBOT_ARTICLES_DIR=str(live.articles_dir),
        NEWSBOT_INDEX_DIR=str(live.index_dir),
    )


def chat(live: object, *lines: str, clock: object = time.monotonic) -> tuple[int, str, str]:
    stdin = io.StringIO("".join(line + "\n" for line in lines))
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_chat(
        settings_for(live) if isinstance(live, LiveIndex) else Settings(_env_file=None),
        live=live,  # type: ignore[arg-type]
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        clock=clock,  # type: ignore[arg-type]
    )
    return code, stdout.getvalue(), stderr.getvalue()


# --- the follow-up heuristic ----------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "And what did Zelensky say about it?",
        "What about Odessa?",
        "und was sagte Selenskyj?",
        "Was ist mit Charkiw?",
        "Was sagte er dazu?",
        "When did that happen?",
        "Und?",
    ],
)
def test_follow_ups_are_recognised(question: str) -> None:
    assert looks_like_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "What conditions did Putin set for a ceasefire?",
        "Warum reist eine US-Delegation nach Moskau?",
        "Andrew Jackson biography",  # "and…" inside a word is no opener
        "And " + "very long question " * 6,  # long questions carry their own context
        "",
        "🤔",
    ],
)
def test_fresh_questions_are_not_follow_ups(question: str) -> None:
    assert not looks_like_follow_up(question)


def test_context_expires_and_never_grows_beyond_two_questions() -> None:
    now = [0.0]
    conversation = Conversation(timeout=600, clock=lambda: now[0])
    assert conversation.context_for("And what about it?") is None  # nothing to follow
    conversation.remember("Putin's conditions?", None)
    context = conversation.context_for("And Zelensky about it?")
    assert context == "Putin's conditions?"
    conversation.remember("And Zelensky about it?", context)
    context = conversation.context_for("And then?")
    assert context == "Putin's conditions? And Zelensky about it?"
    conversation.remember("And then?", context)
    assert conversation.context_for("And why?") == "And Zelensky about it? And then?"
    now[0] += 601
    assert conversation.context_for("And why?") is None
    conversation.remember("Fresh question", None)
    conversation.reset()
    assert conversation.context_for("And why?") is None


def test_idle_conversations_are_forgotten() -> None:
    now = [0.0]
    conversations = Conversations(timeout=10, clock=lambda: now[0])
    conversations.get(1).remember("q", None)
    conversations.get((2, 7)).remember("q", None)
    now[0] = 11
    conversations.get(3)
    assert len(conversations) == 1


# --- run_chat in-process --------------------------------------------------------------------


def test_chat_answers_with_a_quote_from_the_right_article(live: LiveIndex) -> None:
    code, out, err = chat(live, KRYWYJ_SENTENCE)
    assert code == 0
    first_line = out.splitlines()[0]
    assert first_line.startswith("[1] „")
    assert "Krywyj Rih" in first_line
    assert f"— {article_title(live, KRYWYJ_ARTICLE)}, ¶" in first_line
    assert err == ""


def test_chat_shows_three_quotes_at_a_time() -> None:
    code, out, _ = chat(TenQuotes(), "Was wurde vereinbart?", "/more", "/more", "/more", "/more")
    assert code == 0
    blocks = out.split("\n\n")
    assert [line[:3] for line in blocks[0].splitlines()] == ["[1]", "[2]", "[3]"]
    assert blocks[0].splitlines()[0] == "[1] „Zitat 1.“ — A, 2025-03, ¶1"
    assert blocks[1] == "/more shows 7 more quotes."
    assert blocks[2].startswith("[4] „Zitat 4.“")
    assert "[10] „Zitat 10.“" in out
    assert out.rstrip().endswith("No more quotes for this question.")


def test_chat_commands(live: LiveIndex) -> None:
    code, out, _ = chat(live, "", "/help", "/sources", "/frob", "/more", "/quit", KRYWYJ_SENTENCE)
    assert code == 0
    assert "/sources  the indexed articles" in out
    assert "5 articles; " in out and "newest first:" in out
    assert KRYWYJ_ARTICLE in out and "2025-03" in out
    assert "Unknown command /frob. /help lists the commands." in out
    assert "Ask a question first." in out
    assert "[1]" not in out  # nothing is read after /quit


def test_chat_follow_ups_use_the_previous_question(live: LiveIndex) -> None:
    recording = RecordingLive(live)
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731
    chat(
        recording,
        KRYWYJ_SENTENCE,
        "Und was ist mit Dnipro?",
        "/new",
        "And what about it?",
        clock=clock,
    )
    assert recording.calls == [
        (KRYWYJ_SENTENCE, None),
        ("Und was ist mit Dnipro?", KRYWYJ_SENTENCE),
        ("And what about it?", None),
    ]


def test_chat_says_plainly_when_the_articles_do_not_answer() -> None:
    code, out, _ = chat(Unanswering(), "Wie wird das Wetter morgen?")
    assert code == 0
    # The chat has /sources, so it points there (`newsbot ask` does not).
    assert out.strip() == not_answered("de", sources_hint=True)
    assert out.strip().startswith(NOT_ANSWERED["de"]) and "/sources" in out


def test_chat_builds_the_index_on_first_use(articles_dir: Path, index_dir: Path) -> None:
    fresh = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    code, out, err = chat(fresh, KRYWYJ_SENTENCE)
    assert code == 0
    assert "no index yet" in err and "added 5" in err
    assert f"— {article_title(fresh, KRYWYJ_ARTICLE)}, ¶" in out
    # The second start opens the index it built.
    _, _, err = chat(LiveIndex(articles_dir, index_dir, FakeEmbedder()), "/quit")
    assert err == ""


def test_chat_follows_articles_another_process_indexes(articles_dir: Path, index_dir: Path) -> None:
    """Between two questions `newsbot watch` (here: a second LiveIndex) adds an article."""
    fact = "Im Hafen von Kiel legte ein Frachter voller Pinguine an."
    chat_live = LiveIndex(articles_dir, index_dir, FakeEmbedder())
    chat_live.sync()

    def add_article() -> None:
        (articles_dir / "kiel.txt").write_text(f"Pinguine in Kiel\n\n{fact}\n")
        LiveIndex(articles_dir, index_dir, FakeEmbedder()).sync()

    stdin = ScriptedInput([fact + "\n", add_article, fact + "\n", "/sources\n"])
    stdout, stderr = io.StringIO(), io.StringIO()
    run_chat(settings_for(chat_live), live=chat_live, stdin=stdin, stdout=stdout, stderr=stderr)
    before, after = stdout.getvalue().split("Index updated: 1 new article.\n\n")
    assert "Pinguine" not in before
    assert after.startswith(f"[1] „{fact}“ — Pinguine in Kiel, ¶1")
    assert "6 articles; " in after and after.count("Index updated") == 0


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("Warum " * 150, "That question is too long (899 characters). Please keep it under 500"),
        ("?!", "Please write your question in words, for example: What do the articles say"),
    ],
)
def test_chat_applies_the_bots_question_rules(live: LiveIndex, line: str, reply: str) -> None:
    recording = RecordingLive(live)
    _, out, _ = chat(recording, line)
    assert out.startswith(reply)
    assert recording.calls == []  # not searched


def test_rich_output_shows_the_answering_sentence_in_bold() -> None:
    from bot.chat import styled_quote

    text = "Erst kam der Anruf. Dann sagte er Nein. Danach Stille."
    start = text.index("Dann")
    quote = Quote(text, "a.txt", None, None, None, 3, 0, 9, 0.5, focus=(start, start + 19))
    styled = styled_quote(quote)
    assert styled.plain == f"„{text}“"
    [bold] = [span for span in styled.spans if "bold" in str(span.style)]
    assert styled.plain[bold.start : bold.end] == "Dann sagte er Nein."


def test_ctrl_c_ends_the_chat_cleanly(live: LiveIndex) -> None:
    class Interrupting(io.StringIO):
        def readline(self, *args: object) -> str:
            raise KeyboardInterrupt

    code = run_chat(
        settings_for(live),
        live=live,
        stdin=Interrupting(),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert code == 0


# --- the real command, through a pipe and a pseudo-terminal ---------------------------------


@pytest.mark.slow
def test_newsbot_chat_through_a_pipe(real_index: Path, tmp_path: Path) -> None:
    """The shipped command with the real model on a pre-built index, driven like a script."""
    env = clean_env(NEWSBOT_EMBEDDING_MODEL="multilingual-e5-small-q4")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "chat",
            "--articles",
            str(SAMPLE_ARTICLES),
            "--index",
            str(real_index),
        ],
        input="Wohin ist die US-Delegation unterwegs?\n/sources\n",
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    first_answer = result.stdout.split("\n\n")[0]
    assert first_answer.startswith("[1] „")
    assert "Moskau" in first_answer
    assert "5 articles; " in result.stdout


def test_newsbot_chat_on_a_terminal(tmp_path: Path) -> None:
    """Line editing via prompt_toolkit on a pseudo-terminal; Ctrl-D leaves with exit 0."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from bot.chat import run_chat\n"
        "from bot.settings import Settings\n"
        "from retrieval.live import LiveIndex\n"
        "from tests.conftest import SAMPLE_ARTICLES\n"
        "from tests.fakes.embedder import FakeEmbedder\n"
        f"index = Path({str(tmp_path / 'state' / 'index')!r})\n"
        "live = LiveIndex(SAMPLE_ARTICLES, index, FakeEmbedder())\n"
        "settings = Settings(_env_file=None, NEWSBOT_INDEX_DIR=str(index))\n"
        "sys.exit(run_chat(settings, live=live))\n"
    )
    controller, terminal = os.openpty()
    env = clean_env(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="100", LINES="40")
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=ROOT,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    terminal_output = PtyReader(controller)
    try:
        terminal_output.expect(b"/help lists the commands")
        terminal_output.expect(PROMPT.strip().encode())
        os.write(controller, KRYWYJ_SENTENCE.encode() + b"\r")
        answer = terminal_output.expect(b"\xc2\xb6")  # the citation's paragraph sign
        assert b"[1] " in answer and b"Krywyj Rih" in answer
        assert b"\x1b[" in answer  # styled by rich
        terminal_output.expect(PROMPT.strip().encode())
        os.write(controller, b"\x04")  # Ctrl-D
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    history = (tmp_path / "state" / "chat_history").read_text(encoding="utf-8")
    assert KRYWYJ_SENTENCE in history


# --- helpers -------------------------------------------------------------------------------


def article_title(live: LiveIndex, path: str) -> str:
    """The title as a citation shows it."""
    [title] = [a.title for a in live.articles() if a.path == path]
    assert title
    return shorten(title, 60)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "TELEGRAM_"))}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **extra}


class PtyReader:
    """Reads a pseudo-terminal and finds text in order, each search after the last match."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = b""
        self.position = 0

    def expect(self, wanted: bytes, timeout: float = 120) -> bytes:
        """The output up to and including `wanted`; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (found := self.data.find(wanted, self.position)) < 0:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(remaining, 0))
            chunk = b""
            if ready:
                with contextlib.suppress(OSError):  # EIO: the other side closed
                    chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError(f"{wanted!r} not seen; got {self.data[-2000:]!r}")
            self.data += chunk
        seen, self.position = self.data[self.position : found], found + len(wanted)
        return seen + wanted


class ScriptedInput(io.StringIO):
    """Lines for the chat; a callable in the script runs (e.g. another process's sync) before
    the next line is read."""

    def __init__(self, script: list) -> None:
        super().__init__()
        self.script = list(script)

    def readline(self, *args: object) -> str:
        while self.script and callable(self.script[0]):
            self.script.pop(0)()
        return self.script.pop(0) if self.script else ""


class RecordingLive:
    def __init__(self, live: LiveIndex) -> None:
        self.live = live
        self.articles_dir = live.articles_dir
        self.index_dir = live.index_dir
        self.calls: list[tuple[str, str | None]] = []

    def load(self) -> None:
        self.live.load()

    def refresh(self) -> None:
        return self.live.refresh()

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        self.calls.append((question, context))
        return self.live.answer(question, context=context, top=top)

    def articles(self) -> list[ArticleRecord]:
        return self.live.articles()


class TenQuotes:
    def load(self) -> None:
        pass

    def refresh(self) -> None:
        return None

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        quotes = tuple(
            Quote(f"Zitat {n}.", "a.txt", "A", "2025-03", None, n, 0, 9, 0.5) for n in range(1, 11)
        )
        return Answer(question, True, quotes[:top], "de")

    def articles(self) -> list[ArticleRecord]:
        return []


class Unanswering:
    def load(self) -> None:
        pass

    def refresh(self) -> None:
        return None

    def answer(self, question: str, *, context: str | None = None, top: int = 5) -> Answer:
        return Answer(question, False, (), "de")

    def articles(self) -> list[ArticleRecord]:
        return []
