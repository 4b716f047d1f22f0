"""The ledger over a whole chunk at once: ``Ledger.row`` of every patient, read from the vectorised engine's arrays.

``ArrayLedger`` turns one policy's ``CourseArrays`` (and the chunk's natural history)
into the matrix ``Ledger.price`` builds from per-patient rows: the same columns, and
the same float64 numbers bit for bit, so the sums over patients and the PSA tables do
not depend on the engine (tests/test_economics_engines.py compares them). Every
trigger comes from the ``Ledger`` (which reads the cost table and the parameter
file); here only the counting is vectorised: the events, states and studies of each
patient are counted per kind and multiplied by incidence matrices kind -> cost item.
"""

from __future__ import annotations

import numpy as np

from pathway.economics.ledger import ALL_NAMES, MINUTES_PER_DAY, NOT_APPROPRIATE, Ledger
from pathway.simulate.course_arrays import NONE, CourseArrays
from pathway.simulate.field_table import FieldTable, Vital
from pathway.simulate.natural import NEVER, HistoryColumns
from pathway.simulate.vectorised import ImagingKey


def _incidence(triggers: list[tuple[int, ...]], items: int) -> np.ndarray:
    """Kind -> how many times each cost item fires when it happens once (a row per kind).

    Counts are small whole numbers, exact in float64, whose products go through BLAS."""
    matrix = np.zeros((len(triggers), items), dtype=np.float64)
    for kind, hits in enumerate(triggers):
        for k in hits:
            matrix[kind, k] += 1
    return matrix


def _per_kind(rows: np.ndarray, kinds: np.ndarray, size: int, n_kinds: int) -> np.ndarray:
    """(patients x kinds) counts of the (patient, kind) pairs given."""
    flat = np.bincount(rows * n_kinds + kinds, minlength=size * n_kinds)
    return flat.reshape(size, n_kinds).astype(np.float64)


def _last(mask: np.ndarray) -> np.ndarray:
    """Per row, the column of the last True (-1 where none)."""
    width = mask.shape[1]
    return np.where(mask, np.arange(width), -1).max(axis=1, initial=-1)


