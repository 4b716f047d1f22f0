"""An event stream read twice: first to learn where each course ends, then to run it.

A stream may hold millions of events. Reading it twice lets every reader keep only what
is still needed: the first pass (``index``) keeps, per course (patient, episode), the
number of its last line and whether any line names a patient; the second pass
(``items``) yields each line as an Event or an EventError, with a line that names no
patient refused when other lines name theirs (contract section 3). Standard input and
other streams that cannot be read twice are copied to a temporary file first, one
bounded line at a time.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO

import attrs

from pathway.events import (
    Event,
    EventError,
    LineTooLong,
    course_named,
    decode_line,
    read_events,
    read_lines,
    unnamed_refusal,
)
from pathway.limits import MAX_LINE_BYTES
from pathway.model import Pathway

Course = tuple[str | None, str | None]
UNNAMED: Course = (None, None)


@attrs.define
class StreamIndex:
    """What the first pass learnt, in a byte or two per line and nothing per course.

    ``ends[n]``: line ``first + n`` is the last of its course (patient, episode);
    ``patient_ends[n]``: the last of its patient, over all episodes. ``last_unnamed``: the last line that names no
    readable patient (0: none); such a line may concern any course. ``courses``: how many
    courses name a patient.
    """

    named: bool = False
    ends: bytearray = attrs.Factory(bytearray)
    patient_ends: bytearray = attrs.Factory(bytearray)
    last_unnamed: int = 0
    courses: int = 0
    first: int = 0
    """The line number of ``ends[0]`` (0 for a whole stream, whose lines count from 1; a worker's part starts later)."""


class EventSource:
    """The bytes of an event file, or of standard input ('-'), readable twice."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def lines(self) -> Iterator[bytes]:
        self.handle.seek(0)
        return read_lines(self.handle)


@contextmanager
def open_events(path: str) -> Iterator[EventSource]:
    """An EventSource for ``path`` (OSError when it cannot be opened)."""
    if path == "-":
        with _copy(sys.stdin.buffer) as copy:
            yield EventSource(copy)
        return
    with open(path, "rb") as handle:
        if handle.seekable():
            yield EventSource(handle)
            return
        with _copy(handle) as copy:  # a pipe or a device: read once, keep the copy
            yield EventSource(copy)


@contextmanager
def _copy(handle: IO[bytes]) -> Iterator[IO[bytes]]:
    import tempfile  # only a pipe needs it (start-up time of `pathway run FILE`)

    with tempfile.TemporaryFile(prefix="pathway-stream-") as copy:
        try:
            for line in read_lines(handle):
                copy.write(line)
        except LineTooLong:
            # stand in for the over-long line: reading the copy stops at the same line, with the same error
            copy.write(b"\0" * (MAX_LINE_BYTES + 1))
        yield copy


def index(source: EventSource) -> StreamIndex:
    """The first pass: where courses and patients end, and whether any line names a patient."""
    return merge([digest_lines(1, source.lines())])[0]


@attrs.define
class Digests:
    """The first pass over a run of consecutive lines (the whole stream, or a worker's part of it).

    Per line, 64-bit digests of its course and of its patient (0: none): 16 bytes a line, no
    object per course. ``too_long``: reading stopped after these lines at a line over the limit.
    """

    courses: array[int] = attrs.Factory(lambda: array("q"))
    patients: array[int] = attrs.Factory(lambda: array("q"))
    last_unnamed: int = 0
    named: bool = False
    too_long: bool = False


def digest_lines(first: int, lines: Iterable[bytes]) -> Digests:
    """The first pass over ``lines``, numbered from ``first``."""
    found = Digests()
    courses, patients = found.courses, found.patients
    number = first - 1
    try:
        for number, raw in enumerate(lines, start=first):
            record = decode_line(number, raw)
            course = None if record is None or isinstance(record, EventError) else course_named(record)
            if record is not None and (course is None or course[0] is None):
                found.last_unnamed = number
            patient = course[0] if course is not None else None
            # only named courses end early: a stream of unnamed lines is reported at its end
            courses.append(_digest(course) if patient is not None else 0)
            patients.append(_digest(patient) if patient is not None else 0)
            found.named |= patient is not None
    except LineTooLong:
        found.too_long = True
    return found


def merge(parts: Iterable[Digests]) -> tuple[StreamIndex, array[int]]:
    """The index of a stream from the first pass over its runs of lines, in order; and every line's
    patient digest (for a reader that splits the stream by patient)."""
    found = StreamIndex()
    courses, patients = array("q"), array("q")
    for part in parts:
        courses.extend(part.courses)
        patients.extend(part.patients)
        found.named |= part.named
        found.last_unnamed = max(found.last_unnamed, part.last_unnamed)
        if part.too_long:
            found.last_unnamed = len(courses) + 1  # the over-long line: reading stops there
            break
    found.ends, found.courses = _last_of_each(courses)
    found.patient_ends, _ = _last_of_each(patients)
    return found, patients


def _digest(key: object) -> int:
    # two courses sharing a digest (odds about 1 in 10^7 for a million courses) only delay the report
    # of the one that ends first to the end of the stream: nothing is lost or merged
    return hash(key) or 1


SMALL_STREAM_LINES = 100_000
"""Up to this many lines a dict finds each course's last line (at most ~30 ms and 14 MB); beyond, numpy
does it without an object per course. Importing numpy (about 60 ms) would cost a short run more."""


def _last_of_each(keys: array[int]) -> tuple[bytearray, int]:
    """Marks, by line number, the last line of each digest; and how many digests there are."""
    ends = bytearray(len(keys) + 2)  # with room for a line-too-long error after the last line
    if len(keys) <= SMALL_STREAM_LINES:
        last = dict(zip(keys, range(1, len(keys) + 1), strict=True))  # a later line overwrites an earlier one
        for digest, line in last.items():
            if digest:
                ends[line] = 1
        return ends, len(last) - (0 in last)
    import numpy as np  # only for long streams (SMALL_STREAM_LINES): its import outweighs a short run

    digests = np.frombuffer(keys, dtype=np.int64)[::-1]
    unique, first_from_end = np.unique(digests, return_index=True)
    lines = len(keys) - first_from_end  # 1-based line numbers of each digest's last line
    marks = np.frombuffer(ends, dtype=np.uint8)
    marks[lines[unique != 0]] = 1
    return ends, int(np.count_nonzero(unique))


def items(source: EventSource, pathway: Pathway, found: StreamIndex) -> Iterator[Event | EventError]:
    """The second pass: every line as an Event or an EventError, in line order."""
    return items_of(source.lines(), pathway, found)


def items_of(
    lines: Iterable[bytes], pathway: Pathway, found: StreamIndex, first: int = 1
) -> Iterator[Event | EventError]:
    """items() of a run of lines numbered from ``first``."""
    for item in read_events(lines, pathway, first):
        yield unnamed_refusal(item) if found.named else item
