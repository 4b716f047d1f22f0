"""`pathway simulate`: simulated patient timelines at population scale."""

from __future__ import annotations

import json
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
from rich.table import Table

from pathway.cli_common import EXIT_OK, EXIT_VIOLATION, definition_option, fail
from pathway.model import Pathway

if TYPE_CHECKING:  # the simulator pulls in numpy: imported when the command runs, not at CLI start
    from pathway.export.fhir_files import BulkWriter
    from pathway.simulate.cohort import ChunkResult, CohortSpec
    from pathway.simulate.params import SimParams

GZIP_ABOVE = 100_000
"""Cohorts larger than this write events.jsonl.gz unless told otherwise."""

COMPARE_COLUMNS = (
    ("imaging_studies", "imaging studies"),
    ("usually_not_appropriate_studies", "of them usually not appropriate"),
    ("radiation_msv", "radiation (mSv)"),
    ("contrast_exposures", "contrast exposures"),
    ("blood_patches", "blood patches"),
    ("escalations", "escalations"),
    ("complications", "complications"),
    ("complications_not_escalated", "complications not escalated"),
)


MAX_PATIENTS = 1_000_000_000  # the random streams and counters are sized for this
STREAM_FORMATS = frozenset({"jsonl", "fhir"})


def fhir_writers(out: Path, policies: tuple[str, ...], patients: int, seed: int) -> dict[str, BulkWriter]:
    """A Bulk Data directory per policy: fhir/ for the first, fhir.<policy>/ for the others."""
    from pathway.export.fhir_files import BulkWriter

    writers = {}
    for policy in policies:
        directory = out / ("fhir" if policy == policies[0] else f"fhir.{policy}")
        request = f"pathway simulate --patients {patients} --seed {seed} --policy {policy} --format fhir"
        writers[policy] = BulkWriter(directory, request)
    return writers


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


def _results(
    spec: CohortSpec, patients: int, workers: int, chunk_size: int, engine: str, scheduler: str | None
) -> Iterator[ChunkResult]:
    if engine == "dask":
        from pathway.simulate.dask_backend import dask_results

        assert scheduler is not None
        return dask_results(spec, patients, chunk_size, scheduler)
    from pathway.simulate.cohort import local_results

    return local_results(spec, patients, workers, chunk_size)


def compare_table(result: dict[str, Any]) -> Table:
    """One column per policy, one row per measure (fits a narrow terminal)."""
    per = result["per"]
    table = Table(title=f"per {per:,} patients (the same simulated patients under each policy)", header_style="bold")
    table.add_column("")
    policies = list(result["by_policy"])
    for name in policies:
        table.add_column(name, justify="right")
    for key, label in COMPARE_COLUMNS:
        table.add_row(label, *(f"{result['by_policy'][name][key]:,.1f}" for name in policies))
    cells = []
    for name in policies:
        timing = result["by_policy"][name]["time_to_escalation_h"]
        cells.append(f"{timing['p50']:.1f} / {timing['p95']:.1f}" if timing.get("n") else "-")
    table.add_row("hours to escalation (median / p95)", *cells)
    return table


