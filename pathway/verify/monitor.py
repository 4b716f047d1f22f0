"""Runtime monitor: the safety properties checked on one reported course.

``check_trace(pathway, trace, events)`` replays a Trace (what `pathway run` and the
simulator produce) against the property catalogue and returns every violation with
the input line it happened on. With the course's events it checks everything a single
course can show; without them (a trace alone carries no event fields) it skips the
checks that read findings, except that an event whose name alone meets an escalation
condition (a ``red_flag`` event) is still checked.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

from pathway import guards
from pathway.events import Event, parse_time
from pathway.facts import EventScope, Facts, record
from pathway.model import Pathway, Transition
from pathway.per_pathway import PerPathway
from pathway.trace import Rejected, Step, Trace
from pathway.verify.checks import EventChecks, visited_static_problems
from pathway.verify.properties import Bound, Catalogue, bind, load_catalogue
from pathway.verify.semantics import Move, Semantics
from pathway.verify.verdicts import MAX_VERDICTS, Atom, Verdicts


@attrs.frozen
class Violation:
    """A property a course broke: which, what happened, and on which input line (None: the whole course)."""

    property: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.property}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"property": self.property, "line": self.line, "message": self.message}


def _reads_fields(bound: Bound) -> bool:
    exprs = [bound.when, *(rule.when for rule in bound.rules)]
    return any(isinstance(node, guards.Field) for expr in exprs if expr is not None for node in guards.walk(expr, True))


class Monitor:
    """The catalogue bound to one pathway, reused across many traces (a cohort)."""

    def __init__(self, pathway: Pathway, catalogue: Catalogue | None = None) -> None:
        self.pathway = pathway
        self.bound = bind(catalogue or load_catalogue(), pathway)
        self.semantics = Semantics(pathway)
        usable = [b for b in self.bound if not b.problem]
        self.with_events = EventChecks(pathway, usable)
        self.without_events = EventChecks(pathway, [b for b in usable if b.kind == "escalate" or not _reads_fields(b)])
        self.static = [b for b in usable if b.kind in ("imaging_rating", "recommends")]
        self.consistency = [b.id for b in usable if b.kind == "trace_consistent"]
        self.named_courses = [b.id for b in usable if b.kind == "named_courses"]
        self.transitions = {(t.id, t.source): t for t in pathway.transitions}
        self.final = frozenset(pathway.final_state_ids)
        self.state_ids = frozenset(pathway.state_ids)
        self._static_found: dict[frozenset[str], list[Violation]] = {}
        self._sound_steps: set[tuple[str, str, str, str, str]] = set()  # (state, source, target, id, citation)
        self.verdicts = {id(checks): Verdicts(checks, pathway) for checks in (self.with_events, self.without_events)}

    def check(self, trace: Trace, events: Iterable[Event] | None = None) -> list[Violation]:
        return self.finish(trace, self._replay(trace, events))

    def watch(self) -> CourseWatch:
        """A course to be fed event by event as an engine decides it (streaming); ``finish`` checks the rest."""
        return CourseWatch(self, self.with_events)

    def finish(self, trace: Trace, watch: CourseWatch) -> list[Violation]:
        """Every violation of a course whose events ``watch`` has seen: its own, then the trace's."""
        violations: list[Violation] = []
        for prop_id in self.consistency:
            violations += [Violation(prop_id, message, line) for line, message in self._consistency(trace)]
        return violations + self._static_problems(trace.path) + watch.violations

    def _static_problems(self, path: tuple[str, ...]) -> list[Violation]:
        """The definition's own problems in the states a course visited: a function of those states alone."""
        visited = frozenset(path)
        found = self._static_found.get(visited)
        if found is None:
            found = [
                Violation(bound.id, message)
                for bound in self.static
                for message in visited_static_problems(self.pathway, bound, path)
            ]
            if len(self._static_found) >= MAX_VERDICTS:
                self._static_found.clear()
            self._static_found[visited] = found
        return found

    def check_stream(self, traces: Sequence[Trace]) -> list[Violation]:
        """Properties of a whole stream: where some course names its patient, every course does."""
        unnamed = [t for t in traces if t.patient is None]
        return self.check_named(len(traces) - len(unnamed), unnamed)

    def check_named(self, named: int, unnamed: Sequence[Trace]) -> list[Violation]:
        """check_stream from a count of the named courses (a streaming reader keeps no more)."""
        if not named:
            return []
        return [
            Violation(
                prop_id,
                f"a course without a patient id beside {named} named ones: "
                "a line that lost its patient started a course of its own",
                first_line(trace),
            )
            for prop_id in self.named_courses
            for trace in unnamed
        ]

    # ------------------------------------------------------------ replaying the course

    def _replay(self, trace: Trace, events: Iterable[Event] | None) -> CourseWatch:
        by_line = None
        if events is not None:
            listed = list(events)
            # a one-course list may omit the ids
            mine = [e for e in listed if e.course == (trace.patient, trace.episode)] or listed
            by_line = {e.line: e for e in mine}
        checks = self.with_events if by_line is not None else self.without_events
        steps_by_line: dict[int, list[Step]] = {}
        for step in trace.steps:
            steps_by_line.setdefault(step.line, []).append(step)
        records: list[tuple[int, list[Step] | Rejected]] = sorted(
            # only refusals by the pathway: time-order and unreadable lines are input errors, not decisions
            [*steps_by_line.items(), *((r.line, r) for r in trace.rejected if r.kind == "out_of_sequence")],
            key=lambda item: item[0],
        )
        watch = CourseWatch(self, checks)
        for line, item in records:
            name = item[0].event if isinstance(item, list) else item.event
            at_text = item[0].at if isinstance(item, list) else item.at
            if name is None or at_text is None:
                continue
            event = by_line.get(line) if by_line is not None else None
            if event is None:
                try:
                    at = parse_time(at_text)
                except ValueError:
                    continue
                event = Event(line, name, at, at_text, {}, trace.patient, trace.episode)
            if not watch.see(event, item):
                break
        return watch

    def _move(self, state: str, facts: Facts, event: Event, item: list[Step] | Rejected) -> Move | None:
        scope_move = self.semantics.step(state, facts, event)  # only for the scope and rejection rule
        if isinstance(item, Rejected):
            return attrs.evolve(scope_move, accepted=False, taken=(), after=state, facts=facts)
        taken: list[Transition] = []
        for step in item:
            transition = self.transitions.get((step.transition, step.source))
            if transition is None or transition.target != step.target:
                return None
            taken.append(transition)
        new_facts = record(facts, event, [t.target for t in taken])
        return Move(state, event, scope_move.scope, True, tuple(taken), taken[-1].target, new_facts)

    # ------------------------------------------------------------ the trace's own consistency

    def _consistency(self, trace: Trace) -> list[tuple[int | None, str]]:
        pathway = self.pathway
        problems: list[tuple[int | None, str]] = []
        final = self.final
        current = pathway.initial
        path = [current]
        last_line = 0
        sound = self._sound_steps
        for step in trace.steps:
            if step.line < last_line:
                problems.append((step.line, f"step on line {step.line} comes after line {last_line}"))
            last_line = step.line
            # a step's other checks read only these: one that passed them once passes them again
            what = (current, step.source, step.target, step.transition, step.citation)
            if what not in sound:
                found = self._step_problems(step, current)
                if found:
                    problems += found
                else:
                    if len(sound) >= MAX_VERDICTS:
                        sound.clear()
                    sound.add(what)
            current = step.target
            if current != path[-1]:
                path.append(current)
        if tuple(path) != tuple(trace.path):
            problems.append((None, f"path {list(trace.path)} does not follow the steps {path}"))
        if trace.state != current:
            problems.append((None, f"state {trace.state!r} is not where the steps end ({current!r})"))
        if trace.state in self.state_ids and trace.final != (trace.state in final):
            problems.append(
                (None, f"final={trace.final} but state {trace.state!r} is {'' if trace.final else 'not '}final")
            )
        if trace.rejected:
            refused = {r.line for r in trace.rejected}  # usually few: a long course is not held twice over
            for line in sorted({s.line for s in trace.steps if s.line in refused}):
                problems.append((line, "the same line is both accepted and rejected"))
        return problems

    def _step_problems(self, step: Step, current: str) -> list[tuple[int | None, str]]:
        """What is wrong with one step taken from the state ``current``, apart from its line's order."""
        problems: list[tuple[int | None, str]] = []
        if step.source != current:
            problems.append((step.line, f"step starts in {step.source!r} but the course was in {current!r}"))
        if current in self.final:
            problems.append((step.line, f"step {step.transition!r} taken after the final state {current!r}"))
        transition = self.transitions.get((step.transition, step.source))
        if transition is None or transition.target != step.target:
            problems.append((step.line, f"no transition {step.transition!r} from {step.source!r} to {step.target!r}"))
        if not step.citation.strip():
            problems.append((step.line, f"step {step.transition!r} carries no citation"))
        return problems


