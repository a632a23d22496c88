"""An instance whose registry entry names a git worktree is read, steered and run in that worktree."""

import json
import os

import pytest

from orchestrator.registry import Registry
from tests.serving.test_orchestrate_command import AGENT, spawn, trio  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]


@pytest.fixture
def worktree(repo_root):
    """Plan alpha committed, a worktree of it, and an upstream-style instance registered for the worktree."""
    repo_root.plan("alpha")
    tree = repo_root.git_worktree("feature")
    tree.status("alpha", states={"1.1": "completed", "1.2": {"status": "failed", "lastError": "in the worktree"}})
    repo_root.registry([repo_root.instance(id="orch-wt", worktree_path=str(tree.root))])
    return tree


def test_a_worktree_instance_shows_its_worktrees_status(worktree, control_client, repo_root):
    status = control_client.get("/api/orchestrators/orch-wt/status").json()

    assert (status["completed_tasks"], status["failed_tasks"], status["total_tasks"]) == (1, 1, 4)
    assert {task["id"]: task["last_error"] for task in status["tasks"]}["1.2"] == "in the worktree"
    assert not repo_root.layout.status_file("alpha", archived=False).exists()  # the checkout's stays untouched


def test_skip_and_retry_of_a_worktree_instance_write_the_worktrees_status(worktree, control_client, repo_root):
    skipped = control_client.post("/api/orchestrators/orch-wt/skip-task", {"task_id": "2.1"}, format="json")
    retried = control_client.post("/api/orchestrators/orch-wt/retry-task", {"task_id": "1.2"}, format="json")

    assert skipped.status_code == retried.status_code == 200
    tasks = {t["id"]: t for t in json.loads(worktree.layout.status_file("alpha", archived=False).read_text())["tasks"]}
    assert (tasks["2.1"]["status"], tasks["1.2"]["status"]) == ("skipped", "pending")
    assert not repo_root.layout.status_file("alpha", archived=False).exists()
    etag = control_client.get("/api/orchestrators/orch-wt/status").json()["status_etag"]
    assert etag == skipped.json()["status_etag"] or etag == retried.json()["status_etag"]


def test_a_worktree_instance_never_run_gets_its_status_file_in_the_worktree(repo_root, control_client):
    repo_root.plan("alpha")
    tree = repo_root.git_worktree("fresh")
    repo_root.registry([repo_root.instance(id="orch-wt", worktree_path=str(tree.root))])

    response = control_client.post("/api/orchestrators/orch-wt/skip-task", {"task_id": "1.1"}, format="json")

    assert response.status_code == 200
    data = json.loads(tree.layout.status_file("alpha", archived=False).read_text())
    assert data["planPath"] == "docs/plans/alpha.md" and data["tasks"][0]["status"] == "skipped"


def test_a_worktree_path_that_is_no_worktree_of_this_repository_is_not_followed(repo_root, control_client, tmp_path_factory):
    repo_root.plan("alpha")
    repo_root.git_worktree("real")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "docs/plan-outputs/alpha").mkdir(parents=True)
    (elsewhere / "docs/plan-outputs/alpha/status.json").write_text('{"tasks": []}')
    repo_root.registry([repo_root.instance(id="orch-odd", worktree_path=str(elsewhere))])

    status = control_client.get("/api/orchestrators/orch-odd/status")
    skip = control_client.post("/api/orchestrators/orch-odd/skip-task", {"task_id": "1.1"}, format="json")

    assert status.status_code == 200 and status.json()["tasks"] == []
    assert skip.status_code == 400 and skip.json()["error"]["code"] == "invalid_name"
    assert (elsewhere / "docs/plan-outputs/alpha/status.json").read_text() == '{"tasks": []}'


def test_orchestrate_in_a_worktree_keeps_status_where_its_agent_looks_and_registers_the_worktree(trio):  # noqa: F811
    tree = trio.git_worktree("run")
    proc = spawn(trio, "trio", "--agent-cmd", AGENT, "--plain", "--worktree", str(tree.root))
    output, _ = proc.communicate(timeout=40)

    assert proc.returncode == 0, output
    data = json.loads(tree.layout.status_file("trio", archived=False).read_text())
    assert data["planPath"] == "docs/plans/trio.md"
    assert all(task["status"] == "completed" for task in data["tasks"])
    assert not trio.layout.status_file("trio", archived=False).exists()  # no second, divergent file
    assert sorted(os.listdir(tree.layout.findings_dir("trio", archived=False)))
    [entry] = Registry(trio.layout.registry_path).list()  # in the repository's registry, upstream's shape
    assert (entry.plan_path, entry.worktree_path) == ("docs/plans/trio.md", str(tree.root))


def test_orchestrate_refuses_a_worktree_that_is_not_one_of_the_repository(trio, tmp_path_factory):  # noqa: F811
    other = tmp_path_factory.mktemp("not-a-worktree")
    proc = spawn(trio, "trio", "--agent-cmd", AGENT, "--plain", "--worktree", str(other))
    output, _ = proc.communicate(timeout=40)

    assert proc.returncode != 0 and "is not a git worktree of" in output


def test_a_worktree_instances_findings_are_its_worktrees(worktree, control_client, repo_root):
    worktree.finding("alpha", "1.1", "# In the worktree\n")
    repo_root.finding("alpha", "1.1", "# In the checkout\n")

    listing = control_client.get("/api/orchestrators/orch-wt/findings")
    finding = control_client.get("/api/orchestrators/orch-wt/findings/1.1")

    assert listing.status_code == finding.status_code == 200
    assert [(f["task_id"], f["path"]) for f in listing.json()] == [("1.1", "docs/plan-outputs/alpha/findings/1.1.md")]
    assert [f["content"] for f in finding.json()["files"]] == ["# In the worktree\n"]
    assert control_client.get("/api/plans/alpha/findings/1.1").json()["files"][0]["content"] == "# In the checkout\n"


def test_findings_of_an_instance_without_worktree_and_of_unknown_ones(repo_root, control_client):
    repo_root.plan("alpha")
    repo_root.finding("alpha", "2.1", "# Here\n")
    repo_root.registry([repo_root.instance(id="orch-1")])

    assert control_client.get("/api/orchestrators/orch-1/findings/2.1").json()["files"][0]["content"] == "# Here\n"
    assert control_client.get("/api/orchestrators/orch-1/findings/1.1").status_code == 404
    assert control_client.get("/api/orchestrators/orch-9/findings").status_code == 404
