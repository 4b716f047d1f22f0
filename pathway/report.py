"""Human-readable views of traces and of the pathway itself (rich renderables)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from pathway import guards
from pathway.model import Pathway, Recommendation
from pathway.safe_text import shown
from pathway.trace import Trace

_RATING_STYLE = {
    "usually_appropriate": "bold green",
    "may_be_appropriate": "yellow",
    "usually_not_appropriate": "red",
}


def recommendations_table(recs: tuple[Recommendation, ...], pathway: Pathway, sources: bool = True) -> Table:
    table = Table(show_header=True, header_style="bold", expand=False, box=None, padding=(0, 1))
    table.add_column("code", no_wrap=True)
    table.add_column("rating / RRL", overflow="fold", min_width=13)
    table.add_column("recommendation", overflow="fold")
    if sources:
        table.add_column("source", style="dim", overflow="fold")
    for rec in recs:
        rating = Text(rec.kind)
        if rec.kind == "imaging":
            rating = Text((rec.rating or "").replace("_", " "), style=_RATING_STYLE.get(rec.rating or "", ""))
            rating.append(f" {rec.rrl}")
        text = (f"when {rec.condition_words}: " if rec.when is not None else "") + rec.text
        text += f" ({rec.note})" if rec.note else ""
        table.add_row(Text(rec.code), rating, Text(text), *([Text(pathway.cite_text(rec.cite))] if sources else []))
    return table


SHOWN_ROWS = 200
"""Rows of a course's table on the terminal; a longer course shows its first and last rows
(`pathway run --json` lists every one)."""

Row = TypeVar("Row")


def _elided(rows: Sequence[Row], table: Table, columns: int) -> Iterator[Row]:
    """The rows to show, with one row saying how many in the middle were left out."""
    if len(rows) <= SHOWN_ROWS:
        yield from rows
        return
    half = SHOWN_ROWS // 2
    yield from rows[:half]
    table.add_row("…", f"{len(rows) - 2 * half:,} more (pathway run --json lists them all)", *[""] * (columns - 2))
    yield from rows[-half:]


def trace_view(trace: Trace, pathway: Pathway) -> RenderableType:
    """One patient's course as a table, with where it ended and what to do now."""
    steps = Table(show_header=True, header_style="bold", expand=False)
    steps.add_column("line", justify="right")
    steps.add_column("at", overflow="fold")
    steps.add_column("event", overflow="fold")
    steps.add_column("transition", overflow="fold")
    steps.add_column("because", overflow="fold")
    for step in _elided(trace.steps, steps, 5):
        move = step.source if step.source == step.target else f"{step.source} → {step.target}"
        steps.add_row(
            str(step.line),
            Text(step.at),
            Text(step.event),
            Text(move),
            Text.assemble(step.reason, "\n", (step.guard, "dim")),
        )
    parts: list[RenderableType] = [Text.assemble(("path: ", "bold"), " → ".join(trace.path)), steps]
    if trace.rejected:
        rejected = Table(show_header=True, header_style="bold red", title="refused events", expand=False)
        rejected.add_column("line", justify="right")
        rejected.add_column("event", overflow="fold")
        rejected.add_column("reason", overflow="fold")
        for item in _elided(trace.rejected, rejected, 3):
            rejected.add_row(str(item.line), Text(item.event or "(unreadable)"), Text(item.reason))
        parts.append(rejected)
    state = pathway.state(trace.state)
    parts.append(Text.assemble(("now: ", "bold"), (state.title, "bold cyan"), f"  ({state.text})"))
    parts.append(recommendations_table(state.recommendations, pathway, sources=False))
    title = escape(f"patient {shown(trace.patient)}") if trace.patient is not None else "course"
    subtitle = "final" if trace.final else "in progress"
    return Panel(Group(*parts), title=title, subtitle=subtitle)


def pathway_view(pathway: Pathway) -> Iterator[RenderableType]:
    """The whole pathway as a reviewer reads it: states, recommendations, transitions, sources."""
    yield Panel(
        Text(pathway.description),
        title=escape(f"{pathway.title}  (pathway {pathway.id} v{pathway.version})"),
        subtitle=escape(pathway.cite_text(pathway.cite)),
    )
    params = Table(title="thresholds", show_header=True, header_style="bold")
    params.add_column("parameter")
    params.add_column("value")
    params.add_column("meaning")
    params.add_column("source", style="dim")
    for param in pathway.parameters:
        source = pathway.cite_text(param.cite) + (" [derived]" if param.derived else "")
        params.add_row(*map(Text, (param.name, param.display(), param.text, source)))
    yield params
    for state in pathway.states:
        body: list[RenderableType] = [Text(state.text)]
        if state.recommendations:
            body.append(recommendations_table(state.recommendations, pathway))
        moves = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        moves.add_column("on")
        moves.add_column("when")
        moves.add_column("go to")
        moves.add_column("why")
        moves.add_column("source", style="dim")
        for t in pathway.transitions_from(state.id):
            on = ", ".join(t.events) if t.events else "(on entry)"
            moves.add_row(*map(Text, (on, t.guard_words, t.target, t.reason, pathway.cite_text(t.cite))))
        for r in pathway.rejections:
            if r.source == state.id:
                moves.add_row(
                    Text(", ".join(r.events)),
                    Text(guards.words(r.guard)),
                    Text("refused", style="red"),
                    Text(r.reason),
                    Text(pathway.cite_text(r.cite)),
                )
        if moves.row_count:
            body.append(moves)
        kind = "final" if state.final else state.kind
        yield Panel(
            Group(*body),
            title=f"{escape(state.title)}  [dim]({escape(state.id)}, {kind})[/dim]",
            subtitle=escape(pathway.cite_text(state.cite)),
        )
    cites = Table(title="sources", show_header=True, header_style="bold")
    cites.add_column("id")
    cites.add_column("source")
    cites.add_column("quality", style="dim")
    for citation in pathway.citations:
        cites.add_row(Text(citation.id), Text(f"{citation.title}\n{citation.source}"), Text(citation.quality))
    yield cites
