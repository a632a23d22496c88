"""What an oversized anonymous request body costs a daphne server: peak RSS, and /health while it arrives.

    .venv/bin/python bench/body_limit.py [--project DIR ...] [--size-mb 100] [--stall-mb 30]

For each checkout (default: this one; pass several --project to compare, e.g. a `git
worktree` of an older commit), a fresh daphne serves a fixture repository and receives
one anonymous `application/x-www-form-urlencoded` POST of --size-mb; the table shows the
server's peak RSS (VmHWM) before and after, the CPU it spent, and the answer. Then, while a
--stall-mb form is sent on one connection, /health is timed on another: the longest wait
is how long the reactor was busy with the form. Each checkout is measured --rounds times,
interleaved; medians are printed.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ws_common import PROJECT, Server  # noqa: E402


def migrated_server(project: Path, root: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ORCHESTRATOR_", "DATABASE_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "orchestrator_site.settings", "DJANGO_SECRET_KEY": "bench-only",
                "DATABASE_URL": f"sqlite:///{root}/bench.sqlite3"})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=project, env=env, check=True)
    return Server(root, project=project, secret_key="bench-only", log_level="ERROR", start_timeout=60)


def health_wait(port: int, timeout: float = 60) -> float | None:
    """Seconds /health took to answer 200 (None for another answer)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        first = sock.recv(64)
    return time.monotonic() - started if first.startswith(b"HTTP/1.1 200") else None


def post_form(port: int, size: int) -> str:
    """Send an anonymous form of `size` bytes; return the status line of the answer."""
    piece = b"field=value&" * 8192
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock:
        sock.sendall(b"POST /api/orchestrators/orch-1700000000000/pause HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % size)
        sent = 0
        try:
            while sent < size:
                chunk = piece[: size - sent]
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed before the whole body was sent
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
    return answer.split(b"\r\n", 1)[0].decode(errors="replace") or "(connection closed)"


def measure(project: Path, size: int, stall: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="body-limit-") as tmp:
        root = Path(tmp)
        (root / "docs" / "plans").mkdir(parents=True)
        (root / "docs" / "plans" / "alpha.md").write_text("# Alpha\n\n## Phase 1: A\n\n- [ ] 1.1 Do it\n")
        server = migrated_server(project, root)
        try:
            before_kib, cpu_before = server.rss_kib("VmHWM"), server.cpu_s()
            answer = post_form(server.port, size)
            health_wait(server.port)  # the reactor is free again
            peak_kib, cpu = server.rss_kib("VmHWM"), server.cpu_s() - cpu_before
            waits = []
            sender = threading.Thread(target=post_form, args=(server.port, stall))
            sender.start()
            while sender.is_alive():
                waits.append(health_wait(server.port) or float("nan"))
            sender.join()
        finally:
            server.stop()
    return {"before_mib": before_kib / 1024, "peak_mib": peak_kib / 1024, "cpu_s": cpu, "answer": answer,
            "health_max_s": max(waits) if waits else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, action="append", help="checkout to serve (repeatable)")
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--stall-mb", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    projects = [p.resolve() for p in (args.project or [PROJECT])]
    results: dict[Path, list[dict]] = {p: [] for p in projects}
    for _ in range(args.rounds):
        for project in projects:
            results[project].append(measure(project, args.size_mb * 2**20, args.stall_mb * 2**20))
            print(f"  {project}: {results[project][-1]}", file=sys.stderr)
    print(f"\nOne anonymous {args.size_mb} MB form POST to daphne; /health while a {args.stall_mb} MB form arrives "
          f"(medians of {args.rounds}).\n")
    print("| checkout | answer | RSS before MiB | peak RSS MiB | CPU s | longest /health s |")
    print("|---|---|---|---|---|---|")
    for project, rows in results.items():
        med = {key: statistics.median(row[key] for row in rows)
               for key in ("before_mib", "peak_mib", "cpu_s", "health_max_s")}
        print(f"| {project.name} | {rows[-1]['answer']} | {med['before_mib']:.0f} | {med['peak_mib']:.0f} | "
              f"{med['cpu_s']:.1f} | {med['health_max_s']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
