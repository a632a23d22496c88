"""Reads of a plan's findings files (docs/plan-outputs/<plan>/findings/*.md) and the tasks they belong to."""

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from orchestrator.errors import FindingNotFound, InvalidName
from orchestrator.layout import PlanFiles, RepoLayout, check_task_id

from .orchestrators import instance_get
from .plans import plan_locate

# A finding is prose; anything bigger is not meant to travel in a JSON reply.
MAX_FINDING_BYTES = 1_000_000

# Real repositories name findings "1.1.md", "1.1-some-slug.md" or "1-1-some-slug.md"; a
# sub-task's file "1.2.3.md" or "1-2-3-slug.md". One separator style per id, so that in
# "13.5-13.7-tests.md" the id is 13.5, and a slug starting with a digit ("1-2-3d-...")
# does not make a sub-task.
_DOTTED_RE = re.compile(r"^(\d{1,4}(?:\.\d{1,4}){1,2})(?=$|[-_ ])")
_DASHED_RE = re.compile(r"^(\d{1,4}(?:-\d{1,4}){1,2})(?=$|[-_ ])")


@dataclass(frozen=True)
class FindingFile:
    task_id: str | None
    file: str
    path: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class FindingContent(FindingFile):
    content: str = ""
    truncated: bool = False


@dataclass(frozen=True)
class Finding:
    plan: str
    task_id: str
    files: tuple[FindingContent, ...]
    modified: float


def finding_task_id(filename: str) -> str | None:
    """The task a findings file belongs to, or None for plan-level notes ("executive-summary.md")."""
    stem = filename[:-3] if filename.endswith(".md") else filename
    dotted = _DOTTED_RE.match(stem)
    if dotted:
        return dotted.group(1)
    dashed = _DASHED_RE.match(stem)
    return dashed.group(1).replace("-", ".") if dashed else None


def _sort_key(finding: FindingFile):
    numbers = tuple(int(part) for part in finding.task_id.split(".")) if finding.task_id else (float("inf"),)
    return numbers, finding.file


def _entries(layout: RepoLayout, directory: Path):
    """(DirEntry, stat) of each regular *.md file whose real location stays inside `directory`."""
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if not entry.name.endswith(".md"):
            continue
        try:
            path = layout.contained(Path(entry.path), directory)
            st = os.stat(path)
        except (InvalidName, OSError):
            continue  # a symlink out of the findings directory, or gone since the listing
        if os.path.isfile(path):
            yield entry, st


def _finding(layout: RepoLayout, entry: os.DirEntry, st: os.stat_result, task_id: str | None) -> FindingFile:
    return FindingFile(
        task_id=task_id,
        file=entry.name,
        path=layout.relative(Path(entry.path)),
        size=st.st_size,
        modified=datetime.fromtimestamp(st.st_mtime, tz=timezone.utc),
    )


def _located(layout: RepoLayout, name: str | None, instance_id: str | None) -> PlanFiles:
    """A plan by name (the repository's), or the plan an instance runs (its worktree's, if any)."""
    if instance_id is None:
        return plan_locate(layout=layout, name=name)
    return layout.instance_plan(instance_get(layout=layout, instance_id=instance_id))


def finding_list(*, layout: RepoLayout, name: str | None = None, instance_id: str | None = None) -> list[FindingFile]:
    """Every findings file of the plan (or of an instance's plan), by task id (plan-level notes last)."""
    files = _located(layout, name, instance_id)
    findings = [_finding(files.tree, entry, st, finding_task_id(entry.name))
                for entry, st in _entries(files.tree, files.findings_dir)]
    return sorted(findings, key=_sort_key)


def _read(path: str) -> tuple[str, bool]:
    with open(path, "rb") as handle:
        data = handle.read(MAX_FINDING_BYTES + 1)
    return data[:MAX_FINDING_BYTES].decode("utf-8", errors="replace"), len(data) > MAX_FINDING_BYTES


def finding_get(*, layout: RepoLayout, task_id: str, name: str | None = None,
                instance_id: str | None = None) -> Finding:
    """The content of every findings file of one task. InvalidName, PlanNotFound, InstanceNotFound, FindingNotFound."""
    check_task_id(task_id)
    files = _located(layout, name, instance_id)
    name = files.name
    contents, modified = [], 0.0
    for entry, st in _entries(files.tree, files.findings_dir):
        if finding_task_id(entry.name) != task_id:
            continue
        try:
            content, truncated = _read(entry.path)
        except OSError:
            continue
        base = _finding(files.tree, entry, st, task_id)
        contents.append(FindingContent(**vars(base), content=content, truncated=truncated))
        modified = max(modified, st.st_mtime)
    if not contents:
        raise FindingNotFound(f"No findings for task {task_id} of plan {name!r}.", name=name, task_id=task_id)
    return Finding(plan=name, task_id=task_id, files=tuple(sorted(contents, key=_sort_key)), modified=modified)
