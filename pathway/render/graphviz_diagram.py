"""The DiagramView as Graphviz DOT source, optionally with a trace or frequency overlay.

Layout runs top to bottom (the course down the left, hand-offs beside it), which keeps the
drawing close to A4 landscape proportions; ``size`` fits it to that page, where edge labels
print at about 6.7 pt. SVG, PNG and PDF are all made from this same source by ``dot``.
Node and edge ``class`` attributes name their role (state, final, escalation, taken,
faded, ...) so the SVG can be styled and tested.
"""

from __future__ import annotations

import itertools
from html import escape

import graphviz

from pathway.render.overlay import EdgeMark, Overlay, StepEdge, pen_width
from pathway.render.palette import Palette
from pathway.render.view import ClusterView, DiagramView, EdgeView, NodeView, wrap

FONT = "DejaVu Sans,Verdana,sans-serif"
A4_LANDSCAPE_INCHES = "11.69,8.27"
GIST_WIDTH = 26
TITLE_WIDTH = 18
EDGE_WIDTH = 28
BROADCAST_WIDTH = 42
SELF_LOOP_WIDTH = 40
HEADING_WIDTH = 150
IMAGING_WIDTH = 30
LEGEND_ROWS = 4
START_NODE = "__start__"
ANCHOR_NODE = "__every_active_state__"
"""Invisible tail of the edges drawn for every active state: beside the last state, so the
edge visibly leaves the cluster's border and not a state's box."""
COLUMN_MIN = 3
"""A group of final states this large is stacked in a column, as narrow as one box."""


def _html_lines(lines: tuple[str, ...] | list[str], align: str = "LEFT") -> str:
    return "".join(f'{escape(line)}<BR ALIGN="{align}"/>' for line in lines)


def _font(text: str, color: str | None = None, size: int | None = None, bold: bool = False) -> str:
    attrs = (f' COLOR="{color}"' if color else "") + (f' POINT-SIZE="{size}"' if size else "")
    inner = f"<B>{text}</B>" if bold else text
    return f"<FONT{attrs}>{inner}</FONT>" if attrs else inner


# ---------------------------------------------------------------- nodes


def _node_label(node: NodeView, faded: bool) -> str:
    ink = Palette.faded if faded else Palette.ink
    title = "<BR/>".join(escape(line) for line in wrap(node.title, TITLE_WIDTH))
    rows = [f"<TR><TD>{_font(title, ink, 13, bold=True)}</TD></TR>"]
    if node.gist:
        gist = "<BR/>".join(escape(line) for line in wrap(node.gist, GIST_WIDTH))
        rows.append(f"<TR><TD>{_font(gist, Palette.faded if faded else Palette.muted, 10)}</TD></TR>")
    for item in node.imaging:
        color = Palette.faded if faded else Palette.rating.get(item.rating, Palette.muted)
        words = "<BR/>".join(escape(line) for line in wrap("imaging, " + item.words, IMAGING_WIDTH))
        rows.append(f"<TR><TD>{_font(words, color, 9)}</TD></TR>")
    table = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>"
    return f"<{table}>"


def _node_attrs(node: NodeView, role: str | None) -> dict[str, str]:
    fill = Palette.escalation_fill if node.escalation else Palette.group_fill.get(node.group, Palette.default_fill)
    border = Palette.escalation if node.escalation else Palette.edge
    classes = ["state", node.kind, f"group-{node.group}"] + (["escalation"] if node.escalation else [])
    attrs = {
        "label": _node_label(node, role == "faded"),
        "tooltip": node.tooltip,
        "id": f"state-{node.id}",
        "fillcolor": fill,
        "color": border,
        "penwidth": "2" if node.escalation else "1.2",
    }
    if node.final:
        attrs["peripheries"] = "2"
    if role == "faded":
        attrs.update(fillcolor=Palette.faded_fill, color=Palette.faded, penwidth="1")
    elif role in ("visited", "current"):
        attrs.update(
            fillcolor=Palette.current_fill if role == "current" else Palette.visited_fill,
            color=Palette.taken,
            penwidth="4" if role == "current" else "2.5",
        )
    if role:
        classes.append(role)
    attrs["class"] = " ".join(classes)
    return attrs


