"""summary.json: the cohort's aggregates as plain, sorted, deterministic JSON.

No timings, paths or host details go in here, so the same seed gives the same
bytes whatever the workers, chunk size or engine (run details go to run.json).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pathway.compiled import CompiledPathway
from pathway.simulate.aggregate import OCCUPANCY_HOURS, Aggregate, occupancy_series, quantiles
from pathway.simulate.natural import CASE_NAMES
from pathway.simulate.params import SimParams

PER = 1000
"""The comparison table is per this many patients."""


HIST_STEP_H = 6
HIST_BINS = OCCUPANCY_HOURS // HIST_STEP_H
"""Time-to-end histogram: 6-hour bins over the occupancy horizon, plus one bin for later."""


def histogram(minutes: Counter[int]) -> list[int]:
    bins = [0] * (HIST_BINS + 1)
    for value, count in minutes.items():
        bins[min(value // (HIST_STEP_H * 60), HIST_BINS)] += count
    return bins


def _key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _rate(count: int, total: int) -> float:
    return round(count / total, 6) if total else 0.0


def imaging_totals(aggregate: Aggregate, params: SimParams) -> dict[str, Any]:
    studies = contrast = 0
    radiation = 0.0
    by_code: dict[str, int] = {}
    by_rating: dict[str, int] = {}
    by_rrl: dict[str, int] = {}
    for (_state, code, rating, rrl), count in sorted(aggregate.imaging.items()):
        studies += count
        by_code[code] = by_code.get(code, 0) + count
        by_rating[rating] = by_rating.get(rating, 0) + count
        by_rrl[rrl] = by_rrl.get(rrl, 0) + count
        if code in params.contrast:
            contrast += count
    for rrl, count in sorted(by_rrl.items()):
        radiation += count * params.dose_msv[rrl].value
    return {
        "studies": studies,
        "contrast_exposures": contrast,
        "radiation_msv": round(radiation, 3),
        "patients_imaged": aggregate.patients_imaged,
        "patients_with_contrast": aggregate.patients_contrast,
        "by_code": by_code,
        "by_rating": by_rating,
        "by_rrl": by_rrl,
    }


def escalation_times(aggregate: Aggregate) -> dict[str, Any]:
    """Time from a complication's first signs to escalation, all complications together."""
    total: Counter[int] = Counter()
    for counts in aggregate.time_to_escalation:
        total.update(counts)
    return quantiles(total)


def policy_summary(aggregate: Aggregate, compiled: CompiledPathway, params: SimParams) -> dict[str, Any]:
    pathway = compiled.pathway
    n = aggregate.patients
    events = compiled.event_names
    patch = compiled.event_index[params.vocabulary["patch"]]
    escalation = compiled.state_index[params.outcomes["escalation"]]
    resolution = compiled.state_index[params.outcomes["resolution"]]
    field_values: dict[str, dict[str, dict[str, int]]] = {}
    for (event, name, value), count in aggregate.field_values.items():
        field_values.setdefault(events[event], {}).setdefault(name, {})[_key(value)] = count
    return {
        "case_mix": {name: aggregate.cases[i] for i, name in enumerate(CASE_NAMES)},
        "final_states": {s: aggregate.end_states[i] for i, s in enumerate(compiled.state_ids) if compiled.final[i]},
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
        "time_to_end_h": {
            compiled.state_ids[i]: quantiles(counts) for i, counts in enumerate(aggregate.time_to_end) if counts
        },
        "time_to_resolution_h": quantiles(aggregate.time_to_end[resolution]),
        "time_to_end_hist": {
            "step_h": HIST_STEP_H,
            "bins": HIST_BINS,
            "states": {
                compiled.state_ids[i]: histogram(counts) for i, counts in enumerate(aggregate.time_to_end) if counts
            },
        },
        "blood_patch": {
            "patients": aggregate.event_patients[patch],
            "rate": _rate(aggregate.event_patients[patch], n),
            "patches": aggregate.event_count[patch],
        },
        "escalations": {
            "patients": aggregate.end_states[escalation],
            "rate": _rate(aggregate.end_states[escalation], n),
        },
        "complications": {
            comp.id: {
                "patients": aggregate.complication_patients[k],
                "escalated": aggregate.complication_escalated[k],
                "not_escalated": aggregate.complication_missed[k],
                "time_to_escalation_h": quantiles(aggregate.time_to_escalation[k]),
            }
            for k, comp in enumerate(params.complications)
        },
        "imaging": imaging_totals(aggregate, params),
        "reviews_per_patient": {str(k): v for k, v in sorted(aggregate.reviews.items())},
        "patches_per_patient": {str(k): v for k, v in sorted(aggregate.patches.items())},
        "occupancy": {"step_h": 1, "hours": OCCUPANCY_HOURS, "states": occupancy_series(aggregate, compiled)},
        "monitor": {"checked": aggregate.monitor_checked, "violations": aggregate.monitor_violations},
    }


