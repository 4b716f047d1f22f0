"""Runs a cohort chunk by chunk: in this process, in local worker processes, or on Dask.

A chunk is a range of patient indices. Whoever computes it, a chunk's result
depends only on (spec, start, stop), because each patient's random numbers come
from its own stream (streams.py). Results come back in chunk order, so files
written from them are identical too, and aggregates are integer sums.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from pathway import compiled as compiled_engine
from pathway import engine as psm_engine
from pathway.compiled import CompiledPathway, LeanRun, compile_pathway
from pathway.events import Event
from pathway.loader import loads as load_definition
from pathway.model import Pathway
from pathway.simulate import natural
from pathway.simulate import params as params_io
from pathway.simulate.aggregate import Aggregate
from pathway.simulate.clinician import Clinician, Course
from pathway.simulate.fhir_records import fhir_line
from pathway.simulate.natural import CASE_NAMES, NaturalHistory
from pathway.simulate.params import SimParams
from pathway.trace import Trace

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MonitorFn = Callable[[Pathway, Trace, list[Event]], list[Any]]

OUTCOME_COLUMNS = (
    "patient",
    "policy",
    "case",
    "puncture",
    "complication",
    "final_state",
    "final",
    "path",
    "presented_at",
    "ended_at",
    "hours_to_end",
    "events_accepted",
    "events_rejected",
    "reviews",
    "blood_patches",
    "imaging_studies",
    "imaging",
    "radiation_msv",
    "contrast_exposures",
    "complication_at",
    "escalated_at",
    "hours_to_escalation",
)


@attrs.frozen
class CohortSpec:
    """Everything a worker needs to compute any chunk (plain strings: ships to any process)."""

    definition_text: str
    definition_file: str
    params_text: str
    params_file: str
    seed: int
    policies: tuple[str, ...]
    events: bool = False
    outcomes: bool = False
    compress: bool = False
    check_engines: bool = False
    fhir: bool = False
    monitor_all_below: int = 2000
    monitor_every: int = 1000

    @property
    def key(self) -> str:
        text = json.dumps(attrs.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def monitored(self, index: int) -> bool:
        return index < self.monitor_all_below or index % self.monitor_every == 0


class Context:
    """A worker's loaded pathway, parameters and clinicians for one spec."""

    def __init__(self, spec: CohortSpec) -> None:
        self.pathway = load_definition(spec.definition_text, spec.definition_file)
        self.compiled: CompiledPathway = compile_pathway(self.pathway)
        self.params: SimParams = params_io.loads(spec.params_text, spec.params_file)
        params_io.check_against(self.params, self.pathway)
        self.clinicians = {name: Clinician(self.compiled, self.params, name) for name in spec.policies}
        self.counted_fields: list[tuple[str, ...]] = [
            tuple(f.name for f in self.pathway.event(name).fields if f.type in ("enum", "bool"))
            for name in self.compiled.event_names
        ]
        self.contrast = frozenset(self.params.contrast)
        self.monitor = find_monitor()
        self.sizes = (
            len(self.compiled.state_ids),
            len(self.pathway.transitions),
            len(self.compiled.event_names),
            len(self.params.complications),
        )

    def aggregate(self) -> Aggregate:
        return Aggregate(*self.sizes)


def find_monitor() -> MonitorFn | None:
    """pathway.verify.monitor.check_trace when that module exists (it is built separately)."""
    try:
        from pathway.verify.monitor import check_trace  # type: ignore[import-not-found]
    except ImportError:
        return None
    return check_trace  # type: ignore[no-any-return]


_CONTEXTS: dict[str, Context] = {}
_CONTEXTS_LOCK = threading.Lock()


def context(spec: CohortSpec) -> Context:
    """The process's Context for a spec, built once; shared by threads (it holds no mutable state)."""
    key = spec.key
    with _CONTEXTS_LOCK:
        ctx = _CONTEXTS.get(key)
        if ctx is None:
            _CONTEXTS.clear()  # one cohort at a time per process
            ctx = _CONTEXTS[key] = Context(spec)
    return ctx


@attrs.define
class ChunkResult:
    start: int
    stop: int
    aggregates: dict[str, Aggregate]
    events: dict[str, bytes]
    outcomes: dict[str, str]
    fhir: dict[str, str] = attrs.field(factory=dict)
    """Per policy: one FHIR patient Bundle per line (NDJSON), when the spec asks for FHIR."""


