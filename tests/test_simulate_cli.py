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
        "events.parquet",
        "patients.parquet",
        "patients.csv",
        "imaging_orders.parquet",
        "imaging_orders.csv",
        "summary.json",
        "run.json",
        "policy_comparison.png",
        "time_to_resolution.png",
        "occupancy.png",
        "outcomes.png",
    }
    for png in ("policy_comparison.png", "time_to_resolution.png", "occupancy.png", "outcomes.png"):
        assert (out / png).read_bytes().startswith(PNG)
    assert len((out / "patients.csv").read_text(encoding="utf-8").splitlines()) == 151
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert summary["patients"] == 150 and summary["policy"] == "guideline"
    assert "seconds" in run and "seconds" not in json.dumps(summary)
    assert str(tmp_path) not in (out / "summary.json").read_text(encoding="utf-8")
    # the manifest lists every other file with its size
    assert {f["name"]: f["bytes"] for f in run["files"]} == {
        p.name: p.stat().st_size for p in out.iterdir() if p.name != "run.json"
    }
    assert "150 patients" in result.stdout


def test_summary_only_writes_no_per_patient_files(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = simulate("-n", "100", "--summary-only", "--no-plots", "--out", str(out), "-q")
    assert result.exit_code == 0
    assert {p.name for p in out.iterdir()} == {"summary.json", "run.json"}
    assert result.stdout == ""


def test_compare_prints_every_figure_with_its_interval_for_every_policy(tmp_path: Path) -> None:
    result = simulate(
        "-n", "200", "--compare", "guideline,reflexive_imaging", "--no-plots", "--summary-only", "--out", str(tmp_path)
    )
    assert result.exit_code == 0
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert list(summary["by_policy"]) == ["guideline", "reflexive_imaging"]
    reflexive, guideline = (summary["by_policy"][p]["figures"] for p in ("reflexive_imaging", "guideline"))
    assert reflexive["imaging_studies_per_1000"]["low"] > guideline["imaging_studies_per_1000"]["high"]
    # every printed figure carries its interval: the two policies' imaging rates appear with them
    for figures in (reflexive, guideline):
        rate = figures["imaging_studies_per_1000"]
        assert f"({rate['low']:,.1f}" in result.stdout or f"({rate['low']:.2f}" in result.stdout
    for label in ("radiation, mSv per 1,000", "hours to resolution, median", "still under care at 72 h"):
        assert label in result.stdout
    assert "paired differences from guideline" in result.stdout
    difference = summary["differences"]["policies"]["reflexive_imaging"]["imaging_studies_per_1000"]
    assert difference["low"] <= difference["value"] <= difference["high"]
    assert difference["method"] == "paired_normal"


def test_a_single_policy_prints_its_headline_figures(tmp_path: Path) -> None:
    result = simulate("-n", "200", "--no-plots", "--summary-only", "--out", str(tmp_path))
    assert result.exit_code == 0
    labels = ("imaging studies per 1,000", "blood patches per 1,000", "escalations per 1,000", "hours to escalation")
    for label in labels:
        assert label in result.stdout
    assert "paired differences" not in result.stdout


def test_a_second_run_never_leaves_files_of_the_first(tmp_path: Path) -> None:
    out = tmp_path / "o"
    first = simulate("-n", "60", "--compare", "guideline,dismiss_red_flags", "--validate", "--out", str(out), "-q")
    assert first.exit_code == 0
    assert (out / "events.dismiss_red_flags.jsonl").exists() and (out / "validation.json").exists()
    mine = out / "notes.txt"
    mine.write_text("a researcher's own file", encoding="utf-8")
    second = simulate("-n", "40", "--summary-only", "--no-plots", "--out", str(out), "-q")
    assert second.exit_code == 0
    assert {p.name for p in out.iterdir()} == {"summary.json", "run.json", "notes.txt"}
    assert mine.read_text(encoding="utf-8") == "a researcher's own file"
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["patients"] == 40


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
