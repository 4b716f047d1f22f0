"""Runs a cohort chunk by chunk: in this process, in local worker processes, or on Dask.

A chunk is a range of patient indices. Whoever computes it, a chunk's result
depends only on (spec, start, stop), because each patient's random numbers come
from its own stream (streams.py). Each patient is run under every policy in turn,
so the paired differences between policies are taken on the same patient. Results
come back in chunk order, so files written from them are identical too, and
aggregates are integer sums.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pyarrow as pa

from pathway import engine as psm_engine
from pathway.compiled import CompiledPathway, LeanRun, TracedRun, compile_pathway
from pathway.events import Event
from pathway.loader import loads as load_definition
from pathway.model import Pathway
from pathway.simulate import measures, natural
from pathway.simulate import params as params_io
from pathway.simulate.aggregate import Aggregate
from pathway.simulate.clinician import Clinician, Course
from pathway.simulate.cohort_facts import FactContext, patient_facts
from pathway.simulate.fhir_records import fhir_lines
from pathway.simulate.measures import MILLI, Paired
from pathway.simulate.params import SimParams
from pathway.simulate.schema import events_table
from pathway.simulate.tables import TableRows, patient_id
from pathway.trace import Trace

if TYPE_CHECKING:
    from pathway.verify.monitor import CourseWatch, Monitor

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@attrs.frozen
class CohortSpec:
    """Everything a worker needs to compute any chunk (plain strings: ships to any process)."""

    definition_text: str
    definition_file: str
    params_text: str
    params_file: str
    seed: int
    policies: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    events: bool = False
    tables: bool = False
    compress: bool = False
    check_engines: bool = False
    fhir: bool = False
    monitor_all_below: int = 2000
    monitor_every: int = 1000
    engine: str = "reference"
    """"reference": patient by patient (clinician.py); "vectorised": a chunk at a time on arrays (vectorised.py)."""

    @property
    def key(self) -> str:
        return _spec_key(self)

    def monitored(self, index: int) -> bool:
        return index < self.monitor_all_below or index % self.monitor_every == 0


@functools.lru_cache(maxsize=8)
def _spec_key(spec: CohortSpec) -> str:
    """The spec's digest, computed once per spec: every chunk looks its context up by it, and hashing the
    definition and parameter texts (~65 KB) costs ~0.4 ms (a frozen spec hashes by its fields, whose
    strings keep their hashes)."""
    text = json.dumps(attrs.asdict(spec), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Context:
    """A worker's loaded pathway, parameters and clinicians for one spec."""

    def __init__(self, spec: CohortSpec) -> None:
        self.pathway = load_definition(spec.definition_text, spec.definition_file)
        self.compiled: CompiledPathway = compile_pathway(self.pathway)
        self.params: SimParams = params_io.loads(spec.params_text, spec.params_file, spec.overrides)
        params_io.check_against(self.params, self.pathway)
        self.clinicians = {name: Clinician(self.compiled, self.params, name) for name in spec.policies}
        self.counted_fields: list[tuple[str, ...]] = [
            tuple(f.name for f in self.pathway.event(name).fields if f.type in ("enum", "bool"))
            for name in self.compiled.event_names
        ]
        self.contrast = frozenset(self.params.contrast)
        self.milli_dose = {rrl: round(number.value * MILLI) for rrl, number in self.params.dose_msv.items()}
        state = self.compiled.state_index
        outcomes = self.params.outcomes
        self.resolution = state[outcomes["resolution"]]
        self.facts = FactContext(
            self.resolution, state[outcomes["refractory"]], tuple(c.id for c in self.params.complications)
        )
        self.events_spec = events_table(self.pathway)
        self.monitor = find_monitor(self.pathway)
        self.sizes = (
            len(self.compiled.state_ids),
            len(self.pathway.transitions),
            len(self.compiled.event_names),
            len(self.params.complications),
        )

    def aggregate(self) -> Aggregate:
        return Aggregate(*self.sizes)


