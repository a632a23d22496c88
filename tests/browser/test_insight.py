"""The run panel in a real browser: a transcript that follows a live task, then everything a late visitor sees.

One scenario on its own server: the viewer on the orchestrator page follows the task that runs
(new tool calls appear without a reload, and it moves on to the next task), task 2.1 fails and is
retried, and after the run a page opened late shows every task's cost, the totals, the timeline
with the retries, the cost chart, the activity from history and any task's transcript; the plan
page shows the same panel. Screenshots at 1280 px and 390 px under test-artifacts/dashboard/.
"""

import time

import pytest

from tests.browser.test_dashboard import ARTIFACTS, Site, Tab, browser  # noqa: F401  (browser is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    expect = None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("insight"))
    site.env["SCRIPTED_AGENT_FAIL_TASKS"] = "2.1"  # failed twice, then given up: retries on the timeline
    site.prepare()
    site.start_server()
    yield site
    site.close()


def shoot_panel(tab: Tab, name: str) -> None:
    """The run panel alone at both widths: a whole phone-length page is too tall to read."""
    for width in (1280, 390):
        tab.page.set_viewport_size({"width": width, "height": 900})
        tab.page.locator("#insight").screenshot(path=ARTIFACTS / f"{name}-{width}.png")
    tab.page.set_viewport_size({"width": 1280, "height": 900})


def running_instance(tab: Tab) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listed = tab.page.request.get(f"{tab.site.base_url}/api/orchestrators").json()
        if listed:
            return listed[0]["id"]
        time.sleep(0.2)
    raise AssertionError("no orchestrator registered within 20 s")


def test_transcript_follows_a_live_task_and_a_late_visitor_sees_every_figure(browser, site):  # noqa: F811
    alice = Tab(browser, site, "alice")
    page = alice.page
    alice.sign_in("/")
    site.start_orchestrator()
    instance_id = running_instance(alice)
    page.goto(f"{site.base_url}/orchestrators/{instance_id}/")
    expect(page.locator("#connection")).to_have_text("Live")

    # Follow mode: the viewer shows whichever task runs, and grows while it runs.
    viewer = page.locator("#transcript-viewer")
    expect(viewer.locator(".t-title .badge")).to_have_text("running")
    expect(viewer.locator(".transcript .t-tool").first).to_be_visible()
    # Count tool calls added to the open transcript while its attempt runs. The counter lives in the
    # page, so reaching the goal also proves they came without a reload.
    page.evaluate("""() => {
        window.liveToolCalls = 0;
        const list = document.querySelector("#transcript-viewer .transcript");
        new MutationObserver((records) => {
            const running = document.querySelector("#transcript-viewer .t-title .badge")?.textContent === "running";
            for (const record of records) {
                for (const node of record.addedNodes) {
                    if (running && node.classList?.contains("t-tool")) window.liveToolCalls += 1;
                }
            }
        }).observe(list, { childList: true });
    }""")
    task_title = viewer.locator(".t-title").inner_text()
    page.wait_for_function("window.liveToolCalls >= 4", timeout=30_000)
    expect(viewer.locator(".t-title")).not_to_have_text(task_title, timeout=20_000)  # it moved on to the next task
    expect(viewer.locator(".transcript .t-text").first).to_be_visible()
    expect(page.locator(".timeline-box svg .bar-group[data-outcome=running]")).to_have_count(1)
    alice.shoot("insight-live")

    expect(page.locator("#state")).to_have_text("stopped", timeout=90_000)
    alice.close()

    # A visitor who opens the page after the run sees everything, from REST alone.
    late = Tab(browser, site, "alice")
    page = late.page
    late.sign_in(f"/orchestrators/{instance_id}/")
    expect(page.locator("#feed li.ok").first).to_be_visible()  # activity from history
    expect(page.locator("#feed li[data-tool-id]")).not_to_have_count(0)
    rows = page.locator("#tasks tbody tr[data-task-id]")
    expect(rows).to_have_count(9)
    for index in range(9):
        expect(rows.nth(index).locator("td[data-label='Cost · tokens']")).to_contain_text("$")
    insight = page.locator("#insight")
    expect(insight.locator(".totals")).to_contain_text("This run: $")
    expect(insight.locator(".totals")).to_contain_text("Plan so far: $")
    bars = insight.locator(".timeline-box .bar-group")
    expect(bars).to_have_count(11)  # nine tasks, 2.1 three times
    expect(insight.locator(".timeline-box .bar-group[data-outcome=failed]")).to_have_count(3)
    expect(insight.locator(".timeline-box .bar-group[data-task-id='2.1'][data-attempt='3']")).to_have_count(1)
    assert "attempt 1 · completed" in bars.first.locator("title").text_content()
    expect(insight.locator(".cost-box .bar-group")).to_have_count(9)

    # Any task's transcript: from its table row, then another attempt from the timeline.
    page.click("[data-transcript='1.2']")
    viewer = page.locator("#transcript-viewer")
    expect(viewer.locator(".t-title")).to_contain_text("Task 1.2 · attempt 1 of 1")
    expect(viewer.locator(".t-end")).to_contain_text("completed")
    first_call = viewer.locator(".t-tool").first
    first_call.locator("summary").click()
    expect(first_call.locator("pre").first).to_be_visible()
    insight.locator(".timeline-box .bar-group[data-task-id='2.1'][data-attempt='2']").click()
    expect(viewer.locator(".t-title")).to_contain_text("Task 2.1 · attempt 2 of 3")
    expect(viewer.locator(".t-tool.fail")).not_to_have_count(0)  # the failing test run, marked
    expect(viewer.locator(".t-end")).to_contain_text("failed")
    viewer.locator(".t-tool.fail summary").first.click()
    late.shoot("insight-finished")
    shoot_panel(late, "insight-panel")

    # The plan page carries the same panel, for its newest run.
    page.goto(f"{site.base_url}/plans/demo/")
    insight = page.locator("#insight")
    expect(insight.locator(".timeline-box .bar-group")).to_have_count(11)
    expect(insight.locator(".totals")).to_contain_text("This run: $")
    expect(page.locator("#tasks tbody tr[data-task-id='1.1'] td[data-label='Cost · tokens']")).to_contain_text("$")
    expect(page.locator("#transcript-viewer .t-title")).to_contain_text("Task 3.3")  # the run's last attempt
    late.shoot("insight-plan")
    late.close()
