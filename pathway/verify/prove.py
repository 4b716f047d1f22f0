"""Proofs about the guards with Z3: no gaps, which overlaps the order resolves, exact thresholds.

The explorer samples each field between its thresholds; here the guards are formulas over
real and integer variables and Z3 decides them for *every* value the event schema allows
(each enum value or absent, true/false/absent, every real between a field's min and max)
and every context (each clock not started or any hours >= 0, each count >= 0):

* coverage: in each state where patients wait, for each event, the transitions and
  rejections, tried in order, leave no gap: a gap is printed as a concrete event and context;
* overlaps: pairs of rules that can both hold (the order decides), and rules that can never
  win because earlier rules cover them (hidden by priority in every context);
* thresholds: each comparison of a field or clock with a number holds on exactly the
  interval it states (38.0 is fever and 37.999... is not), and the engine agrees at the
  boundary and one step either side (one second for clocks, 0.001 for a field), with real
  datetime arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import attrs
import z3

from pathway import guards
from pathway.events import Event
from pathway.facts import EventScope, Facts
from pathway.model import EventSpec, Pathway
from pathway.verify.abstraction import EPOCH, at_text

CLOCK_STEP_H = 1 / 3600  # one second
FIELD_STEP = 0.001


@attrs.frozen
class Gap:
    state: str
    event: str
    example: str
    fields: dict[str, Any] = attrs.field(factory=dict)  # the event's fields in the example
    context: dict[str, Any] = attrs.field(factory=dict)  # clocks (hours or None) and counts in the example


@attrs.frozen
class Overlap:
    state: str
    event: str
    first: str
    second: str
    hidden: bool  # the second can never win: earlier rules cover every case where it holds


@attrs.frozen
class Boundary:
    where: str  # the comparison in words
    proved: bool  # Z3: it holds exactly on the stated interval
    engine: str  # the engine's verdict at (below, at, above) the threshold
    agrees: bool


@attrs.frozen
class Proofs:
    cases: int
    gaps: tuple[Gap, ...]
    overlaps: tuple[Overlap, ...]
    boundaries: tuple[Boundary, ...]

    @property
    def holds(self) -> bool:
        return not self.gaps and all(b.proved and b.agrees for b in self.boundaries)


class _Vars:
    """Z3 variables of one event in one state: its fields and the patient's context."""

    def __init__(self, spec: EventSpec) -> None:
        self.spec = spec
        self.codes: dict[str, list[Any]] = {}
        self.value: dict[str, Any] = {}
        self.has: dict[str, Any] = {}
        self.domain: list[Any] = []
        for field in spec.fields:
            name = field.name
            has = self.has[name] = z3.Bool(f"has_{name}")
            if field.required:
                self.domain.append(has)
            if field.type in ("number", "int"):
                x = self.value[name] = z3.Real(name) if field.type == "number" else z3.Int(name)
                if field.minimum is not None:
                    self.domain.append(z3.Implies(has, x >= field.minimum))
                if field.maximum is not None:
                    self.domain.append(z3.Implies(has, x <= field.maximum))
            elif field.type == "string":
                self.value[name] = z3.String(name)
            else:
                values = list(field.values) if field.type == "enum" else [False, True]
                self.codes[name] = values
                x = self.value[name] = z3.Int(name)
                self.domain.append(z3.Implies(has, z3.And(x >= 0, x < len(values))))
        self.clocks: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.counts: dict[str, Any] = {}
        self.occurred: dict[str, Any] = {}

    def clock(self, func: str, arg: str) -> tuple[Any, Any]:
        if (func, arg) not in self.clocks:
            started, hours = z3.Bool(f"started_{func}_{arg}"), z3.Real(f"{func}_{arg}")
            self.clocks[(func, arg)] = (started, hours)
            self.domain.append(hours >= 0)
            if func == "hours_since":
                self.domain.append(started == self.occurs(arg))
        return self.clocks[(func, arg)]

    def count(self, event: str) -> Any:
        if event not in self.counts:
            self.counts[event] = z3.Int(f"count_{event}")
            self.domain.append(self.counts[event] >= 0)
            self.domain.append(self.occurs(event) == (self.counts[event] > 0))
        return self.counts[event]

    def occurs(self, event: str) -> Any:
        if event not in self.occurred:
            self.occurred[event] = z3.Bool(f"occurred_{event}")
        return self.occurred[event]


