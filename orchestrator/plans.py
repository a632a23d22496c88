"""Turn plan markdown into phases and tasks with the same ids the ecosystem's status.json files use."""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .fileio import IdentityCache

# Checklist items written before the first "## Phase N:" heading (and not under some
# other "##" section) are real work the author listed, so they are kept rather than
# dropped; they form a phase of their own with no number. Their id-less lines are
# numbered "0.K", the number the ecosystem's plans give a preparatory phase.
UNPHASED = "Unphased"
UNPHASED_NUMBER = 0

_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
# Numbers are bounded to the 4 digits an API task id may have (orchestrator.layout.TASK_ID_RE):
# a longer one would yield ids no URL can address, and past 4300 digits int() raises.
_PHASE_RE = re.compile(r"^Phase[ \t]+(\d{1,4})[ \t]*:[ \t]*(.*)$", re.IGNORECASE)
_FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")
_CHECK_RE = re.compile(r"^([ \t]*)[-*+][ \t]+\[([ xX])\](?:[ \t]+(.*))?$")
# "1.2 text", "1.2. text", "1.2: text", "**1.2** text", "**1.2:** text"
_ID_RE = re.compile(r"^(\*\*|__)?(\d{1,4}\.\d{1,4}(?:\.\d{1,4})?)\.?(?:\1)?[:.)]?(?:\1)?(?:[ \t]+(.*))?$")
# "**VERIFY Phase 1:**" introduces a checklist of acceptance checks for the phase.
_VERIFY_RE = re.compile(r"^[ \t]{0,3}[*_]*VERIFY\b")
_LIST_RE = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])(?:[ \t]|$)")


@dataclass(frozen=True)
class PlanTask:
    id: str
    description: str
    phase: str
    phase_number: int | None
    checked: bool
    line: int


@dataclass(frozen=True)
class Phase:
    number: int | None
    title: str
    tasks: tuple[PlanTask, ...]


@dataclass(frozen=True)
class ParsedPlan:
    title: str
    phases: tuple[Phase, ...]

    @property
    def tasks(self) -> tuple[PlanTask, ...]:
        return tuple(task for phase in self.phases for task in phase.tasks)


class _PhaseBuilder:
    """Collects one phase's items; ids for id-less lines are handed out once the whole plan is read."""

    def __init__(self, number: int | None, title: str):
        self.number = number
        self.title = title
        self._items: list[tuple[str | None, int, str, bool, int]] = []
        self._highest = 0

    def add(self, task_id: str | None, description: str, checked: bool, line: int) -> None:
        if task_id is not None and task_id.count(".") == 1:
            self._highest = max(self._highest, int(task_id.split(".")[1]))
        self._items.append((task_id, self._highest, description, checked, line))

    def build(self, explicit: set[str], seen: set[str]) -> Phase:
        """Number id-less lines and drop repeated ids (a status file could never address the second).

        Existing tools number a phase's items by position; continuing after the highest
        "N.M" written above gives the same ids, and skipping ids written anywhere in the
        plan keeps a generated id from shadowing an explicit one.
        """
        prefix = UNPHASED_NUMBER if self.number is None else self.number
        tasks, counter = [], 0
        for task_id, highest_above, description, checked, line in self._items:
            if task_id is None:
                counter = max(counter, highest_above) + 1
                while f"{prefix}.{counter}" in explicit:
                    counter += 1
                task_id = f"{prefix}.{counter}"
            if task_id in seen:
                continue
            seen.add(task_id)
            tasks.append(PlanTask(task_id, description, self.title, self.number, checked, line))
        return Phase(self.number, self.title, tuple(tasks))

    def explicit_ids(self) -> set[str]:
        return {item[0] for item in self._items if item[0] is not None}

    def __bool__(self) -> bool:
        return bool(self._items)


def _lines(text: str) -> list[str]:
    # str.splitlines() also breaks on \f, \x1c, \u2028 ..., which would shift line numbers.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _scan(lines: list[str]):
    """Yield (index, level, text) for every ATX heading outside fenced code, else (index, 0, line)."""
    fence: str | None = None
    for index, line in enumerate(lines):
        fence_match = _FENCE_RE.match(line)
        if fence is not None:
            if fence_match and fence_match.group(1)[0] == fence[0] and len(fence_match.group(1)) >= len(fence) \
                    and not fence_match.group(2).strip():
                fence = None
            continue
        if fence_match and not (fence_match.group(1)[0] == "`" and "`" in fence_match.group(2)):
            fence = fence_match.group(1)
            continue
        heading = _HEADING_RE.match(line)
        if heading:
            yield index, len(heading.group(1)), (heading.group(2) or "").strip()
        else:
            yield index, 0, line


def parse_plan(text: str) -> ParsedPlan:
    """Parse plan markdown into phases whose tasks carry the ids status.json files use.

    Tasks are checklist items inside a "## Phase N:" section, or before the first "##"
    section. Items under any other "##" section (Success Criteria, Overview ...) are
    acceptance notes, and so is the id-less checklist under a "**VERIFY ...**" line;
    an id-less "- [ ] **VERIFY 1**: ..." item itself is a task, as the ecosystem's status
    files record it. Indented id-less items describe their parent; indented items with an
    id ("1.2.1") are sub-tasks. Explicit ids are kept as written, never renumbered.
    """
    title = ""
    phases: list[_PhaseBuilder] = []
    unphased = current = _PhaseBuilder(None, UNPHASED)
    in_verify = False
    for index, level, content in _scan(_lines(text)):
        if level:
            in_verify = False
            if level == 1 and not title:
                title = content
            elif level <= 2:
                phase = _PHASE_RE.match(content) if level == 2 else None
                current = _PhaseBuilder(int(phase.group(1)), content) if phase else None
                if current is not None:
                    phases.append(current)
            continue
        item = _CHECK_RE.match(content)
        if not item:
            if _VERIFY_RE.match(content):
                in_verify = True
            elif content.strip() and not _LIST_RE.match(content) and not content[:1].isspace():
                in_verify = False
            continue
        body = (item.group(3) or "").strip()
        if current is None or not body:
            continue
        numbered = _ID_RE.match(body)
        if numbered:
            task_id, description = numbered.group(2), (numbered.group(3) or "").strip()
        elif item.group(1) or in_verify:
            continue
        else:
            task_id, description = None, body
        current.add(task_id, description, item.group(2) in "xX", index + 1)
    if unphased:
        phases.insert(0, unphased)
    explicit = set().union(*(builder.explicit_ids() for builder in phases))
    seen: set[str] = set()
    return ParsedPlan(title, tuple(builder.build(explicit, seen) for builder in phases))


def is_plan(text: str) -> bool:
    """A markdown file is a plan if it has at least one "## Phase N:" heading."""
    return any(level == 2 and _PHASE_RE.match(content) for _, level, content in _scan(_lines(text)))


_PLAN_CACHE = IdentityCache(maxsize=512)


def _parse_file(data: bytes, _stat: os.stat_result, _crc: int) -> ParsedPlan:
    return parse_plan(data.decode("utf-8", errors="replace").lstrip("\ufeff"))


def read_plan(path: Path) -> ParsedPlan:
    """Parse a plan file, reusing the previous parse while the file's identity is unchanged.

    Raises FileNotFoundError for a missing file: callers decide whether that is a 404.
    """
    plan = _PLAN_CACHE.load(Path(path), _parse_file)
    if plan is None:
        raise FileNotFoundError(os.fspath(path))
    return plan
