"""`pathway run` watches every course with the safety monitor."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from pathway.cli import main

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.jsonl"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_shipped_pathway_shows_no_violation_on_any_example(example: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(example), "--json"])
    expected = tomllib.loads((example.parent / "expected.toml").read_text())[example.stem]["exit"]
    assert result.exit_code == expected  # 0, 3, or 2 for the example with a malformed line; never 1
    for line in result.stdout.splitlines():
        assert json.loads(line)["monitor"] == []
    assert "monitor:" not in result.stderr


def test_unsafe_definition_is_caught_on_a_real_course() -> None:
    broken = ROOT / "tests" / "broken_definitions" / "early_blood_patch.toml"
    course = ROOT / "examples" / "early_reassessment_never_leads_to_patch.jsonl"
    result = CliRunner().invoke(main, ["run", str(course), "--json", "--definition", str(broken)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["state"] == "blood_patch"  # the broken pathway patches after 24 h of therapy
    assert {v["property"] for v in report["monitor"]} >= {"blood_patch_after_trial"}
    assert all(v["line"] == 3 for v in report["monitor"])
    assert result.stderr.startswith("monitor: line 3: blood_patch_after_trial")


@pytest.mark.parametrize("example", [*EXAMPLES, ROOT / "tests" / "test_malformed_input.py"], ids=lambda p: p.stem)
def test_compiled_engine_reports_exactly_what_the_reference_engine_reports(example: Path) -> None:
    # the test module itself is a stream of malformed lines: both engines must refuse them alike
    reference = CliRunner().invoke(main, ["run", str(example), "--json", "--engine", "psm"])
    fast = CliRunner().invoke(main, ["run", str(example), "--json"])  # the default engine
    assert fast.exit_code == reference.exit_code
    assert fast.stdout == reference.stdout
    assert fast.stderr == reference.stderr
    assert reference.stdout
