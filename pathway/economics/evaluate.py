"""Costs and effects of a cohort for one parameter set: the one place the economics layer runs the simulator.

A Model is a parameter set made concrete: the simulator's parameters (decoded file, possibly
with drawn values), the cost table, the compiled pathway and one simulated clinician per
policy. ``evaluate`` draws the patients' natural histories chunk by chunk (the simulator's
per-patient streams), runs every policy on the same patients, and adds up each patient's
ledger row. Sums are taken chunk by chunk in patient order, so the totals of a parameter set
are the same numbers whichever process computes them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from pathway.compiled import CompiledPathway, LeanRun, compile_pathway
from pathway.economics import costs as costs_io
from pathway.economics.array_engine import ArrayModel
from pathway.economics.ledger import ALL_NAMES, BINARY, Ledger, item_columns
from pathway.loader import loads as load_definition
from pathway.simulate import natural
from pathway.simulate import params as params_io
from pathway.simulate.clinician import Clinician
from pathway.simulate.cohort import chunks

Z95 = 1.959963984540054
CHUNK = 5000


@functools.lru_cache(maxsize=2)
def compiled_pathway(definition_text: str, definition_file: str) -> CompiledPathway:
    """The compiled pathway of a definition text, built once per process."""
    return compile_pathway(load_definition(definition_text, definition_file))


@attrs.frozen
class Model:
    compiled: CompiledPathway
    params: params_io.SimParams
    table: costs_io.CostTable
    ledger: Ledger
    clinicians: dict[str, Clinician]

    @property
    def policies(self) -> tuple[str, ...]:
        return tuple(self.clinicians)


def build(
    compiled: CompiledPathway,
    params_data: Mapping[str, Any],
    costs_data: Mapping[str, Any],
    policies: tuple[str, ...],
    params_file: str = "params.toml",
    costs_file: str = "costs.toml",
) -> Model:
    """A model from decoded data files; raises ParamsError or CostError for a bad file."""
    params = params_io.parse(params_data, params_file)
    params_io.check_against(params, compiled.pathway)
    table = costs_io.parse(costs_data, costs_file, ALL_NAMES)
    costs_io.check_against(table, compiled.pathway, tuple(params.policies))
    for policy in policies:
        if policy not in params.policies:
            raise params_io.ParamsError(params_file, "policies", f"unknown policy {policy!r}")
    clinicians = {name: Clinician(compiled, params, name) for name in policies}
    return Model(compiled, params, table, Ledger(compiled, params, table), clinicians)


class Totals:
    """Sums over patients of every ledger column, per policy, and paired differences to the reference."""

    def __init__(self, policies: tuple[str, ...], width: int) -> None:
        self.policies = policies
        self.n = 0
        self.sums = {p: np.zeros(width) for p in policies}
        self.squares = {p: np.zeros(width) for p in policies}
        self.defined = {p: np.zeros(width) for p in policies}
        # paired: policy minus the first policy (the reference), over patients where both are defined
        self.diff = {p: np.zeros(width) for p in policies[1:]}
        self.diff_squares = {p: np.zeros(width) for p in policies[1:]}
        self.diff_defined = {p: np.zeros(width) for p in policies[1:]}

    def add(self, rows: dict[str, np.ndarray]) -> None:
        reference = rows[self.policies[0]]
        self.n += len(reference)
        for policy, matrix in rows.items():
            ok = ~np.isnan(matrix)
            values = np.where(ok, matrix, 0.0)
            self.sums[policy] += values.sum(axis=0)
            self.squares[policy] += (values * values).sum(axis=0)
            self.defined[policy] += ok.sum(axis=0)
            if policy == self.policies[0]:
                continue
            d = matrix - reference
            both = ~np.isnan(d)
            d = np.where(both, d, 0.0)
            self.diff[policy] += d.sum(axis=0)
            self.diff_squares[policy] += (d * d).sum(axis=0)
            self.diff_defined[policy] += both.sum(axis=0)

    def means(self, policy: str) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.defined[policy] > 0, self.sums[policy] / self.defined[policy], np.nan)


ENGINES = ("vectorised", "reference")
"""How courses are run: a chunk at a time on arrays (array_engine.py), or patient by patient (clinician.py).
Both give the same rows, bit for bit (tests/test_economics_engines.py)."""


def evaluate(model: Model, seed: int, patients: int, chunk_size: int = CHUNK, engine: str = ENGINES[0]) -> Totals:
    """Run ``patients`` patients (seed ``seed``) under every policy of the model and add up their rows."""
    policies = model.policies
    totals = Totals(policies, model.ledger.width)
    if engine == "vectorised":
        arrays = ArrayModel(model.compiled, model.params, model.clinicians, model.ledger)
        for start, stop in chunks(patients, chunk_size):
            totals.add(arrays.rows(seed, start, stop))
        return totals
    if engine != "reference":
        raise ValueError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
    ledger = model.ledger
    run = LeanRun(model.compiled)
    for start, stop in chunks(patients, chunk_size):
        history = natural.draw(model.params, seed, start, stop)
        chunk_rows: dict[str, np.ndarray] = {}
        for policy in policies:
            clinician = model.clinicians[policy]
            draws = natural.policy_draws(model.params, policy, history)
            rows = []
            for j in range(stop - start):
                course = clinician.course(history, j, draws, record=True, run=run)
                rows.append(ledger.row(course, history, j))
            chunk_rows[policy] = ledger.price(rows)
        totals.add(chunk_rows)
    return totals


def columns(table: costs_io.CostTable) -> tuple[str, ...]:
    """The ledger's columns: the measures, the conditional measures, the item counts."""
    return ALL_NAMES + item_columns(table)


