"""The dashboard's pages through Django's test client: who sees them, what they contain, and the 404 page."""

import posixpath
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

INSTANCE_ID = "orch-1700000000000"


@pytest.fixture
def served(repo, settings):
    """A repository with one registered orchestrator, served with reads open (a loopback DEBUG server)."""
    repo.plan("alpha")
    repo.registry([repo.instance(id=INSTANCE_ID, plan_path="docs/plans/alpha.md")])
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "REPO_ROOT": str(repo.root), "READS_REQUIRE_AUTH": "0"}
    return repo


@pytest.fixture
def closed_reads(served, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "1"}
    return served


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


def test_front_page_renders_its_shell_and_script(client, served):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="orchestrators"' in body and 'id="plans"' in body
    assert "dashboard/js/index.js" in body
    assert "Not signed in" in body


def test_pages_set_the_csrf_cookie_the_buttons_send_back(client, served):
    assert "csrftoken" in client.get("/").cookies
    assert "csrftoken" in client.get(f"/orchestrators/{INSTANCE_ID}/").cookies


def test_orchestrator_page_names_its_instance(client, served):
    response = client.get(f"/orchestrators/{INSTANCE_ID}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-instance-id="{INSTANCE_ID}"' in body
    assert "dashboard/js/orchestrator.js" in body
    for command in ("pause", "resume", "shutdown"):
        assert f'data-command="{command}"' in body


def test_orchestrator_controls_are_disabled_with_the_reason_until_the_user_may_control(client, served, alice):
    from django.contrib.auth.models import Permission

    signed_out = client.get(f"/orchestrators/{INSTANCE_ID}/").content.decode()
    assert re.search(r'data-command="pause" disabled>', signed_out) and "Sign in to control" in signed_out
    assert 'data-can-control="false"' in signed_out
    client.force_login(alice)
    reader = client.get(f"/orchestrators/{INSTANCE_ID}/").content.decode()
    assert re.search(r'data-command="shutdown" class="danger" disabled>', reader)
    assert "may not pause, resume, shut down, skip or retry" in reader
    alice.user_permissions.add(Permission.objects.get(codename="control_orchestrator"))
    controller = client.get(f"/orchestrators/{INSTANCE_ID}/").content.decode()
    assert 'data-can-control="true"' in controller and 'data-command="pause">' in controller
    assert "Sign in to control" not in controller and "may not" not in controller


def test_unknown_orchestrator_gets_an_html_404_page(client, served):
    response = client.get("/orchestrators/orch-1/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "No such orchestrator" in response.content.decode()


def test_malformed_orchestrator_id_is_404_not_500(client, served):
    response = client.get("/orchestrators/..%20x/")
    assert response.status_code == 404
    assert "No such orchestrator" in response.content.decode()


@pytest.mark.parametrize("path", ["/", f"/orchestrators/{INSTANCE_ID}/", "/orchestrators/orch-1/"])
def test_pages_redirect_to_login_when_reads_need_auth(client, closed_reads, path):
    response = client.get(path)
    # Before the lookup, so an anonymous visitor cannot probe which instances exist.
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_signed_in_user_sees_the_pages_with_name_and_logout_button(client, closed_reads, alice):
    client.force_login(alice)
    body = client.get("/").content.decode()
    assert "Signed in as <strong>alice</strong>" in body
    assert re.search(r'<form method="post" action="/accounts/logout/">', body)
    assert client.get(f"/orchestrators/{INSTANCE_ID}/").status_code == 200


def test_login_page_signs_in_and_returns_to_the_dashboard(client, closed_reads, alice):
    page = client.get("/accounts/login/?next=/")
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice-123", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_says_so_in_plain_words(client, closed_reads, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope", "next": "/"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()


def test_logout_is_a_post_that_returns_to_the_front_page(client, closed_reads, alice):
    client.force_login(alice)
    response = client.post("/accounts/logout/", {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 302  # signed out again


def test_api_paths_still_reach_the_api(client, served):
    """The dashboard is mounted at "" before the API; it must not shadow any API route."""
    response = client.get("/api/orchestrators")
    assert response.status_code == 200
    assert response.json()[0]["id"] == INSTANCE_ID


def test_every_script_module_and_its_imports_exist():
    """No build step checks the ES module graph, so this does: a missing file would break the page silently."""
    entries = ["dashboard/js/index.js", "dashboard/js/orchestrator.js", "dashboard/js/plan/page.js"]
    for entry in (*entries, "dashboard/dashboard.css"):
        assert finders.find(entry), entry
    pending = list(entries)
    seen = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        source = Path(finders.find(module)).read_text(encoding="utf-8")
        for target in re.findall(r'^import (?:.* from )?"(\.\.?/[\w/-]+\.js)";$', source, flags=re.M):
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(module), target))
            assert finders.find(resolved), f"{module} imports missing {target}"
            pending.append(resolved)
    assert len(seen) >= 12


@pytest.fixture
def plans(served):
    served.plan("beta", {"Build": ["1.1 Write <b>it</b>", "1.2 Test it"]}, title="Beta plan")
    served.status("beta", states={"1.1": "completed"})
    served.finding("beta", "1.1", "# Found\n\n<script>alert(1)</script> and [x](javascript:alert(1))\n")
    served.plan("old", archived=True)
    return served


@pytest.mark.parametrize("name", ["alpha", "beta", "old"])
def test_every_plan_active_or_archived_has_a_page(client, plans, name):
    response = client.get(f"/plans/{name}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-plan-name="{name}"' in body
    assert "dashboard/js/plan/page.js" in body
    for panel in ('id="phases"', 'id="tasks"', 'id="findings"', 'id="runs"', 'id="start-form"'):
        assert panel in body


def test_signed_out_visitor_sees_a_disabled_start_and_why(client, plans):
    body = client.get("/plans/beta/").content.decode()
    assert re.search(r'<button type="submit" class="primary" id="start" disabled>', body)
    assert "Sign in to control" in body


def test_user_with_the_start_permission_gets_an_enabled_start(client, plans, alice):
    from django.contrib.auth.models import Permission

    alice.user_permissions.add(Permission.objects.get(codename="start_orchestrator"))
    client.force_login(alice)
    body = client.get("/plans/beta/").content.decode()
    assert re.search(r'<button type="submit" class="primary" id="start" >', body)
    assert 'data-can-start="true"' in body and 'data-can-control="false"' in body
    # An archived plan is not run: Start stays disabled and the page says why.
    archived = client.get("/plans/old/").content.decode()
    assert re.search(r'id="start" disabled', archived) and "Archived plans are not run" in archived


@pytest.mark.parametrize("path", ["/plans/nope/", "/plans/..%20x/"])
def test_unknown_plan_gets_an_html_404_page(client, plans, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "No such plan" in response.content.decode()


def test_plan_page_redirects_to_login_when_reads_need_auth(client, closed_reads):
    response = client.get("/plans/alpha/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/plans/alpha/"


def test_orchestrator_page_links_to_its_plan_page(client, served):
    body = client.get(f"/orchestrators/{INSTANCE_ID}/").content.decode()
    assert '<a id="plan-link" href="/plans/alpha/">' in body


def test_findings_come_with_sanitised_html(client, plans):
    files = client.get("/api/plans/beta/findings/1.1").json()["files"]
    html = files[0]["html"]
    assert "<h1>Found</h1>" in html
    assert "<script" not in html and "javascript:" not in html
    assert "&lt;script&gt;" in html  # raw HTML in a finding is shown as text
