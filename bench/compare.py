"""Every read endpoint, for anonymous, token and session clients, against the old server's figures (issue #14).

    .venv/bin/python bench/compare.py [REPO_ROOT] [--before DIR] [--routes daphne,gunicorn]
                                      [--clients anonymous,token,session] [--only SUBSTRING]
                                      [--duration 5] [--rounds 3]

The corpus is copied to a temporary directory where two orchestrator instances are
registered: a live one (this process serves its IPC socket and answers `status`) and a
wedged one (its socket accepts and never answers). A fresh SQLite database holds one user
with a token and a signed-in session. Each route (daphne: one process, the default;
gunicorn -w 2 -k gthread: the documented production route for REST reads; gunicorn-sync: its
default worker, on request) is started for our code,
for `--before DIR` (another checkout, e.g. `git worktree add ../perf-before <sha>`) and for
the Django hello-world floor (bench/hello_site.py). Every endpoint x client is loaded with
wrk, 50 connections, interleaving the servers endpoint by endpoint so that a noisy
neighbour hits all of them alike; the table shows the median of the rounds. Then the live
status is loaded again while four clients keep asking for the wedged instance's status.

The old FastAPI server (uvicorn, one worker) cannot run here; its req/s from the issue are
printed beside ours. Its p99 was not recorded: the "old mean ms" column is 50 connections
divided by its req/s (Little's law), a lower bound of its p99.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import http_load
from http_load import LUA_REPORT, PROJECT, default_repo, get, run_wrk

sys.path.insert(0, str(PROJECT))

from orchestrator.ipc import IPCServer  # noqa: E402
from orchestrator.registry import Instance, Registry, new_instance_id  # noqa: E402
from orchestrator.clock import iso_now  # noqa: E402

# GET req/s of the FastAPI server this one replaces, same machine and load (issue #14).
OLD_SERVER = {"/api/plans": 641, "/api/plans/{plan}/tasks": 1944, "/api/plans/{plan}/findings": 2893,
              "/health": 2540, "/api/orchestrators": 898, "/api/orchestrators/{live}/status": 1366}
ENDPOINTS = ["/health", "/api/plans", "/api/plans/{plan}", "/api/plans/{plan}/status", "/api/plans/{plan}/tasks",
             "/api/plans/{plan}/findings", "/api/plans/{plan}/findings/{task}", "/api/orchestrators",
             "/api/orchestrators/{live}", "/api/orchestrators/{live}/status"]
CLIENTS = ("anonymous", "token", "session")
ROUTES = {
    "daphne": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "-v", "0", "{asgi}"],
    # The documented production route (docs/deployment.md).
    "gunicorn": [sys.executable, "-m", "gunicorn", "{wsgi}", "-w", "2", "-k", "gthread", "--threads", "4",
                 "--keep-alive", "5", "-b", "127.0.0.1:{port}", "--log-level", "warning"],
    # gunicorn's default sync worker: a new connection per request.
    "gunicorn-sync": [sys.executable, "-m", "gunicorn", "{wsgi}", "-w", "2", "-b", "127.0.0.1:{port}",
                      "--log-level", "warning"],
}
APPS = {"site": ("orchestrator_site.asgi:application", "orchestrator_site.wsgi"),
        "floor": ("hello_site:asgi_app", "hello_site:wsgi_app")}


class Server(http_load.Server):
    """One route (daphne or gunicorn) of one code base (a checkout, or the hello-world floor)."""

    def __init__(self, label: str, route: str, checkout: Path, app: str, env: dict):
        asgi, wsgi = APPS[app]
        argv = [part.replace("{asgi}", asgi).replace("{wsgi}", wsgi) for part in ROUTES[route]]
        pythonpath = str(PROJECT / "bench") if app == "floor" else str(checkout)
        super().__init__(label, argv=argv, cwd=checkout, env={**env, "PYTHONPATH": pythonpath})
        self.label, self.route = label, route


class WedgedSocket:
    """Accepts connections and never answers: an orchestrator stuck in a long synchronous call."""

    def __init__(self, path: str):
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        os.chmod(path, 0o600)
        self._listener.listen(512)
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)
            del self._held[:-256]  # old ones are closed by the garbage collector: the client gave up long ago


def prepare_repo(source: Path, directory: Path) -> tuple[Path, dict]:
    """A copy of the corpus with a live and a wedged instance registered; their ids and the plans to read."""
    repo = directory / "repo"
    shutil.copytree(source, repo, symlinks=True)
    (repo / ".claude").mkdir(exist_ok=True)
    plans = sorted((repo / "docs" / "plans").glob("*.md"))
    findings = sorted(path for path in (repo / "docs" / "plan-outputs").glob("*/findings/*.md"))
    plan = findings[len(findings) // 2].parent.parent.name if findings else plans[len(plans) // 2].stem
    registry = Registry(repo / ".claude" / "orchestrator-registry.json")
    ids = {}
    for kind in ("live", "wedged"):
        instance_id = new_instance_id()
        while instance_id in ids.values():
            time.sleep(0.002)
            instance_id = new_instance_id()
        now = iso_now()
        registry.register(Instance(id=instance_id, pid=os.getpid(), plan_path=f"docs/plans/{plan}.md",
                                   worktree_path=None, started_at=now, last_heartbeat=now, status="running",
                                   socket_path=str(directory / f"{kind}.sock"), port=None))
        ids[kind] = instance_id
    return repo, {"plan": plan, **ids}


def prepare_database(directory: Path, env: dict) -> tuple[str, str]:
    """A migrated SQLite database with one staff user; its token and a signed-in session key."""
    manage = [sys.executable, str(PROJECT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, cwd=PROJECT, check=True)
    out = subprocess.run([*manage, "create_local_user", "--username", "bench", "--token-only"], env=env,
                         cwd=PROJECT, check=True, capture_output=True, text=True).stdout
    token = out.strip().splitlines()[-1]
    login = ("from django.contrib.auth import get_user_model; from django.test import Client; "
             "client = Client(); client.force_login(get_user_model().objects.get(username='bench')); "
             "print(client.cookies['sessionid'].value)")
    out = subprocess.run([*manage, "shell", "-c", login], env=env, cwd=PROJECT, check=True,
                         capture_output=True, text=True).stdout
    return token, out.strip().splitlines()[-1]


def server_env(repo: Path, database: Path) -> dict:
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ORCHESTRATOR_"))},
        "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
        "DJANGO_SECRET_KEY": "bench-only-secret",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{database}",
        "ORCHESTRATOR_REPO_ROOT": str(repo),
        "ORCHESTRATOR_READS_REQUIRE_AUTH": "0",
        "LOG_LEVEL": "WARNING",
    }


def client_headers(client: str, token: str, session: str) -> dict:
    return {"anonymous": {}, "token": {"Authorization": f"Token {token}"},
            "session": {"Cookie": f"sessionid={session}"}}[client]


def check(server: Server, path: str, headers: dict) -> None:
    request = urllib.request.Request(server.base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    if status != 200:
        raise RuntimeError(f"{server.label}: GET {path} answered {status}: {body[:300]!r}")
    json.loads(body)


class WedgedPollers:
    """Four clients asking for the wedged instance's status in a loop, for as long as the block runs."""

    def __init__(self, url: str, headers: dict):
        self.url, self.headers, self.stop, self.done = url, headers, threading.Event(), []

    def _loop(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(urllib.request.Request(self.url, headers=self.headers), timeout=10):
                    pass
            except (OSError, urllib.error.HTTPError):
                pass
            self.done.append(time.monotonic() - started)

    def __enter__(self):
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(4)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", nargs="?", type=Path, default=default_repo(), help="repository root to copy and serve")
    parser.add_argument("--before", type=Path, help="another checkout to measure alongside, labelled 'before'")
    parser.add_argument("--routes", default="daphne,gunicorn")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--only", help="endpoints whose template contains this (e.g. orchestrators)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--no-floor", action="store_true", help="skip the Django hello-world floor")
    parser.add_argument("--no-wedged", action="store_true", help="skip the wedged-instance run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install wrk` (Debian package). This benchmark needs it.",
              file=sys.stderr)
        return 2

    clients = [client.strip() for client in args.clients.split(",")]
    endpoints = [e for e in ENDPOINTS if not args.only or args.only in e]
    checkouts = [("ours", PROJECT)] + ([("before", args.before.resolve())] if args.before else [])
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(LUA_REPORT)
    script.close()
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        directory = Path(tmp)
        repo, names = prepare_repo(args.repo, directory)
        env = server_env(repo, directory / "bench.sqlite3")
        token, session = prepare_database(directory, env)
        status_reply = {"instance_id": names["live"], "plan_path": f"docs/plans/{names['plan']}.md",
                        "progress": 0.5, "completed": 1, "total": 2, "iteration": 3, "paused": False,
                        "shutdown_requested": False}
        live = IPCServer(str(directory / "live.sock"), lambda command, payload: dict(status_reply))
        live.start()
        WedgedSocket(str(directory / "wedged.sock"))  # listens for the whole run: its accept thread holds it
        task = None
        results: dict[tuple, list[dict]] = {}
        try:
            for route in (route.strip() for route in args.routes.split(",")):
                servers = [Server(label, route, checkout, "site", env) for label, checkout in checkouts]
                if not args.no_floor:
                    servers.append(Server("floor", route, PROJECT, "floor", env))
                try:
                    for server in servers:
                        server.wait_ready()
                    if task is None:
                        findings = json.loads(get(servers[0].base + f"/api/plans/{names['plan']}/findings")[1])
                        task = findings[0]["task_id"] if findings else "1.1"
                    fill = {**names, "task": task}
                    for server in servers:
                        for template in endpoints if server.label != "floor" else ["/health"]:
                            for client in clients:
                                check(server, template.format(**fill), client_headers(client, token, session))
                    for _ in range(args.rounds):
                        for template in endpoints:
                            for client in clients:
                                for server in servers:
                                    if server.label == "floor" and (template != "/health" or client != "anonymous"):
                                        continue
                                    result = run_wrk(server.base + template.format(**fill),
                                                     connections=args.connections, threads=2,
                                                     duration=args.duration, script=script.name,
                                                     headers=client_headers(client, token, session))
                                    results.setdefault((route, template, client, server.label), []).append(result)
                                    print(f"  {route:8} {server.label:6} {client:9} {template:38} "
                                          f"{result['rps']:7.0f} req/s p99 {result['p99_ms']:6.1f} ms "
                                          f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr)
                        if not args.no_wedged and (not args.only or args.only in "/api/orchestrators/{live}/status"):
                            for server in servers:
                                if server.label == "floor":
                                    continue
                                headers = client_headers("token", token, session)
                                with WedgedPollers(server.base + f"/api/orchestrators/{names['wedged']}/status",
                                                   headers) as pollers:
                                    result = run_wrk(server.base + f"/api/orchestrators/{names['live']}/status",
                                                     connections=args.connections, threads=2,
                                                     duration=args.duration, script=script.name, headers=headers)
                                result["wedged_s"] = statistics.median(pollers.done) if pollers.done else None
                                key = (route, "live status, 4 clients polling a wedged one", "token", server.label)
                                results.setdefault(key, []).append(result)
                                print(f"  {route:8} {server.label:6} wedged-neighbour {result['rps']:7.0f} req/s "
                                      f"p99 {result['p99_ms']:6.1f} ms", file=sys.stderr)
                finally:
                    for server in servers:
                        server.stop()
        finally:
            live.stop()
            os.unlink(script.name)
    report(results, args, names)
    return 0


def report(results: dict, args, names: dict) -> None:
    print(f"\nRepository: {args.repo} (plan {names['plan']})  Client: wrk -t2 -c{args.connections} "
          f"-d{args.duration}s  Rounds: {args.rounds} (medians)  CPUs: {os.cpu_count()}\n")
    labels = sorted({key[3] for key in results if key[3] != "floor"}, key=lambda label: label != "before")
    head = " | ".join(f"{label} req/s | {label} p99 ms" for label in labels)
    print(f"| route | GET | client | old req/s | old mean ms | {head} |")
    print("|" + "---|" * (5 + 2 * len(labels)))
    for route in dict.fromkeys(key[0] for key in results):
        floor = results.get((route, "/health", "anonymous", "floor"))
        if floor:
            print(f"| {route} | Django hello-world floor | anonymous | | | "
                  + " | ".join(f"{statistics.median(r['rps'] for r in floor):.0f} | "
                               f"{statistics.median(r['p99_ms'] for r in floor):.1f}" for _ in labels[:1])
                  + " |" + " |" * (2 * len(labels) - 2))
        for template, client in dict.fromkeys((key[1], key[2]) for key in results if key[0] == route):
            old = OLD_SERVER.get(template)
            cells = []
            for label in labels:
                runs = results.get((route, template, client, label), [])
                cells += [f"{statistics.median(r['rps'] for r in runs):.0f}" if runs else "",
                          f"{statistics.median(r['p99_ms'] for r in runs):.1f}" if runs else ""]
                if runs and any(r["errors"] for r in runs):
                    cells[-1] += f" ({sum(r['errors'] for r in runs)} errors)"
            old_cells = f"{old} | {1000 * args.connections / old:.0f}" if old else " | "
            print(f"| {route} | {template} | {client} | {old_cells} | {' | '.join(cells)} |")


if __name__ == "__main__":
    sys.exit(main())
