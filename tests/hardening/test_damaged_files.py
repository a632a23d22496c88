"""Faults in the shared files, each reproduced: a damaged status.json or registry (by hand and by
hypothesis). The API must keep answering JSON, lose nothing on disk, and serve the fixed file at once."""


import errno
import json
import os
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.events import EventBus
from orchestrator.monitor import StatusMonitor

from .conftest import INSTANCE, SKIP, assert_answers_json, assert_error_shape, status_path


READS = ["/api/plans", "/api/plans/alpha", "/api/plans/alpha/status", "/api/plans/alpha/tasks",
         f"/api/orchestrators/{INSTANCE}/status", "/health"]
FILE_FUZZ = settings(derandomize=True, max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# -- status.json damaged ---------------------------------------------------------------------

DAMAGE = {
    "garbage": b"\x00\xffnot json at all",
    "truncated": None,  # the first half of the real file, as a non-atomic writer would leave it
    "empty": b"",
    "not_an_object": b"[1, 2, 3]",
    "no_task_list": b'{"planName": "x", "tasks": {"1.1": "pending"}}',
    "deeply_nested": b"[" * 100_000 + b"]" * 100_000,
}


def damage(path, kind: str) -> bytes:
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2] if kind == "truncated" else DAMAGE[kind])
    return good


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_status_file_is_503_json_for_its_plan_and_leaves_the_rest_served(populated, api, kind):
    path = status_path(populated)
    damage(path, kind)
    error = assert_error_shape(api.get("/api/plans/alpha/status"), 503)
    assert error["code"] == "status_file_corrupt"
    listing = api.get("/api/plans")
    assert listing.status_code == 200
    assert {plan["name"] for plan in listing.json()} >= {"alpha", "beta"}
    for url in READS:
        assert_answers_json(api.get(url), 503)


@pytest.mark.parametrize("kind", DAMAGE)
def test_writes_to_a_damaged_status_file_are_refused_and_change_nothing(populated, api, kind):
    path = status_path(populated)
    damage(path, kind)
    damaged = path.read_bytes()
    error = assert_error_shape(api.post(SKIP, {"reason": "x"}, format="json"), 503)
    assert error["code"] == "status_file_corrupt"
    assert path.read_bytes() == damaged, "a writer must never 'repair' a file it cannot read"


def test_deleted_status_file_falls_back_to_the_plan_markdown(populated, api):
    status_path(populated).unlink()
    body = api.get("/api/plans/alpha/status").json()
    assert {task["status"] for task in body["tasks"]} == {"pending"}
    assert api.post(SKIP, {"reason": "by hand"}, format="json").status_code == 200  # re-created from the plan


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode, so chmod 000 cannot make "
                                              "one unreadable here; test_unreadable_status_file_is_503_json "
                                              "simulates the same EACCES")
def test_chmod_000_status_file_is_503_json(populated, api):
    path = status_path(populated)
    path.chmod(0)
    try:
        error = assert_error_shape(api.get("/api/plans/alpha/status"), 503)
        assert error["code"] == "status_file_corrupt" and "Permission denied" in error["message"]
    finally:
        path.chmod(0o644)
    assert api.get("/api/plans/alpha/status").status_code == 200


def test_unreadable_status_file_is_503_json(populated, api, monkeypatch):
    """What chmod 000 does for a non-root server (the tests run as root, which reads anyway): open()
    fails with EACCES, at the operating system's interface rather than inside any module of ours."""
    path = status_path(populated)
    real_open = open

    def guarded_open(file, *args, **kwargs):
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    os.utime(path)  # a new mtime, so no cached parse can answer for the file
    monkeypatch.setattr("builtins.open", guarded_open)
    error = assert_error_shape(api.get("/api/plans/alpha/status"), 503)
    assert error["code"] == "status_file_corrupt" and "Permission denied" in error["message"]
    monkeypatch.undo()
    assert api.get("/api/plans/alpha/status").status_code == 200


