"""The generated blocks of the docs pages: replaced between their markers, prose untouched."""

from __future__ import annotations

import pytest

from benchmarks import run as bench
from evaluation import suite
from evaluation.markers import MarkerError, check_block, markers, replace_block, write_block
from evaluation.suite import docs_block
from tests.conftest import ROOT

BEGIN, END = markers("make eval")
PAGE = f"""# Measured quality

Prose before, with a `code span` and a table:

| a | b |
|---|---|

{BEGIN}
```
old table
```
{END}

Prose after.
"""


def test_the_block_is_replaced_and_the_prose_kept():
    new = replace_block(PAGE, "make eval", "```\nnew table\nrow 2\n```")
    before, after = PAGE.split(BEGIN)[0], PAGE.split(END)[1]
    assert new.startswith(before + BEGIN + "\n```\nnew table\nrow 2\n```\n" + END)
    assert new.endswith(END + after)
    assert "old table" not in new


def test_replacing_twice_with_the_same_block_changes_nothing():
    once = replace_block(PAGE, "make eval", "\n\nnew\n\n")
    assert replace_block(once, "make eval", "new") == once
    assert once.count(BEGIN) == once.count(END) == 1


def test_another_name_leaves_this_block_alone():
    page = PAGE + "\n<!-- make bench: begin -->\nold bench\n<!-- make bench: end -->\n"
    new = replace_block(page, "make bench", "new bench")
    assert "old table" in new and "new bench" in new and "old bench" not in new


@pytest.mark.parametrize(
    "page",
    [
        "# no markers at all\n",
        f"{BEGIN}\nonly the begin\n",
        f"only the end\n{END}\n",
        f"{BEGIN}\n{BEGIN}\ntwice\n{END}\n",
        f"{END}\nout of order\n{BEGIN}\n",
    ],
)
def test_missing_repeated_or_swapped_markers_are_a_clear_error(page):
    with pytest.raises(MarkerError, match="make eval"):
        replace_block(page, "make eval", "new")


def test_write_block_rewrites_the_file_and_refuses_a_page_without_markers(tmp_path):
    page = tmp_path / "quality.md"
    page.write_text(PAGE, encoding="utf-8")
    write_block(page, "make eval", "new table")
    assert page.read_text(encoding="utf-8") == replace_block(PAGE, "make eval", "new table")

    bare = tmp_path / "bare.md"
    bare.write_text("# nothing generated here\n", encoding="utf-8")
    with pytest.raises(MarkerError):
        write_block(bare, "make eval", "new table")
    assert bare.read_text(encoding="utf-8") == "# nothing generated here\n"


@pytest.mark.parametrize(
    ("page", "name"), [("quality.md", "make eval"), ("scale.md", "make bench")]
)
def test_the_docs_pages_hold_the_markers_make_writes_between(page, name):
    check_block(ROOT / "docs" / page, name)


def test_the_suite_writes_its_tables_as_one_code_block_without_timings():
    page = replace_block(PAGE, "make eval", docs_block(["(a) first\nrow", "(b) second\nrow"]))
    assert f"{BEGIN}\n```\n(a) first\nrow\n\n(b) second\nrow\n```\n{END}" in page


@pytest.mark.parametrize(
    "options", [["--archives", "sample"], ["--variants", "newsbot"], ["--step", "3"]]
)
def test_the_suite_writes_docs_only_from_a_full_run(tmp_path, options, capsys):
    page = tmp_path / "quality.md"
    page.write_text(PAGE, encoding="utf-8")
    with pytest.raises(SystemExit):
        suite.main(["--docs", str(page), "--cache", str(tmp_path / "cache"), *options])
    assert "full run" in capsys.readouterr().err
    assert page.read_text(encoding="utf-8") == PAGE


def test_the_suite_and_the_bench_check_the_page_before_they_measure(tmp_path, capsys):
    bare = tmp_path / "bare.md"
    bare.write_text("# no markers\n", encoding="utf-8")
    for main in (suite.main, bench.main):
        with pytest.raises(SystemExit):
            main(["--docs", str(bare)])
        assert "make " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--docs", str(tmp_path / "missing.md")])
    assert "cannot read" in capsys.readouterr().err


def test_the_bench_table_shows_each_figure_it_measured():
    results = {
        "date": "2026-12-06 21:00 UTC",
        "cores": 2,
        "load_1min_at_start": 1.5,
        "model_load_s": 0.812,
        "index_rebuild": {"articles": 5, "chunks": 64, "seconds": 3.21, "passages_per_s": 19.9},
        "index_unchanged_rerun_s": 0.011,
        "query_embed_ms": {"p50": 11.2, "p95": 13.4},
        "answer_total_ms": {"p50": 12.9, "p95": 30.7},
        "answer_p50_over_embed_p50": 1.15,
        "max_rss_mb": 512.3,
        "cli_ask_cold_s": None,
    }
    table = bench.summary(results)
    lines = table.splitlines()
    assert all(line.startswith("| ") and line.count(" | ") == 1 for line in lines[2:])
    figures = "2026-12-06 21:00 UTC|2 cores|load 1.5|0.812 s|5 articles|64 passages|3.21 s"
    figures += "|19.9 passages/s|0.011 s|11.2 / 13.4 ms|12.9 / 30.7 ms|1.15×|512.3 MB|failed"
    for figure in figures.split("|"):
        assert figure in table, figure
