"""What a PSA draw costs on each engine, against the simulator's own cohort run of the same patients.

    .venv/bin/python benchmarks/bench_economics.py [--patients 10000] [--draws 500] [--workers 2] [--full]

Measures, in this process and the same run (rounds interleaved, best of each): (a) the CPU time
of the simulator's summary-only cohort (`cohort.run_chunk`, every compared policy on the same
patients, vectorised engine), (b) the CPU time of one PSA draw of the same patients on the
per-patient reference engine (parameter draw, validation, courses, one ledger row per
course) and (c) the same draw on the vectorised engine (courses as arrays, the array ledger).
Prints (b)/(c), each against (a), the projected PSA time for the given draws and workers on
an idle machine, and with --full runs `pathway simulate --psa` itself (the default engine) and
prints its wall time (which on a shared machine includes waiting for the CPU) and its CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

from pathway.economics import model_inputs, psa
from pathway.loader import load
from pathway.simulate import cohort
from pathway.simulate import params as params_io

POLICIES = ("guideline", "reflexive_imaging", "dismiss_red_flags")


def _cpu(fn: object) -> float:
    start = time.process_time()
    fn()  # type: ignore[operator]
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="also run `pathway simulate --psa` and time it")
    args = parser.parse_args()

    pathway = load()
    params_text, params_file = params_io.read_text()
    spec = model_inputs.EconomicSpec.from_files(pathway, seed=1, patients=args.patients, policies=POLICIES)
    # the simulator's own cohort without its runtime safety monitor (it checks the first 2,000 courses)
    cohort_spec = cohort.make_spec(
        pathway, params_text, params_file, 1, POLICIES, monitor_all_below=0, monitor_every=10**12, engine="vectorised"
    )
    reference = attrs.evolve(spec, engine="reference")
    for each in (spec, reference):
        model_inputs.context(each)  # decode once, as a worker does
    cohort.context(cohort_spec)

    def cohort_run() -> None:
        for a, b in cohort.chunks(args.patients, 5000):
            cohort.run_chunk(cohort_spec, a, b)

    timings: dict[str, list[float]] = {"cohort": [], "reference": [], "vectorised": []}
    for k in range(args.rounds):  # interleaved, so a busy moment hurts all alike
        timings["cohort"].append(_cpu(cohort_run))
        timings["reference"].append(_cpu(lambda k=k: psa.psa_draw(reference, k)))
        timings["vectorised"].append(_cpu(lambda k=k: psa.psa_draw(spec, k)))
    base, old, new = (min(timings[name]) for name in ("cohort", "reference", "vectorised"))
    size = f"{args.patients:,} patients x {len(POLICIES)} policies"
    print(f"simulator cohort (vectorised, summary only), {size}: {base:.3f} s CPU (best of {args.rounds})")
    print(f"one PSA draw of the same patients, reference engine:  {old:.3f} s CPU ({old / base:.2f} x the cohort)")
    print(f"one PSA draw of the same patients, vectorised engine: {new:.3f} s CPU ({new / base:.2f} x the cohort)")
    print(f"ratio reference / vectorised: {old / new:.2f}")
    for name, one in (("reference", old), ("vectorised", new)):
        projected = one * args.draws / args.workers
        print(f"projected PSA on the {name} engine, {args.draws} draws on {args.workers} idle cores: {projected:.0f} s")

    if args.full:
        with tempfile.TemporaryDirectory() as out:
            command = [
                sys.executable,
                "-m",
                "pathway",
                "simulate",
                "--psa",
                str(args.draws),
                "-n",
                str(args.patients),
                "--compare",
                ",".join(POLICIES),
                "--workers",
                str(args.workers),
                "--out",
                out,
                "-q",
                "--no-plots",
            ]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, check=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            run = json.loads((Path(out) / "psa_run.json").read_text(encoding="utf-8"))
        print(
            f"pathway simulate --psa {args.draws} -n {args.patients:,}: {wall:.0f} s wall, {cpu:.0f} s CPU "
            f"(CPU / cores = {cpu / args.workers:.0f} s), PSA phase {run['psa_seconds']:.0f} s; "
            f"load average now {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
