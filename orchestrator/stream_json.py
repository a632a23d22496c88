"""Claude Code's stream-json output, line by line, turned into tool and text events and transcript items.

Tolerant by design: agents print stray output, so a line that is no message is counted, never fatal.
"""

import json
from typing import Callable

from .events import EventType
from .figures import FigureTally
from .transcript import TranscriptWriter, cut

VALUE_MAX = 40  # one generic key=value pair, so several fit in one summary
EVENT_TEXT_MAX = 2000  # characters of agent text in one live event; the transcript keeps more
# The one input that says what a tool is doing, in the order Claude Code tools make it likely.
SUMMARY_KEYS = (
    "file_path", "notebook_path", "command", "pattern", "url", "query", "description", "path", "prompt",
)


def one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    limit = max(limit, 1)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _brief(value) -> str:
    if isinstance(value, dict):
        return f"{{{len(value)} key{'' if len(value) == 1 else 's'}}}"
    if isinstance(value, (list, tuple)):
        return f"[{len(value)} item{'' if len(value) == 1 else 's'}]"
    if isinstance(value, str):
        return one_line(value, VALUE_MAX)
    return one_line(json.dumps(value), VALUE_MAX)


def summarize_input(tool_input: dict, *, max_len: int = 120) -> str:
    """A one-line label for a tool call, because activity feeds show one line per tool."""
    if not isinstance(tool_input, dict):
        return one_line(_brief(tool_input), max_len)
    for key in SUMMARY_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            where = tool_input.get("path")
            if key == "pattern" and isinstance(where, str) and where:
                return one_line(f"{value} in {where}", max_len)
            return one_line(value, max_len)
    return one_line(", ".join(f"{key}={_brief(value)}" for key, value in tool_input.items()), max_len)


class StreamParser:
    """One agent run's stream-json.

    Tool events of a task carry its id as an extra `task_id` key, so a page can tell which
    task's transcript a live event belongs to.
    """

    def __init__(self, emit: Callable[[EventType, dict], None], clock: Callable[[], float], *,
                 task_id: str | None = None, transcript: TranscriptWriter | None = None):
        self._emit = emit
        self._clock = clock
        self._task_id = task_id
        self._task_key = {"task_id": task_id} if task_id else {}
        self._transcript = transcript
        self._open: dict[str, tuple[str, float]] = {}
        self._seen: set[str] = set()
        self.tool_calls = 0
        self.malformed_lines = 0
        self.last_text = ""
        self.result: dict | None = None
        self.tally = FigureTally()

    def feed(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            return
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not self._dispatch(message):
            self.malformed_lines += 1

    def _dispatch(self, message: dict) -> bool:
        kind = message.get("type")
        if not isinstance(kind, str):
            return False
        self.tally.observe(message)
        if kind == "result":
            self.result = message
        if kind not in ("assistant", "user"):
            if self._transcript is not None:
                self._transcript.message(message)
            return True
        body = message.get("message")
        if not isinstance(body, dict):
            return False
        content = body.get("content")
        if isinstance(content, str):
            return True
        if not isinstance(content, list):
            return False
        for block in content:
            if isinstance(block, dict):
                self._block(kind, block)
        return True

    def _block(self, kind: str, block: dict) -> None:
        block_type = block.get("type")
        if kind == "assistant" and block_type == "text" and isinstance(block.get("text"), str):
            self._text(block["text"])
        elif kind == "assistant" and block_type == "tool_use":
            self._tool_started(block)
        elif kind == "user" and block_type == "tool_result":
            self._tool_completed(str(block.get("tool_use_id")), success=not block.get("is_error"),
                                 content=block.get("content"))

    def _text(self, text: str) -> None:
        self.last_text = text
        if not text.strip():
            return
        if self._transcript is not None:
            self._transcript.text(text)
        shown, truncated = cut(text, EVENT_TEXT_MAX)
        self._emit(EventType.AGENT_TEXT, {"text": shown, "truncated": truncated, "task_id": self._task_id})

    def _tool_started(self, block: dict) -> None:
        tool_id = str(block.get("id") or f"tool-{self.tool_calls + 1}")
        if tool_id in self._seen:
            return
        self._seen.add(tool_id)
        self.tool_calls += 1
        name = str(block.get("name") or "unknown")
        self._open[tool_id] = (name, self._clock())
        tool_input = block.get("input") or {}
        if self._transcript is not None:
            self._transcript.tool_use(tool_id, name, tool_input)
        self._emit(EventType.TOOL_STARTED, {
            "tool_id": tool_id, "tool_name": name, "input_summary": summarize_input(tool_input), **self._task_key,
        })

    def _tool_completed(self, tool_id: str, *, success: bool, content=None) -> None:
        if tool_id not in self._open:
            return
        name, started = self._open.pop(tool_id)
        duration = round(max(self._clock() - started, 0.0), 3)
        if self._transcript is not None:
            self._transcript.tool_result(tool_id, content, is_error=not success, duration_s=duration)
        self._emit(EventType.TOOL_COMPLETED, {
            "tool_id": tool_id, "tool_name": name, "duration": duration, "success": success, **self._task_key,
        })

    def close_open_tools(self) -> None:
        """A tool without a result never finished; the feed must not show it running forever."""
        for tool_id in list(self._open):
            self._tool_completed(tool_id, success=False, content="(no result: the agent stopped first)")