def mean_interval(n: float, total: float, squares: float, binary: bool) -> tuple[float, float, float]:
    """Mean and 95 % interval: Wilson for a share, normal approximation for other means."""
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    mean = total / n
    if binary:
        denominator = 1 + Z95 * Z95 / n
        centre = (mean + Z95 * Z95 / (2 * n)) / denominator
        half = Z95 * math.sqrt(max(mean * (1 - mean), 0.0) / n + Z95 * Z95 / (4 * n * n)) / denominator
        return mean, max(0.0, centre - half), min(1.0, centre + half)
    variance = max(squares / n - mean * mean, 0.0) * (n / (n - 1) if n > 1 else 0.0)
    half = Z95 * math.sqrt(variance / n)
    return mean, mean - half, mean + half


def report(totals: Totals, table: costs_io.CostTable, per: int = 1000) -> dict[str, Any]:
    """Per policy: each measure per patient and per ``per`` patients with 95 % intervals; and vs the reference."""
    names = columns(table)
    reference = totals.policies[0]
    out: dict[str, Any] = {"patients": totals.n, "per": per, "reference_policy": reference, "policies": {}}
    for policy in totals.policies:
        figures: dict[str, Any] = {}
        for k, name in enumerate(names):
            mean, low, high = mean_interval(
                totals.defined[policy][k], totals.sums[policy][k], totals.squares[policy][k], name in BINARY
            )
            figures[name] = _figure(mean, low, high, int(totals.defined[policy][k]), per)
        incremental: dict[str, Any] = {}
        if policy != reference:
            for k, name in enumerate(names):
                mean, low, high = mean_interval(
                    totals.diff_defined[policy][k], totals.diff[policy][k], totals.diff_squares[policy][k], False
                )
                incremental[name] = _figure(mean, low, high, int(totals.diff_defined[policy][k]), per)
        out["policies"][policy] = {"per_patient": figures, "incremental_vs_reference": incremental}
    return out


def _figure(mean: float, low: float, high: float, n: int, per: int) -> dict[str, Any]:
    def r(x: float) -> float | None:
        return None if math.isnan(x) else round(float(x), 6) + 0.0

    return {
        "mean": r(mean),
        "low": r(low),
        "high": r(high),
        "n": n,
        f"per_{per}": r(mean * per),
        f"per_{per}_low": r(low * per),
        f"per_{per}_high": r(high * per),
    }
