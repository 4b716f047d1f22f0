"""How a pathway's names, values and guards become integers and expressions of Promela.

Promela knows bytes and ints, nothing else, so every value the guards read gets a code:

* a state, an event, a transition and a rejection: its position plus one (0 is "none");
* an enum or string field: the position of its value plus one among every value the
  definition and the property conditions name (0 is "absent"); a bool field: 1 false,
  2 true (0 absent); a number field: the value scaled to an integer, with a separate
  "present" flag;
* a clock (``hours_since``, ``hours_since_entered``): hours divided by a time unit, half
  the greatest common divisor of its marks, so every threshold and every point just past
  one is an integer (-1: not started); a count: capped one past its largest limit.

The clocks, count caps and event classes are those of the explorer's abstraction
(``pathway.verify.abstraction``), so SPIN and the explorer search the same finite
model, each with its own search and its own reading of the guards.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from pathway import guards
from pathway.model import FieldSpec, Pathway
from pathway.verify.abstraction import Abstraction

NONE = 0
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class ExportError(ValueError):
    """A guard or value the export cannot express; str() names what and where."""


def _fraction(value: float | int | Fraction) -> Fraction:
    return Fraction(value).limit_denominator(10**6)


def ident(name: str) -> str:
    """A Promela identifier from a definition name (ids are already identifier-like)."""
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


class Encoding:
    """The integer codes of one pathway under one abstraction."""

    def __init__(self, pathway: Pathway, abstraction: Abstraction) -> None:
        self.pathway = pathway
        self.abstraction = abstraction
        self.states = {s: i + 1 for i, s in enumerate(pathway.state_ids)}
        self.events = {e: i + 1 for i, e in enumerate(pathway.event_names)}
        self.transitions = {i + 1: t for i, t in enumerate(pathway.transitions)}
        self.rejections = {i + 1: r for i, r in enumerate(pathway.rejections)}
        self.fields: dict[str, FieldSpec] = {}
        values: dict[str, list[Any]] = {}
        for event_spec in pathway.events:
            for field in event_spec.fields:
                self.fields.setdefault(field.name, field)
                values.setdefault(field.name, []).extend(field.values)
        for name, strings in abstraction.field_strings.items():
            values.setdefault(name, []).extend(sorted(strings))
        for reps in abstraction.representatives.values():
            for rep in reps:
                for name, value in rep.items():
                    if isinstance(value, str):
                        values.setdefault(name, []).append(value)
        self.values = {name: list(dict.fromkeys(vals)) for name, vals in values.items()}
        # numbers: one scale per field so that every value and threshold is an integer
        self.scales: dict[str, int] = {}
        for name, spec in self.fields.items():
            if spec.type in ("int", "number"):
                numbers = list(abstraction.field_numbers.get(name, ()))
                numbers += [rep[name] for reps in abstraction.representatives.values() for rep in reps if name in rep]
                self.scales[name] = math.lcm(1, *(_fraction(n).denominator for n in numbers))
        marks = [_fraction(m) for clock in abstraction.clocks for m in clock.marks]
        self.unit = _unit(marks)
        self.clocks = {(c.func, c.arg): f"c{i}" for i, c in enumerate(abstraction.clocks)}
        self.counts = {event: (f"cnt_{ident(event)}", cap) for event, cap in abstraction.count_caps}
        self.flags = {event: f"occ_{ident(event)}" for event in abstraction.occurred}
        # how long a chain of transitions one event can take: settle, the event's own, settle again
        self.chain = 2 * _longest_immediate_path(pathway) + 1

    # ------------------------------------------------------------ values

    def units(self, hours: float | int | Fraction) -> int:
        value = _fraction(hours) / self.unit
        if value.denominator != 1:
            raise ExportError(f"{float(hours):g} h is not a multiple of the time unit {float(self.unit):g} h")
        return int(value)

    def clock_marks(self) -> list[tuple[str, list[int]]]:
        return [(self.clocks[(c.func, c.arg)], [self.units(m) for m in c.marks]) for c in self.abstraction.clocks]

    def field_code(self, name: str, value: Any) -> tuple[int, int]:
        """(present flag, code) of one field value."""
        if value is None:
            return 0, 0
        spec = self.fields[name]
        if spec.type == "bool":
            return 1, 2 if value else 1
        if spec.type in ("int", "number"):
            scaled = _fraction(value) * self.scales[name]
            return 1, int(scaled)
        return 1, self.values[name].index(value) + 1

    def decode_field(self, name: str, present: int, code: int) -> Any:
        if not present:
            return None
        spec = self.fields[name]
        if spec.type == "bool":
            return code == 2
        if spec.type == "int":
            return int(Fraction(code, self.scales[name]))
        if spec.type == "number":
            return float(Fraction(code, self.scales[name]))
        return self.values[name][code - 1]

    # ------------------------------------------------------------ guards

    def expr(self, node: guards.Expr | None, snapshot: bool = False) -> str:
        """A guard as a Promela boolean expression. ``snapshot`` reads the context as it was
        before the last event (the copies the model keeps for the LTL formulas)."""
        if node is None:
            return "1"
        return _Translator(self, snapshot).boolean(node)

    def clock_var(self, func: str, arg: str, snapshot: bool) -> str:
        name = self.clocks.get((func, arg))
        if name is None:
            raise ExportError(f"{func}({arg}) is not a clock of the abstraction")
        return f"p_{name}" if snapshot else name

    def count_var(self, event: str, snapshot: bool) -> str:
        if event not in self.counts:
            raise ExportError(f"count({event}) is not kept by the abstraction")
        name = self.counts[event][0]
        return f"p_{name}" if snapshot else name

    def occurred_var(self, event: str, snapshot: bool) -> str:
        if event in self.counts:
            return f"({self.count_var(event, snapshot)} > 0)"
        if event not in self.flags:
            raise ExportError(f"occurred({event}) is not kept by the abstraction")
        return f"p_{self.flags[event]}" if snapshot else self.flags[event]

    def context_vars(self) -> list[tuple[str, str, int]]:
        """(type, name, initial value) of every context variable the snapshot copies."""
        out = [("int", name, -1) for name in self.clocks.values()]
        out += [("byte", name, 0) for name, _ in self.counts.values()]
        out += [("bool", name, 0) for name in self.flags.values()]
        return out


def _longest_immediate_path(pathway: Pathway) -> int:
    """Edges on the longest chain of immediate transitions (their count when they form a cycle,
    which a mutant may do: the model then reports the chain as never settling)."""
    edges: dict[str, set[str]] = {}
    for t in pathway.transitions:
        if t.immediate:
            edges.setdefault(t.source, set()).add(t.target)
    limit = sum(len(targets) for targets in edges.values())

    def longest(state: str, depth: int) -> int:
        if depth > limit:
            return limit
        return max((1 + longest(nxt, depth + 1) for nxt in edges.get(state, ())), default=0)

    return min(limit, max((longest(s, 0) for s in edges), default=0))


def _unit(marks: Iterable[Fraction]) -> Fraction:
    """Half the greatest common divisor of the marks (in hours): thresholds and the points
    just past them are whole units. One hour when no clock is compared with anything."""
    positive = [m for m in marks if m > 0]
    if not positive:
        return Fraction(1)
    denominator = math.lcm(*(m.denominator for m in positive))
    numerators = [int(m * denominator) for m in positive]
    return Fraction(math.gcd(*numerators), denominator) / 2


def _number(node: guards.Expr) -> Any:
    if isinstance(node, guards.Const | guards.Param):
        return node.value
    return _MISSING


_MISSING = object()


class _Translator:
    def __init__(self, encoding: Encoding, snapshot: bool) -> None:
        self.enc = encoding
        self.snapshot = snapshot

    def boolean(self, node: guards.Expr) -> str:
        enc = self.enc
        if isinstance(node, guards.PredicateRef):
            return self.boolean(node.expr)
        if isinstance(node, guards.Not):
            return f"!({self.boolean(node.operand)})"
        if isinstance(node, guards.And | guards.Or):
            joiner = " && " if isinstance(node, guards.And) else " || "
            return "(" + joiner.join(self.boolean(o) for o in node.operands) + ")"
        if isinstance(node, guards.Compare):
            return self.compare(node)
        if isinstance(node, guards.InList):
            return self.member(node)
        if isinstance(node, guards.Const | guards.Param):
            return "1" if node.value else "0"
        if isinstance(node, guards.Field):
            spec = enc.fields[node.name]
            var = f"f_{ident(node.name)}"
            if spec.type == "bool":
                return f"({var} == 2)"
            if spec.type in ("int", "number"):
                return f"(h_{ident(node.name)} && {var} != 0)"
            return f"({var} != 0)"
        if isinstance(node, guards.Call):
            if node.func == "occurred":
                return enc.occurred_var(node.arg, self.snapshot)
            if node.func == "count":
                return f"({enc.count_var(node.arg, self.snapshot)} != 0)"
            clock = enc.clock_var(node.func, node.arg, self.snapshot)
            return f"({clock} > 0)"
        if isinstance(node, guards.EventName):
            return "(ev != 0)"
        raise ExportError(f"cannot express {guards.words(node)!r} in Promela")

    def member(self, node: guards.InList) -> str:
        parts = [self.compare(guards.Compare("==", node.left, guards.Const(v))) for v in node.values]
        present = self.present(node.left)
        inner = "(" + " || ".join(parts) + ")"
        return f"({present} && !{inner})" if node.negated else inner

    def present(self, node: guards.Expr) -> str:
        if isinstance(node, guards.Field):
            spec = self.enc.fields[node.name]
            if spec.type in ("int", "number"):
                return f"h_{ident(node.name)}"
            return f"(f_{ident(node.name)} != 0)"
        return "1"

    def compare(self, node: guards.Compare) -> str:
        left, right, op = node.left, node.right, node.op
        if _number(left) is not _MISSING and _number(right) is _MISSING:
            left, right, op = right, left, _FLIP[op]
        value = _number(right)
        enc = self.enc
        if value is _MISSING:
            if isinstance(left, guards.Call) and isinstance(right, guards.Call):
                return f"({self.operand(left)} {op} {self.operand(right)})"
            raise ExportError(f"cannot express the comparison {guards.words(node)!r} in Promela")
        if _number(left) is not _MISSING:
            return "1" if guards.COMPARATORS[op](_number(left), value) else "0"
        if isinstance(left, guards.EventName):
            code = enc.events.get(value, 255) if isinstance(value, str) else 255
            return f"(ev {op} {code})"
        if isinstance(left, guards.Field):
            return self.field_compare(left, op, value)
        if isinstance(left, guards.Call) and isinstance(value, int | float) and not isinstance(value, bool):
            if left.func == "count":
                var = enc.count_var(left.arg, self.snapshot)
                limit = _fraction(value)
                return f"({var} * {limit.denominator} {op} {limit.numerator})"
            if left.func in ("hours_since", "hours_since_entered"):
                var = enc.clock_var(left.func, left.arg, self.snapshot)
                return f"({var} >= 0 && {var} {op} {enc.units(value)})"
        raise ExportError(f"cannot express the comparison {guards.words(node)!r} in Promela")

    def operand(self, node: guards.Call) -> str:
        if node.func == "count":
            return self.enc.count_var(node.arg, self.snapshot)
        raise ExportError(f"cannot compare {guards.words(node)!r} with another call in Promela")

    def field_compare(self, field: guards.Field, op: str, value: Any) -> str:
        enc = self.enc
        spec = enc.fields[field.name]
        var = f"f_{ident(field.name)}"
        if spec.type in ("int", "number"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return "0"
            scaled = _fraction(value) * enc.scales[field.name]
            if scaled.denominator != 1:
                raise ExportError(f"{field.name} threshold {value} is not on the field's scale")
            return f"(h_{ident(field.name)} && {var} {op} {int(scaled)})"
        if op not in ("==", "!="):
            raise ExportError(f"cannot order the values of {field.name!r} ({op} {value!r})")
        if spec.type == "bool":
            code = (2 if value else 1) if isinstance(value, bool) else 255
        else:
            code = enc.values[field.name].index(value) + 1 if value in enc.values[field.name] else 255
        return f"({var} != 0 && {var} {op} {code})"


def field_assignments(encoding: Encoding, fields: Mapping[str, Any]) -> list[str]:
    """Promela assignments that set every field variable for one event class."""
    out = []
    for name, spec in encoding.fields.items():
        present, code = encoding.field_code(name, fields.get(name))
        out.append(f"f_{ident(name)} = {code}")
        if spec.type in ("int", "number"):
            out.append(f"h_{ident(name)} = {present}")
    return out
