"""The verdict of `pathway verify` (and its mutation run) as plain JSON: `--json` prints it, the report shows it."""

from __future__ import annotations

from typing import Any

import attrs

from pathway.model import Pathway
from pathway.verify.explore import Finding, Verification
from pathway.verify.mutants import MutationReport
from pathway.verify.properties import cite_text


def _finding_json(finding: Finding) -> dict[str, Any]:
    item: dict[str, Any] = {"message": finding.message}
    if finding.events is not None:
        item["counterexample"] = [e.to_record() for e in finding.events]
    return item


def verification_json(verdict: Verification, pathway: Pathway) -> dict[str, Any]:
    return {
        "pathway": verdict.pathway,
        "version": verdict.version,
        "holds": verdict.holds,
        "seconds": round(verdict.seconds, 3),
        "properties": [
            {
                "id": r.id,
                "kind": r.kind,
                "statement": r.statement,
                "citation": cite_text(pathway, r.cite),
                "holds": r.holds,
                "checked": "at run time only" if not r.checked else "exhaustively",
                "note": r.note,
                "violations": r.violations,
                "findings": [_finding_json(f) for f in r.findings],
            }
            for r in verdict.results
        ],
        "coverage": {
            **{k: v for k, v in attrs.asdict(verdict.coverage).items() if k != "overlaps"},
            "overlaps_resolved_by_priority": [
                {"state": s, "event": e, "taken": a, "over": b, "situations": n}
                for s, e, a, b, n in verdict.coverage.overlaps
            ],
        },
    }


def mutation_json(report: MutationReport) -> dict[str, Any]:
    return {
        "mutants": len(report.results),
        "killed": report.killed,
        "equivalent": report.equivalent,
        "missed": len(report.missed),
        "kill_ratio": round(report.killed / max(1, len(report.results) - report.equivalent), 4),
        "seconds": round(report.seconds, 3),
        "results": [
            {
                "operator": r.operator,
                "mutant": r.description,
                "killed_by": list(r.killed_by),
                **({} if r.killed else {"equivalent": r.equivalent, "why": r.why}),
                **({"course": [e.to_record() for e in r.course]} if r.course else {}),
            }
            for r in report.results
        ],
    }
