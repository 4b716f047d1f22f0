"""`pathway verify --junit/--sarif`: the verdict for CI dashboards, one test case (or rule) per property,
each violation carrying the counterexample `pathway run` replays. Expectations come from --json."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from pathway.cli import main

BROKEN = Path(__file__).parent / "broken_definitions" / "red_flag_after_routing.toml"


def verify(tmp_path: Path, *extra: str) -> tuple[int, dict, ET.Element, dict]:
    runner = CliRunner()
    as_json = runner.invoke(main, ["verify", "--json", *extra])
    junit, sarif = tmp_path / "verify.xml", tmp_path / "verify.sarif"
    result = runner.invoke(main, ["verify", "--junit", str(junit), "--sarif", str(sarif), *extra])
    assert result.exit_code == as_json.exit_code
    return result.exit_code, json.loads(as_json.output), ET.parse(junit).getroot(), json.loads(sarif.read_text())


def test_every_property_is_one_junit_test_case_and_one_sarif_rule(tmp_path: Path) -> None:
    code, verdict, junit, sarif = verify(tmp_path)
    assert code == 0
    ids = [p["id"] for p in verdict["properties"]]
    cases = junit.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ids
    suite = junit.find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    runtime_only = {p["id"] for p in verdict["properties"] if p["checked"] != "exhaustively"}
    assert {c.get("name") for c in cases if c.find("skipped") is not None} == runtime_only
    assert all(c.find("failure") is None for c in cases)
    run = sarif["runs"][0]
    assert sarif["version"] == "2.1.0"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ids
    assert run["results"] == []


def test_a_violated_property_fails_with_its_replayable_counterexample(tmp_path: Path) -> None:
    code, verdict, junit, sarif = verify(tmp_path, "--definition", str(BROKEN))
    assert code == 1
    violated = {p["id"]: p for p in verdict["properties"] if not p["holds"]}
    assert violated
    failed = {c.get("name"): c.find("failure") for c in junit.findall("./testsuite/testcase")}
    assert {name for name, f in failed.items() if f is not None} == set(violated)
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == set(violated)
    for prop_id, prop in violated.items():
        failure = failed[prop_id]
        assert failure is not None and failure.text is not None
        for finding in prop["findings"]:
            assert finding["message"] in failure.text
        replayable = [json.loads(line) for line in failure.text.splitlines() if line.startswith("{")]
        assert replayable == [r for f in prop["findings"] for r in f.get("counterexample", [])]
        in_sarif = [r for r in results if r["ruleId"] == prop_id]
        assert [r["properties"]["counterexample"] for r in in_sarif if "properties" in r] == [
            f["counterexample"] for f in prop["findings"] if "counterexample" in f
        ]
        assert all(r["level"] == "error" for r in in_sarif)
        assert in_sarif[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(BROKEN.name)


def test_an_unwritable_report_file_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["verify", "--junit", str(blocker / "verify.xml")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
