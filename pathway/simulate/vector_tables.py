"""A chunk's tables (patients, events, imaging_orders) built column by column from the course arrays.

The same Arrow tables as ``tables.TableRows`` (schema.py's columns and types, rows
ordered by patient, then policy, then time), made from whole arrays: numbers and
times straight from numpy, text as indices into a small dictionary of the strings a
column can hold, absent values as masks. No Python object per cell except the
patient ids and the few floats rounded as the reference rounds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from pathway.simulate.array_aggregate import hash_groups
from pathway.simulate.cohort import Context
from pathway.simulate.course_arrays import NONE, CourseArrays
from pathway.simulate.field_table import FieldTable, Vital
from pathway.simulate.natural import CASE_NAMES, NEVER, HistoryColumns
from pathway.simulate.schema import IMAGING_ORDERS, PATIENTS, TableSpec, field_column_name
from pathway.simulate.tables import MILLIS_PER_MINUTE

Columns = dict[str, pa.Array]


def strings(indices: np.ndarray, dictionary: Sequence[str | None]) -> pa.Array:
    """Text cells given as indices into ``dictionary`` (None: an empty cell)."""
    absent = [k for k, text in enumerate(dictionary) if text is None]
    mask = np.isin(indices, absent) if absent else None
    words = pa.array([text or "" for text in dictionary] or [""], type=pa.string())
    safe = np.where(mask, 0, indices) if mask is not None else indices
    return pa.DictionaryArray.from_arrays(pa.array(safe.astype(np.int32), mask=mask), words).cast(pa.string())


def values(array: np.ndarray, present: np.ndarray | None, arrow: pa.DataType) -> pa.Array:
    mask = None if present is None else ~present
    if pa.types.is_timestamp(arrow):
        return pa.array(array.astype(np.int64), type=arrow, mask=mask)
    return pa.array(array, mask=mask).cast(arrow)


def _millis(minutes: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = present & (minutes < NEVER) & (minutes != NONE)
    return np.where(ok, minutes, 0) * MILLIS_PER_MINUTE, ok


class VectorTables:
    """Builds the chunk's tables for every policy at once."""

    def __init__(self, ctx: Context, table: FieldTable, imaging_keys: Sequence[tuple[int, str, str, str]]) -> None:
        self.ctx = ctx
        self.table = table
        params, compiled = ctx.params, ctx.compiled
        self.states = list(compiled.state_ids)
        self.final = np.array(compiled.final, dtype=bool)
        punctures = params.punctures
        # per puncture kind (and a last row for none)
        self.puncture_text = {
            "puncture": [p.id for p in punctures] + [None],
            "procedure": [p.fields.get("procedure") for p in punctures] + [None],
            "needle_tip": [p.fields.get("needle_tip") for p in punctures] + [None],
            "puncture_group": [p.group for p in punctures] + [None],
        }
        self.gauge = [p.fields.get("needle_gauge") for p in punctures] + [None]
        self.accidental = [p.fields.get("accidental") for p in punctures] + [None]
        self.complications = [c.id for c in params.complications] + [None]
        dose = {rrl: number.value for rrl, number in params.dose_msv.items()}
        self.orders = list(imaging_keys)
        self.order_msv = np.array([dose[key[3]] for key in imaging_keys] or [0.0])
        self.order_contrast = np.array([key[1] in ctx.contrast for key in imaging_keys] or [False])

    def tables(
        self, runs: list[tuple[str, CourseArrays]], history: HistoryColumns, ids: list[str], events: bool
    ) -> dict[str, pa.Table]:
        """The chunk's tables; ``ids`` names its patients."""
        out = {
            "patients": self._patients(runs, history, ids),
            "imaging_orders": self._imaging(runs, ids),
        }
        if events:
            out["events"] = self._events(runs, history.vitals, ids)
        return out

    # ------------------------------------------------------------ patients

    def _patients(self, runs: list[tuple[str, CourseArrays]], h: HistoryColumns, ids: list[str]) -> pa.Table:
        policies = len(runs)
        n = len(h)

        def both(column: Any) -> np.ndarray:  # one value per patient, the same under every policy
            return np.repeat(np.asarray(column), policies)

        def each(columns: list[np.ndarray]) -> np.ndarray:  # row j of every policy in turn
            return np.stack(columns, axis=1).reshape(-1)

        kind = np.where(h.puncture >= 0, h.puncture, len(self.gauge) - 1)
        cols: Columns = {
            "patient": strings(both(np.arange(n)), ids),
            "policy": strings(np.tile(np.arange(policies), n), [policy for policy, _ in runs]),
            "case": strings(both(h.case), CASE_NAMES),
        }
        for name, texts in self.puncture_text.items():
            cols[name] = strings(both(kind), texts)
        cols["needle_gauge"] = pa.array([self.gauge[k] for k in both(kind).tolist()], type=pa.int16())
        cols["accidental"] = pa.array([self.accidental[k] for k in both(kind).tolist()], type=pa.bool_())
        complication = np.where(h.complication >= 0, h.complication, len(self.complications) - 1)
        cols["complication"] = strings(both(complication), self.complications)
        courses = [c for _, c in runs]
        state = each([c.state for c in courses])
        cols["final_state"] = strings(state, self.states)
        cols["final"] = pa.array(self.final[state])
        path_ids, paths = _distinct_paths(courses, self.states)
        cols["path"] = strings(each(path_ids), paths)
        punctured = h.puncture >= 0
        cols["punctured_at"] = self._times(both(h.t_puncture), both(punctured))
        cols["headache_onset_at"] = self._times(both(h.t_onset), both(punctured))
        cols["presented_at"] = self._times(both(h.t_present), np.ones(n * policies, dtype=bool))
        t_end = each([c.t_end for c in courses])
        ended = t_end != NONE
        cols["ended_at"] = self._times(t_end, ended)
        cols["hours_to_end"] = values((t_end - both(h.t_present)) / 60, ended, pa.float64())
        cols["events_accepted"] = values(each([c.accepted + c.return_events for c in courses]), None, pa.int32())
        cols["events_rejected"] = values(each([c.rejected for c in courses]), None, pa.int32())
        cols["reviews"] = values(each([c.reviews for c in courses]), None, pa.int16())
        patches = each([c.patches for c in courses])
        cols["blood_patches"] = values(patches, None, pa.int16())
        cols["first_patch_at"] = self._times(each([c.t_first_patch for c in courses]), patches > 0)
        cols["imaging_studies"] = values(each([c.order_sums[0] for c in courses]), None, pa.int16())
        msv = each([self._radiation(c) for c in courses])
        cols["radiation_msv"] = pa.array([round(x, 6) for x in msv.tolist()], type=pa.float64())
        cols["contrast_exposures"] = values(each([c.order_sums[3] for c in courses]), None, pa.int16())
        manifest = both(h.complication >= 0)
        cols["complication_signs_at"] = self._times(both(h.t_manifest), manifest)
        escalated_at = each([c.t_escalated for c in courses])
        escalated = escalated_at != NONE
        cols["escalated_at"] = self._times(escalated_at, escalated)
        delay = np.maximum(escalated_at - both(h.t_manifest), 0) / 60
        cols["hours_to_escalation"] = values(delay, escalated & manifest, pa.float64())
        cols["episodes"] = values(each([c.episode for c in courses]), None, pa.int16())
        episode = each([c.escalated_episode for c in courses])
        cols["escalated_episode"] = values(episode, episode != 0, pa.int16())
        return _table(PATIENTS, cols)

    def _times(self, minutes: np.ndarray, present: np.ndarray) -> pa.Array:
        millis, ok = _millis(minutes, present)
        return values(millis, ok, PATIENTS_TIME)

    def _radiation(self, courses: CourseArrays) -> np.ndarray:
        """Each patient's dose, added study by study in order (as Python's sum adds them)."""
        log = courses.imaging
        total = np.zeros(courses.size)
        valid = log.valid()
        for k in range(valid.shape[1]):
            total = total + np.where(valid[:, k], self.order_msv[log["order"][:, k]], 0.0)
        return total

    # ------------------------------------------------------------ imaging orders and events

    def _imaging(self, runs: list[tuple[str, CourseArrays]], ids: list[str]) -> pa.Table:
        rows, policy, order, at, episode = _entries(runs, "imaging", ("order", "at", "episode"))
        keys = self.orders
        millis, ok = _millis(at, np.ones(at.size, dtype=bool))
        cols: Columns = {
            "patient": strings(rows, ids),
            "policy": strings(policy, [p for p, _ in runs]),
            "episode": values(episode, None, pa.int16()),
            "ordered_at": values(millis, ok, PATIENTS_TIME),
            "state": strings(order, [self.states[key[0]] for key in keys]),
            "code": strings(order, [key[1] for key in keys]),
            "rating": strings(order, [key[2] for key in keys]),
            "rrl": strings(order, [key[3] for key in keys]),
            "msv": values(self.order_msv[order], None, pa.float64()),
            "contrast": pa.array(self.order_contrast[order]),
        }
        return _table(IMAGING_ORDERS, cols)

    def _events(self, runs: list[tuple[str, CourseArrays]], vitals: np.ndarray, ids: list[str]) -> pa.Table:
        spec = self.ctx.events_spec
        rows, policy, plan, at, ok, episode, state = _entries(runs, "sent", ("plan", "at", "ok", "episode", "state"))
        group = np.ones(rows.size, dtype=bool)
        if rows.size:
            group[1:] = (rows[1:] != rows[:-1]) | (policy[1:] != policy[:-1]) | (episode[1:] != episode[:-1])
        index = np.arange(rows.size)
        seq = index - np.maximum.accumulate(np.where(group, index, 0)) + 1
        names = self.ctx.compiled.event_names
        cols: Columns = {
            "patient": strings(rows, ids),
            "policy": strings(policy, [p for p, _ in runs]),
            "episode": values(episode, None, pa.int16()),
            "seq": values(seq, None, pa.int32()),
            "event": strings(self.table.plan_event[plan], names),
            "at": values(at * MILLIS_PER_MINUTE, None, PATIENTS_TIME),
            "accepted": pa.array(ok.astype(bool)),
            "state": strings(state, self.states),
        }
        for field, column in self._field_columns(spec).items():
            cols[column] = self._field(field, plan, rows, vitals, spec.columns, column)
        return _table(spec, cols)

    def _field_columns(self, spec: TableSpec) -> dict[str, str]:
        names = {c.name for c in spec.columns}
        out = {}
        for event in self.ctx.pathway.events:
            for field in event.fields:
                column = field_column_name(field.name)
                if column in names:
                    out[field.name] = column
        return out

    def _field(
        self, name: str, plan: np.ndarray, rows: np.ndarray, vitals: np.ndarray, columns: Any, column: str
    ) -> pa.Array:
        """One field's column of the events table: its value in each event's field set, vital signs filled in."""
        arrow = next(c.arrow for c in columns if c.name == column)
        plans = self.table.plans
        present = np.array([name in p for p in plans] or [False], dtype=bool)[plan]
        if pa.types.is_string(arrow):
            texts = sorted({p[name] for p in plans if name in p and isinstance(p[name], str)})
            code = {t: k for k, t in enumerate(texts)}
            per_plan = np.array([code.get(p.get(name), len(texts)) for p in plans] or [0])
            return strings(np.where(present, per_plan[plan], len(texts)), [*texts, None])
        static = np.array([_number(p.get(name)) for p in plans] or [0.0])
        drawn = np.array([isinstance(p.get(name), Vital) for p in plans] or [False], dtype=bool)
        cells = static[plan].astype(np.float64)
        if drawn.any():
            slot = np.array([p[name].slot if isinstance(p.get(name), Vital) else 0 for p in plans])
            where = drawn[plan]
            cells[where] = vitals[rows[where], slot[plan][where]]
        if pa.types.is_boolean(arrow):
            return pa.array(cells != 0, mask=~present)
        return values(cells, present, arrow)


