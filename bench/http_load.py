"""Load test of the read endpoints: requests/s, p50 and p99 at 50 concurrent connections, per serving route.

Starts each server itself against a repository root, checks every endpoint answers 200
with JSON, then drives it with wrk (2 threads, latency percentiles from a Lua `done`
hook) or, where wrk is missing, with a Python asyncio client. Prints one table.

    .venv/bin/python bench/http_load.py [REPO_ROOT] [--servers gunicorn,daphne] [--duration 10] [--rounds 1]

REPO_ROOT defaults to ../shared/corpus/dev_workflow when it exists, else sample/.
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

# How each route is started; {port} is filled in. gunicorn serves WSGI with two worker
# processes (one per core); daphne is the ASGI server that also carries WebSockets.
SERVERS = {
    "gunicorn": [str(VENV_BIN / "gunicorn"), "orchestrator_site.wsgi", "-w", "2", "-b", "127.0.0.1:{port}",
                 "--log-level", "warning"],
    "daphne": [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", "{port}", "-v", "0",
               "orchestrator_site.asgi:application"],
}

LUA_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d, "bad_status": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(repo: Path) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-secret"),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "ORCHESTRATOR_REPO_ROOT": str(repo),
        "ORCHESTRATOR_READS_REQUIRE_AUTH": "0",
        "LOG_LEVEL": "WARNING",
    }


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    def __init__(self, name: str, repo: Path | None = None, *, argv: list[str] | None = None,
                 cwd: Path = PROJECT, env: dict | None = None):
        """SERVERS[name] on `repo`, or any `argv` ({port} filled in) with its own cwd and environment."""
        self.name, self.port = name, free_port()
        argv = [part.format(port=self.port) for part in (argv or SERVERS[name])]
        # A file, not a pipe: a server logging more than a pipe holds would block on it.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(argv, cwd=cwd, env=env if env is not None else server_env(repo),
                                        start_new_session=True, stdout=subprocess.DEVNULL, stderr=self.log)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                if get(self.base + "/health", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /health within {timeout:g} s: {self.log_tail()}")

    def log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def pick_plan(base: str) -> str:
    """A typical plan: of those with a status file, the one with the median number of tasks."""
    status, body = get(base + "/api/plans")
    if status != 200:
        raise RuntimeError(f"GET /api/plans answered {status}")
    plans = [plan for plan in json.loads(body) if plan["has_status"]] or json.loads(body)
    if not plans:
        raise RuntimeError("the repository has no plans")
    return sorted(plans, key=lambda plan: (plan["total_tasks"], plan["name"]))[len(plans) // 2]["name"]


def run_wrk(url: str, *, connections: int, threads: int, duration: int, script: str,
            headers: dict | None = None) -> dict:
    extra = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", script, *extra, url],
        capture_output=True, text=True, check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    raw = json.loads(line[len("RESULT "):])
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["errors"] + raw["bad_status"],
    }


async def _client(host: str, port: int, path: str, stop_at: float, latencies: list, errors: list) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    reader = writer = None
    while time.monotonic() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            headers = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ": " in line)
            lowered = {key.lower(): value for key, value in headers.items()}
            await reader.readexactly(int(lowered.get("content-length", "0")))
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
            if lowered.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError):
            errors.append(1)
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def run_python(url: str, *, connections: int, duration: int, **_) -> dict:
    """Fallback when wrk is missing: keep-alive asyncio clients (the client then shares the CPU budget)."""
    parsed = urllib.parse.urlsplit(url)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    latencies, errors = [], []

    async def main():
        stop_at = time.monotonic() + duration
        await asyncio.gather(*(_client(parsed.hostname, parsed.port, path, stop_at, latencies, errors)
                               for _ in range(connections)))
    started = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000 if latencies else 0.0
    return {"rps": len(latencies) / elapsed, "p50_ms": pct(50), "p99_ms": pct(99), "errors": len(errors)}


def default_repo() -> Path:
    corpus = PROJECT.parent / "shared" / "corpus" / "dev_workflow"
    return corpus if corpus.is_dir() else PROJECT / "sample"


def measure(name: str, args, runner, script: str) -> list[tuple[str, int, dict]]:
    """Start one server, check its answers, load each endpoint in turn; (path, bytes, result) per endpoint."""
    server = Server(name, args.repo.resolve())
    try:
        server.wait_ready()
        plan = args.plan or pick_plan(server.base)
        results = []
        for path in ("/api/plans", f"/api/plans/{plan}/status", f"/api/plans/{plan}/tasks"):
            status, body = get(server.base + path)
            if status != 200:
                raise RuntimeError(f"{name}: GET {path} answered {status}: {body[:200]!r}")
            json.loads(body)
            result = runner(server.base + path, connections=args.connections, threads=args.threads,
                            duration=args.duration, script=script)
            results.append((path, len(body), result))
            print(f"  {name:9} {path:45} {result['rps']:8.0f} req/s  (load {os.getloadavg()[0]:.1f})",
                  file=sys.stderr)
        return results
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", nargs="?", type=Path, default=default_repo(), help="repository root to serve")
    parser.add_argument("--servers", default="gunicorn,daphne", help="comma-separated: " + ", ".join(SERVERS))
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat everything; the table shows the best round (on a shared machine the "
                             "least disturbed) and the median req/s")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--plan", help="plan for the status/tasks endpoints (default: median task count)")
    parser.add_argument("--python-client", action="store_true", help="use the asyncio client even if wrk exists")
    args = parser.parse_args()

    use_wrk = shutil.which("wrk") is not None and not args.python_client
    runner = run_wrk if use_wrk else run_python
    runs: dict[tuple[str, str], list[dict]] = {}
    sizes: dict[tuple[str, str], int] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA_REPORT)
    try:
        for _ in range(args.rounds):
            for name in (name.strip() for name in args.servers.split(",")):
                for path, size, result in measure(name, args, runner, script.name):
                    runs.setdefault((name, path), []).append(result)
                    sizes[(name, path)] = size
    finally:
        os.unlink(script.name)

    client = f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s" if use_wrk else \
        f"python asyncio client, {args.connections} connections, {args.duration}s"
    print(f"\nRepository: {args.repo}  Client: {client}  Rounds: {args.rounds}  CPUs: {os.cpu_count()}\n")
    print(f"| {'server':9} | {'endpoint':45} | {'bytes':>6} | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} "
          f"| median req/s | errors |")
    print(f"|{'-' * 11}|{'-' * 47}|{'-' * 8}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 14}|{'-' * 8}|")
    for (name, path), results in runs.items():
        best = max(results, key=lambda r: r["rps"])
        median = statistics.median(r["rps"] for r in results)
        errors = sum(r["errors"] for r in results)
        print(f"| {name:9} | {path:45} | {sizes[(name, path)]:6} | {best['rps']:7.0f} | {best['p50_ms']:7.1f} "
              f"| {best['p99_ms']:7.1f} | {median:12.0f} | {errors:6} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
