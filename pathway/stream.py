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
from array import array
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
    """What the first pass learnt: on which lines a course ends, and whether any line names a patient.

    ``ends[n]`` is true when line n is the last of its course; it costs a byte per line, and
    nothing per course. A line whose patient cannot be read may belong to the unnamed course:
    it counts as that course's line (``last_unnamed``), so the unnamed course is never
    reported before such a line.
    """

    named: bool = False
    ends: bytearray = attrs.Factory(bytearray)
    last_unnamed: int = 0

    def ends_course(self, line: int) -> bool:
        return line < len(self.ends) and bool(self.ends[line])


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
    """The first pass: the lines that end a course, and whether any line names a patient."""
    found = StreamIndex()
    keys = array("q")  # per line, a 64-bit digest of its course (0: none): 8 bytes a line, no object per course
    number = 0
    try:
        for number, raw in enumerate(source.lines(), start=1):
            record = decode_line(number, raw)
            course = None if record is None or isinstance(record, EventError) else course_named(record)
            if record is not None and (course is None or course[0] is None):
                found.last_unnamed = number  # an unreadable or unnamed line may be the unnamed course's
            found.named |= course is not None and course[0] is not None
            keys.append(_digest(course) if course is not None and course != UNNAMED else 0)
    except LineTooLong:
        found.last_unnamed = number + 1
    found.ends = _last_of_each(keys)
    return found


def _digest(course: Course) -> int:
    # two courses sharing a digest (odds about 1 in 10^7 for a million courses) only delay the report
    # of the one that ends first to the end of the stream: nothing is lost or merged
    return hash(course) or 1


def _last_of_each(keys: array[int]) -> bytearray:
    ends = bytearray(len(keys) + 2)  # by line number, with room for a line-too-long error after the last
    if not keys:
        return ends
    import numpy as np

    digests = np.frombuffer(keys, dtype=np.int64)[::-1]
    unique, first_from_end = np.unique(digests, return_index=True)
    lines = len(keys) - first_from_end  # 1-based line numbers of each digest's last line
    marks = np.frombuffer(ends, dtype=np.uint8)
    marks[lines[unique != 0]] = 1
    return ends


def items(source: EventSource, pathway: Pathway, found: StreamIndex) -> Iterator[Event | EventError]:
    """The second pass: every line as an Event or an EventError, in line order."""
    for item in read_events(source.lines(), pathway):
        yield unnamed_refusal(item) if found.named else item
