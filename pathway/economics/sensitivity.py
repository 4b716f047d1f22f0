"""One-way (tornado) and global (Sobol) sensitivity of the headline outcomes to the uncertain factors.

Both evaluate the model at chosen parameter sets on the same patients (the spec's seed), so
an outcome moves only because a parameter did. A set that differs from an evaluated one
only in prices is not simulated again: the mean item counts are repriced (the cost of a
cohort is linear in its unit costs), which is exact for mean costs.

* tornado: each factor at the 2.5th and 97.5th percentile of its distribution, the others at
  their values in the files (dampack's ``owsa``/``owsa_tornado``);
* Sobol: first-order and total indices from Saltelli-Sobol samples of every factor's
  uniforms, analysed with SALib (``SALib.sample.sobol``, ``SALib.analyze.sobol``); a group
  of shares is one factor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from pathway.economics import costs as costs_io
from pathway.economics import evaluate, model_inputs, paths, runner
from pathway.economics.ledger import ALL_NAMES
from pathway.economics.model_inputs import Context, EconomicSpec, Values

OUTCOMES = ("cost", "headache_days", "hours_to_escalation", "escalation_delay_h")
"""The headline outcomes: cost and headache-days per patient; hours to escalation among the
complications escalated (undefined in a set where none was, and then left out of Sobol); and the
escalation delay per patient, its always-defined form (0 without a complication)."""
Means = dict[str, list[float]]
"""policy -> the means of every ledger column."""
Progress = Callable[[int], None]


def point_means(spec: EconomicSpec, values: Values) -> Means:
    """Task: the column means of every policy at one parameter set."""
    ctx = model_inputs.context(spec)
    totals = ctx.totals(values)
    return {policy: [float(x) for x in totals.means(policy)] for policy in spec.policies}


def _sim_key(values: Values) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(values["params"].items()))


def _prices(ctx: Context, cost_values: dict[str, float]) -> np.ndarray:
    data = paths.with_values(ctx.costs_data, cost_values)
    table = costs_io.parse(data, ctx.spec.costs_file, ALL_NAMES)
    return np.array([item.unit_cost for item in table.items])


def reprice(means: Means, prices: np.ndarray) -> Means:
    """The same counts at other unit costs: only the cost column changes."""
    start = len(ALL_NAMES)
    out = {}
    for policy, row in means.items():
        new = list(row)
        new[0] = float(np.asarray(row[start:]) @ prices)
        out[policy] = new
    return out


def evaluate_sets(
    ctx: Context, sets: list[Values], workers: int, scheduler: str | None, progress: Progress | None = None
) -> list[Means]:
    """Means at every parameter set; sets sharing simulator parameters are simulated once."""
    unique: dict[tuple[tuple[str, float], ...], Values] = {}
    for values in sets:
        unique.setdefault(_sim_key(values), {"params": values["params"], "costs": {}})
    keys = list(unique)
    simulated: dict[tuple[tuple[str, float], ...], Means] = {}
    for key, means in zip(
        keys, runner.ordered(point_means, ctx.spec, [unique[k] for k in keys], workers, scheduler), strict=True
    ):
        simulated[key] = means
        if progress is not None:
            progress(1)
    base_costs = ctx.base_values()["costs"]
    return [reprice(simulated[_sim_key(v)], _prices(ctx, {**base_costs, **v["costs"]})) for v in sets]


def outcome(means: Means, policy: str, name: str) -> float:
    return means[policy][ALL_NAMES.index(name)]


# ---------------------------------------------------------------- one-way


def tornado_sets(ctx: Context) -> tuple[list[Values], list[tuple[str, str, tuple[float, ...]]]]:
    """The base set, then each factor at its low and high end: (sets, labels (factor, end, values))."""
    base = ctx.base_values()
    sets = [base]
    labels: list[tuple[str, str, tuple[float, ...]]] = [("base", "base", ())]
    for factor in ctx.factors:
        for end, ends in zip(("low", "high"), factor.interval(), strict=True):
            values = {"params": dict(base["params"]), "costs": dict(base["costs"])}
            values[factor.file].update(zip(factor.all_paths, ends, strict=True))
            sets.append(values)
            labels.append((factor.name, end, ends))
    return sets, labels


def tornado(
    ctx: Context, workers: int = 1, scheduler: str | None = None, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Rows (factor, end, policy, outcome, value, base) for every factor, policy and outcome,
    plus the incremental cost of each policy against the reference."""
    sets, labels = tornado_sets(ctx)
    results = evaluate_sets(ctx, sets, workers, scheduler, progress)
    base = results[0]
    reference = ctx.model().table.reference_policy
    rows = []
    for (factor, end, ends), means in zip(labels[1:], results[1:], strict=True):
        for policy in ctx.spec.policies:
            for name in OUTCOMES:
                rows.append(
                    _row(factor, end, ends, policy, name, outcome(means, policy, name), outcome(base, policy, name))
                )
            if policy != reference:
                value = outcome(means, policy, "cost") - outcome(means, reference, "cost")
                at_base = outcome(base, policy, "cost") - outcome(base, reference, "cost")
                rows.append(_row(factor, end, ends, policy, "incremental_cost", value, at_base))
    return rows


def _row(
    factor: str, end: str, ends: tuple[float, ...], policy: str, name: str, value: float, base: float
) -> dict[str, Any]:
    def r(x: float) -> float | None:
        return None if math.isnan(x) else round(x, 6) + 0.0

    return {
        "factor": factor,
        "end": end,
        "values": [r(v) for v in ends],
        "policy": policy,
        "outcome": name,
        "value": r(value),
        "base": r(base),
    }


# ---------------------------------------------------------------- Sobol


def sobol(
    ctx: Context,
    base_samples: int,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """First-order and total Sobol indices of each factor, for each outcome and policy; and the sets evaluated."""
    from SALib.analyze import sobol as sobol_analyze  # imports pandas and scipy: only when asked
    from SALib.sample import sobol as sobol_sample

    factors = ctx.factors
    names, groups = [], []
    for f in factors:
        for i in range(f.dims):
            names.append(f"{f.name}[{i}]")
            groups.append(f.name)
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names), "groups": groups}
    matrix = sobol_sample.sample(problem, base_samples, calc_second_order=False, scramble=True, seed=ctx.spec.seed)
    sets = []
    for row in matrix:
        uniforms, at = {}, 0
        for f in factors:
            uniforms[f.name] = np.asarray(row[at : at + f.dims])
            at += f.dims
        sets.append(model_inputs.factor_values(factors, uniforms))
    results = evaluate_sets(ctx, sets, workers, scheduler, progress)
    out = []
    for name in OUTCOMES:
        for policy in ctx.spec.policies:
            y = np.array([outcome(m, policy, name) for m in results])
            if np.isnan(y).any() or np.ptp(y) == 0:
                continue  # e.g. no complication escalated in some sets: no index can be computed
            indices = sobol_analyze.analyze(
                problem, y, calc_second_order=False, print_to_console=False, seed=ctx.spec.seed
            )
            for k, factor in enumerate(dict.fromkeys(groups)):
                out.append(
                    {
                        "outcome": name,
                        "policy": policy,
                        "factor": factor,
                        "S1": round(float(indices["S1"][k]), 6),
                        "S1_conf": round(float(indices["S1_conf"][k]), 6),
                        "ST": round(float(indices["ST"][k]), 6),
                        "ST_conf": round(float(indices["ST_conf"][k]), 6),
                    }
                )
    return out, len(sets)


__all__ = ["OUTCOMES", "evaluate", "reprice", "sobol", "tornado", "tornado_sets"]
