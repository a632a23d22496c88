"""A throwaway PostgreSQL cluster: initdb in a fresh directory, a server on a free loopback port, removed after.

Used by bench/command_load.py and the PostgreSQL tests (tests/api/test_database_load.py).
The binaries are Debian's (`postgresql`, installed by scripts/system-packages) under
/usr/lib/postgresql/<version>/bin. PostgreSQL refuses to run as root, so as root the
cluster belongs to, and runs as, the `postgres` user the package creates (or `nobody`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run_as() -> str | None:
    """The user the cluster runs as when we are root (None: ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return name
    return None


def postgres_available() -> bool:
    return _bin_dir() is not None and (os.geteuid() != 0 or _run_as() is not None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    def __init__(self):
        self.bin = _bin_dir()
        self.user = _run_as()
        self.port = _free_port()
        # Under /tmp, not the caller's private tmp dir: the `postgres` user must reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="pg-cluster-", dir="/tmp"))
        self.data = self.directory / "data"
        self.url = f"postgres://bench@127.0.0.1:{self.port}/postgres"

    def _command(self, *argv: str) -> list[str]:
        command = [str(self.bin / argv[0]), *argv[1:]]
        return ["runuser", "-u", self.user, "--", *command] if self.user else command

    def start(self, timeout: float = 60) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        subprocess.run(self._command("initdb", "-D", str(self.data), "-U", "bench", "-A", "trust", "--no-sync",
                                     "-E", "UTF8"), check=True, capture_output=True, timeout=timeout)
        # Sockets in the cluster's own directory; fsync off: a throwaway cluster need not survive a crash.
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off " \
                  "-c max_connections=200"
        subprocess.run(self._command("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"),
                                     "-o", options, "-w", "-t", str(int(timeout)), "start"),
                       check=True, capture_output=True, timeout=timeout + 10)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not listen on {self.port}")

    def stop(self) -> None:
        try:
            subprocess.run(self._command("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"),
                           capture_output=True, timeout=60)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
