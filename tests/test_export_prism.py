"""The PRISM export of the guideline cohort: Storm's exact figures agree with the simulator's Monte Carlo,
and the chain follows the definition and the parameter file it was generated from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.export.prism import CohortChain
from pathway.loader import load
from pathway.simulate import params as params_io

if os.environ.get("CI"):
    import stormpy  # CI installs it (scripts/setup.sh): missing, it must fail, not skip
else:
    stormpy = pytest.importorskip("stormpy")

from pathway.export.storm import storm_values

PATHWAY = load()
PARAMS = params_io.load()
STEP = 12.0  # coarse: fast enough for CI; benchmarks/bench_second_opinion.py shows finer steps
RESOLVED = PARAMS.outcomes["resolution"]


@pytest.fixture(scope="module")
def exact() -> dict[str, float]:
    return storm_values(CohortChain(PATHWAY, PARAMS, step=STEP)).values


def test_final_state_probabilities_add_up_to_one(exact: dict[str, float]) -> None:
    ends = [v for k, v in exact.items() if k.startswith("P(")]
    assert abs(sum(ends) - 1.0) < 1e-6
    assert exact[f"P({RESOLVED})"] > 0.5
    # every final state of the definition is a quantity of the comparison
    assert {f"P({s})" for s in PATHWAY.final_state_ids} <= set(exact)


def test_storm_and_the_monte_carlo_agree_within_interval_and_discretisation() -> None:
    result = CliRunner().invoke(
        main, ["verify", "--cross-check", "storm", "--step", str(STEP), "--patients", "20000", "--json"]
    )
    assert result.exit_code == 0, result.output[-3000:]
    data = json.loads(result.output)
    assert data["agree"] is True
    for row in data["figures"]:
        low, high = row["ci95"]
        slack = 1.6 * (high - low) / 2 + data["discretisation_error_estimate"][row["quantity"]]  # Bonferroni z ~ 3
        assert abs(row["storm"] - row["monte_carlo"]) <= slack, row
    # the comparison is not vacuous: the frequent outcomes have narrow intervals
    resolved = next(r for r in data["figures"] if r["quantity"] == f"P({RESOLVED})")
    assert resolved["ci95"][1] - resolved["ci95"][0] < 0.01


def test_the_chain_follows_the_definition(exact: dict[str, float]) -> None:
    """Send every failed second patch home as resolved: the refractory outcome disappears."""
    changed = attrs.evolve(
        PATHWAY,
        transitions=tuple(
            attrs.evolve(t, target=RESOLVED) if t.id == "patch_failed" else t for t in PATHWAY.transitions
        ),
    )
    mutant = storm_values(CohortChain(changed, PARAMS, step=STEP)).values
    assert exact["P(refractory_leak)"] > 0.001
    assert mutant["P(refractory_leak)"] == 0.0
    assert mutant[f"P({RESOLVED})"] == pytest.approx(exact[f"P({RESOLVED})"] + exact["P(refractory_leak)"], abs=1e-6)


def test_the_chain_follows_the_parameters(exact: dict[str, float]) -> None:
    escalation = f"P({PARAMS.outcomes['escalation']})"
    no_complications = attrs.evolve(
        PARAMS, complications=tuple(attrs.evolve(c, rate=attrs.evolve(c.rate, value=0.0)) for c in PARAMS.complications)
    )
    quiet = storm_values(CohortChain(PATHWAY, no_complications, step=STEP)).values
    assert 0 < quiet[escalation] < exact[escalation] - 0.001  # only fever at presentation is left
    no_fever = attrs.evolve(no_complications, febrile_share=attrs.evolve(PARAMS.febrile_share, value=0.0))
    calmer = storm_values(CohortChain(PATHWAY, no_fever, step=STEP)).values
    assert calmer[escalation] < quiet[escalation]
    always = {
        name: attrs.evolve(n, value=1.0 if name == "complete" else 0.0)
        for name, n in PARAMS.groups[next(iter(PARAMS.groups))].first_patch.items()
    }
    all_complete = attrs.evolve(
        PARAMS,
        groups={k: attrs.evolve(g, first_patch=always, repeat_patch=always) for k, g in PARAMS.groups.items()},
    )
    relieved = storm_values(CohortChain(PATHWAY, all_complete, step=STEP)).values
    assert relieved["P(refractory_leak)"] == 0.0
    assert relieved["E(blood patches)"] < exact["E(blood patches)"]


def test_cli_export_writes_the_model_atomically(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", "--format", "prism", "--step", str(STEP), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = [Path(line) for line in result.output.split()]
    assert [p.name for p in written] == [f"{PATHWAY.id}-cohort-{STEP:g}h.prism"]
    out = written[0]
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[3] == "dtmc"
    for state in PATHWAY.final_state_ids:
        assert f'label "{state}"' in text
    assert not list(tmp_path.glob(".*.partial"))
    program = stormpy.parse_prism_program(str(out))
    assert program.nr_modules == 1
    promela = CliRunner().invoke(main, ["export", "--format", "promela", "--out", str(tmp_path)])
    assert promela.exit_code == 0 and (tmp_path / f"{PATHWAY.id}.pml").read_text(encoding="utf-8").count("ltl ") > 10


def test_cli_export_refuses_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory", encoding="utf-8")
    result = CliRunner().invoke(main, ["export", "--format", "promela", "--out", str(blocker / "x.pml")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "pathway: error:" in result.output
