"""The cost table and the parameter distributions: checked against the pathway and fitted to their sources."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway.economics import costs as costs_io
from pathway.economics import paths
from pathway.economics import uncertainty as unc
from pathway.economics.ledger import ALL_NAMES
from pathway.loader import load
from pathway.simulate import params as params_io

ROOT = Path(__file__).resolve().parents[1]
COSTS = tomllib.loads(costs_io.DEFAULT_COSTS.read_text(encoding="utf-8"))
PARAMS = tomllib.loads(params_io.DEFAULT_PARAMS.read_text(encoding="utf-8"))
EVIDENCE = set(re.findall(r"^## ([a-z][a-z0-9_]*)$", (ROOT / "docs" / "evidence.md").read_text(encoding="utf-8"), re.M))


def _table(data: dict[str, object] = COSTS) -> costs_io.CostTable:
    return costs_io.parse(data, "costs.toml", ALL_NAMES)


def test_the_shipped_cost_table_prices_things_of_the_pathway() -> None:
    pathway = load()
    table = _table()
    costs_io.check_against(table, pathway, ("guideline", "reflexive_imaging", "dismiss_red_flags"))
    imaging = {r.code for s in pathway.states for r in s.recommendations if r.kind == "imaging"}
    # every imaging study the pathway can recommend has a price
    assert imaging <= {item.target for item in table.items if item.trigger == "imaging"}
    for item in table.items:
        assert item.amount > 0 and 1900 < item.price_year <= table.price_year, item.id


def _cited_ids(text: str) -> set[str]:
    ids = set()
    for source in re.findall(r'source = "([^"]*)"', text):
        for piece in source.split(";"):
            if ":" not in piece:
                continue  # a remark after a citation ("...; midpoint"), not a citation
            head = piece.split(":")[0].strip()
            if re.fullmatch(r"[a-z][a-z0-9_]*", head) and head != "assumption":
                ids.add(head)
    return ids


@pytest.mark.parametrize("path", [costs_io.DEFAULT_COSTS, params_io.DEFAULT_PARAMS], ids=["costs", "params"])
def test_every_source_of_the_economic_data_names_an_evidence_entry(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    missing = _cited_ids(text) - EVIDENCE
    assert not missing, f"{path.name} cites ids with no entry in docs/evidence.md: {sorted(missing)}"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('event = "reassessment"', 'event = "arrival"', "items.follow_up_visit.on.event: 'arrival' is not an event"),
        ('episode = "each" }\ncode', 'episode = "some" }\ncode', "items.emergency_visit.on.episode: expected 'each'"),
        ('imaging = "ct_head_without_contrast"', 'imaging = "pet_head"', "items.ct_head.on.imaging: 'pet_head'"),
        ('state = "red_flag_escalation"', 'state = "icu"', "items.admission.on.state: 'icu' is not a state"),
        ('value = 106.20, currency = "USD"', 'value = -5, currency = "USD"', "items.ct_head.amount.value"),
        ('value = 94.88, currency = "USD"', 'value = 94.88, currency = "EUR"', "follow_up_visit.amount.currency"),
        ('on = { action = "refer" }', 'on = { action = "refer", state = "resolved" }', "items.referral.on"),
        ('measure = "headache_free_days"', 'measure = "happiness"', "unknown measure 'happiness'"),
    ],
)
def test_a_broken_cost_table_is_one_line_naming_the_entry(old: str, new: str, message: str) -> None:
    text = costs_io.DEFAULT_COSTS.read_text(encoding="utf-8")
    assert old in text
    data = tomllib.loads(text.replace(old, new, 1))
    with pytest.raises(costs_io.CostError) as caught:
        costs_io.check_against(_table(data), load(), ("guideline",))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def _factors() -> tuple[unc.Uncertain, ...]:
    return (
        *unc.collect("params", PARAMS, unc.in_entries(PARAMS), "params.toml"),
        *unc.collect("costs", COSTS, unc.in_entries(COSTS), "costs"),
    )


def test_every_distribution_is_centred_on_the_value_in_its_file() -> None:
    for factor in _factors():
        draws = factor.values(np.random.default_rng(3).random((4000, factor.dims)))
        centre = np.median(draws, axis=0) if factor.kind in ("lognormal",) else draws.mean(axis=0)
        for value, base in zip(centre, factor.follow(factor.base), strict=True):
            assert value == pytest.approx(base, rel=0.12, abs=1e-6), factor.name
        low, high = factor.interval()
        for lo, b, hi in zip(low, factor.follow(factor.base), high, strict=True):
            if factor.kind != "dirichlet":
                assert lo < b < hi, factor.name


def test_shares_drawn_together_keep_their_total() -> None:
    for factor in _factors():
        if factor.kind == "dirichlet":
            draws = factor.values(np.random.default_rng(5).random((200, factor.dims)))[:, : factor.dims]
            assert np.allclose(draws.sum(axis=1), sum(factor.base)), factor.name
            for end in factor.interval():
                assert sum(end[: factor.dims]) == pytest.approx(sum(factor.base)), factor.name


@settings(max_examples=60, deadline=None)
@given(st.floats(0.001, 0.999), st.floats(0.001, 0.999))
def test_a_higher_uniform_never_gives_a_lower_value(u: float, v: float) -> None:
    for factor in _factors():
        if factor.dims == 1:
            a, b = sorted((u, v))
            assert factor.values(np.array([[a]]))[0, 0] <= factor.values(np.array([[b]]))[0, 0], factor.name


def test_counts_that_do_not_fit_the_value_are_refused() -> None:
    with pytest.raises(unc.UncertaintyError, match=r"does not fit the value 0\.39"):
        unc.scalar("params", "p.pdph", 0.39, {"dist": "beta", "events": 10, "trials": 75, "source": "x"}, "f")
    with pytest.raises(unc.UncertaintyError, match="needs a 'source'"):
        unc.scalar("params", "p.pdph", 0.39, {"dist": "beta", "n": 10}, "f")
    with pytest.raises(unc.UncertaintyError, match="unknown dist 'normal'"):
        unc.scalar("params", "p.x", 3.0, {"dist": "normal", "source": "x"}, "f")


def test_beta_from_counts_is_the_count_itself() -> None:
    factor = unc.scalar("params", "x", 0.075, {"dist": "beta", "events": 48, "trials": 640, "source": "s"}, "f")
    assert factor is not None and factor.shape == (48, 592)
    draws = factor.values(np.random.default_rng(1).random((20000, 1)))
    assert draws.mean() == pytest.approx(48 / 640, rel=0.01)
    assert draws.std() == pytest.approx(math.sqrt(48 * 592 / (640**2 * 641)), rel=0.05)


def test_paths_name_numbers_of_the_parameter_file() -> None:
    for path in unc.in_entries(PARAMS):
        paths.get(PARAMS, path)  # raises for a path that names nothing
    changed = paths.with_values(PARAMS, {"punctures.lp_22g_cutting.pdph": 0.5, "onset.after_puncture.median": 20.0})
    assert paths.get(changed, "punctures.lp_22g_cutting.pdph") == 0.5
    assert paths.get(changed, "onset.after_puncture.median") == 20.0
    assert paths.get(PARAMS, "punctures.lp_22g_cutting.pdph") == 0.39  # the original is untouched
    with pytest.raises(paths.PathError, match="no entry 'lp_99g'"):
        paths.get(PARAMS, "punctures.lp_99g.pdph")


def test_a_number_the_same_as_another_takes_its_drawn_value() -> None:
    data = {"first": {"value": 0.75}, "repeat": {"value": 0.75}, "other": {"value": 0.5}}
    specs = {
        "first": {"dist": "beta", "events": 377, "trials": 504, "source": "s"},
        "repeat": {"same_as": "first", "source": "as the first", "derived": True},
    }
    (factor,) = unc.collect("params", data, specs, "f")
    assert factor.all_paths == ("first", "repeat") and factor.dims == 1
    drawn = factor.values(np.array([[0.1], [0.9]]))
    assert (drawn[:, 0] == drawn[:, 1]).all()
    with pytest.raises(unc.UncertaintyError, match="is not its value"):
        unc.collect("params", data, {**specs, "other": {"same_as": "first", "source": "x"}}, "f")
    with pytest.raises(unc.UncertaintyError, match="has no distribution"):
        unc.collect("params", data, {"repeat": {"same_as": "first", "source": "x"}}, "f")
