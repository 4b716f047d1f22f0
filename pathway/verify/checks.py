"""Checking bound properties: on one event (monitor and explorer alike) and on the definition.

Nothing clinical here: what a red flag is, where it must lead and which state needs which
recommendation all come from the bound catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import attrs

from pathway import guards
from pathway.events import Event
from pathway.facts import EventScope
from pathway.model import Cite, Pathway
from pathway.verify.properties import EVENT_KINDS, Bound
from pathway.verify.semantics import Move

Memory = tuple[Hashable, ...]
"""What the history-dependent properties remember about a course (one slot per event check)."""


def describe_event(event: Event) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in event.fields.items())
    return f"{event.name}{f' ({fields})' if fields else ''} at {event.at_text}"


def _outcome(move: Move) -> str:
    if not move.accepted:
        reason = move.rule.reason if move.rule is not None else "no rule"
        return f"refused ({reason})"
    return "→ " + " → ".join(move.entered)


class EventChecks:
    """The per-event properties of a catalogue, with their conditions compiled once."""

    def __init__(self, pathway: Pathway, bound: Iterable[Bound]) -> None:
        self.pathway = pathway
        self.final = frozenset(pathway.final_state_ids)
        self.checks = tuple(b for b in bound if b.kind in EVENT_KINDS and not b.problem)
        self._compiled: dict[int, Callable[[EventScope], Any]] = {}

    def holds(self, expr: guards.Expr | None, scope: EventScope) -> bool:
        if expr is None:
            return True
        fn = self._compiled.get(id(expr))
        if fn is None:
            fn = self._compiled[id(expr)] = guards.compile_expr(expr)
        return bool(fn(scope))

    def start(self) -> Memory:
        return tuple(False for _ in self.checks)

    def check(self, memory: Memory, move: Move) -> tuple[Memory, list[tuple[str, str]]]:
        """The memory after ``move`` and the (property id, message) of every property it violates."""
        found: list[tuple[str, str]] = []
        new_memory = list(memory)
        for index, bound in enumerate(self.checks):
            method = getattr(self, f"_{bound.kind}")
            slot, message = method(bound, memory[index], move)
            new_memory[index] = slot
            if message:
                found.append((bound.id, message))
        return tuple(new_memory), found

    # ------------------------------------------------------------ one method per kind

    def _escalate(self, bound: Bound, slot: Hashable, move: Move) -> tuple[Hashable, str]:
        if move.before in self.final or not self.holds(bound.when, move.scope):
            return slot, ""
        if move.accepted and move.after == bound.to:
            return slot, ""
        return slot, (
            f"{bound.when_text}: {describe_event(move.event)} in state {move.before!r} was {_outcome(move)}, "
            f"not led to {bound.to!r}"
        )

    def _never_leads_to(self, bound: Bound, slot: Hashable, move: Move) -> tuple[Hashable, str]:
        if not move.accepted or not self.holds(bound.when, move.scope):
            return slot, ""
        wrong = [state for state in move.entered if state in bound.states]
        if wrong:
            return slot, f"{bound.when_text}: {describe_event(move.event)} led to {wrong[0]!r}"
        return slot, ""

    def _entry_recommends(self, bound: Bound, slot: Hashable, move: Move) -> tuple[Hashable, str]:
        if not move.accepted or move.after != bound.state or not self.holds(bound.when, move.scope):
            return slot, ""
        given = {rec.code: rec for rec in self.pathway.state(bound.state).recommendations_for(move.event.fields)}
        problems = []
        for _, code, rating in bound.items:
            if code not in given:
                problems.append(f"no {code!r}")
            elif rating is not None and given[code].rating != rating:
                problems.append(f"{code!r} rated {given[code].rating!r}, not {rating!r}")
        if bound.no_other_imaging:
            listed = {code for _, code, _ in bound.items}
            problems += [f"also {c!r}" for c, rec in given.items() if rec.kind == "imaging" and c not in listed]
        if not problems:
            return slot, ""
        return slot, (
            f"{bound.when_text}: {describe_event(move.event)} entered {bound.state!r} with {', '.join(problems)}"
        )

    def _route(self, bound: Bound, slot: Hashable, move: Move) -> tuple[Hashable, str]:
        if move.before != bound.state or move.final_refusal:
            return slot, ""
        for rule in bound.rules:
            if rule.events and move.event.name not in rule.events:
                continue
            if not self.holds(rule.when, move.scope):
                continue
            if rule.reject and not move.accepted:
                return slot, ""
            if not rule.reject and move.accepted and move.entered == rule.to:
                return slot, ""
            expected = "refused" if rule.reject else "→ " + " → ".join(rule.to)
            return slot, (
                f"{describe_event(move.event)} in state {move.before!r}: expected {expected} "
                f"(rule: {rule.describe()}), got {_outcome(move)}"
            )
        return slot, ""

    def _entered_only_via(self, bound: Bound, slot: Hashable, move: Move) -> tuple[Hashable, str]:
        armed = bool(slot)
        message = ""
        for transition in move.taken:
            if transition.target == bound.via:
                armed = self.holds(bound.when, move.scope)
            if transition.target == bound.state and transition.source != bound.state:
                if transition.source != bound.via:
                    message = (
                        f"{describe_event(move.event)} entered {bound.state!r} from {transition.source!r} "
                        f"by {transition.id!r}, not through {bound.via!r}"
                    )
                elif not armed:
                    message = (
                        f"{describe_event(move.event)} entered {bound.state!r} through {bound.via!r} "
                        f"without {bound.when_text}"
                    )
        return armed, message

    def _transient(self, bound: Bound, slot: Hashable, move: Move) -> tuple[Hashable, str]:
        if move.accepted and move.after in bound.states:
            return slot, f"{describe_event(move.event)} left the course waiting in {move.after!r}"
        return slot, ""

    def _absorbing(self, bound: Bound, slot: Hashable, move: Move) -> tuple[Hashable, str]:
        if move.before in self.final and move.accepted:
            return slot, f"{describe_event(move.event)} was accepted in the final state {move.before!r}"
        return slot, ""

    def _complete(self, bound: Bound, slot: Hashable, move: Move) -> tuple[Hashable, str]:
        if move.accepted or move.final_refusal:
            return slot, ""
        if move.rule is None or not move.rule.reason.strip():
            return slot, (
                f"{describe_event(move.event)} in state {move.before!r} is refused by no explicit rule "
                "(no transition and no rejection with a reason)"
            )
        return slot, ""


# ---------------------------------------------------------------- checks on the definition itself


def _cite_problem(pathway: Pathway, cite: Cite | None) -> str:
    if cite is None or not cite.ref:
        return "no citation"
    try:
        pathway.citation(cite.ref)
    except KeyError:
        return f"cites {cite.ref!r}, which is not listed"
    if not cite.where.strip():
        return f"cites {cite.ref!r} without saying where in it"
    return ""


def cited_problems(pathway: Pathway) -> list[str]:
    items: list[tuple[str, Cite | None]] = [("pathway", pathway.cite)]
    items += [(f"state {s.id!r}", s.cite) for s in pathway.states]
    items += [
        (f"recommendation {r.code!r} of state {s.id!r}", r.cite) for s in pathway.states for r in s.recommendations
    ]
    items += [(f"transition {t.id!r} from {t.source!r}", t.cite) for t in pathway.transitions]
    items += [(f"rejection {r.id!r} in {r.source!r}", r.cite) for r in pathway.rejections]
    items += [(f"parameter {p.name!r}", p.cite) for p in pathway.parameters]
    items += [(f"predicate {p.name!r}", p.cite) for p in pathway.predicates]
    items += [(f"event {e.name!r}", e.cite) for e in pathway.events]
    problems = []
    for what, cite in items:
        problem = _cite_problem(pathway, cite)
        if problem:
            problems.append(f"{what} {problem}")
    return problems


def static_problems(pathway: Pathway, bound: Bound) -> list[str]:
    """Violations of a property that the definition shows on its face (no course needed)."""
    if bound.kind == "imaging_rating":
        return [
            f"state {state!r} rates imaging {rec.code!r} {rec.rating!r}, not {bound.rating!r}"
            for state in bound.states
            for rec in pathway.state(state).recommendations
            if rec.kind == "imaging" and rec.rating != bound.rating
        ]
    if bound.kind == "recommends":
        problems = []
        for state, code, rating in bound.items:
            # an item stated for the whole state must hold for every course: a conditional one does not count
            recs = {rec.code: rec for rec in pathway.state(state).unconditional}
            if code not in recs:
                problems.append(f"state {state!r} does not recommend {code!r} to every course")
            elif rating is not None and recs[code].rating != rating:
                problems.append(f"state {state!r} rates {code!r} {recs[code].rating!r}, not {rating!r}")
        return problems
    if bound.kind == "cited":
        return cited_problems(pathway)
    if bound.kind == "absorbing":
        final = set(pathway.final_state_ids)
        return [
            f"transition {t.id!r} leaves the final state {t.source!r}" for t in pathway.transitions if t.source in final
        ]
    return []


def visited_static_problems(pathway: Pathway, bound: Bound, states: Sequence[str]) -> list[str]:
    """Static problems restricted to the states a course visited (what a runtime monitor reports)."""
    visited = set(states)
    if bound.kind == "imaging_rating":
        return static_problems(pathway, attrs.evolve(bound, states=tuple(s for s in bound.states if s in visited)))
    if bound.kind == "recommends":
        return static_problems(pathway, attrs.evolve(bound, items=tuple(i for i in bound.items if i[0] in visited)))
    return []