class _Formula:
    """A resolved guard as a Z3 formula; an absent value makes a comparison false, as in the engine."""

    def __init__(self, v: _Vars) -> None:
        self.v = v

    def boolean(self, node: guards.Expr) -> Any:
        v = self.v
        if isinstance(node, guards.PredicateRef):
            return self.boolean(node.expr)
        if isinstance(node, guards.Not):
            return z3.Not(self.boolean(node.operand))
        if isinstance(node, guards.And):
            return z3.And(*(self.boolean(o) for o in node.operands))
        if isinstance(node, guards.Or):
            return z3.Or(*(self.boolean(o) for o in node.operands))
        if isinstance(node, guards.Compare):
            return self.compare(node)
        if isinstance(node, guards.InList):
            inside = z3.Or(*(self.compare(guards.Compare("==", node.left, guards.Const(x))) for x in node.values))
            return z3.And(self.present(node.left), z3.Not(inside)) if node.negated else inside
        if isinstance(node, guards.Const | guards.Param):
            return z3.BoolVal(bool(node.value))
        if isinstance(node, guards.Field):
            if node.name not in v.has:
                return z3.BoolVal(False)
            if node.name in v.codes:
                codes = v.codes[node.name]
                truthy = [i for i, x in enumerate(codes) if x]
                return z3.And(v.has[node.name], z3.Or(*(v.value[node.name] == i for i in truthy)))
            return z3.And(v.has[node.name], v.value[node.name] != 0)
        if isinstance(node, guards.Call):
            if node.func == "occurred":
                return v.occurs(node.arg)
            if node.func == "count":
                return v.count(node.arg) > 0
            started, hours = v.clock(node.func, node.arg)
            return z3.And(started, hours > 0)
        return z3.BoolVal(True)  # EventName alone: an event is always named

    def present(self, node: guards.Expr) -> Any:
        if isinstance(node, guards.Field):
            return self.v.has.get(node.name, z3.BoolVal(False))
        if isinstance(node, guards.Call) and node.func in ("hours_since", "hours_since_entered"):
            return self.v.clock(node.func, node.arg)[0]
        return z3.BoolVal(True)

    def term(self, node: guards.Expr, other: guards.Expr) -> Any:
        v = self.v
        if isinstance(node, guards.Const | guards.Param):
            value = node.value
            if isinstance(other, guards.Field) and other.name in v.codes:
                codes = v.codes[other.name]
                return z3.IntVal(codes.index(value)) if value in codes else z3.IntVal(-1)
            if isinstance(value, str):
                return z3.StringVal(value)
            return z3.RealVal(str(value)) if isinstance(value, float) else z3.IntVal(int(value))
        if isinstance(node, guards.Field):
            return v.value[node.name]
        if isinstance(node, guards.EventName):
            return z3.StringVal(v.spec.name)
        if isinstance(node, guards.Call):
            if node.func == "count":
                return v.count(node.arg)
            if node.func in ("hours_since", "hours_since_entered"):
                return v.clock(node.func, node.arg)[1]
        raise TypeError(f"cannot prove over {guards.words(node)!r}")

    def compare(self, node: guards.Compare) -> Any:
        left, right = node.left, node.right
        for side in (left, right):
            if isinstance(side, guards.Field) and side.name not in self.v.has:
                return z3.BoolVal(False)
        a, b = self.term(left, right), self.term(right, left)
        op = guards.COMPARATORS[node.op]
        return z3.And(self.present(left), self.present(right), op(a, b))


