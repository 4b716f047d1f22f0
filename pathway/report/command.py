"""`pathway report`: the protocol committee's report as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from pathway.cli_common import EXIT_OK, EXIT_VIOLATION, OutputDirectory, definition_option, fail
from pathway.model import Pathway
from pathway.outdir import OutputDir, OutputError
from pathway.safe_text import shown

REPORT_NAME = "report.html"


def write_report(
    pathway: Pathway,
    out: OutputDir,
    simulation: Path | None = None,
    evidence: Path | None = None,
    properties: Path | None = None,
) -> tuple[Path, bool]:
    """Verify the pathway and write report.html into the run's directory; returns the file and whether every
    property holds.

    Raises PropertyError, SimulationError or OSError with a message naming the file at fault.
    """
    from pathway.report.page import report_html
    from pathway.verify.explore import verify
    from pathway.verify.properties import load_catalogue

    verdict = verify(pathway, load_catalogue(properties))
    html = report_html(pathway, verdict, simulation, evidence)
    return out.write_text(REPORT_NAME, html), verdict.holds


@click.command("report")
@click.option(
    "--out",
    type=OutputDirectory(),
    default=Path("out/report"),
    show_default=True,
    help=f"Directory to write {REPORT_NAME} into.",
)
@click.option(
    "--simulation",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A `pathway simulate --out` directory: adds the policy comparison, plots, validation and data "
    "dictionary (each part that is present there).",
)
@click.option(
    "--evidence",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Evidence notes in Markdown, one heading per citation id. Default: the repository's docs/evidence.md.",
)
@click.option(
    "--properties",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Property catalogue (TOML) for the verification part. Default: the shipped one.",
)
@definition_option
def report(
    out: Path, simulation: Path | None, evidence: Path | None, properties: Path | None, pathway: Pathway
) -> None:
    """Write the protocol committee's report: one self-contained HTML page (DIR/report.html).

    \b
    It holds the pathway diagram (select a state or an arrow for its recommendations,
    conditions in words, reasons and sources), the states and transitions as tables, the
    thresholds, the verification (every property, how it was checked, coverage, and any
    counterexample as steps with its path drawn), the simulation when --simulation is given,
    and the sources. Nothing is fetched from the network: styles, script, drawings and plots
    are all inside the file. It prints on A4, the diagram on its own landscape page.

    \b
    Exit status: 0 written and every property holds; 1 written but a property is violated;
    2 unreadable input (definition, properties, evidence, simulation files) or output directory.
    """
    from pathway.report.simulation import SimulationError
    from pathway.verify.properties import PropertyError

    if evidence is not None and not evidence.is_file():
        fail(f"{evidence}: no such evidence file")
    try:
        with OutputDir(out, "report") as outdir:
            written, holds = write_report(pathway, outdir, simulation, evidence, properties)
    except (PropertyError, SimulationError, OutputError) as err:
        fail(str(err))
    except (UnicodeDecodeError, ValueError) as err:
        fail(f"{evidence or 'evidence'}: {err}")
    except OSError as err:
        fail(f"{out}: {err.strerror or err}")
    click.echo(f"wrote {shown(str(written))}")
    raise SystemExit(EXIT_OK if holds else EXIT_VIOLATION)
