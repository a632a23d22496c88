"""A plan's files read and summarised (orchestrator.summary), as every reader shows them, without Django."""

import os

import pytest

from orchestrator.errors import StatusFileCorrupt
from orchestrator.summary import parse_plan_file, plan_digest, plan_state, status_snapshot, task_counts


def digest_of(repo, name, *, archived=False):
    files = repo.layout.plan_files(name, archived=archived)
    return plan_digest(files, parse_plan_file(files.plan_path), status_snapshot(files.status_path))


def test_a_plan_never_run_is_counted_from_its_markdown(repo):
    plan = repo.plan("alpha", {"Setup": ["1.1 One", "1.2 Two"], "Build": ["2.1 Three"]}, title="Alpha")
    digest = digest_of(repo, "alpha")
    assert digest.snapshot is None and digest.title == "Alpha"
    assert (digest.state, digest.counts["total"], digest.counts["pending"]) == ("not_started", 3, 3)
    assert digest.recorded_phase is None and digest.current_phase == "Phase 1: Setup"
    assert [task.id for task in digest.tasks] == ["1.1", "1.2", "2.1"]
    assert [(phase.phase, phase.total_tasks) for phase in digest.phases] == [("Phase 1: Setup", 2),
                                                                             ("Phase 2: Build", 1)]
    assert digest.modified == os.stat(plan).st_mtime
    assert digest.last_updated.timestamp() == pytest.approx(digest.modified)


def test_a_plan_with_status_is_counted_from_status_json(repo):
    repo.plan("alpha")
    repo.status("alpha", states={"1.1": "completed", "1.2": {"status": "failed", "error": "boom"}, "2.1": "skipped"})
    digest = digest_of(repo, "alpha")
    assert digest.state == "in_progress" and digest.progress_percent == 25.0
    assert task_counts(digest.counts, digest.progress_percent) == {
        "total_tasks": 4, "completed_tasks": 1, "pending_tasks": 1, "in_progress_tasks": 0, "failed_tasks": 1,
        "skipped_tasks": 1, "progress_percent": 25.0}
    failed = next(task for task in digest.tasks if task.id == "1.2")
    assert (failed.status, failed.last_error, failed.phase_number) == ("failed", "boom", 1)
    assert digest.recorded_phase == "Phase 1: Setup"


@pytest.mark.parametrize("statuses, state", [
    ({}, "not_started"),
    ({"1.1": "in_progress"}, "in_progress"),
    ({"1.1": "completed", "1.2": "skipped", "2.1": "completed", "2.2": "completed"}, "complete"),
    ({"1.1": "completed", "1.2": "failed", "2.1": "completed", "2.2": "completed"}, "in_progress"),
])
def test_plan_state_is_complete_only_when_every_task_is_done_or_skipped(repo, statuses, state):
    repo.plan("alpha")
    repo.status("alpha", states=statuses)
    assert plan_state(digest_of(repo, "alpha").counts) == state


def test_markdown_without_a_phase_is_no_plan_and_an_unreadable_status_is_corrupt(repo):
    readme = repo.plan("README", text="# Plans\n\n- [ ] 1.1 no phase heading\n")
    assert parse_plan_file(readme) is None
    assert parse_plan_file(readme.with_name("missing.md")) is None
    repo.plan("alpha")
    path = repo.layout.status_file("alpha", archived=False)
    path.mkdir(parents=True)
    with pytest.raises(StatusFileCorrupt, match="is a directory"):
        status_snapshot(path)
