"""`pathway export`: the pathway written in another language, one target per --format.

Targets are a table: each names the function that writes it and the options it takes,
so that a new target is one entry (and one module) without touching the others.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import click

from pathway.cli_common import definition_option, fail, read_event_file
from pathway.model import Pathway


@attrs.frozen
class ExportOptions:
    events: Path | None = None
    mapping: Path | None = None


@attrs.frozen
class Target:
    write: Callable[[Pathway, Path, ExportOptions], list[Path]]
    summary: str
    options: frozenset[str] = frozenset()


def _fhir(pathway: Pathway, out: Path, options: ExportOptions) -> list[Path]:
    from pathway.export import fhir_files
    from pathway.export.fhir_mapping import MappingError, load_mapping
    from pathway.export.fhirpath import ExportError

    try:
        mapping = load_mapping(pathway, options.mapping)
        files = {fhir_files.definition_file(pathway): fhir_files.definition_bytes(pathway, mapping)}
        if options.events is not None:
            events, errors = read_event_file(str(options.events), pathway)
            if errors:
                fail(f"{options.events}: {errors[0]}")
            files.update(fhir_files.patient_files(pathway, mapping, events, options.events.stem))
    except (MappingError, ExportError) as err:
        fail(str(err))
    return fhir_files.write_files(out, files)


TARGETS: dict[str, Target] = {
    "fhir": Target(
        _fhir,
        "HL7 FHIR R4 (CPG-on-FHIR): pathway and strategy PlanDefinitions, ActivityDefinitions, a FHIRPath "
        "Library and a CodeSystem in one Bundle; with --events, one patient Bundle per patient of the stream",
        frozenset({"events", "mapping"}),
    ),
}


def _format_help() -> str:
    return "Target language. " + " ".join(f"{name}: {t.summary}." for name, t in TARGETS.items())


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(sorted(TARGETS)), required=True, help=_format_help())
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the files (created if missing; files are replaced whole).",
)
@click.option(
    "--events",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="fhir: also write the patients of this JSON Lines event stream as FHIR Bundles.",
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="fhir: the coding of events, fields and recommendations (default: the shipped fhir_codes.toml).",
)
@definition_option
def export(fmt: str, out: Path, events: Path | None, mapping: Path | None, pathway: Pathway) -> None:
    """Write the pathway in a standard language other programs read.

    Everything is derived from the definition file; the written files list where each
    rule and threshold came from. An export that would not validate is not written.

    \b
    Exit status:
      0  written
      2  bad options, definition or mapping file, or an unwritable directory (one-line error)
    """
    target = TARGETS[fmt]
    given = {name for name, value in (("events", events), ("mapping", mapping)) if value is not None}
    unused = sorted(given - target.options)
    if unused:
        fail(f"--{unused[0]} is not used with --format {fmt}")
    try:
        written = target.write(pathway, out, ExportOptions(events=events, mapping=mapping))
    except OSError as err:
        fail(f"{out}: {err.strerror or err}")
    for path in written:
        click.echo(str(path))
