"""The data each section of the report lays out, gathered from the views that already make it."""

from __future__ import annotations

from typing import Any

from pathway.describe_json import pathway_json
from pathway.engine import run_course
from pathway.model import Pathway
from pathway.render.graphviz_diagram import dot_source
from pathway.render.output import DotFailed, DotMissing, render_image
from pathway.render.overlay import trace_overlay
from pathway.render.view import build_view, headline_source
from pathway.report.evidence import Entry
from pathway.report.svg import inline_svg
from pathway.terminal.verification import coverage_lines
from pathway.trace import trace_json
from pathway.verify.explore import Verification
from pathway.verify.verdict_json import verification_json


def _svg(dot_text: str, label: str, prefix: str = "") -> str | None:
    try:
        return inline_svg(render_image(dot_text, "svg"), label, prefix)
    except (DotMissing, DotFailed):
        return None


def pathway_section(pathway: Pathway, evidence: dict[str, Entry]) -> dict[str, Any]:
    """describe JSON, grouped the way the page reads it, plus the diagram and the sources."""
    data = pathway_json(pathway)
    view = build_view(pathway)
    titles = {s["id"]: s["title"] for s in data["states"]}
    transitions = {(t["id"], t["source"]): t for t in data["transitions"]}
    for state in data["states"]:
        state["out"] = [t for t in data["transitions"] if t["source"] == state["id"]]
        state["refused"] = [r for r in data["rejections"] if r["source"] == state["id"]]
        state["into"] = [t for t in data["transitions"] if t["target"] == state["id"]]
    data["edges"] = [
        {
            "id": f"edge-{edge.key.replace('*', 'all')}",
            "from": "every active state" if edge.broadcast else titles[edge.source or ""],
            "to": titles[edge.target],
            # a rule written for every active state is shown once, not once per state
            "transitions": list({t: transitions[(t, s)] for t, s in edge.members}.values()),
        }
        for edge in view.edges
    ]
    data["titles"] = titles
    data["headline_source"] = headline_source(pathway)
    data["svg"] = _svg(dot_source(view), f"Diagram of the pathway {pathway.title}")
    cited = {c["id"] for c in data["citations"]}
    anchors = {ref: f"source-{ref}" for ref in (*cited, *evidence)}
    data["sources"] = [
        {**c, "entry": evidence[c["id"]].html(anchors) if c["id"] in evidence else None} for c in data["citations"]
    ] + [  # entries of the evidence file for ids the definition does not cite (e.g. properties, parameters)
        {"id": ref, "title": entry.heading, "source": "", "quality": "", "entry": entry.html(anchors)}
        for ref, entry in evidence.items()
        if ref not in cited
    ]
    data["evidence_found"] = bool(evidence)
    return data


def verification_section(pathway: Pathway, verdict: Verification, citation_ids: set[str]) -> dict[str, Any]:
    """verify JSON; each counterexample replayed through the engine and drawn over the pathway."""
    data = verification_json(verdict, pathway)
    view = build_view(pathway)
    drawn = 0
    for result, prop in zip(verdict.results, data["properties"], strict=True):
        # a property cites "<id>: where; <id>: where": link each id the sources list holds
        refs = (piece.split(":")[0].strip() for piece in result.cite.split(";"))
        prop["cite_refs"] = [ref for ref in dict.fromkeys(refs) if ref in citation_ids]
        for finding, item in zip(result.findings, prop["findings"], strict=True):
            if not finding.events:
                continue
            trace = run_course(pathway, finding.events)
            item["trace"] = trace_json(trace, pathway)
            drawn += 1
            overlay = trace_overlay(view, trace)
            item["svg"] = _svg(dot_source(view, overlay), f"Counterexample to {result.id}", f"cx{drawn}-")
    data["coverage_lines"] = coverage_lines(verdict.coverage)
    data["exhaustive"] = sum(1 for r in verdict.results if r.checked)
    data["runtime_only"] = sum(1 for r in verdict.results if not r.checked)
    return data
