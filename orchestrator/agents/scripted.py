"""A fake Claude Code that prints believable stream-json, so the whole pipeline runs without an API key.

    python -m orchestrator.agents.scripted -p "<prompt>" [--task-id ID] [--mode ok|fail|hang|garbage]
        [--delay SCALE] [--findings-dir DIR] [--seed N]

Output: a system init line, 2-5 tool calls (Read, Grep, Edit, Bash, Write; inputs derived from the
prompt), each tool_use followed by its tool_result, assistant text, and a final result line.
With both a task id and a findings directory, `<findings-dir>/<task_id>.md` is really written
(FINDINGS-FORMAT style); nothing else on disk is touched. Claude Code's own flags
(--output-format, --verbose, --dangerously-skip-permissions ...) are accepted and ignored, so
this agent drops into any command template written for `claude`.

Modes:
    ok       succeed, exit 0
    fail     a tool_result with is_error, findings marked failed, an error result, exit 1
    hang     print a little, then sleep until killed (SIGTERM ends it)
    garbage  non-JSON and non-object lines between the real ones, still exit 0

Environment (for engine tests, whose command template is fixed for a whole plan):
    SCRIPTED_AGENT_FAIL_TASKS="1.2,2.1"   per-task mode; also SCRIPTED_AGENT_HANG_TASKS and
                                          SCRIPTED_AGENT_GARBAGE_TASKS
    SCRIPTED_AGENT_FAIL_ONCE_TASKS="1.2"  fail a task's first attempt only: an attempt after one whose
                                          findings say failed succeeds (the demo's task to Retry)
    SCRIPTED_AGENT_MODE=fail              mode for every other task
    SCRIPTED_AGENT_DELAY=0                default for --delay
--mode beats the per-task lists, which beat SCRIPTED_AGENT_MODE. The task id comes from
--task-id, else from the first "N.M" in the prompt.

Stdlib only and no package imports: SCRIPTED_AGENT_CMD runs this file by path, so it works from
any working directory (the orchestrator runs the agent inside the target repository).
"""

import argparse
import json
import os
import random
import re
import sys
import time
import uuid
import zlib
from datetime import datetime, timezone
from pathlib import Path

SCRIPTED_AGENT_CMD = [
    sys.executable, str(Path(__file__).resolve()), "-p", "{prompt}",
    "--task-id", "{task_id}", "--findings-dir", "{findings_dir}",
]
MODES = ("ok", "fail", "hang", "garbage")
STEP_DELAY_S = (0.2, 0.6)  # per step, times --delay: slow enough to watch, fast enough to demo
MODEL = "claude-sonnet-4-5-scripted"
# USD per million tokens (input, output, cache read, cache write), in the range of Claude's list prices,
# so the demo shows believable costs; like Claude Code's own figure it is an estimate.
PRICES = {"input_tokens": 3.0, "output_tokens": 15.0, "cache_read_input_tokens": 0.3,
          "cache_creation_input_tokens": 3.75}
