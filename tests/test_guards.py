"""The guard language parses what it should, refuses what it should, and never evaluates Python."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway import guards
from pathway.guards import GuardSyntaxError, parse


class FakeScope:
    event_name = "reassessment"

    def __init__(self, **fields: Any) -> None:
        self.fields = fields

    def field(self, name: str) -> Any:
        return self.fields.get(name)

    def hours_since(self, event: str) -> float | None:
        return 10.0 if event == "dural_puncture" else None

    def hours_since_entered(self, state: str) -> float | None:
        return 48.0

    def count(self, event: str) -> int:
        return 1

    def occurred(self, event: str) -> bool:
        return event == "dural_puncture"


def _resolved(source: str) -> guards.Expr:
    def resolve(node: guards.Expr) -> guards.Expr | None:
        return guards.Field(node.name) if isinstance(node, guards.Name) else None

    return guards.transform(parse(source), resolve)


@pytest.mark.parametrize(
    ("source", "fields", "expected"),
    [
        ("a == 'x'", {"a": "x"}, True),
        ("a != 'x'", {"a": "x"}, False),
        ("a in ['x', 'y']", {"a": "y"}, True),
        ("a not in ['x', 'y']", {"a": "y"}, False),
        ("a >= 38.0", {"a": 38.0}, True),
        ("a >= 38.0", {"a": 37.9}, False),
        ("a >= 38.0", {}, False),  # a missing value never satisfies a comparison
        ("not a >= 38.0", {}, True),
        ("a or b and c", {"a": False, "b": True, "c": False}, False),
        ("(a or b) and c", {"a": True, "c": False}, False),
        ("hours_since_entered(x) >= 48", {}, True),
        ("hours_since(lumbar) <= 72", {}, False),
        ("count(blood_patch) < 2 and occurred(dural_puncture)", {}, True),
        ("not occurred(presentation)", {}, True),
        ("a == true", {"a": True}, True),
    ],
)
def test_evaluation(source: str, fields: dict[str, Any], expected: bool) -> None:
    assert guards.evaluate(_resolved(source), FakeScope(**fields)) is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "empty guard"),
        ("a and", "column 6"),
        ("a ==", "column 5"),
        ("(a", "expected ')'"),
        ("a b", "unexpected 'b' at column 3"),
        ("a.b", "unexpected character '.' at column 2"),
        ("open(x)", "unknown function 'open'"),
        ("a + 1", "unexpected character '+'"),
        ("a in [b]", "expected a number, a quoted string"),
        ("lambda: 1", "unexpected character ':'"),
    ],
)
def test_syntax_errors_name_the_problem(source: str, message: str) -> None:
    with pytest.raises(GuardSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        parse(source)


def test_words_fill_in_thresholds() -> None:
    expr = guards.Compare(
        ">=",
        guards.Call("hours_since_entered", "conservative_therapy", "conservative therapy"),
        guards.Param("reassess_min_h", 48, "h"),
    )
    assert guards.words(expr) == "hours since conservative therapy began ≥ 48 h"


@given(st.text(max_size=40))
def test_parser_never_raises_anything_but_a_syntax_error(source: str) -> None:
    with contextlib.suppress(GuardSyntaxError):
        parse(source)


names = st.sampled_from(["a", "b", "c"])
leaf = st.builds(lambda n: n, names)


def _render(tree: Any) -> str:
    if isinstance(tree, str):
        return tree
    op, left, right = tree
    if op == "not":
        return f"not ({_render(left)})"
    return f"({_render(left)}) {op} ({_render(right)})"


def _truth(tree: Any, env: dict[str, bool]) -> bool:
    if isinstance(tree, str):
        return env[tree]
    op, left, right = tree
    if op == "not":
        return not _truth(left, env)
    if op == "and":
        return _truth(left, env) and _truth(right, env)
    return _truth(left, env) or _truth(right, env)


trees = st.recursive(leaf, lambda inner: st.tuples(st.sampled_from(["and", "or", "not"]), inner, inner), max_leaves=8)


@given(trees, st.fixed_dictionaries({"a": st.booleans(), "b": st.booleans(), "c": st.booleans()}))
def test_boolean_structure_matches_python_semantics(tree: Any, env: dict[str, bool]) -> None:
    assert guards.evaluate(_resolved(_render(tree)), FakeScope(**env)) is _truth(tree, env)
