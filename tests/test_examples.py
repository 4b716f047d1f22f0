"""Every shipped example reports what examples/expected.toml (written from the contract) says."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"
EXPECTED = tomllib.loads((EXAMPLES / "expected.toml").read_text())


def test_every_example_has_an_expectation_and_there_are_at_least_ten() -> None:
    files = {p.stem for p in EXAMPLES.glob("*.jsonl")}
    assert files == set(EXPECTED)
    assert len(files) >= 10


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_reports_what_clinical_md_says(name: str) -> None:
    result = CliRunner().invoke(main, ["run", str(EXAMPLES / f"{name}.jsonl"), "--json"])
    expected = EXPECTED[name]
    assert result.exit_code == expected["exit"], result.output
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    by_patient = {r["patient"] if "episode" not in r else f"{r['patient']}/{r['episode']}": r for r in reports}
    wanted = expected.get("patients", {None: expected})
    assert set(by_patient) == set(wanted)
    for patient, want in wanted.items():
        report = by_patient[patient]
        assert report["state"] == want["state"]
        assert report["path"] == want["path"]
        assert [r["line"] for r in report["rejected"]] == want["rejected"]
        if "appropriate_imaging" in want:
            appropriate = [r["code"] for r in report["recommendations"] if r.get("rating") == "usually_appropriate"]
            assert appropriate == want["appropriate_imaging"]
        assert report["final"] == (want["state"] not in ("conservative_therapy", "blood_patch", "presentation"))
        assert report["pathway"] == "pdph"
        # every step names its line, event, time, states, reason and source
        for step in report["steps"]:
            assert {"line", "event", "at", "source", "target", "reason", "citation"} <= set(step)
            assert step["reason"] and step["citation"]
        assert all(r["reason"] for r in report["rejected"])


def test_readable_output_shows_the_course_and_what_to_do_now() -> None:
    result = CliRunner().invoke(
        main, ["run", str(EXAMPLES / "fever_at_presentation_escalates.jsonl")], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0
    assert "Red-flag escalation" in result.stdout
    assert "mri_head_without_and_with_contrast" in result.stdout
    assert "neurology_consult" in result.stdout
