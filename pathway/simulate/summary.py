"""summary.json: the cohort's aggregates as plain, sorted, deterministic JSON, every figure with its interval.

Naming: ``*_count`` is a raw count of patients or studies, ``*_per_1000`` a rate per
1,000 patients, ``*_share`` a proportion (0 to 1), ``*_h`` hours; every per-1,000
figure and share is an estimate object with its 95 % interval (intervals.py), and
``differences`` holds the paired differences of each policy from the first one on
the same patients. docs/data-dictionary.md lists every key (summary_keys.py).

No timings, paths or host details go in here, so the same seed gives the same
bytes whatever the workers, chunk size or engine (run details go to run.json).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pathway.compiled import CompiledPathway
from pathway.simulate import intervals
from pathway.simulate.aggregate import OCCUPANCY_HOURS, Aggregate, occupancy_series
from pathway.simulate.measures import BINARY, INDEX, MEASURES, MILLI, PAIRED_TIMES, Paired
from pathway.simulate.minute_counts import MinuteCounts
from pathway.simulate.natural import CASE_NAMES
from pathway.simulate.params import SimParams
from pathway.simulate.runner import Totals

PER = 1000
"""Rates are per this many patients."""
HIST_STEP_H = 6
HIST_BINS = OCCUPANCY_HOURS // HIST_STEP_H
"""Time-to-end histogram: 6-hour bins over the occupancy horizon, plus one bin for later."""

RATES = (
    # (figure name, measure, scale of one unit of the measure)
    ("imaging_studies", "imaging_studies", 1),
    ("usually_not_appropriate_studies", "usually_not_appropriate_studies", 1),
    ("radiation_msv", "radiation_milli_msv", MILLI),
    ("contrast_exposures", "contrast_exposures", 1),
    ("blood_patches", "blood_patches", 1),
    ("escalations", "escalated", 1),
    ("complications", "complication", 1),
    ("complications_not_escalated", "complication_not_escalated", 1),
)
SHARES = (("patients_imaged", "imaged"), ("patients_patched", "patched"))
UNDER_CARE_HOURS = (72, 168)
"""Occupancy figures: the share still under the pathway's care this many hours after presentation."""


