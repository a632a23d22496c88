import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.errors import LockTimeout
from orchestrator.fileio import STALE_TEMP_S, atomic_write, locked, remove_stale_temps
from tests.locks import held_by_another_thread

ROOT = Path(__file__).resolve().parents[2]


def test_atomic_write_replaces_content_and_keeps_the_requested_mode(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("old")
    st = atomic_write(path, b"new", mode=0o640)
    assert path.read_bytes() == b"new"
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert (st.st_ino, st.st_mtime_ns) == (os.stat(path).st_ino, os.stat(path).st_mtime_ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


@pytest.mark.parametrize("target", ["write", "fsync"])
def test_atomic_write_failure_keeps_the_old_file_and_removes_the_temp_file(tmp_path, monkeypatch, target):
    path = tmp_path / "f.json"
    path.write_text("old")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, target, no_space)
    with pytest.raises(OSError) as failure:
        atomic_write(path, b"new" * 1000)
    assert failure.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_lock_times_out_while_another_holder_keeps_it(tmp_path):
    lock = tmp_path / "f.lock"
    with held_by_another_thread(lock):
        started = time.monotonic()
        with pytest.raises(LockTimeout) as failure:
            with locked(lock, timeout=0.2):
                pass
        assert time.monotonic() - started >= 0.15  # it did wait for the holder
        assert failure.value.code == "lock_timeout"
    with locked(lock, timeout=1):
        pass


KILLED_WRITER = """
import os, signal, sys
from orchestrator import fileio
fileio.os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # dies with the data written, not renamed
fileio.atomic_write(__import__("pathlib").Path(sys.argv[1]), b"x" * 1_000_000)
"""


def test_a_temp_file_left_by_a_writer_killed_mid_write_is_removed_by_a_later_write(tmp_path):
    """It used to stay forever: a SIGKILL between write and rename runs no cleanup."""
    target = tmp_path / "status.json"
    target.write_bytes(b"{}")
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], cwd=ROOT)
    assert killed.returncode == -signal.SIGKILL
    [left] = [path for path in tmp_path.iterdir() if path.name.endswith(".tmp")]
    assert left.stat().st_size == 1_000_000 and target.read_bytes() == b"{}"

    atomic_write(target, b"{}")  # young: it might be a write in flight (of a writer that does not lock)
    assert left.exists()
    old = time.time() - STALE_TEMP_S - 1
    os.utime(left, (old, old))
    atomic_write(target, b'{"a": 1}')
    assert not left.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["status.json"]


def test_only_old_temp_files_of_the_written_file_are_removed(tmp_path):
    old = time.time() - STALE_TEMP_S - 1
    names = [".status.json.abcd_123.tmp", ".status.json.tmp", ".status.json.abcdefghi.tmp",
             ".registry.json.abcd1234.tmp", "status.json.abcd1234.tmp", ".status.json.ABCD1234.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (old, old))
    (tmp_path / ".status.json.abcd1234.tmp").mkdir()  # not a file: not ours
    assert remove_stale_temps(tmp_path / "status.json") == [tmp_path / ".status.json.abcd_123.tmp"]
    assert not (tmp_path / ".status.json.abcd_123.tmp").exists()
    assert all((tmp_path / name).exists() for name in names[1:])
