"""One task attempt's transcript: an append-only JSON Lines file of what the agent said and did, and what it cost.

Where: `docs/plan-outputs/<plan>/transcripts/<task_id>/attempt-<n>.jsonl`, next to the plan's
status.json and findings, numbered 1, 2 ... per task across runs. One JSON object per line,
each with `seq` (1, 2 ... within the file), `kind` and `at` (ISO-8601 UTC):

    attempt      taskId, attempt, runId, planName, prompt (cut to TEXT_MAX)   always the first line
    init         model, sessionId, cwd, tools (the first TOOLS_MAX names)
    text         text                                                          an assistant text block
    tool_use     toolId, name, input (strings cut to VALUE_MAX, all of it to INPUT_MAX)
    tool_result  toolId, isError, content (cut to RESULT_MAX), chars (its full length), durationS
    result       subtype, isError, outcome, result (cut to TEXT_MAX)           Claude Code's last line
    truncated    reason, maxBytes                                              FILE_MAX reached
    end          outcome (completed | failed), error, figures, malformedLines, durationS

Bounded: once a file reaches FILE_MAX bytes, text and tool lines are dropped (one `truncated`
line says so) and only `result` and `end` are still written, so the figures are never lost.
A line cut short by a crash is skipped by readers (orchestrator.attempts). Writing never
fails the run: after an OSError the transcript stops and the agent goes on.
"""

import json
import logging
import os
import re
from pathlib import Path

from .clock import Clock, iso, utc_now
from .figures import AgentFigures, result_outcome

logger = logging.getLogger(__name__)

TEXT_MAX = 8000  # characters of one text block, the prompt or the final result
VALUE_MAX = 2000  # characters of one string inside a tool input (a Write's content, say)
INPUT_MAX = 8000  # characters of a tool input's JSON once its strings are cut
RESULT_MAX = 2000  # characters of a tool result: enough to see an error, not a whole file
TOOLS_MAX = 100
ITEMS_MAX = 50  # list items kept inside a tool input
FILE_MAX = 2 * 1024 * 1024  # bytes per attempt file
ATTEMPT_FILE_RE = re.compile(r"^attempt-(\d{1,6})\.jsonl$")


def cut(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit] + f"… [{len(text) - limit} more characters]", True


def _cap(value, depth: int = 0):
    """A tool input with long strings and lists shortened, its structure kept for display."""
    if isinstance(value, str):
        return cut(value, VALUE_MAX)[0]
    if depth > 8:
        return "…"
    if isinstance(value, dict):
        return {str(key): _cap(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        kept = [_cap(item, depth + 1) for item in value[:ITEMS_MAX]]
        return kept + ([f"… [{len(value) - ITEMS_MAX} more items]"] if len(value) > ITEMS_MAX else [])
    return value


def capped_input(tool_input) -> tuple[object, bool]:
    """(input to store, whether it had to be replaced by a cut JSON string)."""
    capped = _cap(tool_input)
    encoded = json.dumps(capped, ensure_ascii=False)
    if len(encoded) <= INPUT_MAX:
        return capped, False
    return cut(encoded, INPUT_MAX)[0], True


def result_text(content) -> str:
    """A tool_result's content as text: a string, or text blocks joined (images named, not kept)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return "" if content is None else json.dumps(content, ensure_ascii=False)
    parts = []
    for block in content:
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif isinstance(block, dict):
            parts.append(f"[{block.get('type') or 'block'}]")
        else:
            parts.append(str(block))
    return "\n".join(parts)


def attempt_path(task_dir: Path, attempt: int) -> Path:
    return task_dir / f"attempt-{attempt}.jsonl"


def attempt_numbers(task_dir: Path) -> list[int]:
    try:
        names = os.listdir(task_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(match.group(1)) for match in map(ATTEMPT_FILE_RE.match, names) if match)


class TranscriptWriter:
    """Writes one attempt's file; every line is flushed so the API can show it while the agent runs.

    Only the orchestrator's runner thread writes, one line per call; there is no lock.
    """

    def __init__(self, path: Path, *, task_id: str, attempt: int, run_id: str, plan_name: str, prompt: str,
                 clock: Clock = utc_now, max_bytes: int = FILE_MAX):
        self.path = path
        self.attempt = attempt
        self._clock = clock
        self._max_bytes = max_bytes
        self._seq = 0
        self._size = 0
        self._full = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "xb")  # a number is never reused, even by a racing writer
        self._write("attempt", True, taskId=task_id, attempt=attempt, runId=run_id, planName=plan_name,
                    prompt=cut(prompt, TEXT_MAX)[0])

    @classmethod
    def open_next(cls, task_dir: Path, **header) -> "TranscriptWriter":
        """The task's next attempt: one past the highest number on disk."""
        number = (attempt_numbers(task_dir) or [0])[-1] + 1
        while True:
            try:
                return cls(attempt_path(task_dir, number), attempt=number, **header)
            except FileExistsError:
                number += 1

    def _write(self, kind: str, essential: bool, **fields) -> None:
        if self._file is None or (self._full and not essential):
            return
        record = {"seq": self._seq + 1, "kind": kind, "at": iso(self._clock()), **fields}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        if not essential and self._size + len(line) > self._max_bytes:
            if not self._full:
                self._full = True
                self._write("truncated", True, reason="file size cap reached", maxBytes=self._max_bytes)
            return
        try:
            self._file.write(line)
            self._file.flush()
        except OSError as exc:
            logger.warning("Transcript %s stopped: %s", self.path, exc)
            self.close()
            return
        self._seq += 1
        self._size += len(line)

    # -- the stream, as the runner parses it ------------------------------------------------

    def message(self, message: dict) -> None:
        """Lines that are not content blocks: the session's init and Claude Code's result."""
        kind = message.get("type")
        if kind == "system" and message.get("subtype") == "init":
            tools = message.get("tools")
            self._write("init", False, model=message.get("model"), sessionId=message.get("session_id"),
                        cwd=message.get("cwd"),
                        tools=[str(tool) for tool in tools[:TOOLS_MAX]] if isinstance(tools, list) else [])
        elif kind == "result":
            text = message.get("result")
            self._write("result", True, subtype=message.get("subtype"), isError=message.get("is_error") is True,
                        outcome=result_outcome(message),
                        result=cut(text, TEXT_MAX)[0] if isinstance(text, str) else None)

    @property
    def full(self) -> bool:
        """Past FILE_MAX: text and tool lines are dropped, so callers need not even shorten them."""
        return self._full or self._file is None

    def text(self, text: str) -> None:
        if self.full:
            return
        self._write("text", False, text=cut(text, TEXT_MAX)[0])

    def tool_use(self, tool_id: str, name: str, tool_input) -> None:
        if self.full:
            return
        stored, truncated = capped_input(tool_input)
        self._write("tool_use", False, toolId=tool_id, name=name, input=stored,
                    **({"inputTruncated": True} if truncated else {}))

    def tool_result(self, tool_id: str, content, *, is_error: bool, duration_s: float | None) -> None:
        if self.full:
            return
        text = result_text(content)
        self._write("tool_result", False, toolId=tool_id, isError=is_error, content=cut(text, RESULT_MAX)[0],
                    chars=len(text), durationS=duration_s)

    # -- the end --------------------------------------------------------------------------

    def finish(self, *, outcome: str, error: str | None, figures: AgentFigures | None, malformed_lines: int,
               duration_s: float) -> None:
        self._write("end", True, outcome=outcome, error=error, figures=figures.to_dict() if figures else None,
                    malformedLines=malformed_lines, durationS=duration_s)
        self.close()

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
