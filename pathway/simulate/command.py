"""`pathway simulate`: simulated patient timelines at population scale."""

from __future__ import annotations

import os
import platform
import re
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pathway.cli_common import EXIT_OK, EXIT_VIOLATION, OutputDirectory, definition_option, fail
from pathway.model import Pathway
from pathway.outdir import OutputDir, OutputError

if TYPE_CHECKING:  # the simulator pulls in numpy and pyarrow: imported when the command runs, not at CLI start
    from pathway.simulate.cohort import ChunkResult, CohortSpec
    from pathway.simulate.params import SimParams

GZIP_ABOVE = 100_000
"""Cohorts larger than this write events.jsonl.gz unless told otherwise."""
STREAM_FORMATS = frozenset({"jsonl", "fhir"})
ENGINES = ("vectorised", "reference", "dask")
CHUNK = {"vectorised": 20_000, "reference": 5000}
MAX_PATIENTS = 1_000_000_000  # the random streams and counters are sized for this


def _policies(policy: str, compare: str | None, params: SimParams) -> tuple[str, ...]:
    names = tuple(p.strip() for p in compare.split(",") if p.strip()) if compare else (policy,)
    if not names:
        fail("--compare: give policy names separated by commas")
    for name in names:
        if name not in params.policies:
            fail(f"unknown policy {name!r} (known: {', '.join(params.policies)})")
    if len(set(names)) != len(names):
        fail("--compare: a policy is named twice")
    return names


def _check_scheduler(engine: str, scheduler: str | None) -> None:
    if engine == "dask" and not scheduler:
        fail("--engine dask needs --scheduler ADDRESS")
    if scheduler and engine != "dask":
        fail("--scheduler is only used with --engine dask")
    if scheduler:
        address = re.fullmatch(r"(tcp|tls)://([^:/\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})", scheduler)
        if address is None or not 0 < int(address.group(3)) < 65536:
            fail(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT (or tls://), e.g. tcp://127.0.0.1:8786")


def _results(
    spec: CohortSpec, patients: int, workers: int, chunk_size: int, engine: str, scheduler: str | None
) -> Iterator[ChunkResult]:
    if engine == "dask":
        from pathway.simulate.dask_backend import dask_results

        assert scheduler is not None
        return dask_results(spec, patients, chunk_size, scheduler)
    from pathway.simulate.cohort import local_results

    return local_results(spec, patients, workers, chunk_size)


@click.command()
@click.option(
    "--patients",
    "-n",
    type=click.IntRange(min=1, max=MAX_PATIENTS),
    default=1000,
    show_default=True,
    help="Cohort size.",
)
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Random seed of the cohort.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Local worker processes (default: one per CPU). Results do not depend on it.",
)
@click.option(
    "--out",
    type=OutputDirectory(),
    default=Path("out/simulate"),
    show_default=True,
    help="Directory for the run's files. Files of an earlier simulate run there are replaced, never mixed in.",
)
@click.option(
    "--policy",
    default="guideline",
    show_default=True,
    help="Policy of the simulated clinicians, from the parameter file "
    "(shipped: guideline, reflexive_imaging, dismiss_red_flags).",
)
@click.option("--compare", metavar="P1,P2,...", default=None, help="Run the same patients under several policies.")
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Simulation parameter file (TOML). Default: the shipped params.toml.",
)
@click.option(
    "--set",
    "assignments",
    metavar="PATH=VALUE",
    multiple=True,
    help="Change one parameter for a what-if, e.g. --set complications.meningitis.rate=0.001 "
    "or --set onset.after_puncture.median=24 (repeatable; validated like the file).",
)
@click.option(
    "--validate",
    is_flag=True,
    help="Compare the cohort with published outcomes: validation.json and a table.",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="vectorised",
    show_default=True,
    help="vectorised: each chunk of patients as arrays, in local worker processes; reference: patient by "
    "patient (the engine the vectorised one is tested against, byte for byte); dask: the vectorised "
    "chunks on a Dask distributed cluster (needs --scheduler). The files do not depend on it.",
)
@click.option("--scheduler", metavar="ADDRESS", default=None, help="Dask scheduler, e.g. tcp://127.0.0.1:8786.")
@click.option("--events/--no-events", default=True, show_default=True, help="Write the simulated event streams.")
@click.option(
    "--format",
    "formats",
    default="jsonl",
    show_default=True,
    metavar="jsonl,fhir",
    help="How to write the event streams: jsonl (events.jsonl, the input of `pathway run`, and the events table) "
    "and/or fhir (fhir/Bundle.ndjson: one FHIR patient Bundle per course, with a Bulk Data manifest.json).",
)
@click.option(
    "--gzip/--no-gzip",
    "gzip_events",
    default=None,
    help=f"Compress events.jsonl (default: only above {GZIP_ABOVE:,} patients).",
)
@click.option(
    "--tables/--no-tables",
    default=True,
    show_default=True,
    help="Write the patients, imaging_orders (and with --events, events) tables as Parquet and CSV.",
)
@click.option("--plots/--no-plots", default=True, show_default=True, help="Draw the PNG plots.")
@click.option("--summary-only", is_flag=True, help="Same as --no-events --no-tables.")
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help=f"Patients per task (default: {CHUNK['vectorised']:,} for the vectorised engine, whose arrays pay off "
    f"over more patients, {CHUNK['reference']:,} for the reference). Results do not depend on it.",
)
@click.option(
    "--check-engines",
    is_flag=True,
    help="Also run every course through the python-statemachine engine and compare traces (slow).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or tables.")
