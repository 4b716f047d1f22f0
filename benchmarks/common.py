"""What the benchmark scripts share: a timing loop and a long example course."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pathway.cli_common import read_event_file
from pathway.events import Event
from pathway.model import Pathway

# two patches and two reviews: the longest shipped course, so it exercises most transitions
LONG_COURSE = Path(__file__).resolve().parent.parent / "examples" / "two_failed_patches_refractory_leak.jsonl"


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and best wall time of ``fn`` in seconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def long_course(pathway: Pathway) -> list[Event]:
    events, errors = read_event_file(str(LONG_COURSE), pathway)
    assert not errors, errors
    return events
