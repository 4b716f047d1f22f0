"""What happened to a chunk of simulated patients, as arrays: the vectorised engine's ``Course``.

Per patient: the events sent (field-set plan, minute, accepted or not), the
transitions taken, the states entered (with the minute), the imaging ordered, and
the counters and times ``clinician.Course`` keeps. Variable-length histories are
``Log``s, written into matrices only when a file or a monitor needs them; what the
summary needs is kept up to date as the course runs (sequence fingerprints, the
last state entered, occupancy segments, imaging counts), so a summary-only run
never lays the logs out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from pathway.simulate.clinician import Course

NONE = -1
"""An unset time (no end, no escalation) in the int64 minute columns."""
_BASES = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F))
"""Two odd multipliers: each sequence gets two independent 64-bit polynomial fingerprints."""


class Log:
    """Per-patient append-only lists of equal length in several named columns.

    Appends are kept as they come (rows, position in each row's list, values) and
    written into one (patients x longest list) matrix per column when first read.
    """

    def __init__(self, size: int, columns: dict[str, Any]) -> None:
        self.length = np.zeros(size, dtype=np.int64)
        self.dtypes = columns
        self.pending: list[tuple[np.ndarray, np.ndarray, dict[str, Any]]] = []
        self._columns: dict[str, np.ndarray] | None = None

    def append(self, rows: np.ndarray, **values: Any) -> None:
        """One entry for each of ``rows`` (distinct patients)."""
        if not len(rows):
            return
        at = self.length[rows]
        self.length[rows] = at + 1
        self.pending.append((rows, at, values))
        self._columns = None

    @property
    def columns(self) -> dict[str, np.ndarray]:
        if self._columns is None:
            size = len(self.length)
            width = int(self.length.max()) if size else 0
            flat = np.concatenate([rows * width + at for rows, at, _ in self.pending]) if self.pending else None
            columns = {}
            for name, dtype in self.dtypes.items():
                column = np.zeros(size * width, dtype=dtype)
                if flat is not None:
                    parts = [np.broadcast_to(np.asarray(v[name], dtype=dtype), r.shape) for r, _, v in self.pending]
                    column[flat] = np.concatenate(parts)
                columns[name] = column.reshape(size, width)
            self._columns = columns
        return self._columns

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def valid(self) -> np.ndarray:
        """Mask of the used entries (patient-major order when flattened)."""
        width = int(self.length.max()) if len(self.length) else 0
        return np.arange(width) < self.length[:, None]

    def lists(self, rows: list[int]) -> dict[int, dict[str, list[Any]]]:
        """The entries of a few patients, without laying the whole log out."""
        picked = np.zeros(len(self.length), dtype=bool)
        picked[rows] = True
        out = {row: {name: [None] * int(self.length[row]) for name in self.dtypes} for row in rows}
        for where, at, values in self.pending:
            hits = np.flatnonzero(picked[where])
            if not hits.size:
                continue
            for name in self.dtypes:
                column = np.broadcast_to(np.asarray(values[name]), where.shape)
                for row, k, value in zip(where[hits].tolist(), at[hits].tolist(), column[hits].tolist(), strict=True):
                    out[row][name][k] = value
        return out


class CourseArrays:
    """The courses of patients ``start`` to ``start + size - 1`` under one policy, every episode.

    As in ``clinician.Course``, the path, the transitions taken, the states entered
    and the accepted events are those of the first episode; imaging, rejections and
    the escalation count in whichever episode they happen.
    """

    def __init__(self, start: int, t_present: np.ndarray, initial: int) -> None:
        size = len(t_present)
        self.start = start
        self.size = size
        self.initial = initial
        self.t_present = t_present
        self.sent = Log(size, {"plan": np.int64, "at": np.int64, "ok": bool, "episode": np.int64, "state": np.int64})
        self.taken = Log(size, {"transition": np.int64})
        self.entered = Log(size, {"state": np.int64, "at": np.int64})
        self.imaging = Log(size, {"order": np.int64, "at": np.int64, "episode": np.int64})
        self.episode = np.ones(size, dtype=np.int64)
        self.state = np.zeros(size, dtype=np.int64)
        self.rejected = np.zeros(size, dtype=np.int64)
        self.reviews = np.zeros(size, dtype=np.int64)
        self.patches = np.zeros(size, dtype=np.int64)
        self.t_first_patch = np.zeros(size, dtype=np.int64)
        self.t_end = np.full(size, NONE, dtype=np.int64)
        self.t_escalated = np.full(size, NONE, dtype=np.int64)
        self.escalated_episode = np.zeros(size, dtype=np.int64)
        self.return_events = np.zeros(size, dtype=np.int64)
        self.return_final: list[np.ndarray] = []  # the state each return episode ended in
        # kept up to date for the summary
        self.accepted = np.zeros(size, dtype=np.int64)
        self.accepted_plans: list[np.ndarray] = []  # the field sets of the first episode's accepted events
        # the first episode's accepted events as they come (rows, position in each row's sequence, event)
        self.accepted_events: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.tail = np.full(size, initial, dtype=np.int64)  # the state the current episode is in
        self.tail_at = np.zeros(size, dtype=np.int64)  # when the first episode entered its last state
        self.segments: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []  # (state, hour in, hour out)
        self.orders: Counter[int] = Counter()
        self.order_sums = np.zeros((4, size), dtype=np.int64)  # per patient: studies, unrated, milli-mSv, contrast

    def record_sent(
        self, rows: np.ndarray, plans: np.ndarray, events: np.ndarray, minutes: Any, ok: np.ndarray, state: np.ndarray
    ) -> None:
        episode = self.episode[rows]
        self.sent.append(rows, plan=plans, at=minutes, ok=ok, episode=episode, state=state)
        first = episode == 1
        if ok.all() and first.all():  # the usual case: nothing refused, no return visit
            took, took_plans, took_events = rows, plans, events
        else:
            self.rejected[rows[~ok]] += 1
            counted = ok & first
            took, took_plans, took_events = rows[counted], plans[counted], events[counted]
            self.return_events[rows[ok & ~first]] += 1
        position = self.accepted[took]
        self.accepted[took] = position + 1
        self.accepted_plans.append(took_plans)
        self.accepted_events.append((took, position, took_events))

    def record_taken(self, rows: np.ndarray, transition: int) -> None:
        self.taken.append(rows, transition=transition)

    @property
    def taken_print(self) -> tuple[np.ndarray, np.ndarray]:
        """Two 64-bit fingerprints of each patient's sequence of transitions taken (first episode)."""
        entries = [(rows, at, values["transition"]) for rows, at, values in self.taken.pending]
        return fingerprints(len(self.taken.length), entries, self.taken.length)

    @property
    def accepted_print(self) -> tuple[np.ndarray, np.ndarray]:
        """Two 64-bit fingerprints of each patient's sequence of accepted events (first episode)."""
        return fingerprints(self.size, self.accepted_events, self.accepted)

    def record_entered(self, rows: np.ndarray, state: int, minutes: np.ndarray) -> None:
        """``rows`` (in their first episode) entered ``state``, other than their last, at ``minutes``."""
        before = self.entered.length[rows] > 0
        if before.any():
            closing = rows[before]
            self._segment(closing, self.tail_at[closing], minutes[before])
        self.entered.append(rows, state=state, at=minutes)
        self.tail_at[rows] = minutes

    def _segment(self, rows: np.ndarray, begun: np.ndarray, left: np.ndarray | None) -> None:
        origin = self.t_present[rows]
        end = None if left is None else -(-(left - origin) // 60)  # first whole hour at or after
        self.segments.append((self.tail[rows], -(-(begun - origin) // 60), end))

    def record_order(self, rows: np.ndarray, order: int, minutes: np.ndarray, sums: np.ndarray) -> None:
        """``rows`` ordered imaging study ``order``; ``sums`` is what it adds to ``order_sums``."""
        if not len(rows):
            return
        self.imaging.append(rows, order=order, at=minutes, episode=self.episode[rows])
        self.orders[order] += len(rows)
        self.order_sums[:, rows] += sums[:, None]

    def end_first_episode(self, state: np.ndarray, final: np.ndarray) -> None:
        """The first episode is over: its last state, end time and the last segment of occupancy."""
        self.state = state.copy()
        ended = final[state] & (self.entered.length > 0)
        self.t_end = np.where(ended, self.tail_at, NONE)
        still = np.flatnonzero(self.entered.length > 0)
        self._segment(still, self.tail_at[still], None)

    def new_episode(self, rows: np.ndarray) -> None:
        self.episode[rows] += 1
        self.tail[rows] = self.initial

    def courses(
        self, rows: list[int], event_of: np.ndarray, fields: Any, imaging: Sequence[tuple[int, str, str, str]] = ()
    ) -> list[Course]:
        """These patients as per-patient ``Course``s (events, path, state, rejections, episodes) for the monitors;
        with the imaging keys, their timed imaging lists too. ``fields(plan, j)`` is the dict an event of plan
        ``plan`` carried for patient ``start + j``."""
        sent, entered = self.sent.lists(rows), self.entered.lists(rows)
        orders = self.imaging.lists(rows) if imaging else {}
        out = []
        for j in rows:
            course = Course(self.start + j)
            mine = sent[j]
            course.events = [
                (int(event_of[p]), m, fields(p, j), e)
                for p, m, e in zip(mine["plan"], mine["at"], mine["episode"], strict=True)
            ]
            course.path = [self.initial, *entered[j]["state"]]
            course.state = int(self.state[j])
            course.rejected = int(self.rejected[j])
            course.episodes = int(self.episode[j])
            if imaging:
                mine = orders[j]
                course.imaging = [
                    (*imaging[o], m, e) for o, m, e in zip(mine["order"], mine["at"], mine["episode"], strict=True)
                ]
            out.append(course)
        return out


def fingerprints(
    size: int, entries: Sequence[tuple[np.ndarray, np.ndarray, Any]], length: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two polynomial fingerprints of each of ``size`` sequences, from its entries (rows, position, value).

    Fingerprint k of a sequence v_0 .. v_{L-1} is Horner's fold f = f * B_k + (v + 1) over it, modulo 2**64:
    sum (v_i + 1) * B_k ** (L - 1 - i). Summed here over every entry at once (wrapping uint64 arithmetic
    is a ring, so the sum is the fold's value), rather than folded in at each step of the run.
    """
    out = (np.zeros(size, dtype=np.uint64), np.zeros(size, dtype=np.uint64))
    entries = [entry for entry in entries if len(entry[0])]
    if not entries:
        return out
    rows = np.concatenate([r for r, _, _ in entries])
    at = np.concatenate([a for _, a, _ in entries])
    if all(np.ndim(v) == 0 for _, _, v in entries):  # one value per entry (a transition): repeated, not broadcast
        values = np.repeat(np.array([v for _, _, v in entries], dtype=np.int64), [len(r) for r, _, _ in entries])
    else:
        values = np.concatenate([np.broadcast_to(np.asarray(v, dtype=np.int64), r.shape) for r, _, v in entries])
    step = values.view(np.uint64) + np.uint64(1)
    power = length[rows] - 1 - at
    for fingerprint, base in zip(out, _BASES, strict=True):
        # base ** k for k = 0 .. longest - 1, wrapping (array arithmetic on uint64 wraps without a warning)
        powers = np.multiply.accumulate(np.full(int(power.max()) + 1, base, dtype=np.uint64))
        powers = np.concatenate((np.ones(1, dtype=np.uint64), powers[:-1]))
        np.add.at(fingerprint, rows, step * powers[power])
    return out
