"""Run a plan with an agent (the orchestrator process), optionally serving the API in the same process."""

import logging
import os
import shlex
import shutil
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from common.conf import orchestrator_settings
from orchestrator.agents.scripted import SCRIPTED_AGENT_CMD
from orchestrator.engine import EXIT_BLOCKED, EXIT_MAX_ITERATIONS, Engine, EngineConfig
from orchestrator.errors import InvalidName, OrchestratorError
from orchestrator.events import EventBus
from orchestrator.layout import RepoLayout
from orchestrator.lifecycle import install_shutdown_signals
from orchestrator.runner import DEFAULT_AGENT_CMD

SCRIPTED_MODULE = "orchestrator.agents.scripted"
EXIT_MESSAGES = {
    EXIT_BLOCKED: "Stopped with failed tasks and no retries left: fix them, then retry or skip them.",
    EXIT_MAX_ITERATIONS: "Stopped at --max-iterations with work left: run again to continue.",
}


def resolve_plan(layout: RepoLayout, plan: str) -> Path:
    """A plan is a name under docs/plans/ ("sample-plan") or a path to a markdown file."""
    if plan.endswith(".md") or os.sep in plan:
        candidate = Path(plan).expanduser()
        for path in (candidate, layout.root / candidate):
            if path.is_file():
                return path.resolve()
        raise CommandError(f"No plan file at {plan}.")
    try:
        path = layout.plan_file(plan, archived=False)
    except InvalidName as exc:
        raise CommandError(exc.message) from None
    if not path.is_file():
        known = sorted(p.stem for p in layout.plans_dir.glob("*.md")) if layout.plans_dir.is_dir() else []
        hint = f" Plans there: {', '.join(known)}." if known else ""
        raise CommandError(f"No plan {plan!r} in {layout.plans_dir}.{hint}")
    return path


