"""Publication dates from front matter and date lines (index.dates, index.cleaning)."""

from __future__ import annotations

import pytest

from index.cleaning import parse_article
from index.dates import looks_like_date, parse_date


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("March 12, 2025", "2025-03-12"),
        ("12 March 2025", "2025-03-12"),
        ("12. März 2025", "2025-03-12"),
        ("12.03.2025", "2025-03-12"),
        ("2025-03-12", "2025-03-12"),
        ("2025-03", "2025-03"),
        ("März 2025", "2025-03"),
        ("2025-03-12T14:30:00+01:00", "2025-03-12T14:30"),
        ("1987-02-26T15:01:01", "1987-02-26T15:01:01"),
        ("12. März 2025, 14:30 Uhr", "2025-03-12T14:30"),
        ("Thursday, March 12, 2025 10:30", "2025-03-12T10:30"),
    ],
)
def test_parse_date(written, iso):
    assert parse_date(written) == iso


@pytest.mark.parametrize("text", ["1973 oil crisis", "12 March", "Warsaw", "", "2025"])
def test_not_dates(text):
    assert parse_date(text) is None


def test_looks_like_date_is_a_cheap_gate():
    assert looks_like_date("Donnerstag, 12. März 2025")
    assert not looks_like_date("Die Außenminister trafen sich am 12. März 2025 in Brüssel")


def test_front_matter_published_with_time():
    raw = "---\ntitle: Bid raised\npublished: 1987-03-02T10:15:00\n---\n\nThe bid was raised.\n"
    article = parse_article(raw, "a.md")
    assert article.date == "1987-03-02T10:15"
    assert article.title == "Bid raised"


def test_front_matter_date_in_words():
    raw = "---\ntitle: Gebot erhöht\ndate: 2. März 1987\n---\n\nDas Gebot wurde erhöht.\n"
    assert parse_article(raw, "a.md").date == "1987-03-02"


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("12. März 2025", "2025-03-12"),
        ("March 12, 2025", "2025-03-12"),
        ("12.03.2025 14:30", "2025-03-12T14:30"),
        ("Datum: 2025-03-12", "2025-03-12"),
        ("Donnerstag, 12. März 2025, 14:30 Uhr", "2025-03-12T14:30"),
    ],
)
def test_date_line_at_the_top(line, iso):
    raw = (
        f"Hafen erweitert Terminal\n{line}\n\nDer Hafen baut ein neues Terminal. Es kostet viel.\n"
    )
    article = parse_article(raw, "a.txt")
    assert article.date == iso
    assert all(line not in p.text for p in article.paragraphs)


def test_no_date_stays_undated():
    raw = "Hafen erweitert Terminal\n\nDer Hafen baut 2025 ein neues Terminal. Es kostet viel.\n"
    assert parse_article(raw, "a.txt").date is None
