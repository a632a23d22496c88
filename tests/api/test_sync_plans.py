"""The plan index follows the files: full first sync, then only what changed, in a handful of queries."""

import io
import json
import os

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.indexing import plan_index_sync
from api.models import FindingRecord, OrchestratorRecord, PhaseRecord, PlanRecord, TaskRecord

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


def settle(repo, *paths):
    """Age the files (default: all): a fingerprint taken right after a write is not trusted."""
    for path in paths or [path for path in repo.root.rglob("*") if path.is_file()]:
        repo.age(path, 30)


def sync(repo):
    return plan_index_sync(layout=repo.layout)


@pytest.fixture
def two_plans(repo):
    repo.plan("alpha")
    repo.status("alpha", states={
        "1.1": "completed",
        "1.2": {"status": "failed", "error": "boom", "retryCount": 2},
    })
    repo.finding("alpha", "1.1", "# Alpha findings\n\nAll good.\n", style="dashed", slug="review")
    repo.plan("beta", {"Only": ["[x] 1.1 Done already", "1.2 Still to do"]}, archived=True)
    (repo.layout.plans_dir / "README.md").write_text("# Not a plan\n\nNo phases here.\n")
    settle(repo)
    return repo


def test_first_sync_indexes_plans_phases_tasks_and_findings(two_plans):
    result = sync(two_plans)

    assert (result.created, result.updated, result.deleted, result.errors) == (2, 0, 0, [])
    alpha = PlanRecord.objects.get(name="alpha")
    assert (alpha.title, alpha.archived, alpha.has_status, alpha.state) == ("Plan alpha", False, True, "in_progress")
    assert (alpha.total, alpha.completed, alpha.failed, alpha.pending, alpha.progress_percent) == (4, 1, 1, 2, 25.0)
    assert alpha.current_phase == "Phase 1: Setup"
    assert alpha.last_updated_at.isoformat() == "2025-01-02T03:04:05+00:00"
    failed = alpha.tasks.get(task_id="1.2")
    assert (failed.status, failed.error, failed.retry_count) == ("failed", "boom", 2)
    assert failed.started_at is not None and failed.completed_at is not None
    assert list(alpha.phases.values_list("title", "total", "progress_percent")) == [
        ("Phase 1: Setup", 2, 50.0), ("Phase 2: Build", 2, 0.0),
    ]
    finding = alpha.findings.get()
    assert (finding.filename, finding.task_id, finding.content) == ("1-1-review.md", "1.1", "# Alpha findings\n\nAll good.\n")


def test_plan_without_status_file_is_indexed_all_pending(two_plans):
    sync(two_plans)

    beta = PlanRecord.objects.get(name="beta")
    assert (beta.archived, beta.has_status, beta.total, beta.completed, beta.state) == (True, False, 2, 0, "not_started")
    assert not PlanRecord.objects.filter(name="README").exists()


def test_second_sync_with_nothing_changed_reads_no_file_and_writes_nothing(two_plans):
    sync(two_plans)

    with CaptureQueriesContext(connection) as queries:
        result = sync(two_plans)

    assert (result.created, result.updated, result.deleted, result.unchanged) == (0, 0, 0, 2)
    assert not [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]
    assert len([q for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]) == 2


def test_changed_status_file_updates_only_that_plan_and_keeps_its_id(two_plans):
    sync(two_plans)
    alpha_id = PlanRecord.objects.get(name="alpha").pk
    beta_synced = PlanRecord.objects.get(name="beta").synced_at
    settle(two_plans, two_plans.status("alpha", states={"1.1": "completed", "1.2": "completed", "2.1": "in_progress"}))

    result = sync(two_plans)

    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    alpha = PlanRecord.objects.get(name="alpha")
    assert (alpha.pk, alpha.completed, alpha.in_progress, alpha.failed) == (alpha_id, 2, 1, 0)
    assert TaskRecord.objects.filter(plan=alpha).count() == 4
    assert PlanRecord.objects.get(name="beta").synced_at == beta_synced


def test_new_finding_reindexes_its_plan(two_plans):
    sync(two_plans)
    settle(two_plans, two_plans.finding("alpha", "2.1", "later"))

    assert sync(two_plans).updated == 1
    assert sorted(FindingRecord.objects.values_list("task_id", flat=True)) == ["1.1", "2.1"]


