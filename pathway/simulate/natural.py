"""The natural history of a chunk of patients, drawn vectorised from their streams.

What happens to a patient whatever the clinician does: who presents and why
(case mix), the puncture, headache onset and presentation times, when the
headache would resolve on its own, complications and when their signs appear,
and the outcome of each blood patch should one be done. The clinician
(clinician.py) turns this into events as the pathway responds.

Times are whole minutes since the Unix epoch (exact integers: summaries add
them up without rounding differences between workers).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from pathway.simulate.distributions import lognormal_above
from pathway.simulate.params import RELIEF, Group, SimParams
from pathway.simulate.streams import Slot, patient_uniforms

NEVER = 1 << 62
"""A time that never comes (a headache that does not resolve on its own)."""

IN_SCOPE, NO_PUNCTURE, LATE, ATYPICAL = 0, 1, 2, 3
CASE_NAMES = ("in_scope", "no_puncture", "late", "atypical")
MINUTES_PER_HOUR = 60


@attrs.define
class NaturalHistory:
    """Column lists for one chunk of patients (index 0 is patient ``start``)."""

    start: int
    case: list[int]
    puncture: list[int]
    group: list[int]
    t_puncture: list[int]
    t_onset: list[int]
    t_present: list[int]
    atypical: list[int]
    vitals: list[list[float]]
    t_resolve: list[int]
    reported: list[bool]
    first_review: list[int]
    complication: list[int]
    sign: list[int]
    t_manifest: list[int]
    notice: list[int]
    return_delay: list[int]
    # per patient and per review / patch: numpy arrays read with .item(j, k) only when needed
    review_interval: np.ndarray
    review_worse: np.ndarray
    review_debilitating: np.ndarray
    patch_delay: np.ndarray
    patch_review: np.ndarray
    relief: np.ndarray
    uniforms: np.ndarray

    def __len__(self) -> int:
        return len(self.case)


@attrs.define
class HistoryColumns:
    """The same columns as numpy arrays, one row per patient (what the vectorised engine reads)."""

    start: int
    case: np.ndarray
    puncture: np.ndarray
    group: np.ndarray
    t_puncture: np.ndarray
    t_onset: np.ndarray
    t_present: np.ndarray
    atypical: np.ndarray
    vitals: np.ndarray
    t_resolve: np.ndarray
    reported: np.ndarray
    first_review: np.ndarray
    complication: np.ndarray
    sign: np.ndarray
    t_manifest: np.ndarray
    notice: np.ndarray
    return_delay: np.ndarray
    review_interval: np.ndarray
    review_worse: np.ndarray
    review_debilitating: np.ndarray
    patch_delay: np.ndarray
    patch_review: np.ndarray
    relief: np.ndarray
    uniforms: np.ndarray

    def __len__(self) -> int:
        return len(self.case)

    def as_lists(self) -> NaturalHistory:
        """Per-patient columns as lists (what the per-patient engine indexes); per-visit arrays stay arrays."""
        kept = (
            "review_interval",
            "review_worse",
            "review_debilitating",
            "patch_delay",
            "patch_review",
            "relief",
            "uniforms",
        )
        values = {
            a.name: getattr(self, a.name) if a.name in kept or a.name == "start" else getattr(self, a.name).tolist()
            for a in attrs.fields(HistoryColumns)
        }
        return NaturalHistory(**values)


def _minutes(hours: np.ndarray) -> np.ndarray:
    minutes = np.asarray(hours) * MINUTES_PER_HOUR
    return np.rint(minutes, out=minutes).astype(np.int64)


def _choose(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Index of the category each uniform falls in (weights normalised)."""
    cumulative = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cumulative, u, side="right"), len(weights) - 1)


