"""The numbered field sets a simulated clinician sends, and the scope of a recommendation's condition.

Every dict ``clinician.Clinician`` can put on an event is built here once, in the
same way and key order (puncture fields; the typical or an atypical presentation
with its vitals and any examination findings; each review response with or
without a debilitating headache and a complication's findings; ...), and numbered
in a ``FieldTable``. The vectorised clinician then picks a plan number per patient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pathway.simulate.array_guards import NUM, Col
from pathway.simulate.clinician import Clinician
from pathway.simulate.field_table import FieldTable, Vital


class ClinicianPlans:
    """Plan numbers of every event a clinician can send (the same for every policy)."""

    def __init__(self, table: FieldTable, c: Clinician) -> None:
        add = table.add
        signs = [sign for signs in c.signs for sign in signs]
        self.sign_offset = np.cumsum([0, *(len(s) for s in c.signs)])[:-1].astype(np.int64)
        exams = [sign.exam for sign in signs]
        reviews = [{**sign.exam, **sign.review} for sign in signs]
        self.has_exam = np.array([bool(e) for e in exams] or [False], dtype=bool)
        self.has_review = np.array([bool(r) for r in reviews] or [False], dtype=bool)
        self.puncture = np.array([add(c.ev_puncture, f) for f in c.puncture_fields] or [0], dtype=np.int64)
        vitals = {name: Vital(k) for k, name in enumerate(c.vital_names)}
        bases = [c.typical, *c.atypical]

        def presentation(base: dict[str, Any], exam: dict[str, Any]) -> int:
            fields = dict(base)
            fields.update(vitals)
            if exam:
                fields.update(exam)
            return add(c.ev_present, fields)

        # [typical or atypical k + 1][no findings, or sign k + 1]
        self.present = np.array([[presentation(b, e) for e in ({}, *exams)] for b in bases], dtype=np.int64)
        self.returning = add(c.ev_present, c.typical)  # a dismissed return visit: no vitals, no findings
        # review responses: resolved, then (improving, unchanged, worse) x (not debilitating, debilitating)
        responses = [c.responses[0]] + [{**c.responses[r], **c.debilitating[d]} for r in (1, 2, 3) for d in (0, 1)]
        self.review = np.array(
            [[add(c.ev_review, {**r, **v} if v else r) for v in ({}, *reviews)] for r in responses], dtype=np.int64
        )
        self.patch = add(c.ev_patch, c.patch_fields)
        self.relief = np.array([add(c.ev_patch_review, f) for f in c.relief], dtype=np.int64)
        self.red_flag = np.array([add(c.ev_red_flag, sign.red_flag) for sign in signs] or [0], dtype=np.int64)
        self.resolution = add(c.ev_resolution, {})


class FieldsOnlyScope:
    """The scope of a recommendation's condition (model._FieldsOnly) for a batch of events."""

    __slots__ = ("empty", "patients", "plans", "size", "table", "vitals")

    def __init__(self, table: FieldTable, plans: np.ndarray, patients: np.ndarray, vitals: np.ndarray) -> None:
        self.table, self.plans, self.patients, self.vitals = table, plans, patients, vitals
        self.size = len(plans)
        self.empty = float(table.codes.empty)

    def field(self, name: str) -> Col:
        return self.table.column(name, self.plans, self.patients, self.vitals)

    def event_text(self) -> np.ndarray:
        return np.full(self.size, self.empty)

    def hours_since(self, event: int) -> Col:
        return Col(NUM, 0.0, False)

    def hours_since_entered(self, state: int) -> Col:
        return Col(NUM, 0.0, False)

    def count(self, event: int) -> np.ndarray:
        return np.zeros(self.size, dtype=np.int64)

    def occurred(self, event: int) -> np.ndarray:
        return np.zeros(self.size, dtype=bool)
