"""A finite abstraction of a patient's context, built from the thresholds the guards compare.

The explorer cannot try every temperature or every minute, so it groups contexts into
classes that no guard (of the definition) and no condition (of the property catalogue)
can tell apart:

* each clock (``hours_since(E)``, ``hours_since_entered(S)``) is kept as its region
  among the thresholds it is compared with: not started, below, equal, between, above;
* each counted event (``count(E)``) is kept up to one past the largest number it is
  compared with; ``occurred(E)`` as yes or no;
* the fields of an event are enumerated over their values (every enum value, true,
  false, absent, each number just below, at and just above each threshold) and one
  representative is kept for every distinct valuation of the *maximal field-only
  sub-conditions*; two events that agree on all of those agree on every guard.

Time moves from one region to the next in the explorer (``time_successor``); the classes
are exact for a single clock, and approximate the joint regions of several clocks by the
first representative found (documented in README).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import attrs

from pathway import guards
from pathway.events import Event
from pathway.facts import Facts
from pathway.model import EventSpec, FieldSpec, Pathway

EPOCH = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
"""Counterexamples start here; only differences of times matter to the guards."""
STEP_S = 60
"""Smallest time step (one minute): "just after" a threshold."""
CLOCK_FUNCS = ("hours_since", "hours_since_entered")


def _region(value: float | None, marks: Sequence[float]) -> int:
    """-1 unknown; 0 below the first mark; 2i+1 equal to mark i; 2i+2 between mark i and the next."""
    if value is None:
        return -1
    for index, mark in enumerate(marks):
        if value < mark:
            return 2 * index
        if value == mark:
            return 2 * index + 1
    return 2 * len(marks)


MAX_COUNT_LIMIT = 20  # each count class multiplies the situations to explore


class AbstractionTooLarge(ValueError):
    """A definition whose thresholds would make the exhaustive exploration unbounded in practice."""


@attrs.frozen
class Clock:
    """A clock and the hours it is compared with (``thresholds``); ``marks`` adds the points at
    which another clock reaches one of its own thresholds at the same moment (threshold
    differences), so that the order in which clocks cross their thresholds is known too."""

    func: str
    arg: str
    thresholds: tuple[float, ...]
    marks: tuple[float, ...] = ()

    def value(self, facts: Facts, now: datetime) -> float | None:
        table = facts.last_at if self.func == "hours_since" else facts.entered_at
        started = table.get(self.arg)
        return None if started is None else (now - started).total_seconds() / 3600.0

    def region(self, value: float | None) -> int:
        return _region(value, self.marks or self.thresholds)


def _numeric(node: guards.Expr) -> float | None:
    if not isinstance(node, guards.Const | guards.Param):
        return None
    value = node.value
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _literal(node: guards.Expr) -> Any:
    return node.value if isinstance(node, guards.Const | guards.Param) else None


def _is_pure(node: guards.Expr) -> bool:
    """True when only the event itself (its name and fields) and constants decide the node."""
    if isinstance(node, guards.Call | guards.Name):
        return False
    if isinstance(node, guards.PredicateRef):
        return _is_pure(node.expr)
    return all(_is_pure(child) for child in guards.children(node))


def _mentions_event(node: guards.Expr) -> bool:
    return any(isinstance(n, guards.Field | guards.EventName) for n in guards.walk(node, True))


@attrs.frozen
class Atom:
    expr: guards.Expr
    truth: bool  # in a boolean position: only its truth matters


def _atoms(expr: guards.Expr, truth: bool, into: list[Atom]) -> None:
    if _is_pure(expr) and _mentions_event(expr):
        into.append(Atom(expr, truth))
        return
    if isinstance(expr, guards.PredicateRef):
        _atoms(expr.expr, truth, into)
        return
    boolean = isinstance(expr, guards.Not | guards.And | guards.Or)
    for child in guards.children(expr):
        _atoms(child, boolean, into)


@attrs.frozen
class _FieldScope:
    """A guard scope that knows only the event: atoms never read the history."""

    event_name: str
    fields: Mapping[str, Any]

    def field(self, name: str) -> Any:
        return self.fields.get(name)

    def hours_since(self, event: str) -> float | None:
        raise AssertionError("atoms do not read clocks")

    def hours_since_entered(self, state: str) -> float | None:
        raise AssertionError("atoms do not read clocks")

    def count(self, event: str) -> int:
        raise AssertionError("atoms do not read counts")

    def occurred(self, event: str) -> bool:
        raise AssertionError("atoms do not read the history")


class Abstraction:
    """The classes of one pathway (plus the conditions of its property catalogue)."""

    def __init__(self, pathway: Pathway, extra: Iterable[guards.Expr] = ()) -> None:
        self.pathway = pathway
        exprs = [t.guard for t in pathway.transitions if t.guard is not None]
        exprs += [r.guard for r in pathway.rejections if r.guard is not None]
        exprs += list(extra)
        self.exprs = exprs
        clock_limits: dict[tuple[str, str], set[float]] = {}
        count_limits: dict[str, set[float]] = {}
        paired: list[tuple[str, str]] = []
        occurred: set[str] = set()
        field_numbers: dict[str, set[float]] = {}
        field_strings: dict[str, set[str]] = {}
        referenced: set[str] = set()
        for expr in exprs:
            for node in guards.walk(expr, into_predicates=True):
                if isinstance(node, guards.Field):
                    referenced.add(node.name)
                elif isinstance(node, guards.Call):
                    if node.func in CLOCK_FUNCS:
                        clock_limits.setdefault((node.func, node.arg), set())
                    elif node.func == "count":
                        count_limits.setdefault(node.arg, set())
                    else:
                        occurred.add(node.arg)
                elif isinstance(node, guards.Compare):
                    self._note_compare(node, clock_limits, count_limits, paired, field_numbers, field_strings)
                elif isinstance(node, guards.InList) and isinstance(node.left, guards.Field):
                    field_strings.setdefault(node.left.name, set()).update(v for v in node.values if isinstance(v, str))
        own = {clock: tuple(sorted(limits)) for clock, limits in sorted(clock_limits.items())}
        self.clocks = tuple(
            Clock(
                func,
                arg,
                limits,
                tuple(
                    sorted(
                        {
                            *limits,
                            *(
                                c - d
                                for other, d_limits in own.items()
                                if other != (func, arg)
                                for c in limits
                                for d in d_limits
                                if c > d
                            ),
                        }
                    )
                ),
            )
            for (func, arg), limits in own.items()
        )
        # the difference of two running clocks never changes while time passes: kept against threshold differences
        self.pairs = tuple(
            (i, j, tuple(sorted({c - d for c in a.thresholds for d in b.thresholds})))
            for i, a in enumerate(self.clocks)
            for j, b in enumerate(self.clocks)
            if i < j
        )
        too_large = [(e, max(limits)) for e, limits in count_limits.items() if limits and max(limits) > MAX_COUNT_LIMIT]
        if too_large:
            event, limit = too_large[0]
            raise AbstractionTooLarge(
                f"a guard compares count({event}) with {limit:g}; exhaustive exploration keeps counts up to "
                f"{MAX_COUNT_LIMIT}, so it would not end in reasonable time"
            )
        caps = {event: int(max(limits, default=0)) + 1 for event, limits in count_limits.items()}
        for a, b in paired:
            caps[a] = caps[b] = max(caps[a], caps[b])
        self.count_caps = tuple(sorted(caps.items()))
        self.occurred = tuple(sorted(occurred - set(caps)))
        self.referenced = referenced
        self.field_numbers = field_numbers
        self.field_strings = field_strings
        self.representatives = {spec.name: self._representatives(spec) for spec in pathway.events}

    @staticmethod
    def _note_compare(
        node: guards.Compare,
        clock_limits: dict[tuple[str, str], set[float]],
        count_limits: dict[str, set[float]],
        paired: list[tuple[str, str]],
        field_numbers: dict[str, set[float]],
        field_strings: dict[str, set[str]],
    ) -> None:
        for side, other in ((node.left, node.right), (node.right, node.left)):
            number = _numeric(other)
            if isinstance(side, guards.Call):
                if side.func in CLOCK_FUNCS and number is not None:
                    clock_limits.setdefault((side.func, side.arg), set()).add(number)
                elif side.func == "count":
                    if number is not None:
                        count_limits.setdefault(side.arg, set()).add(number)
                    elif isinstance(other, guards.Call) and other.func == "count":
                        paired.append((side.arg, other.arg))
            elif isinstance(side, guards.Field):
                if number is not None:
                    field_numbers.setdefault(side.name, set()).add(number)
                elif isinstance(_literal(other), str):
                    field_strings.setdefault(side.name, set()).add(_literal(other))

    # ------------------------------------------------------------ event classes

    def _candidates(self, spec: FieldSpec) -> list[Any]:
        optional = [None] if not spec.required else []
        low = spec.minimum if spec.minimum is not None else 0
        if spec.name not in self.referenced:
            if optional:
                return optional
            first = {
                "enum": spec.values[0] if spec.values else "",
                "bool": False,
                "int": int(low),
                "number": float(low),
            }
            return [first.get(spec.type, "x")]
        if spec.type == "enum":
            return [*optional, *spec.values]
        if spec.type == "bool":
            return [*optional, False, True]
        if spec.type in ("int", "number"):
            delta = 1 if spec.type == "int" else 0.5
            limits = sorted(self.field_numbers.get(spec.name, set())) or [low]
            # one value in every region the limits cut the line into: below, at each limit, between
            # each pair (the midpoint, so regions narrower than delta are not skipped) and above
            if spec.type == "int":
                between = [v for a, b in itertools.pairwise(limits) for v in (a + 1, b - 1) if a < v < b]
            else:
                between = [(a + b) / 2 for a, b in itertools.pairwise(limits)]
            values: list[Any] = []
            for point in sorted({limits[0] - delta, *limits, *between, limits[-1] + delta}):
                value = int(point) if spec.type == "int" else float(point)
                # the definition's plausible range: a value outside it is refused as malformed input
                inside = (spec.minimum is None or value >= spec.minimum) and (
                    spec.maximum is None or value <= spec.maximum
                )
                if inside and value not in values:
                    values.append(value)
            return [*optional, *sorted(values)]
        strings = sorted(self.field_strings.get(spec.name, set()))
        return [*optional, *strings, "other"]

    def _representatives(self, spec: EventSpec) -> tuple[Mapping[str, Any], ...]:
        atoms: list[Atom] = []
        for expr in self.exprs:
            _atoms(expr, True, atoms)
        names = {f.name for f in spec.fields}
        relevant = frozenset(a for a in atoms if _fields_of(a.expr) & names)
        candidates = tuple((f.name, tuple(self._candidates(f))) for f in spec.fields)
        return _representatives(spec.name, candidates, relevant)

    def events_at(self, now_s: int) -> list[Event]:
        """One event of every class, at ``now_s`` seconds after the epoch."""
        at = EPOCH + timedelta(seconds=now_s)
        text = at_text(at)
        return [Event(0, name, at, text, fields) for name, reps in self.representatives.items() for fields in reps]

    # ------------------------------------------------------------ situations and time

    def context_key(self, facts: Facts, now_s: int) -> tuple[Any, ...]:
        now = EPOCH + timedelta(seconds=now_s)
        counts = tuple(min(facts.counts.get(event, 0), cap) for event, cap in self.count_caps)
        flags = tuple(event in facts.counts for event in self.occurred)
        values = [clock.value(facts, now) for clock in self.clocks]
        regions = tuple(clock.region(value) for clock, value in zip(self.clocks, values, strict=True))
        gaps = tuple(_region(_gap(values[i], values[j]), marks) for i, j, marks in self.pairs)
        return (counts, flags, regions, gaps)

    def time_successor(self, facts: Facts, now_s: int) -> int | None:
        """Seconds to wait until some clock enters its next region; None when no clock can."""
        now = EPOCH + timedelta(seconds=now_s)
        waits: list[float] = []
        on_threshold = False
        for clock in self.clocks:
            value = clock.value(facts, now)
            if value is None:
                continue
            if value in clock.marks:
                on_threshold = True
            ahead = [t for t in clock.marks if t > value]
            if ahead:
                waits.append((ahead[0] - value) * 3600.0)
        if on_threshold:
            # leave the threshold, but not so far as to jump over another clock's next one
            step = min([STEP_S, *(w / 2 for w in waits)])
            return max(1, int(step))
        if not waits:
            return None
        return max(1, round(min(waits)))


def _fields_of(expr: guards.Expr) -> set[str]:
    return {n.name for n in guards.walk(expr, into_predicates=True) if isinstance(n, guards.Field)}


@cache
def _representatives(
    event: str, candidates: tuple[tuple[str, tuple[Any, ...]], ...], atoms: frozenset[Atom]
) -> tuple[Mapping[str, Any], ...]:
    """One field assignment per distinct valuation of the atoms, the first in candidate order.

    Fields that share no atom are independent: each group is enumerated on its own and the
    groups' distinct assignments are combined, which keeps the product small.
    """
    groups: list[tuple[set[str], list[Atom]]] = []
    for atom in sorted(atoms, key=repr):
        fields = _fields_of(atom.expr)
        joined = [g for g in groups if g[0] & fields]
        group = (set(fields).union(*(g[0] for g in joined)), [atom, *(a for g in joined for a in g[1])])
        groups = [g for g in groups if not any(g is j for j in joined)] + [group]
    values = dict(candidates)
    order = [name for name, _ in candidates]
    grouped = {name for fields, _ in groups for name in fields}
    parts: list[list[dict[str, Any]]] = []
    for fields, group_atoms in groups:
        names = [n for n in order if n in fields]
        compiled = [(guards.compile_expr(a.expr), a.truth) for a in group_atoms]
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for combo in itertools.product(*(values[n] for n in names)):
            assignment = {n: v for n, v in zip(names, combo, strict=True) if v is not None}
            scope = _FieldScope(event, assignment)
            vector = tuple(bool(fn(scope)) if truth else fn(scope) for fn, truth in compiled)
            seen.setdefault(vector, assignment)
        parts.append(list(seen.values()))
    # fields no atom reads keep their first candidate (absent when optional)
    fixed = {n: values[n][0] for n in order if n not in grouped and values[n] and values[n][0] is not None}
    result = []
    for combo in itertools.product(*parts):
        merged: dict[str, Any] = dict(fixed)
        for part in combo:
            merged.update(part)
        result.append({n: merged[n] for n in order if n in merged})
    return tuple(result)


def _gap(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def at_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _region_words(label: str, region: int, marks: Sequence[float], unit: str = " h") -> str:
    if region == -1:
        return f"{label} not started"
    index, exact = divmod(region, 2)
    if exact:
        return f"{label} = {marks[index]:g}{unit}"
    if not marks:
        return f"{label} running"
    if index == 0:
        return f"{label} < {marks[0]:g}{unit}"
    if index == len(marks):
        return f"{label} > {marks[-1]:g}{unit}"
    return f"{marks[index - 1]:g}{unit} < {label} < {marks[index]:g}{unit}"


def describe_context(abstraction: Abstraction, key: Sequence[Any]) -> str:
    """A situation's context class in words (for reports)."""
    counts, flags, regions, _ = key
    parts = [
        f"{event} count {'≥' if n == cap else ''}{n}"
        for (event, cap), n in zip(abstraction.count_caps, counts, strict=True)
    ]
    parts += [
        f"{event} {'recorded' if flag else 'not recorded'}"
        for event, flag in zip(abstraction.occurred, flags, strict=True)
    ]
    for clock, region in zip(abstraction.clocks, regions, strict=True):
        parts.append(_region_words(f"{clock.func}({clock.arg})", region, clock.marks))
    return ", ".join(parts)