def _example(model: z3.ModelRef, v: _Vars) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A gap as a concrete event (fields) and the context it needs: (in words, fields, context)."""
    fields: dict[str, Any] = {}
    for name, has in v.has.items():
        if z3.is_true(model.eval(has, model_completion=True)):
            value = model.eval(v.value[name], model_completion=True)
            if name in v.codes:
                fields[name] = v.codes[name][value.as_long()]
            elif z3.is_int_value(value):
                fields[name] = value.as_long()
            elif z3.is_rational_value(value):
                fields[name] = float(value.as_fraction())
            else:
                fields[name] = value.as_string()
    context: dict[str, Any] = {}
    for (func, arg), (started, hours) in v.clocks.items():
        on = z3.is_true(model.eval(started, model_completion=True))
        h = model.eval(hours, model_completion=True)
        context[f"{func}({arg})"] = float(h.as_fraction()) if on else None
    for event, count in v.counts.items():
        context[f"count({event})"] = model.eval(count, model_completion=True).as_long()
    words = [f"{k} = {'not started' if x is None else x}" for k, x in context.items()]
    record = {"event": v.spec.name, **fields}
    return f"{record}" + (f" with {', '.join(words)}" if words else ""), fields, context


def _rules(pathway: Pathway, state: str, event: str) -> list[tuple[str, guards.Expr | None]]:
    rules: list[tuple[str, guards.Expr | None]] = [
        (f"transition {t.id}", t.guard) for t in pathway.transitions if t.source == state and event in t.events
    ]
    rules += [(f"rejection {r.id}", r.guard) for r in pathway.rejections if r.source == state and event in r.events]
    return rules


def coverage(pathway: Pathway) -> tuple[int, list[Gap], list[Overlap]]:
    """Every waiting state x every event: gaps and overlaps, decided for all values."""
    gaps, overlaps, cases = [], [], 0
    for state in pathway.states:
        if state.final:
            continue
        if any(t.immediate and t.source == state.id for t in pathway.transitions):
            continue  # decided on entry: no patient waits here for events
        for spec in pathway.events:
            cases += 1
            v = _Vars(spec)
            f = _Formula(v)
            rules = [
                (name, z3.BoolVal(True) if g is None else f.boolean(g))
                for name, g in _rules(pathway, state.id, spec.name)
            ]
            solver = z3.Solver()
            solver.add(*v.domain, z3.Not(z3.Or(*(g for _, g in rules))) if rules else z3.BoolVal(True))
            if solver.check() == z3.sat:
                gaps.append(Gap(state.id, spec.name, *_example(solver.model(), v)))
            for i, (first, g1) in enumerate(rules):
                for second, g2 in rules[i + 1 :]:
                    if _sat(v.domain, g1, g2):
                        earlier = [g for _, g in rules[: rules.index((second, g2))]]
                        hidden = not _sat(v.domain, g2, z3.Not(z3.Or(*earlier)))
                        overlaps.append(Overlap(state.id, spec.name, first, second, hidden))
    return cases, gaps, overlaps


def _sat(domain: list[Any], *formulas: Any) -> bool:
    solver = z3.Solver()
    solver.add(*domain, *formulas)
    return solver.check() == z3.sat


def _thresholds(pathway: Pathway) -> Iterator[tuple[guards.Compare, str]]:
    """Each comparison of a field or clock with a number, once, with where it is used: the guards
    as the engine runs them (through their named predicates), so a changed parameter shows."""
    seen = set()
    rules = [(f"transition {t.id}", t.guard) for t in pathway.transitions]
    rules += [(f"rejection {r.id}", r.guard) for r in pathway.rejections]
    for where, expr in rules:
        if expr is None:
            continue
        for node, named in _walk_named(expr, where):
            if not isinstance(node, guards.Compare):
                continue
            variable = node.left if not isinstance(node.left, guards.Const | guards.Param) else node.right
            constant = node.right if variable is node.left else node.left
            if not isinstance(constant, guards.Const | guards.Param) or isinstance(constant.value, bool | str):
                continue
            if isinstance(variable, guards.Call | guards.Field) and variable_is_kept(variable) and node not in seen:
                seen.add(node)
                yield node, named


def variable_is_kept(node: guards.Expr) -> bool:
    """A field, a clock or a count: the values a threshold cuts."""
    return isinstance(node, guards.Field) or (isinstance(node, guards.Call) and node.func != "occurred")


def _walk_named(expr: guards.Expr, where: str) -> Iterator[tuple[guards.Expr, str]]:
    """Every node with the innermost named predicate around it (or the rule)."""
    yield expr, where
    if isinstance(expr, guards.PredicateRef):
        yield from _walk_named(expr.expr, f"predicate {expr.name}")
    for child in guards.children(expr):
        yield from _walk_named(child, where)


def _engine_truth(node: guards.Compare, spec: EventSpec, value: float) -> bool:
    """The engine's own evaluation, with datetimes for clocks."""
    variable = node.left if not isinstance(node.left, guards.Const | guards.Param) else node.right
    now = EPOCH + timedelta(days=30)
    fields: dict[str, Any] = {}
    facts = Facts()
    if isinstance(variable, guards.Call) and variable.func == "count":
        facts = Facts(counts={variable.arg: int(value)} if value > 0 else {})
    elif isinstance(variable, guards.Call):
        since = now - timedelta(hours=value)
        facts = Facts(last_at={variable.arg: since}, entered_at={variable.arg: since}, counts={variable.arg: 1})
    else:
        assert isinstance(variable, guards.Field)
        fields = {variable.name: value}
    return guards.evaluate(node, EventScope(facts, Event(1, spec.name, now, at_text(now), fields)))


