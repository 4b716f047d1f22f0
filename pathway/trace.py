"""What a run reports for one patient (contract section 6, docs/clinical-contract.md) and its JSON form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import attrs

from pathway.events import Event
from pathway.model import Pathway, Recommendation, Transition
from pathway.safe_text import json_line, shown

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


def who(trace: Trace) -> str:
    """How a message about one course names it: "patient P: episode E: " (empty for an unnamed course)."""
    named = f"patient {shown(trace.patient)}: " if trace.patient is not None else ""
    return named + (f"episode {shown(trace.episode)}: " if trace.episode is not None else "")


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

    A course of a million steps is written without ever holding them as a million dicts. The
    text is assembled from pieces that are each json_line of one value, with json.dumps's own
    separators, so it is the same text; what every course repeats (a transition's reason, guard
    and citation, a recommendation) is encoded once per pathway.
    """
    extra = extra or {}
    if any(key in _REPORT_KEYS for key in extra):  # a report field replaced: the plain way
        yield json_line(trace_json(trace, pathway) | extra)
        return
    pieces = _report_pieces(trace, pathway, extra)
    if len(trace.steps) + len(trace.rejected) <= PIECEWISE_ABOVE:
        yield "".join(pieces)
    else:
        yield from pieces


_REPORT_KEYS = frozenset(
    ("pathway", "version", "patient", "episode", "state", "final", "path", "steps", "recommendations", "rejected")
)


def _report_pieces(trace: Trace, pathway: Pathway, extra: dict[str, Any]) -> Iterator[str]:
    """The text of trace_json(trace) | extra, in the same key order, piece by piece."""
    yield f'{{"pathway": {_name_text(trace.pathway)}, "version": {_name_text(trace.version)}, "patient": '
    yield "null" if trace.patient is None else _string_text(trace.patient)
    if trace.episode is not None:
        yield ', "episode": ' + _string_text(trace.episode)
    path = ", ".join(_name_text(state) for state in trace.path)
    yield f', "state": {_name_text(trace.state)}, "final": {json_line(trace.final)}, "path": [{path}], "steps": ['
    for index, step in enumerate(trace.steps):
        yield _step_text(step) if not index else ", " + _step_text(step)
    yield '], "recommendations": ['
    yield ", ".join(_recommendation_text(rec, pathway) for rec in trace.recommendations)
    yield '], "rejected": ['
    for index, rejected in enumerate(trace.rejected):
        yield (", " if index else "") + json_line(rejected_json(rejected))
    yield "]"
    for key, value in extra.items():
        yield f", {_name_text(key)}: {'[]' if isinstance(value, list) and not value else json_line(value)}"
    yield "}"


_STEP_TAILS: dict[tuple[str, ...], str] = {}
_NAMES: dict[str, str] = {}


def _step_text(step: Step) -> str:
    """json_line(step_json(step)), with the part a transition always repeats encoded once."""
    what = (step.source, step.target, step.transition, step.reason, step.guard, step.citation)
    tail = _STEP_TAILS.get(what)
    if tail is None:
        if len(_STEP_TAILS) >= _MAX_CACHED:
            _STEP_TAILS.clear()
        tail = _STEP_TAILS[what] = json_line(dict(zip(_STEP_TAIL_KEYS, what, strict=True)))[1:]
    return f'{{"line": {step.line}, "event": {_name_text(step.event)}, "at": {_string_text(step.at)}, {tail}'


def _name_text(name: str) -> str:
    """json_line(name) of a name a pathway repeats (states, events, keys), encoded once."""
    text = _NAMES.get(name)
    if text is None:
        if len(_NAMES) >= _MAX_CACHED:
            _NAMES.clear()
        text = _NAMES[name] = json_line(name)
    return text


_STEP_TAIL_KEYS = ("source", "target", "transition", "reason", "guard", "citation")
_MAX_CACHED = 4096


def _string_text(text: str) -> str:
    """json_line(text): itself in quotes when json.dumps would change none of its characters."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json_line(text)


_RECOMMENDATION_TEXTS: dict[tuple[int, int], tuple[Pathway, Recommendation, str]] = {}


def _recommendation_text(rec: Recommendation, pathway: Pathway) -> str:
    key = (id(pathway), id(rec))
    cached = _RECOMMENDATION_TEXTS.get(key)
    if cached is None or cached[0] is not pathway or cached[1] is not rec:
        cached = _RECOMMENDATION_TEXTS[key] = (pathway, rec, json_line(recommendation_json(rec, pathway)))
    return cached[2]


def step_json(step: Step) -> dict[str, Any]:
    """attrs.asdict(step), spelt out: a stream has a step per accepted event."""
    return {
        "line": step.line,
        "event": step.event,
        "at": step.at,
        "source": step.source,
        "target": step.target,
        "transition": step.transition,
        "reason": step.reason,
        "guard": step.guard,
        "citation": step.citation,
    }


def rejected_json(rejected: Rejected) -> dict[str, Any]:
    """attrs.asdict(rejected), spelt out."""
    return {
        "line": rejected.line,
        "event": rejected.event,
        "at": rejected.at,
        "reason": rejected.reason,
        "kind": rejected.kind,
    }


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
            "steps": [step_json(step) for step in trace.steps],
            "recommendations": [recommendation_json(r, pathway) for r in trace.recommendations],
            "rejected": [rejected_json(r) for r in trace.rejected],
        }
    )
    return report
