"""deploy/newsbot.service agrees with what `newsbot telegram` does."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.telegram.app import EXIT_CONFIG
from tests.conftest import ROOT

UNIT = ROOT / "deploy" / "newsbot.service"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(UNIT, encoding="utf-8")
    return parser


def test_the_unit_runs_the_bot_restarts_it_and_logs_to_the_journal() -> None:
    service = unit()["Service"]
    assert service["ExecStart"].endswith("/.venv/bin/newsbot telegram")
    assert service["Restart"] == "on-failure"
    # The exits a restart cannot fix: no token (2), token rejected by Telegram.
    assert set(service["RestartPreventExitStatus"].split()) == {"2", str(EXIT_CONFIG)}
    assert service["StandardError"] == "journal"
    assert unit()["Unit"]["After"] == "network-online.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    # The unit names the install path; point it at a binary that exists here.
    text = UNIT.read_text(encoding="utf-8").replace(
        "/opt/newsbot/.venv/bin/newsbot telegram", "/bin/true"
    )
    (tmp_path / "newsbot.service").write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "newsbot.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