class ArrayLedger:
    """One parameter set's ledger for the vectorised engine's courses (the plans and studies it numbers)."""

    def __init__(self, ledger: Ledger, table: FieldTable, imaging: list[ImagingKey]) -> None:
        self.ledger = ledger
        n_items = len(ledger.items)
        self.plan_event = table.plan_event
        self.n_events, self.n_states = len(ledger.event_items), len(ledger.state_items)
        self.event_items = _incidence(ledger.event_items, n_items)
        self.state_items = _incidence(ledger.state_items, n_items)
        self.episode_items = _incidence([ledger.episode_items], n_items)[0]
        # per study kind (state, code, rating, rrl) as the engine numbers them
        self.imaging_items = _incidence([ledger.imaging_items.get(code, ()) for _, code, _, _ in imaging], n_items)
        self.dose = np.array([ledger.dose[rrl] for _, _, _, rrl in imaging], dtype=np.float64)
        self.contrast = np.array([code in ledger.contrast for _, code, _, _ in imaging], dtype=np.float64)
        self.unrated = np.array([rating == NOT_APPROPRIATE for _, _, rating, _ in imaging], dtype=np.float64)
        # field sets that are a patch review reporting complete relief (the ledger compares the dicts)
        complete = np.zeros(len(table.plans), dtype=bool)
        for plan, fields in enumerate(table.plans):
            if table.events[plan] == ledger.patch_review:
                assert not any(isinstance(v, Vital) for v in fields.values())
                complete[plan] = fields == ledger.complete
        self.complete = complete

    def rows(self, courses: CourseArrays, history: HistoryColumns) -> np.ndarray:
        """Every patient's ``Ledger.row``, priced: the matrix ``Ledger.price`` returns for the same courses."""
        ledger, n = self.ledger, courses.size
        counts = self._counts(courses)
        imaging = courses.imaging
        order, listed = imaging["order"], imaging.valid()
        rows, columns = np.nonzero(listed)
        studies = _per_kind(rows, order[rows, columns], n, len(self.dose))
        counts += studies @ self.imaging_items
        dose = np.zeros(n)
        for k in range(order.shape[1]):  # study by study, as the ledger adds them (the same float sums)
            dose += np.where(listed[:, k], self.dose[order[:, k]], 0.0)

        h = history
        t0 = h.t_present
        end = t0 + ledger.horizon
        complication = h.complication >= 0
        # a complication's headache is not a leak's: no patch ends it
        relief = np.where(complication, NEVER, self.relief(courses))
        headache = np.maximum(np.minimum(np.minimum(h.t_resolve, relief), end) - t0, 0) / MINUTES_PER_DAY
        t_end, t_escalated, t_manifest = courses.t_end, courses.t_escalated, h.t_manifest
        ended = t_end != NONE
        resolved = (courses.state == ledger.resolution) & ended
        escalated = t_escalated != NONE
        timely = complication & escalated
        after = complication & ~escalated & ended & (t_end <= t_manifest)
        missed = complication & ~escalated & ~after
        hours_to_escalation = np.where(timely, np.maximum(t_escalated - t_manifest, 0) / 60, np.nan)
        delay = np.where(timely, hours_to_escalation, np.where(missed, np.maximum(end - t_manifest, 0) / 60, 0.0))

        matrix = np.empty((n, ledger.width), dtype=np.float64)
        measures = (
            np.zeros(n),  # cost: priced below from the item counts
            headache,
            ledger.table.horizon_days - headache,
            studies.sum(axis=1),
            studies @ self.unrated,
            dose,
            studies @ self.contrast,
            courses.patches,
            escalated,
            complication,
            missed,
            after,
            delay,
            resolved,
            np.where(resolved, (t_end - t0) / MINUTES_PER_DAY, np.nan),
            hours_to_escalation,
        )
        assert len(measures) == len(ALL_NAMES)
        for k, column in enumerate(measures):
            matrix[:, k] = column
        matrix[:, len(ALL_NAMES) :] = counts
        ledger.fill_costs(matrix)
        return matrix

    def _counts(self, courses: CourseArrays) -> np.ndarray:
        """How often each cost item's event, state or episode trigger fired (``Ledger._counts``), every episode."""
        n, initial = courses.size, courses.initial
        sent = courses.sent
        listed = sent.valid()
        episode, state = sent["episode"], sent["state"]
        rows, columns = np.nonzero(listed & sent["ok"])
        events = _per_kind(rows, self.plan_event[sent["plan"][rows, columns]], n, self.n_events)
        counts = courses.episode[:, None] * self.episode_items + events @ self.event_items

        # the first episode: every state passed through (the initial one, then each entered)
        entered = courses.entered
        rows, columns = np.nonzero(entered.valid())
        states = _per_kind(rows, entered["state"][rows, columns], n, self.n_states)
        states[:, initial] += 1
        # each return episode: its initial state, then every change of state its events led to
        states[:, initial] += courses.episode - 1
        previous = np.full_like(state, initial)
        same_episode = episode[:, 1:] == episode[:, :-1]
        previous[:, 1:] = np.where(same_episode, state[:, :-1], initial)
        changed = listed & (episode > 1) & (state != previous)
        rows, columns = np.nonzero(changed)
        states += _per_kind(rows, state[rows, columns], n, self.n_states)
        return counts + states @ self.state_items

    def relief(self, courses: CourseArrays) -> np.ndarray:
        """``Ledger._relief``: the last patch, where the first episode's last accepted event is complete relief."""
        sent = courses.sent
        listed = sent.valid()
        plan, at = sent["plan"], sent["at"]
        everyone = np.arange(courses.size)
        last = _last(listed & sent["ok"] & (sent["episode"] == 1))
        relieved = (last >= 0) & (courses.patches > 0)
        relieved &= self.complete[plan[everyone, np.maximum(last, 0)]]
        patch = _last(listed & (self.plan_event[plan] == self.ledger.patch))
        return np.where(relieved & (patch >= 0), at[everyone, np.maximum(patch, 0)], NEVER)
