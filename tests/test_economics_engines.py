"""The economics on the vectorised engine against the per-patient reference: the same rows, sums and PSA bytes.

The reference (per-patient clinician, one ``Course`` and one ``Ledger.row`` per patient)
is the oracle; the vectorised engine with the array ledger must give every patient's row
bit for bit, so sums, means and the PSA tables cannot differ by a single byte.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.cli import main
from pathway.compiled import CompiledPathway, LeanRun, compile_pathway
from pathway.economics import evaluate, model_inputs, paths, psa
from pathway.economics.array_engine import ArrayModel
from pathway.economics.ledger import ALL_NAMES
from pathway.loader import load
from pathway.simulate import natural

POLICIES = ("guideline", "reflexive_imaging", "dismiss_red_flags")
BROKEN = Path(__file__).parent / "broken_definitions"
# definitions changed on purpose (pathway verify's fixtures): courses the shipped one never takes, rejected events
# (but not the one without the neurology consultation the shipped cost table prices)
DEFINITIONS = ("shipped", *sorted(p.stem for p in BROKEN.glob("*.toml") if p.stem != "escalation_without_neurology"))
# complications made common, so that the rare branches (returns, missed and late escalations) are exercised
COMMON_COMPLICATIONS = {
    "complications.subdural_haematoma.rate": 0.06,
    "complications.venous_sinus_thrombosis.rate": 0.05,
    "complications.meningitis.rate": 0.04,
    "policies.dismiss_red_flags.dismissed_returns": 2.0,
    "returns.horizon": 6.0,  # and many complications show too late to bring the patient back
}


@functools.cache
def _ctx() -> model_inputs.Context:
    return model_inputs.context(model_inputs.EconomicSpec.from_files(load(), 1, 100, POLICIES))


def _every_state_and_event_priced(costs: dict[str, Any], compiled: CompiledPathway) -> dict[str, Any]:
    """The cost table plus an item on each state and each event, so that every count of the ledger is compared."""
    costs = copy.deepcopy(costs)
    meta = costs["meta"]
    amount = {"value": 1.0, "currency": meta["currency"], "price_year": meta["price_year"], "source": "test"}
    targets = [("state", s) for s in compiled.state_ids] + [("event", e) for e in compiled.event_names]
    for k, (trigger, target) in enumerate(targets):
        costs["items"][f"test_{k}"] = {"text": "test", "on": {trigger: target}, "code": "test", "amount": amount}
    return costs


@functools.cache
def _compiled(definition: str) -> CompiledPathway:
    return compile_pathway(load() if definition == "shipped" else load(BROKEN / f"{definition}.toml"))


def _model(draw: int | None, common: bool, policies: tuple[str, ...], definition: str = "shipped") -> evaluate.Model:
    ctx = _ctx()
    values = model_inputs.draw(ctx, draw) if draw is not None else ctx.base_values()
    if common:
        values["params"].update(COMMON_COMPLICATIONS)
    compiled = _compiled(definition)
    params = paths.with_values(ctx.params_data, values["params"])
    costs = _every_state_and_event_priced(paths.with_values(ctx.costs_data, values["costs"]), compiled)
    return evaluate.build(compiled, params, costs, policies)


def _reference_rows(model: evaluate.Model, seed: int, start: int, stop: int) -> dict[str, np.ndarray]:
    """Ledger.row of every patient on the per-patient clinician, as evaluate's reference engine builds them."""
    history = natural.draw(model.params, seed, start, stop)
    run = LeanRun(model.compiled)
    out = {}
    for policy, clinician in model.clinicians.items():
        draws = natural.policy_draws(model.params, policy, history)
        courses = (clinician.course(history, j, draws, record=True, run=run) for j in range(stop - start))
        out[policy] = model.ledger.price([model.ledger.row(c, history, j) for j, c in enumerate(courses)])
    return out


policy_sets = st.lists(st.sampled_from(POLICIES), min_size=1, max_size=3, unique=True).map(tuple)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    start=st.integers(0, 10**7),
    size=st.integers(1, 300),
    draw=st.none() | st.integers(0, 10_000),
    common=st.booleans(),
    policies=policy_sets,
    definition=st.sampled_from(DEFINITIONS),
)
def test_every_patients_row_is_the_same_bits_on_both_engines(
    seed: int, start: int, size: int, draw: int | None, common: bool, policies: tuple[str, ...], definition: str
) -> None:
    model = _model(draw, common, policies, definition)
    got = ArrayModel(model.compiled, model.params, model.clinicians, model.ledger).rows(seed, start, start + size)
    expected = _reference_rows(model, seed, start, start + size)
    assert list(got) == list(expected)
    for policy, matrix in expected.items():
        assert got[policy].shape == matrix.shape
        assert got[policy].tobytes() == matrix.tobytes(), policy