def boundaries(pathway: Pathway) -> list[Boundary]:
    out = []
    for node, where in _thresholds(pathway):
        flipped = isinstance(node.left, guards.Const | guards.Param)
        variable, constant = (node.right, node.left) if flipped else (node.left, node.right)
        assert isinstance(constant, guards.Const | guards.Param)
        c = float(constant.value)
        spec = next(
            (s for s in pathway.events if isinstance(variable, guards.Field) and s.field(variable.name)),
            pathway.events[0],
        )
        v = _Vars(spec)
        f = _Formula(v)
        x = f.term(variable, constant)
        op = guards.COMPARATORS[node.op]

        def relation(a: Any, b: Any, op: Any = op, flipped: bool = flipped) -> Any:
            return op(b, a) if flipped else op(a, b)

        stated = relation(x, z3.RealVal(str(c)) if z3.is_real(x) else c)
        # exactly: wherever the value is present, the guard holds iff the stated relation does
        proved = not _sat(v.domain, f.present(variable), f.compare(node) != stated)
        counted = isinstance(variable, guards.Call) and variable.func == "count"
        step, label = (
            (1.0, "1")
            if counted
            else (CLOCK_STEP_H, "1 s")
            if isinstance(variable, guards.Call)
            else (FIELD_STEP, f"{FIELD_STEP:g}")
        )
        points = [p for p in (c - step, c, c + step) if not counted or p >= 0]
        seen = [_engine_truth(node, spec, value) for value in points]
        expected = [bool(relation(value, c)) for value in points]
        names = {c - step: f"-{label}", c: "at", c + step: f"+{label}"}
        engine = ", ".join(f"{names[p]} {'yes' if s else 'no'}" for p, s in zip(points, seen, strict=True))
        out.append(Boundary(f"{guards.words(node)} ({where})", proved, engine, seen == expected))
    return out


def prove(pathway: Pathway) -> Proofs:
    cases, gaps, overlaps = coverage(pathway)
    return Proofs(cases, tuple(gaps), tuple(overlaps), tuple(boundaries(pathway)))
