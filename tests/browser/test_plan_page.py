"""A plan's page in a real browser: start the plan, follow it, survive a server restart, get a 409 in words,
stop it and clear it; a signed-out visitor gets no enabled Start. Screenshots under test-artifacts/plans/.

The server is the real one (`manage.py serve`) and so is the orchestrator it starts: the page only
ever talks to the public API, and nothing here starts an orchestrator by itself.
"""

import json
import os
import re
import shlex
import signal
import time
import urllib.request

import pytest

from orchestrator.agents import scripted
from orchestrator.registry import Registry, is_alive
from tests.browser.test_dashboard import PASSWORD, PROJECT, Site, Tab, browser  # noqa: F401  (browser: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = PROJECT / "test-artifacts" / "plans"
AGENT_DELAY = 0.5  # nine tasks, ~25 s: time to restart the server and be refused mid-run


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("plans"))
    site.env.update({
        # Open reads (a loopback DEBUG server, as scripts/start serves): signed-out visitors see the pages.
        "ORCHESTRATOR_READS_REQUIRE_AUTH": "0",
        "ORCHESTRATOR_AGENT_CMD": shlex.join([*scripted.SCRIPTED_AGENT_CMD, "--delay", str(AGENT_DELAY)]),
    })
    site.prepare()
    site.start_server()
    yield site
    site.close()
    # What the server started lives on without it (the point); a failed test must not leave it running.
    for instance in Registry(site.repo.layout.registry_path).list():
        if is_alive(instance):
            os.killpg(instance.pid, signal.SIGKILL)


def api(site: Site, path: str):
    with urllib.request.urlopen(site.base_url + path, timeout=5) as response:
        return json.loads(response.read())


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(tab: Tab, path: str) -> None:
    page = tab.page
    page.goto(f"{tab.site.base_url}/accounts/login/?next={path}")
    page.fill("input[name=username]", tab.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(tab.site.base_url + path)


def test_signed_out_visitor_sees_the_plan_but_no_enabled_start(browser, site):
    from playwright.sync_api import expect

    tab = Tab(browser, site, "nobody")
    page = tab.page
    page.goto(site.base_url + "/")
    row = page.locator("#plans tr[data-plan='demo']")
    expect(row).to_contain_text("Demo plan")
    row.locator("a").click()
    page.wait_for_url(site.base_url + "/plans/demo/")
    expect(page.locator("#plan-title")).to_have_text("Demo plan")
    expect(page.locator("#start")).to_be_disabled()
    expect(page.locator("#start-form")).to_contain_text("Sign in to control")
    expect(page.locator("#tasks tbody tr[data-task-id]")).to_have_count(9)
    expect(page.locator("#tasks button")).to_have_count(0)  # no Skip or Retry either
    shoot(page, "plan-signed-out")
    tab.close()


def test_start_follow_restart_refuse_stop_and_clear(browser, site):
    from playwright.sync_api import expect

    alice = Tab(browser, site, "alice")
    page = alice.page
    sign_in(alice, "/plans/demo/")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#runs")).to_contain_text("This plan has not run yet")

    page.fill("input[name=max_retries]", "1")
    page.click("#start")
    expect(page.locator("#answer")).to_have_text(re.compile(r"Started orch-\d+ \(pid \d+\)\."), timeout=30_000)
    instance_id = re.search(r"orch-\d+", page.locator("#answer").inner_text()).group(0)
    expect(page.locator("#live-instance")).to_contain_text(instance_id)
    expect(page.locator("#live-instance .badge")).to_have_text("running")
    # It moves, live: a task completes and its findings appear, rendered.
    expect(page.locator("#tasks .badge.completed").first).to_be_visible(timeout=20_000)
    expect(page.locator("#findings details.finding").first).to_be_visible(timeout=20_000)
    expect(page.locator("#findings .markdown").first).not_to_be_empty()
    shoot(page, "plan-running")

    # Meanwhile on the front page: the run is a card, its plan row moves with it and the filters find it.
    front = Tab(browser, site, "visitor")
    front.page.goto(site.base_url + "/")
    expect(front.page.locator(f".card[data-instance-id='{instance_id}']")).to_be_visible()
    front.page.select_option("#plan-filter", "running")
    row = front.page.locator("#plans tr[data-plan='demo']")
    expect(row.locator(".badge").first).to_have_text("running")
    before = row.locator(".progress-text").inner_text()
    expect(row.locator(".progress-text")).not_to_have_text(before, timeout=15_000)
    front.page.select_option("#plan-filter", "archived")
    expect(front.page.locator("#plans")).to_contain_text("No plan matches.")
    front.page.select_option("#plan-filter", "all")
    front.page.fill("#plan-search", "demo pl")
    expect(row).to_be_visible()
    shoot(front.page, "index-running")
    front.close()

    # The server goes down mid-run and comes back: the run never noticed, and is found again.
    done_before = api(site, "/api/plans/demo")["completed_tasks"]
    site.kill_server()
    time.sleep(1.5)
    site.start_server()
    entry = api(site, f"/api/orchestrators/{instance_id}")
    assert entry["is_alive"] and entry["status"] == "running"
    expect(page.locator("#connection")).to_have_attribute("data-state", re.compile("live|caught-up"), timeout=20_000)
    deadline = time.monotonic() + 20
    while api(site, "/api/plans/demo")["completed_tasks"] <= done_before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api(site, "/api/plans/demo")["completed_tasks"] > done_before

    # A second start is refused, and the page says why in words.
    page.click("#start")
    expect(page.locator("#answer")).to_contain_text(f"Start failed. Not possible right now. {instance_id}")
    expect(page.locator("#answer")).to_contain_text("is already running docs/plans/demo.md")
    shoot(page, "plan-refused")

    # Stop it from the page, then clear the finished run.
    page.click("#stop")
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-ok")
    expect(page.locator("#answer")).to_contain_text("Stop:")
    run = page.locator(f"#runs tr[data-instance-id='{instance_id}']")
    expect(run.locator(".badge")).to_have_text("stopped", timeout=30_000)
    expect(page.locator("#live-instance")).to_have_text("none running")
    shoot(page, "plan-stopped")
    run.locator("button[data-clear]").click()
    expect(page.locator("#answer")).to_contain_text(f"Clear {instance_id}: done.")
    # Gone from the registry, kept in the plan's history: no link, no Clear, its tasks still counted.
    expect(run.locator("a")).to_have_count(0)
    expect(run.locator("button")).to_have_count(0)
    expect(run.locator("td[data-label='Tasks done']")).to_have_text(re.compile(r"^\d+"))
    assert all(o["id"] != instance_id for o in api(site, "/api/orchestrators"))
    # Its output stays, in the log the start named.
    log = site.repo.root / "docs" / "plan-outputs" / "demo" / "logs" / f"{instance_id}.log"
    assert f"{instance_id} stopped" in log.read_text()
    alice.close()
