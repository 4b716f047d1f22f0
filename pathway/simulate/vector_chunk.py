"""One chunk of a cohort on the vectorised engine: the array counterpart of ``cohort.run_chunk``.

Same inputs (a spec and a range of patients), same ``ChunkResult`` (aggregates,
paired differences, event stream pieces, tables), byte for byte:
tests/test_simulate_vectorised.py runs both engines on the same cohorts and
compares every file.
"""

from __future__ import annotations

import gzip
import threading
from typing import Any

import numpy as np

from pathway.simulate import array_measures, cohort, natural
from pathway.simulate.aggregate import Aggregate
from pathway.simulate.array_aggregate import ShapeCache, add_courses
from pathway.simulate.array_machine import ArrayMachine
from pathway.simulate.cohort import ChunkResult, CohortSpec, Context
from pathway.simulate.course_arrays import CourseArrays
from pathway.simulate.fhir_records import fhir_lines
from pathway.simulate.field_table import FieldTable
from pathway.simulate.measures import Paired
from pathway.simulate.natural import HistoryColumns
from pathway.simulate.output_lines import EventLines
from pathway.simulate.streams import SLOTS
from pathway.simulate.tables import patient_id
from pathway.simulate.vector_plans import ClinicianPlans
from pathway.simulate.vector_tables import VectorTables
from pathway.simulate.vectorised import ArrayClinician, ImagingKey


class VectorContext:
    """What the vectorised engine builds once per spec on top of the shared ``Context``."""

    def __init__(self, ctx: Context, policies: tuple[str, ...]) -> None:
        self.ctx = ctx
        self.table = FieldTable(ctx.pathway)
        self.plans = ClinicianPlans(self.table, ctx.clinicians[policies[0]])
        self.machine = ArrayMachine(ctx.compiled, self.table)
        self.imaging_keys: list[ImagingKey] = []
        self.clinicians = {
            name: ArrayClinician(
                ctx.clinicians[name], self.plans, self.machine, self.imaging_keys, ctx.milli_dose, ctx.contrast
            )
            for name in policies
        }
        self.event_lines = EventLines(ctx.compiled.event_names, self.table)
        self.tables = VectorTables(ctx, self.table, self.imaging_keys)
        self.shapes: ShapeCache = {}

    def fields(self, vitals: np.ndarray) -> Any:
        table = self.table

        def of(plan: int, j: int) -> dict[str, Any]:
            return table.fields(plan, vitals[j].tolist() if vitals.shape[1] else [])

        return of


_VECTOR: dict[str, VectorContext] = {}
_LOCK = threading.Lock()
_BUFFERS = threading.local()


def uniform_buffer(size: int) -> np.ndarray:
    """This thread's buffer for a chunk's uniforms, grown as needed and reused from chunk to chunk.

    A chunk's uniforms are read only while the chunk runs (nothing of its result is a
    view of them), so the next chunk on the thread may draw into the same memory.
    """
    buffer: np.ndarray | None = getattr(_BUFFERS, "uniforms", None)
    if buffer is None or len(buffer) < size:
        buffer = _BUFFERS.uniforms = np.empty(size, dtype=np.float64)
    return buffer


def vector_context(spec: CohortSpec) -> VectorContext:
    key = spec.key
    with _LOCK:
        found = _VECTOR.get(key)
        if found is None:
            _VECTOR.clear()
            found = _VECTOR[key] = VectorContext(cohort.context(spec), spec.policies)
    return found


def run_chunk(spec: CohortSpec, start: int, stop: int) -> ChunkResult:
    """Patients start..stop-1 under every policy of the spec, a whole chunk at a time."""
    vec = vector_context(spec)
    ctx = vec.ctx
    history = natural.draw_columns(ctx.params, spec.seed, start, stop, uniform_buffer((stop - start) * SLOTS))
    policies = spec.policies
    result = ChunkResult(start, stop, {}, {}, {}, {})
    runs: list[tuple[str, CourseArrays]] = []
    ids = [patient_id(i) for i in range(start, stop)] if spec.events or spec.tables else []
    vectors, times = {}, {}
    for policy in policies:
        draws = natural.policy_columns(ctx.params, policy, history.uniforms)
        courses = vec.clinicians[policy].courses(history, draws)
        aggregate = ctx.aggregate()
        add_courses(aggregate, courses, history, vec.table, ctx.counted_fields, vec.imaging_keys, vec.shapes)
        vectors[policy] = array_measures.measures(courses, history)
        times[policy] = array_measures.times(courses, history, ctx.resolution)
        array_measures.add_measures(aggregate, vectors[policy])
        array_measures.add_facts(aggregate, courses, history, ctx.facts)
        _checks(spec, vec, courses, history, aggregate)
        result.aggregates[policy] = aggregate
        runs.append((policy, courses))
        if spec.events:
            text = vec.event_lines.text(ids, courses.sent, history.vitals, courses.episode).encode("utf-8")
            # gzip members concatenate into one valid gzip file, so chunks compress in the workers
            result.events[policy] = gzip.compress(text, compresslevel=6, mtime=0) if spec.compress else text
        if spec.fhir:  # a FHIR Bundle is built record by record from each course, as the reference builds it
            every = list(range(courses.size))
            made = courses.courses(every, vec.table.plan_event, vec.fields(history.vitals), vec.imaging_keys)
            lines = result.fhir[policy] = []
            for course in made:
                lines.extend(fhir_lines(course, cohort.course_events(course, ctx.compiled), ctx.pathway))
    for policy in policies[1:]:
        pairs = result.paired[policy] = Paired()
        array_measures.add_paired(pairs, vectors[policy], vectors[policies[0]])
        array_measures.add_paired_times(pairs, times[policy], times[policies[0]])
    if spec.tables:
        result.tables = vec.tables.tables(runs, history, ids, spec.events)
    return result


def _checks(
    spec: CohortSpec, vec: VectorContext, courses: CourseArrays, history: HistoryColumns, aggregate: Aggregate
) -> None:
    """The engine comparison and the runtime monitor on the patients the spec picks, as the reference does."""
    ctx = vec.ctx
    indices = np.arange(courses.start, courses.start + courses.size)
    if spec.check_engines:
        picked = indices
    elif ctx.monitor is not None:
        picked = indices[(indices < spec.monitor_all_below) | (indices % spec.monitor_every == 0)]
    else:
        return
    rows = (picked - courses.start).tolist()
    for course in courses.courses(rows, vec.table.plan_event, vec.fields(history.vitals)):
        cohort._check(course, ctx, aggregate, spec)