def test_deleted_plan_is_removed_with_its_rows(two_plans):
    sync(two_plans)
    two_plans.layout.plan_file("alpha", archived=False).unlink()

    result = sync(two_plans)

    assert (result.deleted, result.unchanged) == (1, 1)
    assert list(PlanRecord.objects.values_list("name", flat=True)) == ["beta"]
    assert not TaskRecord.objects.exclude(plan__name="beta").exists()
    assert not PhaseRecord.objects.exclude(plan__name="beta").exists()
    assert not FindingRecord.objects.exists()


def test_rewrite_within_the_same_timestamp_tick_is_still_seen(repo):
    """Same inode, same size, mtime maybe equal: a just-written file is never trusted by stat alone."""
    repo.plan("alpha")
    status = repo.status("alpha", states={"1.1": "completed"})
    sync(repo)
    status.write_text(status.read_text().replace('"completed"', '"failed"   '))

    sync(repo)

    assert PlanRecord.objects.get(name="alpha").failed == 1


def test_unreadable_status_keeps_the_last_good_rows_and_is_retried(two_plans):
    sync(two_plans)
    settle(two_plans, two_plans.status("alpha", raw="{ half a file"))

    result = sync(two_plans)

    assert len(result.errors) == 1 and "alpha" in result.errors[0]
    assert PlanRecord.objects.get(name="alpha").failed == 1
    settle(two_plans, two_plans.status("alpha", states={"1.2": "skipped"}))
    assert sync(two_plans).updated == 1
    assert PlanRecord.objects.get(name="alpha").skipped == 1


def test_registry_entries_are_mirrored_and_dropped(repo):
    repo.registry([repo.instance(id="orch-1"), repo.instance(id="orch-2", port=8001)])
    sync(repo)
    assert sorted(OrchestratorRecord.objects.values_list("instance_id", "port")) == [("orch-1", None), ("orch-2", 8001)]

    repo.registry([repo.instance(id="orch-2", port=8002, status="stopping")])
    sync(repo)

    assert list(OrchestratorRecord.objects.values_list("instance_id", "port", "status")) == [
        ("orch-2", 8002, "stopping"),
    ]


def test_corrupt_registry_keeps_the_last_mirror(repo):
    repo.registry([repo.instance(id="orch-1")])
    sync(repo)
    repo.registry(raw="not json")

    sync(repo)

    assert OrchestratorRecord.objects.filter(instance_id="orch-1").exists()


def test_sync_plans_command_indexes_the_given_repository(two_plans):
    out = io.StringIO()

    call_command("sync_plans", "--repo-root", str(two_plans.root), stdout=out)

    assert "2 created" in out.getvalue() and "queries" in out.getvalue()
    assert PlanRecord.objects.count() == 2


def test_sync_plans_command_defaults_to_the_configured_root(two_plans, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "REPO_ROOT": str(two_plans.root)}
    out = io.StringIO()

    call_command("sync_plans", stdout=out)

    assert out.getvalue().startswith(str(two_plans.root))
    assert set(PlanRecord.objects.values_list("name", flat=True)) == {"alpha", "beta"}


def test_status_task_missing_a_description_takes_it_from_the_plan(repo):
    repo.plan("alpha")
    path = repo.status("alpha")
    data = json.loads(path.read_text())
    del data["tasks"][0]["description"]
    path.write_text(json.dumps(data))
    os.utime(path, (0, 0))

    sync(repo)

    assert TaskRecord.objects.get(task_id="1.1").description == "Create the project skeleton"


def test_symlinks_out_of_the_plan_directories_are_not_read(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.md").write_text("# Secret\n\n## Phase 1: X\n\n- [ ] 1.1 hidden\n")
    repo.plan("alpha")
    (repo.layout.plans_dir / "leak.md").symlink_to(outside / "secret.md")
    repo.plan("beta")
    (outside / "status.json").write_text('{"tasks": []}')
    repo.layout.outputs_dir.mkdir(parents=True, exist_ok=True)
    (repo.layout.outputs_dir / "beta").symlink_to(outside)

    result = sync(repo)

    assert list(PlanRecord.objects.values_list("name", flat=True)) == ["alpha"]
    assert len(result.errors) == 1 and "outside docs/plan-outputs" in result.errors[0]
