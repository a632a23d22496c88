"""How fast the runner reads an agent's stream-json, and its peak memory, with and without transcript capture.

    .venv/bin/python bench/runner_throughput.py [--lines 100000] [--rounds 5] [--baseline-rev 7c91561]

A 100,000-line Claude Code transcript is generated (init, then turns of text, parallel tool
calls sharing a message id, tool results from one line to 20 KB, usage on every step, a result
line), and `cat` plays the agent, so only the runner's side is measured: the pipe reads, the
line splitting, JSON parsing, the tool events on an EventBus, and (with capture) the figures
tally and the transcript file writes.

Variants, each in a fresh worker process (so peak RSS is its own), interleaved round by round
on this shared machine and reported as medians:

    before     orchestrator/ at --baseline-rev (the runner before transcripts), no capture
    events     today's runner, no transcript (events and the figures tally only)
    capture    today's runner writing the attempt's transcript, as the engine runs it

Peak memory is the worker's maximum RSS (the interpreter included); the transcript file's size
shows the caps at work.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
VARIANTS = ("before", "events", "capture")


def generate(path: Path, lines: int, *, seed: int = 7) -> int:
    """A plausible session of `lines` lines; returns its size in bytes."""
    rng = random.Random(seed)
    session = "6f1c2d3e-0000-4000-8000-000000000001"
    written = 0
    tool = 0
    with open(path, "w", encoding="utf-8") as out:
        def emit(message: dict) -> None:
            nonlocal written
            out.write(json.dumps(message) + "\n")
            written += 1

        emit({"type": "system", "subtype": "init", "session_id": session, "model": "claude-sonnet-4-5",
              "cwd": "/repo", "tools": ["Bash", "Read", "Edit", "Write", "Grep", "Glob"]})
        while written < lines - 1:
            message_id = f"msg_{rng.getrandbits(64):016x}"
            usage = {"input_tokens": rng.randint(3, 50), "output_tokens": rng.randint(20, 600),
                     "cache_read_input_tokens": rng.randint(1000, 90000),
                     "cache_creation_input_tokens": rng.randint(0, 4000)}

            def step(block: dict) -> None:
                emit({"type": "assistant", "session_id": session, "parent_tool_use_id": None,
                      "message": {"id": message_id, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                                  "content": [block], "usage": usage}})

            step({"type": "text", "text": " ".join(rng.choice(("Reading", "the", "loader", "next", "tests", "fix"))
                                                    for _ in range(rng.randint(5, 80)))})
            calls = []
            for _ in range(rng.choice((1, 1, 1, 2, 3))):  # parallel calls share the turn's message id
                tool += 1
                tool_id = f"toolu_{tool:012d}"
                calls.append(tool_id)
                step({"type": "tool_use", "id": tool_id, "name": rng.choice(("Read", "Bash", "Edit", "Grep")),
                      "input": {"file_path": f"src/module_{tool % 97}.py", "command": "python -m pytest -q",
                                "content": "x" * rng.choice((10, 200, 3000))}})
            for tool_id in calls:
                size = rng.choice((20, 200, 2000, 20000))
                emit({"type": "user", "session_id": session, "message": {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": tool_id, "is_error": rng.random() < 0.05,
                     "content": "line of output\n" * (size // 15)}]}})
        emit({"type": "result", "subtype": "success", "is_error": False, "duration_ms": 1, "duration_api_ms": 1,
              "num_turns": tool, "result": "done", "session_id": session, "total_cost_usd": 1.23,
              "usage": {"input_tokens": 1, "output_tokens": 1}})
    return path.stat().st_size


def baseline_tree(rev: str, into: Path) -> Path:
    """orchestrator/ as it was at `rev`, importable from `into`."""
    archive = subprocess.run(["git", "archive", rev, "orchestrator"], cwd=PROJECT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def worker(variant: str, transcript: str, out_dir: str) -> None:
    """One measured run in this process; prints one JSON line."""
    from orchestrator.events import EventBus
    from orchestrator.runner import AgentRunner

    bus = EventBus()
    events = [0]
    bus.subscribe(lambda event: events.__setitem__(0, events[0] + 1))
    runner = AgentRunner(["cat", transcript], instance_id="orch-bench", bus=bus, timeout=None)
    kwargs = {}
    if variant == "capture":
        from orchestrator.transcript import TranscriptWriter
        writer = TranscriptWriter.open_next(Path(out_dir) / "1.1", task_id="1.1", run_id="orch-bench",
                                            plan_name="bench", prompt="bench")
        kwargs = {"transcript": writer}
    started = time.perf_counter()
    result = runner.run("bench", task_id="1.1", **kwargs)
    if variant == "capture":
        writer.finish(outcome="completed", error=None, figures=result.figures, malformed_lines=result.malformed_lines,
                      duration_s=result.duration_s)
    elapsed = time.perf_counter() - started
    size = sum(f.stat().st_size for f in Path(out_dir).rglob("*.jsonl"))
    print(json.dumps({"seconds": elapsed, "events": events[0], "tool_calls": result.tool_calls,
                      "malformed": result.malformed_lines, "success": result.success,
                      "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "transcript_bytes": size}))


def measure(variant: str, transcript: Path, tree: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="runner-bench-") as out_dir:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        line = subprocess.run([sys.executable, __file__, "--worker", variant, str(transcript), out_dir], env=env,
                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-rev", default="7c91561", help="a commit before transcript capture")
    parser.add_argument("--worker", nargs=3, metavar=("VARIANT", "TRANSCRIPT", "OUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    with tempfile.TemporaryDirectory(prefix="runner-bench-") as tmp:
        tmp_path = Path(tmp)
        transcript = tmp_path / "stream.jsonl"
        size = generate(transcript, args.lines)
        print(f"stream-json: {args.lines} lines, {size / 1e6:.1f} MB; {args.rounds} rounds, interleaved")
        trees = {"before": baseline_tree(args.baseline_rev, tmp_path / "before"), "events": PROJECT, "capture": PROJECT}
        runs: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
        for _ in range(args.rounds):
            for variant in VARIANTS:
                runs[variant].append(measure(variant, transcript, trees[variant]))
        print(f"{'variant':<9} {'lines/s (median)':>17} {'best':>10} {'MB/s':>7} {'peak RSS MiB':>13} {'events':>8} "
              f"{'transcript MB':>14}")
        for variant in VARIANTS:
            seconds = [run["seconds"] for run in runs[variant]]
            median = statistics.median(seconds)
            rss = statistics.median(run["peak_rss_kib"] for run in runs[variant]) / 1024
            last = runs[variant][-1]
            assert last["success"] and last["malformed"] == 0, last
            print(f"{variant:<9} {args.lines / median:>17,.0f} {args.lines / min(seconds):>10,.0f} "
                  f"{size / 1e6 / median:>7.1f} {rss:>13.1f} {last['events']:>8} {last['transcript_bytes'] / 1e6:>14.2f}")


if __name__ == "__main__":
    main()
