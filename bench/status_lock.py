"""status.json writes under the ecosystem's lock directory vs the flock file it replaced (issue #11).

    .venv/bin/python bench/status_lock.py [--writes 300] [--rounds 5]

1. Cost of one locked read-modify-write of a 40-task status.json: the old way (flock on a
   regular `status.json.lock`, left behind) and the new one (proper-lockfile's directory,
   mkdir/rmdir plus its refresh thread), interleaved round by round; medians of the rounds.
2. Hand-over: another process holds the lock (as upstream's status-cli.js would) for a given
   time; how long after its release our waiting writer lands (the bounded backoff's price).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator import status as status_module  # noqa: E402
from orchestrator.fileio import existing_mode, locked  # noqa: E402
from orchestrator.status import update_status  # noqa: E402
from tests.upstream_tools import UpstreamLock  # noqa: E402


def status_file(directory: Path) -> Path:
    path = directory / "status.json"
    tasks = [{"id": f"{p}.{t}", "phase": f"Phase {p}: P", "description": "d" * 60, "status": "pending"}
             for p in range(1, 5) for t in range(1, 11)]
    path.write_text(json.dumps({"planPath": "docs/plans/x.md", "planName": "X", "tasks": tasks}))
    return path


def bump(data: dict) -> None:
    data["tasks"][0]["notes"] = str(int(data["tasks"][0].get("notes") or 0) + 1)


def flock_write(path: Path) -> None:
    """update_status as it was: flock on the regular file `<file>.lock`, never removed."""
    with locked(path.with_name(path.name + ".lock"), timeout=10):
        current = status_module._read_fresh(path)
        bump(current.data)
        status_module._write(path, current.data, existing_mode(path))


def dir_write(path: Path) -> None:
    update_status(path, bump)


def per_write_us(write, path: Path, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        write(path)
    return (time.perf_counter() - started) / count * 1e6


def handover_ms(path: Path, hold_s: float) -> float:
    holder = UpstreamLock(path)
    landed = {}
    writer = threading.Thread(target=lambda: (update_status(path, bump, lock_timeout=30),
                                              landed.setdefault("at", time.monotonic())))
    writer.start()
    time.sleep(hold_s)
    released = time.monotonic()
    holder.release()
    writer.join(30)
    return (landed["at"] - released) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old_dir, new_dir = Path(tmp, "old"), Path(tmp, "new")
        old_dir.mkdir()
        new_dir.mkdir()
        old, new = status_file(old_dir), status_file(new_dir)
        flock_us, dir_us = [], []
        for _ in range(args.rounds):
            flock_us.append(per_write_us(flock_write, old, args.writes))
            dir_us.append(per_write_us(dir_write, new, args.writes))
        print(f"locked read-modify-write of a 40-task status.json, {args.writes} writes x {args.rounds} rounds "
              f"(interleaved), median per write:")
        print(f"  flock on a regular status.json.lock (before): {statistics.median(flock_us):8.0f} us"
              f"   left behind: {sorted(os.listdir(old_dir))}")
        print(f"  proper-lockfile directory (now):             {statistics.median(dir_us):8.0f} us"
              f"   left behind: {sorted(os.listdir(new_dir))}")
        print("hand-over after another process releases the lock (median of 3):")
        for hold in (0.05, 0.3, 1.0, 3.0):
            waits = [handover_ms(new, hold) for _ in range(3)]
            print(f"  held {hold:4.2f} s -> our write lands {statistics.median(waits):7.1f} ms after the release")


if __name__ == "__main__":
    main()
