"""The per-patient numbers every figure of a cohort is built from, and their paired differences.

A patient's course under one policy gives one MEASURES vector of whole numbers
(imaging studies, radiation in thousandths of a mSv, patches, escalated or not, ...).
Aggregates count patients per distinct vector, so any mean and variance of the
cohort comes out exact; Paired keeps the sums of the per-patient differences between
a policy and the reference policy on the same patients, for paired intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pathway.model import RATINGS

NOT_APPROPRIATE = RATINGS[-1]
"""The lowest ACR rating: a study ordered with it is counted apart."""
MILLI = 1000
"""Radiation is added up in thousandths of a mSv, as integers (exact in any order)."""

MEASURES = (
    "imaging_studies",
    "usually_not_appropriate_studies",
    "radiation_milli_msv",
    "contrast_exposures",
    "blood_patches",
    "patched",
    "imaged",
    "escalated",
    "complication",
    "complication_not_escalated",
)
BINARY = frozenset({"patched", "imaged", "escalated", "complication", "complication_not_escalated"})
INDEX = {name: i for i, name in enumerate(MEASURES)}
PAIRED_TIMES = ("time_to_escalation", "time_to_resolution")


def vector(
    imaging: Sequence[tuple[Any, ...]],
    milli_dose: dict[str, int],
    contrast: frozenset[str],
    patches: int,
    escalated: bool,
    complication: bool,
) -> tuple[int, ...]:
    """One patient's MEASURES under one policy."""
    return (
        len(imaging),
        sum(1 for order in imaging if order[2] == NOT_APPROPRIATE),
        sum(milli_dose[order[3]] for order in imaging),
        sum(1 for order in imaging if order[1] in contrast),
        patches,
        int(patches > 0),
        int(bool(imaging)),
        int(escalated),
        int(complication),
        int(complication and not escalated),
    )


class Paired:
    """Sums of per-patient differences (policy minus reference) for each measure and paired time."""

    def __init__(self) -> None:
        self.n = 0
        # per measure: sum d, sum d^2, and for a 0/1 measure the cells both, only policy, only reference
        self.sums = [[0, 0, 0, 0, 0] for _ in MEASURES]
        self.times = {name: [0, 0, 0] for name in PAIRED_TIMES}  # n, sum d, sum d^2 (minutes)

    def add(self, policy: tuple[int, ...], reference: tuple[int, ...]) -> None:
        self.n += 1
        for k, (x, y) in enumerate(zip(policy, reference, strict=True)):
            if x == y == 0:
                continue
            row = self.sums[k]
            d = x - y
            row[0] += d
            row[1] += d * d
            if x and y:
                row[2] += 1
            elif x:
                row[3] += 1
            elif y:
                row[4] += 1

    def add_time(self, name: str, policy: int | None, reference: int | None) -> None:
        if policy is None or reference is None:
            return
        row = self.times[name]
        d = policy - reference
        row[0] += 1
        row[1] += d
        row[2] += d * d

    def merge(self, other: Paired) -> None:
        self.n += other.n
        for mine, theirs in zip(self.sums, other.sums, strict=True):
            for i, value in enumerate(theirs):
                mine[i] += value
        for name, row in other.times.items():
            for i, value in enumerate(row):
                self.times[name][i] += value
