"""Wall time and peak memory of a whole `pathway simulate` run (default: 1,000,000 patients).

    .venv/bin/python benchmarks/bench_cohort.py [--patients 1000000] [--workers 2] [--plots]

Runs the command as a subprocess (summary only: no events, no outcome rows) and samples
the resident memory of its whole process tree (the parent and its worker processes)
every 50 ms from /proc. Prints the wall time, patients per second, the peak of the
summed RSS, the largest single process, and the run's own figures from run.json.
Targets (issue 4): under 60 s and under 500 MB for 1,000,000 patients on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_rss(root: int) -> tuple[int, int]:
    """(sum, largest) resident bytes of ``root`` and all its descendants."""
    tree, total, largest, todo = _children(), 0, 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        total += rss
        largest = max(largest, rss)
    return total, largest


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--plots", action="store_true", help="also draw the PNG plots (about 2 s)")
    args = parser.parse_args(argv)

    pathway = Path(sys.executable).parent / "pathway"
    with tempfile.TemporaryDirectory() as out:
        command = [str(pathway), "simulate", "-n", str(args.patients), "--seed", str(args.seed), "--summary-only"]
        command += ["--workers", str(args.workers), "--chunk-size", str(args.chunk_size), "--out", out, "-q"]
        if not args.plots:
            command.append("--no-plots")
        start = time.perf_counter()
        process = subprocess.Popen(command)
        peak_total = peak_largest = 0
        while process.poll() is None:
            total, largest = tree_rss(process.pid)
            peak_total, peak_largest = max(peak_total, total), max(peak_largest, largest)
            time.sleep(0.05)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            raise SystemExit(f"pathway simulate exited {process.returncode}")
        run = json.loads((Path(out) / "run.json").read_text(encoding="utf-8"))
        summary = json.loads((Path(out) / "summary.json").read_text(encoding="utf-8"))
    mb = 1024 * 1024
    print(f"{args.patients:,} patients, {args.workers} workers, chunks of {args.chunk_size:,}, seed {args.seed}")
    print(f"wall time (process start to exit): {wall:.1f} s   target < 60 s")
    print(f"simulation time (run.json): {run['seconds']:.1f} s, {run['patients_per_second']:,.0f} patients/s")
    print(f"per patient per core: {run['seconds'] * args.workers / args.patients * 1e6:.1f} us")
    print(f"peak RSS, whole process tree: {peak_total / mb:.0f} MB   target < 500 MB")
    print(f"peak RSS, largest process: {peak_largest / mb:.0f} MB")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (other work on the machine slows the run)")
    print(f"summary: {summary['patients']:,} patients, monitor violations {summary['monitor_violations']}")


if __name__ == "__main__":
    main()
