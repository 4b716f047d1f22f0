"""The monitor's memoised verdicts (pathway.verify.verdicts) report exactly what checking every event afresh reports.

The memo is keyed by everything the per-event checks can read; if the key missed something,
two events with one key but different verdicts would exist, and a course checked after another
would inherit the first one's verdict. Generated courses (field values at and around every
threshold, waits at and around every clock's marks) are checked by one long-lived monitor,
whose memo fills across courses, and by a monitor that remembers nothing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.compiled import TracedRun, compile_pathway
from pathway.events import Event
from pathway.loader import load, loads
from pathway.model import Pathway
from pathway.trace import Rejected, Step
from pathway.verify import verdicts as verdicts_module
from pathway.verify.abstraction import EPOCH, Abstraction, at_text
from pathway.verify.monitor import Monitor, Violation
from pathway.verify.properties import bind, condition_exprs, load_catalogue
from pathway.verify.strategies import fields_strategy
from pathway.verify.verdicts import fact_atoms

BROKEN = Path(__file__).parent / "broken_definitions"
DEFINITIONS = ["pdph", "clockless_trial", *sorted(p.stem for p in BROKEN.glob("*.toml"))]
SHIPPED = Path(__file__).parent.parent / "pathway" / "definitions" / "pdph.toml"


def definition(name: str) -> Pathway:
    """A pathway by name: the shipped one, a broken fixture, or ``clockless_trial``.

    ``clockless_trial`` needs no time in conservative therapy before a blood patch: its engine takes
    the same transitions at 30 h and at 50 h while blood_patch_after_trial reads the 48 h clock,
    so only the clock atom of the memo's key tells these two verdicts apart.
    """
    if name == "pdph":
        return load()
    if name == "clockless_trial":
        text = SHIPPED.read_text()
        threshold = "[parameters.reassess_min_h]\nvalue = 48\n"
        assert threshold in text
        return loads(text.replace(threshold, "[parameters.reassess_min_h]\nvalue = 0\n"))
    return load(BROKEN / f"{name}.toml")


OPENING = [("dural_puncture", {"procedure": "lumbar_puncture"}), ("presentation", {"headache": "orthostatic"})]
WAITS_H = (0, 1, 24, 47, 48, 49, 71, 72, 73, 200)


class Checked:
    """One course sent to the compiled engine and watched by each monitor event by event, as `pathway run` does."""

    def __init__(self, pathway: Pathway, *monitors: Monitor) -> None:
        self.run = TracedRun(compile_pathway(pathway), "p")
        self.monitors = monitors
        self.watches = tuple(m.watch() for m in monitors)
        self.now = 0

    def send(self, name: str, fields: dict[str, Any], wait: int) -> None:
        self.now += wait
        at = EPOCH + timedelta(seconds=self.now)
        event = Event(len(self.run.steps) + len(self.run.rejected) + 1, name, at, at_text(at), fields, "p")
        before = len(self.run.steps)
        if self.run.send(event):
            item: list[Step] | Rejected = self.run.steps[before:]
        elif self.run.rejected[-1].kind == "time_order":
            return
        else:
            item = self.run.rejected[-1]
        for watch in self.watches:
            watch.see(event, item)

    def violations(self) -> list[list[Violation]]:
        trace = self.run.trace()
        return [m.finish(trace, w) for m, w in zip(self.monitors, self.watches, strict=True)]


def watched(monitor: Monitor, pathway: Pathway, course: list[tuple[str, dict[str, Any], int]]) -> list[Violation]:
    checked = Checked(pathway, monitor)
    for name, fields, wait in course:
        checked.send(name, fields, wait)
    return checked.violations()[0]


def forgetful(pathway: Pathway) -> Monitor:
    """A monitor that computes every verdict afresh."""
    monitor = Monitor(pathway)
    for verdicts in monitor.verdicts.values():
        verdicts.remember = lambda key, verdict: None  # type: ignore[method-assign]
    return monitor


@pytest.mark.parametrize("name", DEFINITIONS)
def test_memoised_verdicts_equal_fresh_ones(name: str) -> None:
    pathway = definition(name)
    memoised, fresh = Monitor(pathway), forgetful(pathway)
    compiled = compile_pathway(pathway)
    abstraction = Abstraction(pathway, condition_exprs(bind(load_catalogue(), pathway)))
    # findings mostly left out: each optional one may be a red flag, which would end most courses at once
    fields = {
        spec.name: st.one_of(*[fields_strategy(spec, abstraction, False)] * 3, fields_strategy(spec, abstraction))
        for spec in pathway.events
    }
    # guided: mostly events that some transition of the current state takes, so that courses go deep
    handled = [
        [name for name, cell in zip(compiled.event_names, row, strict=True) if cell] or list(compiled.event_names)
        for row in compiled.table
    ]
    wait = st.one_of(
        st.sampled_from(WAITS_H).map(lambda h: h * 3600),
        st.tuples(st.sampled_from(WAITS_H), st.sampled_from((-60, 60))).map(lambda w: max(0, w[0] * 3600 + w[1])),
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def check(data: st.DataObject) -> None:
        # a course, then the same events and findings at other times: one key, different clocks
        course = Checked(pathway, memoised, fresh)
        shape: list[tuple[str, dict[str, Any]]] = []
        if data.draw(st.booleans()):  # half the courses open as most real ones do, so that they reach therapy
            for opening in OPENING:
                shape.append(opening)
                course.send(*opening, data.draw(wait))
        for _ in range(data.draw(st.integers(1, 8))):
            guided = st.sampled_from(handled[course.run.run.state])
            name = data.draw(st.one_of(guided, guided, guided, st.sampled_from(compiled.event_names)))
            shape.append((name, dict(data.draw(fields[name]))))
            course.send(*shape[-1], data.draw(wait))
        courses = [course]
        for _ in range(data.draw(st.integers(1, 3))):  # the memo is kept across courses and examples
            courses.append(Checked(pathway, memoised, fresh))
            for name, found in shape:
                courses[-1].send(name, found, data.draw(wait))
        for course in courses:
            remembered, afresh = course.violations()
            assert remembered == afresh

    check()
    assert any(v.table for v in memoised.verdicts.values())  # the memo was used
    assert not any(v.table for v in fresh.verdicts.values())


def test_a_remembered_violation_is_reported_on_every_course_with_its_own_line() -> None:
    pathway = load(BROKEN / "early_blood_patch.toml")
    monitor = Monitor(pathway)
    puncture = ("dural_puncture", {"procedure": "lumbar_puncture"}, 0)
    presentation = ("presentation", {"headache": "orthostatic"}, 3600)
    early = ("reassessment", {"headache": "unchanged", "debilitating": True}, 24 * 3600)
    first = watched(monitor, pathway, [puncture, presentation, early])
    again = watched(monitor, pathway, [puncture, puncture, presentation, early])  # the same verdicts, a line later
    assert first and [v.property for v in first] == [v.property for v in again]
    assert {v.line for v in first if v.line is not None} == {3}
    assert {v.line for v in again if v.line is not None} == {4}


def test_a_clock_read_by_a_check_is_in_the_key() -> None:
    # the same event in the same state, before and after the 48 h of therapy, must not share a verdict
    pathway = load()
    monitor = Monitor(pathway)
    atoms = monitor.verdicts[id(monitor.with_events)].atoms("conservative_therapy", "reassessment")
    assert atoms, "the blood-patch properties read the therapy clock on a reassessment"
    rule_atoms = [
        atom
        for bound in monitor.with_events.checks
        for expr in [bound.when, *(rule.when for rule in bound.rules)]
        if expr is not None
        for atom in fact_atoms(expr)
    ]
    assert any("hours_since_entered" in repr(atom) for atom in rule_atoms)


def test_one_engine_decision_on_either_side_of_a_clock_gets_two_verdicts() -> None:
    pathway = definition("clockless_trial")
    monitor = Monitor(pathway)
    puncture = ("dural_puncture", {"procedure": "lumbar_puncture"}, 0)
    presentation = ("presentation", {"headache": "orthostatic"}, 3600)
    late, early = (("reassessment", {"headache": "unchanged", "debilitating": True}, h * 3600) for h in (50, 30))
    assert watched(monitor, pathway, [puncture, presentation, late]) == []  # remembered as safe...
    found = watched(monitor, pathway, [puncture, presentation, early])  # ...which an early patch is not
    assert "blood_patch_after_trial" in {v.property for v in found}


def test_refusals_are_watched_through_the_memo_too() -> None:
    pathway = load(BROKEN / "missing_rejection.toml")
    memoised, fresh = Monitor(pathway), forgetful(pathway)
    course = [("reassessment", {"headache": "unchanged"}, 0)] * 3  # refused before presentation, by no rule
    expected = watched(fresh, pathway, course)
    assert {v.property for v in expected} == {"complete"}
    assert watched(memoised, pathway, course) == expected
    assert watched(memoised, pathway, course) == expected  # now from the memo


def test_the_memo_stays_bounded_and_right_when_it_starts_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verdicts_module, "MAX_VERDICTS", 3)
    pathway = definition("early_blood_patch")
    memoised, fresh = Monitor(pathway), forgetful(pathway)
    puncture = ("dural_puncture", {"procedure": "lumbar_puncture"}, 0)
    presentation = ("presentation", {"headache": "orthostatic"}, 3600)
    for hours in (24, 47, 49, 24, 71, 30):
        course = [puncture, presentation, ("reassessment", {"headache": "worse"}, hours * 3600)]
        assert watched(memoised, pathway, course) == watched(fresh, pathway, course)
        assert all(len(v.table) <= 3 for v in memoised.verdicts.values())


def test_long_free_text_is_never_kept_in_the_memo_and_changes_no_verdict() -> None:
    # every course carries a different long text: remembered, each would keep its text for good
    pathway = load()
    memoised, fresh = Monitor(pathway), forgetful(pathway)
    text_fields = [
        (event.name, field.name) for event in pathway.events for field in event.fields if field.type == "string"
    ]
    assert text_fields, "the shipped vocabulary has a free-text field"
    name, field = text_fields[0]
    puncture = ("dural_puncture", {"procedure": "lumbar_puncture"}, 0)
    presentation = ("presentation", {"headache": "orthostatic"}, 3600)
    for i in range(20):
        course = [puncture, presentation, (name, {field: f"{i:06d}" * 1000}, 60 * 3600)]
        assert watched(memoised, pathway, course) == watched(fresh, pathway, course)
    keys = [key for verdicts in memoised.verdicts.values() for key in verdicts.table]
    assert not any(isinstance(v, str) and len(v) > 256 for key in keys for _, v in key[3])
    short = [puncture, presentation, (name, {field: "short"}, 60 * 3600)]
    watched(memoised, pathway, short)
    assert any(dict(key[3]).get(field) == "short" for v in memoised.verdicts.values() for key in v.table)


@pytest.mark.parametrize("name", ["pdph", "clockless_trial", "early_blood_patch"])
def test_every_transition_guard_the_monitor_may_read_to_judge_a_refusal_is_in_the_key(name: str) -> None:
    # an engine that wrongly refuses an event is caught by the monitor's own step, which reads the guards
    # of the transitions from the state on that event: their clock atoms must be in the key
    pathway = definition(name)
    checks = Monitor(pathway).with_events
    guarded = [t for t in pathway.transitions if t.guard is not None]
    assert guarded
    for transition in guarded:
        for event in transition.events or tuple(e.name for e in pathway.events):
            read = set(verdicts_module._conditions(checks, pathway, transition.source, event))
            assert transition.guard in read, (transition.id, event)


def _every_atom(pathway: Pathway) -> list[Any]:
    monitor = Monitor(pathway)
    found: dict[Any, None] = {}
    for state in pathway.state_ids:
        for event in pathway.event_names:
            for expr in verdicts_module._conditions(monitor.with_events, pathway, state, event):
                found.update(dict.fromkeys(fact_atoms(expr)))
    return list(found)


ATOMS = {name: _every_atom(definition(name)) for name in DEFINITIONS}


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(DEFINITIONS),
    counts=st.dictionaries(
        st.sampled_from(["dural_puncture", "blood_patch", "patch_review", "other"]), st.integers(1, 3)
    ),
    hours=st.dictionaries(
        st.sampled_from(["dural_puncture", "conservative_therapy", "blood_patch"]), st.integers(0, 120)
    ),
)
def test_an_atom_evaluated_once_for_all_its_spellings_has_the_value_of_each(
    name: str, counts: dict[str, int], hours: dict[str, int]
) -> None:
    # atoms that differ only in a call's label or a parameter's name are evaluated once, by a closure of
    # their own (pathway.verify.verdicts._plain, _compile_atom): each spelling must have that value
    from pathway.facts import EventScope, Facts
    from pathway.guards import compile_expr

    now = EPOCH + timedelta(hours=200)
    times = {key: now - timedelta(hours=h) for key, h in hours.items()}
    scope = EventScope(Facts(times, counts, times), Event(1, "presentation", now, at_text(now)))
    for atom in ATOMS[name]:
        plain = verdicts_module._compile_atom(verdicts_module._plain(atom))
        assert plain(scope) == compile_expr(atom)(scope), atom
