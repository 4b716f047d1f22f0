"""Exact figures from Storm on the exported DTMC, beside the Monte Carlo of `pathway simulate`.

Storm builds the chain from the PRISM text (``pathway.export.prism``) and computes, for an
in-scope patient: the probability of ending in each final state, the expected number of
blood patches and the expected hours from presentation to the end of the course, and to
resolution among patients who resolve. The last is a conditional expectation, which Storm's
reward operator does not take directly: with h(s) = P_s(F resolved), E[T; resolved] is the
expected total of the time reward weighted by h (by the Markov property), so a second
reward model carries time x h and is checked on the same matrix.

The Monte Carlo side runs the simulator's own natural history and clinician
(``pathway.simulate.natural``, ``pathway.simulate.clinician``) on the same definition and
parameters, keeps the in-scope patients and reports each mean with its 95 % interval.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from pathway.compiled import LeanRun, compile_pathway
from pathway.export.prism import CohortChain
from pathway.model import Pathway
from pathway.simulate import natural
from pathway.simulate.clinician import Clinician
from pathway.simulate.params import SimParams

Z95 = 1.959963984540054
CHUNK = 10_000


class StormUnavailable(RuntimeError):
    """stormpy is not installed (scripts/setup.sh installs it with the `verify` extra)."""


@attrs.frozen
class Figure:
    """One quantity: Storm's value and the Monte Carlo estimate with its 95 % interval."""

    name: str
    exact: float
    mean: float
    low: float
    high: float

    @property
    def inside(self) -> bool:
        return self.low <= self.exact <= self.high


@attrs.frozen
class Exact:
    values: dict[str, float]
    states: int
    transitions: int
    seconds_export: float
    seconds_build: float
    seconds_check: float


def storm_values(chain: CohortChain) -> Exact:
    """Every quantity of the comparison, computed by Storm on the chain."""
    try:
        import stormpy
    except ImportError as err:
        raise StormUnavailable("stormpy is not installed (scripts/setup.sh installs it)") from err
    started = time.perf_counter()
    text = chain.text()
    exported = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pathway-storm-") as tmp:
        path = Path(tmp) / "cohort.prism"
        path.write_text(text, encoding="utf-8")
        program = stormpy.parse_prism_program(str(path))
    model = stormpy.build_model(program)
    built = time.perf_counter()
    init = model.initial_states[0]
    finals = [s for s in chain.states if s in chain.final]
    ends = '("final" | "stopped")'
    formulas = {f"P({s})": f'P=? [F "{s}"]' for s in finals}
    formulas["P(course left open)"] = 'P=? [F "stopped"]'
    formulas["E(blood patches)"] = f'R{{"patches"}}=? [F {ends}]'
    formulas["E(hours to the end)"] = f'R{{"time"}}=? [F {ends}]'
    values: dict[str, float] = {}
    vectors: dict[str, list[float]] = {}
    for name, formula in formulas.items():
        prop = stormpy.parse_properties(formula, program)[0]
        result = stormpy.model_checking(model, prop)
        values[name] = float(result.get_value(init))
        if name == f"P({chain.params.outcomes['resolution']})":
            vectors["h"] = list(result.get_value_vector())
    resolved = chain.params.outcomes["resolution"]
    p_resolved = values[f"P({resolved})"]
    if "h" in vectors and p_resolved > 0:
        ticks = model.reward_models["time"].state_action_rewards
        weighted = [float(t) * h for t, h in zip(ticks, vectors["h"], strict=True)]
        from stormpy.developer import storage

        rewards = {"weighted": storage.SparseRewardModel(optional_state_action_reward_vector=weighted)}
        components = storage.SparseModelComponents(
            transition_matrix=model.transition_matrix,
            state_labeling=model.labeling,
            reward_models=rewards,
            rate_transitions=False,
        )
        conditioned = type(model)(components)
        prop = stormpy.parse_properties(f'R{{"weighted"}}=? [F {ends}]')[0]
        joint = float(stormpy.model_checking(conditioned, prop).get_value(init))
        values[f"E(hours to {resolved} | {resolved})"] = joint / p_resolved
    done = time.perf_counter()
    return Exact(values, model.nr_states, model.nr_transitions, exported - started, built - exported, done - built)


