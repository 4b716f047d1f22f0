"""`pathway demo`: the main job in one command, for a first look at what the project does."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from pathway.cli_common import definition_option, read_event_file
from pathway.engine import run_stream
from pathway.model import Pathway
from pathway.render import DEFAULT_FORMATS, render_trace, write_diagrams
from pathway.render.output import dot_available
from pathway.trace import trace_json

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def write_example_traces(pathway: Pathway, examples: Path, out: Path, draw: bool) -> list[tuple[str, str]]:
    """Run every example course, write its traces as JSON Lines and (``draw``) each patient's path as SVG."""
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in sorted(examples.glob("*.jsonl")):
        events, errors = read_event_file(str(path), pathway)
        traces = list(run_stream(pathway, events))
        lines = [json.dumps(trace_json(t, pathway), ensure_ascii=False) for t in traces]
        (out / f"{path.stem}.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for trace in traces:
            if draw:
                suffix = "" if trace.patient is None else f"-{trace.patient}"
                render_trace(pathway, trace, out / f"{path.stem}{suffix}.svg")
        results.append(
            (path.stem, ", ".join(t.state for t in traces) + (f" ({len(errors)} bad lines)" if errors else ""))
        )
    return results


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/demo"),
    show_default=True,
    help="Directory for everything the demo writes.",
)
@definition_option
def demo(out: Path, pathway: Pathway) -> None:
    """Run the main job: example traces, diagrams, a simulated cohort and a summary, into --out."""
    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    draw = dot_available()
    formats = DEFAULT_FORMATS if draw else ("dot", "mermaid")
    written = write_diagrams(pathway, out / "diagrams", formats)
    console.print(f"[bold]diagrams[/bold]: {', '.join(p.name for p in written)} -> {out / 'diagrams'}")
    if not draw:
        console.print("  (Graphviz 'dot' not found: SVG/PNG skipped; install it with apt-get install graphviz)")
    results = write_example_traces(pathway, EXAMPLES, out / "traces", draw)
    console.print(f"[bold]traces[/bold]: {len(results)} example courses -> {out / 'traces'}")
    for name, states in results:
        console.print(f"  {name}: {states}")