class Command(BaseCommand):
    help = (
        "Run a plan: walk an agent (Claude Code by default) through its tasks, recording each in "
        "docs/plan-outputs/<plan>/status.json. Registers in .claude/orchestrator-registry.json and "
        "answers status/pause/resume/shutdown on its IPC socket. SIGTERM or Ctrl-C stops after the "
        "current task; a second one also kills the agent."
    )

    def add_arguments(self, parser):
        parser.add_argument("plan", nargs="?", help="Plan name under docs/plans/, or a path to a plan file.")
        parser.add_argument("--repo-root", help="Repository root (default: the ORCHESTRATOR_REPO_ROOT setting).")
        parser.add_argument("--agent-cmd", help="Agent argv template, split like a shell line; placeholders "
                            "{prompt} {task_id} {plan_path} {findings_dir}. Default: Claude Code, or the "
                            "bundled scripted agent when `claude` is not on PATH.")
        parser.add_argument("--max-iterations", type=int, default=50, help="Agent runs before stopping (50).")
        parser.add_argument("--timeout", type=float, default=600.0, help="Seconds per agent run (600; 0: none).")
        parser.add_argument("--max-retries", type=int, default=2, help="Automatic re-runs of a failed task (2).")
        parser.add_argument("--worktree", help="A `git worktree add` tree of the repository to run the plan in: "
                            "the agent works there and the plan's status.json and findings are that tree's, "
                            "as upstream's tools keep them; the instance is registered in the repository "
                            "with its worktree_path (default: the repository itself).")
        parser.add_argument("--dry-run", action="store_true", help="Print what would run; change nothing.")
        parser.add_argument("--plain", action="store_true", help="Log lines instead of the live display.")
        parser.add_argument("--api-server", action="store_true", help="Also serve the API in this process.")
        parser.add_argument("--api-only", action="store_true", help="Serve the API without orchestrating.")
        parser.add_argument("--api-port", type=int, default=8000,
                            help="Port of the API served with --api-server or --api-only (8000).")
        parser.add_argument("--api-host", default="127.0.0.1",
                            help="Address it listens on (127.0.0.1: this machine only).")

    def handle(self, *args, **options):
        # watchfiles logs every change it sees at INFO: one line per status write drowns the progress.
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
        repo_root = Path(options["repo_root"] or orchestrator_settings().repo_root).resolve()
        if not repo_root.is_dir():
            raise CommandError(f"Repository root {repo_root} is not a directory.")
        if not options["repo_root"]:
            return self._handle(repo_root, options)
        # The embedded API must serve the repository we orchestrate, and every read goes through
        # the settings accessor: Django's scoped override (restored on return, the accessor told by
        # setting_changed) rather than threading the root through every view.
        with override_settings(ORCHESTRATOR={**settings.ORCHESTRATOR, "REPO_ROOT": str(repo_root)}):
            return self._handle(repo_root, options)

    def _handle(self, repo_root: Path, options):
        if options["api_only"]:
            return self._serve_only(options["api_host"], options["api_port"], repo_root)
        if not options["plan"]:
            raise CommandError("Name a plan to run (or pass --api-only to serve without orchestrating).")
        if options["max_iterations"] < 1 or options["max_retries"] < 0 or options["timeout"] < 0:
            raise CommandError("--max-iterations must be at least 1; --max-retries and --timeout not negative.")
        worktree = Path(options["worktree"]).resolve() if options["worktree"] else None
        if worktree and not worktree.is_dir():
            raise CommandError(f"Worktree {worktree} is not a directory.")
        try:
            tree = RepoLayout.at(repo_root).worktree(str(worktree) if worktree else None)
        except InvalidName:
            raise CommandError(f"{worktree} is not a git worktree of {repo_root} (see `git worktree add`).") from None
        plan_path = resolve_plan(tree, options["plan"])
        argv = self._agent_cmd(options["agent_cmd"])
        config = EngineConfig(
            repo_root=repo_root, plan_path=plan_path, agent_cmd=argv,
            max_iterations=options["max_iterations"], timeout=options["timeout"] or None,
            max_retries=options["max_retries"], worktree=worktree, dry_run=options["dry_run"],
            agent_env=self._agent_env(argv),
        )
        if options["dry_run"]:
            self._run(Engine(config, echo=self.stdout.write))
            return
        server = self._start_server(options) if options["api_server"] else None
        try:
            if server is not None:
                config.api_port = server.port
            return self._orchestrate(config, server, plain=options["plain"])
        finally:
            if server is not None:
                server.stop()

    def _agent_cmd(self, template: str | None) -> list[str]:
        if template:
            argv = shlex.split(template)
            if not argv:
                raise CommandError("--agent-cmd is empty.")
            if not any("{prompt}" in arg for arg in argv):
                self.stderr.write("Warning: --agent-cmd has no {prompt} placeholder; the agent gets no task.")
            return argv
        if shutil.which(DEFAULT_AGENT_CMD[0]):
            return list(DEFAULT_AGENT_CMD)
        self.stderr.write(self.style.WARNING(
            "Claude Code (`claude`) is not on PATH: using the bundled scripted agent instead. It prints "
            "the same stream-json and writes a findings file per task, but changes no code. Install "
            "Claude Code or pass --agent-cmd to run a real agent."))
        return list(SCRIPTED_AGENT_CMD)

    @staticmethod
    def _agent_env(argv: list[str]) -> dict[str, str] | None:
        """`python -m orchestrator.agents.scripted` runs inside the target repository, where our package
        is not importable; only that agent gets the project on its path (a real agent must not, or
        our `api` and `tests` packages could shadow the repository's own)."""
        if not any(SCRIPTED_MODULE in arg for arg in argv):
            return None
        path = [str(settings.BASE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
        return {"PYTHONPATH": os.pathsep.join(path)}

    def _orchestrate(self, config: EngineConfig, server, *, plain: bool) -> None:
        from orchestrator.display import LiveDisplay, PlainProgress

        engine = Engine(config, bus=EventBus(), echo=self.stdout.write)
        publisher = self._attach_publisher(engine.bus, server)
        self.stdout.write(f"{engine.instance_id}: running {engine.plan_path} in {engine.workdir}"
                          f" (socket {engine.socket_path})" + (f"; API on {server.url}/" if server else ""))
        try:
            if not plain and self.stdout.isatty():
                from rich.console import Console

                display = LiveDisplay(engine, Console())  # stdout, which isatty() just vouched for
                engine.bus.subscribe(display.progress, instance_id=engine.instance_id)
                with display:
                    code = self._run(engine)
            else:
                engine.bus.subscribe(PlainProgress(self.stdout.write), instance_id=engine.instance_id)
                code = self._run(engine)
        finally:
            if publisher is not None:
                publisher.close()
        # Written once the live panel is gone, or its next redraw would paint over it.
        summary = engine.status_reply()
        self.stdout.write(
            f"{engine.instance_id} stopped ({engine.end_reason}): {summary['completed']}/{summary['total']} "
            f"completed, {summary['failed']} failed, {summary['skipped']} skipped. Findings in "
            f"{engine.layout.relative(engine.findings_dir)}/")
        if code:
            raise CommandError(EXIT_MESSAGES.get(code, f"Exit code {code}."), returncode=code)

    @staticmethod
    def _run(engine: Engine) -> int:
        try:
            return engine.run()
        except OrchestratorError as exc:
            raise CommandError(exc.message) from None

    def _start_server(self, options):
        from channels.routing import get_default_application

        from serving.embedded_server import EmbeddedServer

        server = EmbeddedServer(get_default_application(), options["api_host"], options["api_port"])
        try:
            server.start()
        except (ImproperlyConfigured, RuntimeError, OSError) as exc:
            raise CommandError(f"API server not started: {exc}") from None
        return server

    @staticmethod
    def _attach_publisher(bus: EventBus, server):
        """Publish our events to the channel layer: through the embedded server's loop when we serve
        (the in-memory layer lives there), on a loop of its own when a shared layer (Redis) is set."""
        from channels.layers import InMemoryChannelLayer, get_channel_layer

        from realtime.bridge.publish import LayerPublisher

        layer = get_channel_layer()
        if layer is None or (server is None and isinstance(layer, InMemoryChannelLayer)):
            return None  # nobody in or outside this process could receive them
        publisher = LayerPublisher(layer, loop=server.loop if server is not None else None)
        publisher.attach(bus)
        return publisher

    def _serve_only(self, host: str, port: int, repo_root: Path) -> None:
        server = self._start_server({"api_host": host, "api_port": port})
        self.stdout.write(f"Serving {repo_root} on {server.url}/ without orchestrating (Ctrl-C stops).")
        stop = threading.Event()
        restore = install_shutdown_signals(lambda _name: stop.set())
        try:
            stop.wait()
        finally:
            restore()
            server.stop()
        self.stdout.write("API server stopped.")
