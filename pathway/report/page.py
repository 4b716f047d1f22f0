"""Render the report's templates: the whole committee report, or the pathway part alone."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2

from pathway.model import Pathway
from pathway.report.evidence import read_evidence
from pathway.report.gather import pathway_section, verification_section
from pathway.report.simulation import simulation_section
from pathway.verify.explore import Verification

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("pathway.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _tool_version() -> str:
    try:
        return version("pdph-pathway")
    except PackageNotFoundError:
        return "unknown"


def _page(**context: Any) -> str:
    context.setdefault("verification", None)
    context.setdefault("simulation", None)
    return _ENV.get_template("page.html.j2").render(tool_version=_tool_version(), **context)


def pathway_html(pathway: Pathway, evidence_file: Path | None = None) -> str:
    """`pathway describe --format html`: the diagram, the describe tables, thresholds and sources."""
    data = pathway_section(pathway, read_evidence(evidence_file))
    return _page(title=f"{pathway.title}: pathway", kicker="Pathway description", pathway=data)


def report_html(
    pathway: Pathway,
    verdict: Verification,
    simulation_dir: Path | None = None,
    evidence_file: Path | None = None,
) -> str:
    """The committee report: the pathway part, the verification and (given a directory) the simulation."""
    data = pathway_section(pathway, read_evidence(evidence_file))
    return _page(
        title=f"{pathway.title}: protocol committee report",
        kicker="Protocol committee report",
        pathway=data,
        verification=verification_section(pathway, verdict, {c["id"] for c in data["citations"]}),
        simulation=simulation_section(simulation_dir) if simulation_dir is not None else None,
    )
