"""The Reuters SGML -> article files conversion of the dated eval archive (evaluation.reuters)."""

from __future__ import annotations

from pathlib import Path

from evaluation.reuters import convert, read_stories, subset
from index.cleaning import parse_article

SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" NEWID="{newid}">
<DATE>{day}-MAR-1987 15:01:01.79</DATE>
<TEXT>&#2;
<TITLE>BID FOR {name} RAISED</TITLE>
<DATELINE>    NEW YORK, March {day} - </DATELINE><BODY>An investor group said it raised its
offer for {name} &lt;NM&gt; to 95 dlrs a share.
    The offer expires on April 3.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="NO" NEWID="{brief}">
<DATE>{day}-MAR-1987 16:00:00.00</DATE>
<TEXT TYPE="BRIEF">&#2;
<TITLE>A BRIEF WITHOUT A BODY</TITLE>
</TEXT>
</REUTERS>
"""


def write_collection(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "reut2-000.sgm").write_text(
        SGML.format(newid=1, brief=2, day=2, name="ACME")
        + SGML.format(newid=3, brief=4, day=20, name="GLOBEX"),
        encoding="latin-1",
    )


def test_stories_become_dated_articles(tmp_path):
    write_collection(tmp_path / "shared" / "reuters")
    stories = read_stories(tmp_path / "shared" / "reuters")
    assert [s.newid for s in stories] == [1, 3]  # the brief without a body is left out
    target = convert(tmp_path / "shared", tmp_path / "out", 0)
    article = parse_article((target / "00001.md").read_text(), "00001.md")
    assert article.date == "1987-03-02T15:01:01"
    assert article.title == "BID FOR ACME RAISED"
    texts = [p.text for p in article.paragraphs]
    assert texts[0] == (
        "NEW YORK, March 2 - An investor group said it raised its offer for ACME <NM> to 95 "
        "dlrs a share."
    )
    assert texts[1] == "The offer expires on April 3."  # a new paragraph; "Reuter" is gone


def test_subset_spreads_over_the_archive_and_keeps_needed_stories(tmp_path):
    write_collection(tmp_path / "reuters")
    stories = read_stories(tmp_path / "reuters")
    assert [s.newid for s in subset(stories, 1)] == [3]  # every 3rd NEWID
    assert [s.newid for s in subset(stories, 1, frozenset({"00001.md"}))] == [1, 3]
    assert subset(stories, 0) == stories