# ---------------------------------------------------------------- edges


def _edge_label(edge: EdgeView, mark: EdgeMark | None) -> str:
    faded = mark is not None and mark.faded
    text_color = Palette.faded if faded else (Palette.escalation if edge.broadcast else Palette.ink)
    parts = []
    if mark is not None and mark.note and not faded:
        note_color = Palette.taken if mark.steps else Palette.flow
        parts.append(_font(escape(mark.note), note_color, 12, bold=True) + '<BR ALIGN="LEFT"/>')
    if edge.broadcast:
        parts.append(_font(escape("from every active state:"), text_color, 10, bold=True) + '<BR ALIGN="LEFT"/>')
    bullets = len(edge.lines) > 1
    for line in edge.lines:
        prefix = f"{line.priority}. " if line.priority is not None else ("• " if bullets else "")
        extra = mark.line_notes.get(line.transitions[0], "") if mark is not None else ""
        text = prefix + line.text + (f" [{extra}]" if extra else "")
        # broadcast and self-loop labels have room beside them; wider lines keep them short
        width = BROADCAST_WIDTH if edge.broadcast else SELF_LOOP_WIDTH if edge.self_loop else EDGE_WIDTH
        parts.append(_font(_html_lines(wrap(text, width)), text_color, 10))
    return "<" + "".join(parts) + ">"


def _edge_attrs(edge: EdgeView, mark: EdgeMark | None) -> dict[str, str]:
    classes = ["transition"]
    attrs = {"label": _edge_label(edge, mark), "tooltip": edge.tooltip, "id": f"edge-{edge.key.replace('*', 'all')}"}
    attrs["labeltooltip"] = edge.tooltip
    if edge.broadcast:
        classes.append("broadcast")
        attrs.update(color=Palette.escalation, fontcolor=Palette.escalation, penwidth="3", style="bold")
    elif edge.immediate:
        classes.append("immediate")
        attrs.update(color=Palette.immediate, style="dashed", arrowhead="vee")
    else:
        attrs.update(color=Palette.edge)
    if mark is not None:
        if mark.faded:
            classes.append("faded")
            attrs.update(color=Palette.faded, fontcolor=Palette.faded, penwidth="1")
        elif mark.steps:
            classes.append("taken")
            attrs.update(color=Palette.taken, penwidth="4")
        elif mark.share is not None:
            classes.append("flow")
            attrs.update(penwidth=str(pen_width(mark.share)))
            if not edge.broadcast:
                attrs.update(color=Palette.flow)
    attrs["class"] = " ".join(classes)
    return attrs


# ---------------------------------------------------------------- title and legend


def _legend_row(sample: str, words: str) -> str:
    return f'<TR><TD ALIGN="LEFT">{sample}</TD><TD ALIGN="LEFT">{_font(escape(words), Palette.ink, 10)}</TD></TR>'


def _left(content: str, span: int = 1) -> str:
    """One left-aligned table row."""
    return f'<TR><TD ALIGN="LEFT" COLSPAN="{span}">{content}</TD></TR>'


def _legend_rows() -> list[str]:
    row = _legend_row
    return [
        row(_font("●──▶", Palette.ink, 11), "start of the pathway"),
        row(_font("▢", Palette.ink, 14), "state (gist of its recommendations; imaging ratings)"),
        row(_font("◎", Palette.ink, 14), "final state (double border): outcome or hand-off"),
        row(_font("──▶", Palette.edge, 11, bold=True), "transition: event: condition (real thresholds)"),
        row(_font("╌╌▶", Palette.immediate, 11, bold=True), "immediately, on entering the state"),
        row(_font("━━▶", Palette.escalation, 11, bold=True), "from every active state (escalation)"),
        row(_font("1. 2.", Palette.ink, 10), "order a state checks conditions on one event"),
        row(_font("•", Palette.ink, 10), "one line per transition, when an edge draws several"),
    ]


