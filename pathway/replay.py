"""`pathway run` on streams of any length: each course reported as soon as its last line is read.

The stream is indexed first (pathway.stream), so the replay knows the line on which each
course (patient, episode) and each patient ends. Lines then go through the engine in
order; the monitor watches each course as the engine decides it (verify.monitor.CourseWatch),
and once a course's last line has been processed its trace is handed over and forgotten.
Memory is bounded by the courses open at once: one for a stream grouped by patient, every
course only when all of them run to the end of the stream (interleaved streams).

A line that names no readable patient may be the lost puncture or red flag of any course,
so it is listed in every course's refusals (pathway.courses.run_patients): in a stream with
such lines, a course waits for the last of them before it is reported, and a stream whose
lines name no patient at all is reported at its end. Input problems are reported as met,
which is line order. The reports are those of run_patients, course for course.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import attrs

from pathway.courses import UNATTRIBUTED, Course, CourseRun, malformed_refusal
from pathway.events import Event, EventError
from pathway.model import Pathway
from pathway.safe_text import shown
from pathway.stream import UNNAMED, EventSource, StreamIndex, index, items_of
from pathway.trace import Trace, time_order_refusal, trace_json_text, who
from pathway.verify.monitor import CourseWatch, Monitor, Violation, monitor_for


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


class Replay:
    """The second pass over an indexed stream."""

    def __init__(
        self,
        pathway: Pathway,
        found: StreamIndex,
        start: Callable[[str | None, str | None], CourseRun],
        problem: Callable[[str], None],
        outcome: Outcome,
    ) -> None:
        self.pathway, self.found, self.start, self.problem, self.outcome = pathway, found, start, problem, outcome
        self.monitor: Monitor = monitor_for(pathway)
        self.courses: dict[Course, _Open] = {}
        self.waiting: list[Course] = []  # ended, waiting for lines that may concern every course
        self.orphans: list[EventError] = []
        self.last_of_patient: dict[str | None, Event] = {}  # for patients with lines still to come
        self.started = 0

    def course(self, key: Course) -> _Open:
        if key not in self.courses:
            self.courses[key] = _Open(self.start(*key), self.monitor.watch())
            self.started += 1
        return self.courses[key]

    def take(self, item: Event | EventError) -> None:
        if isinstance(item, EventError):
            self.outcome.input_problems += 1
            self.problem(str(item))
            if item.patient is None:
                self.orphans.append(item)  # every course's: it may be the lost line of any of them
            else:
                self.course(item.course).run.rejected.append(malformed_refusal(item))
            return
        course = self.courses.get(key := (item.patient, item.episode)) or self.course(key)
        last = self.last_of_patient.get(item.patient)
        if last is not None and last.episode != item.episode and item.at < last.at:
            refusal = time_order_refusal(item, last)  # an earlier episode's clock still counts
            course.run.rejected.append(refusal)
            self._time_order(refusal.line, refusal.reason)
            return
        run, before = course.run, len(course.run.steps)
        if run.send(item):
            course.watch.see(item, run.steps[before:])
        elif run.rejected[-1].kind == "time_order":
            self._time_order(item.line, run.rejected[-1].reason)
            return
        else:  # the pathway refused it: the monitor checks that the refusal was right
            course.watch.see(item, run.rejected[-1])
        self.last_of_patient[item.patient] = item

    def _time_order(self, line: int, reason: str) -> None:
        self.outcome.input_problems += 1
        self.problem(f"line {line}: field 'at': {reason}")

    def close(self, item: Event | EventError) -> bool:
        """Marks the courses that this line ends; True when the courses ended so far can be reported."""
        found, line = self.found, item.line
        mark = line - found.first
        if 0 <= mark < len(found.patient_ends) and found.patient_ends[mark]:
            self.last_of_patient.pop(item.patient, None)
        if 0 <= mark < len(found.ends) and found.ends[mark] and (key := item.course) in self.courses:
            self.waiting.append(key)
        return bool(self.waiting) and line >= found.last_unnamed and found.named

    def flush(self) -> Iterator[tuple[Trace, list[Violation]]]:
        """The courses ended so far (close said they can be reported)."""
        for key in self.waiting:
            yield self.finish(key)
        self.waiting.clear()

    def ended_in(self, lines: Iterable[bytes], first: int = 1) -> Iterator[tuple[Trace, list[Violation]]]:
        """Every course that ``lines`` (numbered from ``first``) end, as soon as it can be reported; rest()
        then gives the courses still open."""
        for item in items_of(lines, self.pathway, self.found, first):
            self.take(item)
            if self.close(item):
                yield from self.flush()

    def rest(self) -> Iterator[tuple[Trace, list[Violation]]]:
        """At the end of the stream: every course not yet reported, in the order they began."""
        if self.orphans and not self.started:
            self.course(UNNAMED)  # nothing else to report them with: a course of the unreadable lines alone
        for key in list(self.courses):
            yield self.finish(key)

    def finish(self, key: Course) -> tuple[Trace, list[Violation]]:
        done = self.courses.pop(key)
        if self.orphans:
            alone = (self.found.courses if self.found.named else self.started) <= 1
            done.run.rejected.extend(malformed_refusal(e, "" if alone else UNATTRIBUTED) for e in self.orphans)
            done.run.rejected.sort(key=lambda r: r.line)
        trace = done.run.trace()
        violations = self.monitor.finish(trace, done.watch)
        self.outcome.refused |= any(r.kind == "out_of_sequence" for r in trace.rejected)
        self.outcome.violated |= bool(violations)
        if trace.patient is None:
            self.outcome.unnamed.append(trace)
        else:
            self.outcome.named += 1
        return trace, violations


def replay(
    source: EventSource,
    pathway: Pathway,
    start: Callable[[str | None, str | None], CourseRun],
    problem: Callable[[str], None],
    outcome: Outcome,
    found: StreamIndex | None = None,
) -> Iterator[tuple[Trace, list[Violation]]]:
    """(trace, monitor violations) of every course, each as soon as nothing still to come can change it.

    ``problem`` receives each input problem (an unreadable line, time going backwards) as met.
    ``found``: the stream's index when the first pass has already been made.
    """
    found = index(source) if found is None else found
    return replay_lines(source.lines(), pathway, found, start, problem, outcome)


def replay_lines(
    lines: Iterable[bytes],
    pathway: Pathway,
    found: StreamIndex,
    start: Callable[[str | None, str | None], CourseRun],
    problem: Callable[[str], None],
    outcome: Outcome,
    first: int = 1,
) -> Iterator[tuple[Trace, list[Violation]]]:
    """The second pass over ``lines`` (numbered from ``first``), indexed by ``found``."""
    state = Replay(pathway, found, start, problem, outcome)
    yield from state.ended_in(lines, first)
    yield from state.rest()


Output = tuple[bool, str]
"""(True, a line for stderr, printed with click.echo) or (False, text for stdout)."""


def json_outputs(trace: Trace, violations: list[Violation], pathway: Pathway) -> Iterator[Output]:
    """What `pathway run --json` prints for one course: its JSON line, then its monitor messages."""
    extra = {"monitor": [v.to_json() for v in violations]}
    for piece in trace_json_text(trace, pathway, extra):
        yield False, piece
    yield False, "\n"
    for violation in violations:
        yield True, f"monitor: {who(trace)}{shown(str(violation))}"
