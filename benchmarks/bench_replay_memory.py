"""Peak memory and time of `pathway run` on a long stream, against the interpreter's own baseline.

    .venv/bin/python benchmarks/bench_replay_memory.py [--events 2000000] [--engine compiled]
        [--long 0] [--src DIR]

The stream is the shipped example courses repeated with fresh patient ids until it holds
--events lines, grouped by patient as a clinical system exports them. --long N adds a
second stream: one patient whose conservative therapy is reassessed N times (one course
of 2N+2 steps). Each run is a separate process; its peak resident memory is read from
the kernel (getrusage of the finished child). The baseline, measured in the same run, is
a process that only imports the command line; the ratio says how much the replay adds.
--src DIR runs the replay from another checkout's sources (e.g. the code before
streaming: `git worktree add /tmp/before <commit>`), for the before/after figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
_MEASURE = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def courses() -> list[list[dict[str, object]]]:
    """The example courses, each as its list of records without patient ids."""
    found = []
    for path in sorted(EXAMPLES.glob("*.jsonl")):
        by_patient: dict[object, list[dict[str, object]]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                by_patient.setdefault(record.pop("patient", None), []).append(record)
        found.extend(by_patient.values())
    return found


def write_grouped(path: Path, events: int) -> int:
    """Example courses with fresh patient ids until ``events`` lines; returns the patients written."""
    templates = courses()
    written = patients = 0
    with path.open("w", encoding="utf-8") as out:
        while written < events:
            for template in templates:
                patients += 1
                for record in template:
                    if written == events:
                        return patients
                    out.write(json.dumps({"patient": f"p{patients}", **record}, separators=(",", ":")) + "\n")
                    written += 1
    return patients


def write_long(path: Path, reviews: int) -> None:
    """One patient in conservative therapy, reassessed (improving) ``reviews`` times, hour by hour."""
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)

    def at(hours: int) -> str:
        return (start + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")

    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"event": "dural_puncture", "at": at(0), "procedure": "lumbar_puncture"}) + "\n")
        out.write(json.dumps({"event": "presentation", "at": at(1), "headache": "orthostatic"}) + "\n")
        for hour in range(reviews):
            out.write(json.dumps({"event": "reassessment", "at": at(2 + hour), "headache": "improving"}) + "\n")


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(peak MB, seconds, exit status) of ``command`` run as its own process."""
    started = time.perf_counter()
    # run from elsewhere: the current directory comes first on sys.path and would win over PYTHONPATH
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], env=env, capture_output=True, text=True, cwd=tempfile.gettempdir()
    )
    seconds = time.perf_counter() - started
    status, peak_kb = (int(x) for x in done.stdout.split())
    return peak_kb / 1024, seconds, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--engine", choices=("compiled", "psm"), default="compiled")
    parser.add_argument("--long", type=int, default=0, help="reviews in the one-patient stream (0: skip it)")
    parser.add_argument("--src", type=Path, default=None, help="run the replay from this checkout's sources")
    args = parser.parse_args()
    env = dict(os.environ)
    src = args.src or ROOT
    env["PYTHONPATH"] = str(src)
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        streams = [("grouped", Path(tmp) / "grouped.jsonl")]
        patients = write_grouped(streams[0][1], args.events)
        print(f"stream: {args.events:,} events of {patients:,} patients, grouped by patient")
        if args.long:
            streams.append(("one long course", Path(tmp) / "long.jsonl"))
            write_long(streams[1][1], args.long)
            print(f"stream: one patient, {args.long + 2:,} events")
        base_mb, base_s, _ = measure([sys.executable, "-c", "import pathway.cli"], env)
        print(f"sources: {src}")
        print(f"baseline (interpreter + imports): {base_mb:.0f} MB, {base_s:.1f} s")
        for name, path in streams:
            command = [sys.executable, "-m", "pathway", "run", str(path), "--json", "--engine", args.engine]
            peak_mb, seconds, status = measure(command, env)
            print(
                f"{name}: peak {peak_mb:.0f} MB ({peak_mb / base_mb:.1f}x baseline, "
                f"{peak_mb - base_mb:.0f} MB above it), {seconds:.1f} s, exit {status}"
            )


if __name__ == "__main__":
    main()