def find_monitor(pathway: Pathway) -> Monitor | None:
    """The runtime monitor of a pathway (pathway.verify.monitor) when that module exists (it is built separately)."""
    try:
        from pathway.verify.monitor import monitor_for
    except ImportError:
        return None
    return monitor_for(pathway)


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
    paired: dict[str, Paired]
    events: dict[str, bytes]
    tables: dict[str, pa.Table]
    fhir: dict[str, list[str]] = attrs.field(factory=dict)
    """Per policy, when the spec asks for FHIR: one patient Bundle (NDJSON line) per course."""


# ---------------------------------------------------------------- one chunk


ISO = "%Y-%m-%dT%H:%M:%SZ"


def iso(minute: int) -> str:
    return (EPOCH + timedelta(minutes=minute)).strftime(ISO)


def episode_label(episode: int, episodes: int) -> str | None:
    """The `episode` a line carries in the event stream: "1", "2", ... for a patient who came back, else none."""
    return None if episodes <= 1 else str(episode)


def course_events(course: Course, compiled: CompiledPathway) -> dict[int, list[Event]]:
    """The events a course sent, per episode, as the event reader would produce them (lines from 1)."""
    patient = patient_id(course.index)
    assert course.events is not None
    by_episode: dict[int, list[Event]] = {}
    for line, (event, minute, fields, episode) in enumerate(course.events, start=1):
        at = EPOCH + timedelta(minutes=minute)
        label = episode_label(episode, course.episodes)
        record = Event(line, compiled.event_names[event], at, at.strftime(ISO), fields, patient, label)
        by_episode.setdefault(episode, []).append(record)
    return by_episode


def event_lines(course: Course, compiled: CompiledPathway) -> Iterator[str]:
    patient = patient_id(course.index)
    assert course.events is not None
    for event, minute, fields, episode in course.events:
        record: dict[str, Any] = {"event": compiled.event_names[event], "at": iso(minute), "patient": patient}
        label = episode_label(episode, course.episodes)
        if label is not None:
            record["episode"] = label
        record.update(fields)
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _check(course: Course, ctx: Context, aggregate: Aggregate, spec: CohortSpec) -> None:
    """Engine equivalence and runtime monitors on the trace of each of the patient's episodes."""
    patient = patient_id(course.index)
    monitor = ctx.monitor if spec.monitored(course.index) else None
    rejected, mismatch, problems = 0, False, []
    for episode, events in course_events(course, ctx.compiled).items():
        label = episode_label(episode, course.episodes)
        trace, watch = _traced(ctx.compiled, events, patient, label, monitor)
        rejected += len(trace.rejected)
        if spec.check_engines:
            reference = psm_engine.run_course(ctx.pathway, events, patient, label)
            mismatch = mismatch or reference != trace
            if episode == 1:
                lean_path = tuple(ctx.compiled.state_ids[s] for s in course.path)
                mismatch = mismatch or trace.state != ctx.compiled.state_ids[course.state] or trace.path != lean_path
        if monitor is not None and watch is not None:
            problems.extend(monitor.finish(trace, watch))
    if spec.check_engines:
        aggregate.engine_checked += 1
        if mismatch or rejected != course.rejected:
            aggregate.engine_mismatches += 1
    if monitor is not None:
        aggregate.monitor_checked += 1
        if problems:
            aggregate.monitor_violations += 1
            if len(aggregate.monitor_examples) < 5:
                aggregate.monitor_examples.append(f"{patient}: {problems[0]}")


def _traced(
    compiled: CompiledPathway, events: list[Event], patient: str, label: str | None, monitor: Monitor | None
) -> tuple[Trace, CourseWatch | None]:
    """One episode through the compiled engine (compiled.run_course), the monitor watching each decision as it
    is made, as `pathway run` does (pathway/replay.py): one pass over the events, not a replay of the trace.

    What the watch sees is what ``Monitor.check(trace, events)`` replays from the trace: the steps each
    accepted event took, and the pathway's refusals (not the time-order ones, which are input errors).
    """
    run = TracedRun(compiled, patient, label)
    watch = None if monitor is None else monitor.watch()
    for event in events:
        before = len(run.steps)
        if not run.send(event):
            if watch is not None and run.rejected[-1].kind == "out_of_sequence":
                watch.see(event, run.rejected[-1])
        elif watch is not None:  # an accepted event took at least one step (compiled.LeanRun.send)
            watch.see(event, run.steps[before:])
    return run.trace(), watch


