"""One writer per index directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from index.lock import LOCK_NAME, IndexLockedError, WriterLock
from tests.conftest import ROOT


def test_second_writer_is_refused_with_the_owner_pid(tmp_path: Path):
    with WriterLock(tmp_path), pytest.raises(IndexLockedError, match=r"pid \d+"):
        WriterLock(tmp_path).acquire()


def test_lock_is_free_again_after_release(tmp_path: Path):
    with WriterLock(tmp_path):
        pass
    with WriterLock(tmp_path):
        pass


def test_lock_of_a_killed_process_is_stale_and_taken_over(tmp_path: Path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from index.lock import WriterLock;"
            " WriterLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IndexLockedError, match=str(holder.pid)):
            WriterLock(tmp_path).acquire()
        holder.kill()
        holder.wait()
        lock = WriterLock(tmp_path)
        lock.acquire()
        assert lock.previous_owner == str(holder.pid)
        assert (tmp_path / LOCK_NAME).read_text().strip() != str(holder.pid)
        lock.release()
    finally:
        holder.kill()
