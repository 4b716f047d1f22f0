"""A chunk's course arrays added into an ``Aggregate``: the same totals ``Aggregate.add`` keeps, by array operations.

Every count is computed over the whole chunk at once (unique rows, bincounts,
scatter-adds) and lands in the same Counters and lists as the per-patient engine's,
so merging and ``summary.build`` are shared and summary.json cannot tell the
engines apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pathway.simulate.aggregate import OCCUPANCY_HOURS, Aggregate
from pathway.simulate.course_arrays import NONE, CourseArrays
from pathway.simulate.field_table import FieldTable, Vital
from pathway.simulate.minute_counts import MinuteCounts
from pathway.simulate.natural import HistoryColumns


def packed(matrix: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each row's kept entries moved to the left, in order, and -1 after them; how many were kept)."""
    valid = keep
    order = np.argsort(~valid, axis=1, kind="stable")
    values = np.take_along_axis(matrix, order, axis=1)
    lengths = valid.sum(axis=1)
    values[np.arange(values.shape[1]) >= lengths[:, None]] = -1
    return values, lengths


_MIX = np.random.default_rng(20260601).integers(1, 2**63, size=256, dtype=np.int64).astype(np.uint64) | np.uint64(1)


def count_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of an int64 matrix and how often each occurs (in no particular order)."""
    if not len(rows) or not rows.shape[1]:
        return rows[:1], np.array([len(rows)] if len(rows) else [], dtype=np.int64)
    first, inverse, counts = hash_groups(rows)
    representative = rows[first]
    if not (representative[inverse] == rows).all():  # two different rows with one hash: sort them out exactly
        contiguous = np.ascontiguousarray(rows)
        keys = contiguous.view(np.dtype((np.void, contiguous.dtype.itemsize * contiguous.shape[1]))).ravel()
        _, first, counts = np.unique(keys, return_index=True, return_counts=True)
        representative = contiguous[first]
    return representative, counts


def hash_groups(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(one row of each group, group of each row, group sizes) by a 64-bit hash of each row; groups in hash order."""
    width = rows.shape[1]
    mix = _MIX[np.arange(width) % len(_MIX)] * (np.arange(width, dtype=np.uint64) // len(_MIX) + 1)
    hashes = rows.astype(np.uint64) @ mix if width else np.zeros(len(rows), dtype=np.uint64)
    # np.unique(return_index, return_inverse, return_counts) sorts stably: 2.5x the cost of this plain argsort
    order = np.argsort(hashes)
    ordered = hashes[order]
    starts_group = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = np.cumsum(starts_group) - 1
    return order[starts], inverse, np.diff(np.append(starts, len(ordered)))


def add_courses(
    aggregate: Aggregate,
    courses: CourseArrays,
    history: HistoryColumns,
    table: FieldTable,
    counted_fields: Sequence[tuple[str, ...]],
    imaging_keys: Sequence[tuple[int, str, str, str]],
    shape_cache: ShapeCache | None = None,
) -> None:
    """What ``Aggregate.add`` does for each patient (but the measures and facts), for all of ``courses``."""
    _shapes(aggregate, courses, history.case, table, shape_cache)
    _field_values(aggregate, courses, table, counted_fields)
    ended = courses.t_end != NONE
    _count_by(aggregate.time_to_end, courses.state[ended], (courses.t_end - history.t_present)[ended])
    complication = history.complication
    for k in range(len(aggregate.complication_patients)):
        mine = complication == k
        escalated = mine & (courses.t_escalated != NONE)
        aggregate.complication_patients[k] += int(mine.sum())
        aggregate.complication_escalated[k] += int(escalated.sum())
        aggregate.complication_missed[k] += int((mine & ~escalated).sum())
        delay = np.maximum(courses.t_escalated[escalated] - history.t_manifest[escalated], 0)
        _count_by(aggregate.time_to_escalation, np.full(delay.size, k), delay)
    aggregate.patients_imaged += int((courses.imaging.length > 0).sum())
    for order, count in courses.orders.items():
        aggregate.imaging[imaging_keys[order]] += count
    aggregate.patients_contrast += int((courses.order_sums[3] > 0).sum())
    returned = courses.episode > 1
    aggregate.returned += int(returned.sum())
    aggregate.return_episodes += int((courses.episode - 1).sum())
    for states in courses.return_final:
        for state, count in enumerate(np.bincount(states, minlength=len(aggregate.return_final)).tolist()):
            aggregate.return_final[state] += count
    aggregate.escalated_on_return += int((courses.escalated_episode > 1).sum())
    _occupancy(aggregate, courses)


ShapeCache = dict[tuple[int, ...], tuple[Any, ...]]
"""Course shape per fingerprint row, kept across a process's chunks (a few hundred shapes recur)."""
_CACHE_LIMIT = 10_000
"""A few hundred shapes recur in a cohort; past this many (under a few MB), the cache starts again."""


def _shapes(
    aggregate: Aggregate, courses: CourseArrays, case: np.ndarray, table: FieldTable, cache: ShapeCache | None = None
) -> None:
    """Course shapes counted by fingerprint; one patient per new shape spells its sequences out."""
    still_open = (courses.t_end == NONE).astype(np.int64)
    head = (case, courses.state, courses.rejected, courses.reviews, courses.patches, still_open)
    lengths = (courses.taken.length, courses.accepted)
    taken_print, accepted_print = courses.taken_print, courses.accepted_print  # computed on each read
    prints = (taken_print[0], accepted_print[0])
    checks = (taken_print[1], accepted_print[1])
    rows = np.column_stack((*head, *lengths, *(p.view(np.int64) for p in prints)))
    first, inverse, counts = hash_groups(rows)
    check = np.column_stack((rows, *(c.view(np.int64) for c in checks)))
    if not (check[first][inverse] == check).all():  # a fingerprint collision: fall back to the full sequences
        _shapes_exactly(aggregate, courses, case, table)
        return
    picked = first.tolist()
    # the whole row (both 64-bit fingerprints of each sequence) names a shape, in this chunk as in others
    keys = [tuple(row) for row in check[first].tolist()]
    cache = {} if cache is None else cache
    named = {key: cache.get(key) for key in keys}  # read once: another thread may clear the cache
    new = [j for j, key in zip(picked, keys, strict=True) if named[key] is None]
    if new:
        if len(cache) + len(new) > _CACHE_LIMIT:
            cache.clear()
        taken, sent = courses.taken.lists(new), courses.sent.lists(new)
        for j in new:
            mine = zip(sent[j]["plan"], sent[j]["ok"], sent[j]["episode"], strict=True)
            events = [int(table.plan_event[p]) for p, ok, episode in mine if ok and episode == 1]
            key = tuple(check[j].tolist())
            named[key] = cache[key] = (
                int(case[j]),
                int(courses.state[j]),
                tuple(taken[j]["transition"]),
                tuple(events),
                int(courses.rejected[j]),
                int(courses.reviews[j]),
                int(courses.patches[j]),
                bool(still_open[j]),
            )
    shapes = aggregate.shapes
    for key, count in zip(keys, counts.tolist(), strict=True):
        shape = named[key]
        assert shape is not None
        shapes[shape] += count


def _shapes_exactly(aggregate: Aggregate, courses: CourseArrays, case: np.ndarray, table: FieldTable) -> None:
    taken_len = courses.taken.length
    taken = np.where(courses.taken.valid(), courses.taken["transition"], -1)  # each list is filled from the left
    sent = courses.sent
    events = np.where(sent.valid(), table.plan_event[sent["plan"]], -1)
    accepted, accepted_len = packed(events, sent.valid() & sent["ok"] & (sent["episode"] == 1))
    still_open = (courses.t_end == NONE).astype(np.int64)
    head = np.column_stack((case, courses.state, courses.rejected, courses.reviews, courses.patches, still_open))
    rows = np.column_stack((head, taken_len, taken, accepted_len, accepted))
    distinct, counts = count_rows(rows)
    width = taken.shape[1]
    for row, count in zip(distinct.tolist(), counts.tolist(), strict=True):
        c, state, rejected, reviews, patches, is_open, n_taken = row[:7]
        n_accepted = row[7 + width]
        shape = (
            c,
            state,
            tuple(row[7 : 7 + n_taken]),
            tuple(row[8 + width : 8 + width + n_accepted]),
            rejected,
            reviews,
            patches,
            bool(is_open),
        )
        aggregate.shapes[shape] += count


def _field_values(
    aggregate: Aggregate, courses: CourseArrays, table: FieldTable, counted_fields: Sequence[tuple[str, ...]]
) -> None:
    plans = np.concatenate(courses.accepted_plans) if courses.accepted_plans else np.zeros(0, dtype=np.int64)
    values = aggregate.field_values
    for plan, count in enumerate(np.bincount(plans, minlength=len(table.plans)).tolist()):
        if not count:
            continue
        event = table.events[plan]
        fields = table.plans[plan]
        for name in counted_fields[event]:
            if name in fields and not isinstance(fields[name], Vital):
                values[(event, name, fields[name])] += count


def _count_by(counts: list[MinuteCounts], index: np.ndarray, value: np.ndarray) -> None:
    """counts[index[i]] counts value[i], for every i."""
    if not index.size:
        return
    for i in np.flatnonzero(np.bincount(index)).tolist():  # small indices: no sort
        counts[i].add_values(value[index == i])


def _occupancy(aggregate: Aggregate, courses: CourseArrays) -> None:
    """Hourly occupancy from the segments the course recorded (as ``Aggregate._occupy``)."""
    if not courses.segments:
        return
    states = np.concatenate([s for s, _, _ in courses.segments])
    begin = np.concatenate([b for _, b, _ in courses.segments])
    end = np.concatenate([np.full(len(s), OCCUPANCY_HOURS + 1) if e is None else e for s, _, e in courses.segments])
    keep = (begin <= OCCUPANCY_HOURS) & (end > begin)
    states, begin, end = states[keep], begin[keep], end[keep]
    hours = OCCUPANCY_HOURS + 2
    cells = len(aggregate.occupancy) * hours
    grid = np.bincount(states * hours + np.maximum(begin, 0), minlength=cells)
    grid -= np.bincount(states * hours + np.minimum(end, OCCUPANCY_HOURS + 1), minlength=cells)
    changed = np.flatnonzero(grid)
    for cell, delta in zip(changed.tolist(), grid[changed].tolist(), strict=True):
        aggregate.occupancy[cell // hours][cell % hours] += delta
