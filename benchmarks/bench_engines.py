"""Courses per second of the three ways to run the PDPH pathway, measured in one run.

    .venv/bin/python benchmarks/bench_engines.py [--courses 20000] [--psm-courses 300] [--repeats 5]

(a) psm:      pathway.engine.run_course, the python-statemachine engine (the reference)
(b) cohort:   pathway.compiled.LeanRun, the compiled table the simulator runs on
    traced:   pathway.compiled.run_course, the compiled table producing full Traces
(c) dict:     a hand-written dict transition table of the same pathway (below), the
              speed baseline the cohort engine is held to (target: within 2x)

The courses are simulated guideline courses (the same event streams for every engine;
integer times and dict fields prepared beforehand, so only running is timed).
All engines must agree on every final state; the benchmark stops if they do not.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from pathway import compiled as compiled_engine
from pathway import engine as psm_engine
from pathway.compiled import LeanRun, compile_pathway, micros
from pathway.events import Event
from pathway.loader import load
from pathway.machine import new_machine
from pathway.simulate import cohort
from pathway.simulate import params as params_io
from pathway.simulate.clinician import Clinician
from pathway.simulate.natural import draw, policy_draws

Lean = list[tuple[int, int, dict[str, Any]]]
Named = list[tuple[str, int, dict[str, Any]]]

US_PER_HOUR = 3_600_000_000


def simulated_courses(n: int, seed: int) -> list[list[Event]]:
    pathway = load()
    compiled = compile_pathway(pathway)
    params = params_io.load(pathway=pathway)
    clinician = Clinician(compiled, params, "guideline")
    history = draw(params, seed, 0, n)
    draws = policy_draws(params, "guideline", history)
    courses = (cohort.course_events(clinician.course(history, j, draws, record=True), compiled) for j in range(n))
    return [events for episodes in courses for events in episodes.values()]  # each episode is a course


# ---------------------------------------------------------------- (c) the hand-written baselines

Guard = Callable[[dict[str, int], dict[str, int], dict[str, int], int, dict[str, Any]], bool] | None
Table = dict[tuple[str, str], tuple[tuple[Guard, str], ...]]


def dict_table(pathway: Any) -> tuple[Table, dict[str, tuple[tuple[Guard, str], ...]]]:
    """(c) The PDPH pathway as a plain dict transition table written by hand.

    ``(state, event) -> ((guard, target), ...)`` tried in order, plus the immediate
    transitions of the reassessment; guards are lambdas over the counts, last event
    times and state entry times. This is the "plain dict table" of the research
    notes (python-statemachine-notes.md section 4). Thresholds are read from the
    definition so the baseline cannot drift from it.
    """
    window = pathway.parameter("puncture_window_h").value * US_PER_HOUR
    trial = pathway.parameter("reassess_min_h").value * US_PER_HOUR
    fever = pathway.parameter("fever_threshold_c").value
    max_patches = pathway.parameter("max_patches").value

    def red_flag(counts: Any, last: Any, entered: Any, at: int, f: dict[str, Any]) -> bool:
        t = f.get("temperature_c")
        return bool(
            (t is not None and t >= fever)
            or f.get("nuchal_rigidity")
            or f.get("mental_status") in ("altered", "obtunded")
            or f.get("seizure")
            or f.get("focal_deficit")
            or f.get("positional") is False  # [1.1] the headache lost its postural pattern (reassessment only)
        )

    flag: tuple[tuple[Guard, str], ...] = ((None, "red_flag_escalation"),)
    exam = (red_flag, "red_flag_escalation")
    table: Table = {}
    for state in ("presentation", "conservative_therapy", "reassessment", "blood_patch"):
        table[(state, "red_flag")] = flag
    table[("presentation", "dural_puncture")] = ((None, "presentation"),)
    table[("presentation", "presentation")] = (
        exam,
        (lambda c, t, e, at, f: f.get("headache") != "orthostatic", "refer_alternative_diagnosis"),  # [1.1] first
        (lambda c, t, e, at, f: "dural_puncture" not in c, "refer_spontaneous_intracranial_hypotension"),
        (lambda c, t, e, at, f: at - t["dural_puncture"] > window, "refer_persistent_headache"),
        (None, "conservative_therapy"),
    )
    table[("conservative_therapy", "headache_resolved")] = ((None, "resolved"),)
    table[("conservative_therapy", "reassessment")] = (
        exam,
        (lambda c, t, e, at, f: at - e["conservative_therapy"] >= trial, "reassessment"),
        (lambda c, t, e, at, f: f.get("headache") == "resolved", "resolved"),
        (None, "conservative_therapy"),
    )
    table[("reassessment", "reassessment")] = (exam,)
    table[("blood_patch", "reassessment")] = (
        exam,
        (lambda c, t, e, at, f: f.get("headache") == "resolved", "resolved"),
        (None, "blood_patch"),
    )
    table[("blood_patch", "blood_patch")] = (
        (lambda c, t, e, at, f: c.get("blood_patch", 0) < max_patches, "blood_patch"),
    )
    pending = lambda c, t, e, at, f: c.get("patch_review", 0) < c.get("blood_patch", 0)  # noqa: E731
    table[("blood_patch", "patch_review")] = (
        (lambda c, t, e, at, f: pending(c, t, e, at, f) and f.get("relief") == "complete", "resolved"),
        (lambda c, t, e, at, f: pending(c, t, e, at, f) and c.get("blood_patch", 0) < max_patches, "blood_patch"),
        (pending, "refractory_leak"),
    )
    table[("blood_patch", "headache_resolved")] = ((None, "resolved"),)
    immediate: dict[str, tuple[tuple[Guard, str], ...]] = {
        "reassessment": (
            (lambda c, t, e, at, f: f.get("headache") == "resolved", "resolved"),
            (lambda c, t, e, at, f: bool(f.get("debilitating")), "blood_patch"),  # [1.1] even when improving
            (lambda c, t, e, at, f: f.get("headache") == "improving", "conservative_therapy"),
            (lambda c, t, e, at, f: f.get("headache") in ("unchanged", "worse"), "blood_patch"),
        )
    }
    return table, immediate


def run_dict(table: Table, immediate: dict[str, tuple[tuple[Guard, str], ...]], course: Named) -> str:
    state = "presentation"
    counts: dict[str, int] = {}
    last: dict[str, int] = {}
    entered: dict[str, int] = {}
    previous = None
    for name, at, fields in course:
        if previous is not None and at < previous:
            continue
        previous = at
        for guard, target in table.get((state, name), ()):
            if guard is None or guard(counts, last, entered, at, fields):
                state = target
                entered.setdefault(state, at)
                for then, after in immediate.get(state, ()):
                    if then is None or then(counts, last, entered, at, fields):
                        state = after
                        entered.setdefault(state, at)
                        break
                counts[name] = counts.get(name, 0) + 1
                last[name] = at
                break
    return state


def handler_table(pathway: Any) -> dict[str, dict[str, Callable[..., str | None]]]:
    """(c') The same pathway as hand-specialised handler functions: the floor of plain Python."""
    window = pathway.parameter("puncture_window_h").value * US_PER_HOUR
    trial = pathway.parameter("reassess_min_h").value * US_PER_HOUR
    fever = pathway.parameter("fever_threshold_c").value
    max_patches = pathway.parameter("max_patches").value

    def red_flag(f: dict[str, Any]) -> bool:
        t = f.get("temperature_c")
        return bool(
            (t is not None and t >= fever)
            or f.get("nuchal_rigidity")
            or f.get("mental_status") in ("altered", "obtunded")
            or f.get("seizure")
            or f.get("focal_deficit")
            or f.get("positional") is False  # [1.1] the headache lost its postural pattern (reassessment only)
        )

    def escalate(c: dict[str, Any], at: int, f: dict[str, Any]) -> str:
        return "red_flag_escalation"

    def puncture(c: dict[str, Any], at: int, f: dict[str, Any]) -> str:
        c["puncture"] = at
        return "presentation"

    def present(c: dict[str, Any], at: int, f: dict[str, Any]) -> str:
        if red_flag(f):
            return "red_flag_escalation"
        if f.get("headache") != "orthostatic":  # [1.1] before timing and puncture
            return "refer_alternative_diagnosis"
        if "puncture" not in c:
            return "refer_spontaneous_intracranial_hypotension"
        if at - c["puncture"] > window:
            return "refer_persistent_headache"
        c.setdefault("therapy", at)
        return "conservative_therapy"

    def resolved(c: dict[str, Any], at: int, f: dict[str, Any]) -> str:
        return "resolved"

    def review(c: dict[str, Any], at: int, f: dict[str, Any]) -> str:
        if red_flag(f):
            return "red_flag_escalation"
        headache = f.get("headache")
        if at - c["therapy"] >= trial:
            if headache == "resolved":
                return "resolved"
            if f.get("debilitating"):  # [1.1] a debilitating headache is patched even when improving
                return "blood_patch"
            if headache == "improving":
                return "conservative_therapy"
            return "blood_patch"
        return "resolved" if headache == "resolved" else "conservative_therapy"

    def patch(c: dict[str, Any], at: int, f: dict[str, Any]) -> str | None:
        if c.get("patches", 0) >= max_patches:
            return None
        c["patches"] = c.get("patches", 0) + 1
        return "blood_patch"

    def patch_review(c: dict[str, Any], at: int, f: dict[str, Any]) -> str | None:
        if c.get("reviews", 0) >= c.get("patches", 0):
            return None
        c["reviews"] = c.get("reviews", 0) + 1
        if f.get("relief") == "complete":
            return "resolved"
        return "blood_patch" if c["patches"] < max_patches else "refractory_leak"

    def patch_reassessed(c: dict[str, Any], at: int, f: dict[str, Any]) -> str:
        if red_flag(f):
            return "red_flag_escalation"
        return "resolved" if f.get("headache") == "resolved" else "blood_patch"

    return {
        "presentation": {"red_flag": escalate, "dural_puncture": puncture, "presentation": present},
        "conservative_therapy": {"red_flag": escalate, "headache_resolved": resolved, "reassessment": review},
        "blood_patch": {
            "red_flag": escalate,
            "blood_patch": patch,
            "patch_review": patch_review,
            "headache_resolved": resolved,
            "reassessment": patch_reassessed,
        },
    }


def run_handlers(table: dict[str, dict[str, Callable[..., str | None]]], course: Named) -> str:
    state, context, last = "presentation", {}, None  # type: ignore[var-annotated]
    for name, at, fields in course:
        if last is not None and at < last:
            continue
        last = at
        handler = table.get(state, {}).get(name)
        if handler is None:
            continue
        target = handler(context, at, fields)
        if target is not None:
            state = target
    return state


# ---------------------------------------------------------------- timing


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of this process (other processes on a shared machine count less than in wall time)."""
    gc.collect()
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def paired(fns: dict[str, Callable[[], Any]], repeats: int) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Run the engines in turn, ``repeats`` rounds, so machine noise hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            seconds, results[name] = timed(fn)
            times[name].append(seconds)
    return times, results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=20000)
    parser.add_argument("--psm-courses", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    pathway = load()
    compiled = compile_pathway(pathway)
    courses = simulated_courses(args.courses, args.seed)
    lean: list[Lean] = [[(compiled.event_index[e.name], micros(e.at), dict(e.fields)) for e in c] for c in courses]
    named: list[Named] = [[(e.name, micros(e.at), dict(e.fields)) for e in c] for c in courses]
    n_events = sum(len(c) for c in courses)
    table, immediate = dict_table(pathway)
    handlers = handler_table(pathway)

    def run_lean() -> list[int]:
        # as the simulator uses it: one LeanRun per worker, reset for each patient
        states = []
        run = LeanRun(compiled)
        for course in lean:
            run.reset()
            for event, at, fields in course:
                run.send(event, at, fields)
            states.append(run.state)
        return states

    def run_baseline() -> list[str]:
        return [run_dict(table, immediate, course) for course in named]

    def run_specialised() -> list[str]:
        return [run_handlers(handlers, course) for course in named]

    def run_traced() -> list[str]:
        return [compiled_engine.run_course(pathway, c).state for c in courses]

    psm_subset = courses[: args.psm_courses]

    def run_psm() -> list[str]:
        return [psm_engine.run_course(pathway, c).state for c in psm_subset]

    def build_machines() -> None:
        for _ in range(args.psm_courses):
            new_machine(pathway, None)

    times, results = paired(
        {"lean": run_lean, "dict": run_baseline, "handlers": run_specialised, "traced": run_traced}, args.repeats
    )
    t_psm, psm_states = timed(run_psm)
    t_build, _ = timed(build_machines)

    lean_names = [compiled.state_ids[s] for s in results["lean"]]
    agree = lean_names == results["dict"] == results["handlers"] == results["traced"]
    if not agree or lean_names[: len(psm_states)] != psm_states:
        raise SystemExit("engines disagree on final states: the benchmark is void")

    t_lean, t_dict, t_handlers, t_traced = (statistics.median(times[k]) for k in ("lean", "dict", "handlers", "traced"))
    ratios = sorted(a / b for a, b in zip(times["lean"], times["dict"], strict=True))
    psm_events = sum(len(c) for c in psm_subset)
    rate = {
        "psm (a)": args.psm_courses / t_psm,
        "cohort LeanRun (b)": args.courses / t_lean,
        "compiled traces": args.courses / t_traced,
        "dict table (c)": args.courses / t_dict,
        "hand handlers (c')": args.courses / t_handlers,
    }
    print(f"{args.courses} simulated courses, {n_events} events ({n_events / args.courses:.2f} per course)")
    print(f"CPU time; psm on the first {args.psm_courses} courses ({psm_events} events), once;")
    print(f"the others in {args.repeats} interleaved rounds, medians")
    print()
    print(f"{'engine':<22}{'courses/s':>12}{'us/course':>12}{'us/event':>10}")
    for name, value in rate.items():
        courses_n = args.psm_courses if name.startswith("psm") else args.courses
        events_n = psm_events if name.startswith("psm") else n_events
        per_event = (courses_n / value) / events_n * 1e6
        print(f"{name:<22}{value:>12,.0f}{1e6 / value:>12.1f}{per_event:>10.2f}")
    build_us = t_build / args.psm_courses * 1e6
    send_us = (t_psm - t_build) / psm_events * 1e6
    print()
    print(f"psm: {build_us:.0f} us to build a machine, {send_us:.0f} us per event sent")
    specialised = statistics.median(a / b for a, b in zip(times["lean"], times["handlers"], strict=True))
    print(
        f"cohort engine / dict table (c): {statistics.median(ratios):.2f}x the time "
        f"(per round: {', '.join(f'{r:.2f}' for r in ratios)}; target <= 2)"
    )
    print(f"cohort engine / hand-specialised handlers (c'): {specialised:.2f}x the time")
    print(f"cohort engine vs psm: {rate['cohort LeanRun (b)'] / rate['psm (a)']:.0f}x faster")
    print(f"compiled traces vs psm: {rate['compiled traces'] / rate['psm (a)']:.0f}x faster")


if __name__ == "__main__":
    main()
