"""GET /api/plans/{name}/findings and /findings/{task_id}: every naming style real repositories use."""

import json

import pytest

from api.selectors.findings import MAX_FINDING_BYTES, finding_task_id

pytestmark = pytest.mark.usefixtures("open_reads")


@pytest.mark.parametrize("filename, task_id", [
    ("1.1.md", "1.1"),
    ("1-1-some-slug.md", "1.1"),
    ("1.1-some-slug.md", "1.1"),
    ("1.2.3.md", "1.2.3"),
    ("1-2-3-slug.md", "1.2.3"),
    ("1-2-3d-rendering.md", "1.2"),       # a slug that starts with a digit is no sub-task
    ("13.5-13.7-integration.md", "13.5"),  # a range names its first task
    ("executive-summary.md", None),
    ("01-discovery.md", None),
    ("2-parallel-plans.md", None),
])
def test_finding_task_id_reads_every_naming_style(filename, task_id):
    assert finding_task_id(filename) == task_id


def test_list_has_every_file_by_task_with_plan_level_notes_last(client, repo):
    repo.plan("alpha")
    repo.finding("alpha", "2.1", style="dashed", slug="build-notes")
    repo.finding("alpha", "1.1", "x" * 10)
    repo.finding("alpha", "1.1", style="dotted-slug", slug="more")
    repo.finding("alpha", "10.1")
    repo.finding("alpha", "0.0", filename="executive-summary.md")
    repo.finding("alpha", "0.0", filename="notes.txt")

    response = client.get("/api/plans/alpha/findings")

    assert response.status_code == 200
    body = json.loads(response.content)
    assert [(f["task_id"], f["file"]) for f in body] == [
        ("1.1", "1.1-more.md"), ("1.1", "1.1.md"), ("2.1", "2-1-build-notes.md"), ("10.1", "10.1.md"),
        (None, "executive-summary.md")]
    first = body[1]
    assert first["path"] == "docs/plan-outputs/alpha/findings/1.1.md"
    assert first["size"] == 10
    assert first["modified"].endswith("Z")


def test_plan_without_findings_has_an_empty_list(client, repo):
    repo.plan("alpha")

    response = client.get("/api/plans/alpha/findings")

    assert response.status_code == 200 and json.loads(response.content) == []


def test_detail_returns_every_file_of_the_task(client, repo):
    repo.plan("alpha")
    repo.finding("alpha", "1.1", "# Dotted\n")
    repo.finding("alpha", "1.1", "# Dashed\n", style="dashed", slug="notes")
    repo.finding("alpha", "1.1", "# Dotted slug\n", style="dotted-slug", slug="extra")
    repo.finding("alpha", "1.2", "# Other task\n")

    response = client.get("/api/plans/alpha/findings/1.1")

    assert response.status_code == 200
    body = json.loads(response.content)
    assert (body["plan"], body["task_id"]) == ("alpha", "1.1")
    assert {f["file"]: f["content"] for f in body["files"]} == {
        "1.1.md": "# Dotted\n", "1-1-notes.md": "# Dashed\n", "1.1-extra.md": "# Dotted slug\n"}
    assert all(f["truncated"] is False for f in body["files"])


def test_sub_task_findings_are_found_by_their_three_part_id(client, repo):
    repo.plan("alpha")
    repo.finding("alpha", "1.2.3", "deep", style="dashed", slug="detail")

    body = json.loads(client.get("/api/plans/alpha/findings/1.2.3").content)

    assert [f["file"] for f in body["files"]] == ["1-2-3-detail.md"]
    assert client.get("/api/plans/alpha/findings/1.2").status_code == 404


def test_archived_plan_findings_come_from_the_archive(client, repo):
    repo.plan("old", archived=True)
    repo.finding("old", "3.1", "archived text", archived=True)

    listing = json.loads(client.get("/api/plans/old/findings").content)
    detail = json.loads(client.get("/api/plans/old/findings/3.1").content)

    assert listing[0]["path"] == "docs/plan-outputs/archive/old/findings/3.1.md"
    assert detail["files"][0]["content"] == "archived text"


def test_huge_finding_is_truncated(client, repo):
    repo.plan("alpha")
    repo.finding("alpha", "1.1", "a" * (MAX_FINDING_BYTES + 10))

    (file,) = json.loads(client.get("/api/plans/alpha/findings/1.1").content)["files"]

    assert file["truncated"] is True
    assert len(file["content"]) == MAX_FINDING_BYTES
    assert file["size"] == MAX_FINDING_BYTES + 10


def test_undecodable_bytes_do_not_fail_the_read(client, repo):
    repo.plan("alpha")
    repo.finding("alpha", "1.1").write_bytes(b"caf\xe9\n")

    response = client.get("/api/plans/alpha/findings/1.1")

    assert response.status_code == 200
    assert json.loads(response.content)["files"][0]["content"] == "caf\ufffd\n"


@pytest.mark.parametrize("path, status, code", [
    ("/api/plans/alpha/findings/9.9", 404, "finding_not_found"),
    ("/api/plans/nope/findings/1.1", 404, "plan_not_found"),
    ("/api/plans/nope/findings", 404, "plan_not_found"),
    ("/api/plans/alpha/findings/one", 400, "invalid_name"),
    ("/api/plans/alpha/findings/1", 400, "invalid_name"),
    ("/api/plans/alpha/findings/1.1.1.1", 400, "invalid_name"),
])
def test_findings_failures(client, repo, path, status, code):
    repo.plan("alpha")
    repo.finding("alpha", "1.1")

    response = client.get(path)

    assert response.status_code == status
    assert json.loads(response.content)["error"]["code"] == code


def test_new_findings_file_shows_up_at_once(client, repo):
    repo.plan("alpha")
    repo.finding("alpha", "1.1")
    assert len(json.loads(client.get("/api/plans/alpha/findings").content)) == 1
    assert client.get("/api/plans/alpha/findings/1.2").status_code == 404

    repo.finding("alpha", "1.2", "fresh")

    assert len(json.loads(client.get("/api/plans/alpha/findings").content)) == 2
    assert json.loads(client.get("/api/plans/alpha/findings/1.2").content)["files"][0]["content"] == "fresh"
