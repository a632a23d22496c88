"""GET /api/plans, /api/plans/{name}, .../status and .../tasks on fixture repositories."""

import json
import os

import pytest
from django.utils.http import http_date

pytestmark = pytest.mark.usefixtures("open_reads")


def get(client, path, **headers):
    response = client.get(path, **headers)
    return response, (json.loads(response.content) if response.get("Content-Type") == "application/json" else None)


def test_list_has_active_then_archived_plans_by_name_and_skips_markdown_without_phases(client, repo):
    repo.plan("zeta")
    repo.plan("alpha")
    repo.plan("old", archived=True)
    repo.plan("README", text="# Plans\n\n- [ ] 1.1 not a task: no phase heading\n")

    response, body = get(client, "/api/plans")

    assert response.status_code == 200
    assert [(plan["name"], plan["archived"]) for plan in body] == [("alpha", False), ("zeta", False), ("old", True)]
    assert body[0]["plan_path"] == "docs/plans/alpha.md"
    assert body[2]["plan_path"] == "docs/plans/archive/old.md"


def test_plan_without_status_file_is_counted_from_its_markdown_all_pending(client, repo):
    repo.plan("alpha", {"Setup": ["[x] 1.1 Done already", "1.2 Still to do"], "Build": ["2.1 Later"]},
              title="Alpha plan")

    _, (plan,) = get(client, "/api/plans")

    assert plan["title"] == "Alpha plan"
    assert plan["has_status"] is False
    assert (plan["total_tasks"], plan["completed_tasks"], plan["pending_tasks"]) == (3, 0, 3)
    assert plan["status"] == "not_started"
    assert plan["progress_percent"] == 0.0
    assert plan["current_phase"] == "Phase 1: Setup"
    assert plan["last_updated"] is not None and plan["created_at"] is None

    _, tasks = get(client, "/api/plans/alpha/tasks")
    # "[x]" is the author's note: only status.json says a task is done, as upstream's initialiser has it.
    assert [(task["id"], task["status"]) for task in tasks] == [("1.1", "pending"), ("1.2", "pending"),
                                                                 ("2.1", "pending")]


def test_counts_come_from_the_tasks_not_the_stored_summary(client, repo):
    repo.status("alpha", states={"1.1": "completed", "1.2": "failed"},
                extra={"summary": {"totalTasks": 99, "completed": 99, "pending": 0, "failed": 0}})

    _, (plan,) = get(client, "/api/plans")

    assert plan["has_status"] is True
    assert (plan["total_tasks"], plan["completed_tasks"], plan["failed_tasks"], plan["pending_tasks"]) == (4, 1, 1, 2)
    assert plan["last_updated"] == "2025-01-02T03:04:05Z"


@pytest.mark.parametrize("states, expected", [
    ({}, "not_started"),
    ({"1.1": "in_progress"}, "in_progress"),
    ({"1.1": "completed", "1.2": "skipped", "2.1": "completed", "2.2": "completed"}, "complete"),
])
def test_plan_status_is_derived_from_task_states(client, repo, states, expected):
    repo.status("alpha", states=states)

    _, (plan,) = get(client, "/api/plans")

    assert plan["status"] == expected


def test_list_filters_by_archived_and_status(client, repo):
    repo.status("active-done", states={t: "completed" for t in ("1.1", "1.2", "2.1", "2.2")})
    repo.plan("active-new")
    repo.plan("old", archived=True)

    assert [p["name"] for p in get(client, "/api/plans?archived=true")[1]] == ["old"]
    assert [p["name"] for p in get(client, "/api/plans?archived=false")[1]] == ["active-done", "active-new"]
    assert [p["name"] for p in get(client, "/api/plans?status=complete")[1]] == ["active-done"]
    assert [p["name"] for p in get(client, "/api/plans?status=not_started&archived=1")[1]] == ["old"]


@pytest.mark.parametrize("query", ["archived=maybe", "status=finished"])
def test_bad_list_filters_are_400_in_the_error_shape(client, repo, query):
    repo.plan("alpha")

    response, body = get(client, f"/api/plans?{query}")

    assert response.status_code == 400
    assert body["error"]["code"] == "invalid"
    assert set(body["error"]) == {"code", "message", "details"}


def test_corrupt_status_file_flags_its_plan_in_the_list_and_is_503_elsewhere(client, repo):
    repo.plan("alpha")
    repo.plan("broken")
    repo.status("broken", raw='{"tasks": [')

    response, body = get(client, "/api/plans")
    assert response.status_code == 200
    broken = next(plan for plan in body if plan["name"] == "broken")
    assert broken["status"] == "unknown"
    assert "not valid JSON" in broken["status_error"]
    assert broken["total_tasks"] == 4  # counted from the markdown meanwhile

    for path in ("/api/plans/broken", "/api/plans/broken/status", "/api/plans/broken/tasks"):
        response, body = get(client, path)
        assert response.status_code == 503, path
        assert body["error"]["code"] == "status_file_corrupt"
        assert response["Retry-After"] == "1"


