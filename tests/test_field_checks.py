"""The field checks prepared once per vocabulary (pathway.events._checker) judge every value as the
full check (_check_value) does: the quick acceptance of the usual valid value never lets through
what the full check refuses, and every refusal keeps the full check's words."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pathway import events
from pathway.loader import load
from pathway.model import FieldSpec

SHIPPED = [field for spec in load().events for field in spec.fields]
BOUND = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20)
SPECS = st.sampled_from(SHIPPED) | st.builds(
    FieldSpec,
    name=st.just("f"),
    type=st.sampled_from(["int", "number", "bool", "string", "enum"]),
    values=st.lists(st.text(max_size=3), max_size=3).map(tuple),
    minimum=BOUND,
    maximum=BOUND,
)
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**400), 10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5)
    | st.sampled_from([value for field in SHIPPED for value in field.values] or [""]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2),
    max_leaves=3,
)


def near(bound: float | None) -> st.SearchStrategy[Any]:
    """Values at and around a bound, as ints and floats: where a quick range check would go wrong."""
    if bound is None or bound != bound or abs(bound) == float("inf"):
        return st.nothing()
    offsets = st.sampled_from([0, 0.5, 1, 1e-9]) | st.floats(-2, 2)
    around = st.builds(lambda d, sign: bound + sign * d, offsets, st.sampled_from([-1, 1]))
    return around | around.map(lambda v: int(v) if abs(v) < 1e18 else v)


@settings(max_examples=800, deadline=None)
@given(spec=SPECS, data=st.data())
def test_a_prepared_check_says_what_the_full_check_says(spec: FieldSpec, data: st.DataObject) -> None:
    value = data.draw(VALUES | near(spec.minimum) | near(spec.maximum))
    assert events._checker(spec)(value) == events._check_value(spec, value)


def test_the_shipped_vocabulary_has_every_kind_of_field_the_quick_paths_serve() -> None:
    # the comparison above meets each quick path on real fields, not only on generated ones
    kinds = {field.type for field in SHIPPED}
    bounded = {field.type for field in SHIPPED if field.minimum is not None and field.maximum is not None}
    assert {"enum", "number"} <= kinds and bounded
