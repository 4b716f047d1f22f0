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
from pathway.outdir import write_atomically as write_atomic


@attrs.frozen
class ExportOptions:
    events: Path | None = None
    mapping: Path | None = None
    properties: Path | None = None
    step: float | None = None
    params: Path | None = None
    policy: str | None = None


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


def _promela(pathway: Pathway, out: Path, options: ExportOptions) -> list[Path]:
    from pathway.export.encoding import ExportError
    from pathway.export.spin import export as promela
    from pathway.verify.properties import PropertyError, load_catalogue

    try:
        text = promela(pathway, load_catalogue(options.properties)).text
    except (PropertyError, ExportError) as err:
        fail(str(err))
    return [write_atomic(out / f"{pathway.id}.pml", text)]


def _prism(pathway: Pathway, out: Path, options: ExportOptions) -> list[Path]:
    from pathway.export.encoding import ExportError
    from pathway.export.prism import CohortChain
    from pathway.simulate import params as params_io

    try:
        params = params_io.load(options.params, pathway)
    except params_io.ParamsError as err:
        fail(str(err))
    policy = options.policy or "guideline"
    if policy not in params.policies:
        fail(f"--policy {policy!r}: not in the parameter file ({', '.join(params.policies)})")
    step = options.step or DEFAULT_STEP_H
    try:
        text = CohortChain(pathway, params, policy, step).text()
    except ExportError as err:
        fail(f"{pathway.source_path or pathway.id}: cannot export the cohort chain: {err}")
    return [write_atomic(out / f"{pathway.id}-cohort-{step:g}h.prism", text)]


DEFAULT_STEP_H = 6.0

TARGETS: dict[str, Target] = {
    "fhir": Target(
        _fhir,
        "HL7 FHIR R4 (CPG-on-FHIR): pathway and strategy PlanDefinitions, ActivityDefinitions, a FHIRPath "
        "Library and a CodeSystem in one Bundle; with --events, one patient Bundle per patient of the stream",
        frozenset({"events", "mapping"}),
    ),
    "promela": Target(
        _promela,
        "Promela for SPIN: one patient's course over the verifier's abstract classes, with one LTL formula per "
        "property of the catalogue (`pathway verify --cross-check spin` runs it)",
        frozenset({"properties"}),
    ),
    "prism": Target(
        _prism,
        "the PRISM language for Storm: the guideline cohort of in-scope patients as a discrete-time Markov chain, "
        "from the definition and the simulation parameters (`pathway verify --cross-check storm` runs it)",
        frozenset({"step", "params", "policy"}),
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
@click.option(
    "--properties",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="promela: property catalogue for the LTL formulas (default: the shipped properties.toml).",
)
@click.option(
    "--step",
    type=click.FloatRange(min=0.5, max=48),
    default=None,
    help=f"prism: hours per step of the chain (default {DEFAULT_STEP_H:g}).",
)
@click.option(
    "--params",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="prism: simulation parameter file (default: the shipped params.toml).",
)
@click.option("--policy", default=None, help="prism: the simulated clinicians' policy (default: guideline).")
@definition_option
def export(
    fmt: str,
    out: Path,
    events: Path | None,
    mapping: Path | None,
    properties: Path | None,
    step: float | None,
    params: Path | None,
    policy: str | None,
    pathway: Pathway,
) -> None:
    """Write the pathway in a standard language other programs read.

    Everything is derived from the definition file; the written files list where each
    rule and threshold came from. An export that would not validate is not written.

    \b
    Exit status:
      0  written
      2  bad options, definition or mapping file, or an unwritable directory (one-line error)
    """
    target = TARGETS[fmt]
    chosen = {
        "events": events,
        "mapping": mapping,
        "properties": properties,
        "step": step,
        "params": params,
        "policy": policy,
    }
    given = {name for name, value in chosen.items() if value is not None}
    unused = sorted(given - target.options)
    if unused:
        fail(f"--{unused[0]} is not used with --format {fmt}")
    try:
        written = target.write(pathway, out, ExportOptions(**chosen))  # type: ignore[arg-type]
    except OSError as err:
        fail(f"{out}: {err.strerror or err}")
    for path in written:
        click.echo(str(path))
