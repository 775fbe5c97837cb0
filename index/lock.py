"""One writer per index directory, enforced with an OS lock that dies with its process.

`WriterLock` is held only while a sync writes; `ServiceLock` is held for the whole life of a
long-running front end that keeps the index in sync (`newsbot watch`, `newsbot telegram`), so
two of them never race each other on the same index while `newsbot index` can still run
between their syncs.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

LOCK_NAME = "writer.lock"
SERVICE_LOCK_NAME = "service.lock"


class IndexLockedError(RuntimeError):
    """Another live process is writing this index."""


class ServiceLockedError(IndexLockedError):
    """Another live process already keeps this index in sync."""


class WriterLock:
    """`flock` on `<index>/writer.lock`, holding the owner's pid for the error message.

    The kernel drops the lock when its process dies (even by SIGKILL), so a lock file left
    behind by a crashed writer is stale by construction and is simply taken over.
    """

    file_name = LOCK_NAME

    def __init__(self, index_dir: Path, *, wait_seconds: float = 0.0) -> None:
        self.path = Path(index_dir) / self.file_name
        self.wait_seconds = wait_seconds
        self._fd: int | None = None
        self.previous_owner: str | None = None  # pid text found in a stale lock file

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    owner = _read_owner(fd)
                    os.close(fd)
                    raise self._locked_error(owner or "unknown") from None
                time.sleep(0.1)
        self.previous_owner = _read_owner(fd) or None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def _locked_error(self, owner: str) -> IndexLockedError:
        return IndexLockedError(
            f"the index at {self.path.parent} is being written by another newsbot "
            f"process (pid {owner}); wait for it to finish or stop it"
        )

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class ServiceLock(WriterLock):
    """`flock` on `<index>/service.lock`, held by `watch`/`telegram` for their whole life.

    Separate from the writer lock so a second service is refused at once, while a one-off
    `newsbot index` is only turned away while a sync is actually writing.
    """

    file_name = SERVICE_LOCK_NAME
    lost: IndexLockedError | None = None  # a `flock` is never lost (see index.stores.postgres)

    def _locked_error(self, owner: str) -> IndexLockedError:
        return ServiceLockedError(
            f"the index at {self.path.parent} is already kept in sync by another newsbot "
            f"process (pid {owner}, `newsbot watch` or `newsbot telegram`); stop it first or "
            "use another index folder"
        )

    def __enter__(self) -> ServiceLock:
        self.acquire()
        return self


def _read_owner(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return ""
