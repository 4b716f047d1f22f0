"""`pathway diagram`: draw the pathway, a patient's path over it, or a cohort's flow."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pathway.cli_common import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_VIOLATION,
    OutputDirectory,
    definition_option,
    fail,
    in_line_order,
    input_problems,
    read_event_file,
)
from pathway.engine import PatientRun, run_stream
from pathway.events import EventError
from pathway.model import Pathway
from pathway.outdir import OutputDir, OutputError
from pathway.render.frequencies import FrequencyError, read_frequencies
from pathway.render.output import (
    DEFAULT_FORMATS,
    FORMATS,
    IMAGE_FORMATS,
    INSTALL_HINT,
    DotFailed,
    DotMissing,
    check_diagrams,
    dot_available,
    flow_stem,
    parse_formats,
    trace_stem,
    write_diagrams,
)
from pathway.render.overlay import Overlay, frequency_overlay, trace_overlay
from pathway.render.view import build_view
from pathway.safe_text import shown
from pathway.trace import Trace

DEFAULT_OUT = Path("diagrams")
DEFAULT_OVERLAY_OUT = Path("out") / "diagrams"


@click.command("diagram")
@click.option(
    "--format",
    "-f",
    "formats",
    multiple=True,
    metavar="FORMAT",
    help=f"One of {', '.join(FORMATS)}; repeat it or give a comma list. Default: {','.join(DEFAULT_FORMATS)}.",
)
@click.option(
    "--out",
    "-o",
    type=OutputDirectory(),
    default=None,
    help=f"Directory to write into, with a run.json listing the files; files an earlier diagram run wrote there "
    f"and this one does not are removed. Default: {DEFAULT_OUT}/ (with --trace or --frequencies: "
    f"{DEFAULT_OVERLAY_OUT}/).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 naming each diagram in --out that is missing or stale.",
)
@click.option(
    "--trace",
    "trace_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="JSON Lines event file ('-' for stdin): draw that patient's path over the pathway.",
)
@click.option(
    "--patient",
    default=None,
    help="With --trace: the patient to draw from a multi-patient file (their latest episode).",
)
@click.option("--episode", default=None, help="With --trace and --patient: which of the patient's episodes to draw.")
@click.option(
    "--frequencies",
    "frequencies_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Simulator summary.json (or a JSON object 'source->target': count): draw the cohort's flow.",
)
@definition_option
def diagram(
    formats: tuple[str, ...],
    out: Path | None,
    check: bool,
    trace_file: str | None,
    patient: str | None,
    episode: str | None,
    frequencies_file: str | None,
    pathway: Pathway,
) -> None:
    """Draw the pathway from its definition: Graphviz SVG/PNG/PDF, DOT, and Mermaid.

    \b
    States are grouped (active course, outcomes, hand-offs); every edge carries its event
    and condition in words with the definition's thresholds; rules that apply in every
    active state (red-flag escalation) are one red edge from the active cluster.

    \b
    Examples:
      pathway diagram                        # refresh diagrams/pdph.{svg,png,dot,mmd}
      pathway diagram --check                # exit 1 if diagrams/ is stale
      pathway diagram --trace course.jsonl   # one patient's path -> out/diagrams/
      pathway diagram --frequencies out/sim/summary.json -f svg,png

    \b
    Exit status: 0 done; 1 --check found stale or missing diagrams; 2 bad input
    (event lines, summary, options) or Graphviz missing for svg/png/pdf.
    """
    try:
        chosen = parse_formats(formats)
    except ValueError as err:
        fail(str(err))
    if trace_file is not None and frequencies_file is not None:
        fail("--trace and --frequencies draw different overlays: give one of them")
    if patient is not None and trace_file is None:
        fail("--patient needs --trace")
    if episode is not None and patient is None:
        fail("--episode needs --patient (and --trace)")
    if check:
        if trace_file is not None or frequencies_file is not None:
            fail("--check compares the plain diagrams; it does not take --trace or --frequencies")
        _check(pathway, out or DEFAULT_OUT)
        return

    problems: list[str] = []
    overlay: Overlay | None = None
    stem = pathway.id
    if trace_file is not None:
        trace, problems = _trace(pathway, trace_file, patient, episode)
        overlay = trace_overlay(build_view(pathway), trace)
        stem = trace_stem(pathway, trace)
    elif frequencies_file is not None:
        try:
            frequencies = read_frequencies(frequencies_file, pathway)
        except FrequencyError as err:
            fail(str(err))
        overlay = frequency_overlay(build_view(pathway), frequencies)
        stem = flow_stem(pathway)
    directory = out or (DEFAULT_OUT if overlay is None else DEFAULT_OVERLAY_OUT)

    missing_dot = not dot_available() and any(f in IMAGE_FORMATS for f in chosen)
    drawable = [f for f in chosen if f not in IMAGE_FORMATS] if missing_dot else list(chosen)
    written = []
    try:
        if drawable:
            with OutputDir(directory, "diagram") as outdir:
                written = write_diagrams(pathway, outdir, drawable, overlay, stem)
    except (DotMissing, DotFailed, OutputError) as err:
        fail(str(err))
    except OSError as err:
        fail(f"{directory}: {err.strerror or err}")
    for path in written:
        click.echo(f"wrote {shown(str(path))}")  # --out is the user's text: shown escaped
    for problem in problems:
        click.echo(problem, err=True)
    if missing_dot:
        skipped = ", ".join(f for f in chosen if f in IMAGE_FORMATS)
        fail(f"cannot draw {skipped}: Graphviz 'dot' was not found on PATH: {INSTALL_HINT}")
    sys.exit(EXIT_INPUT if problems else EXIT_OK)


def _check(pathway: Pathway, directory: Path) -> None:
    problems = check_diagrams(pathway, directory)
    for problem in problems:
        click.echo(f"{problem}; regenerate with: pathway diagram --out {directory}", err=True)
    if problems:
        sys.exit(EXIT_VIOLATION)
    click.echo(f"{directory}: diagrams are up to date")


def _course_name(trace: Trace) -> str:
    return str(trace.patient) + (f" episode {trace.episode}" if trace.episode is not None else "")


def _trace(pathway: Pathway, path: str, patient: str | None, episode: str | None) -> tuple[Trace, list[str]]:
    """The trace to draw and the input problems to report (as `pathway run` reports them)."""
    events, errors = read_event_file(path, pathway)
    traces = list(run_stream(pathway, in_line_order(events, errors)))
    if patient is not None:
        chosen = [t for t in traces if t.patient == patient]
        if not chosen:
            named = ", ".join(dict.fromkeys(t.patient for t in traces if t.patient is not None)) or "none named"
            fail(f"{path}: no patient {patient!r} (patients: {named})")
        if episode is not None:
            episodes = [t for t in chosen if t.episode == episode]
            if not episodes:
                listed = ", ".join(str(t.episode) for t in chosen)
                fail(f"{path}: patient {patient!r} has no episode {episode!r} (episodes: {listed})")
            chosen = episodes
        trace = chosen[-1]  # a patient's latest episode: the course a reviewer asks about
    elif len(traces) > 1:
        named = ", ".join(_course_name(t) for t in traces)
        fail(f"{path}: {len(traces)} courses ({named}); choose one with --patient ID [--episode E]")
    elif traces:
        trace = traces[0]
    else:
        trace = PatientRun(pathway).trace()  # nothing valid to draw but the start
    return trace, input_problems([e for e in errors if _concerns(e, trace)], [trace])


def _concerns(error: EventError, trace: Trace) -> bool:
    # a line whose patient could not be read may belong to anyone: always report it
    return error.patient is None or error.course == (trace.patient, trace.episode)
