"""Data flows one way: bot -> retrieval -> index, and evaluation sits beside them, never under.
Checked on the source, so a stray import fails."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

FORBIDDEN = {
    "index": {"retrieval", "bot", "evaluation"},
    "retrieval": {"bot", "evaluation"},
    "bot": {"evaluation"},
}
# `newsbot eval FILE` (../shared/CONTRACT.md) scores answers with the evaluation package: the one
# place a front end may use it, imported inside the command so the answer path never loads it.
ALLOWED = {"bot/cli.py": {"evaluation"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_never_import_higher_ones(package: str):
    offenders = {
        str(path.relative_to(ROOT)): imported_packages(path)
        & FORBIDDEN[package] - ALLOWED.get(str(path.relative_to(ROOT)), set())
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_only_bot_reads_settings():
    for package in ("index", "retrieval"):
        for path in (ROOT / package).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            assert "os.environ" not in source and "getenv" not in source, path


def test_the_answer_path_never_loads_evaluation():
    """`bot/cli.py` imports evaluation only inside `newsbot eval`, never at module level."""
    tree = ast.parse((ROOT / "bot" / "cli.py").read_text(encoding="utf-8"))
    top_level = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            top_level.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            top_level.update(alias.name.split(".")[0] for alias in node.names)
    assert "evaluation" not in top_level


def test_the_fakes_import_without_pytest():
    """`tests/fakes` serves subprocess scripts and benchmarks too, where pytest is not loaded."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "import tests.fakes.embedder, tests.fakes.postgres_server, tests.fakes.telegram\n"
        "assert 'pytest' not in sys.modules, 'a fake imports pytest'\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
