"""The engine's semantics as a small pure function, fast enough to explore every situation.

``pathway.engine`` drives the generated python-statemachine class, which costs about a
millisecond per event; the explorer needs hundreds of thousands of steps. ``Semantics.step``
reproduces what the engine reports (first matching transition in definition order, then the
immediate transitions of the states entered, each reading the same event; refusals explain
themselves through the first matching rejection) on the same ``Facts`` and ``EventScope``.
tests/test_verify_semantics.py proves it equal to the engine on generated courses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import attrs

from pathway import guards
from pathway.events import Event
from pathway.facts import EventScope, Facts, record
from pathway.model import Pathway, Rejection, Transition

Guard = Callable[[EventScope], object]


@attrs.frozen
class Move:
    """What one event did to one course."""

    before: str
    event: Event
    scope: EventScope
    accepted: bool
    taken: tuple[Transition, ...]
    after: str
    facts: Facts
    rule: Rejection | None = None
    final_refusal: bool = False
    unsettled: bool = False

    @property
    def entered(self) -> tuple[str, ...]:
        return tuple(t.target for t in self.taken)


def _always(scope: EventScope) -> bool:
    return True


def _compiled(expr: guards.Expr | None) -> Guard:
    return _always if expr is None else guards.compile_expr(expr)


class Semantics:
    """One pathway's transitions indexed by (state, event), guards compiled once."""

    def __init__(self, pathway: Pathway) -> None:
        self.pathway = pathway
        self.final = frozenset(pathway.final_state_ids)
        self.on_event: dict[tuple[str, str], list[tuple[Transition, Guard]]] = defaultdict(list)
        self.immediate: dict[str, list[tuple[Transition, Guard]]] = defaultdict(list)
        for transition in pathway.transitions:
            compiled = _compiled(transition.guard)
            if transition.immediate:
                self.immediate[transition.source].append((transition, compiled))
            for event in transition.events:
                self.on_event[(transition.source, event)].append((transition, compiled))
        self.rejections: dict[tuple[str, str], list[tuple[Rejection, Guard]]] = defaultdict(list)
        for rule in pathway.rejections:
            for event in rule.events:
                self.rejections[(rule.source, event)].append((rule, _compiled(rule.guard)))
        # a chain of immediate transitions longer than this must be a loop (psm would never settle)
        self.chain_limit = len(pathway.transitions) + 1

    def enabled(self, state: str, scope: EventScope) -> list[Transition]:
        """Every transition whose event and guard match, in priority order (for overlap reports)."""
        return [t for t, guard in self.on_event.get((state, scope.event_name), ()) if guard(scope)]

    def rejection(self, state: str, scope: EventScope) -> Rejection | None:
        for rule, guard in self.rejections.get((state, scope.event_name), ()):
            if guard(scope):
                return rule
        return None

    def _settle(self, state: str, scope: EventScope, taken: list[Transition]) -> tuple[str, bool]:
        for _ in range(self.chain_limit):
            for transition, guard in self.immediate.get(state, ()):
                if guard(scope):
                    taken.append(transition)
                    state = transition.target
                    break
            else:
                return state, False
        return state, True

    def step(self, state: str, facts: Facts, event: Event) -> Move:
        scope = EventScope(facts, event)
        if state in self.final:
            return Move(state, event, scope, False, (), state, facts, self.rejection(state, scope), True)
        taken: list[Transition] = []
        # python-statemachine runs enabled eventless transitions before it takes the event
        current, unsettled = self._settle(state, scope, taken)
        chosen = None
        if not unsettled:
            for transition, guard in self.on_event.get((current, event.name), ()):
                if guard(scope):
                    chosen = transition
                    break
        if chosen is None:
            return Move(state, event, scope, False, (), state, facts, self.rejection(state, scope), unsettled=unsettled)
        taken.append(chosen)
        after, unsettled = self._settle(chosen.target, scope, taken)
        new_facts = record(facts, event, [t.target for t in taken])
        return Move(state, event, scope, True, tuple(taken), after, new_facts, unsettled=unsettled)
