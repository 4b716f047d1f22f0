"""The `pathway` command line: a thin layer over the library."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console

from pathway import compiled
from pathway.cli_common import EXIT_INPUT, EXIT_OK, EXIT_REJECTED, EXIT_VIOLATION, definition_option, fail
from pathway.courses import CourseRun
from pathway.engine import PatientRun
from pathway.model import Pathway
from pathway.outdir import write_atomically
from pathway.replay import Outcome, replay
from pathway.report import pathway_view, trace_view
from pathway.safe_text import json_line, shown
from pathway.stream import open_events
from pathway.trace import Trace, trace_json_text
from pathway.verify.monitor import monitor_for


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pdph-pathway")
def main() -> None:
    """The ACR post-dural puncture headache (PDPH) pathway as a declarative state machine.

    Run patient event streams through it, describe it, draw it, simulate cohorts and
    verify its safety. Every command reads the same definition file.
    """


@main.command()
@click.argument("events_file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per patient (CLINICAL.md section 6).")
@click.option(
    "--engine",
    type=click.Choice(["psm", "compiled"]),
    default="psm",
    show_default=True,
    help="psm: the python-statemachine machine generated from the definition (the reference). "
    "compiled: the same definition as a lean transition table, proven to give identical traces "
    "and about 100x faster, for replaying large streams.",
)
@definition_option
def run(events_file: str, as_json: bool, engine: str, pathway: Pathway) -> None:
    """Run the JSON Lines event stream FILE ('-' for stdin) through the pathway.

    Every course is also checked against the pathway's safety properties (`pathway verify`
    proves them for the whole definition; here they are watched on each real course): the
    JSON object of each patient carries a "monitor" list of violations, empty when safe.

    \b
    Exit status:
      0  every event accepted
      3  some events refused as out of sequence (the rest still processed and reported)
      2  malformed input (a line that is not a valid event, or time going backwards);
         each problem is reported on stderr as 'line N: field ...: ...'
      1  a course broke a safety property (only possible with a --definition that
         `pathway verify` rejects); each violation is reported on stderr
    """
    if engine == "compiled":
        table = compiled.compile_pathway(pathway)
        start: Callable[[str | None, str | None], CourseRun] = lambda p, e: compiled.TracedRun(table, p, e)  # noqa: E731
    else:
        start = lambda p, e: PatientRun(pathway, p, e)  # noqa: E731
    console = Console()
    outcome = Outcome()
    reported = 0
    try:
        with open_events(events_file) as source:
            for trace, violations in replay(source, pathway, start, _problem, outcome):
                reported += 1
                if as_json:
                    extra = {"monitor": [v.to_json() for v in violations]}
                    sys.stdout.writelines(trace_json_text(trace, pathway, extra))
                    sys.stdout.write("\n")
                else:
                    console.print(trace_view(trace, pathway))
                for violation in violations:
                    click.echo(f"monitor: {_who(trace)}{shown(str(violation))}", err=True)
    except OSError as err:
        if err.filename is None:
            raise  # writing the output failed: clean_exit reports it
        fail(f"{events_file}: {err.strerror or err}")
    if not reported and not outcome.input_problems and not as_json:
        console.print("no events")
    if outcome.input_problems:
        sys.exit(EXIT_INPUT)
    stream_violations = monitor_for(pathway).check_named(outcome.named, outcome.unnamed)
    for violation in stream_violations:
        click.echo(f"monitor: {violation}", err=True)
    if outcome.violated or stream_violations:
        sys.exit(EXIT_VIOLATION)
    sys.exit(EXIT_REJECTED if outcome.refused else EXIT_OK)


def _problem(message: str) -> None:
    click.echo(message, err=True)


def _who(trace: Trace) -> str:
    who = f"patient {shown(trace.patient)}: " if trace.patient is not None else ""
    return who + (f"episode {shown(trace.episode)}: " if trace.episode is not None else "")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="States, transitions and recommendations as JSON.")
@click.option("--markdown", is_flag=True, help="Markdown tables of states, transitions and thresholds (the README's).")
@click.option(
    "--into",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="With --markdown: replace the generated block of this file (e.g. README.md) instead of printing.",
)
@definition_option
def describe(as_json: bool, markdown: bool, into: Path | None, pathway: Pathway) -> None:
    """The pathway as a reviewer reads it: states, recommendations, guarded transitions, sources."""
    if as_json and markdown:
        fail("choose one of --json and --markdown")
    if into is not None and not markdown:
        fail("--into writes the markdown tables: use it with --markdown")
    if markdown:
        from pathway.describe_markdown import markdown_tables, replace_in

        tables = markdown_tables(pathway)
        if into is None:
            click.echo(tables)
            return
        try:
            write_atomically(into, replace_in(into.read_text(encoding="utf-8"), tables).encode("utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            fail(f"{into}: {err}")
        except OSError as err:
            fail(f"{into}: {err.strerror or err}")
        return
    if as_json:
        from pathway.describe_json import pathway_json

        click.echo(json_line(pathway_json(pathway), indent=2))
        return
    console = Console()
    for part in pathway_view(pathway):
        console.print(part)


def entry() -> None:
    """The `pathway` program: the command line, ended cleanly whatever happens (pathway.clean_exit)."""
    from pathway.clean_exit import run as run_cleanly

    run_cleanly(main)


# Commands that live with their subsystem register themselves below, one line each.
from pathway.demo import demo  # noqa: E402

main.add_command(demo)
from pathway.render.command import diagram  # noqa: E402

main.add_command(diagram)
from pathway.verify.command import cmd as verify_cmd  # noqa: E402

main.add_command(verify_cmd)
from pathway.simulate.command import simulate  # noqa: E402

main.add_command(simulate)
