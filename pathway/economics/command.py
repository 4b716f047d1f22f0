"""`pathway economics ...` and `pathway simulate --psa K`: costs, effects, PSA and sensitivity.

Every command builds one EconomicSpec (the data files as text, the seed, the cohort size
and the policies) and hands it to the evaluation, locally or on a Dask cluster; bad files
and options are one-line errors with exit status 2.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from pathway.cli_common import definition_option, fail
from pathway.economics.cli_options import (
    DEFAULT_POLICIES,
    check_scheduler,
    make_spec,
    prepare_out,
    progress_bar,
    run_guarded,
    run_info,
    spec_options,
    workers_of,
)
from pathway.model import Pathway
from pathway.terminal.listing import Column, Listing

HEADLINE = (
    ("cost", "cost per patient"),
    ("headache_days", "headache-days"),
    ("days_to_resolution", "days to resolution (resolved)"),
    ("radiation_msv", "radiation (mSv)"),
    ("contrast_exposures", "contrast exposures"),
    ("imaging_studies", "imaging studies"),
    ("blood_patches", "blood patches"),
    ("escalated", "escalations"),
    ("hours_to_escalation", "hours to escalation"),
    ("escalation_delay_h", "escalation delay (h) per patient"),
)

__all__ = ["DEFAULT_POLICIES", "economics", "run_psa"]


@click.group()
def economics() -> None:
    """Costs and effects of the compared policies, and how sure the comparison is.

    \b
    evaluate  costs and effects per patient and per 1,000, with 95 % intervals
    tornado   one-way sensitivity: each uncertain factor at the ends of its interval
    sobol     global sensitivity: Sobol indices of the headline outcomes (SALib)
    The probabilistic sensitivity analysis runs as `pathway simulate --psa K`.
    See docs/economics.md.
    """


@economics.command()
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="PATH=VALUE",
    help="Set one number: a path of the parameter file, or costs.PATH for the cost table (repeatable).",
)
@spec_options()
def evaluate(assignments: tuple[str, ...], pathway: Pathway, **options: Any) -> None:
    """Costs and effects per patient and per 1,000 for every policy, with 95 % intervals (one parameter set)."""
    from pathway.economics import evaluate as ev
    from pathway.economics import model_inputs, outputs

    check_scheduler(options["scheduler"])
    spec = make_spec(pathway, options)
    ctx = model_inputs.context(spec)
    values = _assignments(assignments)
    prepare_out(options["out"])
    started = time.perf_counter()
    from pathway.economics import runner

    # one parameter set: one task, here or on the cluster
    task = runner.ordered(model_inputs.totals_task, spec, [values], 1, options["scheduler"])
    totals = run_guarded(lambda: next(iter(task)), options["scheduler"])
    table = ctx.model(values).table
    report = ev.report(totals, table, outputs.PER)
    report.update(
        {
            "seed": spec.seed,
            "currency": table.currency,
            "price_year": table.price_year,
            "horizon_days": table.horizon_days,
            "set": list(assignments),
        }
    )
    (options["out"] / "economics.json").write_text(outputs.dumps(report), encoding="utf-8")
    run_info(options["out"], "economics_run.json", started, options, {"patients": spec.patients})
    if not options["quiet"]:
        Console().print(_table(report, table.currency))


def _assignments(assignments: tuple[str, ...]) -> dict[str, dict[str, float]]:
    values: dict[str, dict[str, float]] = {"params": {}, "costs": {}}
    for text in assignments:
        path, sep, raw = text.partition("=")
        try:
            number = float(raw)
        except ValueError:
            fail(f"--set {text!r}: expected PATH=NUMBER")
        if not sep or not path.strip():
            fail(f"--set {text!r}: expected PATH=NUMBER")
        path = path.strip()
        if path.startswith("costs."):
            values["costs"][path.removeprefix("costs.")] = number
        else:
            values["params"][path] = number
    return values


def _num(x: float) -> str:
    """A figure at a precision a reader can take in: 1,254 / 4.56 / 0.0532."""
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) >= 1 else f"{x:.3g}"


def _table(report: dict[str, Any], currency: str) -> Listing:
    """Measures by policy; on a narrow terminal one block per measure."""
    per = report["per"]
    listing = Listing(
        [Column("per patient (95 % interval)", key=True), *(Column(p, justify="right") for p in report["policies"])],
        title=f"the same {report['patients']:,} patients under each policy (per {per:,}: x {per:,})",
    )
    for name, label in HEADLINE:
        cells = []
        for figures in report["policies"].values():
            f = figures["per_patient"][name]
            cells.append("-" if f["mean"] is None else f"{_num(f['mean'])} ({_num(f['low'])} to {_num(f['high'])})")
        listing.add_row(f"{label}{' (' + currency + ')' if name == 'cost' else ''}", *cells)
    cells = []
    for figures in report["policies"].values():
        inc = figures["incremental_vs_reference"]["cost"] if figures["incremental_vs_reference"] else None
        cells.append("reference" if inc is None else f"{inc['mean']:+,.2f} ({_num(inc['low'])} to {_num(inc['high'])})")
    listing.add_row(f"incremental cost vs {report['reference_policy']}", *cells)
    return listing


@economics.command()
@spec_options()
def tornado(pathway: Pathway, **options: Any) -> None:
    """One-way sensitivity: every factor at its 2.5th and 97.5th percentile, the others at their values."""
    from pathway.economics import model_inputs, outputs, plots, sensitivity

    check_scheduler(options["scheduler"])
    spec = make_spec(pathway, options)
    ctx = model_inputs.context(spec)
    prepare_out(options["out"])
    console = Console(stderr=True, quiet=options["quiet"])
    sets, _ = sensitivity.tornado_sets(ctx)
    simulated = len({tuple(sorted(v["params"].items())) for v in sets})
    started = time.perf_counter()
    progress, advance = progress_bar(console, "tornado", simulated)
    with progress:
        rows = run_guarded(
            lambda: sensitivity.tornado(ctx, workers_of(options), options["scheduler"], advance), options["scheduler"]
        )
    out = options["out"]
    (out / "tornado.json").write_text(outputs.dumps(rows), encoding="utf-8")
    (out / "tornado.csv").write_text(outputs.rows_csv(rows), encoding="utf-8")
    reference = spec.policies[0]
    if options["plots"]:
        panels = [("cost", reference, f"cost per patient, {reference}")]
        panels += [("incremental_cost", p, f"incremental cost, {p} vs {reference}") for p in spec.policies[1:]]
        plots.tornado(rows, panels, out / "tornado.png")
    run_info(out, "tornado_run.json", started, options, {"patients": spec.patients, "simulated_sets": simulated})
    if not options["quiet"]:
        Console().print(f"{len(ctx.factors)} factors, {simulated} parameter sets simulated; files in {out}/")


@economics.command()
@click.option(
    "--base-samples",
    type=click.IntRange(2, 4096),
    default=64,
    show_default=True,
    help="Saltelli base samples N (a power of 2); N x (factors + 2) parameter sets are evaluated.",
)
@spec_options(patients=2000)
def sobol(base_samples: int, pathway: Pathway, **options: Any) -> None:
    """Global sensitivity: first-order and total Sobol indices of cost, headache-days and hours to escalation."""
    from pathway.economics import model_inputs, outputs, plots, sensitivity

    if base_samples & (base_samples - 1):
        fail(f"--base-samples {base_samples}: must be a power of 2 (Sobol sequences)")
    check_scheduler(options["scheduler"])
    spec = make_spec(pathway, options)
    ctx = model_inputs.context(spec)
    prepare_out(options["out"])
    console = Console(stderr=True, quiet=options["quiet"])
    sim_factors = sum(1 for f in ctx.factors if f.file == "params")
    started = time.perf_counter()
    progress, advance = progress_bar(console, "sobol", base_samples * (sim_factors + 2))
    with progress:
        rows, evaluated = run_guarded(
            lambda: sensitivity.sobol(ctx, base_samples, workers_of(options), options["scheduler"], advance),
            options["scheduler"],
        )
    out = options["out"]
    (out / "sobol.json").write_text(outputs.dumps(rows), encoding="utf-8")
    (out / "sobol.csv").write_text(outputs.rows_csv(rows), encoding="utf-8")
    if options["plots"]:
        for policy in spec.policies:
            plots.sobol(rows, policy, sensitivity.OUTCOMES, out / f"sobol_{policy}.png")
    run_info(
        out,
        "sobol_run.json",
        started,
        options,
        {"patients": spec.patients, "parameter_sets": evaluated, "base_samples": base_samples},
    )
    if not options["quiet"]:
        Console().print(f"{len(ctx.factors)} factors, {evaluated} parameter sets; files in {out}/")


# ---------------------------------------------------------------- the PSA (run from `pathway simulate --psa K`)


def run_psa(pathway: Pathway, draws: int, options: dict[str, Any]) -> None:
    """K parameter draws of N patients each, every policy on the same patients; tables, CEA and plots in --out."""
    from pathway.economics import model_inputs, outputs, psa, runner

    check_scheduler(options["scheduler"])
    spec = make_spec(pathway, options)
    ctx = model_inputs.context(spec)
    prepare_out(options["out"])
    console = Console(stderr=True, quiet=options["quiet"])
    started = time.perf_counter()
    progress, advance = progress_bar(
        console, f"PSA ({spec.patients:,} patients x {len(spec.policies)} policies a draw)", draws
    )

    def collect() -> list[list[Any]]:
        rows: list[list[Any]] = []
        for draw_rows in runner.ordered(
            psa.psa_draw, spec, list(range(draws)), workers_of(options), options["scheduler"]
        ):
            rows.extend(draw_rows)
            advance(1)
        return rows

    with progress:
        rows = run_guarded(collect, options["scheduler"])
    elapsed = time.perf_counter() - started
    written = outputs.write_psa(options["out"], spec, ctx, rows, draws, options["plots"])
    run_info(
        options["out"],
        "psa_run.json",
        started,
        options,
        {"draws": draws, "patients": spec.patients, "policies": list(spec.policies), "psa_seconds": round(elapsed, 3)},
    )
    if not options["quiet"]:
        Console().print(
            f"PSA: {draws} draws x {spec.patients:,} patients x {len(spec.policies)} policies in {elapsed:.1f} s; "
            f"files in {options['out']}/: {', '.join(p.name for p in written)}"
        )


@economics.command("data-dictionary")
@click.option(
    "--into",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the markdown to this file (default: print it).",
)
@definition_option
def data_dictionary(into: Path | None, pathway: Pathway) -> None:
    """The PSA table's columns, the cost items and the fitted distributions, as markdown (docs/economics-data.md)."""
    from pathway.economics import model_inputs
    from pathway.economics.dictionary import render

    options = {
        "patients": 1,
        "seed": 1,
        "policies": DEFAULT_POLICIES,
        "params_path": None,
        "costs_path": None,
    }
    text = render(model_inputs.context(make_spec(pathway, options)))
    if into is None:
        click.echo(text, nl=False)
        return
    try:
        tmp = into.with_name(into.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(into)
    except OSError as err:
        fail(f"{into}: {err.strerror or err}")
