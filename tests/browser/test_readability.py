"""What a task table and a shutdown read like: errors in lines of words, descriptions' inline markdown, notices that end."""

import time

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import ARTIFACTS, PLAN, Site, Tab, browser  # noqa: F401  (browser: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ERROR = ("Command failed: /home/user/projects/a-rather-long-directory-name/src/orchestrator_module/"
         "file_with_a_long_name.py exited with status 1 after the test suite ran for 42 seconds")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("readability"))
    site.repo.plan("docs", {"Build": ["1.1 Add `GET /health` and **document** it", "1.2 Keep <b>raw</b> *as text*"]},
                   title="Docs plan")
    site.repo.status("docs", states={"1.1": {"status": "failed", "error": ERROR}})
    site.prepare()
    site.start_server()
    yield site
    site.close()


def test_a_failed_tasks_error_reads_in_lines_and_descriptions_render_inline_markdown(browser, site):
    tab = Tab(browser, site, "alice")
    page = tab.page
    tab.sign_in("/plans/docs/")
    first = page.locator("tr[data-task-id='1.1']")
    expect(first.locator(".desc code")).to_have_text("GET /health")
    expect(first.locator(".desc strong")).to_have_text("document")
    expect(first.locator(".desc")).to_have_text("Add GET /health and document it")
    second = page.locator("tr[data-task-id='1.2'] .desc")
    expect(second).to_have_text("Keep <b>raw</b> as text")  # raw HTML stays text
    expect(second.locator("em")).to_have_text("as text")
    error = first.locator(".error-text")
    expect(error).to_have_text(ERROR)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        box = error.bounding_box()
        line_height = error.evaluate("(node) => parseFloat(getComputedStyle(node).lineHeight)")
        # Lines of several words (the text is ~170 characters), not a column one word wide.
        assert box["width"] >= 200 and box["height"] <= 8 * line_height, (width, box)
        assert box["x"] + box["width"] <= width - 10, (width, box)  # and none of it cut off by the screen's edge
    tab.shoot("plan-failed-task")
    tab.close()


def test_the_shutdown_notice_ends_with_the_run_and_points_to_start(browser, site):
    tab = Tab(browser, site, "alice")
    page = tab.page
    site.start_orchestrator()
    deadline = time.monotonic() + 20
    while not site.repo.layout.registry_path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    tab.sign_in("/")
    page.locator("#orchestrators a[href^='/orchestrators/']").first.click()
    expect(page.locator("#state")).to_have_text("running")

    page.click("[data-command='shutdown']")
    expect(page.locator("#confirm-text")).to_contain_text("use Start on its plan page")
    page.click("#confirm-ok")
    expect(page.locator("#answer")).to_contain_text("Shutdown:")
    expect(page.locator("#state")).to_have_text("stopped", timeout=30_000)
    expect(page.locator("#answer")).to_have_text(
        "The orchestrator has stopped. To run the plan again, use Start on its plan page.")
    tab.shoot("orchestrator-shut-down")
    tab.close()
