"""Time in questions, English and German, against a fixed today (what NEWSBOT_NOW sets)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from retrieval.when import TimeReader, Window, read_time, today_from

TODAY = date(1987, 4, 1)  # a Wednesday


def window(question: str, today: date = TODAY) -> tuple[str | None, str | None] | None:
    found = read_time(question, today).window
    if found is None:
        return None
    return (
        found.start.isoformat() if found.start else None,
        found.end.isoformat() if found.end else None,
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What happened in 1986?", ("1986-01-01", "1986-12-31")),
        ("Was geschah im Jahr 1986?", ("1986-01-01", "1986-12-31")),
        ("Was wurde im Juni beschlossen?", ("1986-06-01", "1986-06-30")),
        ("What was agreed in March?", ("1987-03-01", "1987-03-31")),
        ("What happened in December 1987?", ("1987-12-01", "1987-12-31")),
        ("Was war im Februar 1987?", ("1987-02-01", "1987-02-28")),
        ("What did the minister say on 7 March?", ("1987-03-07", "1987-03-07")),
        ("What did the minister say on March 7?", ("1987-03-07", "1987-03-07")),
        ("What did the minister say on March 7, 1987?", ("1987-03-07", "1987-03-07")),
        ("Was sagte der Minister am 7. März?", ("1987-03-07", "1987-03-07")),
        ("Was geschah am 12.03.1987?", ("1987-03-12", "1987-03-12")),
        ("What happened on 1987-03-12?", ("1987-03-12", "1987-03-12")),
        ("Was ist seit dem 3. März passiert?", ("1987-03-03", "1987-04-01")),
        ("What has happened since 3 March?", ("1987-03-03", "1987-04-01")),
        ("What happened between 2 and 5 March?", ("1987-03-02", "1987-03-05")),
        ("What happened between March 2 and March 9, 1987?", ("1987-03-02", "1987-03-09")),
        ("Was geschah zwischen dem 2. und dem 9. März?", ("1987-03-02", "1987-03-09")),
        ("Was geschah vom 3. bis 5. März?", ("1987-03-03", "1987-03-05")),
        ("What was reported before March 10?", (None, "1987-03-09")),
        ("What was reported after 20 March?", ("1987-03-21", None)),
    ],
)
def test_explicit_windows(question, expected):
    assert window(question) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What happened yesterday?", ("1987-03-31", "1987-03-31")),
        ("Was ist gestern passiert?", ("1987-03-31", "1987-03-31")),
        ("What did OPEC decide last week?", ("1987-03-23", "1987-03-29")),
        ("Was hat die OPEC vorige Woche beschlossen?", ("1987-03-23", "1987-03-29")),
        ("Was hat die OPEC letzte Woche beschlossen?", ("1987-03-23", "1987-03-29")),
        ("Was geschah in der vergangenen Woche?", ("1987-03-23", "1987-03-29")),
        ("What happened this month?", ("1987-04-01", "1987-04-01")),
        ("What happened last month?", ("1987-03-01", "1987-03-31")),
        ("Was geschah im vergangenen Monat?", ("1987-03-01", "1987-03-31")),
        ("What happened in the past 10 days?", ("1987-03-22", "1987-04-01")),
        ("What happened in the last two weeks?", ("1987-03-18", "1987-04-01")),
        ("Was geschah in den letzten drei Tagen?", ("1987-03-29", "1987-04-01")),
        ("Was geschah vor drei Tagen?", ("1987-03-29", "1987-03-29")),
        ("What happened three days ago?", ("1987-03-29", "1987-03-29")),
        ("Was ist seit Montag passiert?", ("1987-03-30", "1987-04-01")),
        ("What did the company say last Monday?", ("1987-03-30", "1987-03-30")),
        ("Was sagte die Firma vergangenen Montag?", ("1987-03-30", "1987-03-30")),
        ("Was geschah letztes Jahr?", ("1986-01-01", "1986-12-31")),
        ("What happened last year?", ("1986-01-01", "1986-12-31")),
    ],
)
def test_relative_windows(question, expected):
    assert window(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What were the company's 1986 earnings?",  # a year named as the topic
        "What is the March quota?",
        "May I ask what the bank said?",
        "Wie hoch soll die Förderung bis zu 5 Prozent steigen?",
        "Why did prices rise between 10 and 15 pct?",
        "What conditions did Putin set?",
        "Wer ist heute Präsident?",  # "heute" is "nowadays": the newest answer, no window
        # a weekday alone is most often the article's own ("am Donnerstag in London beraten")
        "Worüber beraten die Militärchefs am Donnerstag in London?",
    ],
)
def test_no_window(question):
    assert window(question) is None


def test_today_moves_relative_windows():
    assert window("What happened yesterday?", date(2025, 3, 13)) == ("2025-03-12", "2025-03-12")
    assert window("Was geschah im Juni?", date(2025, 7, 2)) == ("2025-06-01", "2025-06-30")


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest on the bid?",
        "Who is the current chairman?",
        "Is the strike still on?",
        "What is the price now?",
        "Was ist der aktuelle Stand?",
        "Was sind die neuesten Zahlen?",
        "Was hat er zuletzt gesagt?",
        "Wer führt derzeit die Gespräche?",
    ],
)
def test_latest_intent(question):
    assert read_time(question, TODAY).latest


def test_plain_question_is_not_latest():
    assert not read_time("What did the bank say about interest rates?", TODAY).latest


def test_time_words_leave_the_content():
    question = "What did OPEC decide last week about the latest quota?"
    content = read_time(question, TODAY).content(question)
    assert "OPEC" in content and "quota" in content
    assert "last week" not in content and "latest" not in content
    assert len(content) == len(question)  # offsets stay where they were
    german = "Was hat die Bundesbank seit Montag zuletzt beschlossen?"
    content = read_time(german, TODAY).content(german)
    assert "Bundesbank" in content and "Montag" not in content and "zuletzt" not in content


def test_window_bounds_include_month_dates_and_date_times():
    march = Window(date(1987, 3, 1), date(1987, 3, 31))
    assert march.contains("1987-03")  # an article dated by its month only
    assert march.contains("1987-03-31T23:59")
    assert not march.contains("1987-04-01")
    assert not march.contains(None)  # undated articles are outside every window
    day = Window(date(1987, 3, 12), date(1987, 3, 12))
    assert day.contains("1987-03-12T15:01:01") and not day.contains("1987-03-13")
    assert day.to_json() == {"from": "1987-03-12", "to": "1987-03-12"}


def test_time_reader_off_reads_nothing():
    found = TimeReader(enabled=False).read("What happened yesterday?", TODAY)
    assert found.window is None and not found.latest and not found.spans


def test_today_from_setting():
    assert today_from("1987-04-01") == date(1987, 4, 1)
    assert today_from("1987-04-01T09:30") == date(1987, 4, 1)
    assert today_from("") == datetime.now().date() or today_from("") == date.today()
    with pytest.raises(ValueError):
        today_from("April 1st")


@pytest.mark.parametrize(
    "question",
    [
        "Um wie viel hat sich die Temperatur im letzten Jahrhundert verändert?",
        "Was war das Ergebnis der Wahl von 2007?",  # not "on 2007" inside "von"
        "Who won the 2014 World Cup?",  # not "on the 2014" inside "won"
    ],
)
def test_time_words_are_whole_words(question):
    assert read_time(question, date(1987, 3, 31)).window is None
