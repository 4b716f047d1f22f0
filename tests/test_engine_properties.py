"""Hypothesis: any sequence of valid events never crashes the engine, always leaves it in a
defined state, and never reaches a blood patch without a reassessment >= 48 h into therapy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pathway.engine import run_course
from pathway.events import Event, parse_record
from pathway.loader import load
from pathway.model import FieldSpec
from tests.helpers import START

PATHWAY = load()
RED_FLAG_FINDINGS = {
    "temperature_c": lambda v: v >= 38.0,
    "nuchal_rigidity": bool,
    "seizure": bool,
    "focal_deficit": bool,
    "mental_status": lambda v: v in ("altered", "obtunded"),
}


def _value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    if spec.type == "enum":
        return st.sampled_from(spec.values)
    if spec.type == "bool":
        return st.booleans()
    if spec.type == "int":
        return st.integers(16, 29)
    if spec.type == "number":
        return st.sampled_from([36.5, 37.9, 38.0, 38.1, 39.5])
    return st.sampled_from(["L3-L4", "L2-L3"])


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(st.sampled_from(PATHWAY.events))
    fields = {}
    for field in spec.fields:
        # findings are rare so that long courses happen; required fields always present
        if field.required or draw(st.integers(0, 5)) == 0:
            fields[field.name] = draw(_value(field))
    return {"event": spec.name, **fields}


# steps include the thresholds exactly (48 h, 72 h) and the occasional step back in time
gaps = st.sampled_from([0.0, 1.0, 6.0, 12.0, 24.0, 47.99, 48.0, 72.0, 72.01, -1.0])


@st.composite
def courses(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(1, 14))
    now = START
    events = []
    for line in range(1, n + 1):
        now = now + timedelta(hours=draw(gaps))
        record = draw(records())
        record["at"] = now.isoformat()
        parsed = parse_record(record, line, PATHWAY)
        assert isinstance(parsed, Event), str(parsed)
        events.append(parsed)
    return events


SETTINGS = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
)


@SETTINGS
@given(courses())
def test_any_valid_stream_ends_in_a_defined_state_with_a_consistent_trace(events: list[Event]) -> None:
    trace = run_course(PATHWAY, events)
    assert trace.state in PATHWAY.state_ids
    assert trace.final == PATHWAY.state(trace.state).final
    assert trace.path[0] == PATHWAY.initial
    assert trace.path[-1] == trace.state
    # every event is either accepted (has steps) or refused, never both, never lost
    accepted = {s.line for s in trace.steps}
    refused = {r.line for r in trace.rejected}
    assert accepted.isdisjoint(refused)
    assert accepted | refused == {e.line for e in events}
    # steps chain: each starts where the previous one ended
    state = PATHWAY.initial
    for step in trace.steps:
        assert step.source == state
        state = step.target
    assert state == trace.state


@SETTINGS
@given(courses())
def test_blood_patch_only_after_a_reassessment_at_least_48h_into_therapy(events: list[Event]) -> None:
    trace = run_course(PATHWAY, events)
    therapy_began: datetime | None = None
    qualified = False
    for step in trace.steps:
        at = datetime.fromisoformat(step.at)
        if step.target == "conservative_therapy" and therapy_began is None:
            therapy_began = at
        if step.event == "reassessment" and step.target == "reassessment":
            assert therapy_began is not None
            qualified = qualified or at - therapy_began >= timedelta(hours=48)
        if step.target == "blood_patch":
            assert qualified, f"blood patch at line {step.line} without a reassessment >= 48 h into therapy"


@SETTINGS
@given(courses())
def test_a_red_flag_always_escalates_at_once(events: list[Event]) -> None:
    trace = run_course(PATHWAY, events)
    refused = {r.line: r for r in trace.rejected}
    for event in events:
        flagged = event.name == "red_flag" or any(
            name in event.fields and test(event.fields[name]) for name, test in RED_FLAG_FINDINGS.items()
        )
        if not flagged:
            continue
        earlier = [s for s in trace.steps if s.line < event.line]
        state_before = earlier[-1].target if earlier else PATHWAY.initial
        if event.line in refused:
            # only a course already ended, or a time going backwards, may refuse a red flag
            assert PATHWAY.state(state_before).final or refused[event.line].kind == "time_order", event
            continue
        steps = [s for s in trace.steps if s.line == event.line]
        assert [s.target for s in steps] == ["red_flag_escalation"], (event.line, steps)
    assert not any(s.source in PATHWAY.final_state_ids for s in trace.steps)
