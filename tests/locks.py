"""A lock held by someone else for the length of a `with` block, for tests of what waiting writers do."""

import threading
from contextlib import contextmanager

from orchestrator import fileio


@contextmanager
def held_by_another_thread(lock_path):
    """The flock on `lock_path`, taken by another thread before the block runs and given up after it."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with fileio.locked(lock_path, timeout=1):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(5)
        yield
    finally:
        release.set()
        thread.join(5)
