"""SPIN's verdicts agree with the explorer's, and SPIN's counterexamples replay through `pathway run`.

These need `spin` and `gcc` (scripts/setup.sh installs them). CI runs the shipped definition,
every broken fixture and a seeded sample of mutants; benchmarks/spin_mutants.py runs them all.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.engine import run_course
from pathway.export import spin
from pathway.loader import load
from pathway.verify.crosscheck import cross_check
from pathway.verify.monitor import check_trace
from pathway.verify.mutants import mutants
from pathway.verify.properties import load_catalogue

ROOT = Path(__file__).parent.parent
BROKEN = sorted((ROOT / "tests" / "broken_definitions").glob("*.toml"))
PATHWAY = load()
MUTANT_SAMPLE = 6


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    missing = spin.missing_tools()
    if missing and os.environ.get("CI"):
        pytest.fail(f"{missing} missing in CI: scripts/setup.sh should install them")
    if missing:
        pytest.skip(f"{missing} not installed")


def assert_agrees(definition_name: str, pathway) -> None:  # type: ignore[no-untyped-def]
    check = cross_check(pathway)
    wrong = [(r.prop, r.project, r.spin, r.note) for r in check.compared if not r.agree]
    assert not wrong, f"{definition_name}: {wrong}"
    # SPIN judges every behavioural property except can_finish (branching time)
    judged = {r.prop for r in check.compared}
    assert {"red_flag_escalates", "presentation_routing", "deterministic", "bounded"} <= judged


def test_spin_agrees_on_the_shipped_definition_and_everything_holds() -> None:
    check = cross_check(PATHWAY)
    assert check.agree
    assert all(r.spin for r in check.compared)
    assert check.report.states > 0


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_spin_agrees_on_every_broken_fixture(path: Path) -> None:
    assert_agrees(path.stem, load(path))


def test_spin_agrees_on_a_sample_of_mutants() -> None:
    chosen = random.Random(13).sample(mutants(PATHWAY), MUTANT_SAMPLE)
    for mutant in chosen:
        assert_agrees(f"{mutant.operator}: {mutant.description}", mutant.pathway)


def test_spin_rejects_a_blood_patch_before_the_trial_and_its_trail_replays() -> None:
    """A mutant that lets a review before 48 h lead to a blood patch: SPIN must find the course."""
    mutant = next(m for m in mutants(PATHWAY) if m.description.startswith("'trial_reviewed': drop the guard"))
    report = spin.check(mutant.pathway)
    verdict = report.verdict("blood_patch_after_trial")
    assert verdict.holds is False and verdict.course
    trace = run_course(mutant.pathway, list(verdict.course))
    flagged = {v.property for v in check_trace(mutant.pathway, trace, list(verdict.course))}
    assert "blood_patch_after_trial" in flagged
    # the same course on the shipped definition is safe
    assert not check_trace(PATHWAY, run_course(PATHWAY, list(verdict.course)), list(verdict.course))


def test_cli_writes_counterexamples_that_pathway_run_replays(tmp_path: Path) -> None:
    fixture = ROOT / "tests" / "broken_definitions" / "red_flag_after_routing.toml"
    runner = CliRunner()
    result = runner.invoke(
        main, ["verify", "--cross-check", "spin", "--out", str(tmp_path), "--definition", str(fixture)]
    )
    assert result.exit_code == 1, result.output
    written = sorted(p.name for p in tmp_path.glob("spin-*.jsonl"))
    assert "spin-red_flag_escalates.jsonl" in written
    replay = runner.invoke(main, ["run", "--json", "--definition", str(fixture), str(tmp_path / written[0])])
    assert replay.exit_code == 1
    monitor = [v["property"] for line in replay.stdout.splitlines() for v in json.loads(line)["monitor"]]
    assert written[0][len("spin-") : -len(".jsonl")] in monitor


def test_cli_json_reports_agreement_on_the_shipped_definition() -> None:
    result = CliRunner().invoke(main, ["verify", "--cross-check", "spin", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["agree"] is True
    kinds = {p["id"]: p["spin"] for p in data["properties"]}
    assert kinds["can_finish"] is None and kinds["everything_cited"] is None
    assert load_catalogue().properties[0].id in kinds