def test_status_file_that_is_not_a_task_list_is_503_not_500(client, repo):
    repo.plan("alpha")
    repo.status("alpha", raw='{"tasks": "nope"}')

    response, body = get(client, "/api/plans/alpha/status")

    assert response.status_code == 503
    assert body["error"]["code"] == "status_file_corrupt"


def test_detail_has_summary_and_phases(client, repo):
    repo.status("alpha", states={"1.1": "completed", "2.1": "in_progress"})

    response, plan = get(client, "/api/plans/alpha")

    assert response.status_code == 200
    assert plan["name"] == "alpha" and plan["completed_tasks"] == 1
    assert [(p["phase"], p["total_tasks"], p["completed_tasks"], p["progress_percent"]) for p in plan["phases"]] == [
        ("Phase 1: Setup", 2, 1, 50.0), ("Phase 2: Build", 2, 0, 0.0)]
    assert "tasks" not in plan


def test_status_lists_task_info_with_retry_error_and_timestamps(client, repo):
    repo.status("alpha", states={
        "1.1": "completed",
        "1.2": {"status": "failed", "error": "tests failed", "retryCount": 2},
        "2.1": {"status": "skipped", "skipReason": "not needed"},
    })

    response, status = get(client, "/api/plans/alpha/status")

    assert response.status_code == 200
    assert status["has_status"] is True and status["status_etag"].startswith('"')
    tasks = {task["id"]: task for task in status["tasks"]}
    assert tasks["1.1"] == {"id": "1.1", "description": "Create the project skeleton", "status": "completed",
                            "phase": "Phase 1: Setup", "retry_count": 0, "last_error": None, "skip_reason": None,
                            "started_at": "2025-01-02T03:04:05Z", "completed_at": "2025-01-02T03:04:05Z",
                            "usage": None}
    assert (tasks["1.2"]["last_error"], tasks["1.2"]["retry_count"]) == ("tests failed", 2)
    assert tasks["2.1"]["skip_reason"] == "not needed"
    assert tasks["2.2"]["started_at"] is None
    assert len(status["phases"]) == 2


def test_status_without_status_file_comes_from_the_markdown(client, repo):
    repo.plan("alpha", {"Setup": ["[x] 1.1 Done", "1.2 Open"]})

    _, status = get(client, "/api/plans/alpha/status")

    assert status["has_status"] is False and status["status_etag"] is None
    assert [(task["id"], task["status"]) for task in status["tasks"]] == [("1.1", "pending"), ("1.2", "pending")]


def test_task_list_filters_by_status_and_phase(client, repo):
    repo.status("alpha", states={"1.1": "completed", "2.1": "completed"})

    def ids(query):
        response, body = get(client, f"/api/plans/alpha/tasks?{query}")
        assert response.status_code == 200
        return [task["id"] for task in body]

    assert ids("") == ["1.1", "1.2", "2.1", "2.2"]
    assert ids("status=completed") == ["1.1", "2.1"]
    assert ids("phase=2") == ["2.1", "2.2"]
    assert ids("phase=Phase%201:%20Setup") == ["1.1", "1.2"]
    assert ids("phase=2&status=pending") == ["2.2"]
    assert ids("phase=7") == []


def test_task_list_with_unknown_status_filter_is_400(client, repo):
    repo.plan("alpha")

    response, body = get(client, "/api/plans/alpha/tasks?status=done")

    assert response.status_code == 400
    assert "status" in body["error"]["details"]["fields"]


def test_an_active_plan_shadows_an_archived_one_of_the_same_name(client, repo):
    repo.plan("alpha", title="Archived alpha", archived=True)
    repo.plan("beta", title="Only archived", archived=True)
    repo.plan("alpha", title="Active alpha")

    assert get(client, "/api/plans/alpha")[1]["title"] == "Active alpha"
    _, beta = get(client, "/api/plans/beta")
    assert (beta["title"], beta["archived"]) == ("Only archived", True)


def test_archived_plan_reads_its_status_from_the_archive_outputs(client, repo):
    repo.status("old", archived=True, states={"1.1": "completed"})

    _, status = get(client, "/api/plans/old/status")

    assert status["archived"] is True and status["completed_tasks"] == 1


@pytest.mark.parametrize("path", ["/api/plans/nope", "/api/plans/nope/status", "/api/plans/nope/tasks",
                                  "/api/plans/README"])
