"""Hypothesis strategies and a stateful test derived from a pathway definition.

``pathway_machine(pathway)`` builds a ``RuleBasedStateMachine`` with one rule per event
type (guided: only when the current state has a transition for it, so that deep courses
are reached), one rule that sends any event at all, and rules that let time pass, either
freely or to just before, exactly at, or just after a threshold of a running clock. Every
event goes to the real engine and to the explorer's model; the safety properties of the
catalogue are its invariants. Field strategies cover every enum value, true/false/absent,
and numbers at and around every threshold the guards compare them with.

Test-only: imports hypothesis (a dev dependency).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pathway.engine import PatientRun
from pathway.events import Event
from pathway.facts import Facts
from pathway.model import EventSpec, FieldSpec, Pathway
from pathway.verify.abstraction import EPOCH, STEP_S, Abstraction, at_text
from pathway.verify.checks import EventChecks
from pathway.verify.explore import Explorer, Node
from pathway.verify.monitor import Monitor
from pathway.verify.properties import Catalogue, bind, condition_exprs, load_catalogue
from pathway.verify.semantics import Semantics

HOUR_S = 3600


def field_strategy(spec: FieldSpec, abstraction: Abstraction) -> st.SearchStrategy[Any]:
    """Values of one field, boundary values first in line."""
    if spec.type == "enum":
        return st.sampled_from(spec.values)
    if spec.type == "bool":
        return st.booleans()
    if spec.type in ("int", "number"):
        # inside the definition's plausible range (values outside it are malformed input, tested elsewhere)
        default = spec.minimum if spec.minimum is not None else 0.0
        limits = sorted(abstraction.field_numbers.get(spec.name, set())) or [default]
        width = max(1.0, max(abs(v) for v in limits) * 0.2)
        low = limits[0] - width if spec.minimum is None else max(spec.minimum, limits[0] - width)
        high = limits[-1] + width if spec.maximum is None else min(spec.maximum, limits[-1] + width)
        if spec.type == "int":
            near = sorted({int(v) + d for v in limits for d in (-1, 0, 1) if low <= int(v) + d <= high})
            return st.one_of(st.sampled_from(near), st.integers(math.ceil(low), math.floor(high)))
        near_f = sorted({round(v + d, 3) for v in limits for d in (-0.1, 0.0, 0.1) if low <= v + d <= high})
        return st.one_of(st.sampled_from(near_f), st.floats(low, high, allow_nan=False, allow_infinity=False))
    compared = sorted(abstraction.field_strings.get(spec.name, set()))
    return st.one_of(st.sampled_from(compared), st.text(max_size=8)) if compared else st.text(max_size=8)


def fields_strategy(
    spec: EventSpec, abstraction: Abstraction, optional: bool = True
) -> st.SearchStrategy[Mapping[str, Any]]:
    """The fields of one event: required ones always, optional ones (findings) present or absent."""
    required = {f.name: field_strategy(f, abstraction) for f in spec.fields if f.required}
    if not optional:
        return st.fixed_dictionaries(required)
    extra = {f.name: field_strategy(f, abstraction) for f in spec.fields if not f.required}
    return st.fixed_dictionaries(required, optional=extra)


def boundary_waits(abstraction: Abstraction, facts: Facts, now_s: int) -> list[int]:
    """Seconds to wait to land a minute before, exactly on, or a minute after a threshold of a running clock."""
    now = EPOCH + timedelta(seconds=now_s)
    waits = set()
    for clock in abstraction.clocks:
        value = clock.value(facts, now)
        if value is None:
            continue
        for mark in clock.marks:
            for offset in (-STEP_S, 0, STEP_S):
                wait = round((mark - value) * HOUR_S) + offset
                if wait >= 0:
                    waits.add(wait)
    return sorted(waits)


def pathway_machine(
    pathway: Pathway,
    catalogue: Catalogue | None = None,
    check_properties: bool = True,
    explored: Explorer | None = None,
) -> type[RuleBasedStateMachine]:
    """A stateful test of ``pathway``: engine and model agree; with ``check_properties``, no property breaks;
    with ``explored`` (a finished Explorer), every situation the course reaches was explored."""
    bound = bind(catalogue or load_catalogue(), pathway)
    semantics = Semantics(pathway)
    checks = EventChecks(pathway, bound)
    abstraction = explored.abstraction if explored is not None else Abstraction(pathway, condition_exprs(bound))
    monitor = Monitor(pathway, catalogue)
    strategies = {spec.name: fields_strategy(spec, abstraction) for spec in pathway.events}
    plain = {spec.name: fields_strategy(spec, abstraction, optional=False) for spec in pathway.events}

    class PathwayCourse(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.engine = PatientRun(pathway)
            self.state = pathway.initial
            self.facts = Facts()
            self.memory = checks.start()
            self.now = 0
            self.events: list[Event] = []
            self.violations: list[tuple[str, str]] = []
            self.disagreement = ""

        def send(self, name: str, fields: Mapping[str, Any]) -> None:
            at = EPOCH + timedelta(seconds=self.now)
            event = Event(len(self.events) + 1, name, at, at_text(at), dict(fields))
            self.events.append(event)
            if explored is not None and self.state not in semantics.final:
                key = explored.key(Node(self.state, self.facts, self.now, self.memory))
                assert key in explored.edges, f"situation never explored: {explored.situation(key)}"
            move = semantics.step(self.state, self.facts, event)
            steps_before = len(self.engine.steps)
            accepted = self.engine.send(event)
            taken = tuple(s.transition for s in self.engine.steps[steps_before:])
            if (accepted, self.engine.state, taken) != (move.accepted, move.after, tuple(t.id for t in move.taken)):
                self.disagreement = (
                    f"{name} {dict(fields)}: engine accepted={accepted} → {self.engine.state} via {taken}; "
                    f"model accepted={move.accepted} → {move.after} via {tuple(t.id for t in move.taken)}"
                )
            if not move.accepted and self.engine.rejected:
                expected = move.rule.reason if move.rule is not None else None
                if expected is not None and self.engine.rejected[-1].reason != expected:
                    self.disagreement = (
                        f"{name}: engine refuses with {self.engine.rejected[-1].reason!r}, model {expected!r}"
                    )
            self.memory, found = checks.check(self.memory, move)
            self.violations += found
            self.state, self.facts = move.after, move.facts

        @invariant()
        def engine_agrees_with_model(self) -> None:
            assert not self.disagreement, self.disagreement

        @invariant()
        def properties_hold(self) -> None:
            if check_properties:
                assert not self.violations, "; ".join(f"{p}: {m}" for p, m in self.violations)

        def ongoing(self) -> bool:
            return self.state not in semantics.final

        @precondition(ongoing)
        @rule(minutes=st.integers(0, 4 * 24 * 60))
        def wait(self, minutes: int) -> None:
            self.now += minutes * 60

        @precondition(ongoing)
        @rule(data=st.data())
        def wait_for_threshold(self, data: st.DataObject) -> None:
            waits = boundary_waits(abstraction, self.facts, self.now)
            if waits:
                self.now += data.draw(st.sampled_from(waits), label="wait to threshold (s)")

        def progress(self, data: st.DataObject) -> None:
            onward = []
            for event in abstraction.events_at(self.now):
                move = semantics.step(self.state, self.facts, event)
                if move.accepted and move.after not in semantics.final:
                    onward.append(event)
            if onward:
                chosen = data.draw(st.sampled_from(onward), label="progressing event")
                self.send(chosen.name, chosen.fields)

        @initialize(data=st.data(), steps=st.integers(0, 8))
        def start_part_way(self, data: st.DataObject, steps: int) -> None:
            """Most courses end early (a red flag, a referral); start many of them part way along the pathway."""
            for _ in range(steps):
                if data.draw(st.booleans(), label="wait first"):
                    self.wait_for_threshold(data)
                self.progress(data)

        @precondition(ongoing)
        @rule(data=st.data())
        def send_progressing_event(self, data: st.DataObject) -> None:
            """Happy path: one event, of a class the explorer uses, that the course accepts and that does not end it."""
            self.progress(data)

        @rule(data=st.data(), name=st.sampled_from(pathway.event_names))
        def send_any_event(self, data: st.DataObject, name: str) -> None:
            self.send(name, data.draw(strategies[name], label=f"{name} fields"))

        def teardown(self) -> None:
            if check_properties and not self.disagreement and not self.violations:
                found = monitor.check(self.engine.trace(), self.events)
                assert not found, "runtime monitor: " + "; ".join(map(str, found))

    # guided rules: only where the current state has a transition for the event that does not end
    # the course, so that deep courses are reached (events that can only end it, such as a red flag,
    # still come through send_any_event); each event once with its findings and once without
    onward_events = {
        (t.source, event) for t in pathway.transitions for event in t.events if t.target not in semantics.final
    }
    for spec in pathway.events:
        for suffix, fields in (("", strategies[spec.name]), ("_plain", plain[spec.name])):
            if suffix and not any(not f.required for f in spec.fields):
                continue

            def guided(self: PathwayCourse, fields: Mapping[str, Any], _name: str = spec.name) -> None:
                self.send(_name, fields)

            def applies(self: PathwayCourse, _name: str = spec.name) -> bool:
                return (self.state, _name) in onward_events

            guided.__name__ = f"send_{spec.name}{suffix}"
            setattr(PathwayCourse, guided.__name__, precondition(applies)(rule(fields=fields)(guided)))
    PathwayCourse.__name__ = PathwayCourse.__qualname__ = f"{pathway.id.title()}Course"
    return PathwayCourse