# ---------------------------------------------------------------- one chunk


def patient_id(index: int) -> str:
    return f"p{index:07d}"


def iso(minute: int) -> str:
    return (EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def course_events(course: Course, compiled: CompiledPathway) -> list[Event]:
    """The events a course sent, as the event reader would produce them (lines from 1)."""
    patient = patient_id(course.index)
    assert course.events is not None
    return [
        Event(line, compiled.event_names[event], EPOCH + timedelta(minutes=minute), iso(minute), fields, patient)
        for line, (event, minute, fields) in enumerate(course.events, start=1)
    ]


def event_lines(course: Course, compiled: CompiledPathway) -> Iterator[str]:
    patient = patient_id(course.index)
    assert course.events is not None
    for event, minute, fields in course.events:
        record = {"event": compiled.event_names[event], "at": iso(minute), "patient": patient, **fields}
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def outcome_row(course: Course, policy: str, history: NaturalHistory, j: int, ctx: Context) -> list[Any]:
    compiled, params = ctx.compiled, ctx.params
    dose = sum(params.dose_msv[rrl].value for _, _, _, rrl in course.imaging)
    puncture = history.puncture[j]
    final = compiled.final[course.state]
    hours_to_escalation = ""
    if course.t_escalated is not None and course.t_manifest is not None:
        hours_to_escalation = f"{max(course.t_escalated - course.t_manifest, 0) / 60:.2f}"
    return [
        patient_id(course.index),
        policy,
        CASE_NAMES[history.case[j]],
        params.punctures[puncture].id if puncture >= 0 else "",
        params.complications[course.complication].id if course.complication >= 0 else "",
        compiled.state_ids[course.state],
        "true" if final else "false",
        ">".join(compiled.state_ids[s] for s in course.path),
        iso(course.t_present),
        iso(course.t_end) if course.t_end is not None else "",
        f"{(course.t_end - course.t_present) / 60:.2f}" if course.t_end is not None else "",
        len(course.accepted),
        course.rejected,
        course.reviews,
        course.patches,
        len(course.imaging),
        ";".join(f"{compiled.state_ids[s]}:{code}" for s, code, _, _ in course.imaging),
        f"{dose:.3f}",
        sum(1 for _, code, _, _ in course.imaging if code in ctx.contrast),
        iso(course.t_manifest) if course.t_manifest is not None else "",
        iso(course.t_escalated) if course.t_escalated is not None else "",
        hours_to_escalation,
    ]


def _check(course: Course, ctx: Context, aggregate: Aggregate, spec: CohortSpec) -> None:
    """Engine equivalence and runtime monitors on one course's trace."""
    events = course_events(course, ctx.compiled)
    patient = patient_id(course.index)
    trace = compiled_engine.run_course(ctx.pathway, events, patient)
    if spec.check_engines:
        aggregate.engine_checked += 1
        reference = psm_engine.run_course(ctx.pathway, events, patient)
        lean_path = tuple(ctx.compiled.state_ids[s] for s in course.path)
        same_lean = trace.state == ctx.compiled.state_ids[course.state] and trace.path == lean_path
        if reference != trace or not same_lean or len(trace.rejected) != course.rejected:
            aggregate.engine_mismatches += 1
    if ctx.monitor is not None and spec.monitored(course.index):
        aggregate.monitor_checked += 1
        problems = ctx.monitor(ctx.pathway, trace, events)
        if problems:
            aggregate.monitor_violations += 1
            if len(aggregate.monitor_examples) < 5:
                aggregate.monitor_examples.append(f"{patient}: {problems[0]}")


def run_chunk(spec: CohortSpec, start: int, stop: int) -> ChunkResult:
    """Patients start..stop-1 under every policy of the spec."""
    ctx = context(spec)
    history = natural.draw(ctx.params, spec.seed, start, stop)
    result = ChunkResult(start, stop, {}, {}, {})
    counted, contrast = ctx.counted_fields, ctx.contrast
    monitoring = ctx.monitor is not None
    for policy in spec.policies:
        clinician = ctx.clinicians[policy]
        draws = natural.policy_draws(ctx.params, policy, history)
        aggregate = ctx.aggregate()
        run = LeanRun(ctx.compiled)  # one per chunk: a chunk runs on one thread
        lines: list[str] = []
        bundles: list[str] = []
        rows = io.StringIO()
        writer = csv.writer(rows, lineterminator="\n")
        for j in range(stop - start):
            index = start + j
            checked = spec.check_engines or (monitoring and spec.monitored(index))
            course = clinician.course(history, j, draws, record=spec.events or spec.fhir or checked, run=run)
            aggregate.add(course, history.case[j], counted, contrast)
            if checked:
                _check(course, ctx, aggregate, spec)
            if spec.events:
                lines.extend(event_lines(course, ctx.compiled))
            if spec.fhir:
                bundles.append(fhir_line(course, course_events(course, ctx.compiled), ctx.pathway))
            if spec.outcomes:
                writer.writerow(outcome_row(course, policy, history, j, ctx))
        result.aggregates[policy] = aggregate
        if spec.events:
            text = "".join(line + "\n" for line in lines).encode("utf-8")
            # gzip members concatenate into one valid gzip file, so chunks compress in the workers
            result.events[policy] = gzip.compress(text, compresslevel=6, mtime=0) if spec.compress else text
        if spec.outcomes:
            result.outcomes[policy] = rows.getvalue()
        if spec.fhir:
            result.fhir[policy] = "".join(bundles)
    return result


# ---------------------------------------------------------------- a whole cohort


def chunks(patients: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """Patient index ranges, made as they are needed: memory must not grow with the cohort size."""
    if patients < 0 or chunk_size < 1:
        raise ValueError("patients must be >= 0 and chunk size >= 1")
    return ((a, min(a + chunk_size, patients)) for a in range(0, patients, chunk_size))


_WORKER_SPEC: CohortSpec | None = None


def _init_worker(spec: CohortSpec) -> None:
    global _WORKER_SPEC
    _WORKER_SPEC = spec
    context(spec)


def _worker_chunk(bounds: tuple[int, int]) -> ChunkResult:
    assert _WORKER_SPEC is not None
    return run_chunk(_WORKER_SPEC, *bounds)


def local_results(spec: CohortSpec, patients: int, workers: int, chunk_size: int) -> Iterator[ChunkResult]:
    """Chunk results in order, computed here (1 worker) or by a pool of processes."""
    bounds = chunks(patients, chunk_size)
    if workers <= 1 or patients <= chunk_size:
        for start, stop in bounds:
            yield run_chunk(spec, start, stop)
        return
    # fork: workers start in milliseconds and inherit the imported modules
    pool_context = multiprocessing.get_context("fork")
    with pool_context.Pool(workers, initializer=_init_worker, initargs=(spec,)) as pool:
        # a bounded window of chunks in flight (Pool.imap would queue every chunk up front)
        pending: deque[Any] = deque()
        for chunk in bounds:
            pending.append(pool.apply_async(_worker_chunk, (chunk,)))
            if len(pending) >= 4 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def run(
    spec: CohortSpec,
    patients: int,
    results: Iterator[ChunkResult],
    sink: Callable[[ChunkResult], None] | None = None,
) -> dict[str, Aggregate]:
    """Merge chunk results (in order) into one aggregate per policy; ``sink`` sees each chunk first."""
    totals: dict[str, Aggregate] = {}
    done = 0
    for result in results:
        if result.start != done:
            raise RuntimeError(f"chunk {result.start}..{result.stop} arrived out of order (expected {done})")
        done = result.stop
        if sink is not None:
            sink(result)
        for policy, aggregate in result.aggregates.items():
            if policy in totals:
                totals[policy].merge(aggregate)
            else:
                totals[policy] = aggregate
        result.events.clear()
        result.outcomes.clear()
        result.fhir.clear()
    if done != patients:
        raise RuntimeError(f"cohort stopped after {done} of {patients} patients")
    if not totals:
        ctx = context(spec)
        totals = {policy: ctx.aggregate() for policy in spec.policies}
    return totals


def make_spec(
    pathway: Pathway,
    params_text: str,
    params_file: str,
    seed: int,
    policies: tuple[str, ...],
    **options: Any,
) -> CohortSpec:
    """A spec for a loaded pathway: the definition text it was loaded from travels with the spec."""
    if not pathway.source_text:
        raise ValueError("this pathway was not loaded from a definition text, so workers cannot rebuild it")
    return CohortSpec(
        definition_text=pathway.source_text,
        definition_file=Path(pathway.source_path).name if pathway.source_path else "<definition>",
        params_text=params_text,
        params_file=params_file,
        seed=seed,
        policies=policies,
        **options,
    )
