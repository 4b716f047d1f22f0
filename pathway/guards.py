"""The guard language: a small boolean language over named predicates.

Guards in a definition file are untrusted text, so they are tokenised and parsed
here by hand into a tree of frozen nodes; nothing is ever passed to ``eval``.

Grammar::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand [(== | != | < | <= | > | >=) operand | ["not"] "in" list]
    operand    := NUMBER | STRING | true | false | NAME | NAME "(" NAME ")" | "(" expr ")"
    list       := "[" literal ("," literal)* "]"

A parsed tree holds bare ``Name`` nodes; the loader resolves each one to a
parameter, a named predicate, an event field or the current event's name.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import attrs

from pathway.attrs_repr import AttrsRepr
from pathway.limits import MAX_GUARD_CHARS, MAX_GUARD_DEPTH, MAX_GUARD_NODES

FUNCTIONS = ("hours_since", "hours_since_entered", "count", "occurred")
"""Built-in context functions: the first, third and fourth take an event name,
``hours_since_entered`` takes a state id."""

COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_OP_WORDS = {"==": "is", "!=": "is not", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


class GuardSyntaxError(ValueError):
    """A guard that does not parse; the message names the column."""


class Scope(Protocol):
    """What a guard can read about the patient at the moment an event arrives."""

    @property
    def event_name(self) -> str: ...

    def field(self, name: str) -> Any: ...
    def hours_since(self, event: str) -> float | None: ...
    def hours_since_entered(self, state: str) -> float | None: ...
    def count(self, event: str) -> int: ...
    def occurred(self, event: str) -> bool: ...


# ---------------------------------------------------------------- tree nodes


@attrs.frozen(repr=False)
class Const(AttrsRepr):
    value: Any


@attrs.frozen(repr=False)
class Name(AttrsRepr):
    name: str


@attrs.frozen(repr=False)
class Param(AttrsRepr):
    name: str
    value: Any
    unit: str = ""


@attrs.frozen(repr=False)
class Field(AttrsRepr):
    name: str
    label: str = ""


@attrs.frozen(repr=False)
class EventName(AttrsRepr):
    pass


@attrs.frozen(repr=False)
class PredicateRef(AttrsRepr):
    name: str
    expr: Expr
    text: str = ""
    text_not: str = ""


@attrs.frozen(repr=False)
class Call(AttrsRepr):
    func: str
    arg: str
    arg_label: str = ""


@attrs.frozen(repr=False)
class Not(AttrsRepr):
    operand: Expr


@attrs.frozen(repr=False)
class And(AttrsRepr):
    operands: tuple[Expr, ...]


@attrs.frozen(repr=False)
class Or(AttrsRepr):
    operands: tuple[Expr, ...]


@attrs.frozen(repr=False)
class Compare(AttrsRepr):
    op: str
    left: Expr
    right: Expr


@attrs.frozen(repr=False)
class InList(AttrsRepr):
    left: Expr
    values: tuple[Any, ...]
    negated: bool = False


Expr = Const | Name | Param | Field | EventName | PredicateRef | Call | Not | And | Or | Compare | InList


# ---------------------------------------------------------------- parsing

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?)
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}


@attrs.frozen(repr=False)
class _Token(AttrsRepr):
    kind: str
    text: str
    column: int


def _tokenise(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if not match or match.end() == pos:
            column = pos + len(source[pos:]) - len(source[pos:].lstrip()) + 1
            raise GuardSyntaxError(f"unexpected character {source[column - 1]!r} at column {column}")
        group = match.lastgroup or ""
        text = match.group(group)
        kind = text if group == "name" and text in _KEYWORDS else group
        tokens.append(_Token(kind, text, match.start(group) + 1))
        pos = match.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenise(source)
        if len(self.tokens) > MAX_GUARD_NODES:
            raise GuardSyntaxError(f"more than {MAX_GUARD_NODES} words and symbols")
        self.pos = 0
        self.depth = 0

    def _deeper(self) -> None:
        # an explicit bound, well inside Python's stack, that every later walk of the tree can rely on
        self.depth += 1
        if self.depth > MAX_GUARD_DEPTH:
            raise GuardSyntaxError(
                f"nested more than {MAX_GUARD_DEPTH} deep ('not' or parentheses) at column {self.token.column}"
            )

    @property
    def token(self) -> _Token:
        return self.tokens[self.pos]

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.token
        if token.kind != kind or (text is not None and token.text != text):
            wanted = text or kind
            found = token.text or "end of guard"
            raise GuardSyntaxError(f"expected {wanted!r} at column {token.column}, found {found!r}")
        self.pos += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> bool:
        if self.token.kind == kind and (text is None or self.token.text == text):
            self.pos += 1
            return True
        return False

    def parse(self) -> Expr:
        expr = self.or_()
        if self.token.kind != "end":
            raise GuardSyntaxError(f"unexpected {self.token.text!r} at column {self.token.column}")
        return expr

    def or_(self) -> Expr:
        operands = [self.and_()]
        while self.accept("or"):
            operands.append(self.and_())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_(self) -> Expr:
        operands = [self.not_()]
        while self.accept("and"):
            operands.append(self.not_())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def not_(self) -> Expr:
        if self.accept("not"):
            self._deeper()
            inner = Not(self.not_())
            self.depth -= 1
            return inner
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.operand()
        if self.token.kind == "op" and self.token.text in COMPARATORS:
            op = self.take("op").text
            return Compare(op, left, self.operand())
        negated = False
        if self.token.kind == "not" and self.tokens[self.pos + 1].kind == "in":
            self.pos += 1
            negated = True
        if self.accept("in"):
            return InList(left, self.literal_list(), negated)
        return left

    def literal(self) -> Any:
        token = self.token
        if token.kind == "number":
            self.pos += 1
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "string":
            self.pos += 1
            return token.text[1:-1]
        if self.accept("true"):
            return True
        if self.accept("false"):
            return False
        raise GuardSyntaxError(f"expected a number, a quoted string, true or false at column {token.column}")

    def literal_list(self) -> tuple[Any, ...]:
        self.take("op", "[")
        values = [self.literal()]
        while self.accept("op", ","):
            values.append(self.literal())
        self.take("op", "]")
        return tuple(values)

    def operand(self) -> Expr:
        token = self.token
        if token.kind in ("number", "string", "true", "false"):
            return Const(self.literal())
        if self.accept("op", "("):
            self._deeper()
            inner = self.or_()
            self.take("op", ")")
            self.depth -= 1
            return inner
        if token.kind == "name":
            self.pos += 1
            if self.accept("op", "("):
                if token.text not in FUNCTIONS:
                    raise GuardSyntaxError(
                        f"unknown function {token.text!r} at column {token.column} (known: {', '.join(FUNCTIONS)})"
                    )
                arg = self.take("name").text
                self.take("op", ")")
                return Call(token.text, arg)
            return Name(token.text)
        found = token.text or "end of guard"
        raise GuardSyntaxError(f"expected a value or a name at column {token.column}, found {found!r}")


def parse(source: str) -> Expr:
    """Parse a guard. Raises GuardSyntaxError naming the column."""
    if not source.strip():
        raise GuardSyntaxError("empty guard")
    if len(source) > MAX_GUARD_CHARS:
        raise GuardSyntaxError(f"longer than {MAX_GUARD_CHARS} characters")
    return _Parser(source).parse()


# ---------------------------------------------------------------- walking


def children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, Not):
        return (expr.operand,)
    if isinstance(expr, And | Or):
        return expr.operands
    if isinstance(expr, Compare):
        return (expr.left, expr.right)
    if isinstance(expr, InList):
        return (expr.left,)
    return ()


def extent(expr: Expr, memo: dict[int, tuple[Expr, int, int]] | None = None) -> tuple[int, int]:
    """(nodes, depth) of ``expr`` with every named predicate written out in place.

    That is what evaluating, compiling or exploring the guard costs. Each predicate's tree
    is measured once (``memo``, shared across calls), so measuring a chain of predicates
    that each use the previous one twice costs the length of the chain, not the size of
    its expansion.
    """
    memo = {} if memo is None else memo
    if isinstance(expr, PredicateRef):
        known = memo.get(id(expr.expr))
        if known is None:
            known = (expr.expr, *extent(expr.expr, memo))  # the tree is kept so its id stays its own
            memo[id(expr.expr)] = known
        return known[1] + 1, known[2] + 1
    parts = [extent(child, memo) for child in children(expr)]
    return 1 + sum(n for n, _ in parts), 1 + max((d for _, d in parts), default=0)


def walk(expr: Expr, into_predicates: bool = False) -> Iterator[Expr]:
    """Every node of the tree, depth first; optionally through named predicates."""
    yield expr
    if into_predicates and isinstance(expr, PredicateRef):
        yield from walk(expr.expr, into_predicates)
    for child in children(expr):
        yield from walk(child, into_predicates)


def transform(expr: Expr, fn: Callable[[Expr], Expr | None]) -> Expr:
    """Rebuild the tree bottom up; ``fn`` returns a replacement or None to keep a node."""
    if isinstance(expr, Not):
        expr = Not(transform(expr.operand, fn))
    elif isinstance(expr, And):
        expr = And(tuple(transform(o, fn) for o in expr.operands))
    elif isinstance(expr, Or):
        expr = Or(tuple(transform(o, fn) for o in expr.operands))
    elif isinstance(expr, Compare):
        expr = Compare(expr.op, transform(expr.left, fn), transform(expr.right, fn))
    elif isinstance(expr, InList):
        expr = InList(transform(expr.left, fn), expr.values, expr.negated)
    replaced = fn(expr)
    return expr if replaced is None else replaced


# ---------------------------------------------------------------- evaluation

Compiled = Callable[[Scope], Any]


def compile_expr(expr: Expr) -> Compiled:
    """Turn a resolved tree into a closure; unknown or absent values make comparisons false."""
    if isinstance(expr, Const | Param):
        value = expr.value
        return lambda scope: value
    if isinstance(expr, Field):
        name = expr.name
        return lambda scope: scope.field(name)
    if isinstance(expr, EventName):
        return lambda scope: scope.event_name
    if isinstance(expr, PredicateRef):
        return compile_expr(expr.expr)
    if isinstance(expr, Call):
        method, arg = expr.func, expr.arg
        return lambda scope: getattr(scope, method)(arg)
    if isinstance(expr, Not):
        inner = compile_expr(expr.operand)
        return lambda scope: not inner(scope)
    if isinstance(expr, And):
        parts = tuple(compile_expr(o) for o in expr.operands)
        return lambda scope: all(part(scope) for part in parts)
    if isinstance(expr, Or):
        parts = tuple(compile_expr(o) for o in expr.operands)
        return lambda scope: any(part(scope) for part in parts)
    if isinstance(expr, Compare):
        compare = COMPARATORS[expr.op]
        left, right = compile_expr(expr.left), compile_expr(expr.right)

        def compared(scope: Scope) -> bool:
            a, b = left(scope), right(scope)
            if a is None or b is None:
                return False
            return bool(compare(a, b))

        return compared
    if isinstance(expr, InList):
        left_fn, values, negated = compile_expr(expr.left), frozenset(expr.values), expr.negated

        def member(scope: Scope) -> bool:
            value = left_fn(scope)
            if value is None:
                return False
            return (value in values) != negated

        return member
    raise TypeError(f"unresolved guard node {expr!r}")


def evaluate(expr: Expr | None, scope: Scope) -> bool:
    return True if expr is None else bool(compile_expr(expr)(scope))


# ---------------------------------------------------------------- words


def _value_words(value: Any) -> str:
    if isinstance(value, str):
        return value.replace("_", " ")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def words(expr: Expr | None) -> str:
    """The guard as a clinician reads it, with the real thresholds filled in."""
    if expr is None:
        return "always"
    if isinstance(expr, Const):
        return _value_words(expr.value)
    if isinstance(expr, Param):
        return f"{expr.value} {expr.unit}".strip()
    if isinstance(expr, Field):
        return expr.label or expr.name.replace("_", " ")
    if isinstance(expr, EventName):
        return "event"
    if isinstance(expr, PredicateRef):
        # by reference: a predicate is named, never written out again (its text is its own entry)
        return expr.text or expr.name.replace("_", " ")
    if isinstance(expr, Call):
        label = expr.arg_label or expr.arg.replace("_", " ")
        return {
            "hours_since": f"hours since {label}",
            "hours_since_entered": f"hours since {label} began",
            "count": f"{label} count",
            "occurred": f"{label} recorded",
        }[expr.func]
    if isinstance(expr, Not):
        inner = expr.operand
        if isinstance(inner, PredicateRef) and inner.text_not:
            return inner.text_not
        if isinstance(inner, Call) and inner.func == "occurred":
            return f"no {inner.arg_label or inner.arg.replace('_', ' ')} recorded"
        return f"not {_grouped(inner)}"
    if isinstance(expr, And):
        return " and ".join(_grouped(o) for o in expr.operands)
    if isinstance(expr, Or):
        return " or ".join(_grouped(o) for o in expr.operands)
    if isinstance(expr, Compare):
        return f"{words(expr.left)} {_OP_WORDS[expr.op]} {words(expr.right)}"
    if isinstance(expr, InList):
        joined = " or ".join(_value_words(v) for v in expr.values)
        return f"{words(expr.left)} {'is not' if expr.negated else 'is'} {joined}"
    raise TypeError(f"unresolved guard node {expr!r}")


def _grouped(expr: Expr) -> str:
    text = words(expr)
    return f"({text})" if isinstance(expr, And | Or) else text
