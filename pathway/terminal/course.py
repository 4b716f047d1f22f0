"""`pathway run` in a terminal: one patient's course, where it ended and what to do now."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from pathway.model import Pathway
from pathway.terminal.describe import recommendations_listing
from pathway.terminal.listing import Column, Listing
from pathway.trace import Trace


def path_text(path: tuple[str, ...]) -> Text:
    # the arrows are spaces-separated, so a long path wraps between states, never inside an id
    return Text.assemble(("path: ", "bold"), " → ".join(path))


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
    for step in trace.steps:
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
        for item in trace.rejected:
            rejected.add_row(str(item.line), item.event or "(unreadable)", item.reason)
        parts.append(rejected)
    state = pathway.state(trace.state)
    parts.append(Text.assemble(("now: ", "bold"), (state.title, "bold cyan"), f"  ({state.text})"))
    parts.append(recommendations_listing(trace.recommendations, pathway, sources=False))
    title = escape(f"patient {trace.patient}") if trace.patient is not None else "course"
    if trace.episode is not None:
        title += escape(f", episode {trace.episode}")
    subtitle = "final" if trace.final else "in progress"
    return Panel(Group(*parts), title=title, subtitle=subtitle)
