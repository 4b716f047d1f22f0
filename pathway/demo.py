"""`pathway demo`: the main job in one command, for a first look at what the project does."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from pathway.cli_common import definition_option, read_event_file
from pathway.engine import run_stream
from pathway.model import Pathway
from pathway.trace import trace_json

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def write_example_traces(pathway: Pathway, examples: Path, out: Path) -> list[tuple[str, str]]:
    """Run every example course and write its traces as JSON Lines; returns (example, final states)."""
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in sorted(examples.glob("*.jsonl")):
        events, errors = read_event_file(str(path), pathway)
        traces = list(run_stream(pathway, events))
        lines = [json.dumps(trace_json(t, pathway), ensure_ascii=False) for t in traces]
        (out / f"{path.stem}.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
        results.append((path.stem, ", ".join(t.state for t in traces) + (f" ({len(errors)} bad lines)" if errors else "")))
    return results


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/demo"), show_default=True,
              help="Directory for everything the demo writes.")
@definition_option
def demo(out: Path, pathway: Pathway) -> None:
    """Run the main job: example traces, diagrams, a simulated cohort and a summary, into --out."""
    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    results = write_example_traces(pathway, EXAMPLES, out / "traces")
    console.print(f"[bold]traces[/bold]: {len(results)} example courses -> {out / 'traces'}")
    for name, states in results:
        console.print(f"  {name}: {states}")