def _times(course: Course, ctx: Context) -> tuple[int | None, int | None]:
    """(minutes from a complication's signs to escalation, minutes from presentation to resolution)."""
    escalation = None
    if course.t_escalated is not None and course.t_manifest is not None:
        escalation = max(course.t_escalated - course.t_manifest, 0)
    resolution = None
    if course.state == ctx.resolution and course.t_end is not None:
        resolution = course.t_end - course.t_present
    return escalation, resolution


def run_chunk(spec: CohortSpec, start: int, stop: int) -> ChunkResult:
    """Patients start..stop-1, each under every policy of the spec in turn."""
    if spec.engine == "vectorised":
        from pathway.simulate import vector_chunk

        return vector_chunk.run_chunk(spec, start, stop)
    ctx = context(spec)
    history = natural.draw(ctx.params, spec.seed, start, stop)
    policies = spec.policies
    reference = policies[0]
    draws = {policy: natural.policy_draws(ctx.params, policy, history) for policy in policies}
    runs = {policy: LeanRun(ctx.compiled) for policy in policies}  # one per chunk: a chunk runs on one thread
    aggregates = {policy: ctx.aggregate() for policy in policies}
    paired = {policy: Paired() for policy in policies[1:]}
    lines: dict[str, list[str]] = {policy: [] for policy in policies}
    bundles: dict[str, list[str]] = {policy: [] for policy in policies}
    rows = TableRows(ctx.compiled, ctx.params, ctx.events_spec) if spec.tables else None
    counted, contrast, milli = ctx.counted_fields, ctx.contrast, ctx.milli_dose
    monitoring = ctx.monitor is not None
    for j in range(stop - start):
        index = start + j
        checked = spec.check_engines or (monitoring and spec.monitored(index))
        record = spec.events or spec.fhir or checked or rows is not None
        vectors: dict[str, tuple[int, ...]] = {}
        times: dict[str, tuple[int | None, int | None]] = {}
        for policy in policies:
            course = ctx.clinicians[policy].course(history, j, draws[policy], record=record, run=runs[policy])
            vector = measures.vector(
                course.imaging,
                milli,
                contrast,
                course.patches,
                course.t_escalated is not None,
                course.complication >= 0,
            )
            facts = patient_facts(course, history, j, ctx.facts)
            aggregates[policy].add(course, history.case[j], counted, contrast, vector, history.puncture[j], facts)
            if checked:
                _check(course, ctx, aggregates[policy], spec)
            if spec.events:
                lines[policy].extend(event_lines(course, ctx.compiled))
            if spec.fhir:
                bundles[policy].extend(fhir_lines(course, course_events(course, ctx.compiled), ctx.pathway))
            if rows is not None:
                rows.add(course, policy, history, j)
            vectors[policy], times[policy] = vector, _times(course, ctx)
        for policy, pairs in paired.items():
            pairs.add(vectors[policy], vectors[reference])
            for k, name in enumerate(measures.PAIRED_TIMES):
                pairs.add_time(name, times[policy][k], times[reference][k])
    events: dict[str, bytes] = {}
    if spec.events:
        for policy in policies:
            text = "".join(line + "\n" for line in lines[policy]).encode("utf-8")
            # gzip members concatenate into one valid gzip file, so chunks compress in the workers
            events[policy] = gzip.compress(text, compresslevel=6, mtime=0) if spec.compress else text
    tables = rows.tables() if rows is not None else {}
    if rows is not None and not spec.events:
        del tables["events"]
    return ChunkResult(start, stop, aggregates, paired, events, tables, bundles if spec.fhir else {})


# ---------------------------------------------------------------- a whole cohort


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


from pathway.simulate.runner import chunks, local_results, run  # noqa: E402  (the public entry points)

__all__ = ["ChunkResult", "CohortSpec", "chunks", "context", "local_results", "make_spec", "run", "run_chunk"]
