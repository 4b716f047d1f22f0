"""`pathway verify --cross-check spin|storm` and `--prove`: running the independent tools and showing their answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pathway.cli_common import EXIT_OK, EXIT_VIOLATION, fail
from pathway.events import dumps
from pathway.model import Pathway
from pathway.outdir import write_atomically as write_atomic
from pathway.verify.properties import Catalogue


def _mark(value: bool | None, yes: str = "holds", no: str = "violated") -> Text:
    if value is None:
        return Text("—", style="dim")
    return Text(f"✔ {yes}", style="green") if value else Text(f"✘ {no}", style="bold red")


# ---------------------------------------------------------------- SPIN


def spin_cross_check(pathway: Pathway, catalogue: Catalogue, out: Path | None, as_json: bool) -> int:
    from pathway.export.spin import SpinFailed, SpinUnavailable
    from pathway.verify.crosscheck import cross_check

    try:
        check = cross_check(pathway, catalogue)
    except SpinUnavailable as err:
        fail(f"--cross-check spin: {err}")
    except SpinFailed as err:
        fail(f"--cross-check spin: {err}", EXIT_VIOLATION)
    files: dict[str, Path] = {}
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
            for verdict in check.report.verdicts:
                if verdict.course:
                    path = out / f"spin-{verdict.prop}.jsonl"
                    write_atomic(path, "".join(dumps(e) + "\n" for e in verdict.course))
                    files[verdict.prop] = path
        except OSError as err:
            fail(f"{out}: {err.strerror or err}")
    report = check.report
    if as_json:
        click.echo(
            json.dumps(
                {
                    "pathway": pathway.id,
                    "agree": check.agree,
                    "claims": report.claims,
                    "spin_states": report.states,
                    "seconds": {
                        "explorer": round(check.seconds_project, 3),
                        "spin_compile": round(report.seconds_compile, 3),
                        "spin_search": round(report.seconds_search, 3),
                    },
                    "properties": [
                        {
                            "id": row.prop,
                            "kind": row.kind,
                            "project": row.project,
                            "spin": row.spin,
                            "agree": row.agree,
                            "note": row.note,
                            **(
                                {"counterexample": [e.to_record() for e in check.report.verdict(row.prop).course]}
                                if check.report.verdict(row.prop).course
                                else {}
                            ),
                        }
                        for row in check.rows
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        console = Console()
        table = Table(title=f"SPIN cross-check: {pathway.title} (v{pathway.version})", expand=True)
        for column in ("property", "project", "SPIN", "agree", "note"):
            table.add_column(column, no_wrap=column != "note")
        for row in check.rows:
            agree = Text("—", style="dim") if row.agree is None else _mark(row.agree, "yes", "NO")
            note = row.note + (f"\ncounterexample: {files[row.prop]}" if row.prop in files else "")
            table.add_row(row.prop, _mark(row.project), _mark(row.spin), agree, Text(note, style="dim"))
        console.print(table)
        compared = len(check.compared)
        same = sum(1 for r in check.compared if r.agree)
        console.print(
            f"agreement {same}/{compared} properties SPIN can judge; SPIN: {report.claims} LTL claims, "
            f"{report.states} states, {report.seconds_compile:.1f} s spin -a + gcc, {report.seconds_search:.1f} s pan; "
            f"explorer {check.seconds_project:.2f} s"
        )
        if not files and any(v.course for v in report.verdicts):
            console.print("SPIN counterexamples replay with `pathway run`: write them with --out DIR")
    return EXIT_OK if check.agree and check.project.holds else EXIT_VIOLATION


# ---------------------------------------------------------------- Z3


def prove_guards(pathway: Pathway, as_json: bool) -> int:
    from pathway.verify.prove import prove

    proofs = prove(pathway)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "pathway": pathway.id,
                    "holds": proofs.holds,
                    "cases": proofs.cases,
                    "gaps": [_asdict(g) for g in proofs.gaps],
                    "overlaps": [_asdict(o) for o in proofs.overlaps],
                    "thresholds": [_asdict(b) for b in proofs.boundaries],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK if proofs.holds else EXIT_VIOLATION
    console = Console()
    gaps = Table(title=f"Z3: do the rules of each state cover every event? ({proofs.cases} state x event cases)")
    for column in ("state", "event", "result"):
        gaps.add_column(column)
    for gap in proofs.gaps:
        gaps.add_row(gap.state, gap.event, Text(f"✘ gap, e.g. {gap.example}", style="bold red"))
    if not proofs.gaps:
        gaps.add_row("every waiting state", "every event", Text("✔ no gap: proved for all field values", style="green"))
    console.print(gaps)
    overlaps = Table(title="Overlaps the order resolves (both rules can hold; the first wins)")
    for column in ("state", "event", "first", "over", "second can win?"):
        overlaps.add_column(column)
    for o in proofs.overlaps:
        overlaps.add_row(o.state, o.event, o.first, o.second, "never (covered by earlier rules)" if o.hidden else "yes")
    console.print(overlaps)
    bounds = Table(title="Thresholds, proved exactly (Z3, real arithmetic) and checked on the engine")
    for column in ("comparison", "Z3", "engine at -step / at / +step", "agrees"):
        bounds.add_column(column)
    for b in proofs.boundaries:
        bounds.add_row(b.where, _mark(b.proved, "exact", "NOT exact"), b.engine, _mark(b.agrees, "yes", "NO"))
    console.print(bounds)
    console.print("all proved" if proofs.holds else "some proofs failed")
    return EXIT_OK if proofs.holds else EXIT_VIOLATION


def _asdict(item: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(item)


# ---------------------------------------------------------------- Storm


def agreement(figures: list[Any], moved: dict[str, float]) -> bool:
    """Storm and the Monte Carlo agree when each difference is within the sampling error plus the
    discretisation error. One figure in twenty falls outside its 95 % interval by chance, so the
    verdict over all figures uses Bonferroni's bound (the 95 % intervals are still what is shown)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - 0.05 / (2 * max(1, len(figures))))
    return all(abs(f.exact - f.mean) <= (f.high - f.low) / 2 * z / 1.959964 + moved[f.name] for f in figures)