PATIENTS_TIME = next(c.arrow for c in PATIENTS.columns if c.name == "presented_at")


def _number(value: Any) -> float:
    return float(value) if isinstance(value, bool | int | float) else 0.0


def _table(spec: TableSpec, columns: Columns) -> pa.Table:
    return pa.Table.from_arrays([columns[c.name] for c in spec.columns], schema=spec.schema())


def _entries(runs: list[tuple[str, CourseArrays]], log: str, names: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """(patient row, policy, *columns) of every entry of a log, ordered by patient, policy, then entry."""
    parts: list[tuple[np.ndarray, ...]] = []
    for p, (_, courses) in enumerate(runs):
        entries = getattr(courses, log)
        valid = entries.valid()
        rows, _ = np.nonzero(valid)
        parts.append((rows, np.full(rows.size, p), *(entries[name][valid] for name in names)))
    columns = [np.concatenate([part[k] for part in parts]) for k in range(len(names) + 2)]
    if len(runs) == 1:  # already by patient
        return tuple(columns)
    order = np.argsort(columns[0] * len(runs) + columns[1], kind="stable")
    return tuple(column[order] for column in columns)


def _distinct_paths(courses: list[CourseArrays], states: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Per policy, each patient's path as an index into the list of distinct path texts."""
    texts: dict[tuple[int, ...], int] = {}
    ids = []
    for c in courses:
        log = c.entered
        matrix = np.where(log.valid(), log["state"], -1)
        first, inverse, _ = hash_groups(matrix)
        rows = matrix[first]
        if not (rows[inverse] == matrix).all():  # a hash collision: group exactly
            rows, inverse = np.unique(matrix, axis=0, return_inverse=True)
        local = [texts.setdefault(tuple(s for s in row if s >= 0), len(texts)) for row in rows.tolist()]
        ids.append(np.array(local, dtype=np.int64)[inverse.ravel()])
    initial = states[courses[0].initial]
    words = [">".join([initial, *(states[s] for s in key)]) for key in texts]
    return ids, words
