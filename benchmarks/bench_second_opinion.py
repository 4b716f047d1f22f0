"""How long each independent tool takes against the project's own explorer, measured in one run.

    .venv/bin/python benchmarks/bench_second_opinion.py [--repeats 3] [--steps 12,8,4] [--patients 100000]

Baseline: `verify` (the explorer, every property of the shipped definition). Then:
  SPIN      export + spin -a + gcc + one pan run per LTL claim (the whole --cross-check spin)
  Z3        every coverage, overlap and threshold proof (--prove)
  Storm     export + build + check of the cohort DTMC at each step, beside the Monte Carlo of
            the same quantities (the simulator's own code, in-scope patients only)
Prints each time and its ratio to the explorer, then Storm's figures per step next to the
Monte Carlo with its 95 % interval, and how much each figure moves when the step halves.
"""

from __future__ import annotations

import argparse

from common import timed

from pathway.export import spin
from pathway.export.prism import CohortChain
from pathway.export.storm import compare, monte_carlo, storm_values
from pathway.loader import load
from pathway.simulate import params as params_io
from pathway.verify.explore import verify
from pathway.verify.properties import load_catalogue
from pathway.verify.prove import prove


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", default="12,8,4")
    parser.add_argument("--patients", type=int, default=100_000)
    args = parser.parse_args()
    pathway, catalogue, params = load(), load_catalogue(), params_io.load()

    verify(pathway, catalogue)
    explorer, _ = timed(lambda: verify(pathway, catalogue), args.repeats)
    print(f"explorer (verify)          {explorer:8.3f} s   x1")
    report = spin.check(pathway, catalogue)
    spin_s, _ = timed(lambda: spin.check(pathway, catalogue), args.repeats)
    print(
        f"SPIN (--cross-check spin)  {spin_s:8.3f} s   x{spin_s / explorer:.0f}"
        f"   ({report.claims} claims, {report.states} states; compile {report.seconds_compile:.2f} s,"
        f" pan {report.seconds_search:.2f} s)"
    )
    z3_s, _ = timed(lambda: prove(pathway), args.repeats)
    print(f"Z3 (--prove)               {z3_s:8.3f} s   x{z3_s / explorer:.0f}")

    sample = monte_carlo(pathway, params, "guideline", args.patients, seed=1)
    print(f"Monte Carlo ({sample.patients} in-scope)  {sample.seconds:8.3f} s   x{sample.seconds / explorer:.0f}")
    previous = None
    for step in (float(s) for s in args.steps.split(",")):
        exact = storm_values(CohortChain(pathway, params, step=step))
        total = exact.seconds_export + exact.seconds_build + exact.seconds_check
        print(
            f"Storm, {step:g} h steps        {total:8.3f} s   x{total / explorer:.0f}   ({exact.states} states; "
            f"export {exact.seconds_export:.1f} s, build {exact.seconds_build:.1f} s, "
            f"check {exact.seconds_check:.1f} s)"
        )
        print("  | quantity | Storm | Monte Carlo | 95 % interval | inside | moved from the coarser step |")
        for figure in compare(exact, sample, params.outcomes["resolution"]):
            moved = "" if previous is None else f"{abs(figure.exact - previous.values[figure.name]):.5f}"
            print(
                f"  | {figure.name} | {figure.exact:.5f} | {figure.mean:.5f} | {figure.low:.5f}-{figure.high:.5f} |"
                f" {'yes' if figure.inside else 'no'} | {moved} |"
            )
        previous = exact


if __name__ == "__main__":
    main()