@click.option(
    "--psa",
    "psa_draws",
    type=click.IntRange(1, 100_000),
    default=None,
    metavar="K",
    help="Probabilistic sensitivity analysis: K seeded parameter draws of N patients each, every compared "
    "policy on the same patients (default --compare: all three shipped policies). See docs/economics.md.",
)
@click.option(
    "--costs",
    "costs_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --psa: the cost table (default: the shipped costs.toml).",
)
@definition_option
def simulate(
    patients: int,
    seed: int,
    workers: int | None,
    out: Path,
    policy: str,
    compare: str | None,
    params_path: Path | None,
    assignments: tuple[str, ...],
    validate: bool,
    engine: str,
    scheduler: str | None,
    events: bool,
    formats: str,
    gzip_events: bool | None,
    tables: bool,
    plots: bool,
    summary_only: bool,
    chunk_size: int | None,
    check_engines: bool,
    quiet: bool,
    psa_draws: int | None,
    costs_path: Path | None,
    pathway: Pathway,
) -> None:
    """Simulate N patients presenting with a headache after a dural puncture.

    A stochastic generator draws each patient's natural history from the parameter
    file (every number cited), a simulated clinician sends the events of the contract
    (section 3) under the chosen policy, and the pathway decides every state. Every
    figure comes with a 95 % interval and its n; --compare runs the same patients
    under several policies and adds their paired differences. Runs are reproducible:
    the same seed gives the same files whatever the workers, chunk size or engine.
    events.jsonl replays through `pathway run` to the same outcomes. See
    docs/simulation.md and docs/data-dictionary.md.

    \b
    Exit status:
      0  done
      1  a runtime monitor found a safety violation (or, with --check-engines, the engines disagreed)
      2  bad parameters, options or definition (one-line error)
    """
    if psa_draws is not None:
        from pathway.economics.command import DEFAULT_POLICIES, run_psa

        if engine == "dask" and not scheduler:
            fail("--engine dask needs --scheduler ADDRESS")
        if assignments:
            fail("--set does not combine with --psa (the draws set the numbers): edit a copy of the parameter file")
        run_psa(
            pathway,
            psa_draws,
            {
                "patients": patients,
                "seed": seed,
                "policies": compare or DEFAULT_POLICIES,
                "params_path": params_path,
                "costs_path": costs_path,
                "workers": workers,
                "scheduler": scheduler if engine == "dask" else None,
                "engine": "reference" if engine == "reference" else "vectorised",
                "out": out,
                "plots": plots,
                "quiet": quiet,
            },
        )
        sys.exit(EXIT_OK)
    if costs_path is not None:
        fail("--costs is used with --psa only")
    from pathway.simulate import cohort, summary
    from pathway.simulate import params as params_io
    from pathway.simulate.fhir_records import bulk_writers
    from pathway.simulate.output import CohortFiles
    from pathway.simulate.schema import IMAGING_ORDERS, PATIENTS, events_table

    try:
        params_text, params_name = params_io.read_text(params_path)
        params = params_io.loads(params_text, params_name, assignments)
        params_io.check_against(params, pathway)
    except params_io.ParamsError as err:
        fail(str(err))
    policies = _policies(policy, compare, params)
    _check_scheduler(engine, scheduler)
    targets = _targets(params, pathway) if validate else ()
    chosen = {f.strip().lower() for f in formats.split(",") if f.strip()}
    if not chosen or chosen - STREAM_FORMATS:
        fail(f"--format {formats!r}: choose jsonl, fhir or both (jsonl,fhir)")
    if summary_only:
        events = tables = False
    fhir = events and "fhir" in chosen
    events = events and "jsonl" in chosen
    compress = gzip_events if gzip_events is not None else patients > GZIP_ABOVE
    workers = workers or os.cpu_count() or 1
    chunk_size = chunk_size or CHUNK["reference" if engine == "reference" else "vectorised"]
    spec = cohort.make_spec(
        pathway,
        params_text,
        params_name,
        seed,
        policies,
        overrides=assignments,
        events=events,
        tables=tables,
        compress=compress,
        check_engines=check_engines,
        fhir=fhir,
        engine="reference" if engine == "reference" else "vectorised",
    )
    console = Console(stderr=True, quiet=quiet)
    started = time.perf_counter()
    schemas = {}
    if tables:
        schemas = {"patients": PATIENTS.schema(), "imaging_orders": IMAGING_ORDERS.schema()}
        if events:
            schemas["events"] = events_table(pathway).schema()
    progress = Progress(
        TextColumn("[bold]simulating[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        auto_refresh=False,  # no refresh thread: worker processes are forked while this runs
        transient=quiet,
    )
    task = progress.add_task(", ".join(policies), total=patients)
    try:
        # one run owns the directory: locked, written atomically, run.json last (pathway.outdir)
        with OutputDir(out, "simulate") as output:
            files = CohortFiles(output, policies, events, compress, schemas)
            if fhir:  # the Bulk Data folders: real directories of this run, never links elsewhere
                for policy in policies:
                    output.subdir("fhir" if policy == policies[0] else f"fhir.{policy}")
            bulk = bulk_writers(out, policies, f"--patients {patients} --seed {seed}", fhir)

            def sink(result: ChunkResult) -> None:
                files.write(result)
                for name, bundles in result.fhir.items():
                    bulk[name].write_lines(bundles)
                progress.update(task, advance=result.stop - result.start)
                progress.refresh()

            results = _results(spec, patients, workers, chunk_size, engine, scheduler)
            try:
                with progress:
                    totals = cohort.run(spec, patients, results, sink)
                files.close()
                for writer in bulk.values():
                    for path in writer.close():
                        output.adopt(str(path.relative_to(out)))  # listed in run.json with the rest
            except BaseException:
                files.abort()
                for writer in bulk.values():
                    writer.close(keep=False)
                raise
            finally:
                # the pool ends now, not when the traceback is freed: an interrupted run stops its workers at once
                getattr(results, "close", lambda: None)()
            elapsed = time.perf_counter() - started

            ctx = cohort.context(spec)
            result = summary.build(totals, policies, ctx.compiled, ctx.params, seed, engine_check=check_engines)
            output.write_text("summary.json", summary.dumps(result))
            report = None
            if validate:
                from pathway.simulate import validation

                report = validation.report(targets, totals.aggregates, ctx.params)
                output.write_text("validation.json", summary.dumps({"patients": patients, "seed": seed, **report}))
            if plots:
                from pathway.render.plots import cohort_plots

                cohort_plots(result, pathway, params.outcomes["resolution"], output)
            run = {"patients": patients, "seed": seed, "policies": list(policies), "engine": engine}
            output.info = _run_info(
                {**run, "scheduler": scheduler}, workers, chunk_size, elapsed, pathway, params_path, params_name,
                assignments,
            )  # fmt: skip
    except BaseException as err:
        _fail_run(err, out, engine)
        raise
    if not quiet:
        _print(result, report, output, patients, elapsed, engine, workers, scheduler, out)
    _exit(result, totals, policies)


def _targets(params: SimParams, pathway: Pathway) -> Any:
    from pathway.compiled import compile_pathway
    from pathway.simulate.cohort_facts import FactContext
    from pathway.simulate.params import ParamsError
    from pathway.simulate.validation import load_targets

    compiled = compile_pathway(pathway)
    state = compiled.state_index
    facts = FactContext(
        state[params.outcomes["resolution"]],
        state[params.outcomes["refractory"]],
        tuple(c.id for c in params.complications),
    )
    try:
        return load_targets(facts)
    except ParamsError as err:
        fail(str(err))


def _fail_run(err: BaseException, out: Path, engine: str) -> None:
    """One line for the failures a user can act on; anything else propagates."""
    if isinstance(err, OutputError):  # a busy or unusable directory, a link where a file goes
        fail(str(err))
    if isinstance(err, OSError):  # e.g. the disk filled up while writing
        fail(f"{out}: {err.strerror or err}")
    from pathway.simulate.clinician import UnendingReturns

    if isinstance(err, UnendingReturns):  # the definition's fault, found while simulating
        fail(str(err))
    if isinstance(err, OverflowError | ValueError):  # parameters that put simulated times out of range
        fail(f"the parameters give values out of range ({err}); check the time distributions in the parameter file")
    if isinstance(err, Exception):  # a worker or cluster failure: one line, not a traceback
        from pathway.simulate.dask_backend import DaskUnavailable

        if isinstance(err, DaskUnavailable) or engine == "dask":
            fail(f"dask: {err}" if str(err) else f"dask: {type(err).__name__}")


def _run_info(
    run: dict[str, Any],
    workers: int,
    chunk_size: int,
    elapsed: float,
    pathway: Pathway,
    params_path: Path | None,
    params_name: str,
    assignments: tuple[str, ...],
) -> dict[str, Any]:
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    return {
        **run,
        "workers": workers if run["engine"] != "dask" else None,
        "chunk_size": chunk_size,
        "seconds": round(elapsed, 3),
        "patients_per_second": round(run["patients"] / elapsed, 1) if elapsed else None,
        "peak_rss_mb_largest_process": round(peak_kb / 1024, 1),
        "definition": pathway.source_path or "<text>",
        "params": str(params_path) if params_path else params_name,
        "set": list(assignments),
        "python": platform.python_version(),
    }


def _print(
    result: dict[str, Any],
    report: dict[str, Any] | None,
    output: Any,
    patients: int,
    elapsed: float,
    engine: str,
    workers: int,
    scheduler: str | None,
    out: Path,
) -> None:
    from pathway.simulate import console as tables

    screen = Console()
    screen.print(tables.final_states_table(result))
    screen.print(tables.figures_table(result))
    if result["differences"]["policies"]:
        screen.print(tables.differences_table(result))
    if report is not None:
        screen.print(tables.validation_table(report))
        for line in tables.validation_lines(report):
            screen.print(line, markup=False, highlight=False)
    where = f"{workers} local workers, {engine} engine" if engine != "dask" else f"dask at {scheduler}"
    names = ", ".join(p.name for p in output.written)
    screen.print(
        f"{patients:,} patients in {elapsed:.1f} s ({patients / elapsed:,.0f}/s, {where}); files in {out}/: {names}",
        markup=False,
        highlight=False,
    )


def _exit(result: dict[str, Any], totals: Any, policies: tuple[str, ...]) -> None:
    problems = result["monitor_violations"]
    mismatches = result.get("engine_check", {}).get("mismatches", 0)
    if problems or mismatches:
        for policy_name in policies:
            for example in totals[policy_name].monitor_examples:
                click.echo(f"monitor: {policy_name}: {example}", err=True)
        if mismatches:
            click.echo(f"engine check: {mismatches} courses differ between the engines", err=True)
        sys.exit(EXIT_VIOLATION)
    sys.exit(EXIT_OK)