def test_monitor_survives_every_damage_and_reports_the_fixed_file(populated):
    """The engine's monitor keeps watching through garbage, truncation, deletion and EACCES-like
    failures, and the first good write afterwards is published as usual."""
    path = status_path(populated)
    events, seen = [], threading.Event()

    def collect(event):
        events.append(event)
        seen.set()

    monitor = StatusMonitor(path, instance_id=INSTANCE, bus=EventBus(), callback=collect)
    monitor.start()
    try:
        for step, kind in enumerate(["garbage", "truncated", "empty", "deleted", "garbage"]):
            if kind == "deleted":
                path.unlink()
            else:
                damage(path, kind) if path.exists() else path.write_bytes(DAMAGE.get(kind) or b"{")
            time.sleep(0.05)
            seen.clear()
            populated.status("alpha", states={"2.1": "completed" if step % 2 else "failed"})
            assert seen.wait(5), f"no event after the file was fixed following {kind}"
            assert any(e.type == "status_updated" for e in events)
    finally:
        monitor.stop()
    changes = [(e.data["task_id"], e.data["new_status"]) for e in events if e.type == "task_changed"]
    assert ("2.1", "failed") in changes and ("2.1", "completed") in changes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20)
    | st.sampled_from(["Phase 1: Setup", "Phase " + "9" * 5000 + ": x", "completed", "failed", "skipped",
                       "in_progress", "pending", "2025-01-02T03:04:05Z", "1.1", "1.2"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)
fuzzed_task = st.fixed_dictionaries({}, optional={
    key: json_values | st.sampled_from(["1.1", "1.2", "2.1"]) for key in
    ("id", "status", "phase", "description", "retryCount", "error", "skipReason", "startedAt", "completedAt",
     "duration")})
fuzzed_status = st.fixed_dictionaries({"tasks": st.lists(fuzzed_task, max_size=4)}, optional={
    key: json_values for key in ("currentPhase", "planName", "planPath", "summary", "lastUpdatedAt", "runs")})


@pytest.mark.slow
def test_any_json_in_status_file_is_answered_without_a_server_error(populated, api):
    """Hypothesis writes status files as hand edits and other tools might: any types anywhere.

    Found: a task "phase" holding a list or object crashed every plan read (unhashable key in
    StatusSnapshot.phases), and a "Phase <5000 digits>" phase crashed int() in the task filter.
    """
    path = status_path(populated)

    @FILE_FUZZ
    @given(fuzzed_status)
    def run(document):
        path.write_text(json.dumps(document))
        for url in READS + ["/api/plans/alpha/tasks?phase=1"]:
            assert_answers_json(api.get(url), 503)
        for url in (SKIP, "/api/plans/alpha/tasks/1.1/retry"):
            assert_answers_json(api.post(url, {"reason": "x"}, format="json"), 404, 409, 503)

    run()


def test_task_phase_of_any_json_type_counts_as_unphased(populated, api):
    populated.status("alpha", tasks=[{"id": "1.1", "status": "pending", "description": "a", "phase": ["x"]},
                                     {"id": "1.2", "status": "pending", "description": "b", "phase": {"y": 1}},
                                     {"id": "1.3", "status": "pending", "description": "c",
                                      "phase": "Phase " + "9" * 5000 + ": huge"}])
    response = api.get("/api/plans/alpha/status")
    assert response.status_code == 200
    assert api.get("/api/plans/alpha/tasks?phase=9").json() == []


def test_error_bodies_name_files_relative_to_the_repository_never_by_server_path(populated, api):
    # Found in the red-team pass: 503 details carried the checkout's absolute path.
    damage(status_path(populated), "garbage")
    populated.registry(raw=b"\x00garbage")
    corrupt = api.get("/api/plans/alpha/status")
    registry = api.get("/api/orchestrators")

    assert assert_error_shape(corrupt, 503)["details"]["path"] == "docs/plan-outputs/alpha/status.json"
    assert assert_error_shape(registry, 503)["details"]["path"] == ".claude/orchestrator-registry.json"
    for response in (corrupt, registry):
        assert str(populated.root) not in response.content.decode()


# -- registry damaged ------------------------------------------------------------------------

CORRUPT_REGISTRIES = [b"\x00garbage", b'{"instances": [', b"[]", b'{"instances": 5}', b"[" * 100_000, b"\xff\xfe"]
ORCHESTRATOR_URLS = ["/api/orchestrators", f"/api/orchestrators/{INSTANCE}", f"/api/orchestrators/{INSTANCE}/status"]


@pytest.mark.parametrize("raw", CORRUPT_REGISTRIES)
def test_corrupt_registry_is_503_json_and_plans_are_still_served(populated, api, raw):
    populated.registry(raw=raw)
    for url in ORCHESTRATOR_URLS:
        assert assert_error_shape(api.get(url), 503)["code"] == "registry_unavailable"
    command = assert_error_shape(api.post(f"/api/orchestrators/{INSTANCE}/pause"), 503)
    assert command["code"] == "registry_unavailable"
    assert api.get("/health").json()["status"] == "degraded"
    assert api.get("/api/plans/alpha/status").status_code == 200


@pytest.mark.parametrize("bad", [
    {"plan_path": None}, {"plan_path": 5}, {"socket_path": 5}, {"port": "8000"}, {"pid": 2**70}, {"pid": "12"},
    {"pid": True}, {"status": "exploded"}, {"started_at": 5}, {"worktree_path": []},
])
def test_registry_entries_with_wrong_value_types_are_skipped_not_a_500(populated, api, bad):
    """Found: Instance(**entry) checks no types, so these reached the views and raised (TypeError,
    ValueError, OverflowError from os.kill): every orchestrator read answered 500."""
    good = populated.instance(id="orch-1700000000001")
    populated.registry([populated.instance(id=INSTANCE, **bad), good])
    assert [entry["id"] for entry in api.get("/api/orchestrators").json()] == [good["id"]]
    assert assert_error_shape(api.get(f"/api/orchestrators/{INSTANCE}/status"), 404)["code"] == "instance_not_found"


@pytest.mark.slow
def test_any_json_in_registry_is_answered_without_a_server_error(populated, api):
    entry = st.fixed_dictionaries({key: json_values | st.just(value) for key, value in
                                   populated.instance(id=INSTANCE).items()})
    registry = st.one_of(json_values, st.fixed_dictionaries({"instances": st.lists(entry | json_values, max_size=3)},
                                                            optional={"lastCleanup": json_values}))

    @FILE_FUZZ
    @given(registry)
    def run(document):
        populated.registry(raw=json.dumps(document))
        for url in ORCHESTRATOR_URLS + ["/health"]:
            assert_answers_json(api.get(url), 404, 503)
        assert_answers_json(api.post(f"/api/orchestrators/{INSTANCE}/pause"), 404, 503)
        assert_answers_json(api.post(f"/api/orchestrators/{INSTANCE}/skip-task", {"task_id": "1.2"}, format="json"),
                            400, 404, 409, 503)

    run()