def test_unknown_plan_or_markdown_that_is_no_plan_is_404(client, repo, path):
    repo.plan("README", text="# Just a readme\n")

    response, body = get(client, path)

    assert response.status_code == 404
    assert body["error"]["code"] == "plan_not_found"


def test_every_read_works_with_and_without_a_trailing_slash(client, repo):
    repo.status("alpha")

    for path in ("/api/plans", "/api/plans/alpha", "/api/plans/alpha/status", "/api/plans/alpha/tasks"):
        assert client.get(path).status_code == 200, path
        assert client.get(path + "/").status_code == 200, path + "/"


def test_conditional_get_answers_304_while_nothing_changed(client, repo):
    status_file = repo.age(repo.status("alpha"), seconds=3600)
    repo.age(repo.layout.plan_file("alpha", archived=False), seconds=7200)

    response = client.get("/api/plans/alpha/status")
    etag, last_modified = response["ETag"], response["Last-Modified"]
    assert last_modified == http_date(int(os.stat(status_file).st_mtime))
    assert response["Cache-Control"] == "no-cache"

    not_modified = client.get("/api/plans/alpha/status", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == etag
    assert client.get("/api/plans/alpha/status", HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    assert client.get("/api/plans/alpha/status", HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_cache_notices_a_changed_status_file(client, repo):
    repo.status("alpha")
    first = client.get("/api/plans/alpha/status")

    repo.status("alpha", states={"1.1": "completed"})
    second = client.get("/api/plans/alpha/status", HTTP_IF_NONE_MATCH=first["ETag"])

    assert second.status_code == 200
    assert second["ETag"] != first["ETag"]
    assert json.loads(second.content)["completed_tasks"] == 1
    assert json.loads(client.get("/api/plans").content)[0]["completed_tasks"] == 1


def test_cache_notices_plans_appearing_changing_and_disappearing(client, repo):
    repo.plan("alpha")
    assert [p["name"] for p in json.loads(client.get("/api/plans").content)] == ["alpha"]

    repo.plan("beta")
    repo.plan("alpha", {"Only": ["1.1 One task"]}, title="Rewritten")
    plans = json.loads(client.get("/api/plans").content)
    assert [(p["name"], p["title"], p["total_tasks"]) for p in plans] == [("alpha", "Rewritten", 1),
                                                                        ("beta", "Plan beta", 4)]

    os.unlink(repo.layout.plan_file("beta", archived=False))
    assert [p["name"] for p in json.loads(client.get("/api/plans").content)] == ["alpha"]
    assert client.get("/api/plans/beta").status_code == 404


def test_cache_notices_a_status_file_created_after_the_first_read(client, repo):
    repo.plan("alpha")
    assert json.loads(client.get("/api/plans/alpha/status").content)["has_status"] is False

    repo.status("alpha", states={"1.1": "failed"})

    status = json.loads(client.get("/api/plans/alpha/status").content)
    assert status["has_status"] is True and status["failed_tasks"] == 1


def test_browsable_api_renders_html(client, repo):
    repo.status("alpha")

    for path in ("/api/plans", "/api/plans/alpha/status", "/api/plans/alpha/tasks?phase=1"):
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html")
        assert b"Create the project skeleton" in response.content or path == "/api/plans"


def test_reads_need_a_login_when_configured(client, repo, settings):
    repo.plan("alpha")
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "1"}

    response, body = get(client, "/api/plans")

    assert response.status_code in (401, 403)
    assert "error" in body


@pytest.mark.parametrize("path", ["/api/plans", "/api/plans/alpha/status", "/health", "/api/orchestrators"])
def test_the_browsable_api_and_json_have_their_own_validators(client, repo, path):
    repo.status("alpha")
    as_json = client.get(path, HTTP_ACCEPT="application/json")
    as_html = client.get(path, HTTP_ACCEPT="text/html")

    assert as_html["Content-Type"].startswith("text/html")
    assert as_json["ETag"] != as_html["ETag"]
    for response in (as_json, as_html):
        assert "Accept" in response["Vary"]
    # A browser holding the JSON asks for the page with the JSON's validator: it gets the page.
    page = client.get(path, HTTP_ACCEPT="text/html", HTTP_IF_NONE_MATCH=as_json["ETag"])
    assert page.status_code == 200 and b"<html" in page.content
    not_modified = client.get(path, HTTP_ACCEPT="text/html", HTTP_IF_NONE_MATCH=as_html["ETag"])
    assert not_modified.status_code == 304 and "Accept" in not_modified["Vary"]
    assert client.get(path, HTTP_ACCEPT="application/json", HTTP_IF_NONE_MATCH=as_html["ETag"]).status_code == 200
