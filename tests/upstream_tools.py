"""Stand-ins for the upstream tools' side of the shared files, run as separate processes.

The upstream ecosystem (status-cli.js, its orchestrator) is not installed here; what these
helpers do is how it behaves on disk, so tests can put our code next to it.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# proper-lockfile as upstream uses it: mkdir `<file>.lock`, keep its mtime fresh, rmdir on release.
_LOCK_HOLDER = textwrap.dedent("""
    import os, sys, threading
    lock = sys.argv[1] + ".lock"
    os.mkdir(lock)
    stop = threading.Event()
    def refresh():
        while not stop.wait(0.2):
            os.utime(lock)
    threading.Thread(target=refresh, daemon=True).start()
    print("locked", flush=True)
    sys.stdin.readline()
    stop.set()
    os.rmdir(lock)
    print("released", flush=True)
""")


class UpstreamLock:
    """Another process holding the proper-lockfile lock of one file until released (or killed)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock_dir = self.path.with_name(self.path.name + ".lock")
        self.process = subprocess.Popen([sys.executable, "-c", _LOCK_HOLDER, str(self.path)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "released"
        self.process.wait(5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)


@pytest.fixture
def upstream_lock():
    """hold(path) -> UpstreamLock: the lock of `path` taken the way upstream's tools take it."""
    holders: list[UpstreamLock] = []

    def hold(path) -> UpstreamLock:
        holder = UpstreamLock(path)
        holders.append(holder)
        return holder

    yield hold
    for holder in holders:
        holder.kill()
