"""The shortcuts the vectorised cohort takes for speed give exactly what the plain computations give.

The cohort's monitor watches each decision as the compiled engine makes it (one pass, as
`pathway run` does) instead of replaying the finished trace; the uniforms are drawn into a
reused, slot-major buffer; the sequence fingerprints are summed once per chunk instead of
folded in at each step. Each is checked here against the computation it replaces, on the
shipped definition and on the broken ones (whose courses break properties).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway.compiled import run_course
from pathway.loader import load
from pathway.simulate import cohort, natural, vector_chunk
from pathway.simulate import params as params_io
from pathway.simulate.clinician import Course
from pathway.simulate.course_arrays import _BASES, fingerprints
from pathway.simulate.streams import SLOTS, patient_uniforms, stream_key
from pathway.simulate.tables import patient_id
from pathway.verify.monitor import monitor_for

BROKEN = sorted((Path(__file__).parent / "broken_definitions").glob("*.toml"))
POLICIES = ("guideline", "dismiss_red_flags")


def _courses(definition: Path | None, patients: int) -> tuple[cohort.Context, list[Course]]:
    pathway = load(definition)
    text, name = params_io.read_text()
    spec = cohort.make_spec(pathway, text, name, 5, POLICIES, engine="vectorised")
    vec = vector_chunk.vector_context(spec)
    history = natural.draw_columns(vec.ctx.params, spec.seed, 0, patients)
    made = []
    for policy in POLICIES:
        draws = natural.policy_columns(vec.ctx.params, policy, history.uniforms)
        arrays = vec.clinicians[policy].courses(history, draws)
        made += arrays.courses(list(range(patients)), vec.table.plan_event, vec.fields(history.vitals))
    return vec.ctx, made


def test_watching_decisions_as_made_finds_what_replaying_the_trace_finds() -> None:
    broken_found = 0
    for definition in [None, *BROKEN]:
        ctx, courses = _courses(definition, 150)
        monitor = monitor_for(ctx.pathway)
        found = 0
        for course in courses:
            patient = patient_id(course.index)
            for episode, events in cohort.course_events(course, ctx.compiled).items():
                label = cohort.episode_label(episode, course.episodes)
                trace, watch = cohort._traced(ctx.compiled, events, patient, label, monitor)
                assert watch is not None
                assert trace == run_course(ctx.pathway, events, patient, label)
                violations = monitor.finish(trace, watch)
                assert violations == monitor.check(trace, events), (definition, patient)
                found += bool(violations)
        if definition is None:
            assert not found
        broken_found += bool(found)
    assert broken_found >= len(BROKEN) // 2  # the comparison covers courses that break properties


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    start=st.integers(0, 10**9),
    count=st.integers(0, 700),
    spare=st.integers(0, 3),
)
def test_uniforms_are_the_stream_patient_by_patient_with_or_without_a_buffer(
    seed: int, start: int, count: int, spare: int
) -> None:
    counter = np.array([start * (SLOTS // 4), 0, 0, 0], dtype=np.uint64)
    generator = np.random.Generator(np.random.Philox(key=stream_key(seed), counter=counter))
    expected = generator.random(count * SLOTS).reshape(count, SLOTS)
    buffer = np.full((count + spare) * SLOTS, np.nan)
    assert np.array_equal(patient_uniforms(seed, start, start + count), expected)
    assert np.array_equal(patient_uniforms(seed, start, start + count, buffer), expected)


def test_a_reused_buffer_gives_the_natural_history_of_a_fresh_one() -> None:
    text, name = params_io.read_text()
    params = params_io.loads(text, name, ())
    buffer = np.empty(3000 * SLOTS)
    for start, stop in ((0, 3000), (5000, 6200), (10, 11)):
        reused = natural.draw_columns(params, 9, start, stop, buffer)
        fresh = natural.draw_columns(params, 9, start, stop)
        for field in ("t_present", "t_resolve", "complication", "review_interval", "patch_delay", "relief", "vitals"):
            assert np.array_equal(getattr(reused, field), getattr(fresh, field)), field


def _folded(sequence: list[int], base: np.uint64) -> np.uint64:
    value = np.zeros(1, dtype=np.uint64)
    for item in sequence:  # Horner's fold, in wrapping uint64 array arithmetic
        value = value * base + np.uint64(item + 1)
    return value[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**40), max_size=30), min_size=1, max_size=12), st.randoms())
def test_summed_fingerprints_are_the_fold_of_each_sequence(sequences: list[list[int]], random: object) -> None:
    # entries as the run logs them: at each step some patients append one value each
    size = len(sequences)
    length = np.zeros(size, dtype=np.int64)
    entries = []
    cursor = [0] * size
    while any(c < len(s) for c, s in zip(cursor, sequences, strict=True)):
        rows = [i for i in range(size) if cursor[i] < len(sequences[i]) and random.random() < 0.7]  # type: ignore[attr-defined]
        if not rows:
            continue
        picked = np.array(rows, dtype=np.int64)
        values = np.array([sequences[i][cursor[i]] for i in rows], dtype=np.int64)
        entries.append((picked, length[picked].copy(), values if len(set(values.tolist())) > 1 else int(values[0])))
        length[picked] += 1
        for i in rows:
            cursor[i] += 1
    summed = fingerprints(size, entries, length)
    for k, base in enumerate(_BASES):
        assert [int(v) for v in summed[k]] == [int(_folded(s, base)) for s in sequences]
