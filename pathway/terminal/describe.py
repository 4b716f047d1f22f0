"""`pathway describe` in a terminal: the pathway as a reviewer reads it."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from pathway import guards
from pathway.model import Pathway, Recommendation
from pathway.terminal.listing import Column, Listing

RATING_STYLE = {
    "usually_appropriate": "bold green",
    "may_be_appropriate": "yellow",
    "usually_not_appropriate": "red",
}


def heading(title: str, detail: str = "", style: str = "bold") -> Text:
    """A title with its ids after it; it wraps at spaces, where a panel title would be cut."""
    text = Text(title, style=style)
    if detail:
        text.append(f"  ({detail})", style="dim")
    return text


def recommendations_listing(recs: tuple[Recommendation, ...], pathway: Pathway, sources: bool = True) -> Listing:
    columns = [Column("code", key=True), Column("rating / RRL"), Column("recommendation")]
    if sources:
        columns.append(Column("source", style="dim"))
    listing = Listing(columns, box=False)
    for rec in recs:
        rating = Text(rec.kind)
        if rec.kind == "imaging":
            rating = Text((rec.rating or "").replace("_", " "), style=RATING_STYLE.get(rec.rating or "", ""))
            rating.append(f" {rec.rrl}")
        text = (f"when {rec.condition_words}: " if rec.when is not None else "") + rec.text
        text += f" ({rec.note})" if rec.note else ""
        listing.add_row(rec.code, rating, text, *([pathway.cite_text(rec.cite)] if sources else []))
    return listing


def pathway_view(pathway: Pathway) -> Iterator[RenderableType]:
    """The whole pathway: thresholds, each state with its recommendations and transitions, sources."""
    yield Panel(
        Group(
            heading(pathway.title, f"pathway {pathway.id} v{pathway.version}"),
            Text(pathway.description),
            Text.assemble(("source: ", "dim"), pathway.cite_text(pathway.cite)),
        )
    )
    params = Listing([Column("parameter", key=True), Column("value"), Column("meaning"), Column("source", style="dim")])
    params.title = "thresholds"
    for param in pathway.parameters:
        source = pathway.cite_text(param.cite) + (" [derived]" if param.derived else "")
        params.add_row(param.name, param.display(), param.text, source)
    yield params
    for state in pathway.states:
        kind = "final" if state.final else state.kind
        body: list[RenderableType] = [heading(state.title, f"{state.id}, {kind}", "bold cyan"), Text(state.text)]
        if state.recommendations:
            body.append(recommendations_listing(state.recommendations, pathway))
        moves = Listing(
            [Column("on"), Column("when"), Column("go to", key=True), Column("why"), Column("source", style="dim")],
            box=False,
        )
        for t in pathway.transitions_from(state.id):
            on = ", ".join(t.events) if t.events else "(on entry)"
            moves.add_row(on, t.guard_words, t.target, t.reason, pathway.cite_text(t.cite))
        for r in pathway.rejections:
            if r.source == state.id:
                refused = Text("refused", style="red")
                moves.add_row(", ".join(r.events), guards.words(r.guard), refused, r.reason, pathway.cite_text(r.cite))
        if moves.rows:
            body.append(moves)
        body.append(Text.assemble(("source: ", "dim"), pathway.cite_text(state.cite)))
        yield Panel(Group(*body))
    cites = Listing([Column("id", key=True), Column("source"), Column("quality", style="dim")], title="sources")
    for citation in pathway.citations:
        cites.add_row(citation.id, f"{citation.title}. {citation.source}", citation.quality)
    yield cites
