"""The PostgreSQL tests work wherever the project is cloned, also in a folder only its owner
may enter (a home directory, `mktemp -d`: mode 700) while the server runs as another user."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.fakes.postgres_server import PgServer, binaries


def private_copy_of_the_wheel(home: Path) -> Path:
    """The wheel's PostgreSQL as a clone in `home` (mode 700) holds it in its .venv, with a
    umask-077 checkout's modes; its `bin` folder."""
    home.mkdir(mode=0o700)
    install = binaries().parent
    site = home / "checkout" / ".venv" / "site-packages"
    for name in ("bin", "lib", "share"):
        shutil.copytree(install / name, site / install.parent.name / install.name / name)
    libs = install.parent.parent / f"{install.parent.name}.libs"  # where the RPATH points
    shutil.copytree(libs, site / libs.name)
    for folder, _folders, files in os.walk(home):
        os.chmod(folder, 0o700)
        for name in files:
            (Path(folder) / name).chmod(0o700)
    return site / install.parent.name / install.name / "bin"


def test_the_test_server_starts_from_binaries_in_a_private_folder(tmp_path: Path):
    server = PgServer(private_copy_of_the_wheel(tmp_path / "home"))
    try:
        assert "1" in server.psql("SELECT 1")
        server.restart()
        assert "vector" in server.psql("SELECT extname FROM pg_extension")
    finally:
        server.close()
    assert not server.root.exists()
