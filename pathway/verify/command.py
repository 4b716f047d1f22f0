"""`pathway verify`: the safety properties, checked over every reachable situation of the pathway."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import click
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pathway.cli_common import EXIT_OK, EXIT_VIOLATION, definition_option, fail, write_atomic
from pathway.model import Pathway
from pathway.verify.abstraction import AbstractionTooLarge
from pathway.verify.ci_formats import junit_xml, sarif_text
from pathway.verify.explore import Coverage, Finding, Verification, verify
from pathway.verify.mutants import MutationReport, run_mutants
from pathway.verify.properties import DEFAULT_PROPERTIES, Catalogue, PropertyError, cite_text, load_catalogue

SHOWN_EVENTS = 12


def _counterexample_files(verdict: Verification, out: Path | None) -> dict[tuple[str, int], Path]:
    """Write every counterexample as JSON Lines that `pathway run` replays; returns where each went."""
    if out is None:
        return {}
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for result in verdict.results:
        for index, finding in enumerate(result.findings, start=1):
            if finding.events:
                path = out / f"{result.id}{'' if index == 1 else f'-{index}'}.jsonl"
                path.write_text(finding.jsonl(), encoding="utf-8")
                written[(result.id, index)] = path
    return written


def _finding_json(finding: Finding) -> dict[str, Any]:
    item: dict[str, Any] = {"message": finding.message}
    if finding.events is not None:
        item["counterexample"] = [e.to_record() for e in finding.events]
    return item


def verification_json(verdict: Verification, pathway: Pathway) -> dict[str, Any]:
    return {
        "pathway": verdict.pathway,
        "version": verdict.version,
        "holds": verdict.holds,
        "seconds": round(verdict.seconds, 3),
        "properties": [
            {
                "id": r.id,
                "kind": r.kind,
                "statement": r.statement,
                "citation": cite_text(pathway, r.cite),
                "holds": r.holds,
                "checked": "at run time only" if not r.checked else "exhaustively",
                "violations": r.violations,
                "findings": [_finding_json(f) for f in r.findings],
            }
            for r in verdict.results
        ],
        "coverage": {
            **{k: v for k, v in attrs.asdict(verdict.coverage).items() if k != "overlaps"},
            "overlaps_resolved_by_priority": [
                {"state": s, "event": e, "taken": a, "over": b, "situations": n}
                for s, e, a, b, n in verdict.coverage.overlaps
            ],
        },
    }


def _evidence(result: Any, files: dict[tuple[str, int], Path]) -> Text:
    if not result.checked:
        return Text(result.note, style="dim")
    if result.holds:
        return Text("")
    text = Text()
    for index, finding in enumerate(result.findings, start=1):
        if index > 1:
            text.append("\n")
        text.append(finding.message)
        if finding.events:
            where = files.get((result.id, index))
            names = " → ".join(e.name for e in finding.events)
            count = f"{len(finding.events)} event{'s' if len(finding.events) != 1 else ''}"
            text.append(f"\ncounterexample ({count}): {names}", style="cyan")
            if where is not None:
                text.append(f"\n  {where}", style="cyan")
    if result.violations > len(result.findings):
        text.append(f"\n… {result.violations} violating situations in all", style="dim")
    return text


def _coverage_lines(coverage: Coverage) -> list[str]:
    overlap_pairs = len(coverage.overlaps)
    longest = "unbounded" if coverage.longest_course is None else f"{coverage.longest_course} events"
    return [
        f"abstract situations explored: {coverage.abstract_states} ({coverage.final_states} final)",
        f"event classes per situation: {coverage.event_classes}; events sent: {coverage.moves}; "
        f"time steps: {coverage.time_steps}",
        f"states reached: {coverage.states_reached}/{coverage.states}",
        f"transitions taken: {coverage.transitions_taken}/{coverage.transitions} "
        f"({coverage.transitions_waiting} can be tried: the rest leave states where no patient waits)",
        f"guard outcomes seen (true and false): {coverage.guard_outcomes_seen}/{coverage.guard_outcomes}",
        f"longest course through distinct situations: {longest}",
        f"overlapping guards resolved by priority: {overlap_pairs} pairs (see --json)",
    ]


def _first_counterexample(verdict: Verification) -> tuple[str, Finding] | None:
    for result in verdict.results:
        for finding in result.findings:
            if finding.events:
                return result.id, finding
    return None


def _short_cite(cite: str) -> str:
    """The citation without its parenthesised detail: the table stays readable (--json has it all)."""
    return "; ".join(piece.split(" (")[0].strip() for piece in cite.split(";"))


def show_verification(
    console: Console, verdict: Verification, pathway: Pathway, files: dict[tuple[str, int], Path]
) -> None:
    table = Table(title=f"Safety properties: {pathway.title} (v{pathway.version})", expand=True)
    table.add_column("property", style="bold", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("statement (source)")
    for result in verdict.results:
        if not result.checked:
            status = Text("runtime", style="yellow")
        elif result.holds:
            status = Text("✔ holds", style="green")
        else:
            status = Text(f"✘ violated ({result.violations})", style="bold red")
        statement = Text(result.statement)
        statement.append(f" ({_short_cite(result.cite)})", style="dim")
        table.add_row(result.id, status, statement)
    console.print(table)
    for result in verdict.results:
        if result.checked and not result.holds:
            console.print(
                Panel(_evidence(result, files), title=f"✘ {result.id}", title_align="left", border_style="red")
            )
    console.print(Panel("\n".join(_coverage_lines(verdict.coverage)), title="coverage", expand=False))
    example = _first_counterexample(verdict)
    if example is not None and not files:
        prop_id, finding = example
        lines = finding.jsonl().splitlines()
        shown = "\n".join(lines[:SHOWN_EVENTS]) + ("\n…" if len(lines) > SHOWN_EVENTS else "")
        console.print(
            f"shortest counterexample to {prop_id} (save as FILE.jsonl and replay with `pathway run FILE.jsonl`;"
            " --out DIR writes them all):"
        )
        console.print(Text(shown), soft_wrap=True)
    held = sum(1 for r in verdict.results if r.holds and r.checked)
    checked = sum(1 for r in verdict.results if r.checked)
    verdict_text = "all properties hold" if verdict.holds else f"{checked - held} of {checked} properties violated"
    console.print(f"{verdict_text}; verified in {verdict.seconds:.2f} s")


# ---------------------------------------------------------------- mutants


def mutation_json(report: MutationReport) -> dict[str, Any]:
    return {
        "mutants": len(report.results),
        "killed": report.killed,
        "equivalent": report.equivalent,
        "missed": len(report.missed),
        "kill_ratio": round(report.killed / max(1, len(report.results) - report.equivalent), 4),
        "seconds": round(report.seconds, 3),
        "results": [
            {
                "operator": r.operator,
                "mutant": r.description,
                "killed_by": list(r.killed_by),
                **({} if r.killed else {"equivalent": r.equivalent, "why": r.why}),
                **({"course": [e.to_record() for e in r.course]} if r.course else {}),
            }
            for r in report.results
        ],
    }


def show_mutation(console: Console, report: MutationReport) -> None:
    table = Table(title="Mutation adequacy: do the properties catch a wrong pathway?")
    for column in ("operator", "mutants", "killed", "equivalent", "missed"):
        table.add_column(column, justify="left" if column == "operator" else "right")
    by_operator: dict[str, Counter[str]] = {}
    for result in report.results:
        counts = by_operator.setdefault(result.operator, Counter())
        counts["mutants"] += 1
        counts["killed" if result.killed else "equivalent" if result.equivalent else "missed"] += 1
    for operator, counts in by_operator.items():
        table.add_row(operator, *(str(counts[c]) for c in ("mutants", "killed", "equivalent", "missed")))
    console.print(table)
    killers: Counter[str] = Counter(p for r in report.results for p in r.killed_by)
    console.print("kills per property: " + ", ".join(f"{p} {n}" for p, n in killers.most_common()))
    survivors = Table(title="Survivors and why", show_lines=True, expand=True)
    survivors.add_column("mutant", ratio=2)
    survivors.add_column("verdict", no_wrap=True)
    survivors.add_column("why", ratio=3)
    for result in report.results:
        if result.killed:
            continue
        verdict = Text("equivalent", style="green") if result.equivalent else Text("MISSED", style="bold red")
        survivors.add_row(f"{result.operator}: {result.description}", verdict, result.why)
    if survivors.row_count:
        console.print(survivors)
    non_equivalent = len(report.results) - report.equivalent
    console.print(
        f"{report.killed}/{non_equivalent} non-equivalent mutants killed "
        f"({len(report.results)} mutants, {report.equivalent} equivalent, {len(report.missed)} missed) "
        f"in {report.seconds:.1f} s"
    )


# ---------------------------------------------------------------- the command


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="The verdict as one JSON object.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
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
@definition_option
def cmd(
    as_json: bool,
    out: Path | None,
    junit_file: Path | None,
    sarif_file: Path | None,
    with_mutants: bool,
    properties_file: Path | None,
    pathway: Pathway,
) -> None:
    """Check the pathway's safety properties over every reachable situation.

    The context of a patient is abstracted into finitely many classes taken from the
    definition's own thresholds (below, at and above each one; every finding present or
    absent; counts up to one past their limit); every reachable situation is explored
    breadth first, so each violation comes with the shortest course that shows it, as a
    JSON Lines event stream that `pathway run` replays.

    \b
    Exit status:
      0  every property holds (and, with --mutants, every non-equivalent mutant is killed)
      1  some property is violated (or some mutant that changes behaviour survives)
      2  broken definition or property file
    """
    try:
        catalogue: Catalogue = load_catalogue(properties_file)
    except PropertyError as err:
        fail(str(err))
    try:
        verdict = verify(pathway, catalogue)
    except (AbstractionTooLarge, OverflowError) as err:
        fail(f"{pathway.source_path or pathway.id}: cannot be explored exhaustively: {err}")
    except TypeError as err:  # a property condition comparing a number with text, say
        fail(f"{catalogue.source}: a condition compares values of different kinds ({err})")
    try:
        files = _counterexample_files(verdict, out)
    except OSError as err:
        fail(f"{out}: {err.strerror or err}")
    reports = {
        junit_file: lambda: junit_xml(verdict, pathway),
        sarif_file: lambda: sarif_text(verdict, pathway, Path(catalogue.source or DEFAULT_PROPERTIES.name)),
    }
    for target, text in reports.items():
        if target is None:
            continue
        try:
            write_atomic(target, text())
        except OSError as err:
            fail(f"{target}: {err.strerror or err}")
    report = None
    if with_mutants:
        if as_json:
            report = run_mutants(pathway, catalogue)
        else:
            with Progress(
                TextColumn("mutants"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            ) as bar:
                task = bar.add_task("mutants", total=None)
                report = run_mutants(
                    pathway, catalogue, lambda done, total: bar.update(task, completed=done, total=total)
                )
        if out is not None:
            for index, result in enumerate(r for r in report.results if r.course):
                try:
                    out.mkdir(parents=True, exist_ok=True)
                    (out / f"mutant-survivor-{index + 1}.jsonl").write_text(
                        "".join(json.dumps(e.to_record(), ensure_ascii=False) + "\n" for e in result.course),
                        encoding="utf-8",
                    )
                except OSError as err:
                    fail(f"{out}: {err.strerror or err}")
    if as_json:
        data = verification_json(verdict, pathway)
        if report is not None:
            data["mutation"] = mutation_json(report)
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        console = Console()
        show_verification(console, verdict, pathway, files)
        if report is not None:
            show_mutation(console, report)
    ok = verdict.holds and (report is None or not report.missed)
    sys.exit(EXIT_OK if ok else EXIT_VIOLATION)
