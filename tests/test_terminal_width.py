"""Terminal views fit the terminal: below 100 columns `describe`, `run` and `verify` stack each table
row into a block; at every width no line is wider than the terminal and no id, timestamp or word
is split or cut. The words checked come from the model, the traces and the verdict, not the output."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType

from pathway.cli_common import in_line_order, read_event_file
from pathway.engine import run_stream
from pathway.loader import load
from pathway.model import Pathway
from pathway.terminal.course import trace_view
from pathway.terminal.describe import pathway_view
from pathway.terminal.verification import show_verification
from pathway.trace import Trace
from pathway.verify.explore import verify

WIDTHS = (60, 80, 120)
EXAMPLES = Path(__file__).parents[1] / "examples"
BROKEN = Path(__file__).parent / "broken_definitions" / "red_flag_after_routing.toml"
TABLE_RULE = "┃"  # the heavy vertical line of a table header


def render(width: int, parts: Iterable[RenderableType]) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True, legacy_windows=False)
    for part in parts:
        console.print(part)
    return console.export_text().splitlines()


def words(*texts: str) -> set[str]:
    return {word for text in texts for word in text.split()}


def assert_fits(lines: list[str], width: int, whole: set[str]) -> None:
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}: {too_wide[0]!r}"
    assert not any("…" in line for line in lines), "a cell was cut"
    broken = sorted(w for w in whole if not any(w in line for line in lines))
    assert not broken, f"split or missing at width {width}: {broken[:10]}"


def layout_is_stacked(lines: list[str], width: int) -> None:
    has_table = any(TABLE_RULE in line for line in lines)
    assert has_table == (width >= 100), f"width {width}: {'table' if has_table else 'stacked'} layout"


@pytest.fixture(scope="module")
def pathway() -> Pathway:
    return load()


def pathway_words(pathway: Pathway) -> set[str]:
    whole = words(pathway.title, pathway.description, pathway.cite_text(pathway.cite))
    for param in pathway.parameters:
        whole |= words(param.name, param.display(), param.text, pathway.cite_text(param.cite))
    for state in pathway.states:
        whole |= words(state.id, state.title, state.text, pathway.cite_text(state.cite))
        for rec in state.recommendations:
            whole |= words(rec.code, rec.text, rec.note, pathway.cite_text(rec.cite))
    for t in pathway.transitions:
        whole |= words(t.target, t.guard_words, t.reason, pathway.cite_text(t.cite), *t.events)
    for r in pathway.rejections:
        whole |= words(r.reason, *r.events)
    for citation in pathway.citations:
        whole |= words(citation.id, citation.title, citation.source, citation.quality)
    return whole


@pytest.mark.parametrize("width", WIDTHS)
def test_describe_fits(pathway: Pathway, width: int) -> None:
    lines = render(width, pathway_view(pathway))
    assert_fits(lines, width, pathway_words(pathway))
    layout_is_stacked(lines, width)


def traces(pathway: Pathway, name: str) -> list[Trace]:
    events, errors = read_event_file(str(EXAMPLES / name), pathway)
    return list(run_stream(pathway, in_line_order(events, errors)))


COURSES = (
    "classic_course_patch_gives_complete_relief.jsonl",
    "multi_patient_stream.jsonl",
    "patch_review_before_patch_is_refused.jsonl",
    "red_flag_after_blood_patch_escalates.jsonl",
)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("course", COURSES)
def test_run_fits(pathway: Pathway, width: int, course: str) -> None:
    found = traces(pathway, course)
    lines = render(width, [trace_view(t, pathway) for t in found])
    whole: set[str] = set()
    for trace in found:
        whole |= words(*trace.path, *(r.reason for r in trace.rejected))
        for step in trace.steps:
            whole |= words(step.at, step.event, step.source, step.target, step.reason, step.guard)
        state = pathway.state(trace.state)
        whole |= words(state.title, *(r.code for r in state.recommendations), *(r.text for r in state.recommendations))
    assert_fits(lines, width, whole)
    layout_is_stacked(lines, width)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("definition", [None, BROKEN])
def test_verify_fits(width: int, definition: Path | None) -> None:
    pathway = load(definition)
    verdict = verify(pathway)
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    show_verification(console, verdict, pathway, {})
    lines = console.export_text().splitlines()
    whole = words(pathway.title)
    for result in verdict.results:
        whole |= words(result.id, result.statement)
        for finding in result.findings:
            whole |= words(finding.message)
            whole |= {str(e.to_record()["at"]) for e in (finding.events or ())[:12]}
    assert_fits(lines, width, whole)
    layout_is_stacked(lines, width)


def test_simulate_tables_cut_no_figure_at_any_width(tmp_path: Path) -> None:
    # every estimate and its interval is printed whole, as a table or as one block per row
    import json

    from click.testing import CliRunner

    from pathway.cli import main
    from pathway.simulate import console as tables

    out = tmp_path / "sim"
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "-n",
            "400",
            "-q",
            "--summary-only",
            "--compare",
            "guideline,dismiss_red_flags",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    for width in (60, 80, 120):
        screen = Console(width=width, record=True, color_system=None)
        for part in (
            tables.final_states_table(summary),
            tables.figures_table(summary),
            tables.differences_table(summary),
        ):
            screen.print(part)
        text = screen.export_text()
        assert "…" not in text, width
        for body in summary["by_policy"].values():
            share = body["final_state_shares"]["resolved"]
            assert tables.estimate(share, share=True) in text, width
