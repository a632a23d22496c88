"""The proper-lockfile protocol our status.json writers share with upstream's tools."""

import fcntl
import os
import threading
import time

import pytest

from orchestrator.dirlock import dir_locked, lock_dir_for
from orchestrator.errors import LockTimeout


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "status.json"
    path.write_text("{}")
    return path


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_the_lock_is_a_directory_while_held_and_gone_after(target):
    lock = lock_dir_for(target)
    assert lock.name == "status.json.lock"
    with dir_locked(target):
        assert lock.is_dir()
    assert not lock.exists()


def test_the_lock_is_removed_when_the_body_raises(target):
    with pytest.raises(RuntimeError):
        with dir_locked(target):
            raise RuntimeError("boom")
    assert not lock_dir_for(target).exists()


def test_a_held_lock_makes_us_wait_then_give_up_with_a_retryable_error(target, upstream_lock):
    holder = upstream_lock(target)
    with pytest.raises(LockTimeout) as failure:
        with dir_locked(target, timeout=0.2):
            pytest.fail("took a lock another process holds")
    assert failure.value.code == "lock_timeout" and failure.value.details["retryable"] is True
    assert holder.lock_dir.is_dir()  # theirs, untouched


def test_a_stale_lock_of_a_dead_holder_is_taken_over(target):
    lock = lock_dir_for(target)
    lock.mkdir()
    old = time.time() - 61
    os.utime(lock, (old, old))
    with dir_locked(target, timeout=1):
        assert lock.is_dir() and time.time() - lock.stat().st_mtime < 30
    assert not lock.exists()


def test_a_fresh_lock_of_a_dead_holder_is_respected_until_stale(target):
    lock_dir_for(target).mkdir()
    with pytest.raises(LockTimeout):
        with dir_locked(target, timeout=0.1):
            pass
    with dir_locked(target, timeout=1, stale_s=0.05):
        pass


def test_the_holder_keeps_the_lock_fresh(target):
    lock = lock_dir_for(target)
    with dir_locked(target, refresh_s=0.02):
        old = time.time() - 120
        os.utime(lock, (old, old))
        wait_for(lambda: time.time() - lock.stat().st_mtime < 60)


def test_a_regular_lock_file_left_by_older_versions_is_removed(target):
    lock = lock_dir_for(target)
    lock.write_text("")
    with dir_locked(target, timeout=1):
        assert lock.is_dir()
    assert not lock.exists()


def test_a_regular_lock_file_an_older_version_still_flocks_is_waited_for(target):
    lock = lock_dir_for(target)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(LockTimeout):
            with dir_locked(target, timeout=0.2):
                pass
        assert lock.is_file()
    finally:
        os.close(fd)
    with dir_locked(target, timeout=1):
        assert lock.is_dir()
    assert not lock.exists()


def test_threads_of_one_process_take_turns(target):
    inside, overlaps = [], []

    def work():
        for _ in range(20):
            with dir_locked(target, timeout=10):
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert overlaps == [] and not lock_dir_for(target).exists()
