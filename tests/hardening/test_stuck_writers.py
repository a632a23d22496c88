"""Faults of other writers, each reproduced: a lock held by a stuck process, a disk that is full.
Writers get a clear, retryable error; readers keep answering; the old file stays whole."""


import errno
import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestrator import fileio
from orchestrator.errors import LockTimeout
from orchestrator.registry import Registry
from orchestrator.status import read_status
from tests.factories import RepoFactory

from .conftest import INSTANCE, SKIP, assert_error_shape, status_path


# -- locks held by a stuck process -----------------------------------------------------------

LOCK_HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def stuck_lock_holder(helper_processes):
    """start(lock_path): a separate process that takes the flock and then hangs, like a wedged writer."""
    return lambda lock_path: helper_processes([sys.executable, "-c", LOCK_HOLDER, str(lock_path)], "locked")


def test_registry_writers_time_out_with_a_clear_error_while_readers_answer(populated, api, stuck_lock_holder):
    registry = Registry(populated.layout.registry_path, lock_timeout=0.3)
    stuck_lock_holder(registry.lock_path)
    started = time.monotonic()
    with pytest.raises(LockTimeout, match="orchestrator-registry.json.lock within 0.3 s"):
        registry.heartbeat(INSTANCE)
    assert time.monotonic() - started < 1.5
    assert [entry.id for entry in registry.list()] == [INSTANCE]
    assert api.get("/api/orchestrators").status_code == 200
    assert api.get(f"/api/orchestrators/{INSTANCE}/status").status_code == 200


def test_writers_go_on_once_the_stuck_lock_holder_dies(populated, stuck_lock_holder):
    registry = Registry(populated.layout.registry_path, lock_timeout=0.3)
    holder = stuck_lock_holder(registry.lock_path)
    holder.kill()
    holder.wait(5)
    assert registry.heartbeat(INSTANCE).id == INSTANCE  # the kernel dropped the dead holder's flock


def test_status_lock_held_by_a_stuck_process_is_503_lock_timeout_and_reads_answer(
        populated, api, upstream_lock, settings):
    """The API's skip/retry wait for the status file's lock; a holder that never lets go costs
    the request the lock timeout (STATUS_LOCK_TIMEOUT: 10 s by default, 0.3 s here), then a clear,
    retryable 503."""
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "STATUS_LOCK_TIMEOUT": 0.3}
    path = status_path(populated)
    upstream_lock(path)
    before = path.read_bytes()
    response = api.post(SKIP, {"reason": "x"}, format="json")
    error = assert_error_shape(response, 503)
    assert error["code"] == "lock_timeout" and "after 0.3 s" in error["message"]
    assert error["details"]["retryable"] is True and response["Retry-After"]
    assert path.read_bytes() == before
    assert api.get("/api/plans/alpha/status").status_code == 200


# -- disk full while writing status.json -----------------------------------------------------

def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("failing_call", ["write", "fsync", "replace"])
def test_disk_full_while_writing_status_keeps_the_old_file_and_answers_503_json(populated, api, monkeypatch,
                                                                                 failing_call):
    """ENOSPC at each step of the atomic write (data, flush to disk, rename): the old file stays
    whole and is still served, no temporary file is left behind, and the next write succeeds."""
    path = status_path(populated)
    before = path.read_bytes()
    monkeypatch.setattr(fileio.os, failing_call, _no_space)
    error = assert_error_shape(api.post(SKIP, {"reason": "disk full"}, format="json"), 503)
    assert error["code"] == "storage_error" and "No space left" in error["message"]
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["findings", "status.json"]
    assert read_status(path).data == json.loads(before)
    assert api.get("/api/plans/alpha/status").status_code == 200
    assert api.post(SKIP, {"reason": "space again"}, format="json").status_code == 200


def _fill(directory: Path) -> Path:
    """Write a filler file until the filesystem refuses another byte; returns its path."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_real_full_disk_keeps_the_old_status_file_and_answers_503_json(tiny_disk, settings, api):
    repo = RepoFactory(tiny_disk)
    repo.plan("alpha")
    repo.status("alpha")
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "REPO_ROOT": str(tiny_disk)}
    path = status_path(repo)
    before = path.read_bytes()
    filler = _fill(tiny_disk)
    error = assert_error_shape(api.post(SKIP, {"reason": "disk full"}, format="json"), 503)
    assert error["code"] == "storage_error"
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert api.get("/api/plans/alpha/status").status_code == 200
    filler.unlink()
    assert api.post(SKIP, {"reason": "space again"}, format="json").status_code == 200
