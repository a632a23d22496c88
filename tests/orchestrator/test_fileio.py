import errno
import os
import threading
import time

import pytest

from orchestrator.errors import LockTimeout
from orchestrator.fileio import IdentityCache, atomic_write, locked


def parse_text(data, st, crc):
    return data.decode()


def test_cache_keeps_at_most_maxsize_files(tmp_path):
    cache = IdentityCache(maxsize=2)
    for name in "abc":
        (tmp_path / name).write_text(name)
        cache.load(tmp_path / name, parse_text)
    assert len(cache) == 2


def test_cache_hit_on_a_quiet_file_costs_one_stat_and_no_read(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_text("one")
    old = time.time() - 30
    os.utime(path, (old, old))
    cache = IdentityCache()
    assert cache.load(path, parse_text) == "one"
    stats = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: stats.append(a) or real_stat(*a, **k))
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("re-read a cached file"))
    assert cache.load(path, parse_text) == "one"
    assert len(stats) == 1


def test_cache_forgets_deleted_files(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    cache = IdentityCache()
    cache.load(path, parse_text)
    path.unlink()
    assert cache.load(path, parse_text) is None
    assert len(cache) == 0


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
    held, release = threading.Event(), threading.Event()

    def holder():
        with locked(lock, timeout=1):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        with pytest.raises(LockTimeout) as failure:
            with locked(lock, timeout=0.2):
                pass
        assert 0.15 < time.monotonic() - started < 2
        assert failure.value.code == "lock_timeout"
    finally:
        release.set()
        thread.join(5)
    with locked(lock, timeout=1):
        pass
