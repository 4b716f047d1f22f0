"""The simulated cohort's randomness, discretised in steps of a few hours, for the PRISM model.

`pathway simulate` draws continuous times (pathway/simulate/natural.py); a discrete-time
Markov chain needs each delay as a number of steps. Every delay is rounded to the nearest
step: P(k steps) = F((k + 1/2) step) - F((k - 1/2) step), the mass beyond the horizon
lumped into its last step. What happens at presentation (the routing, the remaining time
until the headache resolves on its own, a complication's timing) depends on the onset and
presentation delays together; it is integrated numerically on a fine grid (GRID_H) and the
routing itself is decided by the pathway's own semantics at each grid point, so no
threshold of the definition is restated here.

Only in-scope patients (the case mix's remainder) are modelled, as the issue asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from pathway.simulate.distributions import Dist
from pathway.simulate.params import SimParams

GRID_H = 0.05
"""Fine grid (hours) for the presentation integrals: at 0.25 h the share presenting after 72 h came
out 0.0003 low (a sum of two cell midpoints sits on the threshold)."""
TAIL = 1e-7
"""Probability left beyond the fine grid (it is added to the last point)."""


def step_pmf(dist: Dist, step: float, cap: int) -> np.ndarray:
    """P(round(X / step) = k) for k = 0..cap; the mass beyond goes to cap."""
    edges = (np.arange(cap + 1) + 0.5) * step
    cdf = np.concatenate([[0.0], dist.cdf(edges)])
    pmf = np.diff(cdf)
    pmf[-1] += 1.0 - cdf[-1]
    pmf = np.clip(pmf, 0.0, None)
    return pmf / pmf.sum()


def _rounded_after(dist: Dist, ages: np.ndarray, step: float, cap: int) -> np.ndarray:
    """Row i: P(round((X - ages[i]) / step) = k | X > ages[i]), k = 0..cap (cap takes the rest)."""
    start = dist.cdf(ages)
    edges = ages[:, None] + (np.arange(cap + 1) + 0.5)[None, :] * step
    cdf = (dist.cdf(edges) - start[:, None]) / np.maximum(1.0 - start, 1e-300)[:, None]
    pmf = np.diff(np.concatenate([np.zeros((len(ages), 1)), cdf], axis=1), axis=1)
    pmf[:, -1] += 1.0 - cdf[:, -1]
    return np.clip(pmf, 0.0, None)


def _quantile_hours(dist: Dist, q: float) -> float:
    return float(dist.sample(np.array([q]))[0])


def _grid_pmf(dist: Dist, n: int) -> np.ndarray:
    """Mass of each fine-grid cell [i, i+1) GRID_H; the tail goes to the last cell."""
    cdf = dist.cdf(np.arange(n + 1) * GRID_H)
    pmf = np.diff(cdf)
    pmf[-1] += 1.0 - cdf[-1]
    return np.clip(pmf, 0.0, None)


@attrs.frozen
class FlatSign:
    """One way a complication shows (the parameter file's complication x sign), with its own rate."""

    rate: float
    onset: Dist
    red_flag: dict[str, Any]
    exam: dict[str, Any]  # findings at any examination once the signs show
    review: dict[str, Any]  # findings at a review only


def flat_signs(params: SimParams) -> list[FlatSign]:
    out = []
    for comp in params.complications:
        total = sum(sign.weight.value for sign in comp.signs) or 1.0
        for sign in comp.signs:
            out.append(
                FlatSign(comp.rate.value * sign.weight.value / total, comp.onset, sign.red_flag, sign.exam, sign.review)
            )
    return out


@attrs.frozen
class Presentation:
    """Who presents how, per in-scope patient (probabilities add up to 1 over all keys).

    ``final``: presentation outcome -> probability for courses that end at presentation;
    ``start``: (outcome state, complication index or -1) -> probability of starting a course;
    ``remaining``: natural-history group -> pmf of steps until spontaneous resolution, for
    courses started without a complication; ``manifest``: sign index (``flat_signs``) -> joint
    pmf [steps until the signs appear, steps from then until the red flag is noticed];
    ``groups``: probability of each natural-history group."""

    final: dict[str, float]
    start: dict[tuple[str, int], float]
    remaining: dict[int, np.ndarray]
    manifest: dict[int, np.ndarray]
    groups: tuple[float, ...]


def presentation(
    params: SimParams,
    step: float,
    cap: int,
    outcome: Callable[[float, int, int], str],
    final: frozenset[str],
    vitals: list[float],
) -> Presentation:
    """The presentation integrals. ``outcome(hours since puncture, sign shown or -1, vitals class)``
    is the state the pathway enters at presentation (the caller asks the pathway's semantics);
    ``vitals`` is the probability of each class of vitals the caller told apart."""
    onset, delay = params.onset, params.present_after_onset
    n_onset = int(np.ceil(_quantile_hours(onset, 1 - TAIL) / GRID_H)) + 1
    n_delay = int(np.ceil(_quantile_hours(delay, 1 - TAIL) / GRID_H)) + 1
    w_onset, w_delay = _grid_pmf(onset, n_onset), _grid_pmf(delay, n_delay)
    # presentation at onset + delay, both at their cell midpoints: index i + j + 1 on the grid
    present = np.convolve(w_onset, w_delay)
    hours = (np.arange(len(present)) + 1) * GRID_H
    # each class of vitals (say afebrile, febrile for another reason) is routed on its own
    routes = [(share, np.array([outcome(h, -1, v) for h in hours])) for v, share in enumerate(vitals) if share > 0]
    signs = flat_signs(params)
    weights = [p.share.value * p.pdph.value for p in params.punctures]
    groups = tuple(
        sum(w for w, p in zip(weights, params.punctures, strict=True) if p.group == name) / sum(weights)
        for name in params.groups
    )
    rates = [sign.rate for sign in signs]
    ends: dict[str, float] = {}
    start: dict[tuple[str, int], float] = {}

    def add(state: str, complication: int, mass: float) -> None:
        if mass <= 0:
            return
        if state in final:
            ends[state] = ends.get(state, 0.0) + float(mass)
        else:
            start[(state, complication)] = start.get((state, complication), 0.0) + float(mass)

    clean = 1.0 - sum(rates)
    for share, plain in routes:
        for state in sorted(set(plain)):
            add(state, -1, clean * share * present[plain == state].sum())
    courses = sorted({str(x) for _, plain in routes for x in plain} - final)
    # the time left until the headache resolves on its own depends on how long it has lasted
    # (the presentation delay), so it is mixed over the delays of the patients who start a course
    mid_delay = (np.arange(n_delay) + 0.5) * GRID_H
    routed = np.zeros(n_delay)
    for share, plain in routes:
        for i, w in enumerate(w_onset):
            if w > 0:
                routed += share * w * w_delay * np.isin(plain[i : i + n_delay], courses)
    remaining = {}
    for g, group in enumerate(params.groups.values()):
        mixed = routed @ _rounded_after(group.resolution, mid_delay, step, cap)
        remaining[g] = mixed / mixed.sum() if mixed.sum() > 0 else np.eye(cap + 1)[cap]
    # a complication's signs appear T after the puncture and are noticed N later: before the
    # presentation they bring the patient in with the findings, otherwise they come during the course
    notice = step_pmf(params.red_flag_notice, step, cap)
    manifest = {}
    for k, sign in enumerate(signs):
        # signs before the presentation: the findings (or the red flag) decide it
        flagged = np.array([outcome(h, k, 0) for h in hours])
        before = sign.onset.cdf(hours)
        for state in sorted(set(flagged)):
            add(state, k, rates[k] * (present * before)[flagged == state].sum())
        after = np.zeros(cap + 1)
        for share, plain in routes:
            for state in sorted(set(plain)):
                mask = plain == state
                add(state, k, rates[k] * share * (present * (1.0 - before))[mask].sum())
                if state not in final:
                    cells = _rounded_after(sign.onset, hours[mask], step, cap)
                    after += share * (present * (1.0 - before))[mask] @ cells
        total = after.sum()
        manifest[k] = np.outer(after / total if total > 0 else np.eye(cap + 1)[cap], notice)
    return Presentation(ends, start, remaining, manifest, groups)