def histogram(minutes: Counter[int]) -> list[int]:
    bins = [0] * (HIST_BINS + 1)
    for value, count in minutes.items():
        bins[min(value // (HIST_STEP_H * 60), HIST_BINS)] += count
    return bins


def _key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def measure_sums(aggregate: Aggregate) -> list[tuple[int, int]]:
    """(sum, sum of squares) of each measure over the patients."""
    sums = [[0, 0] for _ in MEASURES]
    for vector, count in aggregate.measures.items():
        for k, x in enumerate(vector):
            if x:
                sums[k][0] += x * count
                sums[k][1] += x * x * count
    return [(a, b) for a, b in sums]


def figures(aggregate: Aggregate) -> dict[str, Any]:
    """The headline figures of one policy: raw counts and per-1,000 rates or shares with intervals."""
    n = aggregate.patients
    sums = measure_sums(aggregate)
    out: dict[str, Any] = {}
    for name, measure, unit in RATES:
        total, squares = sums[INDEX[measure]]
        if measure in BINARY:
            out[f"{name}_count"] = total
            out[f"{name}_per_1000"] = intervals.share(total, n, PER)
        else:
            if unit == 1:
                out[f"{name}_count"] = total
            else:
                out[f"{name}_total"] = round(total / unit, 3)
            out[f"{name}_per_1000"] = intervals.mean_of(n, total / unit, squares / (unit * unit), PER)
    for name, measure in SHARES:
        total = sums[INDEX[measure]][0]
        out[f"{name}_count"] = total
        out[f"{name}_share"] = intervals.share(total, n)
    complications = sums[INDEX["complication"]][0]
    missed = sums[INDEX["complication_not_escalated"]][0]
    out["complications_not_escalated_share"] = intervals.share(missed, complications)
    escalation = MinuteCounts()
    for counts in aggregate.time_to_escalation:
        escalation.merge(counts)
    out["time_to_escalation_h"] = intervals.times(escalation.counter())
    return out


def under_care(aggregate: Aggregate, compiled: CompiledPathway) -> dict[str, Any]:
    """Share of the cohort still in a non-final state at 72 h and at 7 days after presentation."""
    series = occupancy_series(aggregate, compiled)
    out = {}
    for hours in UNDER_CARE_HOURS:
        active = sum(
            values[hours] for state, values in series.items() if not compiled.final[compiled.state_index[state]]
        )
        out[f"under_care_{hours}h_share"] = intervals.share(active, aggregate.patients)
    return out


def policy_summary(aggregate: Aggregate, compiled: CompiledPathway, params: SimParams) -> dict[str, Any]:
    """Everything about one policy's cohort."""
    pathway = compiled.pathway
    n = aggregate.patients
    events = compiled.event_names
    resolution = compiled.state_index[params.outcomes["resolution"]]
    field_values: dict[str, dict[str, dict[str, int]]] = {}
    for (event, name, value), count in aggregate.field_values.items():
        field_values.setdefault(events[event], {}).setdefault(name, {})[_key(value)] = count
    final = [i for i, _ in enumerate(compiled.state_ids) if compiled.final[i]]
    to_end = [counts.counter() for counts in aggregate.time_to_end]
    by_code: dict[str, int] = {}
    by_rating: dict[str, int] = {}
    by_rrl: dict[str, int] = {}
    for (_state, code, rating, rrl), count in sorted(aggregate.imaging.items()):
        by_code[code] = by_code.get(code, 0) + count
        by_rating[rating] = by_rating.get(rating, 0) + count
        by_rrl[rrl] = by_rrl.get(rrl, 0) + count
    return {
        "patients": n,
        "case_mix": {name: aggregate.cases[i] for i, name in enumerate(CASE_NAMES)},
        "final_states": {compiled.state_ids[i]: aggregate.end_states[i] for i in final},
        "final_state_shares": {compiled.state_ids[i]: intervals.share(aggregate.end_states[i], n) for i in final},
        "open_states": {
            s: aggregate.end_states[i]
            for i, s in enumerate(compiled.state_ids)
            if not compiled.final[i] and aggregate.end_states[i]
        },
        "paths": [
            {"path": [compiled.state_ids[s] for s in path], "count": count}
            for path, count in sorted(
                aggregate.paths.items(), key=lambda item: (-item[1], [compiled.state_ids[s] for s in item[0]])
            )
        ],
        "transitions": [
            {
                "transition": t.id,
                "source": t.source,
                "target": t.target,
                "count": aggregate.transition_count[i],
                "patients": aggregate.transition_patients[i],
            }
            for i, t in enumerate(pathway.transitions)
        ],
        "events": {
            name: {"count": aggregate.event_count[i], "patients": aggregate.event_patients[i]}
            for i, name in enumerate(events)
        },
        "field_values": field_values,
        "rejected_events": aggregate.rejected,
        "figures": {**figures(aggregate), **under_care(aggregate, compiled)},
        "time_to_resolution_h": intervals.times(to_end[resolution]),
        "time_to_end_h": {compiled.state_ids[i]: intervals.times(counts) for i, counts in enumerate(to_end) if counts},
        "time_to_end_hist": {
            "step_h": HIST_STEP_H,
            "bins": HIST_BINS,
            "states": {compiled.state_ids[i]: histogram(counts) for i, counts in enumerate(to_end) if counts},
        },
        "complications": {
            comp.id: {
                "patients_count": aggregate.complication_patients[k],
                "per_1000": intervals.share(aggregate.complication_patients[k], n, PER),
                "escalated_count": aggregate.complication_escalated[k],
                "not_escalated_count": aggregate.complication_missed[k],
                "time_to_escalation_h": intervals.times(aggregate.time_to_escalation[k].counter()),
            }
            for k, comp in enumerate(params.complications)
        },
        "returns": {
            "patients_count": aggregate.returned,
            "patients_per_1000": intervals.share(aggregate.returned, n, PER),
            "episodes_count": aggregate.return_episodes,
            "escalated_count": aggregate.escalated_on_return,
            "final_states": {compiled.state_ids[i]: count for i, count in enumerate(aggregate.return_final) if count},
        },
        "imaging": {
            "by_code_count": by_code,
            "by_rating_count": by_rating,
            "by_rrl_count": by_rrl,
            "patients_with_contrast_count": aggregate.patients_contrast,
        },
        "reviews_per_patient": {str(k): v for k, v in sorted(aggregate.reviews.items())},
        "patches_per_patient": {str(k): v for k, v in sorted(aggregate.patches.items())},
        "occupancy": {"step_h": 1, "hours": OCCUPANCY_HOURS, "states": occupancy_series(aggregate, compiled)},
        "monitor": {"checked": aggregate.monitor_checked, "violations": aggregate.monitor_violations},
    }


def differences(paired: Paired) -> dict[str, Any]:
    """Paired differences, policy minus reference, on the same patients."""
    n = paired.n
    out: dict[str, Any] = {}
    for name, measure, unit in RATES:
        d_sum, d_squares, both, only_policy, only_reference = paired.sums[INDEX[measure]]
        if measure in BINARY:
            out[f"{name}_per_1000"] = intervals.newcombe_paired(both, only_policy, only_reference, n, PER)
        else:
            out[f"{name}_per_1000"] = intervals.paired_mean(n, d_sum / unit, d_squares / (unit * unit), PER)
    for name, measure in SHARES:
        _, _, both, only_policy, only_reference = paired.sums[INDEX[measure]]
        out[f"{name}_share"] = intervals.newcombe_paired(both, only_policy, only_reference, n)
    for name in PAIRED_TIMES:
        count, d_sum, d_squares = paired.times[name]
        result = intervals.paired_mean(count, d_sum / 60, d_squares / 3600)
        out[f"{name}_h_mean"] = result
    return out


def build(
    totals: Totals,
    policies: tuple[str, ...],
    compiled: CompiledPathway,
    params: SimParams,
    seed: int,
    engine_check: bool = False,
) -> dict[str, Any]:
    for aggregate in totals.values():
        aggregate.expand(compiled.initial, compiled.targets)
    bodies = {name: policy_summary(totals[name], compiled, params) for name in policies}
    reference = policies[0]
    summary: dict[str, Any] = {
        "pathway": compiled.pathway.id,
        "version": compiled.pathway.version,
        "params": {"title": params.title, "sha256_16": params.digest, "overrides": list(params.overrides)},
        "seed": seed,
        "policy": reference,
        "policies": list(policies),
        "per": PER,
        **bodies[reference],
        "monitor_violations": sum(a.monitor_violations for a in totals.values()),
        "by_policy": bodies,
        "differences": {
            "reference": reference,
            "policies": {name: differences(totals.paired[name]) for name in policies[1:]},
        },
    }
    if engine_check:
        summary["engine_check"] = {
            "checked": sum(a.engine_checked for a in totals.values()),
            "mismatches": sum(a.engine_mismatches for a in totals.values()),
        }
    return summary


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
