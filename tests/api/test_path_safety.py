"""No request reads outside docs/plans and docs/plan-outputs: traversal, encoded separators, absolute paths, symlinks."""

import json
import os

import pytest

pytestmark = pytest.mark.usefixtures("open_reads")

SECRET = "TOP-SECRET-CONTENT"


@pytest.fixture
def outside(repo, tmp_path_factory):
    """A directory beside the repository holding a plan, a status file and a finding that must never be served."""
    directory = tmp_path_factory.mktemp("outside")
    (directory / "secret.md").write_text(f"# {SECRET}\n\n## Phase 1: X\n\n- [ ] 1.1 {SECRET}\n")
    (directory / "status.json").write_text(json.dumps({"tasks": [{"id": "1.1", "description": SECRET,
                                                                  "status": "completed"}]}))
    (directory / "findings").mkdir()
    (directory / "findings" / "1.1.md").write_text(SECRET)
    (directory / "1.1.md").write_text(SECRET)
    repo.status("alpha")
    repo.finding("alpha", "1.1")
    return directory


def assert_nothing_leaks(client, *paths):
    for path in paths:
        response = client.get(path)
        assert response.status_code != 500, path
        assert SECRET.encode() not in response.content, path


@pytest.mark.parametrize("path", [
    "/api/plans/..",
    "/api/plans/%2e%2e",
    "/api/plans/%2E%2E/status",
    "/api/plans/..%2f..%2fetc%2fpasswd",
    "/api/plans/..%2F..%2F..%2Fetc%2Fpasswd/status",
    "/api/plans/%2Fetc%2Fpasswd/status",
    "/api/plans//etc/passwd",
    "/api/plans/.hidden",
    "/api/plans/a%00b",
    "/api/plans/alpha/findings/..%2F..%2Fstatus.json",
    "/api/plans/alpha/findings/%2e%2e",
    "/api/plans/alpha/findings/1.1%2F..%2F..",
    "/api/orchestrators/..%2F..%2Fetc",
    "/api/orchestrators/%2e%2e/status",
])
def test_traversal_and_encoded_separators_are_refused(client, outside, path):
    response = client.get(path)

    assert response.status_code in (400, 404), path
    assert set(json.loads(response.content)) == {"error"}
    assert SECRET.encode() not in response.content


def test_traversal_names_are_400_invalid_name(client, outside):
    for path in ("/api/plans/%2e%2e/status", "/api/plans/.hidden", "/api/plans/alpha/findings/%2e%2e"):
        body = json.loads(client.get(path).content)
        assert body["error"]["code"] == "invalid_name", path


def test_symlinked_plan_pointing_out_is_neither_listed_nor_served(client, repo, outside):
    os.symlink(outside / "secret.md", repo.layout.plans_dir / "evil.md")

    plans = json.loads(client.get("/api/plans").content)

    assert [plan["name"] for plan in plans] == ["alpha"]
    response = client.get("/api/plans/evil")
    assert response.status_code == 400
    assert_nothing_leaks(client, "/api/plans", "/api/plans/evil/status", "/api/plans/evil/tasks",
                         "/api/plans/evil/findings")


def test_symlinked_outputs_directory_pointing_out_is_not_read(client, repo, outside):
    repo.plan("beta")
    os.symlink(outside, repo.layout.outputs_dir / "beta")

    plans = {plan["name"]: plan for plan in json.loads(client.get("/api/plans").content)}

    assert plans["beta"]["status"] == "unknown" and "outside" in plans["beta"]["status_error"]
    assert client.get("/api/plans/beta/status").status_code == 400
    assert_nothing_leaks(client, "/api/plans", "/api/plans/beta", "/api/plans/beta/status",
                         "/api/plans/beta/findings", "/api/plans/beta/findings/1.1")


def test_symlinked_status_file_pointing_out_is_not_read(client, repo, outside):
    repo.plan("beta")
    output = repo.layout.outputs_dir / "beta"
    output.mkdir(parents=True)
    os.symlink(outside / "status.json", output / "status.json")

    assert_nothing_leaks(client, "/api/plans", "/api/plans/beta", "/api/plans/beta/status", "/api/plans/beta/tasks")


def test_symlinked_findings_pointing_out_are_skipped(client, repo, outside):
    findings = repo.layout.findings_dir("alpha", archived=False)
    os.symlink(outside / "1.1.md", findings / "1.2.md")
    os.symlink(outside / "findings", findings / "sub")

    listing = json.loads(client.get("/api/plans/alpha/findings").content)

    assert [f["file"] for f in listing] == ["1.1.md"]
    assert client.get("/api/plans/alpha/findings/1.2").status_code == 404
    assert_nothing_leaks(client, "/api/plans/alpha/findings", "/api/plans/alpha/findings/1.1",
                         "/api/plans/alpha/findings/1.2")


def test_symlinked_findings_directory_pointing_out_is_refused(client, repo, outside):
    repo.plan("beta")
    output = repo.layout.outputs_dir / "beta"
    output.mkdir(parents=True)
    os.symlink(outside / "findings", output / "findings")

    assert client.get("/api/plans/beta/findings").status_code == 400
    assert_nothing_leaks(client, "/api/plans/beta/findings", "/api/plans/beta/findings/1.1")


def test_registry_plan_path_outside_the_repository_reads_nothing_there(client, repo, outside):
    repo.registry([repo.instance(id="orch-1", plan_path=str(outside / "secret.md"))])

    response = client.get("/api/orchestrators/orch-1/status")

    assert response.status_code == 200
    assert json.loads(response.content)["total_tasks"] == 0
    assert_nothing_leaks(client, "/api/orchestrators", "/api/orchestrators/orch-1/status")


def test_registry_plan_path_with_traversal_reads_nothing_outside(client, repo, outside):
    repo.registry([repo.instance(id="orch-1", plan_path="docs/plans/../../../" + str(outside / "secret.md"))])

    assert_nothing_leaks(client, "/api/orchestrators/orch-1/status")
