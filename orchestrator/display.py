"""What a person running an orchestrator sees: a live rich panel on a terminal, one log line per event otherwise.

Both are bus subscribers that only record what they are told; the live panel reads the
engine's state when it redraws, on rich's refresh thread, never from inside a bus
callback (the engine emits while holding its lock).
"""

import logging
import threading
import time
from collections import deque
from typing import Callable

from rich.console import Console, Group
from rich.logging import RichHandler
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .clock import Clock, utc_now
from .engine import Engine
from .errors import OrchestratorError
from .events import Event
from .status import read_status

RECENT_TOOLS = 6
STATE_STYLES = {"running": "green", "paused": "yellow", "stopping": "magenta", "stopped": "cyan", "crashed": "red"}
TASK_STYLES = {"completed": "green", "failed": "red", "skipped": "dim", "in_progress": "yellow", "pending": ""}


def describe(event: Event) -> str | None:
    """One human line for an event, or None for events that only matter to machines."""
    data = event.data
    if event.type == "task_changed":
        return (f"task {data['task_id']} {data['old_status'] or 'new'} -> {data['new_status']}: "
                f"{data['description']}")
    if event.type == "phase_changed":
        return f"phase {data['new_phase']}"
    if event.type == "tool_started":
        return f"  {data['tool_name']} {data['input_summary']}"
    if event.type == "tool_completed" and not data["success"]:
        return f"  {data['tool_name']} failed after {data['duration']:.1f} s"
    if event.type == "orchestrator_state":
        return f"orchestrator {data['state']}" + (f": {data['reason']}" if data.get("reason") else "")
    return None


class PlainProgress:
    """Log lines for pipes, files and CI: a timestamp and one line per meaningful event."""

    def __init__(self, write: Callable[[str], object], *, clock: Clock = utc_now):
        self._write = write
        self._clock = clock

    def __call__(self, event: Event) -> None:
        line = describe(event)
        if line is not None:
            self._write(f"{self._clock().strftime('%H:%M:%S')} {line}")


class LiveProgress:
    """A panel redrawn a few times a second: overall and per-phase bars, the current task and tool."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._tool: tuple[str, str, float] | None = None  # name, summary, monotonic start
        self._recent: deque[Text] = deque(maxlen=RECENT_TOOLS)
        self._task_started: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        with self._lock:
            if event.type == "tool_started":
                self._tool = (event.data["tool_name"], event.data["input_summary"], time.monotonic())
            elif event.type == "tool_completed":
                mark = ("✓", "green") if event.data["success"] else ("✗", "red")
                name, summary = event.data["tool_name"], self._tool[1] if self._tool else ""
                self._recent.append(Text.assemble((f"{mark[0]} ", mark[1]), (f"{name:<6} ", "bold"), summary,
                                                  (f"  {event.data['duration']:.1f}s", "dim"), overflow="ellipsis",
                                                  no_wrap=True))
                self._tool = None
            elif event.type == "task_changed" and event.data["new_status"] == "in_progress":
                self._task_started[event.data["task_id"]] = time.monotonic()

    def render(self) -> Panel:
        status = self._engine.status_reply()
        try:
            snapshot = read_status(self._engine.status_path)
        except OrchestratorError:
            snapshot = None
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(ratio=3, no_wrap=True, overflow="ellipsis")
        grid.add_column(ratio=2)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(Text("Overall", style="bold"), ProgressBar(total=max(status["total"], 1),
                     completed=status["completed"] + status["skipped"]),
                     f"{status['completed'] + status['skipped']}/{status['total']}  {status['progress']:.0f}%")
        for phase in snapshot.phases if snapshot else ():
            done = phase["completed"] + phase["skipped"]
            style = "red" if phase["failed"] else ("green" if done == phase["total"] else "")
            grid.add_row(Text(phase["phase"], style=style), ProgressBar(total=max(phase["total"], 1), completed=done),
                         f"{done}/{phase['total']}" + (f"  {phase['failed']} failed" if phase["failed"] else ""))
        return Panel(Group(grid, Text(""), *self._now_lines(status)), title=self._title(status),
                     title_align="left", border_style=STATE_STYLES.get(status["state"], ""))

    def _title(self, status: dict) -> Text:
        return Text.assemble((f" {status['plan_name']} ", "bold"), f"· {status['instance_id']} · ",
                             (status["state"], STATE_STYLES.get(status["state"], "")),
                             f" · iteration {status['iteration']}/{status['max_iterations']} ")

    def _now_lines(self, status: dict) -> list[Text]:
        task = status["current_task"]
        with self._lock:
            tool, recent = self._tool, list(self._recent)
            started = self._task_started.get(task["id"]) if task else None
        lines = []
        if task:
            elapsed = f"  {time.monotonic() - started:.0f}s" if started else ""
            lines.append(Text.assemble(("Task  ", "bold"), (task["id"], "yellow"), f" {task['description']}",
                                       (elapsed, "dim"), overflow="ellipsis", no_wrap=True))
        else:
            idle = "waiting (paused)" if status["paused"] else (self._engine.end_reason or "-")
            lines.append(Text.assemble(("Task  ", "bold"), (idle, "dim")))
        if tool:
            lines.append(Text.assemble(("Tool  ", "bold"), (f"{tool[0]} ", "cyan"), tool[1],
                                       (f"  {time.monotonic() - tool[2]:.1f}s", "dim"), overflow="ellipsis",
                                       no_wrap=True))
        return lines + recent


class LiveDisplay:
    """Runs a LiveProgress for the length of a `with` block, with the orchestrator's log records
    printed above the panel instead of through it."""

    def __init__(self, engine: Engine, console: Console):
        self.progress = LiveProgress(engine)
        self._live = Live(get_renderable=self.progress.render, console=console, refresh_per_second=4)
        self._handler = RichHandler(console=console, show_path=False, markup=False)
        self._logger = logging.getLogger("orchestrator")
        self._propagate = self._logger.propagate

    def __enter__(self) -> "LiveDisplay":
        self._logger.addHandler(self._handler)
        self._logger.propagate = False
        self._live.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._live.stop()
        self._logger.removeHandler(self._handler)
        self._logger.propagate = self._propagate
