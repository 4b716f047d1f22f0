"""The FHIR round trip at cohort scale: the exported plan decides every event as the engine does.

    .venv/bin/python benchmarks/bench_fhir_roundtrip.py [--patients 10000] [--seed 1]
        [--policies guideline,reflexive_imaging,dismiss_red_flags] [--workers 2]

1. `pathway export --format fhir` writes the definition Bundle; `pathway simulate --format
   jsonl,fhir` writes the cohort twice: events.jsonl (what the engine reads) and
   fhir/Bundle.ndjson (one FHIR patient Bundle per line, Bulk Data layout).
2. For every patient, the engine (pathway.compiled, proven equal to the reference engine)
   runs the events, and pathway.export.fhir_apply replays the patient's Bundle through the
   exported PlanDefinition with fhirpathpy: each event's decision (actions taken, or refused)
   must be the same. Any difference is a defect of the export; the script exits 1.
3. Timing: FHIRPath replay against the compiled engine on the same courses, as a ratio
   measured in this run (the engine is the baseline).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pathway import compiled
from pathway.cli_common import read_event_file
from pathway.events import Event
from pathway.export.fhir_apply import Plan
from pathway.export.fhir_definitions import build_export
from pathway.export.fhir_mapping import load_mapping
from pathway.export.fhir_patient import events_by_course
from pathway.export.fhir_roundtrip import Agreement, compare_many, course_key
from pathway.loader import load

PATHWAY = load()
MAPPING = load_mapping(PATHWAY)
LAYOUT = build_export(PATHWAY, MAPPING).layout
_PLAN: Plan | None = None


def _init(plan_path: str) -> None:
    global _PLAN
    _PLAN = Plan(json.loads(Path(plan_path).read_text(encoding="utf-8")))


def _compare(batch: list[tuple[list[Event], str]]) -> tuple[Agreement, float]:
    assert _PLAN is not None
    started = time.perf_counter()
    total = compare_many(PATHWAY, LAYOUT, _PLAN, ((events, json.loads(line)) for events, line in batch))
    return total, time.perf_counter() - started


def courses(out: Path, policy: str, primary: str) -> Iterator[tuple[list[Event], str]]:
    """(events, record Bundle line) of every course, one per (patient, episode)."""
    suffix = "" if policy == primary else f".{policy}"
    events, errors = read_event_file(str(out / f"events{suffix}.jsonl"), PATHWAY)
    assert not errors, errors[:3]
    by_course = dict(events_by_course(events, "?"))
    with (out / f"fhir{suffix}" / "Bundle.ndjson").open(encoding="utf-8") as bundles:
        for line in bundles:
            yield by_course.pop(course_key(json.loads(line))), line
    assert not by_course, f"{len(by_course)} courses have events but no Bundle"


def batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policies", default="guideline")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    exe = str(Path(sys.executable).with_name("pathway"))
    with tempfile.TemporaryDirectory() as temp:
        out = Path(temp)
        subprocess.run([exe, "export", "--format", "fhir", "--out", str(out / "plan")], check=True, capture_output=True)
        simulate = [exe, "simulate", "-n", str(args.patients), "--seed", str(args.seed), "--out", str(out)]
        simulate += ["--compare", ",".join(policies), "--format", "jsonl,fhir", "--no-plots", "--no-gzip", "-q"]
        started = time.perf_counter()
        subprocess.run(simulate, check=True)
        print(
            f"simulated {args.patients:,} patients x {len(policies)} policies in {time.perf_counter() - started:.1f} s"
        )
        plan_path = str(out / "plan" / "Bundle-pdph.json")
        for policy in policies:
            total = Agreement()
            replay_s = 0.0
            context = multiprocessing.get_context("fork")
            with context.Pool(args.workers, initializer=_init, initargs=(plan_path,)) as pool:
                for agreement, seconds in pool.imap(_compare, batches(courses(out, policy, policies[0]), 200)):
                    total.merge(agreement)
                    replay_s += seconds
            engine_s = _engine_seconds(out, policy, policies[0])
            report(policy, total, replay_s, engine_s)
            if total.disagreed:
                return 1
    return 0


def _engine_seconds(out: Path, policy: str, primary: str) -> float:
    """The compiled engine alone on the same courses (the baseline of the ratio)."""
    items = [events for events, _ in courses(out, policy, primary)]
    started = time.perf_counter()
    for events in items:
        compiled.run_course(PATHWAY, events, events[0].patient, events[0].episode)
    return time.perf_counter() - started


def report(policy: str, total: Agreement, replay_s: float, engine_s: float) -> None:
    print(f"\npolicy {policy}: {total.courses:,} courses (patients and return visits), {total.decisions:,} decisions")
    print(f"  decisions agreed {total.agreed:,} / {total.decisions:,}")
    print(f"  final recommendations agreed {total.recommendations_agreed:,} / {total.courses_compared:,}")
    print(f"  disagreements: {total.disagreed:,}")
    print("  decisions by outcome: " + ", ".join(f"{k} {v:,}" for k, v in sorted(total.outcomes.items())))
    print("  actions taken (FHIR action id: count):")
    for action, count in sorted(total.actions.items(), key=lambda item: -item[1]):
        print(f"    {action:55} {count:>8,}")
    per_decision_ms = 1000 * replay_s / max(total.decisions, 1)
    print(
        f"  FHIRPath replay {replay_s:.1f} s CPU over workers ({per_decision_ms:.2f} ms per decision); "
        f"compiled engine {engine_s:.2f} s; ratio {replay_s / max(engine_s, 1e-9):,.0f}x"
    )
    for mismatch in total.mismatches:
        print(f"  MISMATCH {mismatch}")


if __name__ == "__main__":
    sys.exit(main())