def _choose_by_group(u: np.ndarray, group: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """``_choose`` with the weights of each uniform's group (``weights[group]``), in one pass over the chunk.

    ``u`` is one uniform per patient (shape (n,)) or several (shape (n, k)), all with the weights of the
    patient's ``group``: each patient's cuts are looked up once.
    """
    cumulative = np.array([np.cumsum(w / w.sum()) for w in weights])  # as _choose normalises them
    cuts = cumulative[:, :-1][group]  # each patient's cuts, one row per patient
    # searchsorted(side="right") counts the cuts at or below u; past the last category but one, the count is capped
    chosen = np.zeros(u.shape, dtype=np.int64)
    for j in range(cuts.shape[1]):
        chosen += (cuts[:, j] if u.ndim == 1 else cuts[:, j : j + 1]) <= u
    return chosen


def relief_table(group: Group, first: bool) -> np.ndarray:
    """Probabilities of complete / partial / no relief of a first or a repeat patch in a group."""
    probs = group.first_patch if first else group.repeat_patch
    return np.array([probs[name].value for name in RELIEF], dtype=np.float64)


def _vitals(params: SimParams, u: np.ndarray) -> np.ndarray:
    """Vitals at presentation: the usual distribution, or the febrile one for the febrile share."""
    febrile = u[:, Slot.FEBRILE] < params.febrile_share.value
    columns = []
    for k, (name, dist) in enumerate(params.vitals.items()):
        drawn = dist.sample(u[:, Slot.VITALS + k])
        if name in params.febrile_vitals:
            drawn = np.where(febrile, params.febrile_vitals[name].sample(u[:, Slot.VITALS + k]), drawn)
        columns.append(np.round(drawn, 1))
    return np.column_stack(columns) if columns else np.zeros((len(u), 0))


def draw_columns(
    params: SimParams, seed: int, start: int, stop: int, buffer: np.ndarray | None = None
) -> HistoryColumns:
    """The natural history of patients ``start`` to ``stop - 1``, as arrays.

    With ``buffer`` the uniforms are drawn into it (streams.patient_uniforms) and
    ``uniforms`` of the result is a view of it, valid until the buffer is drawn into again.
    """
    u = patient_uniforms(seed, start, stop, buffer)
    n = stop - start

    mix = params.case_mix
    cuts = np.cumsum([mix["no_puncture"].value, mix["late"].value, mix["atypical"].value])
    case = np.select(
        [u[:, Slot.CASE] < cuts[0], u[:, Slot.CASE] < cuts[1], u[:, Slot.CASE] < cuts[2]],
        [NO_PUNCTURE, LATE, ATYPICAL],
        IN_SCOPE,
    )
    punctured = case != NO_PUNCTURE

    weights = np.array([p.share.value * p.pdph.value for p in params.punctures])
    puncture = np.where(punctured, _choose(u[:, Slot.PUNCTURE], weights), -1)
    groups = list(params.groups.values())
    group_of = np.array([list(params.groups).index(p.group) for p in params.punctures])
    group = np.where(punctured, group_of[np.maximum(puncture, 0)], -1)

    origin = math.floor(params.start.timestamp() / 60)
    t_puncture = origin + _minutes(u[:, Slot.CALENDAR] * params.spread_days.value * 24.0)
    onset_h = params.onset.sample(u[:, Slot.ONSET])
    present_h = np.where(
        case == LATE,
        params.late_after_puncture.sample(u[:, Slot.PRESENT]),
        onset_h + params.present_after_onset.sample(u[:, Slot.PRESENT]),
    )
    t_present = t_puncture + _minutes(present_h)

    atypical_weights = np.array([c.weight.value for c in params.atypical])
    atypical = np.where(case == ATYPICAL, _choose(u[:, Slot.ATYPICAL], atypical_weights), -1)

    vitals = _vitals(params, u)

    # complications (signs appear some time after the puncture) in PDPH patients only
    eligible = (case == IN_SCOPE) | (case == LATE)
    rates = np.cumsum([c.rate.value for c in params.complications])
    comp_u = u[:, Slot.COMPLICATION]
    complication = np.where(eligible & (comp_u < (rates[-1] if len(rates) else 0.0)), 0, -1)
    if len(rates):
        complication = np.where(complication == 0, np.searchsorted(rates, comp_u, side="right"), -1)
    t_manifest = np.full(n, NEVER, dtype=np.int64)
    for k, comp in enumerate(params.complications):
        mask = complication == k
        if mask.any():
            t_manifest[mask] = t_puncture[mask] + _minutes(comp.onset.sample(u[mask, Slot.COMPLICATION_ONSET]))
    sign = np.full(n, -1)
    for k, comp in enumerate(params.complications):
        mask = complication == k
        if mask.any():
            sign[mask] = _choose(u[mask, Slot.SIGN], np.array([s.weight.value for s in comp.signs]))
    notice = _minutes(params.red_flag_notice.sample(u[:, Slot.NOTICE]))
    return_delay = _minutes(params.return_delay.sample(u[:, Slot.RETURN_DELAY]))
    # the signs of a complication bring the patient in, if they come first
    seen = np.where(complication >= 0, t_manifest + notice, NEVER)
    t_present = np.where(seen < t_present, seen, t_present)

    # spontaneous resolution: the headache lasted at least until the patient presented
    lasted_h = np.maximum((t_present - t_puncture) / 60.0 - onset_h, 0.0)
    duration_h = np.zeros(n)
    resolution = [spec.resolution for spec in groups]
    if resolution and all(dist.kind == "lognormal" for dist in resolution):
        # every group at once: each patient's draw with its group's median and sigma, the same arithmetic
        rows = np.flatnonzero(punctured)
        duration_h[rows] = lognormal_above(resolution, group[rows], u[rows, Slot.RESOLUTION], lasted_h[rows])
    else:
        for g, dist in enumerate(resolution):
            mask = group == g
            if mask.any():
                duration_h[mask] = dist.sample_above(u[mask, Slot.RESOLUTION], lasted_h[mask])
    t_onset = t_puncture + _minutes(onset_h)
    t_resolve = t_puncture + _minutes(onset_h + duration_h)
    t_resolve = np.where(complication >= 0, NEVER, np.maximum(t_resolve, t_present))
    reported = u[:, Slot.REPORTED] < params.resolution_reported.value

    first_review = _minutes(params.review_first.sample(u[:, Slot.FIRST_REVIEW]))
    intervals = _minutes(
        params.review_interval.sample(u[:, Slot.REVIEW_INTERVAL : Slot.REVIEW_INTERVAL + Slot.MAX_REVIEWS])
    )
    worse = u[:, Slot.REVIEW_WORSE : Slot.REVIEW_WORSE + Slot.MAX_REVIEWS] < params.worse.value
    debilitating = u[:, Slot.DEBILITATING : Slot.DEBILITATING + Slot.MAX_REVIEWS] < params.debilitating.value

    # per patch k, slots PATCH + 3k (delay), + 1 (review), + 2 (relief): every patch's column at once
    patch_end = Slot.PATCH + 3 * Slot.MAX_PATCHES
    delays = _minutes(params.patch_delay.sample(u[:, Slot.PATCH : patch_end : 3]))
    reviews = _minutes(params.patch_review.sample(u[:, Slot.PATCH + 1 : patch_end : 3]))
    relief = np.zeros((n, Slot.MAX_PATCHES), dtype=np.int64)
    if groups:
        of = np.maximum(group, 0)
        first = _choose_by_group(u[:, Slot.PATCH + 2], of, [relief_table(spec, True) for spec in groups])
        repeat = _choose_by_group(
            u[:, Slot.PATCH + 5 : patch_end : 3], of, [relief_table(spec, False) for spec in groups]
        )
        relief[:, 0] = np.where(punctured, first, 0)
        relief[:, 1:] = np.where(punctured[:, None], repeat, 0)

    return HistoryColumns(
        start=start,
        case=case,
        puncture=puncture,
        group=group,
        t_puncture=t_puncture,
        t_onset=t_onset,
        t_present=t_present,
        atypical=atypical,
        vitals=vitals,
        t_resolve=t_resolve,
        reported=reported,
        first_review=first_review,
        complication=complication,
        sign=sign,
        t_manifest=t_manifest,
        notice=notice,
        return_delay=return_delay,
        review_interval=intervals,
        review_worse=worse,
        review_debilitating=debilitating,
        patch_delay=delays,
        patch_review=reviews,
        relief=relief,
        uniforms=u,
    )


def draw(params: SimParams, seed: int, start: int, stop: int) -> NaturalHistory:
    """The natural history of patients ``start`` to ``stop - 1``, per-patient columns as lists."""
    return draw_columns(params, seed, start, stop).as_lists()


def policy_columns(params: SimParams, policy_name: str, uniforms: np.ndarray) -> dict[str, np.ndarray]:
    """The draws that depend on the policy, as arrays: red-flag delay, imaging at presentation, order decisions."""
    policy = params.policy(policy_name)
    delay = _minutes(policy.red_flag_delay.sample(uniforms[:, Slot.FLAG_DELAY]))
    if policy.at_presentation:
        weights = np.array([c.weight.value for c in policy.at_presentation])
        cuts = np.cumsum(weights)
        choice = np.searchsorted(cuts, uniforms[:, Slot.IMAGING_AT_PRESENTATION], side="right")
        choice = np.where(choice >= len(weights), -1, choice)
    else:
        choice = np.full(len(uniforms), -1)
    orders = uniforms[:, Slot.ORDER : Slot.ORDER + Slot.MAX_ORDERS]
    return {"flag_delay": delay, "imaging_choice": choice, "order_u": orders}


def policy_draws(params: SimParams, policy_name: str, history: NaturalHistory) -> dict[str, Any]:
    """The draws that depend on the policy, per-patient columns as lists."""
    columns = policy_columns(params, policy_name, history.uniforms)
    lists = {name: columns[name].tolist() for name in ("flag_delay", "imaging_choice")}
    return {**lists, "order_u": columns["order_u"]}
