"""One builder for fixture repositories, so every test states only what matters to it.

Usage (the `repo` fixture in tests/conftest.py is a RepoFactory on tmp_path):

    plan = repo.plan("alpha")                                   # default two-phase plan
    plan = repo.plan("beta", {"Setup": ["1.1 Do a", "[x] 1.2 Ticked b", "id-less line (prose)"]})
    plan = repo.plan("raw", text="# T\\r\\n## Phase 1: A\\r\\n- [ ] 1.1 x\\r\\n")  # written byte-exact
    status = repo.status("alpha", states={"1.1": "completed", "1.2": {"status": "failed", "error": "boom"}})
    repo.finding("alpha", "1.1", "text")                        # findings/1.1.md
    repo.finding("alpha", "2.1", style="dashed", slug="notes")  # findings/2-1-notes.md
    repo.registry([repo.instance(plan_path="docs/plans/alpha.md")])
    repo.age(status, seconds=30)                                # push mtime into the past
    tree = repo.git_worktree("feature")                         # a real `git worktree add`, as a factory

Files are written directly (never through the code under test), in the documented
layout, with archived plans under docs/plans/archive and docs/plan-outputs/archive.
"""

import json
import os
import subprocess
import time
from pathlib import Path

from orchestrator.layout import RepoLayout
from orchestrator.plans import parse_plan

DEFAULT_PLAN = {
    "Phase 1: Setup": ["1.1 Create the project skeleton", "1.2 Add settings"],
    "Phase 2: Build": ["2.1 Write the parser", "2.2 Write the tests"],
}
FIXED_TIME = "2025-01-02T03:04:05.000Z"


def render_plan(spec: dict[str, list[str]], *, title: str) -> str:
    """Markdown for a compact spec: {phase heading: [task lines]}.

    A heading without "Phase N:" is numbered by position ("Setup" -> "Phase 1: Setup").
    A task line may start with "[x] " (ticked); "1.1 Do it" -> "- [ ] 1.1 Do it". Only lines with an
    id are tasks (docs/plan-format.md), and every task of a fresh status file is pending.
    """
    lines = [f"# {title}", ""]
    for number, (heading, tasks) in enumerate(spec.items(), start=1):
        if not heading.lower().startswith("phase "):
            heading = f"Phase {number}: {heading}"
        lines += [f"## {heading}", ""]
        for task in tasks:
            mark = " "
            if task[:4].lower() == "[x] ":
                mark, task = "x", task[4:]
            lines.append(f"- [{mark}] {task}")
        lines.append("")
    return "\n".join(lines)


