"""Runs one patient's event stream through the generated machine and records a Trace.

Out-of-sequence events are refused with the definition's reason and the rest of
the stream is still processed; an event earlier than the one before it is
refused too, as a time-order problem.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

from statemachine import StateChart

from pathway import guards
from pathway.courses import run_patients
from pathway.events import Event, EventError
from pathway.facts import EventScope, Facts, record
from pathway.machine import TransitionNotAllowed, current_state, event_id, new_machine
from pathway.model import Pathway, Rejection
from pathway.trace import Rejected, Step, Trace, step_for, time_order_refusal


def rejection_for(pathway: Pathway, state: str, scope: EventScope) -> Rejection | None:
    """The first explicit rejection rule that covers this event in this state."""
    for rule in pathway.rejections:
        if rule.source == state and scope.event_name in rule.events and guards.evaluate(rule.guard, scope):
            return rule
    return None


def refusal_reason(pathway: Pathway, state: str, scope: EventScope) -> str:
    if pathway.state(state).final:
        # interned: a course refused a million times holds one copy of the words
        return sys.intern(f"the pathway has ended in the final state {state!r}; final states accept no events")
    rule = rejection_for(pathway, state, scope)
    if rule is not None:
        return rule.reason
    return sys.intern(f"no transition for event {scope.event_name!r} in state {state!r}")


class PatientRun:
    """One patient's course in progress: feed events, read the trace at any time."""

    def __init__(self, pathway: Pathway, patient: str | None = None, episode: str | None = None) -> None:
        self.pathway = pathway
        self.patient = patient
        self.episode = episode
        self.facts = Facts()
        machine, self.recorder = new_machine(pathway, None)
        self.state = current_state(machine)
        self.machine: StateChart | None = machine
        self.path: list[str] = [self.state]
        self.steps: list[Step] = []
        self.rejected: list[Rejected] = []
        self.last_event: Event | None = None
        self.recommendations = pathway.state(self.state).unconditional

    def send(self, event: Event) -> bool:
        """Apply one event; True when accepted."""
        last = self.last_event
        if last is not None and event.at < last.at:
            self.rejected.append(time_order_refusal(event, last))
            return False
        scope = EventScope(self.facts, event)
        machine = self.machine
        if machine is None:
            self._refuse(event, scope)
            return False
        machine.scope = scope
        self.recorder.taken.clear()
        try:
            machine.send(event_id(event.name))
        except TransitionNotAllowed:
            self._refuse(event, scope)
            return False
        self._accept(event, machine)
        return True

    def _refuse(self, event: Event, scope: EventScope) -> None:
        reason = refusal_reason(self.pathway, self.state, scope)
        self.rejected.append(Rejected(event.line, event.name, event.at_text, reason))
        # a refused event still sets the clock: later events may not go back before it
        self.last_event = event

    def _accept(self, event: Event, machine: StateChart) -> None:
        entered = []
        for transition in self.recorder.taken:
            guard = transition.guard_words
            self.steps.append(
                step_for(event, transition, transition.reason, guard, self.pathway.cite_text(transition.cite))
            )
            if transition.target != self.path[-1]:
                self.path.append(transition.target)
            entered.append(transition.target)
        self.state = current_state(machine)
        self.recommendations = self.pathway.state(self.state).recommendations_for(event.fields)
        self.facts = record(self.facts, event, entered)
        self.last_event = event
        if self.pathway.state(self.state).final:
            self.machine = None  # final states accept nothing; a long stream need not keep the machine

    def trace(self) -> Trace:
        return Trace(
            pathway=self.pathway.id,
            version=self.pathway.version,
            patient=self.patient,
            state=self.state,
            final=self.pathway.state(self.state).final,
            path=tuple(self.path),
            steps=tuple(self.steps),
            rejected=tuple(self.rejected),
            recommendations=self.recommendations,
            episode=self.episode,
        )


def run_course(
    pathway: Pathway, events: Iterable[Event], patient: str | None = None, episode: str | None = None
) -> Trace:
    run = PatientRun(pathway, patient, episode)
    for event in events:
        run.send(event)
    return run.trace()


def run_stream(pathway: Pathway, items: Iterable[Event | EventError]) -> Iterator[Trace]:
    """Traces of a multi-patient stream on the python-statemachine engine (see courses.run_patients)."""
    return run_patients(items, lambda patient, episode: PatientRun(pathway, patient, episode))