def overview(result: dict[str, Any]) -> Table:
    table = Table(title=f"{result['patients']:,} patients, policy {result['policy']}", header_style="bold")
    table.add_column("final state")
    table.add_column("patients", justify="right")
    table.add_column("share", justify="right")
    total = max(result["patients"], 1)
    for state, count in result["final_states"].items():
        table.add_row(state, f"{count:,}", f"{100 * count / total:.1f}%")
    for state, count in result["open_states"].items():
        table.add_row(f"{state} (still open)", f"{count:,}", f"{100 * count / total:.1f}%")
    return table


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
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/simulate"),
    show_default=True,
    help="Directory for summary.json, run.json, outcomes, events and plots.",
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
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Local worker processes, or a Dask distributed cluster (needs --scheduler).",
)
@click.option("--scheduler", metavar="ADDRESS", default=None, help="Dask scheduler, e.g. tcp://127.0.0.1:8786.")
@click.option("--events/--no-events", default=True, show_default=True, help="Write the simulated event streams.")
@click.option(
    "--format",
    "formats",
    default="jsonl",
    show_default=True,
    metavar="jsonl,fhir",
    help="How to write the event streams: jsonl (events.jsonl, the input of `pathway run`) and/or fhir "
    "(fhir/Bundle.ndjson: one FHIR patient Bundle per line, with a Bulk Data manifest.json).",
)
@click.option(
    "--gzip/--no-gzip",
    "gzip_events",
    default=None,
    help=f"Compress events.jsonl (default: only above {GZIP_ABOVE:,} patients).",
)
@click.option("--outcomes/--no-outcomes", default=True, show_default=True, help="Write one CSV row per patient.")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Draw the PNG plots.")
@click.option("--summary-only", is_flag=True, help="Same as --no-events --no-outcomes.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=5000, show_default=True, help="Patients per task.")
@click.option(
    "--check-engines",
    is_flag=True,
    help="Also run every course through the python-statemachine engine and compare traces (slow).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or tables.")
@definition_option
def simulate(
    patients: int,
    seed: int,
    workers: int | None,
    out: Path,
    policy: str,
    compare: str | None,
    params_path: Path | None,
    engine: str,
    scheduler: str | None,
    events: bool,
    formats: str,
    gzip_events: bool | None,
    outcomes: bool,
    plots: bool,
    summary_only: bool,
    chunk_size: int,
    check_engines: bool,
    quiet: bool,
    pathway: Pathway,
) -> None:
    """Simulate N patients presenting with a headache after a dural puncture.

    A stochastic generator draws each patient's natural history from the parameter
    file (every number cited), a simulated clinician sends the events of the contract
    section 3 under the chosen policy, and the pathway decides every state. Runs are
    reproducible: the same seed gives the same summary.json whatever the workers,
    chunk size or engine. events.jsonl replays through `pathway run` to the same outcomes.

    \b
    Exit status:
      0  done
      1  a runtime monitor found a safety violation (or, with --check-engines, the engines disagreed)
      2  bad parameters, options or definition (one-line error)
    """
    from pathway.simulate import cohort, summary
    from pathway.simulate import params as params_io
    from pathway.simulate.output import CohortFiles

    try:
        params_text, params_name = params_io.read_text(params_path)
        params = params_io.loads(params_text, params_name)
        params_io.check_against(params, pathway)
    except params_io.ParamsError as err:
        fail(str(err))
    policies = _policies(policy, compare, params)
    if engine == "dask" and not scheduler:
        fail("--engine dask needs --scheduler ADDRESS")
    if scheduler and engine != "dask":
        fail("--scheduler is only used with --engine dask")
    if scheduler:
        address = re.fullmatch(r"(tcp|tls)://([^:/\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})", scheduler)
        if address is None or not 0 < int(address.group(3)) < 65536:
            fail(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT (or tls://), e.g. tcp://127.0.0.1:8786")
    chosen = {f.strip().lower() for f in formats.split(",") if f.strip()}
    if not chosen or chosen - STREAM_FORMATS:
        fail(f"--format {formats!r}: choose jsonl, fhir or both (jsonl,fhir)")
    if summary_only:
        events = outcomes = False
    fhir = events and "fhir" in chosen
    events = events and "jsonl" in chosen
    compress = gzip_events if gzip_events is not None else patients > GZIP_ABOVE
    workers = workers or os.cpu_count() or 1
    spec = cohort.make_spec(
        pathway,
        params_text,
        params_name,
        seed,
        policies,
        events=events,
        outcomes=outcomes,
        compress=compress,
        check_engines=check_engines,
        fhir=fhir,
    )
    console = Console(stderr=True, quiet=quiet)
    started = time.perf_counter()
    try:
        files = CohortFiles(out, policies, events, outcomes, compress)
        bulk = fhir_writers(out, policies, patients, seed) if fhir else {}
    except OSError as err:
        fail(f"{out}: {err.strerror or err}")
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

    def sink(result: ChunkResult) -> None:
        files.write(result)
        for policy, text in result.fhir.items():
            bulk[policy].write_lines(text, result.stop - result.start)
        progress.update(task, advance=result.stop - result.start)
        progress.refresh()

    done = False
    try:
        with files, progress:
            totals = cohort.run(spec, patients, _results(spec, patients, workers, chunk_size, engine, scheduler), sink)
        done = True
    except OSError as err:  # e.g. the disk filled up while writing
        fail(f"{out}: {err.strerror or err}")
    except (OverflowError, ValueError) as err:  # parameters that put simulated times out of range
        fail(f"the parameters give values out of range ({err}); check the time distributions in the parameter file")
    except Exception as err:  # a worker or cluster failure: one line, not a traceback
        from pathway.simulate.dask_backend import DaskUnavailable

        if isinstance(err, DaskUnavailable) or engine == "dask":
            fail(f"dask: {err}" if str(err) else f"dask: {type(err).__name__}")
        raise
    finally:
        fhir_paths = [path for writer in bulk.values() for path in writer.close(keep=done)]
    elapsed = time.perf_counter() - started

    ctx = cohort.context(spec)
    result = summary.build(totals, policies, ctx.compiled, ctx.params, seed, engine_check=check_engines)
    (out / "summary.json").write_text(summary.dumps(result), encoding="utf-8")
    written = [*files.paths, *fhir_paths, out / "summary.json"]
    if plots:
        from pathway.render.plots import cohort_plots

        written += cohort_plots(result, pathway, params.outcomes["resolution"], out)
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    run_info = {
        "patients": patients,
        "seed": seed,
        "policies": list(policies),
        "engine": engine,
        "scheduler": scheduler,
        "workers": workers if engine == "local" else None,
        "chunk_size": chunk_size,
        "seconds": round(elapsed, 3),
        "patients_per_second": round(patients / elapsed, 1) if elapsed else None,
        "peak_rss_mb_largest_process": round(peak_kb / 1024, 1),
        "definition": pathway.source_path or "<text>",
        "params": str(params_path) if params_path else params_name,
        "python": platform.python_version(),
        "files": [p.name for p in written],
    }
    (out / "run.json").write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")

    if not quiet:
        out_console = Console()
        out_console.print(overview(result))
        if len(policies) > 1:
            out_console.print(compare_table(result))
        where = f"{workers} local workers" if engine == "local" else f"dask at {scheduler}"
        out_console.print(
            f"{patients:,} patients in {elapsed:.1f} s ({patients / elapsed:,.0f}/s, {where}); "
            f"files in {out}/: {', '.join(p.name for p in written)}"
        )
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
