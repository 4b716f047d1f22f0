"""The verdict in the formats CI dashboards read: JUnit XML (one test case per property) and SARIF 2.1.0.

Both are written from the same Verification as `pathway verify --json`; a violated property is a
failed test case (JUnit) or an error result (SARIF) carrying its shortest counterexample as the
JSON Lines that `pathway run` replays.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from pathway.model import Pathway
from pathway.verify.explore import Result, Verification
from pathway.verify.properties import cite_text

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _how_checked(result: Result) -> str:
    return "exhaustively, over every reachable situation" if result.checked else f"at run time only: {result.note}"


def _evidence(result: Result) -> str:
    parts = []
    for finding in result.findings:
        parts.append(finding.message)
        if finding.events:
            parts.append("counterexample (replay with `pathway run`):\n" + finding.jsonl().rstrip("\n"))
    if result.violations > len(result.findings):
        parts.append(f"{result.violations} violating situations in all")
    return "\n".join(parts)


def junit_xml(verdict: Verification, pathway: Pathway) -> str:
    checked = [r for r in verdict.results if r.checked]
    suite = ET.Element(
        "testsuite",
        name=f"pathway verify: {pathway.id} {pathway.version}",
        tests=str(len(verdict.results)),
        failures=str(sum(1 for r in checked if not r.holds)),
        errors="0",
        skipped=str(len(verdict.results) - len(checked)),
        time=f"{verdict.seconds:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (("pathway", pathway.id), ("version", pathway.version), ("definition", pathway.source_path)):
        ET.SubElement(properties, "property", name=name, value=value)
    coverage = verdict.coverage
    for name in ("abstract_states", "states_reached", "states", "transitions_taken", "transitions"):
        ET.SubElement(properties, "property", name=f"coverage.{name}", value=str(getattr(coverage, name)))
    for result in verdict.results:
        case = ET.SubElement(suite, "testcase", classname=f"{pathway.id}.safety", name=result.id, time="0")
        if not result.checked:
            ET.SubElement(case, "skipped", message=_how_checked(result))
        elif not result.holds:
            failure = ET.SubElement(
                case, "failure", message=f"{result.violations} violating situations", type=result.kind
            )
            failure.text = _evidence(result)
        out = ET.SubElement(case, "system-out")
        out.text = f"{result.statement}\nsource: {cite_text(pathway, result.cite)}\nchecked: {_how_checked(result)}"
    suites = ET.Element("testsuites", name="pathway verify")
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _relative(path: Path) -> Path:
    """The path relative to the working directory when below it (SARIF viewers resolve it against the checkout)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def sarif_json(verdict: Verification, pathway: Pathway, properties_file: Path) -> dict[str, Any]:
    definition = _relative(Path(pathway.source_path)) if pathway.source_path else Path(f"{pathway.id}.toml")
    properties_file = _relative(properties_file)
    rules = [
        {
            "id": result.id,
            "name": result.kind,
            "shortDescription": {"text": result.statement},
            "help": {"text": f"Source: {cite_text(pathway, result.cite)}. Checked {_how_checked(result)}."},
            "properties": {"checked": "exhaustively" if result.checked else "at run time only"},
        }
        for result in verdict.results
    ]
    results = []
    for index, result in enumerate(verdict.results):
        if not result.checked or result.holds:
            continue
        for finding in result.findings or ():
            item: dict[str, Any] = {
                "ruleId": result.id,
                "ruleIndex": index,
                "level": "error",
                "message": {"text": finding.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": definition.as_posix()}}}],
            }
            if finding.events:
                item["properties"] = {"counterexample": [e.to_record() for e in finding.events]}
            results.append(item)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "pathway verify", "rules": rules}},
                "artifacts": [
                    {"location": {"uri": definition.as_posix()}, "description": {"text": "pathway definition"}},
                    {"location": {"uri": properties_file.as_posix()}, "description": {"text": "property catalogue"}},
                ],
                "results": results,
                "properties": {"pathway": pathway.id, "version": pathway.version, "holds": verdict.holds},
            }
        ],
    }


def sarif_text(verdict: Verification, pathway: Pathway, properties_file: Path) -> str:
    return json.dumps(sarif_json(verdict, pathway, properties_file), ensure_ascii=False, indent=2) + "\n"
