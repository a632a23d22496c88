"""Swagger UI and ReDoc in a real browser: every request stays on this server, no console errors."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import ARTIFACTS, Tab, browser, site  # noqa: F401  (browser, site: fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize(("path", "ready"), [("/redoc", "h1"), ("/docs", ".swagger-ui .info .title")])
def test_the_api_reference_loads_nothing_from_other_hosts(browser, site, path, ready):
    tab = Tab(browser, site, "alice")
    elsewhere, console_errors = [], []
    tab.page.on("request", lambda request: urlsplit(request.url).scheme in ("http", "https")
                and urlsplit(request.url).netloc != urlsplit(site.base_url).netloc
                and elsewhere.append(request.url))
    tab.page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    tab.sign_in("/")
    tab.page.goto(site.base_url + path)
    expect(tab.page.locator(ready).first).to_contain_text("Plan Orchestrator Server API")
    tab.page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=ARTIFACTS / f"reference{path.replace('/', '-')}.png")
    assert elsewhere == []
    assert console_errors == []
    tab.close()
