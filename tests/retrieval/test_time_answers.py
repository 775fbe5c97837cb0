"""Time in answers, end to end on a small dated archive (fake embedder, both stores): the
window filters, a window outside the coverage is answered with the coverage, latest questions
and differing figures put the newest first; NEWSBOT_NOW sets today; `ask --json`, `sources`
and `latest` show dates and coverage."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import load_settings
from evaluation.stages import AlwaysAnswer
from index.stores import open_store
from index.sync import sync_index
from retrieval.answerer import Answerer
from retrieval.render import render_plain
from retrieval.when import TimeReader

TODAY = date(1987, 3, 31)
STORIES = {
    "kiel-1.md": ("1987-03-02T09:00", "Der Hafen von Kiel zählt derzeit 120 Fähren."),
    "kiel-2.md": ("1987-03-10", "Der Hafen von Kiel zählt derzeit 135 Fähren."),
    "kiel-3.md": ("1987-03-20T16:45", "Der Hafen von Kiel zählt derzeit 150 Fähren."),
    "sylt.md": (None, "Auf Sylt eröffnete ein Museum für alte Leuchttürme."),
}


def write(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for name, (when, text) in STORIES.items():
        front = f"---\ntitle: {name[:-3]}\ndate: {when}\n---\n\n" if when else ""
        (folder / name).write_text(f"{front}{text}\n")
    return folder


@pytest.fixture
def dated(tmp_path, index_location, fake_embedder):
    sync_index(write(tmp_path / "articles"), index_location, fake_embedder)
    return open_store(index_location, fake_embedder.model_id)


def answerer(store, embedder, **options) -> Answerer:
    # no fitted abstention model for the fake embedder: answered whenever there are quotes
    return Answerer(store, embedder, abstainer=AlwaysAnswer(), today=TODAY, **options)


def test_window_outside_the_coverage_is_answered_with_it(dated, fake_embedder):
    answer = answerer(dated, fake_embedder).answer(
        "Wie viele Fähren zählte der Hafen von Kiel im Dezember 1987?"
    )
    assert not answer.answered and answer.quotes == () and answer.outside_coverage
    assert answer.window.to_json() == {"from": "1987-12-01", "to": "1987-12-31"}
    assert answer.coverage.dated == 3 and answer.coverage.undated == 1
    assert render_plain(answer) == (
        "Meine Artikel reichen von 2.–20. März 1987; aus Dezember 1987 habe ich keine."
    )
    english = answerer(dated, fake_embedder).answer("How many ferries did Kiel count last year?")
    assert render_plain(english) == "My articles cover 2–20 Mar 1987; none are from 1986."


def test_window_filters_the_quotes(dated, fake_embedder):
    answer = answerer(dated, fake_embedder).answer(
        "Wie viele Fähren zählte der Hafen von Kiel am 10. März?"
    )
    assert answer.answered and {q.article for q in answer.quotes} == {"kiel-2.md"}
    gap = answerer(dated, fake_embedder).answer(  # covered, but no article of those days
        "Wie viele Fähren zählte der Hafen von Kiel vom 12. bis 15. März?"
    )
    assert not gap.answered and not gap.outside_coverage
    assert render_plain(gap) == "Meine Artikel aus 12.–15. März 1987 beantworten diese Frage nicht."
    after = answerer(dated, fake_embedder).answer("How many ferries did Kiel count last week?")
    assert after.outside_coverage  # 23-29 March: after the newest article
    assert render_plain(after) == "My articles cover 2–20 Mar 1987; none are from 23–29 Mar 1987."


def test_latest_and_differing_figures_put_the_newest_first(dated, fake_embedder):
    answer = answerer(dated, fake_embedder).answer(
        "Wie viele Fähren zählt der Hafen von Kiel aktuell?"
    )
    assert answer.answered and answer.quotes[0].article == "kiel-3.md"
    dates = [q.date for q in answer.quotes]
    assert dates == sorted(dates, reverse=True) and len(set(dates)) > 1
    assert answer.newest_first and answer.figures_differ
    assert render_plain(answer).endswith(
        "Die Zahlen unterscheiden sich je nach Datum; die neueste (20. März 1987) steht zuerst."
    )
    assert "1987-03-20," in render_plain(answer)  # the citation's date


def test_time_off_is_the_timeless_pipeline(dated, fake_embedder):
    question = "Wie viele Fähren zählte der Hafen von Kiel im Dezember 1987?"
    answer = answerer(dated, fake_embedder, time=TimeReader(enabled=False)).answer(question)
    assert answer.answered and answer.window is None and answer.coverage is None


def test_an_undated_archive_ignores_windows(tmp_path, fake_embedder):
    folder = tmp_path / "undated"
    folder.mkdir()
    (folder / "kiel.txt").write_text("Der Hafen von Kiel zählte 150 Fähren.\n")
    sync_index(folder, tmp_path / "index", fake_embedder)
    store = open_store(tmp_path / "index", fake_embedder.model_id)
    answer = answerer(store, fake_embedder).answer("Wie viele Fähren zählte Kiel im Jahr 1905?")
    assert answer.answered and answer.window is None


def test_newsbot_now_sets_today(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSBOT_NOW", "1987-03-31T10:00")
    assert load_settings().today == TODAY
    monkeypatch.setenv("NEWSBOT_NOW", "next Tuesday")
    with pytest.raises(ValueError, match="NEWSBOT_NOW"):
        load_settings()
    monkeypatch.delenv("NEWSBOT_NOW")
    assert load_settings().today is None  # the clock


def test_cli_json_sources_and_latest(tmp_path, monkeypatch, capsys, fake_embedder):
    folder = write(tmp_path / "articles")
    index = tmp_path / "index"
    sync_index(folder, index, fake_embedder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSBOT_NOW", "1987-03-31")
    monkeypatch.setattr("bot.cli.load_embedder", lambda name=None: fake_embedder)
    dirs = ["--index", str(index), "--articles", str(folder)]

    assert main(["ask", "Wie viele Fähren zählte Kiel im Dezember 1987?", "--json", *dirs]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["window"] == {"from": "1987-12-01", "to": "1987-12-31"}
    assert payload["coverage"] == {
        "oldest": "1987-03-02T09:00",
        "newest": "1987-03-20T16:45",
        "dated": 3,
        "undated": 1,
    }
    assert payload["answered"] is False and payload["quotes"] == []

    assert main(["ask", "Wie viele Fähren zählte Kiel am 10. März?", "--json", *dirs]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["window"] == {"from": "1987-03-10", "to": "1987-03-10"}
    assert [q["date"] for q in payload["quotes"]] == ["1987-03-10"] * len(payload["quotes"])

    assert main(["sources", *dirs]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "4 articles; 2–20 Mar 1987; 1 undated"
    assert [line.split()[0] for line in lines[1:4]] == ["1987-03-20", "1987-03-10", "1987-03-02"]
    assert lines[4].strip().endswith("(sylt.md)")  # undated last

    assert main(["latest", "--top", "2", *dirs]) == 0
    out = capsys.readouterr().out
    assert out.index("150 Fähren") < out.index("135 Fähren") and "120 Fähren" not in out
    assert main(["latest", "Leuchttürme", "Museum", "Sylt", *dirs]) == 0
    assert "Museum für alte Leuchttürme" in capsys.readouterr().out


def test_a_question_of_time_only_lists_the_newest_articles_of_its_window(dated, fake_embedder):
    answer = answerer(dated, fake_embedder).answer("Was ist am 10. März passiert?")
    assert answer.answered and [q.article for q in answer.quotes] == ["kiel-2.md"]
    news = answerer(dated, fake_embedder).answer("What is the latest news?")
    assert [q.article for q in news.quotes] == ["kiel-3.md", "kiel-2.md", "kiel-1.md"]
    nothing = answerer(dated, fake_embedder).answer("Was ist vom 12. bis 15. März passiert?")
    assert not nothing.answered and not nothing.outside_coverage


def test_a_mostly_undated_archive_reads_questions_as_timeless(tmp_path, fake_embedder):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "dated.md").write_text("---\ndate: 2025-03-12\n---\n\nDer Hafen von Kiel wächst.\n")
    for n in range(3):
        (folder / f"undated{n}.txt").write_text(f"Der Hafen von Kiel zählte 2015 {n} Fähren.\n")
    sync_index(folder, tmp_path / "index", fake_embedder)
    store = open_store(tmp_path / "index", fake_embedder.model_id)
    answer = answerer(store, fake_embedder).answer("Wie viele Fähren zählte Kiel im Jahr 2015?")
    assert answer.answered and answer.window is None and not answer.outside_coverage
    assert answer.coverage.dated == 1 and answer.coverage.undated == 3


def test_a_mostly_undated_archive_answers_a_window_counted_from_today_from_its_dated_articles(
    tmp_path, fake_embedder
):
    """ "Yesterday" asks when something was reported: an undated article that says "gestern" is
    no answer to it, so even a mostly undated archive searches only its dated articles."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "dated.md").write_text("---\ndate: 1987-03-30\n---\n\nDer Hafen von Kiel wächst.\n")
    for n in range(3):
        (folder / f"undated{n}.txt").write_text(f"Gestern zählte der Hafen von Kiel {n} Fähren.\n")
    sync_index(folder, tmp_path / "index", fake_embedder)
    store = open_store(tmp_path / "index", fake_embedder.model_id)
    answer = answerer(store, fake_embedder).answer("Was geschah gestern im Hafen von Kiel?")
    assert answer.window.to_json() == {"from": "1987-03-30", "to": "1987-03-30"}
    assert [q.article for q in answer.quotes] == ["dated.md"]
    later = Answerer(store, fake_embedder, abstainer=AlwaysAnswer(), today=date(1987, 6, 2)).answer(
        "What happened yesterday in the port of Kiel?"
    )
    assert not later.answered and later.quotes == () and later.outside_coverage
    assert render_plain(later) == "My articles cover 30 Mar 1987; none are from 1 Jun 1987."
