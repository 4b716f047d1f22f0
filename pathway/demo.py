"""`pathway demo`: the main job in one command, for a first look at what the project does."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click
from rich.console import Console

from pathway.cli_common import EXIT_VIOLATION, definition_option, fail, in_line_order, read_event_file
from pathway.engine import run_stream
from pathway.model import Pathway
from pathway.render import DEFAULT_FORMATS, read_frequencies, render_trace, write_diagrams, write_frequency_diagrams
from pathway.render.output import dot_available
from pathway.trace import trace_json

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# the guideline against the two pitfalls of the seed that a simulation can show
DEMO_POLICIES = ("guideline", "reflexive_imaging", "dismiss_red_flags")


def write_example_traces(pathway: Pathway, examples: Path, out: Path, draw: bool) -> list[tuple[str, str]]:
    """Run every example course, write its traces as JSON Lines and (``draw``) each patient's path as SVG."""
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in sorted(examples.glob("*.jsonl")):
        events, errors = read_event_file(str(path), pathway)
        traces = list(run_stream(pathway, in_line_order(events, errors)))
        lines = [json.dumps(trace_json(t, pathway), ensure_ascii=False) for t in traces]
        (out / f"{path.stem}.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for trace in traces:
            if draw:
                suffix = "" if trace.patient is None else f"-{trace.patient}"
                suffix += "" if trace.episode is None else f"-{trace.episode}"
                render_trace(pathway, trace, out / f"{path.stem}{suffix}.svg")
        states = ", ".join(t.state for t in traces)
        results.append((path.stem, states + (f" ({len(errors)} bad lines)" if errors else "")))
    return results


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/demo"),
    show_default=True,
    help="Directory for everything the demo writes.",
)
@click.option(
    "--patients", "-n", type=click.IntRange(min=1), default=20_000, show_default=True, help="Simulated cohort size."
)
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Random seed of the cohort.")
@definition_option
@click.pass_context
def demo(ctx: click.Context, out: Path, patients: int, seed: int, pathway: Pathway) -> None:
    """The main job: diagrams, every example traced, a simulated cohort and the safety proof, into --out.

    \b
    report.html   the protocol committee's report: all of the below on one page
    diagrams/     the pathway (SVG, PNG, DOT, Mermaid) and the cohort's flow over it
    traces/       every example course: its trace (JSON) and its path drawn (SVG)
    simulation/   a cohort under the guideline and the seed's pitfalls: summary.json (95 %
                  intervals), patient and event tables, plots and the policy comparison
    verify.json   the safety properties, each proven over every reachable situation
    """
    console = Console()
    try:
        _demo(ctx, console, out, patients, seed, pathway)
    except OSError as err:  # an unwritable or full output directory: one line, not a traceback
        fail(f"{out}: {err.strerror or err}")


def _demo(ctx: click.Context, console: Console, out: Path, patients: int, seed: int, pathway: Pathway) -> None:
    from pathway.report.command import write_report
    from pathway.simulate.command import simulate
    from pathway.verify.explore import verify
    from pathway.verify.properties import load_catalogue
    from pathway.verify.verdict_json import verification_json

    out.mkdir(parents=True, exist_ok=True)
    draw = dot_available()
    formats = DEFAULT_FORMATS if draw else ("dot", "mermaid")
    written = write_diagrams(pathway, out / "diagrams", formats)
    console.print(f"[bold]diagrams[/bold]: {', '.join(p.name for p in written)} -> {out / 'diagrams'}")
    if not draw:
        console.print("  (Graphviz 'dot' not found: SVG/PNG skipped; install it with apt-get install graphviz)")

    results = write_example_traces(pathway, EXAMPLES, out / "traces", draw)
    ends = Counter(state for _, states in results for state in states.split(" (")[0].split(", "))
    console.print(f"[bold]traces[/bold]: {len(results)} example courses -> {out / 'traces'}")
    console.print("  ending in " + ", ".join(f"{state} {n}" for state, n in ends.most_common()))

    cohort = out / "simulation"
    definition = Path(pathway.source_path) if pathway.source_path else None
    try:
        ctx.invoke(
            simulate,
            patients=patients,
            seed=seed,
            out=cohort,
            compare=",".join(DEMO_POLICIES),
            definition=definition,
            quiet=True,
        )
    except SystemExit as done:  # the command ends by exiting; only a failure stops the demo
        if done.code not in (0, None):
            raise
    console.print(f"[bold]simulation[/bold]: {patients:,} patients under {', '.join(DEMO_POLICIES)} -> {cohort}")
    flow = write_frequency_diagrams(
        pathway, read_frequencies(cohort / "summary.json", pathway), out / "diagrams", formats
    )
    console.print(f"[bold]cohort flow[/bold]: {', '.join(p.name for p in flow)} -> {out / 'diagrams'}")

    verdict = verify(pathway, load_catalogue(None))
    (out / "verify.json").write_text(
        json.dumps(verification_json(verdict, pathway), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    report, _ = write_report(pathway, out, simulation=cohort)
    held = sum(1 for r in verdict.results if r.checked and r.holds)
    checked = sum(1 for r in verdict.results if r.checked)
    verdict_style = "green" if verdict.holds else "bold red"
    console.print(
        f"[bold]verification[/bold]: [{verdict_style}]{held} of {checked} safety properties hold[/{verdict_style}]"
        f" (every reachable situation explored) -> {out / 'verify.json'}"
    )
    console.print(f"[bold]report[/bold]: {report}  (open it in a browser; it prints on A4)")
    if not verdict.holds:
        ctx.exit(EXIT_VIOLATION)