class CourseWatch:
    """The monitor's replay of one course, one decided event at a time.

    It keeps the course's state, facts and the properties' memory, never its events, so
    a course of any length is watched in constant space. The facts are kept as three dicts
    updated in place (pathway.facts.record's rules), and each event's verdict is looked up
    in the checks' memo (pathway.verify.verdicts) by everything the checks can read.
    """

    def __init__(self, monitor: Monitor, checks: EventChecks) -> None:
        self.monitor, self.checks = monitor, checks
        self.verdicts = monitor.verdicts[id(checks)]
        self.state, self.memory = monitor.pathway.initial, checks.start()
        self.last_at: dict[str, datetime] = {}
        self.counts: dict[str, int] = {}
        self.entered_at: dict[str, datetime] = {}
        self.scope = _LiveScope(self)
        self.violations: list[Violation] = []
        self.stopped = False

    @property
    def facts(self) -> Facts:
        """The course's facts so far (read-only views)."""
        return Facts(MappingProxyType(self.last_at), MappingProxyType(self.counts), MappingProxyType(self.entered_at))

    def see(self, event: Event, item: list[Step] | Rejected) -> bool:
        """The engine took the steps ``item`` for ``event``, or refused it; False once the watch has stopped."""
        if self.stopped:
            return False
        state, name = self.state, event.name
        scope = self.scope
        scope.event = event
        atoms = self.verdicts.atoms(state, name)
        key, verdict = self._remembered(event, item, atoms)
        if verdict is None or verdict is _VIOLATED:
            verdict, violated = self._decide(event, item)
            if key is not None:
                self.verdicts.remember(key, _VIOLATED if violated else verdict)
        if verdict is _STOPPED:
            self.stopped = True  # the trace names a transition the pathway lacks: reported by trace_consistent
            return False
        self.memory, self.state, entered = verdict
        if entered is not None:  # accepted: pathway.facts.record, in place
            self.counts[name] = self.counts.get(name, 0) + 1
            self.last_at[name] = event.at
            for target in entered:
                self.entered_at.setdefault(target, event.at)
        return True

    def _remembered(
        self, event: Event, item: list[Step] | Rejected, atoms: tuple[Atom, ...]
    ) -> tuple[Hashable | None, Any]:
        """(the event's verdict key, its verdict if remembered); (None, None) for an event decided afresh and
        not remembered: one with a long free text (e.g. a note: the memo stays small) or an unhashable value."""
        fields = event.fields
        for value in fields.values():
            if type(value) is str and len(value) > MEMO_TEXT_MAX:
                return None, None
        if isinstance(item, Rejected):
            taken: tuple[tuple[str, str, str], ...] | None = None
        elif len(item) == 1:  # the usual step: no generator
            taken = ((item[0].transition, item[0].source, item[0].target),)
        else:
            taken = tuple([(s.transition, s.source, s.target) for s in item])
        try:
            key: Hashable = (
                self.state,
                self.memory,
                event.name,
                tuple(fields.items()),
                taken,
                tuple([atom(self.scope) for atom in atoms]) if atoms else (),
            )
            return key, self.verdicts.table.get(key)
        except TypeError:  # an unhashable field value (not from a validated stream)
            return None, None

    def _decide(self, event: Event, item: list[Step] | Rejected) -> tuple[Any, bool]:
        """The checks of one event computed afresh: (memory, state after, states entered or None when
        refused) or _STOPPED; and whether it broke a property (recorded here, with its message)."""
        move = self.monitor._move(self.state, self.facts, event, item)
        if move is None:
            return _STOPPED, False
        memory, found = self.checks.check(self.memory, move)
        self.violations += [Violation(prop_id, message, event.line) for prop_id, message in found]
        return (memory, move.after, move.entered if move.accepted else None), bool(found)


