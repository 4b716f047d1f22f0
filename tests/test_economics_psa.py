"""The PSA: one draw reproduced by hand, identical bytes whatever the workers, the shapes R's tools read."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.economics.costs import DEFAULT_COSTS
from pathway.loader import load

POLICIES = "guideline,reflexive_imaging,dismiss_red_flags"
PSA = ["simulate", "--psa", "3", "-n", "300", "--seed", "7", "--compare", POLICIES, "-q", "--no-plots"]


@pytest.fixture(scope="module")
def psa_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("psa")
    result = CliRunner().invoke(main, [*PSA, "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_draw_fed_to_a_plain_run_gives_the_same_row(psa_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((psa_dir / "psa_manifest.json").read_text(encoding="utf-8"))
    rows = [r for r in _rows(psa_dir / "psa.csv") if r["sample"] == "2"]
    assert [r["strategy"] for r in rows] == POLICIES.split(",")
    # every drawn value, as --set assignments: parameter-file paths, and costs.<path> for the cost table
    assignments = []
    for factor in manifest["factors"]:
        for path in factor["paths"]:
            column = path if factor["file"] == "params" else f"costs.{path}"
            assignments += ["--set", f"{column}={rows[0][column]}"]
    plain = CliRunner().invoke(
        main,
        [
            "economics",
            "evaluate",
            "-n",
            "300",
            "--seed",
            "7",
            "--compare",
            POLICIES,
            "-q",
            "--out",
            str(tmp_path),
            *assignments,
        ],
    )
    assert plain.exit_code == 0, plain.output
    report = json.loads((tmp_path / "economics.json").read_text(encoding="utf-8"))
    for row in rows:
        figures = report["policies"][row["strategy"]]["per_patient"]
        # the report rounds to 6 decimals; the PSA row keeps every digit
        assert round(float(row["costs"]), 6) == figures["cost"]["mean"]
        for name in ("headache_days", "radiation_msv", "blood_patches", "escalated", "contrast_exposures"):
            assert round(float(row[name]), 6) == figures[name]["mean"], name


def test_a_draw_priced_by_hand_from_the_simulators_own_run(psa_dir: Path, tmp_path: Path) -> None:
    """The drawn simulator parameters fed to `pathway simulate --set`: its counts, priced at the drawn costs."""
    manifest = json.loads((psa_dir / "psa_manifest.json").read_text(encoding="utf-8"))
    rows = {r["strategy"]: r for r in _rows(psa_dir / "psa.csv") if r["sample"] == "3"}
    any_row = rows["guideline"]
    assignments = []
    for factor in manifest["factors"]:
        if factor["file"] == "params":
            assignments += [f"--set={path}={any_row[path]}" for path in factor["paths"]]
    common = ["simulate", "-n", "300", "--seed", "7", "--compare", POLICIES, "--summary-only", "-q", "--no-plots"]
    result = CliRunner().invoke(main, [*common, "--out", str(tmp_path), *assignments])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    costs = tomllib.loads(DEFAULT_COSTS.read_text(encoding="utf-8"))["items"]
    pathway = load()
    for policy, row in rows.items():
        got = summary["by_policy"][policy]
        n = got["patients"]
        returns = got["returns"]
        entered = {s: got["final_states"].get(s, 0) + returns["final_states"].get(s, 0) for s in pathway.state_ids}
        figures = got["figures"]

        def count(item: dict[str, Any], got: dict[str, Any] = got, entered: dict[str, int] = entered) -> int:
            ((trigger, target),) = item["on"].items()
            if trigger == "episode":
                return int(got["patients"] + got["returns"]["episodes_count"])
            if trigger == "event":
                return int(got["events"][target]["count"])
            if trigger == "imaging":
                return int(got["imaging"]["by_code_count"].get(target, 0))
            if trigger == "state":
                return entered[target]
            return sum(entered[s.id] for s in pathway.states if any(r.code == target for r in s.recommendations))

        by_hand = 0.0
        for item_id, item in costs.items():
            price = float(row[f"costs.items.{item_id}.amount"])
            if "quantity" in item:
                price *= float(row[f"costs.items.{item_id}.quantity"])
            by_hand += count(item) * price
        assert float(row["costs"]) == pytest.approx(by_hand / n, rel=1e-9), policy
        assert float(row["blood_patches"]) * n == pytest.approx(figures["blood_patches_count"])
        assert float(row["imaging_studies"]) * n == pytest.approx(figures["imaging_studies_count"])
        assert float(row["contrast_exposures"]) * n == pytest.approx(figures["contrast_exposures_count"])
        assert float(row["escalated"]) * n == pytest.approx(figures["escalations_count"])
        # the simulator adds doses in thousandths of a mSv: equal up to that rounding
        assert float(row["radiation_msv"]) * n == pytest.approx(figures["radiation_msv_total"], abs=1e-3 * n)


def test_the_draws_differ_and_the_patients_do_not(psa_dir: Path) -> None:
    rows = _rows(psa_dir / "psa.csv")
    guideline = [r for r in rows if r["strategy"] == "guideline"]
    assert len({r["costs"] for r in guideline}) == 3  # parameters vary between draws
    assert len({r["punctures.lp_22g_cutting.pdph"] for r in guideline}) == 3
    for sample in ("1", "2", "3"):
        same = [r for r in rows if r["sample"] == sample]
        # one parameter set per draw: every policy row carries the same drawn values
        assert len({r["punctures.lp_22g_cutting.pdph"] for r in same}) == 1
        # reflexive imaging changes no course on the same patients: same headache-days, more cost
        by = {r["strategy"]: r for r in same}
        assert by["reflexive_imaging"]["headache_days"] == by["guideline"]["headache_days"]
        assert float(by["reflexive_imaging"]["costs"]) > float(by["guideline"]["costs"])


def test_psa_tables_are_identical_whatever_the_workers(psa_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [*PSA, "--workers", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("psa.csv", "psa.parquet", "psa_cost.csv", "psa_parameters.csv", "psa_summary.json", "ceac.csv"):
        assert (tmp_path / name).read_bytes() == (psa_dir / name).read_bytes(), name


def test_long_table_has_the_hesim_columns_and_the_dampack_frames_line_up(psa_dir: Path) -> None:
    table = pq.read_table(psa_dir / "psa.parquet")
    for column in ("sample", "strategy_id", "grp_id", "dr", "costs"):
        assert column in table.column_names
        assert table.schema.field(column).metadata[b"meaning"]
    assert table.num_rows == 3 * 3
    cost_frame = _rows(psa_dir / "psa_cost.csv")
    assert list(cost_frame[0]) == POLICIES.split(",") and len(cost_frame) == 3
    long = {(int(r["sample"]), r["strategy"]): r["costs"] for r in _rows(psa_dir / "psa.csv")}
    for i, frame_row in enumerate(cost_frame, start=1):
        for policy, value in frame_row.items():
            assert value == long[(i, policy)]
    effect = _rows(psa_dir / "psa_effectiveness_escalation_delay_h.csv")
    delay = {(int(r["sample"]), r["strategy"]): float(r["escalation_delay_h"]) for r in _rows(psa_dir / "psa.csv")}
    # a measure where less is better is signed so that more is better, as dampack expects
    assert float(effect[0]["guideline"]) == pytest.approx(-delay[(1, "guideline")])
    assert len(_rows(psa_dir / "psa_parameters.csv")) == 3


def test_summary_intervals_contain_the_means(psa_dir: Path) -> None:
    summary = json.loads((psa_dir / "psa_summary.json").read_text(encoding="utf-8"))
    for policy, entry in summary["policies"].items():
        cost = entry["per_patient"]["costs"]
        assert cost["low"] <= cost["mean"] <= cost["high"], policy
    for result in summary["cost_effectiveness"]:
        for point in result["curve"]:
            assert sum(point["probability"].values()) == pytest.approx(1.0)
            assert point["evpi_per_patient"] >= -1e-9


def test_psa_refuses_a_cost_table_that_names_an_unknown_event(tmp_path: Path) -> None:
    broken = tmp_path / "costs.toml"
    broken.write_text(DEFAULT_COSTS.read_text(encoding="utf-8").replace('event = "reassessment"', 'event = "review"'))
    result = CliRunner().invoke(main, [*PSA, "--costs", str(broken), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "items.follow_up_visit.on.event" in result.output and "'review'" in result.output
    assert "Traceback" not in result.output


def test_evaluate_refuses_a_path_that_names_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["economics", "evaluate", "-n", "20", "-q", "--out", str(tmp_path), "--set", "punctures.lp_99g.pdph=0.3"]
    )
    assert result.exit_code == 2
    assert "punctures.lp_99g" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["economics", "evaluate", "-n", "20", "-q", "--out", str(tmp_path), "--set", "x"])
    assert result.exit_code == 2 and "PATH=NUMBER" in result.output


def test_evaluate_reports_per_patient_and_per_1000_with_intervals(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["economics", "evaluate", "-n", "400", "--seed", "3", "-q", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "economics.json").read_text(encoding="utf-8"))
    for policy, entry in report["policies"].items():
        for name in ("cost", "headache_days", "radiation_msv", "contrast_exposures", "escalated"):
            figure = entry["per_patient"][name]
            assert figure["low"] <= figure["mean"] <= figure["high"], (policy, name)
            assert figure["per_1000"] == pytest.approx(figure["mean"] * 1000, abs=1e-3)
    reflexive = report["policies"]["reflexive_imaging"]["incremental_vs_reference"]
    assert reflexive["cost"]["low"] > 0 and reflexive["radiation_msv"]["low"] > 0
    assert reflexive["headache_days"]["mean"] == 0  # imaging changes no course


def test_psa_options_that_do_not_combine_are_refused(tmp_path: Path) -> None:
    out = ["--out", str(tmp_path)]
    with_set = CliRunner().invoke(
        main, ["simulate", "--psa", "2", "-n", "10", "--set", "resolution.reported=0.4", *out]
    )
    assert with_set.exit_code == 2 and "--set does not combine with --psa" in with_set.output
    costs_alone = CliRunner().invoke(main, ["simulate", "-n", "10", "--costs", str(DEFAULT_COSTS), *out])
    assert costs_alone.exit_code == 2 and "--costs is used with --psa only" in costs_alone.output
    no_reference = CliRunner().invoke(
        main, ["simulate", "--psa", "2", "-n", "10", "--compare", "dismiss_red_flags", *out]
    )
    assert no_reference.exit_code == 2 and "reference policy 'guideline'" in no_reference.output


def test_a_psa_on_worker_processes_ends_quietly(tmp_path: Path) -> None:
    """The pool ends its workers with SIGTERM: no worker may print a traceback then (the command is a program here)."""
    command = [
        sys.executable,
        "-m",
        "pathway",
        *PSA[:3],
        "-n",
        "60",
        *PSA[5:],
        "--workers",
        "2",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
