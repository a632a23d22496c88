"""The dashboard in a real browser against a real server and a running orchestrator.

One scenario, because every step needs the one before it: sign in, watch an orchestrator
appear and move on the front page, open it, see tool calls arrive, pause, skip a task,
resume, survive a server restart by replaying what was missed, and see the plan finish;
then a second user without the control permission is told so in plain words. Screenshots at
1280 px and 390 px are kept under test-artifacts/dashboard/.
"""

import json
from contextlib import contextmanager
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from orchestrator.agents import scripted
from orchestrator.clock import iso_now
from orchestrator.events import Event
from orchestrator.journal import Journal
from orchestrator.registry import Instance, Registry
from tests.factories import RepoFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PROJECT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT / "test-artifacts" / "dashboard"
PASSWORD = "a-long-test-password-1"
# Nine tasks at this pace run ~20 s: long enough to pause, skip and restart the server mid-run.
AGENT_DELAY = 0.4
PLAN = {
    "Survey": ["1.1 Read the entry point", "1.2 Find the config loader", "1.3 Note existing tests"],
    "Build": ["2.1 Add the health route", "2.2 Report the database state", "2.3 Document the route"],
    "Verify": ["3.1 Test the health route", "3.2 Run the suite", "3.3 Write release notes"],
}
WAIT_MS = 10_000

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    sync_playwright = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    """A daphne server (`manage.py serve`) and an orchestrator (`manage.py orchestrate`) on a fixture repo."""

    def __init__(self, root: Path):
        self.repo = RepoFactory(root / "repo")
        self.repo.plan("demo", PLAN, title="Demo plan")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
        self.env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
            "ORCHESTRATOR_REPO_ROOT": str(self.repo.root),
            # Closed reads, so the pages must send a visitor to the login page first.
            "ORCHESTRATOR_READS_REQUIRE_AUTH": "1",
            "PYTHONUNBUFFERED": "1",  # logs complete up to the moment a test fails
        }
        self.logs = root
        self.server = self.orchestrator = None

    def manage(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env, check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL)

    def prepare(self) -> None:
        self.manage("migrate", "--noinput")
        self.manage("shell", "-c", (
            "from django.core.management import call_command\n"
            "from django.contrib.auth.models import User\n"
            f"call_command('create_local_user', username='alice', password={PASSWORD!r})\n"
            f"User.objects.create_user('bob', password={PASSWORD!r})\n"))

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        # Own session, so stopping it also stops what it started (daphne workers, the agent).
        return subprocess.Popen([sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_server(self) -> None:
        self.server = self._spawn("server", "serve", "--port", str(self.port))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # any answer means it serves (here a 401: reads need a login)
            except OSError:
                assert self.server.poll() is None, (self.logs / "server.log").read_text()
                time.sleep(0.1)
        raise AssertionError("server did not answer /health within 20 s")

    def kill_server(self) -> None:
        """Like a crash: no goodbye frames, the browser only sees its sockets drop."""
        stop(self.server, signal.SIGKILL)

    def start_orchestrator(self) -> None:
        agent = shlex.join([*scripted.SCRIPTED_AGENT_CMD, "--delay", str(AGENT_DELAY)])
        self.orchestrator = self._spawn("orchestrator", "orchestrate", "demo", "--plain", "--agent-cmd", agent)

    def close(self) -> None:
        for process in (self.orchestrator, self.server):
            stop(process, signal.SIGTERM)


def stop(process: subprocess.Popen | None, sig: int) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists() or sync_playwright is None:
        reason = "Chromium is not installed at /usr/bin/chromium (Debian package `chromium`; scripts/system-packages)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def serving(site: Site):
    """The site's database and users made, its server started, and stopped at the end."""
    site.prepare()
    site.start_server()
    try:
        yield site
    finally:
        site.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("dashboard"))
    site.prepare()
    site.start_server()
    yield site
    site.close()


class Tab:
    """One signed-in browser page; collects script errors so the test fails on any of them."""

    def __init__(self, browser, site: Site, username: str, **context_options):
        """`context_options` go to Playwright's new_context (another viewport, color_scheme ...)."""
        self.context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.site = site
        self.username = username

    def sign_in(self, path: str = "/") -> None:
        page = self.page
        page.goto(self.site.base_url + path)
        # Reads need a login on this server, so the page sends us to Django's login form first.
        assert "/accounts/login/" in page.url
        page.fill("input[name=username]", self.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(self.site.base_url + path)
        expect(page.locator(".who")).to_contain_text(f"Signed in as {self.username}")

    def shoot(self, name: str) -> None:
        """The page at desktop and at phone width, whole length."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for width in (1280, 390):
            self.page.set_viewport_size({"width": width, "height": 900})
            self.page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 900})

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"script errors on the page: {self.errors}"


def test_watch_pause_skip_resume_reconnect_and_refuse(browser, site):
    alice = Tab(browser, site, "alice")
    page = alice.page
    alice.sign_in("/")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#orchestrators .empty")).to_contain_text("No orchestrator")

    # The orchestrator starts after the page loaded: its card must arrive through the stream.
    site.start_orchestrator()
    card = page.locator(".card").first
    expect(card).to_be_visible()
    expect(card.locator(".badge").first).to_have_text("running")
    progress = card.locator(".progress-text")
    expect(progress).to_contain_text("/9 done")
    first = progress.inner_text()
    expect(progress).not_to_have_text(first, timeout=15_000)  # the progress moves without a reload
    expect(page.locator("#plans tr[data-plan='demo'] .badge").first).to_have_text("running")
    alice.shoot("index-running")

    instance_id = card.get_attribute("data-instance-id")
    card.locator("a").click()
    expect(page.locator("#plan-name")).to_have_text("demo")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#tasks tbody tr[data-task-id]")).to_have_count(9)
    expect(page.locator("#feed li .tool").first).to_be_visible()  # a tool call, live
    expect(page.locator("#feed li.ok .input").first).not_to_be_empty()

    page.click("[data-command=pause]")
    expect(page.locator("#state")).to_have_text("paused")
    expect(page.locator("#answer")).to_contain_text("Pause: Paused")
    assert page.request.get(f"{site.base_url}/api/orchestrators/{instance_id}/status").json()["status"] == "paused"

    page.click("[data-skip='3.3']")
    expect(page.locator("#confirm")).to_be_visible()
    page.fill("#confirm-reason", "Release notes are written by hand")
    page.click("#confirm-ok")
    skipped = page.locator("tr[data-task-id='3.3']")
    expect(skipped.locator(".badge")).to_have_text("skipped")
    expect(skipped).to_contain_text("Skipped: Release notes are written by hand")
    expect(page.locator("#answer")).to_contain_text("Skip 3.3: task 3.3 is now skipped.")
    alice.shoot("orchestrator-paused")

    page.click("[data-command=resume]")
    expect(page.locator("#state")).to_have_text("running")
    expect(page.locator("#answer")).to_contain_text("Resume: Resumed.")

    # The server dies mid-run; the page retries with backoff and replays what it missed.
    seen_before = page.locator("#feed li").count()
    site.kill_server()
    expect(page.locator("#connection")).to_have_attribute("data-state", "retrying")
    time.sleep(1.5)  # the orchestrator keeps working; its events go to the journal only
    site.start_server()
    expect(page.locator("#connection")).to_have_text(re.compile(r"Reconnected; caught up on \d+ missed events?\."),
                                                      timeout=20_000)
    assert page.locator("#feed li").count() > seen_before

    expect(page.locator("#state")).to_have_text("stopped", timeout=40_000)
    # Progress is completed / total, as upstream counts it: the skipped task is not progress.
    expect(page.locator("#progress-text")).to_contain_text("88.9% · 8 done, 1 skipped, 0 failed")
    alice.shoot("orchestrator-finished")
    page.goto(site.base_url + "/")
    # A finished run has no card of its own: it is counted in its plan's row.
    expect(page.locator("#orchestrators .empty")).to_contain_text("No orchestrator is running")
    expect(page.locator("#plans tr[data-plan='demo']")).to_contain_text("1 finished · last stopped")
    alice.shoot("index-finished")
    alice.close()

    # Bob may read but not steer: the controls are disabled and say why, and the API refuses him anyway.
    bob = Tab(browser, site, "bob")
    bob.sign_in(f"/orchestrators/{instance_id}/")
    expect(bob.page.locator(".summary .hint:not(.shortcuts-hint)")).to_contain_text("Your account may not pause, resume, shut down")
    expect(bob.page.locator("tr[data-task-id='3.3'] .badge")).to_have_text("skipped")
    for command in ("pause", "resume", "shutdown"):
        expect(bob.page.locator(f"[data-command='{command}']")).to_be_disabled()
    expect(bob.page.locator("[data-retry='3.3']")).to_have_count(0)
    refused = bob.page.evaluate("""async (url) => {
        const { postJSON } = await import("/static/dashboard/js/api.js");
        try { await postJSON(url, { task_id: "3.3" }); return "accepted"; } catch (error) { return error.status; }
    }""", f"/api/orchestrators/{instance_id}/retry-task")
    assert refused == 403
    bob.shoot("orchestrator-read-only")
    bob.close()




def test_command_errors_read_as_plain_words(browser, site):
    """Every refusal the control API can give, as the page words it (api.js, run in the browser)."""
    page = browser.new_page()
    page.goto(site.base_url + "/accounts/login/")
    words = page.evaluate("""async () => {
        const { ApiError } = await import("/static/dashboard/js/api.js");
        const say = (status, message) => new ApiError(status, message && { error: { message } }).message;
        return {
            offline: say(0),
            unauthenticated: say(401, "Authentication credentials were not provided."),
            csrf: say(403, "CSRF Failed: CSRF token missing."),
            forbidden: say(403, "You need the 'control orchestrator' permission to send commands."),
            conflict: say(409, "Cannot resume: the orchestrator is running, not paused."),
            unavailable: say(503, "Orchestrator orch-1 is not running (process 41 is gone)."),
        };
    }""")
    page.close()
    assert words["offline"].startswith("The server cannot be reached.")
    assert words["unauthenticated"].startswith("You are not signed in")
    assert words["csrf"].startswith("This page's security token is missing or expired. Reload the page")
    assert words["forbidden"].startswith("Your account is not allowed to do this.")
    assert words["conflict"] == "Not possible right now. Cannot resume: the orchestrator is running, not paused."
    assert words["unavailable"].startswith("The orchestrator does not answer: it may have stopped, or be busy.")
    assert words["unavailable"].endswith("(process 41 is gone).")


def test_stream_replays_after_a_gap_and_refetches_after_a_reset(browser, site):
    """The two frames a healthy server rarely sends, injected into the real stream of a journaled instance."""
    instance_id = "orch-1700000000001"
    Registry(site.repo.layout.registry_path).register(Instance(**site.repo.instance(
        id=instance_id, plan_path="docs/plans/demo.md", status="stopped")))
    journal = Journal(site.repo.layout.journal_file(instance_id))
    for number in range(1, 21):
        kind = "tool_started" if number % 2 else "tool_completed"
        data = {"tool_id": f"t{(number + 1) // 2}", "tool_name": "Read", "input_summary": "docs/plans/demo.md",
                "duration": 0.1, "success": True}
        journal.append(Event(id=number, type=kind, timestamp=iso_now(), instance_id=instance_id, data=data))
    journal.close()

    sockets = []

    def through(route):
        sockets.append(route)
        route.connect_to_server()  # a proxy: frames pass both ways, and the test may add its own

    tab = Tab(browser, site, "alice")
    tab.page.route_web_socket(re.compile(r"/api/orchestrators/[^/?]+/events"), through)
    tab.sign_in(f"/orchestrators/{instance_id}/")
    connection = tab.page.locator("#connection")
    expect(connection).to_have_text("Live")
    assert "since=" not in sockets[0].url

    def inject(frame_type: str, data: dict) -> None:
        sockets[-1].send(json.dumps({"type": frame_type, "timestamp": iso_now(), "instance_id": instance_id,
                                     "data": data}))

    # The server dropped ids 5-9 for this client: it reconnects from 4 and replays 5-20.
    inject("gap", {"from_id": 5, "to_id": 9, "count": 5, "since": 4})
    expect(connection).to_have_text("Reconnected; caught up on 16 missed events.")
    assert sockets[-1].url.endswith("/events?since=4")
    # The page showed all ten calls from the journal on open (GET tool-calls); the replay of 5-20
    # finishes calls 3-10 again and must not add a second row for any of them.
    expect(tab.page.locator("#feed li.ok")).to_have_count(10)

    # The journal no longer reaches back to the cursor: the page reloads the state over REST.
    with tab.page.expect_request(re.compile(rf"/api/orchestrators/{instance_id}/status$")):
        inject("reset", {"reason": "cursor_out_of_range", "since": 4, "oldest_id": 12, "last_id": 20})
    expect(connection).to_contain_text("too much was missed to replay")
    expect(tab.page.locator("#feed li.note-row").first).to_contain_text("some tool calls are not shown")
    tab.close()
