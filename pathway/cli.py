"""The `pathway` command line: a thin layer over the library."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pathway.cli_common import EXIT_INPUT, EXIT_OK, EXIT_REJECTED, EXIT_VIOLATION, definition_option, fail
from pathway.model import Pathway
from pathway.safe_text import json_line, shown

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from pathway.trace import Trace


class LazyGroup(click.Group):
    """A group whose subsystem commands are imported on first use, so `pathway run` starts fast."""

    lazy: dict[str, str] = {}  # noqa: RUF012 (filled once, below)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pdph-pathway")
def main() -> None:
    """The ACR post-dural puncture headache (PDPH) pathway as a declarative state machine.

    Run patient event streams through it, describe it, draw it, simulate cohorts and
    verify its safety. Every command reads the same definition file.
    """


@main.command()
@click.argument("events_file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per patient (contract section 6, docs/clinical-contract.md).",
)
@click.option(
    "--engine",
    type=click.Choice(["compiled", "psm"]),
    default="compiled",
    show_default=True,
    help="compiled: the definition as a lean transition table (starts in a fraction of the time and "
    "replays about 100x faster). psm: the python-statemachine machine generated from the definition, "
    "the reference the compiled table is proven against (identical output and exit status).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --json: processes that share out the replay of a long stream, split by patient; the output, "
    "messages and exit status are those of one worker. Extra workers pay only on free cores "
    "(docs/simulation.md). The text view is printed by one process.",
)
@definition_option
def run(events_file: str, as_json: bool, engine: str, workers: int, pathway: Pathway) -> None:
    """Run the JSON Lines event stream FILE ('-' for stdin) through the pathway.

    Every course is also checked against the pathway's safety properties (`pathway verify`
    proves them for the whole definition; here they are watched on each real course): the
    JSON object of each patient carries a "monitor" list of violations, empty when safe.

    Streams of any length: each course is printed as soon as its last line has been read
    (so in the order courses end), and memory follows the courses still open (docs/limits.md).

    \b
    Exit status:
      0  every event accepted
      3  some events refused as out of sequence (the rest still processed and reported)
      2  malformed input (a line that is not a valid event, or time going backwards);
         each problem is reported on stderr as 'line N: field ...: ...'
      1  a course broke a safety property (only possible with a --definition that
         `pathway verify` rejects); each violation is reported on stderr
    """
    # imported here, not at the top: each command loads only the machinery it uses (start-up time)
    from pathway.clean_exit import skip_teardown
    from pathway.courses import CourseRun
    from pathway.replay import Outcome, json_outputs, replay
    from pathway.stream import open_events
    from pathway.trace import who
    from pathway.verify.monitor import monitor_for

    start: Callable[[str | None, str | None], CourseRun]
    if engine == "compiled":
        from pathway import compiled

        table = compiled.compile_pathway(pathway)
        start = lambda p, e: compiled.TracedRun(table, p, e)  # noqa: E731
    else:
        from pathway.engine import PatientRun  # python-statemachine: its import alone outweighs a short run

        start = lambda p, e: PatientRun(pathway, p, e)  # noqa: E731
    skip_teardown()  # a run writes stdout and stderr only: the process may end without freeing it all
    console = None
    outcome = Outcome()
    reported = 0
    try:
        # each course is printed when its last line has been read: memory follows the open courses
        with open_events(events_file) as source:
            if as_json:
                if workers > 1:
                    from pathway.replay_pool import replay_json  # the pool prints what one process prints

                    outputs = replay_json(source, pathway, start, workers, outcome)
                else:
                    outputs = (
                        output
                        for trace, violations in replay(source, pathway, start, _problem, outcome)
                        for output in json_outputs(trace, violations, pathway)
                    )
                for to_stderr, text in outputs:
                    if to_stderr:
                        click.echo(text, err=True)
                    else:
                        sys.stdout.write(text)
            else:
                for trace, violations in replay(source, pathway, start, _problem, outcome):
                    reported += 1
                    console = console or _console()
                    console.print(_trace_view(trace, pathway))
                    for violation in violations:
                        click.echo(f"monitor: {who(trace)}{shown(str(violation))}", err=True)
    except OSError as err:
        if err.filename is None:
            raise  # writing the output failed: pathway.clean_exit reports it
        fail(f"{events_file}: {err.strerror or err}")
    if not reported and not outcome.input_problems and not as_json:
        _console().print("no events")
    stream_violations = monitor_for(pathway).check_named(outcome.named, outcome.unnamed)
    for violation in stream_violations:
        click.echo(f"monitor: {violation}", err=True)
    if outcome.input_problems:
        sys.exit(EXIT_INPUT)
    if outcome.violated or stream_violations:
        sys.exit(EXIT_VIOLATION)
    sys.exit(EXIT_REJECTED if outcome.refused else EXIT_OK)


def _problem(message: str) -> None:
    click.echo(message, err=True)


def _console() -> Console:
    from rich.console import Console

    return Console()


def _trace_view(trace: Trace, pathway: Pathway) -> RenderableType:
    from pathway.terminal.course import trace_view

    return trace_view(trace, pathway)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "html"]),
    default=None,
    help="text: tables for the terminal (the default); json: the pathway as data; markdown: the README's "
    "tables; html: a self-contained page with the clickable diagram, the tables and the sources.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--markdown", is_flag=True, help="Same as --format markdown.")
@click.option(
    "--into",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="With --markdown: replace the generated block of this file (e.g. README.md) instead of printing.",
)
@click.option(
    "--evidence",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="With --format html: evidence notes (Markdown, one heading per citation id). Default: docs/evidence.md.",
)
@definition_option
def describe(
    fmt: str | None, as_json: bool, markdown: bool, into: Path | None, evidence: Path | None, pathway: Pathway
) -> None:
    """The pathway as a reviewer reads it: states, recommendations, guarded transitions, sources."""
    chosen = {f for f, flag in (("json", as_json), ("markdown", markdown), (fmt, fmt is not None)) if flag}
    if len(chosen) > 1:
        fail("choose one of --json, --markdown and --format")
    fmt = chosen.pop() if chosen else "text"
    if into is not None and fmt != "markdown":
        fail("--into writes the markdown tables: use it with --markdown")
    if evidence is not None and fmt != "html":
        fail("--evidence is shown in the html page: use it with --format html")
    if fmt == "markdown":
        from pathway.describe_markdown import markdown_tables, replace_in
        from pathway.outdir import write_atomically

        tables = markdown_tables(pathway)
        if into is None:
            click.echo(tables)
            return
        try:
            write_atomically(into, replace_in(into.read_text(encoding="utf-8"), tables))
        except (ValueError, UnicodeDecodeError) as err:
            fail(f"{into}: {err}")
        except OSError as err:
            fail(f"{into}: {err.strerror or err}")
        return
    if fmt == "json":
        from pathway.describe_json import pathway_json

        click.echo(json_line(pathway_json(pathway), indent=2))
        return
    if fmt == "html":
        from pathway.report.page import pathway_html

        try:
            click.echo(pathway_html(pathway, evidence), nl=False)
        except (UnicodeDecodeError, ValueError) as err:
            fail(f"{evidence}: {err}")
        return
    from rich.console import Console

    from pathway.terminal.describe import pathway_view

    console = Console()
    for part in pathway_view(pathway):
        console.print(part)


def entry() -> None:
    """The `pathway` program: the command line, ended cleanly whatever happens (pathway.clean_exit)."""
    from pathway.clean_exit import run as run_cleanly

    run_cleanly(main)


# Commands that live with their subsystem: one line each, "module:attribute". A command's module
# (and so its machinery: numpy, matplotlib, the verifier...) is imported only when it runs.
LAZY_COMMANDS: dict[str, str] = {
    "demo": "pathway.demo:demo",
    "diagram": "pathway.render.command:diagram",
    "verify": "pathway.verify.command:cmd",
    "simulate": "pathway.simulate.command:simulate",
    "report": "pathway.report.command:report",
    "economics": "pathway.economics.command:economics",
    "data-dictionary": "pathway.simulate.dictionary:data_dictionary",
    "export": "pathway.export.command:export",
}
main.lazy = LAZY_COMMANDS
