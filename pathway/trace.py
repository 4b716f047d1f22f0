"""What a run reports for one patient (contract section 6, docs/clinical-contract.md) and its JSON form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import attrs

from pathway.events import Event
from pathway.model import Pathway, Recommendation, Transition
from pathway.safe_text import json_line

RejectionKind = Literal["out_of_sequence", "time_order", "malformed"]


@attrs.frozen
class Step:
    line: int
    event: str
    at: str
    source: str
    target: str
    transition: str
    reason: str
    guard: str
    citation: str


@attrs.frozen
class Rejected:
    """A refused event. ``malformed`` lines may have no usable event name or time (None)."""

    line: int
    event: str | None
    at: str | None
    reason: str
    kind: RejectionKind = "out_of_sequence"


def step_for(event: Event, transition: Transition, reason: str, guard: str, citation: str) -> Step:
    """The step an accepted event records for one transition it took (every engine reports the same)."""
    return Step(
        line=event.line,
        event=event.name,
        at=event.at_text,
        source=transition.source,
        target=transition.target,
        transition=transition.id,
        reason=reason,
        guard=guard,
        citation=citation,
    )


def time_order_refusal(event: Event, last: Event) -> Rejected:
    """Times never go backwards within one patient: the refusal names the earlier line."""
    reason = f"at {event.at_text} is earlier than the previous event at {last.at_text} (line {last.line})"
    return Rejected(event.line, event.name, event.at_text, reason, "time_order")


@attrs.frozen
class Trace:
    pathway: str
    version: str
    patient: str | None
    state: str
    final: bool
    path: tuple[str, ...]
    steps: tuple[Step, ...]
    rejected: tuple[Rejected, ...]
    recommendations: tuple[Recommendation, ...] = ()
    """The items of the current state that apply to this course (decided by the event that entered it)."""
    episode: str | None = None


def recommendation_json(rec: Recommendation, pathway: Pathway) -> dict[str, Any]:
    item: dict[str, Any] = {"code": rec.code, "kind": rec.kind, "text": rec.text}
    if rec.kind == "imaging":
        item["rating"] = rec.rating
        item["rrl"] = rec.rrl
    if rec.note:
        item["note"] = rec.note
    if rec.derived:
        item["derived"] = True
    if rec.when is not None:
        item["when"] = rec.condition_words
    item["citation"] = pathway.cite_text(rec.cite)
    if rec.rrl_cite is not None:
        item["rrl_citation"] = pathway.cite_text(rec.rrl_cite)
    return item


PIECEWISE_ABOVE = 1000
"""Steps plus refusals above which a report is written piece by piece rather than built whole."""


def trace_json_text(trace: Trace, pathway: Pathway, extra: dict[str, Any] | None = None) -> Iterator[str]:
    """``json_line(trace_json(trace) | extra)``; for a long course in pieces, a step or a refusal at a time.

    A course of a million steps is written without ever holding them as a million dicts.
    """
    if len(trace.steps) + len(trace.rejected) <= PIECEWISE_ABOVE:
        yield json_line(trace_json(trace, pathway) | (extra or {}))
        return
    report = trace_json(attrs.evolve(trace, steps=(), rejected=()), pathway)
    report.update(extra or {})
    lazy: dict[str, tuple[Any, ...]] = {"steps": trace.steps, "rejected": trace.rejected}
    yield "{"
    for number, (key, value) in enumerate(report.items()):
        yield (", " if number else "") + json_line(key) + ": "
        if key in lazy:
            yield "["
            for index, item in enumerate(lazy[key]):
                yield (", " if index else "") + json_line(attrs.asdict(item))
            yield "]"
        else:
            yield json_line(value)
    yield "}"


def trace_json(trace: Trace, pathway: Pathway) -> dict[str, Any]:
    """The object `pathway run --json` prints for one patient."""
    report: dict[str, Any] = {"pathway": trace.pathway, "version": trace.version, "patient": trace.patient}
    if trace.episode is not None:
        report["episode"] = trace.episode
    report.update(
        {
            "state": trace.state,
            "final": trace.final,
            "path": list(trace.path),
            "steps": [attrs.asdict(step) for step in trace.steps],
            "recommendations": [recommendation_json(r, pathway) for r in trace.recommendations],
            "rejected": [attrs.asdict(r) for r in trace.rejected],
        }
    )
    return report
