"""The orchestrate command's progress output: log lines per event and the live rich panel."""

import io
import logging
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.display import LiveDisplay, LiveProgress, PlainProgress, describe
from orchestrator.engine import Engine, EngineConfig
from orchestrator.events import Event, EventBus
from tests.engine_support import AGENT_CMD, AGENT_ENV, THREE_PHASES, short_socket_path

pytestmark = pytest.mark.timeout(30)


def event(type_: str, **data) -> Event:
    return Event(1, type_, "2025-01-01T00:00:00.000Z", "orch-1", data)


@pytest.fixture
def engine(repo):
    repo.plan("trio", THREE_PHASES, title="Trio")
    return Engine(EngineConfig(repo_root=repo.root, plan_path=Path("docs/plans/trio.md"), agent_cmd=list(AGENT_CMD),
                               agent_env=AGENT_ENV, socket_path=short_socket_path()), bus=EventBus())


@pytest.mark.parametrize("raw, line", [
    (event("task_changed", task_id="1.2", description="Add it", old_status="pending", new_status="in_progress",
           phase="Phase 1: A"), "task 1.2 pending -> in_progress: Add it"),
    (event("phase_changed", old_phase="Phase 1: A", new_phase="Phase 2: B"), "phase Phase 2: B"),
    (event("tool_started", tool_id="t1", tool_name="Read", input_summary="src/app.py"), "  Read src/app.py"),
    (event("tool_completed", tool_id="t1", tool_name="Bash", duration=1.25, success=False),
     "  Bash failed after 1.2 s"),
    (event("orchestrator_state", state="paused", reason="pause requested"), "orchestrator paused: pause requested"),
    (event("orchestrator_state", state="running", reason=None), "orchestrator running"),
])
def test_each_meaningful_event_is_one_line(raw, line):
    assert describe(raw) == line


def test_quiet_events_print_nothing():
    assert describe(event("status_updated", tasks=[])) is None
    assert describe(event("tool_completed", tool_id="t1", tool_name="Read", duration=0.1, success=True)) is None


def test_plain_progress_stamps_each_line_with_the_time():
    lines = []
    plain = PlainProgress(lines.append, clock=lambda: datetime(2025, 1, 1, 9, 8, 7, tzinfo=timezone.utc))
    plain(event("phase_changed", old_phase=None, new_phase="Phase 1: A"))
    plain(event("status_updated", tasks=[]))
    assert lines == ["09:08:07 phase Phase 1: A"]


def test_live_panel_shows_phases_current_task_and_tool(engine):
    progress = LiveProgress(engine)
    engine.bus.subscribe(progress, instance_id=engine.instance_id)
    assert engine.run() == 0
    progress(event("tool_started", tool_id="t9", tool_name="Edit", input_summary="src/health.py"))

    console = Console(record=True, width=100, file=io.StringIO())
    console.print(progress.render())
    text = console.export_text()
    assert f"trio · {engine.instance_id} · stopped · iteration 5/50" in text
    assert "5/5  100%" in text and "Task  plan complete" in text
    for phase in THREE_PHASES:
        assert phase in text
    assert "Tool  Edit src/health.py" in text
    assert "✓ Read" in text  # finished tools of the run are listed


def test_live_display_routes_orchestrator_logs_above_the_panel_and_restores_them(engine):
    output = io.StringIO()
    console = Console(file=output, width=100, force_terminal=True)
    orchestrator_logger = logging.getLogger("orchestrator")
    with LiveDisplay(engine, console):
        assert orchestrator_logger.propagate is False
        logging.getLogger("orchestrator.engine").warning("task 1.1 failed: boom")
    assert orchestrator_logger.propagate is True
    assert "task 1.1 failed: boom" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.getvalue())
