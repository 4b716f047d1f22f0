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
import tempfile
from collections.abc import Iterator
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
    """What the first pass learnt: where each course ends, and whether any line names a patient.

    A line whose patient cannot be read may belong to the unnamed course: it counts as a
    line of that course, so the unnamed course is never reported before such a line.
    """

    named: bool = False
    last_line: dict[Course, int] = attrs.Factory(dict)


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
    with tempfile.TemporaryFile(prefix="pathway-stream-") as copy:
        try:
            for line in read_lines(handle):
                copy.write(line)
        except LineTooLong:
            # stand in for the over-long line: reading the copy stops at the same line, with the same error
            copy.write(b"\0" * (MAX_LINE_BYTES + 1))
        yield copy


def index(source: EventSource) -> StreamIndex:
    """The first pass: the last line of every course, and whether any line names a patient."""
    found = StreamIndex()
    last = found.last_line
    number = 0
    try:
        for number, raw in enumerate(source.lines(), start=1):
            record = decode_line(number, raw)
            if record is None:
                continue
            course = course_named(record) if not isinstance(record, EventError) else None
            if course is None or course[0] is None:
                last[UNNAMED] = number  # an unreadable or unnamed line may be the unnamed course's
                if course is not None:
                    last[course] = number
            else:
                last[course] = number
                found.named = True
    except LineTooLong:
        last[UNNAMED] = number + 1
    return found


def items(source: EventSource, pathway: Pathway, found: StreamIndex) -> Iterator[Event | EventError]:
    """The second pass: every line as an Event or an EventError, in line order."""
    for item in read_events(source.lines(), pathway):
        yield unnamed_refusal(item) if found.named else item
