"""Splitting a multi-patient stream into one course per (patient, episode), whatever engine runs each course."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from pathway.events import Event, EventError, refuse_unnamed
from pathway.trace import Rejected, Step, Trace, time_order_refusal


class CourseRun(Protocol):
    """One patient's course in progress, as both engines provide it."""

    rejected: list[Rejected]
    steps: list[Step]

    def send(self, event: Event) -> bool: ...
    def trace(self) -> Trace: ...


Course = tuple[str | None, str | None]
"""(patient, episode): each is a course of its own, reported on its own."""

UNATTRIBUTED = "could belong to this course (it names no patient): "


def malformed_refusal(error: EventError, prefix: str = "") -> Rejected:
    """A line that could not be read stays in its patient's report, so no reader misses it."""
    return Rejected(error.line, None, None, prefix + str(error), "malformed")


def run_patients(
    items: Iterable[Event | EventError], start: Callable[[str | None, str | None], CourseRun]
) -> Iterator[Trace]:
    """Traces of a multi-patient stream, one per (patient, episode) in order of first appearance.

    Lines that could not be read (EventError) are listed in their course's ``rejected``. A line that
    names no patient in a stream whose other lines do is malformed (contract section 3) and starts no
    course; such a line, like any unreadable line without a patient, is listed in *every* course's
    ``rejected``, because it may be the lost puncture or red flag of any of them. Times never go
    backwards within one patient, across their episodes too.
    """
    runs: dict[Course, CourseRun] = {}
    orphans: list[EventError] = []
    last_of_patient: dict[str | None, Event] = {}
    for item in refuse_unnamed(list(items)):
        if isinstance(item, EventError) and item.patient is None:
            orphans.append(item)
            continue
        run = runs.get(item.course)
        if run is None:
            run = runs[item.course] = start(*item.course)
        if isinstance(item, EventError):
            run.rejected.append(malformed_refusal(item))
            continue
        last = last_of_patient.get(item.patient)
        if last is not None and last.episode != item.episode and item.at < last.at:
            run.rejected.append(time_order_refusal(item, last))  # an earlier episode's clock still counts
            continue
        run.send(item)
        if not (run.rejected and run.rejected[-1].line == item.line and run.rejected[-1].kind == "time_order"):
            last_of_patient[item.patient] = item
    if orphans and not runs:
        runs[(None, None)] = start(None, None)
    for run in runs.values():
        alone = len(runs) == 1
        run.rejected.extend(malformed_refusal(error, "" if alone else UNATTRIBUTED) for error in orphans)
        run.rejected.sort(key=lambda r: r.line)
    for run in runs.values():
        yield run.trace()