def _overlay_rows(overlay: Overlay) -> list[str]:
    if overlay.kind == "trace":
        samples = [
            (_font("■", Palette.taken, 14), "state visited (thick border: where the patient is now)"),
            (_font("━━▶", Palette.taken, 11, bold=True), "transition taken, numbered in order"),
            (_font("──", Palette.faded, 11, bold=True), "not part of this patient's course"),
        ]
    else:
        samples = [
            (_font("━━▶", Palette.flow, 11, bold=True), "edge width: share of the cohort"),
            (_font("──", Palette.faded, 11, bold=True), "taken by no patient"),
        ]
    return [_legend_row(sample, words) for sample, words in samples]


def _cell_table(rows: list[str]) -> str:
    return '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">' + "".join(rows) + "</TABLE>"


def _graph_label(view: DiagramView, overlay: Overlay | None) -> str:
    title = _font(escape(view.title), Palette.ink, 20, bold=True)
    subtitle = _font(
        _html_lines(wrap(f"pathway {view.id}, version {view.version}. Source: {view.source_citation}", HEADING_WIDTH)),
        Palette.muted,
        11,
    )
    thresholds = [_left(_font(escape("Thresholds (from the definition)"), Palette.ink, 10, bold=True))]
    thresholds += [_left(_font(escape(t), Palette.muted, 10)) for t in view.thresholds]
    legend = _legend_rows()
    columns = [legend[i : i + LEGEND_ROWS] for i in range(0, len(legend), LEGEND_ROWS)]
    if overlay is not None:
        columns.append(_overlay_rows(overlay))
    columns.append(thresholds)
    span = len(columns)
    rows = [_left(title, span), _left(subtitle, span)]
    if overlay is not None:
        for line in overlay.heading:
            rows.append(_left(_font(_html_lines(wrap(line, HEADING_WIDTH)), Palette.taken, 13, bold=True), span))
        if overlay.table_title:
            rows.append(_left(_table(overlay), span))
    rows.append("<TR>" + "".join(f'<TD ALIGN="LEFT" VALIGN="TOP">{_cell_table(c)}</TD>' for c in columns) + "</TR>")
    return "<" + '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4">' + "".join(rows) + "</TABLE>>"


def _table(overlay: Overlay) -> str:
    columns = max((len(row) for row in overlay.table), default=1)
    head = _left(_font(escape(overlay.table_title), Palette.ink, 11, bold=True), columns)
    if not overlay.table:
        body = _left(_font("none", Palette.muted, 10), columns)
    else:
        body = "".join(
            "<TR>"
            + "".join(f'<TD ALIGN="LEFT">{_font(_html_lines(wrap(cell, 70)), Palette.ink, 10)}</TD>' for cell in row)
            + "</TR>"
            for row in overlay.table
        )
    return (
        '<TABLE BORDER="1" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" COLOR="#dadce0">' + head + body + "</TABLE>"
    )


# ---------------------------------------------------------------- the graph


