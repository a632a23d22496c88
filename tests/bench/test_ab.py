"""bench/ab.py: the figures it reads from a bench's output, and an A/B run of two checkouts."""

import subprocess
import sys
from pathlib import Path

from bench.ab import parse

PROJECT = Path(__file__).resolve().parents[2]


def test_prose_figures_are_keyed_by_their_words_and_heading():
    figures, raw = parse("write -> task_changed: p50 2.69 ms, p99 8.75 ms\n"
                         "  threads: 5 idle, 7 after 2 s, 7 at the end\n"
                         "run 1: POST -> 201    2014 ms\n"
                         "status-ours      n=20    p50=  11.59 ms\n"
                         "idle watcher CPU: 1.4% of one core\n"
                         "PASS\n")
    assert figures == {"write -> task_changed p50 [ms]": 2.69, "write -> task_changed p99 [ms]": 8.75,
                       "threads idle": 5, "threads after": 7, "threads after [s]": 2, "threads at the end": 7,
                       "run 1 POST -> 201 [ms]": 2014, "status-ours n": 20, "status-ours p50 [ms]": 11.59,
                       "idle watcher CPU [%]": 1.4}
    assert raw == ["PASS"]


def test_table_cells_are_keyed_by_row_and_column():
    figures, _ = parse("variant    lines/s (median)   peak RSS MiB\n"
                       "before               26,790           24.5\n"
                       "| checkout | answer | peak MiB |\n|---|---|---|\n| a | 413 Content Too Large | 105 |\n"
                       "                      median      max\n"
                       "event -> WS frame        3.1      6.0\n")
    assert figures == {"before lines/s (median)": 26790, "before peak RSS MiB": 24.5, "a peak MiB": 105,
                       "event -> WS frame median": 3.1, "event -> WS frame max": 6.0}


def test_two_checkouts_alternate_and_their_medians_stand_side_by_side(tmp_path):
    for side, values in (("old", "[10, 30, 20]"), ("new", "[5, 6, 7]")):
        checkout = tmp_path / side
        checkout.mkdir()
        # Each run prints the next value of its checkout's list and appends its name to a shared order file.
        (checkout / "fig.py").write_text(
            f"from pathlib import Path\nlog = Path({str(tmp_path / 'order')!r})\n"
            f"done = log.read_text().split() if log.exists() else []\n"
            f"log.write_text(' '.join(done + [{side!r}]))\n"
            f"print('latency: p50', {values}[done.count({side!r})], 'ms')\n")
    out = subprocess.run([sys.executable, str(PROJECT / "bench" / "ab.py"), "--before", str(tmp_path / "old"),
                          "--after", str(tmp_path / "new"), "--rounds", "3", "--", "fig.py"],
                         capture_output=True, text=True, check=True).stdout
    assert (tmp_path / "order").read_text() == "old new new old old new"
    assert out.rstrip().endswith("| latency p50 [ms] | 20 | 6 | 0.30 |")
