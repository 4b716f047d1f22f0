"""`pathway economics ...` and `pathway simulate --psa K`: costs, effects, PSA and sensitivity.

Every command builds one EconomicSpec (the data files as text, the seed, the cohort size
and the policies) and hands it to the evaluation, locally or on a Dask cluster; bad files
and options are one-line errors with exit status 2.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pathway.cli_common import definition_option, fail
from pathway.model import Pathway

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_POLICIES = "guideline,reflexive_imaging,dismiss_red_flags"
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


def _errors() -> tuple[type[Exception], ...]:
    from pathway.economics.costs import CostError
    from pathway.economics.paths import PathError
    from pathway.economics.uncertainty import UncertaintyError
    from pathway.simulate.params import ParamsError

    return (CostError, PathError, UncertaintyError, ParamsError)


def spec_options(fn: F) -> F:
    """The options every economic command shares (cohort, data files, where it runs)."""
    options = [
        click.option(
            "--patients",
            "-n",
            type=click.IntRange(1, 10_000_000),
            default=10_000,
            show_default=True,
            help="Patients per evaluated parameter set (the same patients in every set).",
        ),
        click.option(
            "--seed",
            type=click.IntRange(min=0),
            default=1,
            show_default=True,
            help="Seed of the patients and of the parameter draws.",
        ),
        click.option(
            "--compare",
            "policies",
            metavar="P1,P2,...",
            default=DEFAULT_POLICIES,
            show_default=True,
            help="Policies to compare; the cost table names the reference among them.",
        ),
        click.option(
            "--params",
            "params_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Simulation parameter file. Default: the shipped params.toml.",
        ),
        click.option(
            "--costs",
            "costs_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Cost table. Default: the shipped costs.toml.",
        ),
        click.option(
            "--uncertainty",
            "uncertainty_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Distributions of the parameter file's numbers. Default: the shipped one.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            default=None,
            help="Local worker processes (default: one per CPU). Results do not depend on it.",
        ),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            default=None,
            help="Run on the Dask cluster at ADDRESS (tcp://HOST:PORT) instead of local processes.",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("out/economics"),
            show_default=True,
            help="Output directory.",
        ),
        click.option("--plots/--no-plots", default=True, show_default=True, help="Draw the PNG plots."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar or tables."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return definition_option(fn)


def make_spec(pathway: Pathway, options: dict[str, Any]) -> Any:
    from pathway.economics import costs as costs_io
    from pathway.economics import model_inputs
    from pathway.simulate import params as params_io

    policies = tuple(p.strip() for p in options["policies"].split(",") if p.strip())
    if not policies or len(set(policies)) != len(policies):
        fail("--compare: give distinct policy names separated by commas")
    if not pathway.source_text:
        fail("the definition was not loaded from a file")
    try:
        params_text, params_file = params_io.read_text(options["params_path"])
        costs_text, costs_file = costs_io.read_text(options["costs_path"])
        unc_text, unc_file = model_inputs.read_uncertainty(options["uncertainty_path"])
        spec = model_inputs.EconomicSpec(
            pathway.source_text,
            Path(pathway.source_path or "pdph.toml").name,
            params_text,
            params_file,
            costs_text,
            costs_file,
            unc_text,
            unc_file,
            options["seed"],
            options["patients"],
            policies,
        )
        ctx = model_inputs.context(spec)
        table = ctx.model().table
    except _errors() as err:
        fail(str(err))
    if table.reference_policy not in policies:
        fail(f"--compare must include the reference policy {table.reference_policy!r} (costs.toml analysis)")
    ordered = (table.reference_policy, *(p for p in policies if p != table.reference_policy))
    if ordered != policies:
        spec = model_inputs.EconomicSpec(**{**_fields(spec), "policies": ordered})
    return spec


def _fields(spec: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(spec)


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        fail(f"{out}: {err.strerror or err}")


def _workers(options: dict[str, Any]) -> int:
    return options["workers"] or os.cpu_count() or 1


def _progress(console: Console, label: str, total: int) -> tuple[Progress, Callable[[int], None]]:
    progress = Progress(
        TextColumn(f"[bold]{label}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        auto_refresh=False,
    )
    task = progress.add_task(label, total=total)

    def advance(n: int) -> None:
        progress.update(task, advance=n)
        progress.refresh()

    return progress, advance


def _run_guarded(fn: Callable[[], Any], scheduler: str | None) -> Any:
    """Run, turning data and cluster failures into one-line errors."""
    try:
        return fn()
    except _errors() as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.strerror or err}")
    except Exception as err:
        from pathway.simulate.dask_backend import DaskUnavailable

        if isinstance(err, DaskUnavailable) or scheduler:
            fail(f"dask: {err}" if str(err) else f"dask: {type(err).__name__}")
        raise


def _check_scheduler(scheduler: str | None) -> None:
    import re

    if scheduler and not re.fullmatch(r"(tcp|tls)://([^:/\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})", scheduler):
        fail(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786")


def _run_info(out: Path, name: str, started: float, options: dict[str, Any], extra: dict[str, Any]) -> None:
    """Timings and where it ran (kept apart from the result files, which must not change between runs)."""
    info = {
        "seconds": round(time.perf_counter() - started, 3),
        "workers": None if options["scheduler"] else _workers(options),
        "scheduler": options["scheduler"],
        **extra,
    }
    (out / name).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- commands


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
@spec_options
def evaluate(assignments: tuple[str, ...], pathway: Pathway, **options: Any) -> None:
    """Costs and effects per patient and per 1,000 for every policy, with 95 % intervals (one parameter set)."""
    from pathway.economics import evaluate as ev
    from pathway.economics import model_inputs, outputs

    _check_scheduler(options["scheduler"])
    spec = make_spec(pathway, options)
    ctx = model_inputs.context(spec)
    values = _assignments(assignments)
    _prepare_out(options["out"])
    started = time.perf_counter()
    totals = _run_guarded(lambda: ctx.totals(values), options["scheduler"])
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
    _run_info(options["out"], "economics_run.json", started, options, {"patients": spec.patients})
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


def _table(report: dict[str, Any], currency: str) -> Table:
    per = report["per"]
    table = Table(title=f"per patient, 95 % interval (same {report['patients']:,} patients under each policy)")
    table.add_column("")
    for policy in report["policies"]:
        table.add_column(policy, justify="right")
    for name, label in HEADLINE:
        cells = []
        for figures in report["policies"].values():
            f = figures["per_patient"][name]
            cells.append("-" if f["mean"] is None else f"{f['mean']:,.3g} ({f['low']:,.3g}-{f['high']:,.3g})")
        table.add_row(f"{label}{' (' + currency + ')' if name == 'cost' else ''}", *cells)
    cells = []
    for figures in report["policies"].values():
        inc = figures["incremental_vs_reference"]
        cells.append("reference" if not inc else f"{inc['cost']['mean']:+,.2f}")
    table.add_row(f"incremental cost vs {report['reference_policy']}", *cells)
    table.caption = f"per {per:,} patients: multiply by {per:,} (economics.json has both)"
    return table


@economics.command()
@spec_options
def tornado(pathway: Pathway, **options: Any) -> None:
    """One-way sensitivity: every factor at its 2.5th and 97.5th percentile, the others at their values."""
    from pathway.economics import model_inputs, outputs, plots, sensitivity

    _check_scheduler(options["scheduler"])
    spec = make_spec(pathway, options)
    ctx = model_inputs.context(spec)
    _prepare_out(options["out"])
    console = Console(stderr=True, quiet=options["quiet"])
    sets, _ = sensitivity.tornado_sets(ctx)
    simulated = len({tuple(sorted(v["params"].items())) for v in sets})
    started = time.perf_counter()
    progress, advance = _progress(console, "tornado", simulated)
    with progress:
        rows = _run_guarded(
            lambda: sensitivity.tornado(ctx, _workers(options), options["scheduler"], advance), options["scheduler"]
        )
    out = options["out"]
    (out / "tornado.json").write_text(outputs.dumps(rows), encoding="utf-8")
    (out / "tornado.csv").write_text(outputs.rows_csv(rows), encoding="utf-8")
    reference = spec.policies[0]
    if options["plots"]:
        panels = [("cost", reference, f"cost per patient, {reference}")]
        panels += [("incremental_cost", p, f"incremental cost, {p} vs {reference}") for p in spec.policies[1:]]
        plots.tornado(rows, panels, out / "tornado.png")
    _run_info(out, "tornado_run.json", started, options, {"patients": spec.patients, "simulated_sets": simulated})
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
@spec_options
def sobol(base_samples: int, pathway: Pathway, **options: Any) -> None:
    """Global sensitivity: first-order and total Sobol indices of cost, headache-days and hours to escalation."""
    from pathway.economics import model_inputs, outputs, plots, sensitivity

    if base_samples & (base_samples - 1):
        fail(f"--base-samples {base_samples}: must be a power of 2 (Sobol sequences)")
    _check_scheduler(options["scheduler"])
    spec = make_spec(pathway, options)
    ctx = model_inputs.context(spec)
    _prepare_out(options["out"])
    console = Console(stderr=True, quiet=options["quiet"])
    sim_factors = sum(1 for f in ctx.factors if f.file == "params")
    started = time.perf_counter()
    progress, advance = _progress(console, "sobol", base_samples * (sim_factors + 2))
    with progress:
        rows, evaluated = _run_guarded(
            lambda: sensitivity.sobol(ctx, base_samples, _workers(options), options["scheduler"], advance),
            options["scheduler"],
        )
    out = options["out"]
    (out / "sobol.json").write_text(outputs.dumps(rows), encoding="utf-8")
    (out / "sobol.csv").write_text(outputs.rows_csv(rows), encoding="utf-8")
    if options["plots"]:
        plots.sobol(rows, spec.policies[0], sensitivity.OUTCOMES, out / "sobol.png")
    _run_info(
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

    _check_scheduler(options["scheduler"])
    spec = make_spec(pathway, options)
    ctx = model_inputs.context(spec)
    _prepare_out(options["out"])
    console = Console(stderr=True, quiet=options["quiet"])
    started = time.perf_counter()
    progress, advance = _progress(
        console, f"PSA ({spec.patients:,} patients x {len(spec.policies)} policies a draw)", draws
    )

    def collect() -> list[list[Any]]:
        rows: list[list[Any]] = []
        for draw_rows in runner.ordered(
            psa.psa_draw, spec, list(range(draws)), _workers(options), options["scheduler"]
        ):
            rows.extend(draw_rows)
            advance(1)
        return rows

    with progress:
        rows = _run_guarded(collect, options["scheduler"])
    elapsed = time.perf_counter() - started
    written = outputs.write_psa(options["out"], spec, ctx, rows, draws, options["plots"])
    _run_info(
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
