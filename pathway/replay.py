"""`pathway run` on streams of any length: each course reported as soon as its last line is read.

The stream is indexed first (pathway.stream), so the replay knows the line on which each
course (patient, episode) ends. Lines then go through the engine in order; the monitor
watches each course as the engine decides it (verify.monitor.CourseWatch), and the moment
a course's last line has been processed its trace is handed over and forgotten. Memory is
bounded by the courses open at once: one for a stream grouped by patient, every course
only when all of them run to the end of the stream (interleaved streams). Input problems
are reported as they are met, which is line order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs

from pathway.courses import Course, CourseRun, malformed_refusal
from pathway.events import Event, EventError
from pathway.model import Pathway
from pathway.stream import UNNAMED, EventSource, index, items
from pathway.trace import Trace
from pathway.verify.monitor import CourseWatch, Violation, monitor_for


@attrs.define
class Outcome:
    """What the whole replay found, for the exit status; filled in as the replay goes."""

    input_problems: int = 0
    refused: bool = False
    violated: bool = False
    named: int = 0
    unnamed: list[Trace] = attrs.Factory(list)


@attrs.define
class _Open:
    run: CourseRun
    watch: CourseWatch


def replay(
    source: EventSource,
    pathway: Pathway,
    start: Callable[[str | None, str | None], CourseRun],
    problem: Callable[[str], None],
    outcome: Outcome,
) -> Iterator[tuple[Trace, list[Violation]]]:
    """(trace, monitor violations) of every course, each as soon as its last line is processed.

    ``problem`` receives each input problem (an unreadable line, time going backwards) as met.
    """
    found = index(source)
    monitor = monitor_for(pathway)
    courses: dict[Course, _Open] = {}
    orphans: list[EventError] = []
    started = False

    def finish(course: Course) -> tuple[Trace, list[Violation]]:
        done = courses.pop(course)
        if course == UNNAMED and orphans:
            done.run.rejected.extend(malformed_refusal(error) for error in orphans)
            done.run.rejected.sort(key=lambda r: r.line)
            orphans.clear()
        trace = done.run.trace()
        violations = monitor.finish(trace, done.watch)
        outcome.refused |= any(r.kind == "out_of_sequence" for r in trace.rejected)
        outcome.violated |= bool(violations)
        if trace.patient is None:
            outcome.unnamed.append(trace)
        else:
            outcome.named += 1
        return trace, violations

    def course_of(key: Course) -> _Open:
        nonlocal started
        if key not in courses:
            courses[key] = _Open(start(*key), monitor.watch())
            started = True
        return courses[key]

    for item in items(source, pathway, found):
        if isinstance(item, EventError):
            outcome.input_problems += 1
            problem(str(item))
            if item.patient is None:
                orphans.append(item)  # the unnamed course's, when the stream has one
            else:
                course_of(item.course).run.rejected.append(malformed_refusal(item))
        else:
            _send(course_of(item.course), item, problem, outcome)
        if found.ends_course(item.line) and item.course in courses:
            yield finish(item.course)
        if item.line == found.last_unnamed and UNNAMED in courses:
            yield finish(UNNAMED)
    if orphans and not started:
        course_of(UNNAMED)  # nothing else to report them with: a course of the unreadable lines alone
    for course in list(courses):  # only courses whose lines the index placed elsewhere; none in practice
        yield finish(course)


def _send(course: _Open, event: Event, problem: Callable[[str], None], outcome: Outcome) -> None:
    run = course.run
    before = len(run.steps)
    if run.send(event):
        course.watch.see(event, run.steps[before:])
        return
    refusal = run.rejected[-1]
    if refusal.kind == "time_order":
        outcome.input_problems += 1
        problem(f"line {refusal.line}: field 'at': {refusal.reason}")
    else:  # the pathway refused it: the monitor checks the refusal was right
        course.watch.see(event, refusal)
