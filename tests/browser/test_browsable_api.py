"""The browsable API in a real browser after the dashboard's scripts fetched the same URLs as JSON."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import ARTIFACTS, Site, Tab, browser, serving  # noqa: F401  (browser: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("browsable"))
    with serving(site):
        yield site


@pytest.mark.parametrize("path", ["/api/plans", "/api/plans/demo/status", "/health"])
def test_opening_a_url_the_page_fetched_as_json_shows_the_browsable_api(browser, site, path):
    tab = Tab(browser, site, "alice")
    tab.sign_in("/")
    for _ in range(2):  # the second one is the replay's copy, with the same validator
        fetched = tab.page.evaluate("async (path) => { const r = await fetch(path); await r.text();"
                                    " return [r.status, r.headers.get('etag')]; }", path)
        assert fetched[0] == 200 and fetched[1]

    for _ in range(2):  # the second visit revalidates the page's own copy
        tab.page.goto(site.base_url + path)
        expect(tab.page.locator(".response-info")).to_be_visible()
        expect(tab.page.locator("h1")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=ARTIFACTS / f"browsable{path.replace('/', '-')}.png")
    tab.close()
