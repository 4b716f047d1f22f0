"""`pathway verify`: the safety properties, checked over every reachable situation of the pathway."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pathway.cli_common import EXIT_OK, EXIT_VIOLATION, OutputDirectory, definition_option, fail
from pathway.model import Pathway
from pathway.outdir import OutputDir, OutputError, write_atomically
from pathway.safe_text import json_line
from pathway.terminal.verification import show_mutation, show_verification
from pathway.verify import second_opinion
from pathway.verify.abstraction import AbstractionTooLarge
from pathway.verify.ci_formats import junit_xml, sarif_text
from pathway.verify.explore import Verification, verify
from pathway.verify.mutants import MutationReport, run_mutants
from pathway.verify.properties import DEFAULT_PROPERTIES, Catalogue, PropertyError, load_catalogue
from pathway.verify.verdict_json import mutation_json, verification_json


def _counterexample_files(verdict: Verification, out: OutputDir | None) -> dict[tuple[str, int], Path]:
    """Write every counterexample as JSON Lines that `pathway run` replays; returns where each went."""
    if out is None:
        return {}
    written = {}
    for result in verdict.results:
        for index, finding in enumerate(result.findings, start=1):
            if finding.events:
                name = f"{result.id}{'' if index == 1 else f'-{index}'}.jsonl"
                written[(result.id, index)] = out.write_text(name, finding.jsonl())
    return written


@contextmanager
def _writing(out: Path | None) -> Iterator[OutputDir | None]:
    """The run's output directory (pathway.outdir), when --out names one; an unusable one is a one-line error."""
    if out is None:
        yield None
        return
    try:
        with OutputDir(out, "verify") as outdir:
            yield outdir
    except OutputError as err:
        fail(str(err))
    except OSError as err:
        fail(f"{out}: {err.strerror or err}")


# ---------------------------------------------------------------- mutants


def _mutation(pathway: Pathway, catalogue: Catalogue, quiet: bool) -> MutationReport:
    if quiet:
        return run_mutants(pathway, catalogue)
    with Progress(
        TextColumn("mutants"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True)
    ) as bar:
        task = bar.add_task("mutants", total=None)
        return run_mutants(pathway, catalogue, lambda done, total: bar.update(task, completed=done, total=total))


