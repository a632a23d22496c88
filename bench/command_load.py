"""Many commands at once on one daphne process: server errors, lost audit rows, stuck Idempotency-Keys.

    .venv/bin/python bench/command_load.py [--commands 600] [--database sqlite,postgresql] [--rounds 1]
                                           [--project DIR ...]

A fixture repository holds one plan of --commands tasks; a fresh database (SQLite in a
temporary directory, or a throwaway PostgreSQL cluster, bench/pg_cluster.py) holds one
staff user. All commands are sent at once, one connection each: a skip of a distinct task
with its own Idempotency-Key. Afterwards the database and status.json are read: every
command must have one audit row, no key may be left reserved (status 0), and every skip
answered 200 must be in status.json, every other one not. --project serves another checkout
(repeatable, e.g. `git worktree`s of older commits, measured interleaved). Prints one table.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serving.daphne_endpoint import listen_endpoint  # noqa: E402
from bench.pg_cluster import PostgresCluster, postgres_available  # noqa: E402
from bench.ws_common import PROJECT, free_port  # noqa: E402

PLAN_NAME = "load"


def write_repo(root: Path, tasks: int) -> list[str]:
    ids = [f"{1 + n // 100}.{1 + n % 100}" for n in range(tasks)]
    phases = {}
    for task_id in ids:
        phases.setdefault(task_id.split(".")[0], []).append(f"- [ ] {task_id} Task {task_id}")
    text = "# Load\n\n" + "".join(f"## Phase {p}: Part {p}\n\n" + "\n".join(lines) + "\n\n"
                                  for p, lines in phases.items())
    (root / "docs" / "plans").mkdir(parents=True)
    (root / "docs" / "plans" / f"{PLAN_NAME}.md").write_text(text)
    from orchestrator.plans import parse_plan
    from orchestrator.status import init_status

    out = root / "docs" / "plan-outputs" / PLAN_NAME
    out.mkdir(parents=True)
    init_status(out / "status.json", plan=parse_plan(text), plan_path=f"docs/plans/{PLAN_NAME}.md")
    return ids


def server_env(root: Path, database_url: str, project: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ORCHESTRATOR_", "REDIS_", "DATABASE_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "orchestrator_site.settings", "DJANGO_SECRET_KEY": "bench-only",
                "DATABASE_URL": database_url, "ORCHESTRATOR_REPO_ROOT": str(root), "PYTHONPATH": str(project),
                "LOG_LEVEL": "WARNING"})
    return env


def prepare(env: dict, project: Path) -> str:
    manage = [sys.executable, str(project / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, cwd=project, check=True)
    out = subprocess.run([*manage, "create_local_user", "--username", "bench", "--token-only"], env=env,
                         cwd=project, check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


async def fire(port: int, token: str, ids: list[str]) -> Counter:
    import httpx

    limits = httpx.Limits(max_connections=len(ids), max_keepalive_connections=0)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120) as client:
        start = asyncio.Event()

        async def one(task_id: str):
            await start.wait()
            try:
                response = await client.post(f"/api/plans/{PLAN_NAME}/tasks/{task_id}/skip",
                                             content=json.dumps({"reason": "load"}),
                                             headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
                return task_id, response.status_code
            except httpx.HTTPError as exc:
                return task_id, type(exc).__name__

        jobs = [asyncio.create_task(one(task_id)) for task_id in ids]
        await asyncio.sleep(0.2)
        start.set()
        return dict(await asyncio.gather(*jobs))


def database_counts(env: dict, project: Path) -> tuple[int, int]:
    """(audit rows, reservations left at status 0), read by a separate process of the project."""
    code = ("from api.models import AuditEntry, IdempotencyRecord; "
            "print('COUNTS', AuditEntry.objects.count(), IdempotencyRecord.objects.filter(status_code=0).count())")
    out = subprocess.run([sys.executable, str(project / "manage.py"), "shell", "-c", code], env=env, cwd=project,
                         check=True, capture_output=True, text=True).stdout
    _, audit, stuck = next(line for line in out.splitlines() if line.startswith("COUNTS ")).split()
    return int(audit), int(stuck)


def run(database: str, commands: int, project: Path = PROJECT) -> dict:
    with tempfile.TemporaryDirectory(prefix="command-load-") as tmp:
        root = Path(tmp)
        ids = write_repo(root, commands)
        cluster = None
        if database == "postgresql":
            cluster = PostgresCluster()
            cluster.start()
            database_url = cluster.url
        else:
            database_url = f"sqlite:///{root}/bench.sqlite3"
        try:
            env = server_env(root, database_url, project)
            token = prepare(env, project)
            port = free_port()
            log = open(root / "daphne.log", "wb")
            server = subprocess.Popen([sys.executable, "-m", "daphne", "-v", "0", "-e", listen_endpoint("127.0.0.1", port),
                                       "orchestrator_site.asgi:application"], cwd=project, env=env,
                                      stdout=subprocess.DEVNULL, stderr=log)
            try:
                wait_listening(port, server)
                started = time.monotonic()
                answers = asyncio.run(fire(port, token, ids))
                elapsed = time.monotonic() - started
            finally:
                server.terminate()
                server.wait(20)
            audit, stuck = database_counts(env, project)
            status = json.loads((root / "docs" / "plan-outputs" / PLAN_NAME / "status.json").read_text())
            skipped = {task["id"] for task in status["tasks"] if task["status"] == "skipped"}
            ok = {task_id for task_id, code in answers.items() if code == 200}
            log_text = (root / "daphne.log").read_text(errors="replace")
            locked = log_text.count("database is locked")
            errors = Counter(line.split(": ", 1)[-1][:120] for line in log_text.splitlines()
                             if "Error" in line and not line.startswith((" ", "Traceback")))
        finally:
            if cluster is not None:
                cluster.stop()
    codes = Counter(answers.values())
    return {"project": project.name, "database": database, "commands": commands, "seconds": elapsed, "codes": dict(codes),
            "server_errors": sum(n for code, n in codes.items() if not isinstance(code, int) or code >= 500),
            "audit_rows": audit, "audit_lost": commands - audit, "stuck_keys": stuck,
            "applied_not_200": len(skipped - ok), "200_not_applied": len(ok - skipped), "locked_in_log": locked,
            "top_errors": errors.most_common(3)}


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("daphne exited while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("daphne did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=600)
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--project", type=Path, action="append", help="checkout to serve (repeatable)")
    args = parser.parse_args()
    projects = [p.resolve() for p in (args.project or [PROJECT])]
    rows, failed = [], False
    for _ in range(args.rounds):
        for database, project in ((d, p) for d in args.database.split(",") for p in projects):
            if database == "postgresql" and not postgres_available():
                print("postgresql: initdb/pg_ctl not found (scripts/system-packages installs them); skipped",
                      file=sys.stderr)
                continue
            row = run(database, args.commands, project)
            print(f"  {row}", file=sys.stderr)
            rows.append(row)
            failed |= bool(row["server_errors"] or row["audit_lost"] or row["stuck_keys"] or row["applied_not_200"]
                           or row["200_not_applied"])
    print(f"\n{args.commands} concurrent skips (one connection and Idempotency-Key each) on one daphne process\n")
    print("| checkout | database | answers | 5xx/errors | audit rows | lost | keys stuck | applied, not 200 | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        answers = ", ".join(f"{n}x{code}" for code, n in sorted(r["codes"].items(), key=str))
        print(f"| {r['project']} | {r['database']} | {answers} | {r['server_errors']} | {r['audit_rows']} | {r['audit_lost']} | "
              f"{r['stuck_keys']} | {r['applied_not_200']} | {r['seconds']:.1f} |")
    print("\nPASS" if not failed else "\nFAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
