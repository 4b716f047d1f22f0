"""What an overlay adds to the base diagram: one patient's path, or a cohort's flow.

An overlay marks nodes and edges of a DiagramView; the Graphviz and Mermaid writers
draw the marks. The layout of the base diagram is unchanged, so a reader can lay a
patient's diagram next to the protocol and see the same picture.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from pathway.render.frequencies import Frequencies
from pathway.render.view import DiagramView, EdgeView
from pathway.trace import Trace

NodeRole = Literal["visited", "current", "faded"]
MAX_EXTRA_WIDTH = 9.0
"""Edge pen width grows from 1 (no patient) to 1 + this (every patient)."""


@attrs.frozen
class EdgeMark:
    steps: tuple[int, ...] = ()
    """Trace: the numbers of the steps that took this edge, in order."""
    share: float | None = None
    """Frequencies: the share of patients (0..1) that took this edge."""
    note: str = ""
    """Shown first on the label, e.g. 'steps 2, 4' or '62% (620 patients)'."""
    line_notes: Mapping[str, str] = attrs.field(factory=dict)
    """Per label line (keyed by the line's first transition id), e.g. that line's own share."""
    faded: bool = False


@attrs.frozen
class StepEdge:
    """A step taken by a rule drawn once for every active state, drawn from the state the patient was in."""

    source: str
    target: str
    steps: tuple[int, ...]
    note: str

    @property
    def key(self) -> str:
        return f"{self.source}->{self.target}"


@attrs.frozen
class Overlay:
    kind: Literal["trace", "frequencies"]
    heading: tuple[str, ...]
    nodes: Mapping[str, NodeRole]
    edges: Mapping[str, EdgeMark]
    table_title: str = ""
    table: tuple[tuple[str, ...], ...] = ()
    step_edges: tuple[StepEdge, ...] = ()

    def edge(self, edge: EdgeView) -> EdgeMark:
        return self.edges.get(edge.key, EdgeMark(faded=True))


def pen_width(share: float) -> float:
    return round(1.0 + MAX_EXTRA_WIDTH * min(max(share, 0.0), 1.0), 2)


def percent(share: float) -> str:
    value = 100.0 * share
    if 0 < value < 1:
        return "<1%"
    return f"{value:.0f}%"


# ---------------------------------------------------------------- one patient's path


def trace_overlay(view: DiagramView, trace: Trace) -> Overlay:
    """States visited filled, edges taken numbered in order, refused events listed.

    A step taken by a rule of every active state (an escalation) is drawn from the state the
    patient was in, not from the cluster: the reader sees where the course broke off.
    """
    steps_by_edge: dict[str, list[int]] = {}
    steps_by_transition: dict[tuple[str, str], list[int]] = {}
    escalations: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for number, step in enumerate(trace.steps, start=1):
        drawn = view.edge_for(step.transition, step.source)
        if drawn.broadcast:
            escalations.setdefault((step.source, step.target), []).append((number, step.event.replace("_", " ")))
            continue
        steps_by_edge.setdefault(drawn.key, []).append(number)
        steps_by_transition.setdefault((drawn.key, step.transition), []).append(number)
    visited = {view.initial, *trace.path, *(s.source for s in trace.steps), *(s.target for s in trace.steps)}
    nodes: dict[str, NodeRole] = {}
    for node in view.nodes:
        if node.id == trace.state:
            nodes[node.id] = "current"
        else:
            nodes[node.id] = "visited" if node.id in visited else "faded"
    edges = {
        key: EdgeMark(
            steps=tuple(numbers),
            note=_steps_words(numbers),
            line_notes=_taken_lines(view.edge(key), steps_by_transition),
        )
        for key, numbers in steps_by_edge.items()
    }
    who = f"Patient {trace.patient}" if trace.patient is not None else "Patient"
    where = "ended in" if trace.final else "now in"
    heading = (
        f"{who}: {len(trace.steps)} steps, {where} '{view.node(trace.state).title}'; "
        f"{len(trace.rejected)} event{'s' if len(trace.rejected) != 1 else ''} refused",
        "Path: " + " → ".join(_elided([view.node(state).title for state in trace.path], MAX_PATH)),
    )
    table = tuple(
        (str(r.line), _clipped(r.event or "(unreadable line)"), r.at or "", _clipped(r.reason))
        for r in trace.rejected[:MAX_REFUSED]
    )
    if len(trace.rejected) > MAX_REFUSED:
        table += (("…", f"{len(trace.rejected) - MAX_REFUSED} more", "", "see `pathway run` for all of them"),)
    step_edges = tuple(
        StepEdge(
            source,
            target,
            tuple(n for n, _ in taken),
            f"{_steps_words([n for n, _ in taken])}: {', '.join(dict.fromkeys(e for _, e in taken))}",
        )
        for (source, target), taken in escalations.items()
    )
    return Overlay("trace", heading, nodes, edges, "Refused events (line, event, time, reason)", table, step_edges)


# Graphviz refuses labels past 16 KB, and a printed page could not show more anyway
MAX_STEP_NUMBERS = 24
MAX_PATH = 30
MAX_REFUSED = 40
MAX_CELL = 300


def _elided(items: list[str], keep: int) -> list[str]:
    if len(items) <= keep:
        return items
    head, tail = items[: keep - keep // 3], items[-(keep // 3) :]
    return [*head, f"… {len(items) - len(head) - len(tail)} more …", *tail]


def _clipped(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _steps_words(numbers: list[int]) -> str:
    shown = _elided([str(n) for n in numbers], MAX_STEP_NUMBERS)
    suffix = f" ({len(numbers)} times)" if len(shown) < len(numbers) else ""
    return ("step " if len(numbers) == 1 else "steps ") + ", ".join(shown) + suffix


def _taken_lines(edge: EdgeView, steps_by_transition: dict[tuple[str, str], list[int]]) -> dict[str, str]:
    """On an edge drawing several transitions, say which line each step took."""
    if len(edge.lines) < 2:
        return {}
    notes = {}
    for line in edge.lines:
        numbers = sorted(n for t in line.transitions for n in steps_by_transition.get((edge.key, t), []))
        if numbers:
            notes[line.transitions[0]] = _steps_words(numbers)
    return notes


# ---------------------------------------------------------------- a cohort's flow


def frequency_overlay(view: DiagramView, frequencies: Frequencies) -> Overlay:
    """Edge widths and labels by the share of patients (or, without a cohort size, of the busiest edge)."""
    per_edge: dict[str, list[tuple[str | None, int, int | None]]] = {}
    for row in frequencies.rows:
        edge = _edge_of(view, row.transition, row.source, row.target)
        per_edge.setdefault(edge.key, []).append((row.transition, row.count, row.patients))

    by_patients = frequencies.cohort is not None and all(row.patients is not None for row in frequencies.rows)
    busiest = max((sum(c for _, c, _ in items) for items in per_edge.values()), default=0)
    edges: dict[str, EdgeMark] = {}
    for edge in view.edges:
        items = per_edge.get(edge.key, [])
        count = sum(c for _, c, _ in items)
        if by_patients:
            assert frequencies.cohort is not None
            patients = sum(p or 0 for _, _, p in items)
            # a patient can take two transitions drawn by one edge: the sum is an upper bound
            share = min(1.0, patients / frequencies.cohort) if frequencies.cohort else 0.0
            note = f"{percent(share)} of patients ({min(patients, frequencies.cohort)}; taken {count}×)"
            line_notes = _line_notes(edge, items, frequencies.cohort)
        else:
            share = count / busiest if busiest else 0.0
            note = f"{count}× ({percent(share)} of the busiest edge)"
            line_notes = {}
        edges[edge.key] = EdgeMark(share=share, note=note, line_notes=line_notes, faded=count == 0)

    reached = {view.initial} | {
        edge.target for edge in view.edges if edges[edge.key].share and not edges[edge.key].faded
    }
    # reached states keep their usual colours; only states no patient reached are faded
    nodes: dict[str, NodeRole] = {n.id: "faded" for n in view.nodes if n.id not in reached}
    if by_patients:
        heading = (
            f"Cohort flow: {frequencies.cohort} patients. Edge width and label: share of patients "
            "who took the transition at least once.",
        )
    else:
        heading = (f"Cohort flow: {busiest} transitions on the busiest edge. Edge width: count relative to it.",)
    return Overlay("frequencies", heading, nodes, edges)


def _line_notes(edge: EdgeView, items: list[tuple[str | None, int, int | None]], cohort: int) -> dict[str, str]:
    if len(edge.lines) < 2 or not cohort:
        return {}
    patients_by_transition: dict[str, int] = {}
    for transition, _, patients in items:
        if transition is not None:
            patients_by_transition[transition] = patients_by_transition.get(transition, 0) + (patients or 0)
    notes = {}
    for line in edge.lines:
        patients = sum(patients_by_transition.get(t, 0) for t in line.transitions)
        notes[line.transitions[0]] = percent(min(1.0, patients / cohort))
    return notes


def _edge_of(view: DiagramView, transition: str | None, source: str, target: str) -> EdgeView:
    if transition is not None:
        edge = view.edge_for(transition, source)
        if edge.target != target:
            raise KeyError(f"transition {transition!r} from {source!r} goes to {edge.target!r}, not {target!r}")
        return edge
    candidates = [e for e in view.edges if e.target == target and any(src == source for _, src in e.members)]
    if not candidates:
        raise KeyError(f"no transition from {source!r} to {target!r}")
    # a direct edge reads better than the broadcast edge when both exist
    return sorted(candidates, key=lambda e: e.broadcast)[0]