def build_graph(view: DiagramView, overlay: Overlay | None = None) -> graphviz.Digraph:
    graph = graphviz.Digraph(
        name=view.id,
        graph_attr={
            "rankdir": "TB",
            "compound": "true",
            "newrank": "true",
            "fontname": FONT,
            "labelloc": "t",
            "labeljust": "l",
            "label": _graph_label(view, overlay),
            "nodesep": "0.25",
            "ranksep": "0.3",
            "size": A4_LANDSCAPE_INCHES,
            "ratio": "compress",
            "bgcolor": "white",
            # room for label text that a viewer's font sets wider than Graphviz measured
            "pad": "0.3",
            "tooltip": f"{view.title}, version {view.version}",
        },
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT, "margin": "0.12,0.06"},
        edge_attr={"fontname": FONT, "fontsize": "10", "arrowsize": "0.8"},
    )
    roles = overlay.nodes if overlay else {}
    tail_of_broadcast = view.course.all_node_ids[-1]
    has_broadcast = any(edge.broadcast for edge in view.edges)

    def add_node(cluster: graphviz.Digraph, node_id: str) -> None:
        node = view.node(node_id)
        companions = []
        if node_id == view.initial:
            # the start marker sits beside the initial state, not on a rank of its own
            color = Palette.faded if roles.get(node_id) == "faded" else Palette.ink
            companions.append((START_NODE, {"shape": "point", "width": "0.18", "color": color, "tooltip": "start"}))
        if node_id == tail_of_broadcast and has_broadcast:
            companions.append((ANCHOR_NODE, {"shape": "point", "style": "invis", "width": "0.01"}))
        if not companions:
            cluster.node(node.id, **_node_attrs(node, roles.get(node.id)))
            return
        with cluster.subgraph() as same_rank:
            same_rank.attr(rank="same")
            for name, attrs in companions[:1]:
                same_rank.node(name, "", **attrs)
            same_rank.node(node.id, **_node_attrs(node, roles.get(node.id)))
            for name, attrs in companions[1:]:
                same_rank.node(name, "", **attrs)

    def add_cluster(parent: graphviz.Digraph, cluster_view: ClusterView) -> None:
        with parent.subgraph(name=f"cluster_{cluster_view.name}") as cluster:
            cluster.attr(
                label=f"<{_font(escape(cluster_view.title), Palette.muted, 12, bold=True)}>",
                style="rounded,filled",
                color="#dadce0",
                fillcolor=Palette.cluster_fill.get(cluster_view.group, Palette.faded_fill),
                id=f"cluster-{cluster_view.name}",
                tooltip=cluster_view.title,
            )
            for child in cluster_view.children:
                add_cluster(cluster, child)
            for node_id in cluster_view.node_ids:
                add_node(cluster, node_id)

    for cluster_view in (view.course, *view.finals):
        add_cluster(graph, cluster_view)
    for cluster_view in view.finals:
        _stack_in_a_column(graph, view, cluster_view)

    start_attrs = {"id": "edge-start", "class": "transition start", "tooltip": "start"}
    if overlay is not None and roles.get(view.initial) in ("visited", "current"):
        start_attrs.update(color=Palette.taken, penwidth="3")
    graph.edge(START_NODE, view.initial, **start_attrs)

    initial_loops = any(edge.self_loop and edge.source == view.initial for edge in view.edges)
    for edge in view.edges:
        mark = overlay.edge(edge) if overlay else None
        attrs = _edge_attrs(edge, mark)
        if edge.broadcast:
            attrs["ltail"] = f"cluster_{view.course.name}"
            graph.edge(ANCHOR_NODE, edge.target, **attrs)
            continue
        assert edge.source is not None
        if initial_loops and edge.source == view.initial and not edge.self_loop:
            # the start marker holds the initial state's left side and its loop the right: the other
            # edges leave from below, so they do not strike through the loop's label
            attrs["tailport"] = "s"
        graph.edge(edge.source, edge.target, **attrs)
    for step_edge in overlay.step_edges if overlay else ():
        graph.edge(step_edge.source, step_edge.target, **_step_edge_attrs(step_edge))
    return graph


def _stack_in_a_column(graph: graphviz.Digraph, view: DiagramView, cluster_view: ClusterView) -> None:
    """Invisible edges chain a large group of final states top to bottom, in the order the transitions reach them."""
    members = cluster_view.all_node_ids
    if len(members) < COLUMN_MIN:
        return
    first_edge: dict[str, int] = {}
    for index, edge in enumerate(view.edges):
        first_edge.setdefault(edge.target, index)
    ordered = sorted(members, key=lambda node_id: first_edge.get(node_id, len(view.edges)))
    for upper, lower in itertools.pairwise(ordered):
        graph.edge(upper, lower, style="invis", **{"class": "layout"})


def _step_edge_attrs(step_edge: StepEdge) -> dict[str, str]:
    label = _font(escape(step_edge.note), Palette.escalation, 12, bold=True)
    return {
        "label": f"<{label}>",
        "id": f"edge-step-{step_edge.key}",
        "class": "transition taken escalation-step",
        "color": Palette.escalation,
        "fontcolor": Palette.escalation,
        "penwidth": "4",
        "weight": "0",  # no pull on the layout: the base drawing stays as it is
        "tooltip": f"{step_edge.note}: escalated from the state the patient was in",
    }


def dot_source(view: DiagramView, overlay: Overlay | None = None) -> str:
    return build_graph(view, overlay).source
