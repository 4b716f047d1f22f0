"""`pathway run` in a terminal: one patient's course, where it ended and what to do now."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from pathway.model import Pathway
from pathway.safe_text import shown
from pathway.terminal.describe import recommendations_listing
from pathway.terminal.listing import Column, Listing
from pathway.trace import Trace

SHOWN_ROWS = 200
"""Rows of a course's table on the terminal; a longer course shows its first and last rows
(`pathway run --json` lists every one)."""

Row = TypeVar("Row")


def path_text(path: tuple[str, ...]) -> Text:
    # the arrows are spaces-separated, so a long path wraps between states, never inside an id
    return Text.assemble(("path: ", "bold"), " → ".join(path))


def _elided(rows: Sequence[Row], listing: Listing, columns: int) -> Iterator[Row]:
    """The rows to show, with one row saying how many in the middle were left out."""
    if len(rows) <= SHOWN_ROWS:
        yield from rows
        return
    half = SHOWN_ROWS // 2
    yield from rows[:half]
    listing.add_row("…", f"{len(rows) - 2 * half:,} more (pathway run --json lists them all)", *[""] * (columns - 2))
    yield from rows[-half:]


def trace_view(trace: Trace, pathway: Pathway) -> RenderableType:
    steps = Listing(
        [
            Column("line", key=True, justify="right"),
            Column("at", key=True),
            Column("event"),
            Column("transition"),
            Column("because"),
        ]
    )
    for step in _elided(trace.steps, steps, 5):
        move = step.source if step.source == step.target else f"{step.source} → {step.target}"
        steps.add_row(str(step.line), step.at, step.event, move, Text.assemble(step.reason, "\n", (step.guard, "dim")))
    parts: list[RenderableType] = [path_text(trace.path), steps]
    if trace.rejected:
        rejected = Listing(
            [Column("line", key=True, justify="right"), Column("event"), Column("reason")],
            title="refused events",
            title_style="bold red",
            header_style="bold red",
        )
        for item in _elided(trace.rejected, rejected, 3):
            rejected.add_row(str(item.line), item.event or "(unreadable)", item.reason)
        parts.append(rejected)
    state = pathway.state(trace.state)
    parts.append(Text.assemble(("now: ", "bold"), (state.title, "bold cyan"), f"  ({state.text})"))
    parts.append(recommendations_listing(trace.recommendations, pathway, sources=False))
    # ids are input text: shown escaped, so no escape sequence reaches the terminal; and as Text, not
    # markup, so that "[b]" or ":smile:" in an id is printed as written (a str title would turn
    # ":smile:" into an emoji, and loading rich's emoji table costs start-up time)
    title = Text(f"patient {shown(trace.patient)}" if trace.patient is not None else "course")
    if trace.episode is not None:
        title.append(f", episode {shown(trace.episode)}")
    subtitle = Text("final" if trace.final else "in progress")
    return Panel(Group(*parts), title=title, subtitle=subtitle)
