"""Patients per whole-minute value: a time distribution kept as a numpy histogram.

A cohort's times (presentation to each final state, signs to escalation, the study
times of the validation) take tens of thousands of distinct minute values. Kept in
Python Counters, every chunk's merge walked each key in the interpreter; here a
chunk's values are counted with ``np.bincount`` and chunks merge by adding arrays.
Reads see a plain mapping from minute value to count, in ascending order, so the
figures built from it do not depend on how the counts were stored.

Memory stays bounded whatever the values: the dense window spans at most
``SPAN_LIMIT`` minutes; the rare value outside it is kept in a dict.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

SPAN_LIMIT = 1 << 20
"""Widest dense window (minutes, about two years): 8 MB of counts at most per distribution."""


class MinuteCounts:
    """Counts per integer minute value; merges exactly, in any order."""

    __slots__ = ("_dense", "_lo", "_sparse")

    def __init__(self) -> None:
        self._lo = 0
        self._dense = np.zeros(0, dtype=np.int64)
        self._sparse: dict[int, int] = {}  # one-at-a-time adds and values outside the dense window

    def add(self, value: int, count: int = 1) -> None:
        """One value (the per-patient engine): kept aside until the counts are read or merged."""
        self._sparse[value] = self._sparse.get(value, 0) + count

    def add_values(self, values: np.ndarray) -> None:
        """Every value of an integer array counted once (a chunk of patients)."""
        if not values.size:
            return
        lo = int(values.min())
        if int(values.max()) - lo < SPAN_LIMIT:
            self._add_counts(lo, np.bincount(values - lo))
        else:
            self._add_aside(*np.unique(values, return_counts=True))

    def merge(self, other: MinuteCounts) -> None:
        if other._dense.size:
            self._add_counts(other._lo, other._dense)
        for value, count in other._sparse.items():
            self.add(value, count)

    def _add_counts(self, lo: int, counts: np.ndarray) -> None:
        """Counts of the values lo, lo + 1, ...: into the window, widened while it stays in bounds, else aside."""
        if not self._dense.size:
            self._lo, self._dense = lo, counts.astype(np.int64, copy=True)
            return
        new_lo = min(lo, self._lo)
        new_hi = max(lo + counts.size, self._lo + self._dense.size)
        if new_hi - new_lo > SPAN_LIMIT:
            present = np.flatnonzero(counts)
            self._add_aside(lo + present, counts[present])
            return
        if new_lo != self._lo or new_hi - new_lo != self._dense.size:
            wider = np.zeros(new_hi - new_lo, dtype=np.int64)
            wider[self._lo - new_lo : self._lo - new_lo + self._dense.size] = self._dense
            self._lo, self._dense = new_lo, wider
        self._dense[lo - self._lo : lo - self._lo + counts.size] += counts

    def _add_aside(self, values: np.ndarray, counts: np.ndarray) -> None:
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            self.add(value, count)

    def items(self) -> list[tuple[int, int]]:
        """(minute value, count) for every value counted, in ascending order of value."""
        present = np.flatnonzero(self._dense)
        pairs = dict(zip((present + self._lo).tolist(), self._dense[present].tolist(), strict=True))
        for value, count in self._sparse.items():
            pairs[value] = pairs.get(value, 0) + count
        return sorted(pairs.items())

    def counter(self) -> Counter[int]:
        """The counts as a Counter, keys in ascending order (what the summary's figures read)."""
        return Counter(dict(self.items()))

    def __bool__(self) -> bool:
        return bool(self._sparse) or bool(self._dense.any())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MinuteCounts) and self.items() == other.items()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MinuteCounts({dict(self.items())!r})"

    def __getstate__(self) -> tuple[Any, ...]:
        """Sent between processes as the values present and their counts (not the whole window)."""
        present = np.flatnonzero(self._dense)
        return self._lo, present.astype(np.int32), self._dense[present], self._sparse  # the window fits int32

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        lo, present, counts, sparse = state
        size = int(present[-1]) + 1 if present.size else 0
        self._lo, self._dense, self._sparse = lo, np.zeros(size, dtype=np.int64), sparse
        self._dense[present] = counts
