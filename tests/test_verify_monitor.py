"""The runtime monitor: safety properties checked on one reported course."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from pathway.engine import run_course, run_stream
from pathway.events import Event, read_events
from pathway.loader import load
from pathway.trace import Trace
from pathway.verify.monitor import Monitor, check_course, check_trace, monitor_json
from tests.helpers import PUNCTURE, event, presented

ROOT = Path(__file__).resolve().parents[1]
BROKEN = Path(__file__).parent / "broken_definitions"
PATHWAY = load()


def _events(pathway, *items) -> list[Event]:
    return [event(name, hours, pathway, line, **fields) for line, (name, hours, fields) in enumerate(items, start=1)]


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.jsonl")), ids=lambda p: p.stem)
def test_example_courses_break_no_property(example: Path) -> None:
    events = [e for e in read_events(example.read_text().splitlines(), PATHWAY) if isinstance(e, Event)]
    traces = list(run_stream(PATHWAY, events))
    assert traces
    for trace in traces:
        assert check_trace(PATHWAY, trace, events) == []
        assert check_trace(PATHWAY, trace) == []


def test_red_flag_routed_as_well_patient_is_reported_on_its_line() -> None:
    broken = load(BROKEN / "red_flag_after_routing.toml")
    events = _events(broken, PUNCTURE, presented(10.0, temperature_c=38.4))
    trace, violations = check_course(broken, events)
    assert trace.state == "conservative_therapy"
    assert {v.property for v in violations} >= {"red_flag_escalates", "presentation_routing"}
    assert all(v.line == 2 for v in violations if v.property == "red_flag_escalates")


def test_early_blood_patch_is_reported_at_the_reassessment() -> None:
    broken = load(BROKEN / "early_blood_patch.toml")
    events = _events(broken, PUNCTURE, presented(10.0), ("reassessment", 30.0, {"headache": "worse"}))
    trace, violations = check_course(broken, events)
    assert trace.state == "blood_patch"
    early = [v for v in violations if v.property == "blood_patch_after_trial"]
    assert [v.line for v in early] == [3]
    assert "48 h" in early[0].message


def test_the_same_course_on_the_shipped_pathway_is_clean() -> None:
    events = _events(PATHWAY, PUNCTURE, presented(10.0), ("reassessment", 30.0, {"headache": "worse"}))
    trace, violations = check_course(PATHWAY, events)
    assert trace.state == "conservative_therapy"
    assert violations == []


def test_without_events_red_flag_events_are_still_checked_but_findings_are_not() -> None:
    # a pathway whose conservative therapy ignores red flags entirely
    deaf = attrs.evolve(
        PATHWAY,
        transitions=tuple(
            t
            for t in PATHWAY.transitions
            if not (t.source == "conservative_therapy" and t.target == "red_flag_escalation")
        ),
    )
    monitor = Monitor(deaf)
    events = _events(
        deaf,
        PUNCTURE,
        presented(10.0),
        ("reassessment", 20.0, {"headache": "improving", "seizure": True}),
        ("red_flag", 21.0, {"finding": "seizure"}),
    )
    trace = run_course(deaf, events)
    with_events = {(v.property, v.line) for v in monitor.check(trace, events)}
    without = {(v.property, v.line) for v in monitor.check(trace)}
    assert ("red_flag_escalates", 3) in with_events
    assert ("red_flag_escalates", 4) in with_events
    assert ("red_flag_escalates", 4) in without
    assert ("red_flag_escalates", 3) not in without


def test_imaging_rule_is_checked_on_the_states_a_course_visits() -> None:
    broken = load(BROKEN / "imaging_in_conservative_therapy.toml")
    in_scope = check_course(broken, _events(broken, PUNCTURE, presented(10.0)))[1]
    referred = check_course(broken, _events(broken, presented(10.0)))[1]
    assert [v.property for v in in_scope if v.line is None].count("no_imaging_before_reassessment") == 1
    assert "mri_head_without_and_with_contrast" in str(in_scope)
    assert referred == []


def test_inconsistent_traces_are_reported() -> None:
    trace = run_course(PATHWAY, _events(PATHWAY, PUNCTURE, presented(10.0), ("headache_resolved", 20.0, {})))
    assert check_trace(PATHWAY, trace) == []
    skipped = attrs.evolve(trace, path=("presentation", "resolved"))
    wrong_final = attrs.evolve(trace, final=False)
    extra = attrs.evolve(trace, steps=(*trace.steps, attrs.evolve(trace.steps[-1], line=9, source="resolved")))
    for broken_trace, words in ((skipped, "path"), (wrong_final, "final=False"), (extra, "after the final state")):
        found = [v for v in check_trace(PATHWAY, broken_trace) if v.property == "trace_consistent"]
        assert any(words in v.message for v in found), (words, found)


def test_monitor_json_is_empty_for_a_safe_course_and_names_property_and_line_otherwise() -> None:
    events = _events(PATHWAY, PUNCTURE, presented(10.0))
    assert monitor_json(PATHWAY, run_course(PATHWAY, events), events) == []
    broken = load(BROKEN / "swapped_routing.toml")
    events = _events(broken, presented(10.0))
    items = monitor_json(broken, run_course(broken, events), events)
    assert {"property": "presentation_routing", "line": 1} in [{k: i[k] for k in ("property", "line")} for i in items]
    assert all(isinstance(i["message"], str) and i["message"] for i in items)


def test_rejected_red_flag_in_an_active_state_is_a_violation() -> None:
    broken = attrs.evolve(
        PATHWAY,
        transitions=tuple(
            t for t in PATHWAY.transitions if not (t.id == "red_flag_reported" and t.source == "blood_patch")
        ),
    )
    events = _events(
        broken,
        PUNCTURE,
        presented(10.0),
        ("reassessment", 60.0, {"headache": "worse"}),
        ("red_flag", 61.0, {"finding": "fever"}),
    )
    trace: Trace = run_course(broken, events)
    assert trace.state == "blood_patch" and trace.rejected
    assert [v.line for v in check_trace(broken, trace, events) if v.property == "red_flag_escalates"] == [4]
