"""The validation report: published targets against the matching simulated subgroup, with verdicts."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from pathway.cli import main
from pathway.simulate import params as params_io
from pathway.simulate.cohort_facts import FactContext
from pathway.simulate.console import validation_table
from pathway.simulate.params import ParamsError
from pathway.simulate.validation import (
    CONSISTENT,
    DEFAULT_TARGETS,
    INCONSISTENT,
    NOT_ASSESSABLE,
    Published,
    load_targets,
    verdict,
)

SHIPPED = DEFAULT_TARGETS.read_text(encoding="utf-8")


def facts() -> FactContext:
    params = params_io.load()
    return FactContext(0, 1, tuple(c.id for c in params.complications))


def test_the_shipped_targets_are_enough_and_match_the_shipped_parameters() -> None:
    params = params_io.load()
    targets = load_targets(facts())
    assert len(targets) >= 10
    assert {t.use for t in targets} == {"calibration", "validation"}
    assert sum(t.use == "validation" for t in targets) >= 5
    kinds = {p.id for p in params.punctures}
    for target in targets:
        assert set(target.punctures) <= kinds, target.id
        assert target.policy in params.policies
        assert target.source and target.population
        assert target.published.low <= target.published.value <= target.published.high


def broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in SHIPPED, old
    path = tmp_path / "targets.toml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "entry", "problem"),
    [
        ('numerator = ["onset_24h"]', 'numerator = ["onset_25h"]', "targets[0].numerator", "unknown fact 'onset_25h'"),
        ('24h_spinal"\nuse = "calibration"', '24h_spinal"\nuse = "calibrated"', "targets[0].use", "use must be one of"),
        ("published = { k = 18, n = 21 }", "published = { k = 22, n = 21 }", "published", "0 <= k <= n"),
        ('time = "puncture_to_first_patch"', 'time = "patch_delay"', "time", "time must be one of"),
        ('source = "lybecker1995"', 'sourse = "lybecker1995"', "targets[0]", "unknown key 'sourse'"),
    ],
)
def test_a_broken_target_is_refused_in_one_line(tmp_path: Path, old: str, new: str, entry: str, problem: str) -> None:
    with pytest.raises(ParamsError) as caught:
        load_targets(facts(), broken(tmp_path, old, new))
    message = str(caught.value)
    assert "\n" not in message and entry in message and problem in message, message


def test_verdicts_compare_the_intervals() -> None:
    published = Published(0.3, 0.2, 0.4, 50, "")

    def est(low: float | None, high: float | None, n: int = 100) -> dict[str, Any]:
        return {"value": 0.0, "low": low, "high": high, "n": n}

    assert verdict(published, est(0.35, 0.45))[0] == CONSISTENT
    outcome, reason = verdict(published, est(0.41, 0.5))
    assert outcome == INCONSISTENT and "above" in reason
    assert "below" in verdict(published, est(0.05, 0.19))[1]
    assert verdict(published, est(None, None, 2))[0] == NOT_ASSESSABLE
    assert verdict(published, est(0.0, 1.0, 0))[0] == NOT_ASSESSABLE


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("validate")
    args = ["simulate", "-n", "4000", "--seed", "7", "--validate", "--summary-only", "--no-plots", "--out", str(out)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((out / "validation.json").read_text(encoding="utf-8")), result.stdout


def test_the_report_gives_both_figures_and_a_verdict_for_every_target(report: tuple[dict[str, Any], str]) -> None:
    document, printed = report
    targets = load_targets(facts())
    assert [row["id"] for row in document["targets"]] == [t.id for t in targets]
    for row in document["targets"]:
        simulated, published = row["simulated"], row["published"]
        assert row["verdict"] in (CONSISTENT, INCONSISTENT, NOT_ASSESSABLE)
        assert simulated["n"] > 0, row["id"]  # every target has a simulated subgroup in the shipped cohort
        assert published["low"] <= published["value"] <= published["high"]
        assert bool(row["reason"]) == (row["verdict"] != CONSISTENT)
    wide = Console(width=240, record=True, file=io.StringIO())
    wide.print(validation_table(document))
    table = wide.export_text()
    for row in document["targets"]:
        assert row["id"] in table and row["verdict"] in table
    assert "validation against published outcomes" in printed
    counted = sum(sum(by_verdict.values()) for by_verdict in document["counts"].values())
    assert counted == len(targets)
    assert "calibration targets:" in printed and "validation targets:" in printed


def test_calibrated_onset_agrees_and_the_subgroup_is_the_published_population(
    report: tuple[dict[str, Any], str],
) -> None:
    rows = {row["id"]: row for row in report[0]["targets"]}
    onset = rows["onset_within_24h_spinal"]
    assert onset["verdict"] == CONSISTENT and onset["subgroup"]["punctures"] == ["spinal_25g_cutting"]
    # the whole cohort's onset (all punctures) has a larger n than the spinal subgroup's
    assert rows["onset_within_72h_all"]["simulated"]["n"] > onset["simulated"]["n"]


def test_a_target_whose_policy_was_not_run_stays_in_the_report(tmp_path: Path) -> None:
    args = ["simulate", "-n", "300", "--policy", "dismiss_red_flags", "--validate", "--summary-only", "--no-plots"]
    result = CliRunner().invoke(main, [*args, "-q", "--out", str(tmp_path)])
    assert result.exit_code == 0
    document = json.loads((tmp_path / "validation.json").read_text(encoding="utf-8"))
    assert len(document["targets"]) == len(load_targets(facts()))
    assert all(row["verdict"] == NOT_ASSESSABLE and "guideline" in row["reason"] for row in document["targets"])
