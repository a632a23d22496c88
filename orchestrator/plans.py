"""Turn plan markdown into phases and tasks exactly as the ecosystem's status.json initialiser does.

The rules (docs/plan-format.md) were derived from, and are checked against, what upstream's
`status-cli.js init` writes for every plan of its own corpus (tests/fixtures/upstream-init):
a task list that differs from upstream's makes its `sync-check` report tasks that exist on
one side only, and its agent mark ids our server has never heard of.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .filecache import plan_files

# The phase name status files fall back to for a task that names none (hand-written or
# other tools' files); the parser itself never produces one, since it keeps only tasks
# under a "## Phase N:" heading.
UNPHASED = "Unphased"

# JavaScript's "." stops at these four line terminators and Python's only at "\n"; the
# initialiser's regexes are JavaScript, so a line holding one of the others is no match.
_ANY = r"[^\n\r\u2028\u2029]"
_TITLE_RE = re.compile(rf"#\s+({_ANY}+)")
_PHASE_RE = re.compile(rf"##\s+Phase\s+([0-9]+):\s*({_ANY}+)")
_TASK_RE = re.compile(rf"-\s+\[[ x]\]\s+([0-9]+\.[0-9]+(?:\.[0-9]+)?)\s+({_ANY}+)")

# The only status a fresh status file gives a task: a "[x]" in the markdown is the
# author's note, and status.json, not the markdown, says what has been done.
INITIAL_STATUS = "pending"


@dataclass(frozen=True)
class PlanTask:
    id: str
    description: str
    phase: str


@dataclass(frozen=True)
class Phase:
    title: str
    tasks: tuple[PlanTask, ...]


@dataclass(frozen=True)
class ParsedPlan:
    title: str
    phases: tuple[Phase, ...]

    @property
    def tasks(self) -> tuple[PlanTask, ...]:
        return tuple(task for phase in self.phases for task in phase.tasks)

    def initial_tasks(self) -> list[dict]:
        """The `tasks` list a status file starts with, key for key as the initialiser writes it."""
        return [{"id": task.id, "phase": task.phase, "description": task.description, "status": INITIAL_STATUS}
                for task in self.tasks]


def _lines(text: str) -> list[str]:
    # Upstream splits on "\n" only, so a CRLF plan yields it no task at all (its "." refuses
    # the "\r"); we read CR and CRLF endings as line breaks instead, the one deliberate difference.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _phase_title(number: str, name: str) -> str:
    # parseInt("07") is 7: the status file says "Phase 7: ...", whatever the heading's spelling.
    return f"Phase {number.lstrip('0') or '0'}: {name.strip()}"


def parse_plan(text: str) -> ParsedPlan:
    """Parse plan markdown into the phases and tasks status.json records (rules: docs/plan-format.md).

    The title is the first "# " heading. A phase starts at each "## Phase N: name" line and
    runs to the next one, whatever other headings lie between. A task is an unindented
    "- [ ] N.M text" or "- [x] N.M text" (also "N.M.K") inside a phase; everything else
    (id-less items, indented items, "[X]", items before the first phase) is prose.
    Fenced code is not special, and repeated ids are kept, because upstream's are.
    """
    title = ""
    phases: list[tuple[str, list[PlanTask]]] = []
    for line in _lines(text):
        if not title:
            heading = _TITLE_RE.fullmatch(line)
            if heading:
                title = heading.group(1).strip()
        phase = _PHASE_RE.fullmatch(line)
        if phase:
            phases.append((_phase_title(*phase.groups()), []))
            continue
        task = _TASK_RE.fullmatch(line)
        if task and phases:
            phase_title, tasks = phases[-1]
            tasks.append(PlanTask(task.group(1), task.group(2).strip(), phase_title))
    return ParsedPlan(title, tuple(Phase(name, tuple(tasks)) for name, tasks in phases))


def is_plan(text: str) -> bool:
    """A markdown file is a plan if it has at least one "## Phase N: name" line."""
    return any(_PHASE_RE.fullmatch(line) for line in _lines(text))


def _parse_file(data: bytes, _stat: os.stat_result, _crc: int) -> ParsedPlan:
    return parse_plan(data.decode("utf-8", errors="replace").lstrip("\ufeff"))


def read_plan(path: Path) -> ParsedPlan:
    """Parse a plan file, reusing the previous parse while the file's identity is unchanged.

    Raises FileNotFoundError for a missing file: callers decide whether that is a 404.
    """
    plan = plan_files.load(Path(path), _parse_file)
    if plan is None:
        raise FileNotFoundError(os.fspath(path))
    return plan
