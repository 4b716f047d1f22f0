"""The compiled transition table gives exactly the Traces of the python-statemachine engine.

A hypothesis differential test over random event streams (wrong events for the state,
times out of order, times exactly on the thresholds, red-flag findings exactly at the
fever threshold), on the shipped definition, on the project's deliberately broken
definitions, and on a variant whose eventless transitions wait on a clock (which
exercises python-statemachine's habit of taking eventless transitions at the start of
the next event).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pathway import compiled, engine
from pathway.events import Event, parse_record
from pathway.loader import DEFAULT_DEFINITION, DefinitionError, load, loads
from pathway.model import Pathway

CI = settings(
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
BROKEN = sorted((Path(__file__).parent / "broken_definitions").glob("*.toml"))


def clocked_variant() -> Pathway:
    """The shipped pathway with two eventless transitions that wait for time to pass."""
    text = DEFAULT_DEFINITION.read_text(encoding="utf-8")
    for transition, guard in (
        ("review_resolved", "hours_since_entered(reassessment) >= 3"),
        ("review_not_improving", "hours_since_entered(reassessment) >= 1"),
    ):
        head = f'id = "{transition}"'
        start = text.index(head)
        when = text.index("when = ", start)
        end = text.index("\n", when)
        text = text[:when] + f'when = "{guard}"' + text[end:]
    return loads(text, "clocked.toml")


PATHWAYS = {"shipped": load(), "clocked": clocked_variant()} | {p.stem: load(p) for p in BROKEN}

# hours between events: ordinary gaps, the thresholds themselves, just either side, and backwards
GAPS = [0.0, 0.5, 1.0, 2.0, 3.0, 12.0, 24.0, 47.99, 48.0, 48.01, 72.0, 72.0 + 1 / 60, -0.5, -24.0]
THRESHOLDS = [48.0, 72.0, 47.99, 72.0 + 1 / 60, 1.0, 3.0]
NUMBERS = [36.5, 37.99, 38.0, 38.01, 40.0]


def field_values(pathway: Pathway, name: str) -> st.SearchStrategy[dict[str, Any]]:
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for spec in pathway.event(name).fields:
        if spec.type == "enum":
            values: st.SearchStrategy[Any] = st.sampled_from(spec.values)
        elif spec.type == "bool":
            values = st.booleans()
        elif spec.type == "number":
            values = st.sampled_from(NUMBERS)
        elif spec.type == "int":
            values = st.sampled_from([17, 22, 25])
        else:
            values = st.sampled_from(["L3-L4", "L2-L3"])
        (strategies if spec.required else optional)[spec.name] = values
    return st.fixed_dictionaries(strategies, optional=optional)


@st.composite
def streams(draw: st.DrawFn, pathway: Pathway) -> list[Event]:
    """Random events, or a typical course with random events inserted, at random gaps."""
    names = list(pathway.event_names)
    if draw(st.booleans()):
        skeleton = ["dural_puncture", "presentation", "reassessment", "reassessment", "blood_patch", "patch_review"]
        skeleton += ["blood_patch", "patch_review", "headache_resolved"]
        sequence = [n for n in skeleton if n in names and draw(st.integers(0, 5)) > 0]
        for _ in range(draw(st.integers(0, 3))):
            sequence.insert(draw(st.integers(0, len(sequence))), draw(st.sampled_from(names)))
    else:
        sequence = draw(st.lists(st.sampled_from(names), min_size=1, max_size=10))
    events, hours, times = [], 0.0, [0.0]
    for line, name in enumerate(sequence, start=1):
        if draw(st.booleans()):
            hours += draw(st.sampled_from(GAPS))
        else:  # exactly on (or just either side of) a threshold after an earlier event
            hours = draw(st.sampled_from(times)) + draw(st.sampled_from(THRESHOLDS))
        times.append(hours)
        at = (START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
        record = {"event": name, "at": at, **draw(field_values(pathway, name))}
        event = parse_record(record, line, pathway)
        assert isinstance(event, Event), str(event)
        events.append(event)
    return events


@pytest.mark.parametrize("name", ["shipped", "clocked"])
@CI
@given(data=st.data())
def test_compiled_traces_equal_psm_traces(name: str, data: st.DataObject) -> None:
    pathway = PATHWAYS[name]
    events = data.draw(streams(pathway))
    assert compiled.run_course(pathway, events, "p") == engine.run_course(pathway, events, "p")


@pytest.mark.parametrize("name", [p.stem for p in BROKEN])
@settings(CI, max_examples=25)
@given(data=st.data())
def test_compiled_equals_psm_on_broken_definitions(name: str, data: st.DataObject) -> None:
    pathway = PATHWAYS[name]
    events = data.draw(streams(pathway))
    assert compiled.run_course(pathway, events) == engine.run_course(pathway, events)


@settings(CI, max_examples=60)
@given(data=st.data())
def test_multi_patient_streams_match(data: st.DataObject) -> None:
    pathway = PATHWAYS["shipped"]
    events = []
    for patient in ("a", "b", "c"):
        for event in data.draw(streams(pathway)):
            episode = data.draw(st.sampled_from([None, "1", "2"]))  # [1.1] courses are keyed by episode too
            events.append(Event(event.line, event.name, event.at, event.at_text, event.fields, patient, episode))
    order = data.draw(st.permutations(range(len(events))))
    mixed = [events[i] for i in order]
    assert list(compiled.run_stream(pathway, mixed)) == list(engine.run_stream(pathway, mixed))


BOUNDARY_COURSES = {
    "presentation exactly 72 h after the puncture": [
        ("dural_puncture", 0, {"procedure": "epidural"}),
        ("presentation", 72, {"headache": "orthostatic"}),
    ],
    "presentation one minute later": [
        ("dural_puncture", 0, {"procedure": "epidural"}),
        ("presentation", 72 + 1 / 60, {"headache": "orthostatic"}),
    ],
    "review exactly 48 h into therapy": [
        ("dural_puncture", 0, {"procedure": "epidural"}),
        ("presentation", 10, {"headache": "orthostatic"}),
        ("reassessment", 58, {"headache": "unchanged"}),
    ],
    "review a second before 48 h": [
        ("dural_puncture", 0, {"procedure": "epidural"}),
        ("presentation", 10, {"headache": "orthostatic"}),
        ("reassessment", 58 - 1 / 3600, {"headache": "unchanged"}),
    ],
    "temperature exactly at the fever threshold": [
        ("dural_puncture", 0, {"procedure": "epidural"}),
        ("presentation", 10, {"headache": "orthostatic", "temperature_c": 38.0}),
    ],
}


@pytest.mark.parametrize("name", BOUNDARY_COURSES)
def test_boundaries_match(name: str) -> None:
    pathway = PATHWAYS["shipped"]
    events = []
    for line, (event, hours, fields) in enumerate(BOUNDARY_COURSES[name], start=1):
        at = (START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
        parsed = parse_record({"event": event, "at": at, **fields}, line, pathway)
        assert isinstance(parsed, Event)
        events.append(parsed)
    assert compiled.run_course(pathway, events) == engine.run_course(pathway, events)


def test_clocked_variant_takes_eventless_transitions_at_the_next_event() -> None:
    """The quirk the compiled table reproduces: a waiting eventless transition fires on the next event."""
    pathway = PATHWAYS["clocked"]

    def ev(line: int, name: str, hours: float, **fields: Any) -> Event:
        at = (START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
        parsed = parse_record({"event": name, "at": at, **fields}, line, pathway)
        assert isinstance(parsed, Event)
        return parsed

    course = [
        ev(1, "dural_puncture", 0, procedure="lumbar_puncture"),
        ev(2, "presentation", 10, headache="orthostatic"),
        ev(3, "reassessment", 60, headache="worse"),
        ev(4, "blood_patch", 62),
    ]
    trace = compiled.run_course(pathway, course)
    assert trace == engine.run_course(pathway, course)
    # the patch arrives 2 h into the reassessment: first the waiting move to blood_patch, then the patch
    assert [(s.line, s.transition) for s in trace.steps[-2:]] == [(4, "review_not_improving"), (4, "patch_done")]
    refused = [*course[:3], ev(4, "patch_review", 62, relief="complete")]
    trace = compiled.run_course(pathway, refused)
    assert trace == engine.run_course(pathway, refused)
    assert trace.state == "reassessment" and trace.rejected


def test_times_are_exact_microseconds() -> None:
    earlier = datetime(2026, 5, 1, 9, 0, 0, 1, tzinfo=UTC)
    later = earlier + timedelta(hours=48, microseconds=-1)
    span = compiled.micros(later) - compiled.micros(earlier)
    assert span == 48 * 3600 * 1_000_000 - 1
    assert compiled._hours(compiled.micros(later), compiled.micros(earlier)) == (later - earlier).total_seconds() / 3600


def test_reset_run_behaves_like_a_new_run() -> None:
    table = compiled.compile_pathway(load())
    index = table.event_index
    hour = 3_600_000_000
    run = compiled.LeanRun(table)
    run.send(index["dural_puncture"], 0, {"procedure": "epidural"})
    run.send(index["presentation"], 5 * hour, {"headache": "orthostatic"})
    assert table.state_ids[run.state] == "conservative_therapy"
    run.reset()
    # after a reset there is no puncture on record: a presentation goes to the SIH referral
    assert run.send(index["presentation"], 0, {"headache": "orthostatic"}) == compiled.ACCEPTED
    assert table.state_ids[run.state] == "refer_spontaneous_intracranial_hypotension"


def test_immediate_transitions_out_of_the_initial_state_are_refused() -> None:
    text = DEFAULT_DEFINITION.read_text(encoding="utf-8").replace(
        'id = "review_resolved"\nfrom = "reassessment"', 'id = "review_resolved"\nfrom = "presentation"'
    )
    # the loader refuses them for every engine (python-statemachine would crash on them)
    with pytest.raises(DefinitionError, match="initial state cannot have immediate transitions"):
        loads(text, "initial.toml")
