"""What the economics commands share: the options, the spec they build, progress, one-line failures."""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pathway.cli_common import definition_option, fail
from pathway.model import Pathway

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_POLICIES = "guideline,reflexive_imaging,dismiss_red_flags"


def errors() -> tuple[type[Exception], ...]:
    from pathway.economics.costs import CostError
    from pathway.economics.paths import PathError
    from pathway.economics.uncertainty import UncertaintyError
    from pathway.simulate.clinician import UnendingReturns
    from pathway.simulate.params import ParamsError

    return (CostError, PathError, UncertaintyError, ParamsError, UnendingReturns)


def spec_options(patients: int = 10_000) -> Callable[[F], F]:
    """The options every economic command shares (cohort, data files, where it runs)."""
    return functools.partial(_with_options, patients=patients)  # type: ignore[return-value]


def _with_options(fn: F, patients: int) -> F:
    options = [
        click.option(
            "--patients",
            "-n",
            type=click.IntRange(1, 10_000_000),
            default=patients,
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
            "--engine",
            type=click.Choice(("vectorised", "reference")),
            default="vectorised",
            show_default=True,
            help="vectorised: each chunk of patients as arrays; reference: patient by patient (the engine the "
            "vectorised one is tested against). The results do not depend on it.",
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
    from pathway.economics import model_inputs

    policies = tuple(p.strip() for p in options["policies"].split(",") if p.strip())
    if not policies or len(set(policies)) != len(policies):
        fail("--compare: give distinct policy names separated by commas")
    if not pathway.source_text:
        fail("the definition was not loaded from a file")
    try:
        spec = model_inputs.EconomicSpec.from_files(
            pathway, options["seed"], options["patients"], policies, options["params_path"], options["costs_path"]
        )
        ctx = model_inputs.context(spec)
        table = ctx.model().table
    except errors() as err:
        fail(str(err))
    if table.reference_policy not in policies:
        fail(f"--compare must include the reference policy {table.reference_policy!r} (costs.toml analysis)")
    ordered = (table.reference_policy, *(p for p in policies if p != table.reference_policy))
    if ordered != policies:
        spec = attrs.evolve(spec, policies=ordered)
    engine = options.get("engine", spec.engine)
    return spec if engine == spec.engine else attrs.evolve(spec, engine=engine)


def prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        fail(f"{out}: {err.strerror or err}")


def workers_of(options: dict[str, Any]) -> int:
    return options["workers"] or os.cpu_count() or 1


def progress_bar(console: Console, label: str, total: int) -> tuple[Progress, Callable[[int], None]]:
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


def run_guarded(fn: Callable[[], Any], scheduler: str | None) -> Any:
    """Run, turning data and cluster failures into one-line errors."""
    try:
        return fn()
    except errors() as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.strerror or err}")
    except Exception as err:
        from pathway.simulate.dask_backend import DaskUnavailable

        if isinstance(err, DaskUnavailable) or scheduler:
            fail(f"dask: {err}" if str(err) else f"dask: {type(err).__name__}")
        raise


def check_scheduler(scheduler: str | None) -> None:
    if scheduler and not re.fullmatch(r"(tcp|tls)://([^:/\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})", scheduler):
        fail(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786")


def run_info(out: Path, name: str, started: float, options: dict[str, Any], extra: dict[str, Any]) -> None:
    """Timings and where it ran (kept apart from the result files, which must not change between runs)."""
    info = {
        "seconds": round(time.perf_counter() - started, 3),
        "workers": None if options["scheduler"] else workers_of(options),
        "scheduler": options["scheduler"],
        "engine": options.get("engine", "vectorised"),
        **extra,
    }
    (out / name).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