TOOLS = ["Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "TodoWrite", "WebFetch"]
GARBAGE = [
    "Loading project context...",
    '{"type": "assistant", "message": ',
    "[1, 2, 3]",
    "\x1b[2K\x1b[1G⠋ thinking",
    "Warning: stdin is not a terminal",
]
TASK_ID_RE = re.compile(r"\b(\d{1,4}\.\d{1,4}(?:\.\d{1,4})?)\b")
PATH_RE = re.compile(r"(?<![\w/.])((?:[\w.-]+/)*[\w-]+\.(?:py|js|ts|tsx|md|json|yaml|yml|toml|sh|html|css))\b")
IDENT_RE = re.compile(r"\b([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+|[a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b")
WORD_RE = re.compile(r"[A-Za-z]{4,}")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _listed(environ, name: str, task_id: str) -> bool:
    return bool(task_id) and task_id in {item.strip() for item in environ.get(name, "").split(",")}


def failed_before(findings_dir: str, task_id: str) -> bool:
    """Whether this task's last attempt wrote findings marked failed (the one state fail-once keeps)."""
    try:
        text = (Path(findings_dir) / f"{task_id}.md").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return False
    return "**Status:** failed" in text


def choose_mode(task_id: str, explicit: str | None, environ, findings_dir: str = "") -> str:
    if explicit:
        return explicit
    for mode in ("fail", "hang", "garbage"):
        if _listed(environ, f"SCRIPTED_AGENT_{mode.upper()}_TASKS", task_id):
            return mode
    if _listed(environ, "SCRIPTED_AGENT_FAIL_ONCE_TASKS", task_id) and findings_dir:
        return "ok" if failed_before(findings_dir, task_id) else "fail"
    mode = environ.get("SCRIPTED_AGENT_MODE", "ok")
    return mode if mode in MODES else "ok"


class Work:
    """What the prompt is about: the task, the files and names it mentions."""

    def __init__(self, prompt: str, task_id: str):
        self.prompt = prompt
        self.task_id = task_id or next(iter(TASK_ID_RE.findall(prompt)), "")
        self.description = self._description()
        words = WORD_RE.findall(self.description) or ["task"]
        slug = "_".join(word.lower() for word in words[:3])
        # The task's own files are the targets; the plan is context; outputs are the orchestrator's.
        named = list(dict.fromkeys(PATH_RE.findall(self.description)))
        context = [path for path in dict.fromkeys(PATH_RE.findall(prompt)) if "plan-outputs" not in path]
        self.target = named[-1] if named else f"src/{slug}.py"
        self.context = (named or context or [self.target])[0]
        self.symbol = next(iter(IDENT_RE.findall(self.description)), max(words, key=len))
        self.test_file = f"tests/test_{Path(self.target).stem}.py"

    def _description(self) -> str:
        lines = [line.strip(" -*#\t") for line in self.prompt.splitlines() if line.strip()]
        for line in lines:
            if self.task_id and self.task_id in line:
                rest = line.split(self.task_id, 1)[1].strip(" :-")
                if rest:
                    return rest[:160]
        return (lines[0] if lines else "Scripted task")[:160]


class Agent:
    """Prints one session; every line is flushed at once because the runner streams it live."""

    def __init__(self, work: Work, *, mode: str, delay: float, findings_dir: str, rng: random.Random):
        self.work = work
        self.mode = mode
        self.delay = delay
        self.findings_dir = findings_dir
        self.rng = rng
        self.session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.started = time.monotonic()
        self.started_iso = _now_iso()
        self.turns = 0
        self.usage = dict.fromkeys(PRICES, 0)
        self.files_touched: list[str] = []
        self._turn: tuple[str, dict] | None = None  # the id and usage a following block may share

    def emit(self, message: dict) -> None:
        print(json.dumps(message), flush=True)
        if self.mode == "garbage" and message.get("type") != "result":
            print(self.rng.choice(GARBAGE), flush=True)

    def pause(self) -> None:
        if self.delay > 0:
            time.sleep(self.rng.uniform(*STEP_DELAY_S) * self.delay)

    def assistant(self, block: dict, *, same_turn: bool = False) -> None:
        """One content block per line, as Claude Code prints them: blocks of one turn repeat its
        message id and usage (readers must count that usage once)."""
        if not (same_turn and self._turn):
            self.turns += 1
            context = sum(self.usage.values())
            usage = {"input_tokens": self.rng.randint(3, 40), "output_tokens": self.rng.randint(20, 400),
                     "cache_read_input_tokens": context, "cache_creation_input_tokens": self.rng.randint(200, 3000)}
            for key, value in usage.items():
                self.usage[key] += value
            self._turn = (f"msg_{self.rng.getrandbits(96):024x}", usage)
        message_id, usage = self._turn
        self.emit({
            "type": "assistant", "session_id": self.session_id, "parent_tool_use_id": None,
            "message": {
                "id": message_id, "type": "message", "role": "assistant",
                "model": MODEL, "content": [block], "stop_reason": None, "usage": usage,
            },
        })

    def say(self, text: str) -> None:
        self.assistant({"type": "text", "text": text})

    def cost(self) -> float:
        return round(sum(self.usage[key] * price for key, price in PRICES.items()) / 1_000_000, 6)

    def tool(self, name: str, tool_input: dict, output: str, *, is_error: bool = False,
             same_turn: bool = False) -> None:
        tool_id = f"toolu_{self.rng.getrandbits(96):024x}"
        self.assistant({"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}, same_turn=same_turn)
        self.pause()
        self.emit({
            "type": "user", "session_id": self.session_id, "parent_tool_use_id": None,
            "message": {"role": "user", "content": [
                {"tool_use_id": tool_id, "type": "tool_result", "content": output, "is_error": is_error},
            ]},
        })
        self.pause()

    def run(self) -> int:
        work = self.work
        self.emit({
            "type": "system", "subtype": "init", "cwd": os.getcwd(), "session_id": self.session_id,
            "tools": TOOLS, "mcp_servers": [], "model": MODEL,
            "permissionMode": "bypassPermissions", "apiKeySource": "none",
        })
        label = f"task {work.task_id}" if work.task_id else "this task"
        self.say(f"I'll start on {label}: {work.description}. First, let me look at the relevant code.")
        if self.mode == "hang":
            self.assistant({"type": "tool_use", "id": f"toolu_{self.rng.getrandbits(96):024x}", "name": "Bash",
                            "input": {"command": "npm run dev", "description": "Start the dev server"}})
            while True:
                time.sleep(3600)
        writes_findings = bool(self.findings_dir and work.task_id)
        # The findings Write takes the place of the notes Write; the failing test run comes last.
        optional = [self.grep, self.edit, *([] if writes_findings else [self.write_notes]), self.bash]
        count = self.rng.randint(2, 5) - 1 - writes_findings
        chosen = sorted(self.rng.sample(optional, count), key=optional.index)
        if self.mode == "fail" and self.bash not in chosen:
            chosen = chosen[: 3 - writes_findings] + [self.bash]
        for step in [self.read, *chosen]:
            step()
        failed = self.mode == "fail"
        if writes_findings:
            self.write_findings(failed=failed)
        changed = f" Changed {', '.join(self.files_touched)}." if self.files_touched else ""
        summary = (f"Could not finish {label}: the tests fail.{changed}" if failed
                   else f"Finished {label}: {work.description}.{changed}")
        self.say(summary)
        duration_ms = int((time.monotonic() - self.started) * 1000)
        self.emit({
            "type": "result", "subtype": "error_during_execution" if failed else "success", "is_error": failed,
            "duration_ms": duration_ms, "duration_api_ms": duration_ms, "num_turns": self.turns,
            "result": summary, "session_id": self.session_id, "total_cost_usd": self.cost(),
            "usage": dict(self.usage),
            "modelUsage": {MODEL: {
                "inputTokens": self.usage["input_tokens"], "outputTokens": self.usage["output_tokens"],
                "cacheReadInputTokens": self.usage["cache_read_input_tokens"],
                "cacheCreationInputTokens": self.usage["cache_creation_input_tokens"], "costUSD": self.cost(),
            }},
        })
        return 1 if failed else 0

    def read(self) -> None:
        path = self.work.context
        source = ([f"# {Path(path).stem}", "", f"- [ ] {self.work.task_id} {self.work.description}"]
                  if path.endswith(".md") else
                  ['"""Module under change."""', "", "import json", "", "",
                   f"def {self.work.symbol.lower()}(data):", "    return json.dumps(data)"])
        body = "\n".join(f"{n:>6}\t{line}" for n, line in enumerate(source, start=1))
        self.tool("Read", {"file_path": path}, body, same_turn=True)  # the opening words share its turn

    def grep(self) -> None:
        hits = list(dict.fromkeys([self.work.target, self.work.test_file, self.work.context]))
        self.tool("Grep", {"pattern": self.work.symbol, "path": ".", "output_mode": "files_with_matches"},
                  f"Found {len(hits)} files\n" + "\n".join(hits))

    def edit(self) -> None:
        path = self.work.target
        self.files_touched.append(path)
        name = self.work.symbol.lower()
        self.tool("Edit", {"file_path": path, "old_string": f"def {name}(data):",
                           "new_string": f"def {name}(data, *, strict=False):"},
                  f"The file {path} has been updated.")

    def bash(self) -> None:
        command = f"python -m pytest -q {self.work.test_file}"
        if self.mode == "fail":
            self.tool("Bash", {"command": command, "description": "Run the tests"},
                      f"F.\n=== FAILURES ===\nFAILED {self.work.test_file}::test_{self.work.symbol.lower()} "
                      "- AssertionError\n1 failed, 1 passed in 0.41s", is_error=True)
        else:
            passed = self.rng.randint(3, 40)
            self.tool("Bash", {"command": command, "description": "Run the tests"},
                      "." * passed + f"\n{passed} passed in {self.rng.uniform(0.2, 3):.2f}s")

    def write_notes(self) -> None:
        path = f"notes/{Path(self.work.target).stem}.md"
        self.files_touched.append(path)
        self.tool("Write", {"file_path": path, "content": f"# Notes\n\n{self.work.description}\n"},
                  f"File created successfully at: {path}")

    def write_findings(self, *, failed: bool) -> None:
        path = Path(self.findings_dir) / f"{self.work.task_id}.md"
        text = self.findings(failed=failed)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)  # the API may be reading findings while the agent writes them
        self.tool("Write", {"file_path": str(path), "content": text}, f"File created successfully at: {path}")

    def findings(self, *, failed: bool) -> str:
        work = self.work
        elapsed = time.monotonic() - self.started
        lines = [
            f"# Task {work.task_id}: {work.description}", "",
            f"**Status:** {'failed' if failed else 'completed'}",
            f"**Started:** {self.started_iso}", f"**Completed:** {_now_iso()}",
            f"**Duration:** {elapsed:.1f}s", "", "## Summary", "",
            (f"Attempted {work.description[:1].lower() + work.description[1:]}, but the tests fail."
             if failed else f"Completed: {work.description}."), "",
            "## Details", "",
            f"Read `{work.context}` and traced `{work.symbol}` through its callers and tests.",
        ]
        if self.files_touched:
            lines += ["", "## Files Modified", "", *[f"- `{path}` - updated for task {work.task_id}"
                                                     for path in self.files_touched]]
        if failed:
            lines += ["", "## Errors", "", f"`{work.test_file}` fails after the change (AssertionError)."]
        return "\n".join(lines) + "\n"


def parse_args(argv: list[str], environ) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.agents.scripted",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("-p", "--prompt", required=True)
    parser.add_argument("--task-id", default="")
    parser.add_argument("--mode", choices=MODES)
    parser.add_argument("--delay", type=float, default=float(environ.get("SCRIPTED_AGENT_DELAY", 1.0)),
                        help="scale of the 0.2-0.6 s pauses between steps (0: none)")
    parser.add_argument("--findings-dir", default="")
    parser.add_argument("--seed", type=int)
    args, _claude_flags = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None, environ=None) -> int:
    environ = os.environ if environ is None else environ
    args = parse_args(sys.argv[1:] if argv is None else argv, environ)
    work = Work(args.prompt, args.task_id)
    seed = args.seed if args.seed is not None else zlib.crc32(f"{work.task_id}\n{args.prompt}".encode())
    agent = Agent(work, mode=choose_mode(work.task_id, args.mode, environ, args.findings_dir),
                  delay=max(args.delay, 0.0),
                  findings_dir=args.findings_dir, rng=random.Random(seed))
    try:
        return agent.run()
    except BrokenPipeError:
        # The reader is gone (the orchestrator stopped); exit without a traceback on the dead pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
