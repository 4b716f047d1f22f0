"""Splitting a multi-patient stream into one course per (patient, episode), whatever engine runs each course."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from pathway.events import Event, EventError
from pathway.trace import Rejected, Step, Trace


class CourseRun(Protocol):
    """One patient's course in progress, as both engines provide it."""

    rejected: list[Rejected]
    steps: list[Step]

    def send(self, event: Event) -> bool: ...
    def trace(self) -> Trace: ...


def malformed_refusal(error: EventError) -> Rejected:
    """A line that could not be read stays in its patient's report, so no reader misses it."""
    return Rejected(error.line, None, None, str(error), "malformed")


Course = tuple[str | None, str | None]
"""(patient, episode): each is a course of its own, reported on its own."""


def run_patients(
    items: Iterable[Event | EventError], start: Callable[[str | None, str | None], CourseRun]
) -> Iterator[Trace]:
    """Traces of a multi-patient stream, one per (patient, episode) in order of first appearance.

    Lines that could not be read (EventError) are listed in their course's ``rejected``;
    one that names no patient goes to the stream's unnamed patient, when the stream has one.
    """
    runs: dict[Course, CourseRun] = {}
    orphans: list[EventError] = []
    for item in items:
        if isinstance(item, EventError) and item.patient is None:
            orphans.append(item)
            continue
        run = runs.get(item.course)
        if run is None:
            run = runs[item.course] = start(*item.course)
        if isinstance(item, EventError):
            run.rejected.append(malformed_refusal(item))
        else:
            run.send(item)
    unnamed_key = (None, None)
    if orphans and (unnamed_key in runs or not runs):
        unnamed = runs[unnamed_key] if unnamed_key in runs else runs.setdefault(unnamed_key, start(None, None))
        unnamed.rejected.extend(malformed_refusal(error) for error in orphans)
        unnamed.rejected.sort(key=lambda r: r.line)
    for run in runs.values():
        yield run.trace()
