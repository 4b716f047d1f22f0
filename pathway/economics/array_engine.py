"""The economics layer on the vectorised cohort engine: one parameter set's policies run a chunk at a time.

The same patients, draws and decisions as the per-patient clinicians of ``evaluate.Model``
(the vectorised engine is tested byte for byte against them), with each policy's ledger
rows read from the engine's arrays (array_ledger.py) instead of one ``Course`` per patient.
"""

from __future__ import annotations

import numpy as np

from pathway.compiled import CompiledPathway
from pathway.economics.array_ledger import ArrayLedger
from pathway.economics.ledger import Ledger
from pathway.simulate import natural
from pathway.simulate.array_machine import ArrayMachine
from pathway.simulate.clinician import Clinician
from pathway.simulate.field_table import FieldTable
from pathway.simulate.measures import MILLI
from pathway.simulate.params import SimParams
from pathway.simulate.vector_plans import ClinicianPlans
from pathway.simulate.vectorised import ArrayClinician, ImagingKey


class ArrayModel:
    """One parameter set's clinicians over arrays, and the ledger that reads their courses."""

    def __init__(
        self, compiled: CompiledPathway, params: SimParams, clinicians: dict[str, Clinician], ledger: Ledger
    ) -> None:
        self.params = params
        table = FieldTable(compiled.pathway)
        # the field sets every policy sends are numbered from the first clinician (vector_chunk does the same)
        plans = ClinicianPlans(table, next(iter(clinicians.values())))
        machine = ArrayMachine(compiled, table)
        imaging: list[ImagingKey] = []
        milli_dose = {rrl: round(number.value * MILLI) for rrl, number in params.dose_msv.items()}
        contrast = frozenset(params.contrast)
        self.clinicians = {
            name: ArrayClinician(clinician, plans, machine, imaging, milli_dose, contrast)
            for name, clinician in clinicians.items()
        }
        self.ledger = ArrayLedger(ledger, table, imaging)

    def rows(self, seed: int, start: int, stop: int) -> dict[str, np.ndarray]:
        """Per policy, the priced ledger rows of patients ``start`` to ``stop - 1`` (``Ledger.price``'s matrix)."""
        history = natural.draw_columns(self.params, seed, start, stop)
        out = {}
        for policy, clinician in self.clinicians.items():
            draws = natural.policy_columns(self.params, policy, history.uniforms)
            out[policy] = self.ledger.rows(clinician.courses(history, draws), history)
        return out
