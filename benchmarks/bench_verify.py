"""How long verification takes, measured in one run.

    .venv/bin/python benchmarks/bench_verify.py [--repeats 5]

Stages timed (median and min of the repeats):
  verify            every property over every reachable situation of the shipped definition
  explorer step     one event through the explorer's model (semantics.py) plus the property checks
  mutants           the whole mutation run (417 mutants), and per mutant
  monitor           check_trace on one 7-event course
Baselines (same run): one event through the engine (python-statemachine), which the explorer's
model replaces, and running the same 7-event course through the engine, which the monitor follows.
"""

from __future__ import annotations

import argparse
import time

from common import long_course, timed

from pathway.engine import PatientRun, run_course
from pathway.loader import load
from pathway.verify.explore import Explorer, verify
from pathway.verify.monitor import check_trace
from pathway.verify.mutants import run_mutants
from pathway.verify.properties import bind, load_catalogue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pathway = load()
    catalogue = load_catalogue()
    events = long_course(pathway)

    verify(pathway, catalogue)  # warm caches (compiled guards, event classes)
    median, best = timed(lambda: verify(pathway, catalogue), args.repeats)
    explorer = Explorer(pathway, bind(catalogue, pathway))
    explorer.run()
    moves = explorer.moves
    print(
        f"verify: median {median * 1e3:.1f} ms, min {best * 1e3:.1f} ms ({moves} events, "
        f"{explorer.coverage(None).abstract_states} situations)"
    )
    model_per_event = median / moves

    def engine_events() -> None:
        for _ in range(max(1, moves // len(events))):
            run = PatientRun(pathway)
            for event in events:
                run.send(event)

    engine_median, _ = timed(engine_events, max(1, args.repeats // 2))
    engine_per_event = engine_median / (max(1, moves // len(events)) * len(events))
    print(
        f"per event: explorer {model_per_event * 1e6:.1f} us (with checks and coverage), "
        f"engine {engine_per_event * 1e6:.1f} us; ratio engine/explorer {engine_per_event / model_per_event:.1f}x"
    )

    start = time.perf_counter()
    report = run_mutants(pathway, catalogue)
    spent = time.perf_counter() - start
    print(
        f"mutants: {len(report.results)} in {spent:.2f} s ({spent / len(report.results) * 1e3:.1f} ms each; "
        f"{report.killed} killed, {report.equivalent} equivalent); ratio to one verify {spent / median:.0f}x"
    )

    trace = run_course(pathway, events)
    monitor_median, _ = timed(lambda: [check_trace(pathway, trace, events) for _ in range(200)], args.repeats)
    run_median, _ = timed(lambda: [run_course(pathway, events) for _ in range(200)], args.repeats)
    print(
        f"monitor: {monitor_median / 200 * 1e6:.0f} us per course; engine run of the same course "
        f"{run_median / 200 * 1e6:.0f} us; ratio monitor/run {monitor_median / run_median:.2f}"
    )


if __name__ == "__main__":
    main()
