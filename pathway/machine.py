"""A python-statemachine class generated from a loaded Pathway.

The class is strict: unknown or unhandled events raise TransitionNotAllowed and
exceptions propagate (python-statemachine's lenient StateChart defaults would
silently swallow both, which a clinical model must never do).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from statemachine import State as PsmState
from statemachine import StateChart
from statemachine.exceptions import TransitionNotAllowed

from pathway import guards
from pathway.model import Pathway, Transition

__all__ = ["StepRecorder", "TransitionNotAllowed", "build_machine_class", "event_id", "new_machine"]


def event_id(name: str) -> str:
    """psm puts states and events in one class namespace; prefixes keep them apart."""
    return f"evt_{name}"


def _state_attr(state_id: str) -> str:
    return f"st_{state_id}"


class StepRecorder:
    """Listener that collects every transition the machine takes, in order."""

    def __init__(self) -> None:
        self.taken: list[Transition] = []

    def after_transition(self, transition: Any) -> None:
        self.taken.append(transition.pathway_transition)


def _guard_method(compiled: guards.Compiled) -> Callable[[Any], bool]:
    def guard(self: Any) -> bool:
        return bool(compiled(self.scope))

    return guard


@cache
def build_machine_class(pathway: Pathway) -> type[StateChart]:
    """One StateChart subclass per pathway; each transition keeps its model entry."""
    namespace: dict[str, Any] = {
        "allow_event_without_transition": False,
        "catch_errors_as_events": False,
        "enable_self_transition_entries": False,
        "__doc__": pathway.title,
    }
    states = {
        s.id: PsmState(s.title, value=s.id, initial=s.id == pathway.initial, final=s.final) for s in pathway.states
    }
    for state_id, psm_state in states.items():
        namespace[_state_attr(state_id)] = psm_state
    by_event: dict[str, Any] = {}
    created: list[tuple[Any, Transition]] = []
    for index, transition in enumerate(pathway.transitions):
        options: dict[str, Any] = {}
        if transition.guard is not None:
            name = f"guard_{index}"
            namespace[name] = _guard_method(guards.compile_expr(transition.guard))
            options["cond"] = name
        source, target = states[transition.source], states[transition.target]
        if transition.immediate:
            built = source.to(target, **options)
            created.append((built, transition))
            continue
        for event in transition.events:
            built = source.to(target, event=event_id(event), **options)
            created.append((built, transition))
            by_event[event] = built if event not in by_event else by_event[event] | built
    for event in pathway.event_names:
        if event in by_event:
            namespace[event_id(event)] = by_event[event]
    cls = type(f"{pathway.id.title()}Machine", (StateChart,), namespace)
    for built, transition in created:
        for psm_transition in built.transitions:
            psm_transition.pathway_transition = transition
    return cls


def new_machine(pathway: Pathway, scope: Any) -> tuple[StateChart, StepRecorder]:
    """A fresh machine in the initial state, reading guards from ``scope``."""
    cls = build_machine_class(pathway)
    recorder = StepRecorder()
    machine = cls.__new__(cls)
    machine.scope = scope  # guards run during __init__'s first macrostep, so set it first
    cls.__init__(machine, listeners=[recorder])
    return machine, recorder


def current_state(machine: StateChart) -> str:
    (value,) = machine.configuration_values
    return str(value)
