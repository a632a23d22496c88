"""One bench run from two checkouts alternately: their figures side by side, medians per checkout.

    .venv/bin/python bench/ab.py --before ../before [--after .] [--rounds 3] -- bench/ws_latency.py --samples 50
    .venv/bin/python bench/ab.py --before ../before -- -m bench.monitor_latency --writes 100

Each checkout runs its own copy of the script (the path is relative to the checkout, which is
also the working directory, with the checkout's .venv/bin/python), so each one measures its own
servers. The order alternates round by round (before, after; after, before; ...) so that a drift in
the machine's load falls on both sides alike.

Figures are read from stdout without knowing the bench: each number (`2.7 ms`, `114 MiB`, `1.4%`,
`p50=8.5`, `missed: 0`, `5 idle`) is keyed by the words before it on its line, else the words after
it, behind the line's heading (the text before its first `: ` or its first wide gap); a number
before a colon or right before another number is part of a label (`run 1:`, `201 1869 ms`); a line of
column names followed by rows (markdown `|` or columns two spaces apart) keys each numeric cell by
its row's first cell and its column. Lines without a figure are printed raw. The summary holds the
median of every label that appears in every round on both sides. Benches that name checkouts in
their rows (body_limit.py, command_load.py --project, compare.py --before) interleave finer on
their own; run those directly.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
UNITS = r"%|ms|us|s|KiB|MiB|GiB|KB|MB|GB|req/s|lines/s|MB/s"
FIGURE = re.compile(rf"(?<![\w./-])({NUMBER})(?:\s?({UNITS})(?![\w/]))?")
CELL = re.compile(rf"\s*({NUMBER})\s*({UNITS})?\s*")


def cells(line: str) -> list[str]:
    """A table row's cells: markdown pipes, or columns at least two spaces apart."""
    if line.strip().startswith("|"):
        return [cell.strip() for cell in line.strip().strip("|").split("|")]
    return re.split(r"\s{2,}", line.strip())


def numeric(cell: str) -> float | None:
    match = CELL.fullmatch(cell)
    return float(match.group(1).replace(",", "")) if match else None


def words(text: str) -> str:
    return re.sub(r"[\s,;:=()]+", " ", text).strip(" ->")


def line_figures(line: str) -> list[tuple[str, float]]:
    """(label, value) for each figure on a line of prose, as the module docstring describes."""
    head, body = "", line
    gap = re.match(r"\s*(\S.*?)(:\s+|\s{2,})(?=\S)", line)
    if gap and (gap.group(2).startswith(":") or not re.search(NUMBER, gap.group(1))):
        head, body = gap.group(1), line[gap.end():]
    matches = list(FIGURE.finditer(body))
    found, start, label = [], 0, ""
    for index, match in enumerate(matches):
        after = body[match.end():]
        if re.match(r"\s*:", after) or not match.group(2) and re.match(rf"\s+{NUMBER}", after):
            continue  # part of a label: "run 1:", "5 s: 110", a status code before its figure
        start, before = match.end(), words(body[start:match.start()])
        if not before and not match.group(2):  # "5 idle, 7 after 2 s": the words after it are its own
            end = matches[index + 1].start() if index + 1 < len(matches) else len(body)
            trailing = re.split(r"[,;(]", body[start:end])[0]
            before, start = words(trailing), start + len(trailing)
        label = before or label
        unit = f" [{match.group(2)}]" if match.group(2) else ""
        found.append(((" ".join(filter(None, [head, label])) + unit).strip(), float(match.group(1).replace(",", ""))))
    return found


def parse(output: str) -> tuple[dict[str, float], list[str]]:
    """Every figure of one run keyed by its label, and the lines that carry none."""
    figures: dict[str, float] = {}
    raw: list[str] = []
    lines = [line for line in output.splitlines() if line.strip()]
    header: list[str] | None = None
    for index, line in enumerate(lines):
        row = cells(line)
        if set(line.strip()) <= set("|-: "):
            continue  # a markdown separator
        if header and len(row) == len(header) and any(numeric(cell) is not None for cell in row[1:]):
            pairs = [(f"{row[0]} {name}", numeric(cell)) for name, cell in zip(header[1:], row[1:])]
            found = [(label, value) for label, value in pairs if value is not None]
        else:
            header = None
            following = [other for other in lines[index + 1:index + 3] if not set(other.strip()) <= set("|-: ")]
            if re.match(r"\s{2,}\S", line):
                row = ["", *row]  # column names over a column of row labels
            if len(row) >= 3 and all(numeric(cell) is None for cell in row) and following \
                    and len(cells(following[0])) == len(row):
                header = row
                continue
            found = line_figures(line)
        if not found:
            raw.append(line)
        for label, value in found:
            key, n = label, 2
            while key in figures:
                key, n = f"{label} #{n}", n + 1
            figures[key] = value
    return figures, raw


def run(checkout: Path, command: list[str]) -> tuple[str, float]:
    python = checkout / ".venv" / "bin" / "python"
    started = time.monotonic()
    done = subprocess.run([str(python) if python.exists() else sys.executable, *command], cwd=checkout,
                          stdout=subprocess.PIPE, text=True)
    sys.stderr.write(done.stdout)  # the bench's own output beside its stderr, for the record
    if done.returncode:
        print(f"  exit status {done.returncode} in {checkout}", file=sys.stderr)
    return done.stdout, time.monotonic() - started


def show(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(values: dict[str, list[list[float]]]) -> None:
    """label | before | after | after/before, each side the median of its values."""
    print("\n| label | before | after | after/before |\n|---|---|---|---|")
    for label, sides in values.items():
        before, after = (statistics.median(side) for side in sides)
        print(f"| {label} | {show(before)} | {show(after)} | {f'{after / before:.2f}' if before else ''} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="the checkout labelled 'before'")
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the checkout labelled 'after' (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- SCRIPT [ARGS] or -- -m MODULE [ARGS]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no bench given")
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for number in range(1, args.rounds + 1):
        print(f"\n## round {number}")
        for side in list(sides) if number % 2 else list(sides)[::-1]:
            output, seconds = run(sides[side], command)
            figures, raw = parse(output)
            runs[side].append(figures)
            print(f"{side}: {seconds:.0f} s, load {os.getloadavg()[0]:.1f}" + "".join(f"\n  {line}" for line in raw))
        table({label: [[runs[side][-1][label]] for side in sides] for label in runs["before"][-1]
               if label in runs["after"][-1]})
    every = [label for label in runs["before"][0] if all(label in r for side in runs.values() for r in side)]
    print(f"\n## {' '.join(command)}: medians of {args.rounds} rounds")
    table({label: [[r[label] for r in runs[side]] for side in sides] for label in every})
    return 0


if __name__ == "__main__":
    sys.exit(main())
