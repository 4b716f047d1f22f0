"""Guards compiled to array expressions: one evaluation decides a guard for many patients at once.

The same guard tree the loader built (pathway/guards.py) is compiled node by node
into a function over an ``ArrayScope``: a batch of patients, each with the event
it is sending and the facts of its course. Every node keeps the meaning it has in
``guards.compile_expr`` and ``pathway.compiled``: an absent field or clock is None,
a comparison with None is false, ``in`` is set membership, ``and``/``or``/``not``
read truthiness, and numbers compare with Python's rules (``True == 1``).

Values travel as ``Col``: a kind (number, text or flag), the values and a mask of
where they are present. Text is encoded as integer codes into one sorted table of
every string that can occur (``TextCodes``), so equality and ordering of codes are
equality and ordering of the strings. Nothing clinical is here: names, constants
and thresholds all come from the guard trees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import numpy as np

from pathway import guards

NUM, TEXT, FLAG = "number", "text", "flag"


class Col:
    """One value per patient of a batch: ``vals`` where ``ok`` (a scalar broadcasts)."""

    __slots__ = ("kind", "ok", "vals")

    def __init__(self, kind: str, vals: Any, ok: Any = True) -> None:
        self.kind, self.vals, self.ok = kind, vals, ok


class TextCodes:
    """Every string a guard can meet, sorted, so that code order is string order."""

    def __init__(self, strings: Iterable[str]) -> None:
        self.strings = tuple(sorted(set(strings) | {""}))
        self.code = {text: i for i, text in enumerate(self.strings)}
        self.empty = self.code[""]

    def __getitem__(self, text: str) -> int:
        return self.code[text]


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return FLAG
    return NUM if isinstance(value, int | float) else TEXT


def encode(value: Any, codes: TextCodes) -> float:
    """A Python value as the number an array holds (text as its code)."""
    return float(codes[value]) if kind_of(value) == TEXT else float(value)


class ArrayScope(Protocol):
    """What a guard reads about a batch of patients at the moment their events arrive."""

    size: int

    def field(self, name: str) -> Col: ...
    def event_text(self) -> np.ndarray: ...
    def hours_since(self, event: int) -> Col: ...
    def hours_since_entered(self, state: int) -> Col: ...
    def count(self, event: int) -> np.ndarray: ...
    def occurred(self, event: int) -> np.ndarray: ...


ArrayFn = Callable[[ArrayScope], Col]
GuardFn = Callable[[ArrayScope], np.ndarray]


class GuardCompiler:
    """Compiles guard trees of one pathway against one table of text codes."""

    def __init__(self, event_names: tuple[str, ...], state_ids: tuple[str, ...], codes: TextCodes) -> None:
        self.events = {name: i for i, name in enumerate(event_names)}
        self.states = {name: i for i, name in enumerate(state_ids)}
        self.codes = codes

    def guard(self, expr: guards.Expr) -> GuardFn:
        """The guard as a function returning one bool per patient of the scope."""
        value = self.value(expr)

        def decide(scope: ArrayScope) -> np.ndarray:
            mask = self.truthy(value(scope))
            return np.broadcast_to(mask, (scope.size,)) if np.ndim(mask) == 0 else mask

        return decide

    def truthy(self, col: Col) -> Any:
        if col.kind == TEXT:
            return (col.vals != self.codes.empty) & col.ok
        return (col.vals != 0) & col.ok

    def value(self, expr: guards.Expr) -> ArrayFn:
        if isinstance(expr, guards.Const | guards.Param):
            col = self.constant(expr.value)
            return lambda scope: col
        if isinstance(expr, guards.Field):
            name = expr.name
            return lambda scope: scope.field(name)
        if isinstance(expr, guards.EventName):
            return lambda scope: Col(TEXT, scope.event_text())
        if isinstance(expr, guards.PredicateRef):
            return self.value(expr.expr)
        if isinstance(expr, guards.Call):
            return self.call(expr)
        if isinstance(expr, guards.Not):
            inner = self.value(expr.operand)
            return lambda scope: Col(FLAG, ~self.truthy(inner(scope)))
        if isinstance(expr, guards.And | guards.Or):
            parts = tuple(self.value(o) for o in expr.operands)
            combine = np.logical_and if isinstance(expr, guards.And) else np.logical_or

            def connective(scope: ArrayScope) -> Col:
                result = self.truthy(parts[0](scope))
                for part in parts[1:]:
                    result = combine(result, self.truthy(part(scope)))
                return Col(FLAG, result)

            return connective
        if isinstance(expr, guards.Compare):
            return self.compare(expr)
        if isinstance(expr, guards.InList):
            return self.member(expr)
        raise TypeError(f"unresolved guard node {expr!r}")

    def constant(self, value: Any) -> Col:
        if value is None:
            return Col(NUM, 0.0, False)
        return Col(kind_of(value), encode(value, self.codes))

    def call(self, expr: guards.Call) -> ArrayFn:
        if expr.func == "hours_since_entered":
            if expr.arg not in self.states:
                return lambda scope: Col(NUM, 0.0, False)
            state = self.states[expr.arg]
            return lambda scope: scope.hours_since_entered(state)
        index = self.events.get(expr.arg)
        if index is None:  # a name no event carries: never seen, as in pathway.compiled
            absent = {"hours_since": Col(NUM, 0.0, False), "count": Col(NUM, 0.0), "occurred": Col(FLAG, False)}
            col = absent[expr.func]
            return lambda scope: col
        if expr.func == "hours_since":
            return lambda scope: scope.hours_since(index)
        if expr.func == "count":
            return lambda scope: Col(NUM, scope.count(index))
        if expr.func == "occurred":
            return lambda scope: Col(FLAG, scope.occurred(index))
        raise TypeError(f"unknown guard function {expr.func!r}")

    def compare(self, expr: guards.Compare) -> ArrayFn:
        op = expr.op
        compare = guards.COMPARATORS[op]
        left, right = self.value(expr.left), self.value(expr.right)

        def compared(scope: ArrayScope) -> Col:
            a, b = left(scope), right(scope)
            present = a.ok & b.ok
            if (a.kind == TEXT) != (b.kind == TEXT):
                if op not in ("==", "!="):
                    raise TypeError(f"{op!r} between text and a number")  # as Python raises
                return Col(FLAG, present & (op == "!="))
            return Col(FLAG, present & compare(a.vals, b.vals))

        return compared

    def member(self, expr: guards.InList) -> ArrayFn:
        left = self.value(expr.left)
        text = np.array([self.codes[v] for v in expr.values if kind_of(v) == TEXT], dtype=np.float64)
        other = np.array([float(v) for v in expr.values if kind_of(v) != TEXT], dtype=np.float64)
        negated = expr.negated

        def member(scope: ArrayScope) -> Col:
            col = left(scope)
            values = text if col.kind == TEXT else other
            found = np.isin(col.vals, values)
            return Col(FLAG, col.ok & (found != negated))

        return member