# ---------------------------------------------------------------- the command


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="The verdict as one JSON object.")
@click.option(
    "--out",
    type=OutputDirectory(),
    default=None,
    help="Write every counterexample to DIR/<property>.jsonl (replay with `pathway run`).",
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the verdict as JUnit XML to FILE: one test case per property (failed: violated; "
    "skipped: checked at run time only), for CI dashboards.",
)
@click.option(
    "--sarif",
    "sarif_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the verdict as SARIF 2.1.0 to FILE: one rule per property, one error per violation "
    "with its counterexample, for code-scanning dashboards.",
)
@click.option(
    "--mutants",
    "with_mutants",
    is_flag=True,
    help="Also mutate the definition and report which mutants the properties kill.",
)
@click.option(
    "--properties",
    "properties_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Property catalogue (TOML). Default: the shipped {DEFAULT_PROPERTIES.name}.",
)
@click.option(
    "--cross-check",
    "cross_check",
    type=click.Choice(["spin", "storm"]),
    default=None,
    help="A second opinion. spin: the same properties checked by SPIN on a generated Promela model, "
    "verdicts side by side (--out DIR writes SPIN's counterexamples for `pathway run`). storm: exact "
    "probabilities of the guideline cohort (a DTMC) beside the Monte Carlo of `pathway simulate`.",
)
@click.option(
    "--prove",
    is_flag=True,
    help="Prove with Z3 that the rules cover every event (no gap), list the "
    "overlaps the order resolves, and prove every threshold exactly.",
)
@click.option(
    "--step",
    type=click.FloatRange(min=0.5, max=48),
    default=6.0,
    show_default=True,
    help="With --cross-check storm: hours per step of the chain.",
)
@click.option(
    "--patients",
    type=click.IntRange(min=100, max=10_000_000),
    default=100_000,
    show_default=True,
    help="With --cross-check storm: simulated patients (the in-scope ones are compared).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="With --cross-check storm: seed of the simulated cohort.",
)
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --cross-check storm: simulation parameter file (default: the shipped params.toml).",
)
@click.option(
    "--policy", default="guideline", show_default=True, help="With --cross-check storm: the clinician policy."
)
@definition_option
def cmd(
    as_json: bool,
    out: Path | None,
    junit_file: Path | None,
    sarif_file: Path | None,
    with_mutants: bool,
    properties_file: Path | None,
    cross_check: str | None,
    prove: bool,
    step: float,
    patients: int,
    seed: int,
    params_path: Path | None,
    policy: str,
    pathway: Pathway,
) -> None:
    """Check the pathway's safety properties over every reachable situation.

    The context of a patient is abstracted into finitely many classes taken from the
    definition's own thresholds (below, at and above each one; every finding present or
    absent; counts up to one past their limit); every reachable situation is explored
    breadth first, so each violation comes with the shortest course that shows it, as a
    JSON Lines event stream that `pathway run` replays.

    --cross-check spin, --cross-check storm and --prove ask independent tools instead
    (SPIN, Storm, Z3; see docs/verification-tools.md).

    \b
    Exit status:
      0  every property holds (and, with --mutants, every non-equivalent mutant is killed;
         with --cross-check, the tool agrees; with --prove, every proof holds)
      1  some property is violated (or some mutant that changes behaviour survives,
         or the tool disagrees, or a proof fails)
      2  broken definition or property file, or a tool that is not installed
    """
    try:
        catalogue: Catalogue = load_catalogue(properties_file)
    except PropertyError as err:
        fail(str(err))
    if sum([cross_check is not None, prove, with_mutants]) > 1:
        fail("choose one of --cross-check, --prove and --mutants")
    if cross_check == "spin":
        sys.exit(second_opinion.spin_cross_check(pathway, catalogue, out, as_json))
    if cross_check == "storm":
        sys.exit(second_opinion.storm_cross_check(pathway, params_path, policy, step, patients, seed, as_json))
    if prove:
        sys.exit(second_opinion.prove_guards(pathway, as_json))
    try:
        verdict = verify(pathway, catalogue)
    except (AbstractionTooLarge, OverflowError) as err:
        fail(f"{pathway.source_path or pathway.id}: cannot be explored exhaustively: {err}")
    except TypeError as err:  # a property condition comparing a number with text, say
        fail(f"{catalogue.source}: a condition compares values of different kinds ({err})")
    reports = {
        junit_file: lambda: junit_xml(verdict, pathway),
        sarif_file: lambda: sarif_text(verdict, pathway, Path(catalogue.source or DEFAULT_PROPERTIES.name)),
    }
    for target, text in reports.items():
        if target is None:
            continue
        try:
            write_atomically(target, text())
        except OSError as err:
            fail(f"{target}: {err.strerror or err}")
    with _writing(out) as outdir:
        files = _counterexample_files(verdict, outdir)
        report = _mutation(pathway, catalogue, as_json) if with_mutants else None
        for index, survivor in enumerate(r for r in (report.results if report else []) if r.course):
            if outdir is not None:
                course = "".join(json_line(e.to_record()) + "\n" for e in survivor.course)
                outdir.write_text(f"mutant-survivor-{index + 1}.jsonl", course)
    if as_json:
        data = verification_json(verdict, pathway)
        if report is not None:
            data["mutation"] = mutation_json(report)
        click.echo(json_line(data, indent=2))
    else:
        console = Console()
        show_verification(console, verdict, pathway, files)
        if report is not None:
            show_mutation(console, report)
    ok = verdict.holds and (report is None or not report.missed)
    sys.exit(EXIT_OK if ok else EXIT_VIOLATION)
