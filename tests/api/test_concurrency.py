"""A real engine runs a plan while clients fire hundreds of skips, retries and status reads at it.

Afterwards no update is lost (every accepted skip and retry is in status.json), no reader
ever saw half a file, and the engine finished every task that was not left skipped.
"""

import json
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.models import AuditEntry
from api.services.commands import command_audit
from orchestrator.engine import EXIT_OK, Engine, EngineConfig
from orchestrator.errors import InvalidOrchestratorState
from orchestrator.status import read_status
from tests.engine_support import AGENT_CMD, AGENT_ENV, short_socket_path, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(90)]

TASKS = [f"{phase}.{n}" for phase in range(1, 5) for n in range(1, 16)]  # 60 tasks in 4 phases
WRITERS = 4
READERS = 2
# Writers stop once this few tasks are pending, so the engine cannot run out of work (and
# exit) while a last retry is in flight: at most WRITERS requests land after the stop.
STOP_AT_PENDING = 12
# About 500 commands fit into a run of 60 tasks on an idle machine; when fewer did by the time
# the engine nears its end, it is paused until the clients have sent this many.
MIN_COMMANDS = 300


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def running_engine(repo_root):
    spec = {f"Phase {phase}: Part {phase}": [f"{phase}.{n} Step {phase}.{n}" for n in range(1, 16)]
            for phase in range(1, 5)}
    repo_root.plan("big", spec)
    config = EngineConfig(repo_root=repo_root.root, plan_path=Path("docs/plans/big.md"), agent_cmd=list(AGENT_CMD),
                          agent_env=AGENT_ENV, timeout=10, max_retries=0, max_iterations=10_000,
                          socket_path=short_socket_path())
    engine = Engine(config)
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("code", engine.run()), daemon=True)
    thread.start()
    wait_until(lambda: engine.state == "running", message="engine start")
    yield engine, thread, outcome
    if thread.is_alive():
        try:
            engine.request_shutdown(force=True)
        except InvalidOrchestratorState:
            pass
        thread.join(10)


@pytest.fixture
def serialized_audit_writes(monkeypatch):
    """The test database is SQLite in memory with a shared cache, where concurrent INSERTs fail at
    once ("database table is locked") instead of waiting as on a file or PostgreSQL; the audit
    rows are the only rows written here, so the command service's audit writes take turns (each
    one whole: an INSERT ... RETURNING holds its lock until its row is read). The status file gets
    no such help."""
    gate = threading.Lock()

    def take_turns(**outcome):
        with gate:
            return command_audit(**outcome)
    monkeypatch.setattr("api.services.commands.command_audit", take_turns)


def test_no_update_is_lost_and_no_reader_sees_half_a_file(running_engine, controller, serialized_audit_writes):
    engine, engine_thread, outcome = running_engine
    token = Token.objects.create(user=controller).key
    status_file = engine.status_path
    stop = threading.Event()
    lock = threading.Lock()
    accepted: Counter = Counter()  # (command, task_id) -> 200 answers
    refused: Counter = Counter()   # status code -> count
    reads = Counter()
    problems: list[str] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        client = _client(token)
        try:
            while not stop.is_set():
                task_id, command = rng.choice(TASKS), rng.choice(("skip", "retry"))
                if rng.random() < 0.5:
                    path = f"/api/orchestrators/{engine.instance_id}/{command}-task"
                    body = {"task_id": task_id, "reason": "concurrency test"} if command == "skip" else {
                        "task_id": task_id}
                else:
                    path = f"/api/plans/big/tasks/{task_id}/{command}"
                    body = {"reason": "concurrency test"} if command == "skip" else {}
                response = client.post(path, body, format="json")
                with lock:
                    if response.status_code == 200:
                        accepted[command, task_id] += 1
                    else:
                        refused[response.status_code] += 1
                        if response.status_code != 409:
                            problems.append(f"{path}: {response.status_code} {response.content[:200]!r}")
        finally:
            connections.close_all()

    def reader(seed: int) -> None:
        client = _client(token)
        paths = ["/api/plans/big/status", f"/api/orchestrators/{engine.instance_id}/status", "/api/plans/big/tasks"]
        try:
            while not stop.is_set():
                for path in paths:
                    response = client.get(path)
                    body = json.loads(response.content)  # raises on a torn answer
                    tasks = body if isinstance(body, list) else body.get("tasks")
                    with lock:
                        reads["api"] += 1
                        if response.status_code != 200 or len(tasks) != len(TASKS):
                            problems.append(f"{path}: {response.status_code} {response.content[:200]!r}")
                # And the file itself, read raw as any other tool would.
                json.loads(status_file.read_bytes())
                with lock:
                    reads["file"] += 1
        except Exception as exc:  # noqa: BLE001 - any failure of a reader is the finding
            with lock:
                problems.append(f"reader: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    def pending_count() -> int:
        snapshot = read_status(status_file)
        return snapshot.counts["pending"] if snapshot else len(TASKS)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    threads += [threading.Thread(target=reader, args=(seed,)) for seed in range(READERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    def sent() -> int:
        with lock:
            return sum(accepted.values()) + sum(refused.values())

    while pending_count() > STOP_AT_PENDING and engine_thread.is_alive() and time.monotonic() - started < 60:
        time.sleep(0.005)
    steering = []
    if sent() < MIN_COMMANDS:
        # A loaded machine ran the engine faster than the clients: hold it (through the API) so the
        # last skips and retries cannot land after it has run out of work, until enough were sent.
        steering.append(_client(token).post(f"/api/orchestrators/{engine.instance_id}/pause"))
        while sent() < MIN_COMMANDS and time.monotonic() - started < 60:
            time.sleep(0.005)
    stop.set()
    for thread in threads:
        thread.join(10)
    if steering:
        steering.append(_client(token).post(f"/api/orchestrators/{engine.instance_id}/resume"))
    engine_thread.join(30)
    assert [response.status_code for response in steering] in ([], [200, 200]), [r.content for r in steering]

    assert not problems, problems[:5]
    assert not engine_thread.is_alive() and outcome.get("code") == EXIT_OK, outcome
    commands = sum(accepted.values()) + sum(refused.values())
    assert commands >= MIN_COMMANDS and reads["api"] >= 100 and reads["file"] >= 30, (commands, reads)
    skips = {task: count for (command, task), count in accepted.items() if command == "skip"}
    retries = {task: count for (command, task), count in accepted.items() if command == "retry"}
    assert sum(skips.values()) >= 20 and sum(retries.values()) >= 10, (skips, retries)

    final = {task["id"]: task for task in json.loads(status_file.read_bytes())["tasks"]}
    for task_id in TASKS:
        task, skipped, retried = final[task_id], skips.get(task_id, 0), retries.get(task_id, 0)
        # Each accepted retry is counted in the file; a retry only follows a skip (the agent never
        # fails here), so a task ends skipped exactly when it was skipped once more than retried.
        assert int(task.get("retryCount") or 0) == retried, (task_id, task, skipped, retried)
        assert skipped - retried in (0, 1), (task_id, skipped, retried)
        assert task["status"] == ("skipped" if skipped == retried + 1 else "completed"), (task_id, task)
    data = json.loads(status_file.read_bytes())
    assert data["summary"]["skipped"] == sum(skips.values()) - sum(retries.values())
    assert data["summary"]["completed"] + data["summary"]["skipped"] == len(TASKS)
    assert AuditEntry.objects.count() == commands + len(steering)
    assert AuditEntry.objects.filter(accepted=True).count() == sum(accepted.values()) + len(steering)
