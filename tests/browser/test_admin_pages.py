"""The admin's plan list and plan page in a real browser, on upstream's 81 plans: nothing clipped, titles in a line or two."""

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import ARTIFACTS, Site, Tab, browser, serving  # noqa: F401  (browser: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "upstream_corpus" / "plans"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("admin"))
    for plan in CORPUS.glob("*.md"):
        shutil.copy(plan, site.repo.layout.plan_file(plan.stem, archived=False))
    site.repo.status("demo", states={"1.1": "completed", "1.2": {"status": "failed", "error": "exit 1"}})
    with serving(site):
        yield site


def test_the_plan_list_fits_1440_px_and_reads_like_the_dashboard(browser, site):
    tab = Tab(browser, site, "alice", viewport={"width": 1440, "height": 900})
    page = tab.page
    tab.sign_in("/")
    page.goto(site.base_url + "/admin/api/planrecord/")
    expect(page.locator("#result_list")).to_be_visible()

    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
    table = page.locator("#result_list").bounding_box()
    assert table["x"] + table["width"] <= 1440
    line = page.locator("#result_list .field-plan").first.evaluate(
        "(node) => parseFloat(getComputedStyle(node).lineHeight) || 16")
    tallest = max(box["height"] for box in (cell.bounding_box() for cell in
                                            page.locator("#result_list .field-plan").all()))
    page.screenshot(path=ARTIFACTS / "admin-plans-1440.png")
    assert tallest <= 4 * line + 16, f"a plan cell is {tallest} px tall"  # title in at most two lines, then the name

    demo = page.locator("#result_list tr", has_text="Demo plan")
    expect(demo).to_contain_text("1 completed")
    never_run = page.locator("#result_list tr", has=page.locator("small.plan-name", has_text="architecture-review"))
    expect(never_run.locator("td.field-last_update")).to_have_text("never run")
    page.screenshot(path=ARTIFACTS / "admin-plans-1440.png", full_page=True)

    demo.locator("a").first.click()
    expect(page.locator("td.field-started_at").first).to_have_text(r"2025-01-02 03:04:05")
    favicon = page.request.get(site.base_url + "/favicon.ico")
    assert favicon.status == 200 and favicon.headers["content-type"] == "image/x-icon"
    page.screenshot(path=ARTIFACTS / "admin-plan-1440.png", full_page=True)
    tab.close()
