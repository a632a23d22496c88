"""What the pages read like: errors in lines of words, descriptions' inline markdown, notices that end, a dark
theme when the system asks for one, and the orchestrator page's keyboard shortcuts."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import ARTIFACTS, PLAN, Site, Tab, browser, serving  # noqa: F401  (browser: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ERROR = ("Command failed: /home/user/projects/a-rather-long-directory-name/src/orchestrator_module/"
         "file_with_a_long_name.py exited with status 1 after the test suite ran for 42 seconds")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("readability"))
    site.repo.plan("docs", {"Build": ["1.1 Add `GET /health` and **document** it", "1.2 Keep <b>raw</b> *as text*"]},
                   title="Docs plan")
    site.repo.status("docs", states={"1.1": {"status": "failed", "error": ERROR}})
    site.repo.plan("demo", {**PLAN, "Build": ["2.1 Add the `/health` route", *PLAN["Build"][1:]]})
    with serving(site):
        yield site


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

    # Keyboard: ? for help, j/k between tasks, p to pause and resume.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("Pause, or resume a paused run")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    rows = page.locator("#tasks tbody tr[data-task-id]")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator("#tasks tr.selected")).to_have_count(1)
    page.keyboard.press("p")
    expect(page.locator("#state")).to_have_text(re.compile("paused|stopping"))
    expect(page.locator("#answer")).to_contain_text("Pause:")
    expect(page.locator("#state")).to_have_text("paused", timeout=30_000)
    page.keyboard.press("p")
    expect(page.locator("#answer")).to_contain_text("Resume:")
    expect(page.locator("#state")).to_have_text("running")
    # The activity feed's "Task 2.1 started" renders the description's inline markdown too.
    expect(page.locator("#feed .note-row code").first).to_have_text("/health", timeout=30_000)

    page.click("[data-command='shutdown']")
    expect(page.locator("#confirm-text")).to_contain_text("use Start on its plan page")
    page.click("#confirm-ok")
    expect(page.locator("#answer")).to_contain_text("Shutdown:")
    expect(page.locator("#state")).to_have_text("stopped", timeout=30_000)
    expect(page.locator("#answer")).to_have_text(
        "The orchestrator has stopped. To run the plan again, use Start on its plan page.")
    tab.shoot("orchestrator-shut-down")
    tab.close()


def test_the_pages_follow_a_dark_system_theme(browser, site):
    tab = Tab(browser, site, "alice", color_scheme="dark")
    page = tab.page
    tab.sign_in("/plans/docs/")
    expect(page.locator("tr[data-task-id='1.1'] .error-text")).to_be_visible()
    colours = page.evaluate("""() => {
        const of = (selector, property) => getComputedStyle(document.querySelector(selector))[property];
        return { page: of("body", "backgroundColor"), text: of("main", "color"),
                 card: of(".summary", "backgroundColor"), button: of("#start", "backgroundColor") };
    }""")
    luminance = lambda rgb: sum(int(part) for part in re.findall(r"\d+", rgb)[:3]) / 3  # noqa: E731
    assert luminance(colours["page"]) < 60 and luminance(colours["card"]) < 60, colours
    assert luminance(colours["text"]) > 180, colours
    page.screenshot(path=ARTIFACTS / "plan-dark-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 900})
    page.screenshot(path=ARTIFACTS / "plan-dark-390.png", full_page=True)
    tab.close()
