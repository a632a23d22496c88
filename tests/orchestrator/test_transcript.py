"""Transcripts: what the runner writes per attempt, the caps, and reading them back."""

import json
import sys
import textwrap
from datetime import datetime, timezone

import pytest

from orchestrator.attempts import attempt_info, plan_attempts, read_records, settled_seq, task_attempts, transcript_items
from orchestrator.events import EventBus
from orchestrator.figures import AgentFigures
from orchestrator.runner import AgentRunner
from orchestrator.stream_json import EVENT_TEXT_MAX
from orchestrator.transcript import FILE_MAX, RESULT_MAX, TEXT_MAX, VALUE_MAX, TranscriptWriter

pytestmark = pytest.mark.timeout(20)

MOMENT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

AGENT = '''
import json
def emit(obj):
    print(obj if isinstance(obj, str) else json.dumps(obj), flush=True)
emit({"type": "system", "subtype": "init", "model": "claude-x", "session_id": "s-9", "cwd": "/w", "tools": ["Read"]})
usage = {"input_tokens": 7, "output_tokens": 3}
emit({"type": "assistant", "session_id": "s-9", "message": {"id": "m1", "usage": usage, "content": [
    {"type": "text", "text": "Looking at both files. " + "x" * 3000}]}})
emit({"type": "assistant", "session_id": "s-9", "message": {"id": "m1", "usage": usage, "content": [
    {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "a.py"}},
    {"type": "tool_use", "id": "t2", "name": "Write", "input": {"file_path": "b.py", "content": "y" * 5000}}]}})
emit("not json at all")
emit({"type": "user", "message": {"content": [
    {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "z" * 9000}]},
    {"type": "tool_result", "tool_use_id": "t2", "is_error": True, "content": "permission denied"}]}})
emit({"type": "result", "subtype": "success", "is_error": True, "result": "API error", "cost_usd": 0.05,
      "num_turns": 1, "session_id": "s-9"})
'''


@pytest.fixture
def ran(tmp_path):
    """One attempt of task 1.1 through the real runner, finished as the engine does."""
    script = tmp_path / "agent.py"
    script.write_text(textwrap.dedent(AGENT))
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    task_dir = tmp_path / "transcripts" / "1.1"
    writer = TranscriptWriter.open_next(task_dir, task_id="1.1", run_id="orch-1", plan_name="p", prompt="Do 1.1",
                                        clock=lambda: MOMENT)
    result = AgentRunner([sys.executable, str(script)], instance_id="orch-1", bus=bus).run(
        "Do 1.1", task_id="1.1", transcript=writer)
    writer.finish(outcome="failed", error=result.error, figures=result.figures,
                  malformed_lines=result.malformed_lines, duration_s=result.duration_s)
    return result, events, writer.path


def test_an_attempt_records_text_tool_calls_results_and_figures(ran):
    result, _, path = ran
    assert not result.success and result.error.startswith("agent reported an error")
    assert result.figures.outcome == "error" and result.figures.costUsd == 0.05
    assert result.figures.inputTokens == 7  # two lines of message m1, counted once
    records, malformed = read_records(path)
    assert malformed == 0
    assert [r["kind"] for r in records] == ["attempt", "init", "text", "tool_use", "tool_use", "tool_result",
                                            "tool_result", "result", "end"]
    assert [r["seq"] for r in records] == list(range(1, 10)) and {r["at"] for r in records} == {
        "2030-01-02T03:04:05.000Z"}
    items = transcript_items(records)
    read, write = [item for item in items if item["kind"] == "tool_call"]
    assert read["name"] == "Read" and read["finished"] and read["is_error"] is False
    assert read["result_chars"] == 9000 and len(read["result"]) < RESULT_MAX + 40
    assert write["is_error"] is True and write["result"] == "permission denied"
    assert write["input"]["file_path"] == "b.py" and len(write["input"]["content"]) < VALUE_MAX + 40
    end = items[-1]
    assert end["kind"] == "end" and end["outcome"] == "failed" and end["malformed_lines"] == 1
    assert end["figures"]["costUsd"] == 0.05 and end["figures"]["model"] == "claude-x"
    assert settled_seq(items) == 9


