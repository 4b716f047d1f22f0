"""`pathway run --json --workers N`: a long stream replayed by a pool of processes, printed as one process prints it.

Courses are independent of one another except in two ways: a patient's episodes share one
clock (times never go backwards across them), and a line that names no patient may belong
to any course. So:

1. The first pass (pathway.stream) is shared out: each worker digests a run of lines and the
   parent merges the digests, in order, into the stream's index.
2. When every line names its patient, the stream is cut into parts at lines after which no
   patient begun so far has lines still to come (each patient lies in one part), each part at
   least PART_LINES long. A worker replays a part with the index's marks for its lines
   (pathway.replay.Replay, as one process does) and hands back the text one process would
   print for it: the JSON lines, and the problems and monitor messages for stderr, in order.
   The parent prints the parts in order. A course the index cannot see end (two courses whose
   digests collide) comes back apart and is printed at the end of the stream, as one process does.
3. Otherwise (lines without a patient, an over-long line, patients so interleaved that a part
   would pass MAX_PART_LINES) the second pass runs in the parent, as with one worker.

Memory: a window of 2 parts per worker in flight, each of at most MAX_PART_LINES lines; the
parent's index is the same few bytes a line as with one worker.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from pathway.clean_exit import reset_in_worker
from pathway.courses import CourseRun
from pathway.events import LineTooLong
from pathway.model import Pathway
from pathway.replay import Outcome, Output, Replay, json_outputs, replay
from pathway.stream import Digests, EventSource, StreamIndex, digest_lines, merge
from pathway.verify.monitor import monitor_for

Start = Callable[[str | None, str | None], CourseRun]

PART_LINES = 10_000
"""Lines a worker takes at a time (about 1 MB of simulated events): large enough that handing
parts over costs little beside replaying them, small enough to keep 2 parts a worker in memory."""
MAX_PART_LINES = 200_000
"""A longer part (patients interleaved across more lines than this) is replayed in the parent instead."""
WINDOW_PER_WORKER = 2

_JOB: tuple[Pathway, Start] | None = None  # set in the parent before the fork: workers inherit it
_PROBE = "pathway replay digest probe"


def replay_json(
    source: EventSource, pathway: Pathway, start: Start, workers: int, outcome: Outcome
) -> Iterator[Output]:
    """Everything `pathway run --json` prints for ``source``, in order, computed by ``workers`` processes."""
    global _JOB
    _JOB = (pathway, start)
    monitor_for(pathway)  # built once here, inherited by every worker
    # fork: workers start in milliseconds, inherit the loaded pathway, and hash strings as the parent does
    with multiprocessing.get_context("fork").Pool(workers, initializer=reset_in_worker) as pool:
        found, patients = merge(map(_check_probe, _in_order(pool, _digest_part, _batches(source.lines()), workers)))
        cuts = part_ends(found, patients) if found.named and not found.last_unnamed else None
        del patients
        if cuts is not None:
            yield from _replay_parts(pool, source, found, cuts, workers, outcome)
            return
    pending: list[Output] = []  # the problems each line brings, printed before the courses it ends
    for trace, violations in replay(source, pathway, start, lambda m: pending.append((True, m)), outcome, found):
        yield from pending
        pending.clear()
        yield from json_outputs(trace, violations, pathway)
    yield from pending


def _batches(lines: Iterator[bytes]) -> Iterator[tuple[int, list[bytes], bool]]:
    """(number of the first line, PART_LINES lines, whether an over-long line follows)."""
    first, batch = 1, []
    try:
        for line in lines:
            batch.append(line)
            if len(batch) >= PART_LINES:
                yield first, batch, False
                first, batch = first + len(batch), []
    except LineTooLong:
        yield first, batch, True
        return
    if batch:
        yield first, batch, False


def _digest_part(first: int, lines: list[bytes], too_long: bool) -> tuple[int, Digests]:
    part = digest_lines(first, lines)
    part.too_long = too_long
    return hash(_PROBE), part


def _check_probe(result: tuple[int, Digests]) -> Digests:
    probe, part = result
    if probe != hash(_PROBE):  # a worker hashing strings differently would split courses wrongly
        raise RuntimeError("a worker process hashes strings differently from its parent")
    return part


def _in_order(pool: Any, task: Callable[..., Any], args: Iterable[tuple[Any, ...]], workers: int) -> Iterator[Any]:
    """task(*a) for each a of ``args``, computed by the pool, in order, with a bounded window in flight."""
    pending: deque[Any] = deque()
    for a in args:
        pending.append(pool.apply_async(task, a))
        if len(pending) >= WINDOW_PER_WORKER * workers:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def part_ends(found: StreamIndex, patients: Any) -> list[int] | None:
    """The last line of each part (None: some part would be longer than MAX_PART_LINES).

    A part may end after line n when every patient whose first line is at most n has its last
    line at most n too: then no later line can concern a course of the part.
    """
    import numpy as np  # only for pooled replays, which are long ones

    digests = np.frombuffer(patients, dtype=np.int64)
    n = len(digests)
    if not n:
        return []
    unique, first_index = np.unique(digests, return_index=True)
    starts = np.zeros(n + 1, dtype=np.int64)
    starts[first_index[unique != 0] + 1] = 1  # by line number (1-based)
    ends = np.frombuffer(found.patient_ends, dtype=np.uint8)[: n + 1].astype(np.int64)
    closed = np.flatnonzero((np.cumsum(starts) - np.cumsum(ends))[1:] == 0) + 1  # line numbers
    if not len(closed) or closed[-1] != n or np.diff(closed, prepend=0).max() > MAX_PART_LINES:
        return None
    cuts: list[int] = []
    last = 0
    while last < n:
        at = int(np.searchsorted(closed, last + PART_LINES))
        last = int(closed[min(at, len(closed) - 1)])
        cuts.append(last)
    return cuts


@attrs.frozen
class PartResult:
    outputs: list[Output]
    unfinished: list[Output]
    """Of courses whose end the index does not mark (digest collisions): printed at the end of the stream."""
    outcome: Outcome


def _parts(lines: Iterator[bytes], found: StreamIndex, cuts: list[int]) -> Iterator[tuple[Any, ...]]:
    first = 1
    for last in cuts:
        batch = [next(lines) for _ in range(last - first + 1)]
        marks = slice(first, last + 1)
        yield first, batch, found.ends[marks], found.patient_ends[marks], found.courses
        first = last + 1


def _replay_part(first: int, lines: list[bytes], ends: bytearray, patient_ends: bytearray, courses: int) -> PartResult:
    assert _JOB is not None
    pathway, start = _JOB
    found = StreamIndex(named=True, ends=ends, patient_ends=patient_ends, courses=courses, first=first)
    outcome = Outcome()
    outputs: list[Output] = []
    state = Replay(pathway, found, start, lambda message: outputs.append((True, message)), outcome)
    for trace, violations in state.ended_in(lines, first):
        outputs.extend(json_outputs(trace, violations, pathway))
    unfinished = [out for trace, violations in state.rest() for out in json_outputs(trace, violations, pathway)]
    return PartResult(joined(outputs), joined(unfinished), outcome)


def joined(outputs: list[Output]) -> list[Output]:
    """The same outputs with each run of stdout texts as one text: one write and one object to hand over."""
    result: list[Output] = []
    texts: list[str] = []
    for to_stderr, text in outputs:
        if not to_stderr:
            texts.append(text)
            continue
        if texts:
            result.append((False, "".join(texts)))
            texts = []
        result.append((True, text))
    if texts:
        result.append((False, "".join(texts)))
    return result


def _replay_parts(
    pool: Any, source: EventSource, found: StreamIndex, cuts: list[int], workers: int, outcome: Outcome
) -> Iterator[Output]:
    unfinished: list[Output] = []
    for result in _in_order(pool, _replay_part, _parts(source.lines(), found, cuts), workers):
        yield from result.outputs
        unfinished += result.unfinished
        outcome.input_problems += result.outcome.input_problems
        outcome.refused |= result.outcome.refused
        outcome.violated |= result.outcome.violated
        outcome.named += result.outcome.named
    yield from unfinished