class RepoFactory:
    """Builds files under `root` in the layout of orchestrator.layout.RepoLayout."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.layout = RepoLayout.at(self.root)

    def plan(self, name: str, spec: dict[str, list[str]] | None = None, *, text: str | bytes | None = None,
             title: str | None = None, archived: bool = False) -> Path:
        """Write docs/plans/<name>.md from a compact spec (default: DEFAULT_PLAN) or raw text/bytes."""
        if text is None:
            text = render_plan(spec or DEFAULT_PLAN, title=title or f"Plan {name}")
        self._dirs(archived)
        return self._write(self.layout.plan_file(name, archived=archived), text)

    def status(self, name: str, *, states: dict[str, str | dict] | None = None, plan: str | None = None,
               archived: bool = False, extra: dict | None = None, raw: str | bytes | None = None,
               tasks: list[dict] | None = None) -> Path:
        """Write docs/plan-outputs/<name>/status.json.

        Tasks come from `tasks`, else from the plan file `plan` (default: the plan named
        `name`, created with DEFAULT_PLAN if missing). `states` maps a task id to a status,
        or to a dict of fields to set ("status", "error", "retryCount" ...); finished
        states get fixed timestamps unless given. `extra` adds top-level keys; `raw`
        writes the bytes as they are (for corrupt-file tests).
        """
        self._dirs(archived)
        path = self.layout.status_file(name, archived=archived)
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw is not None:
            return self._write(path, raw)
        if tasks is None:
            plan_file = self.layout.plan_file(plan or name, archived=archived)
            if not plan_file.exists():
                self.plan(plan or name, archived=archived)
            parsed = parse_plan(plan_file.read_text(encoding="utf-8"))
            tasks = parsed.initial_tasks()
            title = parsed.title
        else:
            title = f"Plan {name}"
        tasks = [dict(task) for task in tasks]
        for task in tasks:
            change = (states or {}).get(task["id"])
            if change is None:
                continue
            change = {"status": change} if isinstance(change, str) else dict(change)
            if change["status"] in ("in_progress", "completed", "failed"):
                change.setdefault("startedAt", FIXED_TIME)
            if change["status"] in ("completed", "failed", "skipped"):
                change.setdefault("completedAt", FIXED_TIME)
            task.update(change)
        counts = {key: sum(1 for t in tasks if t["status"] == key)
                  for key in ("completed", "pending", "failed", "skipped", "in_progress")}
        data = {
            "planPath": self.layout.relative(self.layout.plan_file(plan or name, archived=archived)),
            "planName": title,
            "createdAt": FIXED_TIME,
            "lastUpdatedAt": FIXED_TIME,
            "currentPhase": tasks[0]["phase"] if tasks else None,
            "tasks": tasks,
            "runs": [],
            "summary": {"totalTasks": len(tasks), **counts},
            **(extra or {}),
        }
        return self._write(path, json.dumps(data, indent=2))

    def finding(self, name: str, task_id: str, text: str = "# Findings\n\nNothing unusual.\n", *,
                style: str = "dotted", slug: str = "notes", archived: bool = False,
                filename: str | None = None) -> Path:
        """Write a findings file named in one of the ecosystem's styles.

        "dotted" -> 1.1.md, "dashed" -> 1-1-<slug>.md, "dotted-slug" -> 1.1-<slug>.md;
        `filename` overrides the name entirely (for odd or hostile names).
        """
        names = {
            "dotted": f"{task_id}.md",
            "dashed": f"{task_id.replace('.', '-')}-{slug}.md",
            "dotted-slug": f"{task_id}-{slug}.md",
        }
        self._dirs(archived)
        path = self.layout.findings_dir(name, archived=archived) / (filename or names[style])
        return self._write(path, text)

    def instance(self, **overrides) -> dict:
        """A registry entry with exactly the 9 documented keys; defaults describe a live local process."""
        entry = {
            "id": "orch-1700000000000",
            "pid": os.getpid(),
            "plan_path": "docs/plans/alpha.md",
            "worktree_path": None,
            "started_at": FIXED_TIME,
            "last_heartbeat": FIXED_TIME,
            "status": "running",
            "socket_path": None,
            "port": None,
        }
        unknown = set(overrides) - set(entry)
        if unknown:
            raise TypeError(f"Not registry keys: {sorted(unknown)}")
        entry.update(overrides)
        return entry

    def registry(self, instances: list[dict] = (), *, last_cleanup: str | None = None,
                 extra: dict | None = None, raw: str | bytes | None = None) -> Path:
        """Write .claude/orchestrator-registry.json (entries as given, so malformed ones are possible)."""
        path = self.layout.registry_path
        if raw is not None:
            return self._write(path, raw)
        entries = [dict(entry) if isinstance(entry, dict) else entry for entry in instances]
        data = {"instances": entries, "lastCleanup": last_cleanup, **(extra or {})}
        return self._write(path, json.dumps(data, indent=2))

    def git_worktree(self, name: str) -> "RepoFactory":
        """Commit what is here to a git repository and `git worktree add` a branch of it at .worktrees/<name>.

        Returns a factory for the worktree, where files are then written as in any checkout.
        """
        def git(*args: str, cwd: Path = self.root) -> None:
            subprocess.run(["git", "-c", "user.name=tests", "-c", "user.email=tests@localhost", *args],
                           cwd=cwd, check=True, capture_output=True)

        if not (self.root / ".git").exists():
            git("init", "-q")
        git("add", "-A", "docs")
        git("commit", "-q", "--allow-empty", "-m", f"fixture before worktree {name}")
        tree = self.root / ".worktrees" / name
        git("worktree", "add", "-q", "-b", f"wt-{name}", str(tree))
        return RepoFactory(tree)

    @staticmethod
    def age(path: Path, seconds: float) -> Path:
        """Move a file's mtime into the past: caches re-check files modified within the last 2 s."""
        when = time.time() - seconds
        os.utime(path, (when, when))
        return path

    def _dirs(self, archived: bool) -> None:
        # Created up front so RepoLayout's containment check resolves real directories.
        for base in (self.layout.plans_dir, self.layout.outputs_dir):
            (base / "archive" if archived else base).mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _write(path: Path, content: str | bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Bytes and newline="" keep CRLF and odd encodings exactly as the test wrote them.
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(content)
        return path
