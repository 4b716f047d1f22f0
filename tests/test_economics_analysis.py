"""Cost-effectiveness analysis, one-way and Sobol sensitivity: the properties the methods promise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pathway.economics import analysis, model_inputs, sensitivity
from pathway.economics.costs import Effect
from pathway.loader import load

EFFECT = Effect("headache_free_days", "headache-free days", "higher", tuple(float(w) for w in range(0, 101, 10)), "USD")
POLICIES = ("guideline", "reflexive_imaging", "dismiss_red_flags")


def _arrays(costs: np.ndarray, effects: np.ndarray) -> analysis.PsaArrays:
    return analysis.PsaArrays(POLICIES, costs, {"headache_free_days": effects})


draws = arrays(np.float64, (20, 3), elements=st.floats(0, 1000, allow_nan=False))


@settings(max_examples=50, deadline=None)
@given(draws, draws)
def test_acceptability_adds_up_and_perfect_information_is_never_worth_less_than_nothing(
    c: np.ndarray, e: np.ndarray
) -> None:
    result = analysis.cea(_arrays(c, e / 100), EFFECT, "guideline")
    for point in result["curve"]:
        assert sum(point["probability"].values()) == pytest.approx(1.0)
        assert point["evpi_per_patient"] >= -1e-9
        # the frontier policy has the highest expected net benefit at that price
        nmb = point["wtp"] * e.mean(axis=0) / 100 - c.mean(axis=0)
        assert nmb[POLICIES.index(point["optimal"])] == pytest.approx(nmb.max())


def test_no_value_of_information_when_one_policy_wins_every_draw() -> None:
    rng = np.random.default_rng(2)
    costs = rng.uniform(100, 200, (50, 3))
    costs[:, 0] -= 150  # guideline always cheapest
    effects = np.ones((50, 3)) * 10
    effects[:, 0] += 1  # and always more effective
    result = analysis.cea(_arrays(costs, effects), EFFECT, "guideline")
    assert all(p["evpi_per_patient"] == 0 and p["probability"]["guideline"] == 1 for p in result["curve"])
    assert {v["quadrant"] for v in result["incremental_vs_reference"].values()} == {"dominated"}


@pytest.mark.parametrize(
    ("dc", "de", "expected"),
    [
        (-1, 1, "dominant"),
        (1, -1, "dominated"),
        (1, 0, "dominated"),
        (1, 1, "more costly, more effective"),
        (-1, -1, "less costly, less effective"),
        (0, 0, "equivalent"),
    ],
)
def test_quadrants_of_the_plane(dc: float, de: float, expected: str) -> None:
    assert analysis.quadrant(dc, de) == expected


def test_a_measure_where_less_is_better_is_turned_round() -> None:
    costs = np.array([[100.0, 100.0, 100.0]])
    delay = np.array([[1.0, 1.0, 5.0]])
    lower = Effect("escalation_delay_h", "delay", "lower", (10.0,), "USD")
    result = analysis.cea(analysis.PsaArrays(POLICIES, costs, {"escalation_delay_h": delay}), lower, "guideline")
    assert result["incremental_vs_reference"]["dismiss_red_flags"]["delta_effect"] == -4.0
    assert result["incremental_vs_reference"]["dismiss_red_flags"]["quadrant"] == "dominated"


# ---------------------------------------------------------------- sensitivity on a small cohort


@pytest.fixture(scope="module")
def ctx() -> model_inputs.Context:
    spec = model_inputs.EconomicSpec.from_files(load(), seed=11, patients=200, policies=POLICIES)
    return model_inputs.context(spec)


def test_repricing_the_counts_equals_simulating_at_the_new_prices(ctx: model_inputs.Context) -> None:
    values = ctx.base_values()
    values["costs"]["items.ct_head.amount"] = 400.0
    values["costs"]["items.admission.quantity"] = 5.0
    simulated = sensitivity.point_means(ctx.spec, values)
    repriced = sensitivity.evaluate_sets(ctx, [values], workers=1, scheduler=None)[0]
    for policy in POLICIES:
        assert repriced[policy][0] == pytest.approx(simulated[policy][0], rel=1e-12)
        np.testing.assert_array_equal(repriced[policy][1:], simulated[policy][1:])  # counts and effects as they were


def test_tornado_moves_costs_only_for_prices_and_keeps_the_base(ctx: model_inputs.Context) -> None:
    rows = sensitivity.tornado(ctx)
    base = sensitivity.point_means(ctx.spec, ctx.base_values())
    for row in rows:
        if row["outcome"] == "cost":
            assert row["base"] == pytest.approx(sensitivity.outcome(base, row["policy"], "cost"), abs=1e-6)
        if row["factor"].startswith("items.") and row["outcome"] == "headache_days":
            assert row["value"] == row["base"]
    ct = {
        r["end"]: r["value"]
        for r in rows
        if r["factor"] == "items.ct_head.amount"
        and r["policy"] == "reflexive_imaging"
        and r["outcome"] == "incremental_cost"
    }
    assert ct["low"] < ct["high"]  # a dearer CT widens the gap reflexive imaging opens


def test_sobol_gives_prices_no_share_of_the_headache_days(ctx: model_inputs.Context) -> None:
    pytest.importorskip("SALib")
    rows, evaluated = sensitivity.sobol(ctx, base_samples=4)
    assert evaluated == 4 * (len(ctx.factors) + 2)
    prices = {f.name for f in ctx.factors if f.file == "costs"}
    headache = [r for r in rows if r["outcome"] == "headache_days" and r["policy"] == "guideline"]
    assert headache and all(r["ST"] == 0 for r in headache if r["factor"] in prices)
    cost = [r for r in rows if r["outcome"] == "cost" and r["policy"] == "guideline"]
    assert {r["factor"] for r in cost} == {f.name for f in ctx.factors}
    assert all(np.isfinite(r["ST"]) for r in cost)