def test_agent_text_is_a_live_event_cut_for_the_wire(ran):
    _, events, _ = ran
    [text] = [event for event in events if event.type == "agent_text"]
    assert text.data["task_id"] == "1.1" and text.data["truncated"] is True
    assert text.data["text"].startswith("Looking at both files.") and len(text.data["text"]) < EVENT_TEXT_MAX + 40
    assert {event.data["task_id"] for event in events if event.type.startswith("tool_")} == {"1.1"}


def test_summaries_come_from_the_first_line_and_the_tail(ran, tmp_path):
    _, _, path = ran
    info = attempt_info(path, task_id="1.1", attempt=1)
    assert (info.run_id, info.outcome, info.started_at) == ("orch-1", "failed", "2030-01-02T03:04:05.000Z")
    assert info.figures == AgentFigures.from_dict(json.loads(path.read_text().splitlines()[-1])["figures"])
    second = TranscriptWriter.open_next(path.parent, task_id="1.1", run_id="orch-2", plan_name="p", prompt="again",
                                        clock=lambda: MOMENT)
    second.text("working")
    assert second.path.name == "attempt-2.jsonl"
    attempts = task_attempts(path.parent, task_id="1.1")
    assert [(a.attempt, a.outcome) for a in attempts] == [(1, "failed"), (2, None)]  # the second still runs
    assert [a.attempt for a in plan_attempts(tmp_path / "transcripts")] == [1, 2]
    second.close()


def test_a_line_cut_by_a_crash_is_counted_and_skipped(tmp_path):
    writer = TranscriptWriter.open_next(tmp_path, task_id="1.1", run_id="r", plan_name="p", prompt="p")
    writer.tool_use("t1", "Bash", {"command": "make"})
    writer.close()
    with open(writer.path, "ab") as f:
        f.write(b'{"seq": 3, "kind": "text", "te')
    records, malformed = read_records(writer.path)
    assert malformed == 1 and [r["kind"] for r in records] == ["attempt", "tool_use"]
    items = transcript_items(records)
    assert items[-1]["finished"] is False and settled_seq(items) == 1  # a follower re-reads the open call
    info = attempt_info(writer.path, task_id="1.1", attempt=1)
    assert info.outcome is None and info.figures is None


def test_a_full_file_keeps_its_result_and_end(tmp_path):
    writer = TranscriptWriter(tmp_path / "attempt-1.jsonl", task_id="1.1", attempt=1, run_id="r", plan_name="p",
                              prompt="p", max_bytes=4000)
    for number in range(50):
        writer.text(f"step {number} " + "w" * 200)
    writer.message({"type": "result", "subtype": "success", "is_error": False, "result": "r" * (TEXT_MAX * 2)})
    writer.finish(outcome="completed", error=None, figures=AgentFigures(costUsd=1.0), malformed_lines=0,
                  duration_s=1.0)
    records, _ = read_records(writer.path)
    kinds = [r["kind"] for r in records]
    assert kinds.count("truncated") == 1 and kinds[-2:] == ["result", "end"]
    assert writer.path.stat().st_size < 4000 + 2 * TEXT_MAX
    assert records[-1]["figures"]["costUsd"] == 1.0
    assert FILE_MAX == 2 * 1024 * 1024  # the cap docs/transcripts.md states


def test_a_transcript_that_cannot_be_written_does_not_stop_the_agent(tmp_path):
    writer = TranscriptWriter.open_next(tmp_path, task_id="1.1", run_id="r", plan_name="p", prompt="p")
    writer._file.close()
    writer._file = open("/dev/full", "ab")  # a full disk: every flush fails with ENOSPC
    writer.text("still fine")
    writer.finish(outcome="completed", error=None, figures=None, malformed_lines=0, duration_s=0.0)
    assert [r["kind"] for r in read_records(writer.path)[0]] == ["attempt"]
