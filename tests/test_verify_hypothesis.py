"""Stateful property-based test derived from the definition: a rule per event type, boundary
times at the thresholds, the safety properties as invariants, and two differential checks:
the engine (python-statemachine) against the explorer's model, and every situation a random
course reaches against the situations the explorer explored."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from pathway.engine import run_course
from pathway.events import Event, parse_record
from pathway.facts import Facts
from pathway.loader import load
from pathway.verify.abstraction import EPOCH, Abstraction, at_text
from pathway.verify.explore import Explorer
from pathway.verify.properties import bind, load_catalogue
from pathway.verify.semantics import Semantics
from pathway.verify.strategies import fields_strategy, pathway_machine

BROKEN = Path(__file__).parent / "broken_definitions"
PATHWAY = load()
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
CI = settings(
    max_examples=120,
    stateful_step_count=30,
    deadline=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _explored(pathway):
    explorer = Explorer(pathway, bind(load_catalogue(), pathway))
    explorer.run()
    return explorer


TestPdphCourse = pathway_machine(PATHWAY, explored=_explored(PATHWAY)).TestCase
TestPdphCourse.settings = CI


@pytest.mark.parametrize(
    ("fixture", "props"),
    [
        ("red_flag_after_routing", {"red_flag_escalates", "presentation_routing"}),
        ("early_blood_patch", {"conservative_course", "blood_patch_after_trial"}),
        ("swapped_routing", {"presentation_routing"}),
    ],
)
def test_the_stateful_test_catches_a_broken_definition(fixture: str, props: set[str]) -> None:
    broken = load(BROKEN / f"{fixture}.toml")
    machine = pathway_machine(broken)
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(
            machine, settings=settings(CI, max_examples=400, report_multiple_bugs=False, derandomize=True)
        )
    named = {p.id for p in load_catalogue().properties if f"{p.id}:" in str(caught.value)}
    assert named and named <= props, str(caught.value)


@pytest.mark.parametrize("fixture", ["loop_back_to_therapy", "trap_in_blood_patch", "three_patches"])
def test_engine_and_model_agree_on_broken_definitions_too(fixture: str) -> None:
    broken = load(BROKEN / f"{fixture}.toml")
    run_state_machine_as_test(pathway_machine(broken, check_properties=False), settings=settings(CI, max_examples=40))


@st.composite
def _course(draw: st.DrawFn) -> list[Event]:
    """Any events in any order, at times on and around the thresholds (0, 1 min, 24 h, 48 h, 72 h + 1 min apart)."""
    abstraction = Abstraction(PATHWAY)
    events = []
    seconds = 0
    for line in range(1, draw(st.integers(1, 8)) + 1):
        seconds += 60 * draw(st.sampled_from([0, 1, 60, 24 * 60 - 1, 24 * 60, 48 * 60, 72 * 60 + 1]))
        name = draw(st.sampled_from(PATHWAY.event_names))
        fields = draw(fields_strategy(PATHWAY.event(name), abstraction))
        record = parse_record(
            {"event": name, "at": at_text(EPOCH + timedelta(seconds=seconds)), **fields}, line, PATHWAY
        )
        assert isinstance(record, Event), str(record)
        events.append(record)
    return events


@settings(max_examples=150, deadline=None, phases=PHASES)
@given(_course())
def test_model_replays_engine_traces_step_for_step(events: list[Event]) -> None:
    """The explorer's model and the engine agree on whole courses, events in any order."""
    trace = run_course(PATHWAY, events)
    semantics = Semantics(PATHWAY)
    state, facts = PATHWAY.initial, Facts()
    taken = []
    refused = []
    for event in events:
        move = semantics.step(state, facts, event)
        if move.accepted:
            taken += [(event.line, t.id, t.source, t.target) for t in move.taken]
        else:
            refused.append((event.line, move.rule.reason if move.rule else None))
        state, facts = move.after, move.facts
    assert taken == [(s.line, s.transition, s.source, s.target) for s in trace.steps]
    assert [line for line, _ in refused] == [r.line for r in trace.rejected]
    for (line, reason), rejected in zip(refused, trace.rejected, strict=True):
        assert reason is None or reason == rejected.reason, line
    assert state == trace.state
