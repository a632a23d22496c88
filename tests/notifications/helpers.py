"""Event envelopes and waiting, shared by the webhook tests."""

import time

from django.db import OperationalError

from orchestrator.clock import iso_now

INSTANCE = "orch-1700000000000"


def task_failed(event_id=1, *, task_id="2.1", instance_id=INSTANCE) -> dict:
    return {"id": event_id, "type": "task_changed", "timestamp": iso_now(), "instance_id": instance_id,
            "data": {"task_id": task_id, "description": "Add the health route", "old_status": "in_progress",
                     "new_status": "failed", "phase": "Phase 2: Build"}}


def wait_until(predicate, *, timeout=10.0, message="condition"):
    deadline = time.monotonic() + timeout
    while not read(predicate, timeout=timeout):
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met in {timeout} s")
        time.sleep(0.01)


def read(query, *, timeout=10.0):
    """`query()`'s answer. The tests' SQLite is one in-memory database shared between threads, where a
    read that meets the dispatcher's write fails at once ("table is locked") instead of waiting as on
    a file: such a read is asked again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return query()
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)
