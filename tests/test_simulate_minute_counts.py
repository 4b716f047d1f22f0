"""MinuteCounts counts like a Counter of the values, however they arrive, merge or travel between processes."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway.simulate.minute_counts import SPAN_LIMIT, MinuteCounts

# mostly near values (the dense window), some far apart (beyond the window's limit), negatives too
VALUE = st.one_of(
    st.integers(-50, 500),
    st.integers(-(2**40), 2**40),
    st.integers(SPAN_LIMIT - 3, SPAN_LIMIT + 3),
)
WIDE = settings(deadline=None)  # a window near its limit takes megabytes to build
PIECES = st.lists(st.tuples(st.booleans(), st.lists(VALUE, max_size=40)), max_size=6)


def built(pieces: list[tuple[bool, list[int]]]) -> MinuteCounts:
    """Each piece added either as one array (a chunk) or value by value (the per-patient engine)."""
    out = MinuteCounts()
    for as_array, values in pieces:
        if as_array:
            out.add_values(np.array(values, dtype=np.int64))
        else:
            for value in values:
                out.add(value)
    return out


def expected(*groups: list[tuple[bool, list[int]]]) -> list[tuple[int, int]]:
    return sorted(Counter(v for pieces in groups for _, values in pieces for v in values).items())


@WIDE
@given(PIECES)
def test_counts_every_value_once(pieces: list[tuple[bool, list[int]]]) -> None:
    counts = built(pieces)
    assert counts.items() == expected(pieces)
    assert counts.counter() == Counter(dict(expected(pieces)))
    assert list(counts.counter()) == sorted(counts.counter())
    assert bool(counts) == bool(expected(pieces))


@WIDE
@given(PIECES, PIECES, PIECES)
def test_merges_in_any_order_to_the_same_counts(
    a: list[tuple[bool, list[int]]], b: list[tuple[bool, list[int]]], c: list[tuple[bool, list[int]]]
) -> None:
    left = built(a)
    left.merge(built(b))
    left.merge(built(c))
    right = built(c)
    right.merge(built(a))
    right.merge(built(b))
    assert left == right
    assert left.items() == expected(a, b, c)


@WIDE
@given(PIECES, PIECES)
def test_pickles_to_equal_counts_that_still_merge(
    a: list[tuple[bool, list[int]]], b: list[tuple[bool, list[int]]]
) -> None:
    travelled = pickle.loads(pickle.dumps(built(a)))
    assert travelled.items() == expected(a)
    travelled.merge(built(b))
    assert travelled.items() == expected(a, b)


def test_merging_does_not_change_the_merged_counts() -> None:
    source = built([(True, [1, 2, 2])])
    target = built([(True, [2, 3])])
    target.merge(source)
    target.add_values(np.array([1, 1]))
    assert source.items() == [(1, 1), (2, 2)]
    assert target.items() == [(1, 3), (2, 3), (3, 1)]


def test_far_values_do_not_widen_the_window_without_bound() -> None:
    counts = MinuteCounts()
    counts.add_values(np.array([0, 5, 10**12, -(10**12)], dtype=np.int64))
    counts.merge(built([(True, [3, 2**50])]))
    assert counts._dense.size <= SPAN_LIMIT
    assert counts.items() == [(-(10**12), 1), (0, 1), (3, 1), (5, 1), (10**12, 1), (2**50, 1)]