_STOPPED = object()
MEMO_TEXT_MAX = 256
"""Longest text field value a memo key may hold: the memo's 16,384 keys then stay a few MB whatever
the stream (a free-text field may be 64 KB long; the vocabulary's codes are short)."""
_VIOLATED = object()  # remembered under a key whose verdict breaks a property: recomputed for each message


class _LiveScope:
    """pathway.facts.EventScope over a CourseWatch's live facts (the same formulas, no copies)."""

    __slots__ = ("event", "facts")

    def __init__(self, facts: CourseWatch) -> None:
        self.facts = facts
        self.event: Event

    event_name = property(lambda self: self.event.name)
    field = EventScope.field
    hours_since = EventScope.hours_since
    hours_since_entered = EventScope.hours_since_entered
    count = EventScope.count
    occurred = EventScope.occurred


monitor_for = PerPathway(Monitor)
"""The default-catalogue monitor of a pathway, built once per pathway object."""


def check_trace(pathway: Pathway, trace: Trace, events: Iterable[Event] | None = None) -> list[Violation]:
    """Every property violation one course shows (pass the course's events to check findings too)."""
    return monitor_for(pathway).check(trace, events)


def check_stream(pathway: Pathway, traces: Sequence[Trace]) -> list[Violation]:
    """Violations that only a whole stream shows (see Monitor.check_stream)."""
    return monitor_for(pathway).check_stream(traces)


def first_line(trace: Trace) -> int | None:
    lines = [s.line for s in trace.steps] + [r.line for r in trace.rejected]
    return min(lines) if lines else None


def check_course(
    pathway: Pathway, events: Sequence[Event], patient: str | None = None
) -> tuple[Trace, list[Violation]]:
    """Run one patient's events through the engine and check the trace."""
    from pathway.engine import run_course  # python-statemachine: only for this check, not for `pathway run`

    trace = run_course(pathway, events, patient)
    return trace, check_trace(pathway, trace, events)


def monitor_json(pathway: Pathway, trace: Trace, events: Iterable[Event] | None = None) -> list[dict[str, Any]]:
    """The ``"monitor"`` list proposed for each `pathway run --json` object: empty when the course is safe."""
    return [v.to_json() for v in check_trace(pathway, trace, events)]
