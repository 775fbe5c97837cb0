"""`newsbot ask --json`: one object per question, keys and types as ../shared/CONTRACT.md says."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from index.verbatim import canonical
from retrieval.render import NOT_ANSWERED
from tests.conftest import SAMPLE_ARTICLES
from tests.fakes.embedder import use_fake_model

pytestmark = pytest.mark.slow

QUOTE_TYPES = {
    "text": str,
    "article": str,
    "title": (str, type(None)),
    "date": (str, type(None)),
    "section": (str, type(None)),
    "paragraph": int,
    "start": int,
    "end": int,
    "score": (float, int),
    # Added compatibly (issue 11): the last paragraph a quote spans, and the answering sentence.
    "paragraph_end": int,
    "focus": (list, type(None)),
    # Added compatibly: other articles that carry the same paragraph (retrieval.duplicates).
    "also_in": list,
    # Added compatibly (issue 29): the article's link (articles from feeds and saved pages).
    "url": (str, type(None)),
    # Added compatibly (issue 31): the reader's chance that the quote answers (None: not read).
    "reader": (float, type(None)),
}


@pytest.fixture
def ask(real_index: Path, real_embedder, monkeypatch, tmp_path: Path, capsys):
    """Run `newsbot ask … --json` in-process with the session's model; returns the parsed
    stdout lines and how often a model was loaded."""
    for name in ("NEWSBOT_INDEX_DIR", "NEWSBOT_ARTICLES_DIR", "NEWSBOT_EMBEDDING_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    loads = []

    def load_model():
        loads.append(1)
        return real_embedder

    def run(*args: str, stdin: str | None = None) -> tuple[list[dict], int]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        argv = ["ask", *args, "--json", "--index", str(real_index)]
        code = main([*argv, "--articles", str(SAMPLE_ARTICLES)])
        out = capsys.readouterr().out
        assert code == 0
        return [json.loads(line) for line in out.splitlines()], len(loads)

    with use_fake_model(load_model):  # the real model, counted
        yield run


def check_schema(payload: dict) -> None:
    assert set(payload) >= {"question", "answered", "text", "quotes", "timing_ms"}
    assert isinstance(payload["question"], str)
    assert isinstance(payload["answered"], bool)
    assert isinstance(payload["text"], str) and payload["text"]
    assert isinstance(payload["quotes"], list)
    # added compatibly (issue 31): unanswered, the nearest quotes of a story the articles cover
    assert isinstance(payload["nearest"], list)
    assert not (payload["answered"] and payload["nearest"])
    for quote in payload["quotes"] + payload["nearest"]:
        assert set(quote) == set(QUOTE_TYPES)
        for key, kind in QUOTE_TYPES.items():
            assert isinstance(quote[key], kind), (key, quote[key])
        assert quote["paragraph"] >= 1 and 0 <= quote["start"] < quote["end"]
        assert quote["paragraph_end"] >= quote["paragraph"]
        for source in quote["also_in"]:
            assert set(source) == {"article", "title", "date", "paragraph"}
        if quote["focus"] is not None:
            start, end = quote["focus"]
            assert 0 <= start < end <= len(quote["text"])
        raw = (SAMPLE_ARTICLES / quote["article"]).read_text(encoding="utf-8")
        assert canonical(raw[quote["start"] : quote["end"]]) == canonical(quote["text"])
    timing = payload["timing_ms"]
    assert set(timing) >= {"embed", "search", "total"}
    assert all(isinstance(v, (float, int)) and v >= 0 for v in timing.values())


def test_ask_json_answer(ask) -> None:
    [payload], _ = ask("What conditions did Putin set?")
    check_schema(payload)
    assert payload["answered"] is True
    assert payload["question"] == "What conditions did Putin set?"
    assert 1 <= len(payload["quotes"]) <= 5
    scores = [q["score"] for q in payload["quotes"]]
    assert scores == sorted(scores, reverse=True)
    assert payload["text"].startswith("[1] „")


def test_ask_json_not_answered(ask) -> None:
    [payload], _ = ask("Wer hat die Fußball-Weltmeisterschaft 2014 gewonnen?")
    check_schema(payload)
    assert payload["answered"] is False
    assert payload["quotes"] == []
    assert payload["text"] == NOT_ANSWERED["de"]


def test_ask_reads_questions_from_stdin_with_one_model_load(ask) -> None:
    stdin = (
        "Who is travelling to Moscow for the ceasefire talks?\n\n"
        "What is the capital of Australia?\n"
    )
    payloads, loads = ask("--top", "2", stdin=stdin)
    assert loads == 1
    assert [p["question"] for p in payloads] == [
        "Who is travelling to Moscow for the ceasefire talks?",
        "What is the capital of Australia?",
    ]
    assert [p["answered"] for p in payloads] == [True, False]
    for payload in payloads:
        check_schema(payload)
        assert len(payload["quotes"]) <= 2
