"""Cost-effectiveness analysis of a PSA table: what dampack and hesim report, from the same rows.

Per policy: mean cost and effects with 95 % intervals over the draws; against the reference
policy: incremental cost and effect per draw (the cost-effectiveness plane), the ICER of the
means with its quadrant; over a willingness-to-pay range: the probability each policy has
the highest net monetary benefit (acceptability curves), the policy with the highest
expected net benefit (the frontier), and the expected value of perfect information
(mean over draws of the best net benefit, minus the best mean net benefit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from pathway.economics.costs import Effect

LOW_Q, HIGH_Q = 2.5, 97.5


@attrs.frozen
class PsaArrays:
    """Draws x policies arrays of the cost and of every measure."""

    policies: tuple[str, ...]
    costs: np.ndarray
    measures: dict[str, np.ndarray]

    @property
    def draws(self) -> int:
        return int(self.costs.shape[0])


def from_rows(
    names: Sequence[str], rows: Sequence[Sequence[Any]], policies: tuple[str, ...], measures: Sequence[str]
) -> PsaArrays:
    samples = sorted({int(row[0]) for row in rows})
    at = {s: i for i, s in enumerate(samples)}
    column = {p: j for j, p in enumerate(policies)}
    index = {name: names.index(name) for name in ("costs", *measures)}
    arrays = {name: np.full((len(samples), len(policies)), np.nan) for name in index}
    for row in rows:
        i, j = at[int(row[0])], column[str(row[2])]
        for name, k in index.items():
            value = row[k]
            arrays[name][i, j] = np.nan if value is None else float(value)
    costs = arrays.pop("costs")
    return PsaArrays(policies, costs, arrays)


def _r(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 6) + 0.0


PER = 1000


def _spread(values: np.ndarray) -> dict[str, Any]:
    """Mean and 95 % interval over the draws, per patient and per PER patients."""
    ok = values[~np.isnan(values)]
    if not len(ok):
        return {"mean": None, "low": None, "high": None, "draws": 0}
    mean, low, high = float(ok.mean()), float(np.percentile(ok, LOW_Q)), float(np.percentile(ok, HIGH_Q))
    return {
        "mean": _r(mean),
        "low": _r(low),
        "high": _r(high),
        f"per_{PER}": {"mean": _r(mean * PER), "low": _r(low * PER), "high": _r(high * PER)},
        "draws": len(ok),
    }


def summarise(arrays: PsaArrays, reference: str) -> dict[str, Any]:
    """Mean and 95 % interval over the draws, per policy, and incremental vs the reference."""
    ref = arrays.policies.index(reference)
    out: dict[str, Any] = {}
    for j, policy in enumerate(arrays.policies):
        figures = {"costs": _spread(arrays.costs[:, j])}
        figures.update({name: _spread(values[:, j]) for name, values in arrays.measures.items()})
        entry: dict[str, Any] = {"per_patient": figures}
        if j != ref:
            delta_c = arrays.costs[:, j] - arrays.costs[:, ref]
            entry["incremental_vs_reference"] = {
                "costs": {**_spread(delta_c), "probability_cost_saving": _r(float((delta_c < 0).mean()))},
                **{name: _spread(values[:, j] - values[:, ref]) for name, values in arrays.measures.items()},
            }
        out[policy] = entry
    return out


def quadrant(delta_c: float, delta_e: float) -> str:
    if delta_e >= 0 and delta_c <= 0:
        return "dominant" if (delta_e > 0 or delta_c < 0) else "equivalent"
    if delta_e <= 0 and delta_c >= 0:
        return "dominated"
    return "more costly, more effective" if delta_c > 0 else "less costly, less effective"


def cea(arrays: PsaArrays, effect: Effect, reference: str) -> dict[str, Any]:
    """Incremental analysis, acceptability curves, frontier and EVPI for one effect measure."""
    e = effect.sign() * arrays.measures[effect.measure]
    c = arrays.costs
    ref = arrays.policies.index(reference)
    incremental = {}
    for j, policy in enumerate(arrays.policies):
        if j == ref:
            continue
        dc, de = float((c[:, j] - c[:, ref]).mean()), float((e[:, j] - e[:, ref]).mean())
        icer = dc / de if abs(de) > 1e-12 else None
        incremental[policy] = {
            "delta_costs": _r(dc),
            "delta_effect": _r(de),
            "icer": _r(icer) if icer is not None else None,
            "quadrant": quadrant(dc, de),
        }
    wtp = np.asarray(effect.wtp)
    nmb = wtp[None, None, :] * e[:, :, None] - c[:, :, None]  # draws x policies x wtp
    best = np.argmax(nmb, axis=1)  # ties go to the first policy in the list
    probability = np.stack([(best == j).mean(axis=0) for j in range(len(arrays.policies))], axis=1)
    expected = nmb.mean(axis=0)  # policies x wtp
    frontier = np.argmax(expected, axis=0)
    evpi = nmb.max(axis=1).mean(axis=0) - expected.max(axis=0)
    curve = [
        {
            "wtp": _r(float(w)),
            "probability": {p: _r(float(probability[i, j])) for j, p in enumerate(arrays.policies)},
            "optimal": arrays.policies[int(frontier[i])],
            "evpi_per_patient": _r(float(evpi[i])),
        }
        for i, w in enumerate(wtp)
    ]
    return {
        "measure": effect.measure,
        "text": effect.text,
        "better": effect.better,
        "wtp_unit": effect.wtp_unit,
        "incremental_vs_reference": incremental,
        "curve": curve,
    }


def plane(arrays: PsaArrays, effect: Effect, reference: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per non-reference policy: incremental effect and cost of each draw."""
    e = effect.sign() * arrays.measures[effect.measure]
    ref = arrays.policies.index(reference)
    return {
        p: (e[:, j] - e[:, ref], arrays.costs[:, j] - arrays.costs[:, ref])
        for j, p in enumerate(arrays.policies)
        if j != ref
    }
