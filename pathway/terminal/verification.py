"""`pathway verify` in a terminal: each property's verdict, the evidence for a violation, coverage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from pathway.model import Pathway
from pathway.terminal.listing import Column, Listing
from pathway.verify.explore import Coverage, Finding, Result, Verification
from pathway.verify.mutants import MutationReport

SHOWN_EVENTS = 12
MUTANT_COUNTS = ("mutants", "killed", "equivalent", "missed")


def counterexample_listing(finding: Finding) -> Listing:
    """The shortest course that breaks a property, one event per row (replayable with `pathway run`)."""
    listing = Listing(
        [Column("#", key=True, justify="right"), Column("at", key=True), Column("event"), Column("fields")]
    )
    for number, event in enumerate((finding.events or ())[:SHOWN_EVENTS], start=1):
        record = event.to_record()
        fields = ", ".join(f"{k}={v}" for k, v in record.items() if k not in ("event", "at", "patient"))
        listing.add_row(str(number), str(record.get("at", "")), event.name, fields)
    if len(finding.events or ()) > SHOWN_EVENTS:
        listing.add_row("+", "", f"{len(finding.events or ()) - SHOWN_EVENTS} more events (--out DIR has them all)", "")
    return listing


def _evidence(result: Result, files: dict[tuple[str, int], Path]) -> RenderableType:
    parts: list[RenderableType] = []
    for index, finding in enumerate(result.findings, start=1):
        parts.append(Text(finding.message))
        if finding.events:
            count = f"{len(finding.events)} event{'s' if len(finding.events) != 1 else ''}"
            parts.append(Text(f"counterexample ({count}):", style="cyan"))
            parts.append(counterexample_listing(finding))
            where = files.get((result.id, index))
            if where is not None:
                parts.append(Text(f"written to {where}", style="cyan"))
    if result.violations > len(result.findings):
        parts.append(Text(f"{result.violations} violating situations in all; the shortest is shown", style="dim"))
    return Group(*parts)


def coverage_lines(coverage: Coverage) -> list[str]:
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
        f"overlapping guards resolved by priority: {len(coverage.overlaps)} pairs (see --json)",
    ]


def short_cite(cite: str) -> str:
    """The citation without its parenthesised detail: the table stays readable (--json has it all)."""
    return "; ".join(piece.split(" (")[0].strip() for piece in cite.split(";"))


def status(result: Result) -> Text:
    if not result.checked:
        return Text("runtime", style="yellow")
    if result.holds:
        return Text("✔ holds", style="green")
    return Text(f"✘ violated ({result.violations})", style="bold red")


def show_verification(
    console: Console, verdict: Verification, pathway: Pathway, files: dict[tuple[str, int], Path]
) -> None:
    table = Listing(
        [Column("property", key=True), Column("result", key=True), Column("statement (source)")],
        title=f"Safety properties: {pathway.title} (v{pathway.version})",
    )
    for result in verdict.results:
        statement = Text(result.statement)
        statement.append(f" ({short_cite(result.cite)})", style="dim")
        table.add_row(result.id, status(result), statement)
    console.print(table)
    for result in verdict.results:
        if result.checked and not result.holds:
            console.print(
                Panel(_evidence(result, files), title=f"✘ {result.id}", title_align="left", border_style="red")
            )
    console.print(Panel("\n".join(coverage_lines(verdict.coverage)), title="coverage"))
    if any(f.events for r in verdict.results for f in r.findings) and not files:
        console.print("replay a counterexample: `pathway verify --out DIR` writes each as JSON Lines for `pathway run`")
    held = sum(1 for r in verdict.results if r.holds and r.checked)
    checked = sum(1 for r in verdict.results if r.checked)
    verdict_text = "all properties hold" if verdict.holds else f"{checked - held} of {checked} properties violated"
    console.print(f"{verdict_text}; verified in {verdict.seconds:.2f} s")


def show_mutation(console: Console, report: MutationReport) -> None:
    table = Listing(
        [Column("operator", key=True)]
        + [Column(c, justify="right") for c in ("mutants", "killed", "equivalent", "missed")],
        title="Mutation adequacy: do the properties catch a wrong pathway?",
    )
    by_operator: dict[str, Counter[str]] = {}
    for result in report.results:
        counts = by_operator.setdefault(result.operator, Counter())
        counts["mutants"] += 1
        counts["killed" if result.killed else "equivalent" if result.equivalent else "missed"] += 1
    for operator, counts in by_operator.items():
        table.add_row(operator, *(str(counts[c]) for c in MUTANT_COUNTS))
    console.print(table)
    killers: Counter[str] = Counter(p for r in report.results for p in r.killed_by)
    console.print("kills per property: " + ", ".join(f"{p} {n}" for p, n in killers.most_common()))
    survivors = Listing([Column("mutant"), Column("verdict", key=True), Column("why")], title="Survivors and why")
    for result in report.results:
        if result.killed:
            continue
        verdict = Text("equivalent", style="green") if result.equivalent else Text("MISSED", style="bold red")
        survivors.add_row(f"{result.operator}: {result.description}", verdict, result.why)
    if survivors.rows:
        console.print(survivors)
    non_equivalent = len(report.results) - report.equivalent
    console.print(
        f"{report.killed}/{non_equivalent} non-equivalent mutants killed "
        f"({len(report.results)} mutants, {report.equivalent} equivalent, {len(report.missed)} missed) "
        f"in {report.seconds:.1f} s"
    )