def storm_cross_check(
    pathway: Pathway, params_path: Path | None, policy: str, step: float, patients: int, seed: int, as_json: bool
) -> int:
    from pathway.export.encoding import ExportError
    from pathway.export.prism import CohortChain
    from pathway.export.storm import StormUnavailable, compare, figures_json, monte_carlo, storm_values
    from pathway.simulate import params as params_io

    try:
        params = params_io.load(params_path, pathway)
    except params_io.ParamsError as err:
        fail(str(err))
    if policy not in params.policies:
        fail(f"--policy {policy!r}: not in the parameter file ({', '.join(params.policies)})")
    try:
        exact = storm_values(CohortChain(pathway, params, policy, step))
        coarse = storm_values(CohortChain(pathway, params, policy, 2 * step))
    except StormUnavailable as err:
        fail(f"--cross-check storm: {err}")
    except ExportError as err:
        fail(f"--cross-check storm: cannot export this cohort: {err}")
    sample = monte_carlo(pathway, params, policy, patients, seed)
    figures = compare(exact, sample, params.outcomes["resolution"])
    moved = {k: abs(exact.values[k] - coarse.values[k]) for k in exact.values}
    agree = agreement(figures, moved)
    if as_json:
        data = figures_json(figures, exact, sample, step)
        data["discretisation_error_estimate"] = {k: moved[k] for k in sorted(moved)}
        data["agree"] = agree
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK if agree else EXIT_VIOLATION
    console = Console()
    table = Table(
        title=f"Storm (DTMC, {step:g} h steps) vs Monte Carlo ({sample.patients:,} in-scope patients)", expand=True
    )
    for column in ("quantity", "Storm", "Monte Carlo", "95 % interval", "inside", f"Storm at {2 * step:g} h"):
        table.add_column(column, justify="left" if column == "quantity" else "right")
    for f in figures:
        digits = 2 if f.name.startswith("E(hours") else 5
        table.add_row(
            f.name,
            f"{f.exact:.{digits}f}",
            f"{f.mean:.{digits}f}",
            f"{f.low:.{digits}f} – {f.high:.{digits}f}",
            _mark(f.inside, "yes", "no"),
            f"{coarse.values[f.name]:.{digits}f}",
        )
    console.print(table)
    console.print(
        f"chain: {exact.states:,} states, {exact.transitions:,} transitions; export {exact.seconds_export:.1f} s, "
        f"Storm build {exact.seconds_build:.1f} s, check {exact.seconds_check:.1f} s; "
        f"Monte Carlo {sample.seconds:.1f} s. Agreement: every difference within the Monte Carlo's error "
        f"(Bonferroni over the {len(figures)} figures) plus the change from {2 * step:g} h steps "
        "(the observed discretisation error)"
        if agree
        else "some figures differ by more than the Monte Carlo's error and the discretisation error"
    )
    return EXIT_OK if agree else EXIT_VIOLATION
