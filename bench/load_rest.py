"""REST under sustained load: 200 concurrent connections for 60 s over a mix of read endpoints, on the corpus.

    .venv/bin/python bench/load_rest.py [REPO_ROOT] [--duration 60] [--connections 200]
                                        [--servers daphne,gunicorn] [--modes anonymous,token]

Each server is started on the repository (bench/http_load.py's Server), every endpoint is
checked to answer 200 JSON, then wrk drives the whole mix at once (its Lua `request` hook
rotates through the endpoints). Two kinds of client: anonymous reads (open on a loopback
server, so repeated reads are replayed from memory by serving/replay.py) and token-authenticated
reads (the full Django + DRF path every time). Passing means zero socket errors and zero
non-2xx answers; the script exits 1 otherwise. Prints one table.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from http_load import PROJECT, Server, default_repo, get, pick_plan

LUA = """
paths = {%(paths)s}
counter = 0
%(auth)s
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "max_us": %%d, ' ..
    '"socket_errors": %%d, "non_2xx": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def prepare_database(directory: Path) -> str:
    """A fresh SQLite database with one staff user; returns its token. Set in os.environ for the servers."""
    os.environ["DATABASE_URL"] = f"sqlite:///{directory / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings", "DJANGO_DEBUG": "0"}
    manage = [sys.executable, str(PROJECT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, cwd=PROJECT, check=True)
    out = subprocess.run([*manage, "create_local_user", "--username", "bench", "--token-only"], env=env,
                         cwd=PROJECT, check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def endpoints(base: str) -> list[str]:
    plan = pick_plan(base)
    return ["/api/plans", f"/api/plans/{plan}", f"/api/plans/{plan}/status", f"/api/plans/{plan}/tasks",
            f"/api/plans/{plan}/findings", "/api/orchestrators", "/health"]


def rss_mib(pid: int) -> float:
    """Resident memory of a server and its children (gunicorn's workers), in MiB."""
    total = 0
    pids = [pid] + [int(child) for child in
                    Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def run(server: Server, paths: list[str], *, token: str | None, connections: int, duration: int) -> dict:
    auth = f'wrk.headers["Authorization"] = "Token {token}"' if token else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"paths": ", ".join(json.dumps(p) for p in paths), "auth": auth})
    try:
        out = subprocess.run(
            ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", script.name,
             server.base + paths[0]], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    raw = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[len("RESULT "):])
    return {"requests": raw["requests"], "rps": raw["requests"] / (raw["duration_us"] / 1e6),
            "p50_ms": raw["p50_us"] / 1000, "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000,
            "socket_errors": raw["socket_errors"], "non_2xx": raw["non_2xx"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", nargs="?", type=Path, default=default_repo(), help="repository root to serve")
    parser.add_argument("--duration", type=int, default=60, help="seconds per run (default 60)")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--servers", default="daphne,gunicorn")
    parser.add_argument("--modes", default="anonymous,token")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): this benchmark needs it", file=sys.stderr)
        return 2

    rows, failed = [], False
    with tempfile.TemporaryDirectory(prefix="load-rest-") as tmp:
        token = prepare_database(Path(tmp))
        for name in args.servers.split(","):
            server = Server(name.strip(), args.repo.resolve())
            try:
                server.wait_ready()
                paths = endpoints(server.base)
                for path in paths:
                    status, body = get(server.base + path)
                    if status != 200:
                        raise RuntimeError(f"{name}: GET {path} answered {status}: {body[:200]!r}")
                    json.loads(body)
                for mode in args.modes.split(","):
                    before = rss_mib(server.process.pid)
                    result = run(server, paths, token=token if mode == "token" else None,
                                 connections=args.connections, duration=args.duration)
                    result["rss"] = (before, rss_mib(server.process.pid))
                    rows.append((name, mode, result))
                    failed |= bool(result["socket_errors"] or result["non_2xx"])
                    print(f"  {name:9} {mode:9} {result['rps']:7.0f} req/s", file=sys.stderr)
            finally:
                server.stop()

    print(f"\nRepository: {args.repo}  Mix: {len(paths)} endpoints ({', '.join(paths)})")
    print(f"Client: wrk -t2 -c{args.connections} -d{args.duration}s  CPUs: {os.cpu_count()}\n")
    print("| server   | clients   | requests |  req/s | p50 ms | p99 ms | max ms | non-2xx | socket errors | RSS MiB |")
    print("|----------|-----------|----------|--------|--------|--------|--------|---------|---------------|---------|")
    for name, mode, r in rows:
        print(f"| {name:8} | {mode:9} | {r['requests']:8} | {r['rps']:6.0f} | {r['p50_ms']:6.1f} | {r['p99_ms']:6.1f} "
              f"| {r['max_ms']:6.0f} | {r['non_2xx']:7} | {r['socket_errors']:13} | "
              f"{r['rss'][0]:.0f} -> {r['rss'][1]:.0f} |")
    print("\nPASS: no errors" if not failed else "\nFAIL: errors above")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