def test_the_compared_cohort_reaches_every_branch_of_the_ledger() -> None:
    """The rows compared above include returns, late and missed escalations, patch relief (not a vacuous test)."""
    model = _model(None, True, POLICIES)
    rows = _reference_rows(model, 11, 0, 3000)
    arrays = ArrayModel(model.compiled, model.params, model.clinicians, model.ledger)
    got = arrays.rows(11, 0, 3000)
    column = {name: k for k, name in enumerate(ALL_NAMES)}
    episodes = [k for k, item in enumerate(model.ledger.items) if item.trigger == "episode"]
    for policy, matrix in rows.items():
        assert got[policy].tobytes() == matrix.tobytes(), policy
        assert (matrix[:, column["complication_after_course"]] == 1).any(), policy
        assert (matrix[:, column["escalated"]] == 1).any(), policy
        assert not np.isnan(matrix[:, column["hours_to_escalation"]]).all(), policy
        assert not np.isnan(matrix[:, column["days_to_resolution"]]).all(), policy
        assert (matrix[:, column["blood_patches"]] >= 2).any(), policy
        assert (matrix[:, len(ALL_NAMES) + episodes[0]] >= 2).any(), policy  # return episodes
    dismissed = rows["dismiss_red_flags"]
    assert (dismissed[:, column["complication_not_escalated"]] == 1).any()
    assert (dismissed[:, len(ALL_NAMES) + episodes[0]] >= 3).any()  # two dismissed returns, then the escalation
    # some headaches were ended by a patch that gave complete relief
    history = natural.draw_columns(model.params, 11, 0, 3000)
    draws = natural.policy_columns(model.params, "guideline", history.uniforms)
    courses = arrays.clinicians["guideline"].courses(history, draws)
    relieved = arrays.ledger.relief(courses) < history.t_resolve
    assert relieved.any()


def test_rejected_events_are_compared_too() -> None:
    """A definition that refuses events in the blood-patch state: rejected events are counted by neither engine."""
    model = _model(None, True, POLICIES, "trap_in_blood_patch")
    arrays = ArrayModel(model.compiled, model.params, model.clinicians, model.ledger)
    history = natural.draw_columns(model.params, 5, 0, 600)
    draws = natural.policy_columns(model.params, "guideline", history.uniforms)
    assert arrays.clinicians["guideline"].courses(history, draws).rejected.any()
    got, expected = arrays.rows(5, 0, 600), _reference_rows(model, 5, 0, 600)
    for policy, matrix in expected.items():
        assert got[policy].tobytes() == matrix.tobytes(), policy


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    patients=st.integers(1, 250),
    chunk_size=st.integers(1, 120),
    draws=st.lists(st.integers(0, 10_000), min_size=1, max_size=2, unique=True),
    policies=policy_sets,
)
def test_psa_table_bytes_are_the_same_on_both_engines(
    seed: int, patients: int, chunk_size: int, draws: list[int], policies: tuple[str, ...]
) -> None:
    base = attrs.evolve(_ctx().spec, seed=seed, patients=patients, chunk_size=chunk_size, policies=policies)
    tables = {}
    for engine in evaluate.ENGINES:
        spec = attrs.evolve(base, engine=engine)
        rows = [row for k in draws for row in psa.psa_draw(spec, k)]
        tables[engine] = psa.csv_text(psa.layout(model_inputs.context(spec)).names, rows)
    assert tables["vectorised"] == tables["reference"]


def test_simulate_psa_files_do_not_depend_on_the_engine(tmp_path: Path) -> None:
    common = ["simulate", "--psa", "2", "-n", "150", "--seed", "5", "--compare", ",".join(POLICIES), "-q"]
    for engine in ("vectorised", "reference"):
        result = CliRunner().invoke(main, [*common, "--no-plots", "--engine", engine, "--out", str(tmp_path / engine)])
        assert result.exit_code == 0, result.output
    for name in ("psa.csv", "psa.parquet", "psa_summary.json", "ceac.csv"):
        assert (tmp_path / "vectorised" / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name


def test_an_unknown_engine_is_refused() -> None:
    model = _model(None, False, POLICIES)
    try:
        evaluate.evaluate(model, 1, 10, engine="abacus")
    except ValueError as err:
        assert "abacus" in str(err)
    else:
        raise AssertionError("an unknown engine was accepted")
