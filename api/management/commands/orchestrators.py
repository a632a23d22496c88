"""List, inspect and stop the orchestrators of a repository over the registry and their IPC sockets."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from common.conf import orchestrator_settings
from orchestrator.clock import parse_iso, utc_now
from orchestrator.errors import InvalidName, OrchestratorError, OrchestratorUnavailable, StatusFileCorrupt
from orchestrator.ipc import send_command
from orchestrator.layout import RepoLayout
from orchestrator.registry import (ACTIVE_STATUSES, Instance, Registry, instance_state, is_alive, is_crashed,
                                   is_stale)
from orchestrator.status import read_status



def _age(timestamp: str, now) -> str:
    moment = parse_iso(timestamp)
    if moment is None:
        return "?"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


class Command(BaseCommand):
    help = (
        "Orchestrators registered in <repo>/.claude/orchestrator-registry.json: `list`, `status ID`, "
        "`stop ID [--force]`, `shutdown-all [--force]`. Stopping is graceful (after the current task) "
        "unless --force, which kills the agent at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repo-root", help="Repository root (default: the ORCHESTRATOR_REPO_ROOT setting).")
        actions = parser.add_subparsers(dest="action", required=True, metavar="{list,status,stop,shutdown-all}")
        listing = actions.add_parser("list", help="Every registered instance, live ones asked for their state.")
        listing.add_argument("--json", action="store_true", help="Machine-readable output.")
        status = actions.add_parser("status", help="Ask one instance for its status.")
        status.add_argument("instance_id")
        status.add_argument("--json", action="store_true", help="Print the raw IPC reply.")
        stop = actions.add_parser("stop", help="Shut one instance down.")
        stop.add_argument("instance_id")
        stop.add_argument("--force", action="store_true", help="Kill the running agent instead of waiting.")
        everyone = actions.add_parser("shutdown-all", help="Shut down every live instance.")
        everyone.add_argument("--force", action="store_true", help="Kill the running agents instead of waiting.")

    def handle(self, *args, action, repo_root=None, **options):
        root = Path(repo_root).resolve() if repo_root else orchestrator_settings().repo_root
        self.layout = RepoLayout.at(root)
        self.registry = Registry(self.layout.registry_path)
        self.timeout = orchestrator_settings().ipc_timeout
        try:
            if action == "list":
                self._list(as_json=options["json"])
            elif action == "status":
                self._status(options["instance_id"], as_json=options["json"])
            elif action == "stop":
                self._stop(options["instance_id"], force=options["force"])
            else:
                self._shutdown_all(force=options["force"])
        except OrchestratorError as exc:
            raise CommandError(exc.message) from None

    def _reachable(self, instance: Instance) -> Instance:
        """The instance if a command can reach it; otherwise a CommandError that says why not."""
        if instance.status not in ACTIVE_STATUSES:
            raise CommandError(f"{instance.id} is {instance.status} (last heartbeat "
                               f"{_age(instance.last_heartbeat, utc_now())}).")
        if not is_alive(instance):
            raise CommandError(f"{instance.id} is dead: its process {instance.pid} is gone, though the registry "
                               f"still says {instance.status} (it was killed or crashed).")
        if not instance.socket_path:
            raise CommandError(f"{instance.id} has no IPC socket to talk to.")
        return instance

    def _ask(self, instance: Instance, command: str, payload: dict | None = None, *, timeout: float) -> dict:
        try:
            return send_command(instance.socket_path, command, payload, timeout=timeout)
        except OrchestratorUnavailable as exc:
            raise CommandError(f"{instance.id} (pid {instance.pid}) is unreachable: {exc.message}") from None

    def _describe(self, instance: Instance, now) -> dict:
        """Registry entry plus what a live instance says about itself (paused, progress)."""
        row = {**instance.to_dict(), "alive": is_alive(instance), "stale": is_stale(instance, now)}
        if is_crashed(instance.status, alive=row["alive"]):
            row["state"] = "dead"
        elif instance.status in ACTIVE_STATUSES and instance.socket_path:
            try:
                reply = send_command(instance.socket_path, "status",
                                     timeout=orchestrator_settings().status_ipc_timeout)
                row.update(state=instance_state(instance, alive=True, reply=reply), progress=reply.get("progress"),
                           completed=reply.get("completed"), total=reply.get("total"))
            except OrchestratorUnavailable:
                row["state"] = "unreachable"
        else:
            row["state"] = instance.status
        if row.get("total") is None:
            row.update(self._progress_on_disk(instance))
        return row

    def _progress_on_disk(self, instance: Instance) -> dict:
        """A stopped, crashed or unreachable instance cannot say: its plan's status.json can."""
        try:
            snapshot = read_status(self.layout.instance_plan(instance).status_path)
        except (InvalidName, StatusFileCorrupt, OSError):
            return {}
        if snapshot is None:
            return {}
        counts = snapshot.counts
        return {"progress": snapshot.progress_percent, "completed": counts["completed"], "total": counts["total"]}

    def _list(self, *, as_json: bool) -> None:
        now = utc_now()
        rows = [self._describe(instance, now) for instance in self.registry.list()]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write(f"No orchestrators registered in {self.registry.path}.")
            return
        self.stdout.write(f"{'ID':<20} {'STATE':<12} {'PID':>7}  {'PROGRESS':<12} {'HEARTBEAT':<10} PLAN")
        for row in rows:
            progress = f"{row['completed']}/{row['total']} {row['progress']:.0f}%" if row.get("total") else "-"
            self.stdout.write(f"{row['id']:<20} {row['state']:<12} {row['pid']:>7}  {progress:<12} "
                              f"{_age(row['last_heartbeat'], now):<10} {row['plan_path']}")

    def _status(self, instance_id: str, *, as_json: bool) -> None:
        instance = self._reachable(self.registry.get(instance_id))
        reply = self._ask(instance, "status", timeout=self.timeout)
        if "error" in reply:
            raise CommandError(f"{instance_id}: {reply['error']}")
        if as_json:
            self.stdout.write(json.dumps(reply, indent=2))
            return
        task = reply.get("current_task")
        lines = [
            f"{reply['instance_id']}  {reply.get('state', 'paused' if reply.get('paused') else 'running')}",
            f"  plan       {reply['plan_path']}",
            f"  progress   {reply['completed']}/{reply['total']} ({reply['progress']}%)",
            f"  iteration  {reply['iteration']}/{reply.get('max_iterations', '?')}",
            f"  task       {task['id']} {task.get('description', '')}" if task else "  task       -",
            f"  pid        {instance.pid}, socket {instance.socket_path}",
        ]
        if reply.get("shutdown_requested"):
            lines.append("  shutdown requested")
        self.stdout.write("\n".join(lines))

    def _shutdown(self, instance: Instance, *, force: bool) -> str:
        reply = self._ask(instance, "shutdown", {"force": force}, timeout=self.timeout)
        if "error" in reply:
            raise CommandError(f"{instance.id}: {reply['error']}")
        return reply.get("message") or "Shutdown acknowledged."

    def _stop(self, instance_id: str, *, force: bool) -> None:
        instance = self._reachable(self.registry.get(instance_id))
        self.stdout.write(f"{instance_id}: {self._shutdown(instance, force=force)}")

    def _shutdown_all(self, *, force: bool) -> None:
        live = [instance for instance in self.registry.list()
                if instance.status in ACTIVE_STATUSES and is_alive(instance)]
        if not live:
            self.stdout.write("No live orchestrators.")
            return
        failures = 0
        for instance in live:
            try:
                self.stdout.write(f"{instance.id}: {self._shutdown(self._reachable(instance), force=force)}")
            except CommandError as exc:
                failures += 1
                self.stderr.write(str(exc))
        if failures:
            raise CommandError(f"{failures} of {len(live)} orchestrators did not acknowledge the shutdown.")
