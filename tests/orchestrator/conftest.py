"""Fixtures of the agent runner's tests: tiny agent scripts that print Claude Code's stream-json, and a bus that records."""

import sys
import textwrap

import pytest

from orchestrator.events import EventBus

PRELUDE = '''
import json, os, signal, subprocess, sys, time

def emit(obj):
    print(obj if isinstance(obj, str) else json.dumps(obj), flush=True)

def use(*tools):
    emit({"type": "assistant", "message": {"content": [
        {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
        for tool_id, name, tool_input in tools]}})

def answer(tool_id, is_error=False):
    emit({"type": "user", "message": {"content": [
        {"type": "tool_result", "tool_use_id": tool_id, "is_error": is_error, "content": "output"}]}})

def say(text):
    emit({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}})

def done(text="all done", is_error=False):
    emit({"type": "result", "subtype": "error_during_execution" if is_error else "success",
          "is_error": is_error, "result": text, "duration_ms": 12, "num_turns": 3})

def spawn_sleeper(pid_file):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(pid_file, "w") as handle:
        handle.write(str(child.pid))
    return child
'''


@pytest.fixture
def agent(tmp_path):
    """Write an agent script; returns its argv template (prompt and task id as arguments)."""

    def write(body: str) -> list[str]:
        path = tmp_path / "agent.py"
        path.write_text(PRELUDE + textwrap.dedent(body))
        return [sys.executable, str(path), "{prompt}", "{task_id}"]

    return write


class RecordingBus(EventBus):
    """The real bus, plus everything it delivered."""

    def __init__(self):
        super().__init__()
        self.received = []
        self.subscribe(self.received.append)

    def tool_events(self) -> list[tuple[str, dict]]:
        return [(event.type, event.data) for event in self.received]


@pytest.fixture
def bus():
    return RecordingBus()
