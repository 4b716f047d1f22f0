"""Memoised monitor verdicts: one event's checks, looked up by everything they can read.

The monitor (pathway.verify.monitor) checks every event of every course. What the
per-event checks (pathway.verify.checks.EventChecks) can read about an event is
limited, and most events of a large stream repeat one another:

- the course's state before the event and the properties' memory;
- the event's name and its fields;
- what the engine did with it: the transitions it took (id, source, target), or a refusal;
- the course's facts (times, counts, entry times) only through the guard language's
  clock and count calls: ``hours_since``, ``hours_since_entered``, ``count``, ``occurred``.

A *fact atom* is a smallest subexpression that reads such a call and is not itself a
boolean ``and`` / ``or`` / ``not``, e.g. ``hours_since_entered(conservative_therapy) >= 48``
or a bare ``occurred(dural_puncture)``. Every condition the checks evaluate is built from
fact atoms, fields, the event name and constants with ``and``, ``or`` and ``not``, which
read only their operands' truth: so its value is a function of the fact atoms' values, the
fields and the event name. The verdict's key holds all of these (the atoms of every
condition that can be evaluated in this state on this event: the properties' conditions,
the route rules of this state for this event, the guards of the transitions from this state
on this event or on entering it, which the monitor's own step reads to judge an engine's
refusal, and the pathway's rejection guards, which decide which rule refuses), so two events
with one key get one verdict. Only the wording
of a violation reads more (the event's time): a key known to violate is checked afresh
every time, so each message is written from its own event.

Field values enter the key as they are, except that an event with a text value over
``monitor.MEMO_TEXT_MAX`` characters is decided afresh and not remembered (memory).
Values that compare equal and hash alike (1, 1.0 and True) are treated alike by every
comparison and list membership of the guard language, so they cannot make two verdicts
differ either (the event vocabulary gives each field one type, and NaN never passes
validation).

tests/test_monitor_verdicts.py checks on generated courses that the memoised monitor
reports exactly what the monitor computing every event afresh reports.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

import attrs

from pathway import guards
from pathway.model import Pathway
from pathway.verify.checks import EventChecks

Atom = Callable[[guards.Scope], Any]

MAX_VERDICTS = 1 << 14
"""Verdicts kept at once; past that the table starts afresh (memory stays bounded on any input)."""

FACT_CALLS = frozenset(guards.FUNCTIONS)


def _reads_facts(expr: guards.Expr) -> bool:
    return any(isinstance(node, guards.Call) for node in guards.walk(expr, into_predicates=True))


def fact_atoms(expr: guards.Expr) -> Iterator[guards.Expr]:
    """The smallest non-boolean subexpressions of ``expr`` that read a clock or a count."""
    if isinstance(expr, guards.PredicateRef):
        yield from fact_atoms(expr.expr)
    elif isinstance(expr, guards.Not):
        yield from fact_atoms(expr.operand)
    elif isinstance(expr, guards.And | guards.Or):
        for operand in expr.operands:
            yield from fact_atoms(operand)
    elif _reads_facts(expr):
        yield expr


def _conditions(checks: EventChecks, pathway: Pathway, state: str, event: str) -> Iterator[guards.Expr]:
    """Every condition the checks of one event in ``state`` named ``event`` may evaluate (a superset)."""
    for bound in checks.checks:
        if bound.when is not None:
            yield bound.when
        if bound.kind == "route" and bound.state != state:
            continue  # a route reads its rules only in its own state
        for rule in bound.rules:
            if rule.when is not None and (not rule.events or event in rule.events):
                yield rule.when
    for transition in pathway.transitions:  # what the monitor's own step reads to judge an engine's refusal
        if (
            transition.guard is not None
            and transition.source in (state, "*")
            and (not transition.events or event in transition.events)
        ):
            yield transition.guard
    for rejection in pathway.rejections:
        if rejection.guard is not None and rejection.source == state and event in rejection.events:
            yield rejection.guard
    for each in pathway.states:  # read from fields alone (the loader's rule); listed in case that ever changes
        for rec in each.recommendations:
            if rec.when is not None:
                yield rec.when


def atoms_for(checks: EventChecks, pathway: Pathway, state: str, event: str) -> tuple[Atom, ...]:
    found: dict[guards.Expr, None] = {}  # the trees are frozen values: equal atoms are evaluated once
    for expr in _conditions(checks, pathway, state, event):
        found.update(dict.fromkeys(_plain(atom) for atom in fact_atoms(expr)))
    return tuple(_compile_atom(atom) for atom in found)


def _plain(atom: guards.Expr) -> guards.Expr:
    """The atom as it is evaluated: without the words a call carries for people (``arg_label``) and
    with a parameter as its value, so that atoms differing only in those are evaluated once."""
    if isinstance(atom, guards.Call):
        return attrs.evolve(atom, arg_label="")
    if isinstance(atom, guards.Param):
        return guards.Const(atom.value)
    if isinstance(atom, guards.Compare):
        return attrs.evolve(atom, left=_plain(atom.left), right=_plain(atom.right))
    return atom


_CLOCKS = {"hours_since": "last_at", "hours_since_entered": "entered_at"}


def _compile_atom(atom: guards.Expr) -> Atom:
    """guards.compile_expr(atom); a clock against a constant (the usual atom) without the generic calls."""
    if (
        isinstance(atom, guards.Compare)
        and isinstance(atom.left, guards.Call)
        and atom.left.func in _CLOCKS
        and isinstance(atom.right, guards.Const | guards.Param)
        and atom.right.value is not None
    ):
        compare, facts, arg, constant = (
            guards.COMPARATORS[atom.op],
            _CLOCKS[atom.left.func],
            atom.left.arg,
            atom.right.value,
        )

        def clock_against_constant(scope: Any) -> bool:
            # pathway.facts.EventScope.hours_since(_entered), then the comparison of guards.compile_expr
            then = getattr(scope.facts, facts).get(arg)
            if then is None:
                return False
            return bool(compare((scope.event.at - then).total_seconds() / 3600.0, constant))

        return clock_against_constant
    count = _counter(atom)
    if count is not None:
        return count
    if isinstance(atom, guards.Compare) and atom.op in guards.COMPARATORS:
        left, right = _counter(atom.left), _counter(atom.right)
        compare = guards.COMPARATORS[atom.op]
        if isinstance(atom.right, guards.Const) and atom.right.value is not None:
            constant = atom.right.value
            right = lambda scope: constant  # noqa: E731
        if left is not None and right is not None:  # neither side is ever None: the comparison alone
            left_count, right_value = left, right
            return lambda scope: bool(compare(left_count(scope), right_value(scope)))
    return guards.compile_expr(atom)


def _counter(expr: guards.Expr) -> Atom | None:
    """pathway.facts.EventScope.count / occurred as a closure over the facts (None: another node)."""
    if not isinstance(expr, guards.Call) or expr.func not in ("count", "occurred"):
        return None
    event = expr.arg

    def count(scope: Any) -> int:
        return scope.facts.counts.get(event, 0)  # type: ignore[no-any-return]

    def occurred(scope: Any) -> bool:
        return event in scope.facts.counts

    return count if expr.func == "count" else occurred


class Verdicts:
    """The memo of one EventChecks: verdict key -> what the event did to the course."""

    def __init__(self, checks: EventChecks, pathway: Pathway) -> None:
        self.checks, self.pathway = checks, pathway
        self.table: dict[Hashable, Any] = {}
        self._atoms: dict[tuple[str, str], tuple[Atom, ...]] = {}

    def atoms(self, state: str, event: str) -> tuple[Atom, ...]:
        atoms = self._atoms.get((state, event))
        if atoms is None:
            atoms = self._atoms[(state, event)] = atoms_for(self.checks, self.pathway, state, event)
        return atoms

    def remember(self, key: Hashable, verdict: Any) -> None:
        if len(self.table) >= MAX_VERDICTS:
            self.table.clear()
        self.table[key] = verdict


def atom_values(atoms: Iterable[Atom], scope: guards.Scope) -> tuple[Any, ...]:
    return tuple(atom(scope) for atom in atoms)
