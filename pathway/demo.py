"""`pathway demo`: the main job in one command, for a first look at what the project does."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click
from rich.console import Console

from pathway.cli_common import EXIT_VIOLATION, OutputDirectory, definition_option, fail, in_line_order, read_event_file
from pathway.engine import run_stream
from pathway.model import Pathway
from pathway.outdir import MANIFEST, OutputDir, OutputError
from pathway.render import DEFAULT_FORMATS, read_frequencies, write_diagrams, write_frequency_diagrams
from pathway.render.output import DotFailed, dot_available
from pathway.render.overlay import trace_overlay
from pathway.render.view import build_view
from pathway.safe_text import course_stem, file_stem, json_line
from pathway.trace import trace_json

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# the guideline against the two pitfalls of the seed that a simulation can show
DEMO_POLICIES = ("guideline", "reflexive_imaging", "dismiss_red_flags")


def write_example_traces(
    pathway: Pathway, examples: Path, out: OutputDir, draw: bool, folder: str = "traces"
) -> list[tuple[str, str]]:
    """Run every example course, write its traces as JSON Lines and (``draw``) each patient's path as SVG."""
    results = []
    view = build_view(pathway)
    for path in sorted(examples.glob("*.jsonl")):
        events, errors = read_event_file(str(path), pathway)
        traces = list(run_stream(pathway, in_line_order(events, errors)))
        lines = [json_line(trace_json(t, pathway)) for t in traces]
        stem = file_stem(path.stem)
        out.write_text(f"{folder}/{stem}.json", "\n".join(lines) + "\n")
        for trace in traces:
            if draw:
                # patient and episode ids are input text: course_stem keeps distinct courses in distinct files
                name = stem if trace.patient is None else f"{stem}-{course_stem(trace.patient, trace.episode)}"
                write_diagrams(pathway, out, ["svg"], trace_overlay(view, trace), name, folder)
        states = ", ".join(t.state for t in traces)
        results.append((path.stem, states + (f" ({len(errors)} bad lines)" if errors else "")))
    return results


@click.command()
@click.option(
    "--out",
    type=OutputDirectory(),
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
        # the demo owns its directory (pathway.outdir): locked, atomic, run.json last listing every file
        with OutputDir(out, "demo") as outdir:
            holds = _demo(ctx, console, outdir, patients, seed, pathway)
    except (OutputError, DotFailed) as err:
        fail(str(err))
    except OSError as err:  # an unwritable or full output directory: one line, not a traceback
        fail(f"{out}: {err.strerror or err}")
    if not holds:
        ctx.exit(EXIT_VIOLATION)


def _demo(ctx: click.Context, console: Console, outdir: OutputDir, patients: int, seed: int, pathway: Pathway) -> bool:
    """Everything into the demo's directory; True when the safety properties hold."""
    from pathway.report.command import write_report
    from pathway.simulate.command import simulate
    from pathway.verify.explore import verify
    from pathway.verify.properties import load_catalogue
    from pathway.verify.verdict_json import verification_json

    out = outdir.path
    draw = dot_available()
    formats = DEFAULT_FORMATS if draw else ("dot", "mermaid")
    written = write_diagrams(pathway, outdir, formats, folder="diagrams")
    console.print(f"[bold]diagrams[/bold]: {', '.join(p.name for p in written)} -> {out / 'diagrams'}")
    if not draw:
        console.print("  (Graphviz 'dot' not found: SVG/PNG skipped; install it with apt-get install graphviz)")

    results = write_example_traces(pathway, EXAMPLES, outdir, draw)
    ends = Counter(state for _, states in results for state in states.split(" (")[0].split(", "))
    console.print(f"[bold]traces[/bold]: {len(results)} example courses -> {out / 'traces'}")
    console.print("  ending in " + ", ".join(f"{state} {n}" for state, n in ends.most_common()))

    cohort = outdir.subdir("simulation")  # the nested simulate run owns it and writes its own manifest
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
    for item in json.loads((cohort / MANIFEST).read_text(encoding="utf-8"))["files"]:
        outdir.adopt(f"simulation/{item['name']}")
    outdir.adopt(f"simulation/{MANIFEST}")
    console.print(f"[bold]simulation[/bold]: {patients:,} patients under {', '.join(DEMO_POLICIES)} -> {cohort}")
    flow = write_frequency_diagrams(
        pathway, read_frequencies(cohort / "summary.json", pathway), outdir, formats, folder="diagrams"
    )
    console.print(f"[bold]cohort flow[/bold]: {', '.join(p.name for p in flow)} -> {out / 'diagrams'}")

    verdict = verify(pathway, load_catalogue(None))
    outdir.write_text("verify.json", json_line(verification_json(verdict, pathway), indent=2) + "\n")
    report, _ = write_report(pathway, outdir, simulation=cohort)
    held = sum(1 for r in verdict.results if r.checked and r.holds)
    checked = sum(1 for r in verdict.results if r.checked)
    verdict_style = "green" if verdict.holds else "bold red"
    console.print(
        f"[bold]verification[/bold]: [{verdict_style}]{held} of {checked} safety properties hold[/{verdict_style}]"
        f" (every reachable situation explored) -> {out / 'verify.json'}"
    )
    console.print(f"[bold]report[/bold]: {report}  (open it in a browser; it prints on A4)")
    return verdict.holds
