"""The admin shows the plan index as the files are now, to staff only, and changes nothing."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from api.models import PlanRecord

pytestmark = pytest.mark.django_db

PLANS = reverse("admin:api_planrecord_changelist")
ORCHESTRATORS = reverse("admin:api_orchestratorrecord_changelist")


@pytest.fixture
def corpus(repo, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "REPO_ROOT": str(repo.root)}
    repo.plan("alpha", {"Setup": ["1.1 Wire the websocket bridge", "1.2 Add settings"], "Build": ["2.1 Parse"]},
              title="Alpha rollout")
    repo.status("alpha", states={"1.1": "completed", "1.2": {"status": "failed", "error": "disk <full>",
                                                             "retryCount": 3}})
    repo.finding("alpha", "1.1", "# Bridge review\n\n*works*\n\n<script>alert('x')</script>\n")
    repo.plan("beta", {"Only": ["1.1 Done"]}, title="Beta cleanup", archived=True)
    repo.status("beta", archived=True, states={"1.1": "completed"})
    repo.registry([repo.instance(id="orch-42", plan_path="docs/plans/alpha.md")])
    return repo


@pytest.fixture
def staff_client(client):
    """A staff account with no model permissions at all: browsing the index needs none."""
    user = get_user_model().objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    client.force_login(user)
    return client


def plan_url(name):
    return reverse("admin:api_planrecord_change", args=[PlanRecord.objects.get(name=name).pk])


def test_plan_list_shows_every_plan_with_progress_and_counts(corpus, staff_client):
    response = staff_client.get(PLANS)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Alpha rollout" in html and "Beta cleanup" in html
    assert '<progress value="33.3" max="100">' in html
    assert "1 completed" in html and "1 failed" in html and "1 pending" in html  # the dashboard's words
    assert "Phase 1: Setup" in html


@pytest.mark.parametrize("query, expected", [
    ("archived__exact=1", {"beta"}),
    ("has_failures=yes", {"alpha"}),
    ("has_failures=no", {"beta"}),
    ("state__exact=complete", {"beta"}),
    ("state__exact=in_progress", {"alpha"}),
    ("q=websocket", {"alpha"}),
    ("q=cleanup", {"beta"}),
    ("q=beta", {"beta"}),
])
def test_plan_list_filters_and_search(corpus, staff_client, query, expected):
    response = staff_client.get(f"{PLANS}?{query}")

    assert response.status_code == 200
    assert {plan.name for plan in response.context["cl"].result_list} == expected


def test_plan_page_shows_phases_tasks_and_rendered_findings(corpus, staff_client):
    staff_client.get(PLANS)

    response = staff_client.get(plan_url("alpha"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Wire the websocket bridge" in html and "Phase 2: Build" in html
    assert "disk &lt;full&gt;" in html
    assert re.search(r'class="field-retry_count">\s*<p>3</p>', html)
    assert "<h1>Bridge review</h1>" in html and "<em>works</em>" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


def test_task_descriptions_render_their_inline_markdown_and_nothing_else(corpus, staff_client):
    corpus.plan("gamma", {"Only": ["1.1 Add `GET /health` and **document** it <b>raw</b> [x](javascript:alert(1))"]})
    staff_client.get(PLANS)

    html = staff_client.get(plan_url("gamma")).content.decode()

    cell = re.search(r'class="field-task_description">\s*<p>(.*?)</p>', html).group(1)
    assert cell == "Add <code>GET /health</code> and <strong>document</strong> it &lt;b&gt;raw&lt;/b&gt; x"


def test_admin_pages_pick_up_file_changes_without_a_manual_sync(corpus, staff_client):
    staff_client.get(PLANS)
    corpus.plan("gamma", title="Gamma fresh")
    corpus.layout.plan_file("beta", archived=True).unlink()

    html = staff_client.get(PLANS).content.decode()

    assert "Gamma fresh" in html and "Beta cleanup" not in html


def test_unreadable_status_file_is_reported_on_the_page(corpus, staff_client):
    corpus.status("alpha", raw="{ torn")

    response = staff_client.get(PLANS, follow=True)

    assert any("alpha" in str(message) for message in response.context["messages"])


def test_orchestrator_list_shows_alive_and_stale(corpus, staff_client):
    response = staff_client.get(ORCHESTRATORS)

    assert response.status_code == 200
    html = response.content.decode()
    assert "orch-42" in html and "Alpha rollout" in html
    # Our own pid is alive; the factory's fixed 2025 heartbeat is long stale.
    assert html.count('alt="True"') == 2


@pytest.mark.parametrize("make_user", [
    lambda: get_user_model().objects.create_user("plain", password="pw-plain-123"),
    lambda: get_user_model().objects.create_user("gone", password="pw-gone-123", is_staff=True, is_active=False),
])
def test_non_staff_users_are_sent_to_the_login_page(corpus, client, make_user):
    client.force_login(make_user())

    for url in (PLANS, ORCHESTRATORS):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_anonymous_users_are_sent_to_the_login_page(corpus, client):
    response = client.get(PLANS)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_nobody_can_add_change_or_delete_through_the_admin(corpus, client):
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    client.get(PLANS)
    change = plan_url("alpha")
    pk = PlanRecord.objects.get(name="alpha").pk

    assert client.get(reverse("admin:api_planrecord_add")).status_code == 403
    assert client.post(change, {"title": "hijacked"}).status_code == 403
    assert client.post(reverse("admin:api_planrecord_delete", args=[pk]), {"post": "yes"}).status_code == 403
    assert client.post(PLANS, {"action": "delete_selected", "_selected_action": [pk]}).status_code in (200, 302)
    assert PlanRecord.objects.get(pk=pk).title == "Alpha rollout"
    page = client.get(change).content.decode()
    assert "Save" not in page and reverse("admin:api_planrecord_add") not in client.get(PLANS).content.decode()


def test_search_matching_many_tasks_of_one_plan_lists_the_plan_once(corpus, staff_client):
    response = staff_client.get(f"{PLANS}?q=e")

    names = [plan.name for plan in response.context["cl"].result_list]
    assert sorted(names) == ["alpha", "beta"]
