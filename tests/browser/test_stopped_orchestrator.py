"""Skip and Retry on the page of an orchestrator whose process is gone: the page follows without a reload."""

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import ARTIFACTS, Site, Tab, browser, serving  # noqa: F401  (browser: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INSTANCE = "orch-1700000000000"


def gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    return child.pid


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("stopped"))
    site.repo.status("demo", states={"1.1": "completed", "1.2": {"status": "failed", "error": "exit 1"}})
    site.repo.registry([site.repo.instance(id=INSTANCE, pid=gone_pid(), plan_path="docs/plans/demo.md",
                                           status="crashed")])
    with serving(site):
        yield site


def test_retry_and_skip_on_a_crashed_orchestrator_update_table_progress_and_phases(browser, site):
    tab = Tab(browser, site, "alice")
    page = tab.page
    tab.sign_in(f"/orchestrators/{INSTANCE}/")
    failed = page.locator("tr[data-task-id='1.2']")
    expect(failed.locator(".badge")).to_have_text("failed")
    expect(page.locator("#connection")).to_contain_text("Live")

    failed.locator("[data-retry='1.2']").click()
    expect(page.locator("#answer")).to_contain_text("Retry 1.2")
    expect(failed.locator(".badge")).to_have_text("pending")
    expect(page.locator("#progress-text")).to_contain_text("0 failed")

    page.click("[data-skip='1.2']")
    page.fill("#confirm-reason", "Done by hand")
    page.click("#confirm-ok")
    expect(failed.locator(".badge")).to_have_text("skipped")
    expect(failed).to_contain_text("Skipped: Done by hand")
    expect(page.locator("#progress-text")).to_contain_text("1 skipped")
    tab.shoot("stopped-orchestrator")
    tab.close()


def test_a_skip_from_the_plan_page_updates_the_page_of_its_stopped_run(browser, site):
    tab = Tab(browser, site, "alice")
    page = tab.page
    tab.sign_in(f"/orchestrators/{INSTANCE}/")
    row = page.locator("tr[data-task-id='2.1']")
    expect(row.locator(".badge")).to_have_text("pending")

    answered = page.evaluate("""async () => {
        const { postJSON } = await import("/static/dashboard/js/api.js");
        return (await postJSON("/api/plans/demo/tasks/2.1/skip", { reason: "From the plan page" })).task.status;
    }""")

    assert answered == "skipped"
    expect(row.locator(".badge")).to_have_text("skipped")
    expect(row).to_contain_text("Skipped: From the plan page")
    tab.close()
