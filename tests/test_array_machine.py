"""The array machine decides exactly as the compiled LeanRun, for many patients at once.

Random event streams (the strategies of test_compiled: wrong events for the state, times
out of order, times on the thresholds, fever exactly at its threshold) for a batch of
patients, sent step by step to one ArrayRun and patient by patient to LeanRun: every
event's outcome, every transition taken, the reported and the machine state agree. On
the shipped definition, the variant with clocked eventless transitions and every broken
definition the compiled engine accepts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway.compiled import ACCEPTED, CompileError, LeanRun, compile_pathway, micros
from pathway.events import Event
from pathway.model import Pathway
from pathway.simulate.array_machine import ArrayMachine
from pathway.simulate.field_table import FieldTable
from tests.test_compiled import BROKEN, CI, PATHWAYS, streams

Outcome = tuple[bool, tuple[int, ...], int, int]


def lean_outcomes(pathway: Pathway, events: list[Event]) -> list[Outcome]:
    compiled = compile_pathway(pathway)
    run = LeanRun(compiled)
    out = []
    for event in events:
        accepted = run.send(compiled.event_index[event.name], micros(event.at), event.fields) == ACCEPTED
        out.append((accepted, tuple(run.taken) if accepted else (), run.state, run.machine_state))
    return out


def array_outcomes(pathway: Pathway, courses: list[list[Event]]) -> list[list[Outcome]]:
    compiled = compile_pathway(pathway)
    table = FieldTable(pathway)
    plans = [[table.add(compiled.event_index[e.name], e.fields) for e in course] for course in courses]
    machine = ArrayMachine(compiled, table)
    run = machine.run(len(courses))
    out: list[list[Outcome]] = [[] for _ in courses]
    for step in range(max(len(course) for course in courses)):
        patients = np.array([i for i, course in enumerate(courses) if step < len(course)], dtype=np.int64)
        plan = np.array([plans[i][step] for i in patients], dtype=np.int64)
        at = np.array([micros(courses[i][step].at) for i in patients], dtype=np.int64)
        accepted, stages = run.send(patients, plan, at)
        taken: dict[int, list[int]] = {int(i): [] for i in patients}
        for where, transition in stages:
            for position in where.tolist():
                taken[int(patients[position])].append(transition)
        for k, i in enumerate(patients.tolist()):
            out[i].append((bool(accepted[k]), tuple(taken[i]), int(run.state[i]), int(run.machine_state[i])))
    return out


def check(pathway: Pathway, courses: list[list[Event]]) -> None:
    try:
        compile_pathway(pathway)
    except CompileError:
        pytest.skip("the compiled engine refuses this definition")
    assert array_outcomes(pathway, courses) == [lean_outcomes(pathway, course) for course in courses]


@pytest.mark.parametrize("name", ["shipped", "clocked"])
@CI
@given(data=st.data())
def test_array_run_equals_lean_run(name: str, data: st.DataObject) -> None:
    pathway = PATHWAYS[name]
    check(pathway, data.draw(st.lists(streams(pathway), min_size=1, max_size=6)))


@pytest.mark.parametrize("name", [p.stem for p in BROKEN])
@settings(CI, max_examples=20)
@given(data=st.data())
def test_array_run_equals_lean_run_on_broken_definitions(name: str, data: st.DataObject) -> None:
    pathway = PATHWAYS[name]
    check(pathway, data.draw(st.lists(streams(pathway), min_size=1, max_size=4)))


def test_field_table_gives_back_the_same_dicts() -> None:
    pathway = PATHWAYS["shipped"]
    table = FieldTable(pathway)
    fields: dict[str, Any] = {"headache": "orthostatic", "temperature_c": 38.0}
    first = table.add(1, fields)
    assert table.add(1, dict(fields)) == first
    assert table.add(1, {"temperature_c": 38.0, "headache": "orthostatic"}) != first  # key order is kept
    assert table.add(1, {"headache": "orthostatic", "temperature_c": 38}) != first  # so is the type
    assert list(table.fields(first)) == ["headache", "temperature_c"]
