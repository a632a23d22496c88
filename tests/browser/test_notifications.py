"""Done as issue #17 says: a user adds a webhook in the admin, runs a plan with one task made to fail,
receives a signed POST, the dashboard pops a browser notification that opens the orchestrator's page,
and the admin's delivery log shows the attempt. Screenshots under test-artifacts/notifications/."""

import json
import time
from datetime import datetime

import pytest

from notifications.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.browser.test_dashboard import PROJECT, Site, Tab, browser  # noqa: F401  (browser: a fixture)
from bench.webhook_receiver import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(120)]

ARTIFACTS = PROJECT / "test-artifacts" / "notifications"

# Records every notification the page makes (headless Chromium shows none), then makes the real one.
RECORD_NOTIFICATIONS = """
window.__notes = [];
const Real = window.Notification;
class Recorded extends Real {
  constructor(title, options) {
    super(title, options);
    window.__notes.push({title, body: options.body, tag: options.tag, note: this});
  }
}
Object.defineProperty(Recorded, "permission", {get: () => Real.permission});
Recorded.requestPermission = (...args) => Real.requestPermission(...args);
window.Notification = Recorded;
"""


@pytest.fixture
def site(tmp_path):
    site = Site(tmp_path)
    site.env.update({"ORCHESTRATOR_WEBHOOK_ALLOW_PRIVATE": "1", "SCRIPTED_AGENT_FAIL_TASKS": "2.1"})
    site.prepare()
    site.start_server()
    yield site
    site.close()


@pytest.fixture
def receiver():
    hook = Receiver().start()
    yield hook
    hook.stop()


def shoot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_failed_task_reaches_the_webhook_and_the_browser(browser, site, receiver):
    from playwright.sync_api import expect

    alice = Tab(browser, site, "alice")
    page = alice.page
    alice.context.grant_permissions(["notifications"], origin=site.base_url)
    alice.context.add_init_script(RECORD_NOTIFICATIONS)
    alice.sign_in("/")

    page.goto(f"{site.base_url}/admin/notifications/webhook/add/")
    page.fill("input[name=name]", "team chat")
    page.fill("input[name=url]", receiver.url)
    for kind in ("task_failed", "orchestrator_crashed"):
        page.check(f"input[name=kinds][value={kind}]")
    secret = page.input_value("input[name=secret]")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    page.goto(site.base_url + "/")
    page.click("#notify-toggle")
    expect(page.locator("input[name=notify-kind][value=task_failed]")).to_be_checked()
    page.click("#notify-enable")
    expect(page.locator("#notify-toggle")).to_have_text("Notifications: on")
    shoot(page, "panel")
    page.click("#notify-toggle")

    site.start_orchestrator()
    [request] = receiver.wait_for(1, timeout=60)
    body = json.loads(request.body)
    assert verify(secret, timestamp=request.headers[TIMESTAMP_HEADER], signature=request.headers[SIGNATURE_HEADER],
                  body=request.body, now=time.time())
    assert (body["type"], body["kind"], body["data"]["task_id"], body["plan"]) == ("task_changed", "task_failed",
                                                                                   "2.1", "demo")
    failed_at = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).timestamp()
    print(f"webhook received {request.at - failed_at:.3f} s after the failure event")  # a figure, not a check

    page.wait_for_function("window.__notes.some(n => n.title.startsWith('Task failed'))", timeout=10_000)
    note = page.evaluate("window.__notes.map(({title, body, tag}) => ({title, body, tag}))")[0]
    assert note["title"] == f"Task failed \u00b7 {body['instance_id']}"
    assert note["body"].startswith("Task 2.1") and note["tag"] == f"{body['instance_id']}:{body['id']}"
    page.evaluate("window.__notes[0].note.onclick()")
    page.wait_for_url(f"{site.base_url}/orchestrators/{body['instance_id']}/")

    page.goto(f"{site.base_url}/admin/notifications/delivery/")
    expect(page.locator("#result_list")).to_contain_text("Delivered")
    page.locator("#result_list tbody th a").first.click()
    expect(page.locator(".inline-group")).to_contain_text("200")
    shoot(page, "delivery-log")
    alice.close()
