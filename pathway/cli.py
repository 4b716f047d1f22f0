"""The `pathway` command line: a thin layer over the library."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import click

from pathway.cli_common import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_VIOLATION,
    definition_option,
    fail,
    in_line_order,
    input_problems,
    read_event_file,
)
from pathway.events import Event
from pathway.model import Pathway


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
    # imported here, not at the top: each command loads only the machinery it uses (start-up time)
    from pathway import compiled
    from pathway.engine import run_stream
    from pathway.trace import trace_json
    from pathway.verify.monitor import check_stream, check_trace

    events, errors = read_event_file(events_file, pathway)
    runner = compiled.run_stream if engine == "compiled" else run_stream
    traces = list(runner(pathway, in_line_order(events, errors)))
    by_course: dict[tuple[str | None, str | None], list[Event]] = {}
    for event in events:
        by_course.setdefault(event.course, []).append(event)
    violations = {
        id(trace): check_trace(pathway, trace, by_course.get((trace.patient, trace.episode), [])) for trace in traces
    }
    if as_json:
        for trace in traces:
            report = trace_json(trace, pathway)
            report["monitor"] = [v.to_json() for v in violations[id(trace)]]
            click.echo(json.dumps(report, ensure_ascii=False))
    else:
        from rich.console import Console

        from pathway.terminal.course import trace_view

        console = Console()
        for trace in traces:
            console.print(trace_view(trace, pathway))
        if not traces and not errors:
            console.print("no events")
    problems = input_problems(errors, traces)
    for problem in problems:
        click.echo(problem, err=True)
    for trace in traces:
        for violation in violations[id(trace)]:
            who = f"patient {trace.patient}: " if trace.patient is not None else ""
            who += f"episode {trace.episode}: " if trace.episode is not None else ""
            click.echo(f"monitor: {who}{violation}", err=True)
    stream_violations = check_stream(pathway, traces)
    for violation in stream_violations:
        click.echo(f"monitor: {violation}", err=True)
    if problems:
        sys.exit(EXIT_INPUT)
    if any(violations.values()) or stream_violations:
        sys.exit(EXIT_VIOLATION)
    if any(r.kind != "malformed" for t in traces for r in t.rejected):
        sys.exit(EXIT_REJECTED)
    sys.exit(EXIT_OK)


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

        tables = markdown_tables(pathway)
        if into is None:
            click.echo(tables)
            return
        try:
            into.write_text(replace_in(into.read_text(encoding="utf-8"), tables), encoding="utf-8")
        except (ValueError, UnicodeDecodeError) as err:
            fail(f"{into}: {err}")
        except OSError as err:
            fail(f"{into}: {err.strerror or err}")
        return
    if fmt == "json":
        from pathway.describe_json import pathway_json

        click.echo(json.dumps(pathway_json(pathway), ensure_ascii=False, indent=2))
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
