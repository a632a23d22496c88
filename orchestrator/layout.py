"""Where a repository keeps plans, status files, findings, the registry and event journals.

Every path built from outside input goes through here, so that one check keeps
requests inside `docs/plans` and `docs/plan-outputs`.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Iterator

from .errors import InvalidName

# Plan names are file stems: no separators, no leading dot, nothing that decodes to one.
PLAN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
TASK_ID_RE = re.compile(r"^\d{1,4}(\.\d{1,4}){1,2}$")
INSTANCE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_plan_name(name: str) -> str:
    if not isinstance(name, str) or not PLAN_NAME_RE.match(name) or ".." in name:
        raise InvalidName(f"Malformed plan name: {name!r}.", field="name")
    return name


def check_task_id(task_id: str) -> str:
    if not isinstance(task_id, str) or not TASK_ID_RE.match(task_id):
        raise InvalidName(f"Malformed task id: {task_id!r} (expected N.M or N.M.K).", field="task_id")
    return task_id


def check_instance_id(instance_id: str) -> str:
    if not isinstance(instance_id, str) or not INSTANCE_ID_RE.match(instance_id) or ".." in instance_id:
        raise InvalidName(f"Malformed instance id: {instance_id!r}.", field="instance_id")
    return instance_id


def plan_identity(plan_path: str) -> tuple[str, bool]:
    """The plan a registry entry names: its name and whether it is archived (InvalidName if no URL could).

    Only these two are taken from the path, so an odd path can never lead outside docs/.
    """
    path = PurePath(plan_path)
    return check_plan_name(path.stem), path.parent.name == "archive"


def _git_common_dir(tree: Path) -> str | None:
    """The shared .git directory of a checkout or of one of its `git worktree add` trees, resolved."""
    dot_git = tree / ".git"
    if dot_git.is_dir():
        return os.path.realpath(dot_git)
    try:
        pointer = dot_git.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    if not pointer.startswith("gitdir:"):
        return None
    gitdir = Path(tree, pointer[len("gitdir:"):].strip())
    try:
        common = (gitdir / "commondir").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return os.path.realpath(gitdir)
    return os.path.realpath(gitdir / common)


@dataclass(frozen=True)
class RepoLayout:
    """The documented file layout under one repository root."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike) -> "RepoLayout":
        return cls(Path(root).resolve())

    @property
    def plans_dir(self) -> Path:
        return self.root / "docs" / "plans"

    @property
    def archived_plans_dir(self) -> Path:
        return self.plans_dir / "archive"

    @property
    def outputs_dir(self) -> Path:
        return self.root / "docs" / "plan-outputs"

    @property
    def archived_outputs_dir(self) -> Path:
        return self.outputs_dir / "archive"

    @property
    def registry_path(self) -> Path:
        return self.root / ".claude" / "orchestrator-registry.json"

    @property
    def journal_dir(self) -> Path:
        return self.root / ".claude" / "orchestrator-events"

    def plan_file(self, name: str, *, archived: bool) -> Path:
        base = self.archived_plans_dir if archived else self.plans_dir
        return self.contained(base / f"{check_plan_name(name)}.md", base)

    def output_dir(self, name: str, *, archived: bool) -> Path:
        base = self.outputs_base(archived=archived)
        return self.contained(base / check_plan_name(name), base)

    def status_file(self, name: str, *, archived: bool) -> Path:
        # Checked itself too: a status.json symlinked out of the tree would otherwise be read and written.
        return self._output(name, "status.json", archived=archived)

    def findings_dir(self, name: str, *, archived: bool) -> Path:
        return self._output(name, "findings", archived=archived)

    def transcripts_dir(self, name: str, *, archived: bool) -> Path:
        return self._output(name, "transcripts", archived=archived)

    def task_transcripts_dir(self, name: str, task_id: str, *, archived: bool) -> Path:
        """One task's attempt files (orchestrator.transcript); the id is checked, it names a directory."""
        base = self.transcripts_dir(name, archived=archived)
        return self.contained(base / check_task_id(task_id), base)

    def logs_dir(self, name: str) -> Path:
        """Output of the orchestrators the server started for the plan, one file per run."""
        return self._output(name, "logs", archived=False)

    def _output(self, name: str, entry: str, *, archived: bool) -> Path:
        base = self.outputs_base(archived=archived)
        return self.contained(self.output_dir(name, archived=archived) / entry, base)

    def worktree(self, worktree_path: str | None) -> "RepoLayout":
        """The layout of a git worktree of this repository (this one for None or for its own root).

        The registry is written by any tool, so a path is only followed to a `git worktree add`
        tree of this very repository; anything else is InvalidName, never a directory read.
        """
        if not worktree_path:
            return self
        tree = Path(os.path.realpath(self.root / worktree_path))
        if tree == Path(os.path.realpath(self.root)):
            return self
        common = _git_common_dir(tree)
        if common is None or common != _git_common_dir(self.root):
            raise InvalidName("The registry's worktree_path is not a git worktree of this repository.",
                              field="worktree_path")
        return RepoLayout(tree)

    def plan_files(self, name: str, *, archived: bool) -> "PlanFiles":
        """The files of the plan called `name` in this tree, every path checked (InvalidName)."""
        return PlanFiles(self, name, archived, self.plan_file(name, archived=archived),
                         self.status_file(name, archived=archived), self.findings_dir(name, archived=archived))

    def instance_plan(self, instance) -> "PlanFiles":
        """The plan files of an orchestrator instance, from anything with its registry entry's
        `plan_path` and `worktree_path` (a registry Instance, the admin's mirror of one).

        The one rule for "instance -> its files": a worktree instance's plan, status.json and
        findings are its worktree's (where its agent and upstream's tools read and write them);
        journals and the registry stay with this checkout. InvalidName for an entry no file
        of ours can belong to.
        """
        name, archived = plan_identity(instance.plan_path)
        return self.worktree(instance.worktree_path).plan_files(name, archived=archived)

    def journal_file(self, instance_id: str) -> Path:
        return self.journal_dir / f"{check_instance_id(instance_id)}.jsonl"

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def resolve_plan_path(self, plan_path: str) -> Path:
        """A plan path as registries and status files write it (relative or absolute)."""
        path = Path(plan_path)
        return path if path.is_absolute() else self.root / path

    def plan_candidates(self, *, archived: bool) -> Iterator["PlanFiles"]:
        """The files of every addressable `.md` under docs/plans (or its archive), by name.

        Names the API could never address are passed over, and so are symlinks out of the
        directory; containment is resolved only for symlinks, since realpath on every file
        costs more than the rest of a listing. The output paths are not checked: a reader
        asks PlanFiles.escapes first.
        """
        base = self.archived_plans_dir if archived else self.plans_dir
        outputs = self.outputs_base(archived=archived)
        try:
            entries = sorted(os.scandir(base), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            name = entry.name[:-3]
            if not entry.name.endswith(".md") or not PLAN_NAME_RE.match(name) or ".." in name:
                continue
            path = Path(entry.path)
            if entry.is_symlink() and not self.is_contained(path, base):
                continue
            output = outputs / name
            yield PlanFiles(self, name, archived, path, output / "status.json", output / "findings")

    def outputs_base(self, *, archived: bool) -> Path:
        return self.archived_outputs_dir if archived else self.outputs_dir

    @classmethod
    def is_contained(cls, path: Path, base: Path) -> bool:
        try:
            cls.contained(path, base)
        except InvalidName:
            return False
        return True

    @staticmethod
    def contained(path: Path, base: Path) -> Path:
        """Refuse a path whose real location (symlinks followed) leaves `base`."""
        real_base = os.path.realpath(base)
        real = os.path.realpath(path)
        if real != real_base and not real.startswith(real_base + os.sep):
            raise InvalidName(f"Path leaves {base.name}/: {path.name!r}.", field="name")
        return path


@dataclass(frozen=True)
class PlanFiles:
    """Where one plan's files are, under the tree they live in (the repository's, or a worktree's)."""

    tree: RepoLayout
    name: str
    archived: bool
    plan_path: Path
    status_path: Path
    findings_dir: Path

    def escapes(self, path: Path) -> bool:
        """Whether `path` (status_path or findings_dir) leads out of docs/plan-outputs through a symlink.

        Only realpath'd when a symlink is on the way, so that listing every plan stays cheap.
        """
        if not (os.path.islink(os.path.dirname(path)) or os.path.islink(path)):
            return False
        return not self.tree.is_contained(path, self.tree.outputs_base(archived=self.archived))
