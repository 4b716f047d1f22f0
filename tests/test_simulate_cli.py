"""`pathway simulate`: exit codes, the files it writes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pathway.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def simulate(*args: str) -> Result:
    return CliRunner().invoke(main, ["simulate", *args])


def test_default_run_writes_every_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = simulate("-n", "150", "--seed", "3", "--workers", "2", "--chunk-size", "40", "--out", str(out))
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {
        "events.jsonl",
        "outcomes.csv",
        "summary.json",
        "run.json",
        "time_to_resolution.png",
        "occupancy.png",
        "outcomes.png",
    }
    for png in ("time_to_resolution.png", "occupancy.png", "outcomes.png"):
        assert (out / png).read_bytes().startswith(PNG)
    assert len((out / "outcomes.csv").read_text(encoding="utf-8").splitlines()) == 151
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert summary["patients"] == 150 and summary["policy"] == "guideline"
    assert "seconds" in run and "seconds" not in json.dumps(summary)
    assert str(tmp_path) not in (out / "summary.json").read_text(encoding="utf-8")
    assert "150 patients" in result.stdout


def test_summary_only_writes_no_per_patient_files(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = simulate("-n", "100", "--summary-only", "--no-plots", "--out", str(out), "-q")
    assert result.exit_code == 0
    assert {p.name for p in out.iterdir()} == {"summary.json", "run.json"}
    assert result.stdout == ""


def test_compare_prints_a_table_per_thousand(tmp_path: Path) -> None:
    result = simulate(
        "-n", "200", "--compare", "guideline,reflexive_imaging", "--no-plots", "--summary-only", "--out", str(tmp_path)
    )
    assert result.exit_code == 0
    assert "per 1,000 patients" in result.stdout
    assert "reflexive_imaging" in result.stdout and "radiation (mSv)" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert list(summary["by_policy"]) == ["guideline", "reflexive_imaging"]
    assert (
        summary["by_policy"]["reflexive_imaging"]["imaging_studies"]
        > summary["by_policy"]["guideline"]["imaging_studies"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "defensive"], "unknown policy 'defensive'"),
        (["--compare", "guideline,guideline"], "named twice"),
        (["--engine", "dask"], "--engine dask needs --scheduler"),
        (["--scheduler", "tcp://127.0.0.1:1"], "only used with --engine dask"),
        (["--definition", "/nonexistent/pdph.toml"], "cannot read"),
        (["--params", "/nonexistent/params.toml"], "cannot read"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = simulate("-n", "10", "--out", str(tmp_path / "o"), *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.output


def test_patients_must_be_positive(tmp_path: Path) -> None:
    result = simulate("-n", "0", "--out", str(tmp_path))
    assert result.exit_code == 2


def test_help_describes_the_command() -> None:
    result = simulate("--help")
    assert result.exit_code == 0
    for option in ("--patients", "--seed", "--workers", "--compare", "--params", "--engine", "--scheduler"):
        assert option in result.stdout


def test_monitor_violations_on_a_broken_pathway_exit_1(tmp_path: Path) -> None:
    broken = Path(__file__).parent / "broken_definitions" / "early_blood_patch.toml"
    result = simulate(
        "-n", "200", "--definition", str(broken), "--summary-only", "--no-plots", "-q", "--out", str(tmp_path)
    )
    assert result.exit_code == 1
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["monitor_violations"] > 0
    assert "monitor: guideline: p" in result.stderr
