"""Each patient's measures, study facts and paired differences, for a whole chunk at once.

The array counterparts of ``measures.vector``, ``cohort_facts.patient_facts`` and
``Paired.add``/``add_time``: the same numbers land in the same Counters and sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pathway.simulate.aggregate import Aggregate
from pathway.simulate.array_aggregate import count_rows
from pathway.simulate.cohort_facts import DAY, HOUR, FactContext
from pathway.simulate.course_arrays import NONE, CourseArrays
from pathway.simulate.measures import PAIRED_TIMES, Paired
from pathway.simulate.natural import IN_SCOPE, LATE, HistoryColumns

# the facts of cohort_facts.patient_facts, in the order it lists them (complication ones apart)
_FLAGS = (
    "pdph",
    "in_scope",
    "onset_24h",
    "onset_48h",
    "onset_72h",
    "patched",
    "first_patch_complete",
    "patched_twice",
    "refractory",
    "resolved_without_patch",
    "headache_24h_at_presentation",
    "untreated_7d_after_24h_headache",
)
_COMPLICATION, _ESCALATED, _ON_RETURN = 1 << len(_FLAGS), 1 << (len(_FLAGS) + 1), 1 << (len(_FLAGS) + 2)


def measures(courses: CourseArrays, history: HistoryColumns) -> np.ndarray:
    """measures.vector of every patient: one row each, in MEASURES order."""
    studies, unrated, milli, contrast = courses.order_sums
    patches = courses.patches
    escalated = (courses.t_escalated != NONE).astype(np.int64)
    complication = (history.complication >= 0).astype(np.int64)
    return np.column_stack(
        (
            studies,
            unrated,
            milli,
            contrast,
            patches,
            (patches > 0).astype(np.int64),
            (studies > 0).astype(np.int64),
            escalated,
            complication,
            complication & (1 - escalated),
        )
    )


def add_measures(aggregate: Aggregate, vectors: np.ndarray) -> None:
    distinct, counts = count_rows(vectors)
    for row, count in zip(distinct.tolist(), counts.tolist(), strict=True):
        aggregate.measures[tuple(row)] += count


def times(courses: CourseArrays, history: HistoryColumns, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """cohort._times of every patient: (minutes to escalation, minutes to resolution), NONE where not defined."""
    escalated = (courses.t_escalated != NONE) & (history.complication >= 0)  # signs to escalation: needs signs
    escalation = np.where(escalated, np.maximum(courses.t_escalated - history.t_manifest, 0), NONE)
    resolved = (courses.state == resolution) & (courses.t_end != NONE)
    return escalation, np.where(resolved, courses.t_end - history.t_present, NONE)


def add_paired(pairs: Paired, policy: np.ndarray, reference: np.ndarray) -> None:
    """Paired.add for every patient: sums of the differences, their squares and the 0/1 cells."""
    pairs.n += len(policy)
    d = policy - reference
    for k, row in enumerate(pairs.sums):
        x, y = policy[:, k], reference[:, k]
        row[0] += int(d[:, k].sum())
        row[1] += int((d[:, k] * d[:, k]).sum())
        row[2] += int(((x != 0) & (y != 0)).sum())
        row[3] += int(((x != 0) & (y == 0)).sum())
        row[4] += int(((x == 0) & (y != 0)).sum())


def add_paired_times(pairs: Paired, policy: tuple[np.ndarray, ...], reference: tuple[np.ndarray, ...]) -> None:
    for name, x, y in zip(PAIRED_TIMES, policy, reference, strict=True):
        both = (x != NONE) & (y != NONE)
        d = (x - y)[both]
        row = pairs.times[name]
        row[0] += int(both.sum())
        row[1] += int(d.sum())
        row[2] += int((d * d).sum())


def add_facts(aggregate: Aggregate, courses: CourseArrays, history: HistoryColumns, ctx: FactContext) -> None:
    """patient_facts of every PDPH patient, counted as Aggregate.add counts them."""
    h = history
    pdph = np.flatnonzero((h.case == IN_SCOPE) | (h.case == LATE))
    if not pdph.size:
        return
    onset = (h.t_onset - h.t_puncture)[pdph]
    patches = courses.patches[pdph]
    state = courses.state[pdph]
    resolved = (state == ctx.resolution) & (courses.t_end[pdph] != NONE)
    lasted = (h.t_present - h.t_onset)[pdph]
    day_long = (lasted >= DAY) & (lasted < 7 * DAY)
    flags = (
        np.ones(pdph.size, dtype=bool),
        h.case[pdph] == IN_SCOPE,
        onset <= 24 * HOUR,
        onset <= 48 * HOUR,
        onset <= 72 * HOUR,
        patches > 0,
        (patches > 0) & (h.relief[pdph, 0] == 0),
        patches >= 2,
        state == ctx.refractory,
        resolved & (patches == 0),
        day_long,
        day_long & (h.t_resolve[pdph] > h.t_present[pdph] + 7 * DAY),
    )
    bits = np.zeros(pdph.size, dtype=np.int64)
    for k, flag in enumerate(flags):
        bits |= flag.astype(np.int64) << k
    complication = h.complication[pdph]
    escalated = (complication >= 0) & (courses.t_escalated[pdph] != NONE)
    bits |= np.where(complication >= 0, _COMPLICATION, 0)
    bits |= np.where(escalated, _ESCALATED, 0)
    bits |= np.where(escalated & (courses.escalated_episode[pdph] > 1), _ON_RETURN, 0)
    puncture = h.puncture[pdph]
    distinct, counts = count_rows(np.column_stack((puncture, bits, complication)))
    for (p, b, c), count in zip(distinct.tolist(), counts.tolist(), strict=True):
        aggregate.fact_sets[(p, _names(b, c, ctx))] += count
    first_patch = (courses.t_first_patch - h.t_puncture)[pdph]
    to_resolution = (courses.t_end - h.t_onset)[pdph]
    for name, keep, minutes in (
        ("onset", np.ones(pdph.size, dtype=bool), onset),
        ("puncture_to_first_patch", patches > 0, first_patch),
        ("onset_to_resolution", resolved, to_resolution),
    ):
        kept, kept_minutes = puncture[keep], minutes[keep]
        for p in np.flatnonzero(np.bincount(kept)).tolist():  # puncture kinds: no sort
            aggregate.fact_time(p, name).add_values(kept_minutes[kept == p])


def _names(bits: int, complication: int, ctx: FactContext) -> tuple[str, ...]:
    names: list[Any] = [name for k, name in enumerate(_FLAGS) if bits >> k & 1]
    if bits & _COMPLICATION:
        which = ctx.complication_facts[complication]
        names += ["complication", which]
        if bits & _ESCALATED:
            names += ["complication_escalated", f"{which}.escalated"]
            if bits & _ON_RETURN:
                names += ["escalated_on_return", f"{which}.on_return"]
    return tuple(names)