def comparison_row(aggregate: Aggregate, compiled: CompiledPathway, params: SimParams) -> dict[str, Any]:
    """One policy's line of the --compare table, per PER patients."""
    n = aggregate.patients or 1
    imaging = imaging_totals(aggregate, params)
    patch = compiled.event_index[params.vocabulary["patch"]]
    escalation = compiled.state_index[params.outcomes["escalation"]]
    unrated = imaging["by_rating"].get("usually_not_appropriate", 0)
    escalated = escalation_times(aggregate)
    return {
        "patients": aggregate.patients,
        "imaging_studies": round(imaging["studies"] * PER / n, 3),
        "usually_not_appropriate_studies": round(unrated * PER / n, 3),
        "radiation_msv": round(imaging["radiation_msv"] * PER / n, 3),
        "contrast_exposures": round(imaging["contrast_exposures"] * PER / n, 3),
        "blood_patches": round(aggregate.event_count[patch] * PER / n, 3),
        "escalations": round(aggregate.end_states[escalation] * PER / n, 3),
        "complications": round(sum(aggregate.complication_patients) * PER / n, 3),
        "complications_not_escalated": round(sum(aggregate.complication_missed) * PER / n, 3),
        "time_to_escalation_h": {k: escalated[k] for k in ("n", "p50", "p95", "mean") if k in escalated},
    }


def build(
    aggregates: dict[str, Aggregate],
    policies: tuple[str, ...],
    compiled: CompiledPathway,
    params: SimParams,
    seed: int,
    engine_check: bool = False,
) -> dict[str, Any]:
    for aggregate in aggregates.values():
        aggregate.expand(compiled.initial, compiled.targets)
    primary = aggregates[policies[0]]
    body = policy_summary(primary, compiled, params)
    summary: dict[str, Any] = {
        "pathway": compiled.pathway.id,
        "version": compiled.pathway.version,
        "params": {"title": params.title, "sha256_16": params.digest},
        "seed": seed,
        "patients": primary.patients,
        "policy": policies[0],
        **body,
        "monitor_violations": sum(a.monitor_violations for a in aggregates.values()),
        "by_policy": {
            name: {
                **comparison_row(aggregates[name], compiled, params),
                "imaging": imaging_totals(aggregates[name], params),
                "final_states": {
                    s: aggregates[name].end_states[i] for i, s in enumerate(compiled.state_ids) if compiled.final[i]
                },
                "monitor": {
                    "checked": aggregates[name].monitor_checked,
                    "violations": aggregates[name].monitor_violations,
                },
            }
            for name in policies
        },
        "per": PER,
    }
    if engine_check:
        summary["engine_check"] = {
            "checked": sum(a.engine_checked for a in aggregates.values()),
            "mismatches": sum(a.engine_mismatches for a in aggregates.values()),
        }
    return summary


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