@attrs.frozen
class Sample:
    patients: int
    ends: dict[str, int]
    patches: tuple[float, float]  # sum, sum of squares
    hours: tuple[int, float, float]  # n, sum, sum of squares (all courses that ended)
    resolved_hours: tuple[int, float, float]
    seconds: float


def monte_carlo(pathway: Pathway, params: SimParams, policy: str, patients: int, seed: int) -> Sample:
    """In-scope patients among ``patients`` simulated ones (the simulator's own code, patient by patient)."""
    started = time.perf_counter()
    compiled = compile_pathway(pathway)
    clinician = Clinician(compiled, params, policy)
    resolution = params.outcomes["resolution"]
    ends: Counter[str] = Counter()
    patch_sum = patch_sq = 0.0
    hours: list[float] = [0, 0.0, 0.0]
    resolved: list[float] = [0, 0.0, 0.0]
    run = LeanRun(compiled)
    for start in range(0, patients, CHUNK):
        stop = min(start + CHUNK, patients)
        history = natural.draw(params, seed, start, stop)
        draws = natural.policy_draws(params, policy, history)
        for j in range(stop - start):
            if history.case[j] != natural.IN_SCOPE:
                continue
            course = clinician.course(history, j, draws, run=run)
            state = compiled.state_ids[course.state]
            ends[state if compiled.final[course.state] else "(course left open)"] += 1
            patch_sum += course.patches
            patch_sq += course.patches**2
            if course.t_end is not None:
                h = (course.t_end - course.t_present) / 60.0
                for acc, keep in ((hours, True), (resolved, state == resolution)):
                    if keep:
                        acc[0] += 1
                        acc[1] += h
                        acc[2] += h * h
    n = sum(ends.values())
    return Sample(
        n,
        dict(ends),
        (patch_sum, patch_sq),
        (int(hours[0]), hours[1], hours[2]),
        (int(resolved[0]), resolved[1], resolved[2]),
        time.perf_counter() - started,
    )


def _proportion(k: int, n: int) -> tuple[float, float, float]:
    """Wilson's 95 % interval (good near 0 and 1, where escalations are)."""
    if n == 0:
        return math.nan, math.nan, math.nan
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return p, max(0.0, centre - half) if k else 0.0, min(1.0, centre + half)


def _mean(n: int, total: float, squares: float) -> tuple[float, float, float]:
    if n < 2:
        return math.nan, math.nan, math.nan
    mean = total / n
    sd = math.sqrt(max(squares / n - mean * mean, 0.0) * n / (n - 1))
    return mean, mean - Z95 * sd / math.sqrt(n), mean + Z95 * sd / math.sqrt(n)


def compare(exact: Exact, sample: Sample, resolution: str) -> list[Figure]:
    figures = []
    for name, value in exact.values.items():
        if name.startswith("P("):
            state = name[2:-1]
            est = _proportion(sample.ends.get(state, 0), sample.patients)
        elif name == "E(blood patches)":
            est = _mean(sample.patients, *sample.patches)
        elif name == "E(hours to the end)":
            est = _mean(*sample.hours)
        else:
            est = _mean(*sample.resolved_hours)
        figures.append(Figure(name, value, *est))
    return figures


def figures_json(figures: list[Figure], exact: Exact, sample: Sample, step: float) -> dict[str, Any]:
    return {
        "step_h": step,
        "chain": {"states": exact.states, "transitions": exact.transitions},
        "seconds": {
            "export": round(exact.seconds_export, 3),
            "storm_build": round(exact.seconds_build, 3),
            "storm_check": round(exact.seconds_check, 3),
            "monte_carlo": round(sample.seconds, 3),
        },
        "in_scope_patients": sample.patients,
        "figures": [
            {"quantity": f.name, "storm": f.exact, "monte_carlo": f.mean, "ci95": [f.low, f.high], "inside": f.inside}
            for f in figures
        ],
    }


def steps_difference(coarse: Exact, fine: Exact) -> dict[str, float]:
    """How much each figure moves when the step is halved: the observed discretisation error."""
    return {k: float(np.abs(fine.values[k] - coarse.values[k])) for k in fine.values if k in coarse.values}
